"""The web client's outbox (templates/static/js/outbox.js) under Node, on a fake clock, against a
stand-in for the server's per-connection limit: nothing typed is lost, repeated or reordered."""

import json
import shutil
import subprocess

import pytest

import build_site

OUTBOX_JS = build_site.TEMPLATES / "static/js/outbox.js"

# A fake clock for setTimeout, and a server that stores a message if its token bucket (burst, then
# `rate` a second) has a token, else refuses it with rate_limited and the wait for the next token,
# as handler/limits.py does. Each answer arrives `rttMs` after the frame was sent.
HARNESS = r"""
const { Outbox } = await import(process.argv[1]);
let now = 0, nextId = 1, timers = [];
globalThis.setTimeout = (fn, ms) => { const id = nextId++; timers.push({ id, at: now + ms, fn }); return id; };
globalThis.clearTimeout = (id) => { timers = timers.filter((t) => t.id !== id); };
function runUntilIdle(limitMs = 600_000) {
  while (timers.length && now < limitMs) {
    timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const timer = timers.shift();
    now = timer.at;
    timer.fn();
  }
}

// Each case starts on a clock of its own, at 0.
function server({ burst = 10, rate = 2, rttMs = 20, retryAfter = true } = {}) {
  now = 0;
  timers = [];
  const state = { tokens: burst, at: 0, stored: [], refusals: 0, sentAt: [] };
  state.answer = (outbox, frame) => setTimeout(() => {
    state.tokens = Math.min(burst, state.tokens + ((now - state.at) * rate) / 1000);
    state.at = now;
    if (state.tokens >= 1) {
      state.tokens -= 1;
      state.stored.push(frame.message);
      outbox.seen({ clientMsgId: frame.clientMsgId });
    } else {
      state.refusals += 1;
      const waitMs = Math.ceil(((1 - state.tokens) / rate) * 1000);
      outbox.holdFor(retryAfter ? waitMs : 1000);
    }
  }, rttMs);
  return state;
}

function connected(srv, { open = () => true } = {}) {
  const outbox = new Outbox({
    send: (frame) => {
      if (!open()) return false;
      srv.sentAt.push(now);
      srv.answer(outbox, frame);
      return true;
    },
    onChange: () => {},
  });
  return outbox;
}

const results = {};
const typed = Array.from({ length: 15 }, (_, n) => `m${n + 1}`);

// 15 typed at once: the first 10 pass, the rest are held and go at the server's pace, in order.
{
  const srv = server();
  const outbox = connected(srv);
  typed.forEach((text) => outbox.add(text));
  runUntilIdle();
  results.burst = { stored: srv.stored, refusals: srv.refusals, waiting: outbox.waiting, slowed: outbox.slowed };
}

// The same with a server that names no wait (the page's fallback of 1 s stands in for it here).
{
  const srv = server({ retryAfter: false });
  const outbox = connected(srv);
  typed.forEach((text) => outbox.add(text));
  runUntilIdle();
  results.noRetryAfter = { stored: srv.stored, waiting: outbox.waiting };
}

// Queued while the socket is closed, then open: everything goes, in order.
{
  const srv = server();
  let open = false;
  const outbox = connected(srv, { open: () => open });
  typed.forEach((text) => outbox.add(text));
  const queuedWhileClosed = outbox.waiting;
  open = true;
  outbox.resume();
  runUntilIdle();
  results.offline = { queuedWhileClosed, stored: srv.stored, waiting: outbox.waiting };
}

// A held message never goes before its wait is over.
{
  const srv = server({ burst: 1, rate: 1, rttMs: 5 });
  const outbox = connected(srv);
  outbox.add("a");
  outbox.add("b");
  runUntilIdle();
  // "b" is refused at 10 ms (sent at 5 ms, when the bucket was empty), held for the wait the server
  // named, then sent again.
  results.wait = { stored: srv.stored, sentAt: srv.sentAt };
}

// Once the queue is empty the page no longer says it is slowed; a later burst goes at once.
{
  const srv = server({ burst: 3, rate: 2 });
  const outbox = connected(srv);
  ["a", "b", "c", "d"].forEach((text) => outbox.add(text));
  runUntilIdle();
  const slowedAfterDrain = outbox.slowed;
  now += 10_000;
  const before = srv.sentAt.length;
  outbox.add("e");
  outbox.add("f");
  const sentAtOnce = srv.sentAt.length - before;
  runUntilIdle();
  results.drained = { stored: srv.stored, slowedAfterDrain, sentAtOnce };
}

// refuse() hands the message in flight back and the next one goes.
{
  const sent = [];
  const outbox = new Outbox({ send: (frame) => { sent.push(frame.message); return true; }, onChange: () => {} });
  outbox.add("bad");
  outbox.add("good");
  const refused = outbox.refuse();
  results.refuse = { refused, sent, waiting: outbox.waiting };
}

// A drop while a message is held: it is neither lost nor sent twice.
{
  const srv = server({ burst: 1, rate: 1 });
  let open = true;
  const outbox = connected(srv, { open: () => open });
  outbox.add("one");
  outbox.add("two");
  setTimeout(() => { open = false; outbox.disconnected(); }, 30);
  setTimeout(() => { open = true; outbox.resume(); }, 3_000);
  runUntilIdle();
  results.dropWhileHeld = { stored: srv.stored, waiting: outbox.waiting };
}

console.log(JSON.stringify(results));
"""

TYPED = [f"m{n}" for n in range(1, 16)]


@pytest.fixture(scope="module")
def results():
    if shutil.which("node") is None:
        pytest.skip("needs node")
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", HARNESS, OUTBOX_JS.as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_a_burst_over_the_limit_is_stored_whole_and_in_order(results):
    burst = results["burst"]
    assert burst["stored"] == TYPED
    assert burst["waiting"] == 0 and burst["slowed"] is False
    # Each message over the burst is refused once, then goes after the wait the server named.
    assert burst["refusals"] == 5


def test_without_a_wait_from_the_server_nothing_is_lost_either(results):
    assert results["noRetryAfter"] == {"stored": TYPED, "waiting": 0}


def test_messages_queued_while_closed_all_go_in_order(results):
    assert results["offline"] == {"queuedWhileClosed": 15, "stored": TYPED, "waiting": 0}


def test_a_held_message_goes_again_only_after_the_wait(results):
    wait = results["wait"]
    assert wait["stored"] == ["a", "b"]
    # b went at 5 ms (on a's echo) and was refused at 10 ms, when 0.005 of a token had refilled:
    # the server named a wait of 995 ms, and b went again exactly then.
    _, b_first, b_again = wait["sentAt"]
    assert (b_first, b_again) == (5, 10 + 995)


def test_slowed_ends_when_the_queue_is_empty(results):
    drained = results["drained"]
    assert drained["stored"] == ["a", "b", "c", "d", "e", "f"]
    assert drained["slowedAfterDrain"] is False and drained["sentAtOnce"] == 1


def test_a_refused_message_is_handed_back_and_the_next_goes(results):
    assert results["refuse"] == {"refused": "bad", "sent": ["bad", "good"], "waiting": 1}


def test_a_drop_while_held_loses_and_repeats_nothing(results):
    assert results["dropWhileHeld"] == {"stored": ["one", "two"], "waiting": 0}
