// The chat page's wiring: the socket's frames and the page's controls, each handed to the module
// that does the job (messages.js the list, outbox.js sending, clock.js the clocks, render.js the DOM,
// panels.js the menu and drawers, attention.js the title and notifications, drafts.js the composer's
// unsent text, session.js the sign-in and its renewal, rooms.js the rooms, dialogs and moderation,
// message_menu.js each message's menu, message_features.js edits, reactions, replies, typing and the
// read marker).
import { postJson, refreshTokens } from "./api.js";
import { Attention } from "./attention.js";
import { SessionClock, formatClock, formatDuration } from "./clock.js";
import { config } from "./config.js";
import { clearDrafts, loadDraft, saveDraft } from "./drafts.js";
import { MessageFeatures } from "./message_features.js";
import { attachMessageMenu, refreshMessageMenus, registerMessageAction } from "./message_menu.js";
import { MessageList, cursorBefore } from "./messages.js";
import { Outbox } from "./outbox.js";
import { Panels } from "./panels.js";
import { joinRefusal, mutedWords, removalWords } from "./refusals.js";
import { mentions, renderOnline, renderState } from "./render.js";
import { Rooms } from "./rooms.js";
import {
  SessionKeeper, clearLogin, currentLogin, isExpired, loginUrl, renewStored, saveRoom, savedRoom, sessionEndUrl,
} from "./session.js";
import { ChatSocket } from "./socket.js";
import { createState, isRoomName } from "./state.js";

const $ = (id) => document.getElementById(id);

// A reconnect asks for history from this long before the last message seen (see cursorBefore).
const CATCH_UP_LOOKBACK_MS = 10_000;
// A catch-up page that fails is asked for again this many times in all, a little later each time,
// before the page gives up on it, says so, and goes on sending.
const CATCH_UP_ATTEMPTS = 3;
const CATCH_UP_RETRY_MS = 1_000;
// The character count appears once fewer than this many characters are left.
const CHARS_LEFT_SHOWN_BELOW = 200;
// A rate_limited frame says how long to wait in retryAfterMs; a server that sends none gets this
// (the default limit refills a message every 500 ms), and a zero or tiny wait is stretched to the
// floor, so that a refused message is never resent in a busy loop.
const RATE_LIMIT_WAIT_FALLBACK_MS = 1_000;
const RATE_LIMIT_WAIT_FLOOR_MS = 250;
// A token that ran out before it was renewed: how often, and how far apart, renewing is tried.
const RESCUE_ATTEMPTS = 4;
const RESCUE_RETRY_MS = 5_000;
// How long a logout waits for the server to confirm the revocation before it gives up and says so.
const LOGOUT_TIMEOUT_MS = 10_000;
// A tab shown again asks for the rooms' unread counts, at most this often.
const ROOMS_REFRESH_MS = 10_000;
// The banner's kind while it says that messages are being held back (hideBanner takes it).
const RATE_LIMITED_BANNER = "rate-limited";

let login = currentLogin();
// A new tab after the token ran out (tabs share the sign-in): renewed if the sign-in still holds.
if (isExpired(login) && login?.refreshToken) login = (await renewStored(refreshTokens)).login ?? login;
if (isExpired(login)) {
  location.replace(login ? sessionEndUrl("token_expired") : loginUrl("signin"));
  // Stop here while the page goes away: a promise that never settles halts the module quietly,
  // where a throw would be an uncaught error (the Back button after a logout lands here).
  await new Promise(() => {});
}

// Back (or forward) to a page kept in the browser's page cache after a logout in it: its login is
// gone, so go to the login page rather than show a chat that cannot connect.
window.addEventListener("pageshow", (event) => {
  if (event.persisted && isExpired(currentLogin())) location.replace(loginUrl("signin"));
});

