// The chat page's wiring: the socket's frames and the page's controls, each handed to the module
// that does the job. page_store.js holds the page's state (the connection's phase, the rooms wanted
// and shown, the requests in flight); chat/ the page's flows (room_flow.js joining and entering
// rooms, history.js older pages and the catch-up, sending.js the outbox and refused messages,
// composer.js the text being written, sign_in.js the sign-in and how the session ends, clocks.js
// the clocks, page_view.js the heading and presence, banner.js the banner); rooms/ the rooms,
// dialogs and moderation; message_features/ edits, reactions, replies, typing and the read marker;
// messages.js the list, socket.js the connection, attention.js the title and notifications,
// panels.js the menu and drawers.
import { Attention } from "./attention.js";
import { Banner } from "./chat/banner.js";
import { Clocks } from "./chat/clocks.js";
import { Composer } from "./chat/composer.js";
import { History } from "./chat/history.js";
import { PageView } from "./chat/page_view.js";
import { RoomFlow } from "./chat/room_flow.js";
import { Sending } from "./chat/sending.js";
import { SignIn, loginOrLeave } from "./chat/sign_in.js";
import { SessionClock } from "./clock.js";
import { config } from "./config.js";
import { $ } from "./dom.js";
import { Moderation } from "./chat/moderation.js";
import { MessageFeatures } from "./message_features/message_features.js";
import { attachMessageMenu, refreshMessageMenus, registerMessageAction } from "./message_menu.js";
import { MessageList } from "./messages.js";
import { isRoomName } from "./names.js";
import { PageStore, Phase, Unanswered } from "./page_store.js";
import { Panels } from "./panels.js";
import { mentions, renderState } from "./render.js";
import { Rooms } from "./rooms/rooms.js";
import { savedRoom } from "./session.js";
import { ChatSocket } from "./socket.js";

const login = await loginOrLeave();
const me = login.username;
const saved = savedRoom();
// A stored room that is not a valid name (tampered storage) would make every connect fail.
const store = new PageStore({
  room: isRoomName(saved) ? saved : config.defaultRoom,
  defaultRoom: config.defaultRoom,
});
const send = (frame) => socket.send(frame);
const banner = new Banner();
const panels = new Panels();
const closePanels = () => panels.closeAll();
const clock = new SessionClock(login);
const messages = new MessageList({
  list: $("messages"), jump: $("jump"), me,
  decorateItem: (item, frame) => {
    attachMessageMenu(item, frame);
    features.decorate(item, frame);
  },
});
const attention = new Attention({
  baseTitle: () => `${view.roomTitle(store.currentRoom)} · wschat`,
  onChange: () => view.showNotify(),
});
const rooms = new Rooms({
  me,
  guest: login.guest,
  send,
  shownRoom: () => store.shownRoom,
  switchTo: (room) => roomFlow.switchTo(room),
  status: (text) => messages.notice(text),
  banner: (text) => banner.show(text),
  changed: () => {
    // The Room field keeps what the user may be typing: only the heading and lists change.
    view.showRoom(store.currentRoom, { field: false });
    refreshMessageMenus($("messages"));
  },
  closePanels,
});
const view = new PageView({ me, store, rooms, attention });

// The message menu's own item; Edit, Reply and React register theirs the same way.
registerMessageAction({
  id: "delete",
  label: "Delete",
  visible: (message) => rooms.mayDelete(message),
  run: (message) => rooms.act({ action: "deletemessage", room: message.room, id: message.id }),
});
// Edit, Reply and React (after Delete in the menu), the typing line and the read marker.
const features = new MessageFeatures({
  me, send, room: () => store.shownRoom, messages, banner: (text) => banner.show(text), composer: $("message-input"),
});
const composer = new Composer({
  me, room: () => store.currentRoom, replies: features, banner,
  // Each message carries the room it was typed in, and goes only while the page is in that room.
  send: (text, extra) => sending.outbox.add(text, { ...extra, room: store.currentRoom }),
});
const sending = new Sending({
  store, send, banner, isOpen: () => socket.isOpen, giveBack: (text) => composer.giveBack(text),
  label: (room) => rooms.label(room),
  probe: () => socket.probe(), retryNow: () => socket.reconnectNow(), wrongRoom: (room) => roomFlow.wrongRoom(room),
});
const outbox = sending.outbox;
const moderation = new Moderation({
  room: () => store.shownRoom, label: (room) => rooms.label(room), composer, messages,
});
const historyRequests = new History({ store, send, messages, features, outbox, banner, loadOlder: $("load-older") });

