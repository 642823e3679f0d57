"""A hostile network's sequences under Node, on a fake clock: the page store, the outbox and the socket together
(templates/static/js/page_store.js, outbox.js, socket.js) through an outage with queued DM messages, failed
reconnects, a wrong_room refusal, a dead (blackholed) socket, API Gateway's typeless error frame and the
browser's `online` event. A message is only ever sent while the page is welcomed in its room; nothing is
lost; a dead connection is found within 20 s."""

import json

import pytest

from tests.unit.node_harness import module_url, run_node

HARNESS = r"""
const [storeUrl, outboxUrl, socketUrl] = JSON.parse(process.argv[2]);
const { PageStore, ConnectFailure, Unanswered, CONNECT_TRIES_BEFORE_DEFAULT } = await import(storeUrl);
const { Outbox } = await import(outboxUrl);
const { ChatSocket } = await import(socketUrl);

let now = 0, nextId = 1, timers = [];
globalThis.setTimeout = (fn, ms) => { const id = nextId++; timers.push({ id, at: now + ms, fn }); return id; };
globalThis.clearTimeout = (id) => { timers = timers.filter((t) => t.id !== id); };
globalThis.setInterval = (fn, ms) => {
  const id = nextId++;
  const again = () => { timers.push({ id, at: now + ms, fn: () => { again(); fn(); } }); };
  again();
  return id;
};
globalThis.clearInterval = globalThis.clearTimeout;
function runFor(ms) {
  const until = now + ms;
  for (;;) {
    timers.sort((a, b) => a.at - b.at || a.id - b.id);
    if (!timers.length || timers[0].at > until) break;
    const timer = timers.shift();
    now = timer.at;
    timer.fn();
  }
  now = until;
}

// A WebSocket stand-in: opens after 10 ms unless the network is down (then it closes); frames sent are
// recorded; `blackhole` swallows them (nothing comes back, nothing closes).
const net = { down: false, blackhole: false, sockets: [] };
class FakeWebSocket {
  static CONNECTING = 0; static OPEN = 1; static CLOSED = 3;
  constructor(url) {
    this.url = url; this.readyState = 0; this.sent = []; this.listeners = {};
    net.sockets.push(this);
    setTimeout(() => {
      if (net.down) { this.readyState = 3; this.emit("close", {}); return; }
      this.readyState = 1; this.emit("open", {});
    }, 10);
  }
  addEventListener(name, fn) { (this.listeners[name] ??= []).push(fn); }
  emit(name, event) { (this.listeners[name] ?? []).forEach((fn) => fn(event)); }
  send(data) { if (!net.blackhole) this.sent.push(JSON.parse(data)); }
  close() { if (this.readyState === 3) return; this.readyState = 3; if (!net.blackhole) this.emit("close", {}); }
  receive(frame) { this.emit("message", { data: JSON.stringify(frame) }); }
}
globalThis.WebSocket = FakeWebSocket;
const results = {};

// bob in a DM loses the network with two messages queued; reconnects fail; the network comes back.
// Each try asks for the DM (never #general), and the messages go only once the DM's welcome is in.
{
  now = 0; timers = []; net.sockets = []; net.down = false;
  const store = new PageStore({ room: "dm-alice-bob", defaultRoom: "general" });
  const posted = [];
  const outbox = new Outbox({ send: (f) => { if (!connected) return false; posted.push({ ...f, in: serverRoom }); return true; },
    onChange: () => {}, canSend: (room) => store.mayPostIn(room) });
  let connected = false, serverRoom = null;
  store.connecting(); store.opened(); serverRoom = "dm-alice-bob"; connected = true;
  store.welcomed("dm-alice-bob");
  connected = false; outbox.disconnected(); store.disconnected(); store.connectFailed();
  outbox.add("SECRET: my salary is 123k", { room: store.currentRoom });
  outbox.add("keep it between us", { room: store.currentRoom });
  const asked = [];
  // Every try the page makes before it would try the default room: each asks for the DM again.
  for (let n = 1; n < CONNECT_TRIES_BEFORE_DEFAULT; n += 1) { asked.push(store.connecting()); store.disconnected(); store.connectFailed(); }
  asked.push(store.connecting());
  // The connection opens, the join is in flight: nothing goes yet.
  connected = true; serverRoom = asked.at(-1); store.opened(); outbox.pump();
  const beforeWelcome = posted.length;
  store.welcomed(serverRoom); outbox.resume();
  // The echoes.
  while (outbox.inFlight) outbox.seen({ clientMsgId: outbox.inFlight.clientMsgId });
  results.outage = { asked, beforeWelcome, posted: posted.map((f) => [f.message, f.room, f.in]), left: outbox.waiting };
}

// Messages typed in #ops, then the user switches to #random: they wait for #ops, visible as pending
// there, while #random's own go; back in #ops they go, in order.
{
  const store = new PageStore({ room: "ops", defaultRoom: "general" });
  const posted = [];
  let serverRoom = "ops";
  const outbox = new Outbox({ send: (f) => { posted.push([f.message, f.room, serverRoom]); return true; },
    onChange: () => {}, canSend: (room) => store.mayPostIn(room) });
  const echo = () => { while (outbox.inFlight) outbox.seen({ clientMsgId: outbox.inFlight.clientMsgId }); };
  store.connecting(); store.opened(); store.welcomed("ops");
  outbox.pause(); // a catch-up runs
  ["o1", "o2", "o3", "o4"].forEach((text) => outbox.add(text, { room: "ops" }));
  store.joining("random");
  outbox.resume();
  const whileJoining = posted.length;
  serverRoom = "random"; store.welcomed("random"); outbox.resume();
  outbox.add("r1", { room: "random" }); echo();
  const pendingInOps = outbox.pendingIn("ops").map((e) => e.message);
  store.joining("ops"); serverRoom = "ops"; store.welcomed("ops"); outbox.resume(); echo();
  results.switching = { whileJoining, pendingInOps, posted, left: outbox.waiting };
}

// wrong_room: the server says the connection is elsewhere. The message stays queued (same clientMsgId)
// and goes again after the page's join of its room is welcomed.
{
  const store = new PageStore({ room: "dm-alice-bob", defaultRoom: "general" });
  const posted = [];
  const outbox = new Outbox({ send: (f) => { posted.push(f); return true; }, onChange: () => {},
    canSend: (room) => store.mayPostIn(room) });
  store.connecting(); store.opened(); store.welcomed("dm-alice-bob");
  outbox.add("hi", { room: "dm-alice-bob" });
  const refusedEntry = outbox.unanswered(posted[0].clientMsgId);
  store.joining(refusedEntry.room); outbox.pump();
  const duringJoin = posted.length;
  store.welcomed("dm-alice-bob"); outbox.resume();
  results.wrongRoom = { room: refusedEntry.room, duringJoin, sent: posted.map((f) => f.clientMsgId),
    waiting: outbox.waiting, otherId: outbox.unanswered("someone-else") };
}

// A message unanswered goes again after the timeout with the same clientMsgId; the line is probed.
{
  now = 0; timers = [];
  const posted = [];
  let probes = 0;
  const outbox = new Outbox({ send: (f) => { posted.push([now, f.clientMsgId]); return true; }, onChange: () => {},
    timeoutMs: 8000, onTimeout: () => { probes += 1; } });
  outbox.add("into the void", { room: "general" });
  runFor(17_000);
  outbox.seen({ clientMsgId: posted[0][1] });
  runFor(20_000);
  results.timeout = { at: posted.map((p) => p[0]), sameId: new Set(posted.map((p) => p[1])).size, probes,
    waiting: outbox.waiting };
}

// API Gateway's error frame: the oldest request in flight failed. A join first, then history, then a message.
{
  const store = new PageStore({ room: "garden", defaultRoom: "general" });
  store.connecting(); store.opened();
  const duringJoin = store.gatewayError();
  store.welcomed("garden");
  store.historyRequested("older");
  const duringHistory = store.gatewayError();
  store.historyAnswered();
  const otherwise = store.gatewayError();
  store.joining("pond");
  const duringSwitch = store.gatewayError();
  results.gatewayError = { duringJoin, duringHistory, otherwise, duringSwitch, names: Unanswered };
}

// The socket: a blackholed line is taken for dead within 20 s (quiet 10 s, probe 5 s), without waiting for
// a close the dead line never completes; `online` reconnects at once rather than after the backoff; the
// typeless error frame reaches onGatewayError; any frame is proof of life (no probe on a busy line).
{
  now = 0; timers = []; net.sockets = []; net.down = false; net.blackhole = false;
  const states = [], gateway = [], frames = [];
  const socket = new ChatSocket({
    url: () => "wss://x", heartbeatMs: 240_000, backoffBaseMs: 1000, backoffMaxMs: 30_000,
    onFrame: (f) => frames.push(f.type), onOpen: () => {}, onState: (s) => states.push([now, s]),
    canReconnect: () => true, onGatewayError: (f) => gateway.push(f.requestId), now: () => now, isHidden: () => false,
  });
  socket.open();
  runFor(100);
  const first = net.sockets[0];
  // A busy line: a frame every 4 s for 30 s: no heartbeat goes.
  for (let t = 0; t < 30_000; t += 4000) { runFor(4000); first.receive({ type: "message" }); }
  const heartbeatsWhileBusy = first.sent.filter((f) => f.action === "heartbeat").length;
  first.receive({ message: "Internal server error", connectionId: "c", requestId: "r-1" });
  // Quiet: a probe goes after 10 s and its answer proves the line.
  runFor(11_500);
  const probed = first.sent.filter((f) => f.action === "heartbeat").length;
  first.receive({ type: "heartbeat" });
  // The line dies (blackhole): nothing comes back, nothing closes.
  net.blackhole = true;
  const diedAt = now;
  runFor(30_000);
  const dead = states.find(([at, s]) => at > diedAt && s === "dead");
  // The network is down for a while: reconnects fail and the backoff grows; then `online`.
  net.blackhole = false; net.down = true;
  runFor(40_000);
  const waits = states.filter(([at, s]) => at > diedAt && s === "waiting").length;
  net.down = false;
  const onlineAt = now;
  socket.reconnectNow();
  runFor(100);
  const reopened = states.find(([at, s]) => at >= onlineAt && s === "open");
  results.socket = { heartbeatsWhileBusy, gateway, frames: frames.length, probed,
    deadAfterMs: dead ? dead[0] - diedAt : null, waits, reopenedAfterMs: reopened ? reopened[0] - onlineAt : null };
}

console.log(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def results():
    urls = [module_url("page_store.js"), module_url("outbox.js"), module_url("socket.js")]
    return run_node(HARNESS, json.dumps(urls))


def test_an_outage_in_a_dm_never_sends_its_queued_text_anywhere_but_the_dm(results):
    outage = results["outage"]
    assert len(outage["asked"]) >= 3 and set(outage["asked"]) == {"dm-alice-bob"}
    assert outage["beforeWelcome"] == 0
    assert outage["posted"] == [["SECRET: my salary is 123k", "dm-alice-bob", "dm-alice-bob"],
                                ["keep it between us", "dm-alice-bob", "dm-alice-bob"]]
    assert outage["left"] == 0


def test_messages_queued_in_a_room_wait_for_it_while_the_user_is_elsewhere(results):
    switching = results["switching"]
    assert switching["whileJoining"] == 0
    assert switching["pendingInOps"] == ["o1", "o2", "o3", "o4"]
    assert switching["posted"] == [["r1", "random", "random"]] + [[m, "ops", "ops"] for m in ["o1", "o2", "o3", "o4"]]
    assert switching["left"] == 0


def test_wrong_room_keeps_the_message_and_sends_it_again_once_back_in_its_room(results):
    wrong = results["wrongRoom"]
    assert wrong["room"] == "dm-alice-bob" and wrong["duringJoin"] == 1
    assert len(wrong["sent"]) == 2 and len(set(wrong["sent"])) == 1
    assert wrong["waiting"] == 1 and wrong["otherId"] is None


def test_an_unanswered_message_goes_again_with_the_same_client_msg_id(results):
    assert results["timeout"] == {"at": [0, 8000, 16000], "sameId": 1, "probes": 2, "waiting": 0}


def test_the_gateway_error_frame_fails_the_oldest_request_in_flight(results):
    error = results["gatewayError"]
    assert (error["duringJoin"], error["duringHistory"], error["otherwise"], error["duringSwitch"]) == \
        ("join", "history", "message", "join")


def test_the_socket_finds_a_dead_line_within_20_s_and_reconnects_at_once_when_online(results):
    sock = results["socket"]
    assert sock["heartbeatsWhileBusy"] == 0
    assert sock["gateway"] == ["r-1"]
    assert sock["probed"] == 1
    assert sock["deadAfterMs"] is not None and sock["deadAfterMs"] <= 20_000
    assert sock["waits"] >= 3
    assert sock["reopenedAfterMs"] is not None and sock["reopenedAfterMs"] < 2_000