const me = login.username;
const state = createState(savedRoom());
const clock = new SessionClock(login);
const messages = new MessageList({
  list: $("messages"), jump: $("jump"), me,
  decorateItem: (item, frame) => {
    attachMessageMenu(item, frame);
    features.decorate(item, frame);
  },
});
const outbox = new Outbox({ send: (frame) => socket.send(frame), onChange: showOutbox });
const attention = new Attention({ baseTitle: () => `${roomTitle(state.shownRoom ?? state.room)} · wschat`, onChange: showNotify });
const panels = new Panels();
const rooms = new Rooms({
  me,
  guest: login.guest,
  send: (frame) => socket.send(frame),
  shownRoom: () => state.shownRoom,
  switchTo,
  status: (text) => messages.notice(text),
  banner: (text) => showBanner(text),
  changed: () => {
    // The Room field keeps what the user may be typing: only the heading and lists change.
    showRoom(state.shownRoom ?? state.room, { field: false });
    refreshMessageMenus($("messages"));
  },
  closePanels: () => panels.closeAll(),
});

// The message menu's own item; Edit, Reply and React register theirs the same way.
registerMessageAction({
  id: "delete",
  label: "Delete",
  visible: (message) => rooms.mayDelete(message),
  run: (message) => rooms.act({ action: "deletemessage", room: message.room, id: message.id }),
});
// Edit, Reply and React (after Delete in the menu), the typing line and the read marker.
const features = new MessageFeatures({
  me,
  send: (frame) => socket.send(frame),
  room: () => state.shownRoom,
  messages,
  banner: (text) => showBanner(text),
  composer: $("message-input"),
});

$("me-name").textContent = me;
$("me-guest").hidden = !login.guest;
// A guest's sign-in lasts as long as the guest session: one countdown ("Guest session ends in")
// says it.
$("token-row").hidden = login.guest;
showRoom(state.room);
$("message-input").value = loadDraft(me, state.room);
showNotify();

// -- the connection ------------------------------------------------------------------------------

const socket = new ChatSocket({
  url: () => {
    // Remembered to tell a refused connect (403: a private room, a ban) from one that opened.
    state.attempt = { room: state.room, opened: false };
    const query = new URLSearchParams({ token: `Bearer ${login.token}`, room: state.room });
    return `${config.wsUrl}?${query}`;
  },
  heartbeatMs: config.heartbeatSeconds * 1000,
  backoffBaseMs: config.reconnectBaseMs,
  backoffMaxMs: config.reconnectMaxMs,
  canReconnect: () => !state.ended && !isExpired(login),
  onState: (name, detail) => {
    renderState($("conn-state"), name, detail);
    // While not connected, who is online is not known: the list says so instead of looking live.
    if (name !== "open") $("presence").dataset.live = "false";
    if (name !== "open") outbox.disconnected();
    if (name === "closed" && !state.ended && isExpired(login)) tokenRanOut();
    if (name === "waiting") connectFailed();
  },
  onOpen: () => {
    if (state.attempt) state.attempt.opened = true;
    state.welcomed = false;
    state.joining = null;
    // Answers to requests made on the old connection will never come.
    state.historyRequests = [];
    rooms.reset();
    stopCatchUp();
    socket.send({ action: "join" });
  },
  onFrame: (frame) => (handlers[frame.type] || (() => {}))(frame),
});

// Renewed before it expires (session.js); the open connection is given the new token (`renew`), so
// that the server keeps it past the old one's expiry. A sign-in ended in another tab ends here too.
const keeper = new SessionKeeper({
  refresh: refreshTokens,
  onRenewed: (fresh) => {
    login = fresh;
    clock.tokenExpiresAtMs = fresh.expiresAtMs;
    socket.send({ action: "renew", token: fresh.token });
  },
  onEnded: (code) => endSession(code),
});
keeper.start();

