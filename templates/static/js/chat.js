// The chat page: wires the socket to the page. Rendering lives in render.js, the connection in socket.js.
import { postJson } from "./api.js";
import { config } from "./config.js";
import { formatClock, formatDuration, messageItem, noticeItem, renderOnline, renderState } from "./render.js";
import { ChatSocket } from "./socket.js";
import { clearLogin, currentLogin, isExpired, loginUrl, saveRoom, savedRoom } from "./session.js";

const $ = (id) => document.getElementById(id);
const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const login = currentLogin();
if (isExpired(login)) {
  location.replace(loginUrl(login ? "expired" : "signin"));
  throw new Error("not signed in");
}

const me = login.username;
const saved = savedRoom();
const state = {
  // A stored room that is not a valid name (tampered storage) would make every connect fail.
  room: saved && ROOM_PATTERN.test(saved) ? saved : config.defaultRoom,
  shownRoom: null, // the room whose messages the list shows
  ids: new Set(),
  lastId: null, // newest message id seen in this room: reconnects fetch what came after it
  oldestId: null,
  historyRequests: [], // kinds of the history requests in flight, oldest first
  firstConnectedAt: null,
  connectedAt: null,
  sessionEndsAtMs: null,
  autoDeadline: null,
  ended: false,
  // Messages typed but not yet confirmed by their echo. One is in flight at a time, so they are
  // stored in the order they were written even when the server handles frames concurrently; they
  // survive a dropped connection and go out after the reconnect.
  outbox: [],
  inFlight: false,
  catchingUp: false, // fetching what was missed after a reconnect
};

const list = $("messages");
$("me-name").textContent = me;
$("me-guest").hidden = !login.guest;
$("room-input").value = state.room;
$("room-name").textContent = state.room;

// -- the connection ------------------------------------------------------------------------------

const socket = new ChatSocket({
  url: () => {
    const query = new URLSearchParams({ token: `Bearer ${login.token}`, room: state.room });
    return `${config.wsUrl}?${query}`;
  },
  heartbeatMs: config.heartbeatSeconds * 1000,
  backoffBaseMs: config.reconnectBaseMs,
  backoffMaxMs: config.reconnectMaxMs,
  canReconnect: () => !state.ended && !isExpired(login),
  onState: (name, detail) => {
    renderState($("conn-state"), name, detail);
    if (name !== "open") state.inFlight = false; // resent after the reconnect unless its echo shows up
    if (name === "closed" && !state.ended && isExpired(login)) endSession("expired");
  },
  onOpen: () => socket.send({ action: "join" }),
  onFrame: (frame) => (handlers[frame.type] || (() => {}))(frame),
});

