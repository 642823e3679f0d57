"""The chat page's store (templates/static/js/page_store.js) under Node: the sequences of named
transitions the page goes through (join, welcome, history; a reconnect and its catch-up; a connect
that never opened; a refused join; the end), what each returns, and that state changes nowhere else."""

import json
import re
import shutil
import subprocess

import pytest

import build_site

JS = build_site.TEMPLATES / "static/js"
PAGE_STORE_JS = JS / "page_store.js"

HARNESS = r"""
const { PageStore, Phase, ConnectFailure, CONNECT_TRIES_BEFORE_DEFAULT } = await import(process.argv[1]);
const DEFAULT = "general";
const results = {};
const snap = (s) => ({ phase: s.phase, room: s.room, shown: s.shownRoom, joining: s.joiningRoom,
  outOfRoom: s.outOfRoom, inFlight: s.historyInFlight, catchUp: s.catchUp });

// The first connection: connecting -> opened (the socket joins) -> welcome -> a page of older history.
{
  const store = new PageStore({ room: "garden", defaultRoom: DEFAULT });
  const heard = [];
  store.subscribe((s, transition) => heard.push(`${transition}:${s.phase}`));
  const steps = [snap(store)];
  const asked = store.connecting();
  steps.push(snap(store));
  store.opened();
  steps.push(snap(store));
  const welcome = store.welcomed("garden");
  steps.push(snap(store));
  store.historyRequested("older");
  steps.push(snap(store));
  const kind = store.historyAnswered();
  steps.push(snap(store));
  results.firstJoin = { asked, welcome, kind, steps, heard, unanswered: store.historyAnswered() };
}

// A reconnect in the same room: not entering, the catch-up runs page by page, fails, is retried
// with its count kept, and finishes; a second welcome on the connection is not its first.
{
  const store = new PageStore({ room: "garden", defaultRoom: DEFAULT });
  store.connecting(); store.opened(); store.welcomed("garden");
  store.historyRequested("older");
  store.disconnected();
  const dropped = snap(store);
  const dropOutcome = store.connectFailed();
  store.connecting();
  const reconnecting = snap(store);
  store.opened();
  const reopened = snap(store);
  const welcome = store.welcomed("garden");
  store.catchingUp("c1");
  store.historyRequested("missed");
  const catchingUp = snap(store);
  const firstFailure = store.catchUpFailed();
  store.catchingUp("c1");
  const retried = store.catchUp;
  const secondFailure = store.catchUpFailed();
  store.catchingUp("c2");
  const nextPage = store.catchUp;
  store.caughtUp();
  const caughtUp = snap(store);
  const again = store.welcomed("garden");
  results.reconnect = { dropped, dropOutcome, reconnecting, reopened, welcome, catchingUp, firstFailure, retried,
    secondFailure, nextPage, caughtUp, againFirst: again.firstOfConnection,
    failedWithoutCatchUp: store.catchUpFailed() };
}

// A switch of rooms on the open connection: joining, then the welcome enters the new room and
// drops the requests of the old one.
{
  const store = new PageStore({ room: "garden", defaultRoom: DEFAULT });
  store.connecting(); store.opened(); store.welcomed("garden");
  store.historyRequested("older");
  store.joining("pond");
  const joining = snap(store);
  const welcome = store.welcomed("pond");
  results.switchRooms = { joining, welcome, after: snap(store) };
}

// A refused join: the first join of the page keeps the room asked for; later, the page stays in
// the room it shows.
{
  const store = new PageStore({ room: "secret", defaultRoom: DEFAULT });
  store.connecting(); store.opened();
  const first = store.joinRefused();
  const firstAfter = snap(store);
  store.welcomed("general");
  store.joining("vault");
  const later = store.joinRefused();
  results.refusedJoin = { first, firstAfter, later, laterAfter: snap(store) };
}

// A connect that never opened (a 403 looks like a network failure): the next try goes to the
// default room, the welcome there names the room to ask for again; if the default room fails too,
// back to the room wanted; the default room alone failing is said.
{
  // A network that is down: every try asks for the room wanted again, CONNECT_TRIES_BEFORE_DEFAULT-1
  // times; only then does one go to the default room (the room may refuse ?room= with a 403).
  const store = new PageStore({ room: "secret", defaultRoom: DEFAULT });
  const retries = [];
  for (let n = 1; n < CONNECT_TRIES_BEFORE_DEFAULT; n += 1) {
    store.connecting();
    retries.push([store.connectFailed(), store.room]);
  }
  store.connecting();
  const first = store.connectFailed();
  const nextAsks = store.connecting();
  const welcome = store.welcomed("general");

  const network = new PageStore({ room: "secret", defaultRoom: DEFAULT });
  for (let n = 1; n < CONNECT_TRIES_BEFORE_DEFAULT; n += 1) { network.connecting(); network.connectFailed(); }
  network.connecting();
  network.connectFailed();
  network.connecting();
  const second = network.connectFailed();
  const thenAsks = network.connecting();
  const third = network.connectFailed();

  // A connection that opened in between starts the count again.
  const flaky = new PageStore({ room: "secret", defaultRoom: DEFAULT });
  const flakyOutcomes = [];
  for (let n = 0; n < CONNECT_TRIES_BEFORE_DEFAULT * 2; n += 1) {
    flaky.connecting();
    if (n % 2) flaky.opened();
    flakyOutcomes.push(flaky.connectFailed());
  }

  const plain = new PageStore({ room: DEFAULT, defaultRoom: DEFAULT });
  plain.connecting();
  const defaultFailed = plain.connectFailed();
  results.connectFailed = { retries, flakyRoom: flaky.room, flakyOutcomes, first, nextAsks, welcome, second,
    thenAsks, third, defaultFailed };
}

// Kicked from a room: out of it, with the banner kept for the next welcome, which clears both.
{
  const store = new PageStore({ room: "garden", defaultRoom: DEFAULT });
  store.connecting(); store.opened(); store.welcomed("garden");
  store.removed({ afterWelcome: "You were removed." });
  const removed = snap(store);
  store.joining(DEFAULT);
  const welcome = store.welcomed(DEFAULT);
  const quiet = new PageStore({ room: DEFAULT, defaultRoom: DEFAULT });
  quiet.removed();
  results.removed = { removed, welcome, after: snap(store), quietOut: quiet.outOfRoom };
}

// The end: once, and final; frames still arriving change the data but not the phase.
{
  const store = new PageStore({ room: "garden", defaultRoom: DEFAULT });
  store.connecting(); store.opened(); store.welcomed("garden");
  const first = store.ended("logged_out");
  const second = store.ended("token_expired");
  store.connecting();
  store.opened();
  store.welcomed("pond");
  results.ended = { first, second, reason: store.endReason, isEnded: store.isEnded, after: snap(store) };
}

// Out-of-turn transitions leave the phase alone.
{
  const store = new PageStore({ room: "garden", defaultRoom: DEFAULT });
  store.welcomed("garden");
  const welcomeBeforeConnect = store.phase;
  store.catchingUp("c1");
  const catchUpBeforeConnect = store.phase;
  const unsubscribe = (() => { let n = 0; const off = store.subscribe(() => { n += 1; }); store.wantRoom("pond"); off();
    store.wantRoom("lake"); return n; })();
  results.guards = { welcomeBeforeConnect, catchUpBeforeConnect, heardOnce: unsubscribe, room: store.room,
    phases: Object.values(Phase), failures: Object.values(ConnectFailure) };
}

// Nothing outside the transitions writes the state.
{
  const store = new PageStore({ room: "garden", defaultRoom: DEFAULT });
  let threw = false;
  try { store.room = "pond"; } catch { threw = true; }
  const catchUp = (store.catchingUp("c1"), store.catchUp);
  catchUp.attempts = 99;
  results.sealed = { threw, room: store.room, attempts: store.catchUp.attempts };
}

console.log(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def results():
    if shutil.which("node") is None:
        pytest.skip("needs node")
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", HARNESS, PAGE_STORE_JS.as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def state(phase, room, shown=None, joining=None, out=False, in_flight=0, catch_up=None):
    return {"phase": phase, "room": room, "shown": shown, "joining": joining, "outOfRoom": out,
            "inFlight": in_flight, "catchUp": catch_up}


def test_join_then_welcome_then_history(results):
    first = results["firstJoin"]
    assert first["asked"] == "garden"
    assert first["steps"] == [
        state("starting", "garden"),
        state("connecting", "garden"),
        state("joining", "garden"),
        state("welcomed", "garden", "garden"),
        state("welcomed", "garden", "garden", in_flight=1),
        state("welcomed", "garden", "garden"),
    ]
    assert first["welcome"] == {"entering": True, "firstOfConnection": True, "banner": None, "retryRoom": None}
    assert first["kind"] == "older" and first["unanswered"] is None


def test_subscribers_hear_every_transition(results):
    # (The last one answered nothing: a transition is heard whatever it finds.)
    assert results["firstJoin"]["heard"] == [
        "connecting:connecting", "opened:joining", "welcomed:welcomed", "historyRequested:welcomed",
        "historyAnswered:welcomed", "historyAnswered:welcomed",
    ]


def test_a_reconnect_drops_old_requests_and_catches_up_in_the_same_room(results):
    reconnect = results["reconnect"]
    assert reconnect["dropped"]["phase"] == "disconnected" and reconnect["dropOutcome"] == "dropped"
    assert reconnect["reconnecting"]["phase"] == "reconnecting"
    # Answers to the old connection's requests will never come.
    assert reconnect["reopened"] == state("joining", "garden", "garden")
    assert reconnect["welcome"] == {"entering": False, "firstOfConnection": True, "banner": None, "retryRoom": None}
    assert reconnect["catchingUp"] == state("catching-up", "garden", "garden", in_flight=1,
                                            catch_up={"after": "c1", "attempts": 0})
    # The same page asked again keeps its count of failures; the next page starts at none.
    assert reconnect["firstFailure"] == 1 and reconnect["retried"] == {"after": "c1", "attempts": 1}
    assert reconnect["secondFailure"] == 2 and reconnect["nextPage"] == {"after": "c2", "attempts": 0}
    assert reconnect["caughtUp"]["phase"] == "welcomed" and reconnect["caughtUp"]["catchUp"] is None
    assert reconnect["againFirst"] is False and reconnect["failedWithoutCatchUp"] is None


def test_a_welcome_for_another_room_enters_it_and_forgets_the_old_requests(results):
    switch = results["switchRooms"]
    assert switch["joining"] == state("welcomed", "pond", "garden", joining="pond", in_flight=1)
    assert switch["welcome"]["entering"] is True and switch["welcome"]["firstOfConnection"] is False
    assert switch["after"] == state("welcomed", "pond", "pond")


def test_a_refused_first_join_keeps_the_room_asked_for(results):
    refused = results["refusedJoin"]
    assert refused["first"] == {"wanted": "secret", "roomShown": False}
    assert refused["firstAfter"]["room"] == "secret"


def test_a_refused_later_join_stays_in_the_room_shown(results):
    refused = results["refusedJoin"]
    assert refused["later"] == {"wanted": "vault", "roomShown": True}
    assert refused["laterAfter"] == state("welcomed", "general", "general")


def test_a_network_that_is_down_never_moves_the_page_to_another_room(results):
    failed = results["connectFailed"]
    # Once bob's DM text landed in #general because the first failed reconnect went there.
    assert failed["retries"] == [["retrying", "secret"]] * 2
    assert failed["flakyRoom"] == "secret" and set(failed["flakyOutcomes"]) == {"retrying", "dropped"}


def test_a_connect_that_never_opened_goes_to_the_default_room_then_asks_again(results):
    failed = results["connectFailed"]
    assert failed["first"] == "trying-default" and failed["nextAsks"] == "general"
    assert failed["welcome"]["retryRoom"] == "secret"


def test_the_default_room_failing_too_goes_back_to_the_room_wanted(results):
    failed = results["connectFailed"]
    assert failed["second"] == "back-to-wanted" and failed["thenAsks"] == "secret"
    assert failed["third"] == "retrying"  # the count starts again: the network is the likely cause
    assert failed["defaultFailed"] == "default-failed"


def test_a_removal_leaves_the_page_in_no_room_until_the_next_welcome(results):
    removed = results["removed"]
    assert removed["removed"]["outOfRoom"] is True
    assert removed["welcome"]["banner"] == "You were removed."
    assert removed["after"] == state("welcomed", "general", "general")
    assert removed["quietOut"] is True


def test_the_end_comes_once_and_is_final(results):
    ended = results["ended"]
    assert ended["first"] is True and ended["second"] is False
    assert ended["reason"] == "logged_out" and ended["isEnded"] is True
    # Frames still arriving (a logout waits for the server) are applied; the phase stays ended.
    assert ended["after"]["phase"] == "ended" and ended["after"]["shown"] == "pond"


def test_out_of_turn_transitions_leave_the_phase_alone(results):
    guards = results["guards"]
    assert guards["welcomeBeforeConnect"] == "starting" and guards["catchUpBeforeConnect"] == "starting"
    assert guards["heardOnce"] == 1 and guards["room"] == "lake"
    assert guards["phases"] == ["starting", "connecting", "reconnecting", "joining", "welcomed", "catching-up",
                                "disconnected", "ended"]


def test_the_state_cannot_be_written_from_outside(results):
    assert results["sealed"] == {"threw": True, "room": "garden", "attempts": 0}


def test_no_other_module_keeps_page_state_of_its_own():
    # The store is the one place for the page's connection and room state: no module builds a
    # loose state object or sets the store's fields.
    for path in JS.rglob("*.js"):
        text = path.read_text()
        assert "createState" not in text, path
        assert not re.search(r"\bstore\.(room|shownRoom|phase|outOfRoom|joiningRoom)\s*=[^=]", text), path