const handlers = {
  renewed() {},
  welcome(frame) {
    hideBanner();
    if (state.afterWelcome) showBanner(state.afterWelcome);
    state.afterWelcome = null;
    state.joining = null;
    state.outOfRoom = false;
    clock.connected(frame);
    $("connected-at").textContent = formatClock(clock.connectedAt);
    $("connected-at").title = clock.connectedAt.toISOString();
    const missedSince = frame.room === state.shownRoom ? messages.lastId : null;
    const entering = frame.room !== state.shownRoom;
    if (entering) enterRoom(frame.room, frame.hasMore);
    else features.roomChanged({ same: true });
    // Nothing queued goes out until the history is in: it may hold one of ours, stored before a
    // drop that lost its echo.
    outbox.pause();
    messages.batch(() => frame.history.forEach(showMessage));
    showPresence(frame.online, frame.onlineCount);
    messages.scrollToBottom();
    // The "New messages" line at the read marker, when the page enters the room.
    if (entering) features.entered(frame.lastRead);
    // Back from a drop in the same room: the welcome holds only the last page of history, so ask
    // for everything since the last message seen.
    if (missedSince) startCatchUp(cursorBefore(missedSince, CATCH_UP_LOOKBACK_MS));
    else outbox.resume();
    rooms.welcomed(frame, { firstOfConnection: !state.welcomed });
    state.welcomed = true;
    showRoom(frame.room, { field: false });
    retryRefusedRoom(frame.room);
    tick();
  },
  message(frame) {
    // An echo confirms our message even from the room just left: the outbox must not wait for it.
    outbox.seen(frame);
    if (frame.room !== state.shownRoom) return;
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
    showUnread();
  },
  presence(frame) {
    if (frame.room !== state.shownRoom) return;
    showPresence(frame.online, frame.onlineCount);
    rooms.presence(frame);
    if (frame.user !== me) messages.notice(`${frame.user} ${frame.event === "joined" ? "joined" : "left"}`);
  },
  history(frame) {
    const kind = state.historyRequests.shift() || "missed";
    if (frame.room !== state.shownRoom) return;
    if (kind === "older") {
      messages.keepingPlace(() => frame.messages.forEach(showMessage));
      $("load-older").hidden = !frame.hasMore;
      return;
    }
    messages.batch(() => frame.messages.forEach(showMessage));
    // A catch-up of more than one page goes on exactly where this page stopped (live messages
    // shown meanwhile may be newer: going on after them would skip what lies between).
    const last = frame.messages.at(-1);
    if (frame.hasMore && last) startCatchUp(last.id);
    else finishCatchUp();
  },
  heartbeat() {},
  rooms(frame) {
    rooms.onRooms(frame);
    showUnread();
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
    if (frame.room === state.shownRoom) messages.markDeleted(frame);
  },
  kicked: (frame) => removedFrom(frame),
  banned: (frame) => removedFrom(frame),
  error(frame) {
    if (frame.code === "session_expired" && frame.reason === "token_expired") {
      // The connection's token ran out before a renewal reached the server: the server closes
      // this connection, and the socket reconnects with a renewed token if the sign-in holds.
      tokenRanOut();
    } else if (frame.code === "session_expired") {
      // The server says why as a code (frame.reason); its message is for people, not for branching.
      endSession(frame.reason);
    } else if (frame.code === "not_connected") {
      socket.drop();
    } else {
      // Every other error names the request it answers (`action`): several may be out at once (a
      // message, a join, a read marker, a room action), and each refusal is said where it belongs.
      (refusalHandlers[frame.action] ?? refusedOther)(frame);
    }
  },
};

const refusalHandlers = {
  sendmessage: messageRefused,
  join: joinRefused,
  history(frame) {
    if (state.historyRequests.length) historyFailed(state.historyRequests.shift(), frame);
  },
  // The open connection keeps its token until it runs out; the clocks then end or rescue it.
  renew() {},
  heartbeat() {},
  ...Object.fromEntries(MessageFeatures.ACTIONS.map((action) => [action, (frame) => features.failed(frame)])),
  ...Object.fromEntries(Rooms.ACTIONS.map((action) => [action, (frame) => rooms.failed(frame)])),
};

// A message the server refused: held and sent again after a rate limit's wait, otherwise given back
// to the composer with the reason.
function messageRefused(frame) {
  if (frame.code === "rate_limited" && outbox.holdFor(rateLimitWaitMs(frame))) {
    // Neither stored nor sent: it stays first in the outbox and goes again after the wait.
    showBanner("Too many messages at once: yours wait and go out in order.", { kind: RATE_LIMITED_BANNER });
    return;
  }
  giveBack(outbox.refuse());
  if (frame.code === "muted") {
    showBanner(mutedWords(rooms.label(state.shownRoom), frame.until));
  } else if (frame.code === "forbidden" && state.outOfRoom) {
    showBanner("You are in no room now: open a room to send messages (yours is back in the box).");
  } else {
    showBanner(frame.message);
  }
}