const handlers = {
  welcome(frame) {
    hideBanner();
    const now = Date.now();
    state.connectedAt = new Date(frame.connectedAt);
    state.firstConnectedAt ??= now;
    // The limit counts from the first connection: reconnecting does not extend it.
    if (frame.sessionEndsAt && state.sessionEndsAtMs === null) state.sessionEndsAtMs = Date.parse(frame.sessionEndsAt);
    if (login.sessionLimitSeconds && state.sessionEndsAtMs === null) {
      state.sessionEndsAtMs = now + login.sessionLimitSeconds * 1000;
    }
    $("connected-at").textContent = formatClock(state.connectedAt);
    $("connected-at").title = state.connectedAt.toISOString();
    const missedSince = frame.room === state.shownRoom ? state.lastId : null;
    if (frame.room !== state.shownRoom) {
      resetRoom(frame.room);
      // A full page of history on join means there may be older messages to load.
      $("load-older").hidden = frame.history.length < config.historyOnJoin;
    }
    frame.history.forEach(insertMessage);
    renderPresence(frame.online);
    // Back from a drop: the welcome holds only the last 50, so ask for everything after the last
    // message we saw; ids sort in send order, and insertMessage drops what we already have.
    state.catchingUp = Boolean(missedSince);
    if (missedSince) requestHistory("missed", { after: cursorBefore(missedSince, 10_000) });
    scrollToBottom();
    pumpOutbox();
    tick();
  },
  message(frame) {
    if (frame.room !== state.shownRoom) return;
    insertMessage(frame);
    if (state.inFlight && frame.clientMsgId === state.outbox[0]?.clientMsgId) {
      state.outbox.shift();
      state.inFlight = false;
      pumpOutbox();
    }
  },
  presence(frame) {
    if (frame.room !== state.shownRoom) return;
    renderPresence(frame.online);
    if (frame.user !== me) appendNotice(`${frame.user} ${frame.event === "joined" ? "joined" : "left"}`);
  },
  history(frame) {
    const kind = state.historyRequests.shift() || "missed";
    if (frame.room !== state.shownRoom) return;
    const keepPosition = kind === "older" ? list.scrollHeight - list.scrollTop : null;
    frame.messages.forEach(insertMessage);
    if (kind === "older") {
      $("load-older").hidden = !frame.hasMore;
      list.scrollTop = list.scrollHeight - keepPosition;
    } else if (frame.hasMore && state.lastId) {
      requestHistory("missed", { after: state.lastId });
    } else {
      state.catchingUp = false;
      pumpOutbox();
    }
  },
  heartbeat() {},
  error(frame) {
    if (frame.code === "session_expired") {
      // The server says why: token expired, session limit reached, or logged out (elsewhere).
      endSession(/limit/.test(frame.message) ? "limit" : /logged out/.test(frame.message) ? "logout" : "expired");
    } else if (frame.code === "not_connected") {
      socket.ws?.close(); // not intentional: the socket reconnects
    } else {
      if (state.inFlight) {
        // The message in flight was refused: give its text back rather than lose it.
        const refused = state.outbox.shift();
        state.inFlight = false;
        if (!$("message-input").value) $("message-input").value = refused.message;
        pumpOutbox();
      }
      showBanner(frame.message);
    }
  },
};

function pumpOutbox() {
  renderOutbox();
  if (state.inFlight || state.catchingUp || !state.outbox.length || !socket.isOpen) return;
  if (socket.send({ action: "sendmessage", ...state.outbox[0] })) state.inFlight = true;
}

function renderOutbox() {
  const waiting = state.outbox.length;
  $("outbox-status").textContent = waiting && !socket.isOpen ? `${waiting} waiting to send` : "";
}

// A history cursor `ms` milliseconds before a message id (ids start with 13 digits of epoch ms):
// two functions storing at the same moment may post in the other order, so a reconnect asks a
// little further back and insertMessage drops what is already shown.
function cursorBefore(id, ms) {
  const at = Math.max(0, Number(id.slice(0, 13)) - ms);
  return String(at).padStart(13, "0") + "000000";
}

function requestHistory(kind, query) {
  if (socket.send({ action: "history", ...query, limit: 100 })) state.historyRequests.push(kind);
}

// -- the message list ----------------------------------------------------------------------------

function resetRoom(room) {
  state.shownRoom = room;
  state.room = room;
  state.ids.clear();
  state.lastId = null;
  state.oldestId = null;
  state.historyRequests = [];
  list.replaceChildren();
  saveRoom(room);
  $("room-name").textContent = room;
  $("room-input").value = room;
}

function nearBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}

function scrollToBottom() {
  list.scrollTop = list.scrollHeight;
  $("jump").hidden = true;
}

// Inserts in id order (ids sort in send order) and never twice, whatever order frames arrive in.
function insertMessage(frame) {
  if (state.ids.has(frame.id)) return;
  // A queued message whose echo we missed in the drop was stored: do not send it again.
  const queued = state.outbox.findIndex((entry) => entry.clientMsgId === frame.clientMsgId);
  if (queued > 0 || (queued === 0 && !state.inFlight)) state.outbox.splice(queued, 1);
  const stick = nearBottom();
  state.ids.add(frame.id);
  const item = messageItem(frame, me);
  if (state.lastId === null || frame.id > state.lastId) {
    list.append(item); // the common case: the newest message goes last, after any notices
  } else {
    let after = list.lastElementChild;
    while (after && (!after.dataset.id || after.dataset.id > frame.id)) after = after.previousElementSibling;
    if (after) after.after(item);
    else list.prepend(item);
  }
  if (state.lastId === null || frame.id > state.lastId) state.lastId = frame.id;
  if (state.oldestId === null || frame.id < state.oldestId) state.oldestId = frame.id;
  // Follow new messages only if the reader was at the bottom (or wrote it); never yank someone reading back.
  if (stick || frame.sender === me) scrollToBottom();
  else if (frame.id === state.lastId) $("jump").hidden = false;
}