// -- the connection ------------------------------------------------------------------------------

const socket = new ChatSocket({
  url: () => {
    const room = store.connecting();
    const query = new URLSearchParams({ token: `Bearer ${signIn.login.token}`, room });
    return `${config.wsUrl}?${query}`;
  },
  heartbeatMs: config.heartbeatSeconds * 1000,
  backoffBaseMs: config.reconnectBaseMs,
  backoffMaxMs: config.reconnectMaxMs,
  canReconnect: () => signIn.canReconnect(),
  onState: (name, detail) => {
    // "dead": the probe went unanswered; the socket drops the connection and says "waiting" next.
    if (name === "dead") return;
    // An open socket is not yet a room: "Connected" waits for the welcome (or, on a line that was
    // being checked, for the frame that proved it), so a line that opens and then hears nothing
    // never says it.
    const notIn = { [Phase.CONNECTING]: "connecting", [Phase.RECONNECTING]: "reconnecting",
      [Phase.JOINING]: "reconnecting" };
    renderState($("conn-state"), name === "open" ? notIn[store.phase] ?? name : name, detail);
    // "checking": a probe is out and unanswered: not "Connected" until a frame proves the line.
    if (name === "checking") return;
    if (name !== "open") view.presenceUnknown();
    if (name !== "open") outbox.disconnected();
    if (name === "waiting" || name === "closed") store.disconnected();
    if (name === "closed") signIn.closed();
    if (name === "waiting") roomFlow.connectFailed();
  },
  onOpen: () => {
    store.opened();
    rooms.reset();
    roomFlow.opened();
  },
  onGatewayError: () => gatewayError(),
  onFrame: (frame) => (handlers[frame.type] || (() => {}))(frame),
});
// API Gateway's own error frame names no request: the oldest in flight failed, and goes again.
function gatewayError() {
  const failed = store.gatewayError();
  if (failed === Unanswered.JOIN) roomFlow.joinFailedAtGateway();
  else if (failed === Unanswered.HISTORY) historyRequests.refused({ message: "the server failed to answer" });
  else sending.failedAtGateway();
}
const signIn = new SignIn({ login, store, socket, clock });
const roomFlow = new RoomFlow({
  store, socket, view, banner, rooms, features, messages, outbox, history: historyRequests, composer, closePanels,
  loadOlder: $("load-older"),
});
const clocks = new Clocks({ clock, store, signIn, socket, closePanels, banner });

view.showSignIn(login);
view.showRoom(store.room);
composer.restoreDraft(store.room, { count: false });
view.showNotify();
signIn.start();