// An error that names no request of this page (a frame it did not send, an unknown action).
function refusedOther(frame) {
  showBanner(frame.message);
}

// Goes to `room` (a click in the sidebar, the directory, an invitation, the Room field): a join on
// the open connection; while there is none, the next connection asks for it.
function switchTo(room) {
  if (room === state.shownRoom && !state.outOfRoom) {
    showRoom(room);
    return;
  }
  state.room = room;
  if (socket.isOpen) {
    state.joining = room;
    socket.send({ action: "join", room });
  } else if (!socket.ws) {
    socket.open(); // waiting to retry: try now, with this room
  }
}

// Kicked or banned from the room shown: the connection is in no room. Back to the default room
// (unless that is the room), saying why.
function removedFrom(frame) {
  rooms.removed();
  if (frame.room !== state.shownRoom) return;
  const words = removalWords(frame, rooms.label(frame.room));
  state.outOfRoom = true;
  $("presence").dataset.live = "false";
  if (frame.room !== config.defaultRoom) {
    const text = `${words} You are back in #${config.defaultRoom}.`;
    showBanner(text);
    state.afterWelcome = text;
    switchTo(config.defaultRoom);
  } else {
    showBanner(`${words} Open another room to go on.`);
  }
}

// A connection that never opened: the server refuses ?room= of a private room the user is not a
// member of, or one they are banned from (403), and a browser cannot tell that from a network
// failure. So the next try goes to the default room; once in, a join of the room wanted asks the
// server why (retryRefusedRoom), and the answer is said. If the default room fails too, it was
// more likely the network: back to the room wanted.
function connectFailed() {
  const attempt = state.attempt;
  if (!attempt || attempt.opened) return; // an open connection dropped: reconnect as before
  if (attempt.room !== config.defaultRoom) {
    state.refusedRoom = attempt.room;
    state.room = config.defaultRoom;
  } else if (state.refusedRoom) {
    state.room = state.refusedRoom;
    state.refusedRoom = null;
  } else {
    showBanner(`Could not connect to #${config.defaultRoom} (trying again). If you were banned from it, `
      + "type another room's name in the Room field.");
  }
}

function retryRefusedRoom(room) {
  const wanted = state.refusedRoom;
  state.refusedRoom = null;
  if (wanted && room === config.defaultRoom && wanted !== room) switchTo(wanted);
}

// The page stays in the room it shows, and the room field says so again (it held the refused name).
function joinRefused(frame) {
  const wanted = state.joining ?? state.room;
  state.joining = null;
  if (state.shownRoom === null) {
    // The first join of the page (no room shown yet): said, and the room asked for stays the
    // one the next connection asks for.
    showBanner(joinRefusal(frame, roomTitle(wanted)));
    return;
  }
  state.room = state.shownRoom;
  showRoom(state.shownRoom);
  const where = state.outOfRoom ? "Open another room to go on."
    : `You are still in ${roomTitle(state.shownRoom)}.`;
  showBanner(`${joinRefusal(frame, roomTitle(wanted))} ${where}`);
}

// "#garden", or "@bob" for a direct conversation.
function roomTitle(room) {
  const { sigil, name } = rooms.heading(room);
  return `${sigil}${name}`;
}

// A message the server refused for good goes back into the composer, after anything typed since:
// nothing typed is lost.
function giveBack(text) {
  if (text === null) return;
  const input = $("message-input");
  input.value = input.value ? `${input.value}\n${text}` : text;
  composerChanged();
}

function rateLimitWaitMs(frame) {
  const ms = frame.retryAfterMs;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return RATE_LIMIT_WAIT_FALLBACK_MS;
  return Math.max(ms, RATE_LIMIT_WAIT_FLOOR_MS);
}

function showMessage(frame) {
  outbox.seen(frame);
  // Shown already (a catch-up after a reconnect): its latest text and reactions.
  if (messages.ids.has(frame.id)) features.refresh(frame);
  messages.insert(frame);
}