function appendNotice(text) {
  const stick = nearBottom();
  list.append(noticeItem(text));
  if (stick) scrollToBottom();
}

function renderPresence(users) {
  renderOnline($("online"), users, me);
  $("online-count").textContent = `(${users.length})`;
}

function showBanner(text, offerReconnect = false) {
  $("banner-text").textContent = text;
  $("reconnect").hidden = !offerReconnect;
  $("banner").hidden = false;
}

function hideBanner() {
  $("banner").hidden = true;
}

// -- timers: session timer, token countdown, session limit, auto-disconnect -------------------------

function tick() {
  const now = Date.now();
  if (state.firstConnectedAt) $("session-timer").textContent = formatDuration((now - state.firstConnectedAt) / 1000);
  $("token-countdown").textContent = formatDuration((login.expiresAtMs - now) / 1000);
  if (state.sessionEndsAtMs) {
    $("limit-row").hidden = false;
    $("limit-countdown").textContent = formatDuration((state.sessionEndsAtMs - now) / 1000);
  }
  if (state.autoDeadline) $("auto-countdown").textContent = `(in ${formatDuration((state.autoDeadline - now) / 1000)})`;
  if (state.ended) return;
  if (now >= login.expiresAtMs) endSession("expired");
  else if (state.sessionEndsAtMs && now >= state.sessionEndsAtMs) endSession("limit");
  else if (state.autoDeadline && now >= state.autoDeadline) autoDisconnect();
}

function endSession(reason) {
  if (state.ended) return;
  state.ended = true;
  socket.close();
  clearLogin();
  location.assign(loginUrl(reason));
}

function autoDisconnect() {
  const minutes = $("auto-minutes").value;
  state.autoDeadline = null;
  $("auto-countdown").textContent = "";
  $("auto-enabled").checked = false;
  socket.close();
  showBanner(`Disconnected automatically after ${minutes} min.`, true);
}

function updateAutoDisconnect() {
  const minutes = Number($("auto-minutes").value);
  const valid = Number.isFinite(minutes) && minutes > 0;
  state.autoDeadline = $("auto-enabled").checked && valid ? Date.now() + minutes * 60_000 : null;
  if (!state.autoDeadline) $("auto-countdown").textContent = "";
  tick();
}

// -- user actions ----------------------------------------------------------------------------------

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("message-input");
  const text = input.value.trim();
  if (!text) return;
  if (text.length > config.messageMaxChars) {
    showBanner(`Messages are limited to ${config.messageMaxChars} characters.`);
    return;
  }
  state.outbox.push({ message: text, clientMsgId: crypto.randomUUID() });
  input.value = "";
  updateCharCount();
  pumpOutbox();
});

$("message-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

function updateCharCount() {
  const left = config.messageMaxChars - $("message-input").value.length;
  $("char-count").textContent = left < 200 ? `${left} left` : "";
}
$("message-input").addEventListener("input", updateCharCount);

$("room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("room-input").value.trim();
  if (!ROOM_PATTERN.test(room)) {
    showBanner("Room names are 1-64 characters of letters, digits, _ and -.");
    return;
  }
  if (room === state.shownRoom) return;
  state.room = room;
  socket.send({ action: "join", room });
});

$("load-older").addEventListener("click", () => {
  if (state.oldestId) requestHistory("older", { before: state.oldestId });
});

$("jump").addEventListener("click", scrollToBottom);
list.addEventListener("scroll", () => { if (nearBottom()) $("jump").hidden = true; });

$("logout").addEventListener("click", async () => {
  state.ended = true;
  // Revoke the token on the server first, so that it cannot connect again; leave either way.
  await postJson("/logout", undefined, { Authorization: `Bearer ${login.token}` });
  socket.close();
  clearLogin();
  location.assign(loginUrl("logout"));
});

$("reconnect").addEventListener("click", () => {
  hideBanner();
  socket.open();
});

$("auto-enabled").addEventListener("change", updateAutoDisconnect);
$("auto-minutes").addEventListener("change", updateAutoDisconnect);
$("auto-form").addEventListener("submit", (event) => event.preventDefault());

socket.open();
tick();
setInterval(tick, 1000);