const handlers = {
  renewed() {},
  welcome(frame) {
    roomFlow.welcomed(frame);
    renderState($("conn-state"), "open");
    clocks.connected(frame);
    moderation.welcomed(frame);
  },
  message(frame) {
    // An echo confirms our message even from the room just left: the outbox must not wait for it.
    outbox.seen(frame);
    if (frame.room !== store.shownRoom) return;
    messages.insert(frame);
    features.messageFrom(frame.sender);
    features.maybeRead();
    if (frame.sender !== me && !frame.deleted) {
      attention.received(frame, mentions(frame.message, me), rooms.isDm(frame.room) ? frame.sender : null);
    }
  },
  edited: (frame) => features.edited(frame),
  reaction: (frame) => features.reaction(frame),
  typing: (frame) => features.typing(frame),
  read: (frame) => {
    features.read(frame);
    rooms.markRead(frame.room);
    view.showUnread();
  },
  presence(frame) {
    if (frame.room !== store.shownRoom) return;
    view.showPresence(frame.online, frame.onlineCount);
    rooms.presence(frame);
    // Presence is the team's: a room switch (`moved`) only updates who is here, and a reconnect
    // within the grace sends nothing; a real arrival or leave is still said.
    if (frame.user !== me && !frame.moved) messages.notice(`${frame.user} ${frame.event === "joined" ? "joined" : "left"}`);
  },
  // A message in another of the user's rooms: its badge, the title, and a notification for a DM or a mention.
  activity(frame) {
    if (!rooms.onActivity(frame)) return;
    view.showUnread();
    attention.activity(frame, rooms.label(frame.room));
  },
  muted: (frame) => moderation.muted(frame),
  history: (frame) => historyRequests.received(frame),
  heartbeat() {},
  rooms(frame) {
    rooms.onRooms(frame);
    view.showUnread();
  },
  room: (frame) => rooms.onRoom(frame),
  invited(frame) {
    rooms.onInvited(frame);
    if (frame.dm) attention.invitedToDm(frame.with ?? frame.by, frame.room);
  },
  done: (frame) => rooms.onDone(frame),
  members: (frame) => rooms.onMembers(frame),
  modlog: (frame) => rooms.onModlog(frame),
  deleted(frame) {
    rooms.onDeleted(frame);
    if (frame.room === store.shownRoom) messages.markDeleted(frame);
  },
  kicked: (frame) => removed(frame),
  banned: (frame) => removed(frame),
  error(frame) {
    if (frame.code === "session_expired" && frame.reason === "token_expired") {
      // The connection's token ran out before a renewal reached the server: the server closes
      // this connection, and the socket reconnects with a renewed token if the sign-in holds.
      signIn.tokenRanOut();
    } else if (frame.code === "session_expired") {
      // The server says why as a code (frame.reason); its message is for people, not for branching.
      signIn.end(frame.reason);
    } else if (frame.code === "not_connected") {
      socket.drop();
    } else {
      // Every other error names the request it answers (`action`): several may be out at once (a
      // message, a join, a read marker, a room action), and each refusal is said where it belongs.
      (refusalHandlers[frame.action] ?? ((refused) => banner.show(refused.message)))(frame);
    }
  },
};

function removed(frame) {
  const wasShown = frame.room === store.shownRoom;
  roomFlow.removed(frame);
  moderation.removed(frame, wasShown);
}

const refusalHandlers = {
  sendmessage(frame) {
    sending.refused(frame);
    if (frame.code === "muted") moderation.muted({ room: store.shownRoom, until: frame.until });
  },
  join: (frame) => roomFlow.joinRefused(frame),
  history: (frame) => historyRequests.refused(frame),
  // The open connection keeps its token until it runs out; the clocks then end or rescue it.
  renew() {},
  heartbeat() {},
  ...Object.fromEntries(MessageFeatures.ACTIONS.map((action) => [action, (frame) => features.failed(frame)])),
  ...Object.fromEntries(Rooms.ACTIONS.map((action) => [action, (frame) => rooms.failed(frame)])),
};

// -- the page's controls -------------------------------------------------------------------------

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  composer.submit();
});
$("message-input").addEventListener("keydown", (event) => composer.keydown(event));
$("message-input").addEventListener("input", () => composer.typed());

$("room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  roomFlow.roomTyped($("room-input").value);
});

$("load-older").addEventListener("click", () => historyRequests.requestOlder());
$("jump").addEventListener("click", () => messages.scrollToBottom());
$("messages").addEventListener("scroll", () => messages.scrolled());
$("logout").addEventListener("click", () => signIn.logout($("logout")));
$("reconnect").addEventListener("click", () => {
  banner.hide();
  socket.open();
});

$("auto-enabled").addEventListener("change", () => clocks.autoDisconnectChanged());
$("auto-minutes").addEventListener("change", () => clocks.autoDisconnectChanged());
$("auto-form").addEventListener("submit", (event) => event.preventDefault());
$("notify-toggle").addEventListener("click", () => attention.toggle());

// Back to the tab: the other rooms' unread counts may have moved (the server sends them on request),
// and the connection may have died while the tab slept: checked now, or reopened at once.
document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  if (socket.isOpen) rooms.tabShown();
  socket.reconnectNow();
});
// The network is back: reconnect now rather than when the backoff says.
window.addEventListener("online", () => socket.reconnectNow());

socket.open();
clocks.start();