function requestHistory(kind, query) {
  const sent = socket.send({ action: "history", ...query, limit: config.historyMaxLimit });
  if (sent) state.historyRequests.push(kind);
  return sent;
}

function enterRoom(room, hasOlder) {
  state.shownRoom = room;
  state.room = room;
  state.historyRequests = [];
  stopCatchUp();
  messages.clear();
  features.roomChanged();
  // The room entered is being read: its badge goes, and it leaves the title's count.
  rooms.markRead(room);
  saveRoom(room);
  showRoom(room);
  showUnread();
  $("load-older").hidden = !hasOlder;
  // The draft of the room left is saved as it is typed; this room's own comes back.
  $("message-input").value = loadDraft(me, room);
  updateCharCount();
}

// The room's name everywhere it shows: the heading, the room field, the sidebar and the title. A
// direct conversation shows the other person's name (its room name is a hash).
function showRoom(room, { field = true } = {}) {
  if (room === null || room === undefined) return;
  const { sigil, name } = rooms.heading(room);
  $("room-sigil").textContent = sigil;
  $("room-name").textContent = name;
  $("room-private").hidden = !rooms.isPrivate(room);
  if (field) $("room-input").value = rooms.isDm(room) ? "" : room;
  rooms.renderSidebar();
  attention.showTitle();
}

// -- catching up after a reconnect: page by page, each page retried a few times ----------------------

// Asks for the messages after `cursor`; the outbox waits (see the welcome handler) until the
// catch-up finishes or gives up.
function startCatchUp(cursor) {
  const attempts = state.catchUp && state.catchUp.after === cursor ? state.catchUp.attempts : 0;
  clearTimeout(state.catchUp?.timer);
  state.catchUp = { after: cursor, attempts, timer: null };
  // Not sent (the socket closed meanwhile): the next welcome starts over.
  requestHistory("missed", { after: cursor });
}

function finishCatchUp() {
  stopCatchUp();
  outbox.resume();
}

function stopCatchUp() {
  clearTimeout(state.catchUp?.timer);
  state.catchUp = null;
}

function historyFailed(kind, frame) {
  if (kind === "older") {
    showBanner(`Could not load older messages: ${frame.message}`);
    return;
  }
  const catchUp = state.catchUp;
  if (!catchUp) return;
  catchUp.attempts += 1;
  if (catchUp.attempts < CATCH_UP_ATTEMPTS) {
    catchUp.timer = setTimeout(() => startCatchUp(catchUp.after), CATCH_UP_RETRY_MS * catchUp.attempts);
    return;
  }
  // Given up: say so where the gap is and above the list, and go on sending.
  messages.notice("Some messages sent while you were away could not be loaded.");
  showBanner(`Could not load the messages you missed (${frame.message}). Reload the page to try again.`);
  finishCatchUp();
}

// -- what the page shows besides messages ----------------------------------------------------------

function showOutbox() {
  const waiting = outbox.waiting;
  // Held back while disconnected, while a reconnect catches up, or by the rate limit: say so,
  // never stop in silence.
  $("outbox-status").textContent =
    waiting && (!socket.isOpen || outbox.paused || outbox.slowed) ? `${waiting} waiting to send` : "";
  // Everything held back by the rate limit has gone out: the banner that said so goes too.
  if (!waiting) hideBanner(RATE_LIMITED_BANNER);
}

// `users` may be the first names of a big room only; `count` is how many are online in all.
function showPresence(users, count = users.length) {
  renderOnline($("online"), users, me, count);
  $("online-count").textContent = `(${count})`;
  $("presence-toggle-count").textContent = `(${count})`;
  $("presence").dataset.live = "true";
}

// The tab's title counts the unread messages of the user's other rooms (the server's counts).
function showUnread() {
  attention.setOtherRooms(rooms.unreadElsewhere(state.shownRoom));
}

function showNotify() {
  const button = $("notify-toggle");
  // A toggle button: its name stays, aria-pressed (and the status line) says whether it is on.
  button.setAttribute("aria-pressed", String(attention.notifying));
  button.disabled = !attention.supported || attention.permission === "denied";
  $("notify-status").textContent = attention.describe();
}

// `kind` names a banner that something hides again by itself (hideBanner(kind)).
function showBanner(text, { offerReconnect = false, kind = "" } = {}) {
  $("banner-text").textContent = text;
  $("reconnect").hidden = !offerReconnect;
  $("banner").dataset.kind = kind;
  $("banner").hidden = false;
}

// Hides the banner; given a kind, only if the banner shown is of that kind.
function hideBanner(kind) {
  if (kind && $("banner").dataset.kind !== kind) return;
  $("banner").hidden = true;
}

// The composer's text changed: the count of what is left, and the draft kept for a reload.
function composerChanged() {
  updateCharCount();
  saveDraft(me, state.shownRoom ?? state.room, $("message-input").value);
}

function updateCharCount() {
  const text = $("message-input").value;
  const left = config.messageMaxChars - text.length;
  // Emoji and many scripts take several bytes a character: the byte limit can come first.
  const bytesLeft = config.messageMaxBytes - utf8Length(text);
  let shown = left < CHARS_LEFT_SHOWN_BELOW ? `${left} left` : "";
  if (bytesLeft < CHARS_LEFT_SHOWN_BELOW && bytesLeft < left) shown = `${bytesLeft} bytes left`;
  $("char-count").textContent = shown;
}

function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

// -- the clocks, and what happens when one runs out ------------------------------------------------

function tick() {
  const now = Date.now();
  const seconds = clock.read(now);
  if (seconds.session !== null) $("session-timer").textContent = formatDuration(seconds.session);
  $("token-countdown").textContent = formatDuration(seconds.token);
  if (seconds.limit !== null) {
    $("limit-row").hidden = false;
    $("limit-countdown").textContent = formatDuration(seconds.limit);
  }
  if (seconds.auto !== null) $("auto-countdown").textContent = `(in ${formatDuration(seconds.auto)})`;
  if (state.ended) return;
  const due = clock.due(now);
  if (due === "auto") autoDisconnect();
  else if (due === "token_expired") tokenRanOut();
  else if (due) endSession(due);
}

// The token ran out before it was renewed (a renewal slower than its margin, a computer waking from
// sleep): renewed now if the sign-in still holds (another tab may have done it already), and the
// connection goes on with it; otherwise the session ends. A renewal that cannot reach the server
// is tried RESCUE_ATTEMPTS times.
let rescue = null;
function tokenRanOut(attempt = 1) {
  if (state.ended || rescue) return;
  const stored = currentLogin();
  if (!isExpired(stored)) {
    useLogin(stored);
    return;
  }
  if (!login.refreshToken) {
    endSession("token_expired");
    return;
  }
  rescue = renewStored(refreshTokens, login.token).then((result) => {
    rescue = null;
    if (state.ended) return; // logged out (or ended) meanwhile
    if (result.login && !isExpired(result.login)) {
      useLogin(result.login);
    } else if (result.failed && attempt < RESCUE_ATTEMPTS) {
      rescue = setTimeout(() => {
        rescue = null;
        tokenRanOut(attempt + 1);
      }, RESCUE_RETRY_MS);
    } else {
      endSession(result.ended ?? "token_expired");
    }
  }, () => {
    // Storage or Web Locks failed: nothing can renew the sign-in here.
    rescue = null;
    endSession("token_expired");
  });
}

// A renewed sign-in (from this tab or another): the clocks count to it, the open connection is
// given it, and a connection closed for want of it opens again (one closed on purpose, by the
// auto-disconnect, stays closed until the user reconnects).
function useLogin(fresh) {
  keeper.adopt(fresh);
  login = fresh;
  clock.tokenExpiresAtMs = fresh.expiresAtMs;
  if (!socket.ws && !socket.intentional) socket.open();
}

// Ends the session for good and goes to the login page, which says why. `code` is a SessionEnd code
// (handler/protocol.py), from the server or from this page's own clocks.
function endSession(code) {
  if (state.ended) return;
  state.ended = true;
  socket.close();
  clearLogin();
  // A guest has no account to log back into: the login page tells them so in a guest's words.
  location.assign(login.guest && code !== "logged_out" ? loginUrl("guest-ended") : sessionEndUrl(code));
}

function autoDisconnect() {
  const minutes = $("auto-minutes").value;
  clock.setAutoDisconnect(null);
  $("auto-countdown").textContent = "";
  $("auto-enabled").checked = false;
  socket.close();
  // Out of the way (the menu may be open, over the banner): what happened and Reconnect come first.
  panels.closeAll();
  showBanner(`Disconnected automatically after ${minutes} min.`, { offerReconnect: true });
}

function updateAutoDisconnect() {
  clock.setAutoDisconnect($("auto-enabled").checked ? Number($("auto-minutes").value) : null);
  if (clock.autoDeadline === null) $("auto-countdown").textContent = "";
  tick();
}

// -- user actions ----------------------------------------------------------------------------------

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("message-input");
  const text = input.value.trim();
  if (!text) return;
  if (text.length > config.messageMaxChars || utf8Length(text) > config.messageMaxBytes) {
    showBanner(`Messages are limited to ${config.messageMaxChars} characters and ${config.messageMaxBytes} bytes `
      + "(an emoji takes 4).");
    return;
  }
  input.value = "";
  composerChanged();
  outbox.add(text, features.takeReply());
});

$("message-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  } else if (event.key === "Escape" && features.replyTarget) {
    // Escape drops the reply first (a second one closes whatever panel is open).
    event.preventDefault();
    event.stopPropagation();
    features.cancelReply();
  }
});
$("message-input").addEventListener("input", () => {
  composerChanged();
  features.typed($("message-input").value);
});

$("room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("room-input").value.trim();
  if (!isRoomName(room)) {
    // The field goes back to the room shown, so that the field and the heading agree; the banner
    // quotes what was refused (as text).
    showBanner(`Room names are 1-${config.roomMaxChars} characters of letters, digits, _ and -: `
      + `"${room}" is not one. You are still in ${roomTitle(state.shownRoom ?? state.room)}.`);
    showRoom(state.shownRoom ?? state.room);
    return;
  }
  panels.closeAll();
  switchTo(room);
});

$("load-older").addEventListener("click", () => {
  if (messages.oldestId) requestHistory("older", { before: messages.oldestId });
});

$("jump").addEventListener("click", () => messages.scrollToBottom());
$("messages").addEventListener("scroll", () => messages.scrolled());

$("logout").addEventListener("click", async () => {
  state.ended = true;
  $("logout").disabled = true;
  $("logout").textContent = "Logging out…";
  // Revoke the token on the server first, so that it cannot connect again. Leave either way, but if
  // the server did not confirm it (an error, or no answer in time), the login page says that the
  // token may stay valid until it expires.
  // The refresh token too: an expired access token still names its sign-in, but the body makes sure.
  const body = login.refreshToken ? { refreshToken: login.refreshToken } : undefined;
  const { ok } = await postJson("/logout", body, { Authorization: `Bearer ${login.token}` },
    { timeoutMs: LOGOUT_TIMEOUT_MS });
  socket.close();
  clearLogin();
  clearDrafts();
  location.assign(sessionEndUrl(ok ? "logged_out" : "logout_unconfirmed"));
});

$("reconnect").addEventListener("click", () => {
  hideBanner();
  socket.open();
});

$("auto-enabled").addEventListener("change", updateAutoDisconnect);
$("auto-minutes").addEventListener("change", updateAutoDisconnect);
$("auto-form").addEventListener("submit", (event) => event.preventDefault());
$("notify-toggle").addEventListener("click", () => attention.toggle());

// Back to the tab: the other rooms' unread counts may have moved (the server sends them on request).
let roomsAskedAt = 0;
document.addEventListener("visibilitychange", () => {
  if (document.hidden || !socket.isOpen || Date.now() - roomsAskedAt < ROOMS_REFRESH_MS) return;
  roomsAskedAt = Date.now();
  rooms.requestRooms();
});

socket.open();
tick();
setInterval(tick, 1000);
