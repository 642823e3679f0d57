// The chat page's wiring: the socket's frames and the page's controls, each handed to the module
// that does the job (messages.js the list, outbox.js sending, clock.js the clocks, render.js the DOM,
// panels.js the menu and drawers, attention.js the title and notifications, drafts.js the composer's
// unsent text, session.js the sign-in and its renewal).
import { postJson, refreshTokens } from "./api.js";
import { Attention } from "./attention.js";
import { SessionClock, formatClock, formatDuration } from "./clock.js";
import { config } from "./config.js";
import { clearDrafts, loadDraft, saveDraft } from "./drafts.js";
import { MessageList, cursorBefore } from "./messages.js";
import { Outbox } from "./outbox.js";
import { Panels } from "./panels.js";
import { mentions, renderOnline, renderState } from "./render.js";
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
// How long a logout waits for the server to confirm the revocation before it gives up and says so.
const LOGOUT_TIMEOUT_MS = 10_000;
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
const messages = new MessageList({ list: $("messages"), jump: $("jump"), me });
const outbox = new Outbox({ send: (frame) => socket.send(frame), onChange: showOutbox });
const attention = new Attention({ baseTitle: () => `#${state.shownRoom ?? state.room} · wschat`, onChange: showNotify });
const panels = new Panels();

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
    if (name === "closed" && !state.ended && isExpired(login)) endSession("token_expired");
  },
  onOpen: () => {
    // Answers to requests made on the old connection will never come.
    state.historyRequests = [];
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
    clock.connected(frame);
    $("connected-at").textContent = formatClock(clock.connectedAt);
    $("connected-at").title = clock.connectedAt.toISOString();
    const missedSince = frame.room === state.shownRoom ? messages.lastId : null;
    if (frame.room !== state.shownRoom) enterRoom(frame.room, frame.hasMore);
    // Nothing queued goes out until the history is in: it may hold one of ours, stored before a
    // drop that lost its echo.
    outbox.pause();
    messages.batch(() => frame.history.forEach(showMessage));
    showPresence(frame.online, frame.onlineCount);
    messages.scrollToBottom();
    // Back from a drop in the same room: the welcome holds only the last page of history, so ask
    // for everything since the last message seen.
    if (missedSince) startCatchUp(cursorBefore(missedSince, CATCH_UP_LOOKBACK_MS));
    else outbox.resume();
    tick();
  },
  message(frame) {
    // An echo confirms our message even from the room just left: the outbox must not wait for it.
    outbox.seen(frame);
    if (frame.room !== state.shownRoom) return;
    messages.insert(frame);
    if (frame.sender !== me) attention.received(frame, mentions(frame.message, me));
  },
  presence(frame) {
    if (frame.room !== state.shownRoom) return;
    showPresence(frame.online, frame.onlineCount);
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
  error(frame) {
    if (frame.code === "session_expired" && frame.reason === "token_expired" && !isExpired(currentLogin())) {
      // The connection's token ran out but a renewed one is stored (its `renew` did not get
      // through): the server closes this connection, and the socket reconnects with the new one.
      login = currentLogin();
      clock.tokenExpiresAtMs = login.expiresAtMs;
    } else if (frame.code === "invalid_token") {
      // A `renew` refused: the fallback above applies when the old token runs out.
    } else if (frame.code === "session_expired") {
      // The server says why as a code (frame.reason); its message is for people, not for branching.
      endSession(frame.reason);
    } else if (frame.code === "not_connected") {
      socket.drop();
    } else if (state.historyRequests.length && !outbox.inFlight) {
      // No message is in flight, so the error answers the oldest history request.
      historyFailed(state.historyRequests.shift(), frame);
    } else if (frame.code === "rate_limited" && outbox.holdFor(rateLimitWaitMs(frame))) {
      // Neither stored nor sent: it stays first in the outbox and goes again after the wait.
      showBanner("Too many messages at once: yours wait and go out in order.", { kind: RATE_LIMITED_BANNER });
    } else if (state.shownRoom !== null && state.room !== state.shownRoom && !outbox.inFlight) {
      // Nothing else was asked: the error answers the room switch (too many joins, ...).
      joinRefused(frame);
    } else {
      giveBack(outbox.refuse());
      showBanner(frame.message);
    }
  },
};

// The page stays in the room it shows, and the room field says so again (it held the refused name).
function joinRefused(frame) {
  const wanted = state.room;
  state.room = state.shownRoom;
  $("room-input").value = state.shownRoom;
  showBanner(`Could not switch to #${wanted}: ${frame.message}. You are still in #${state.shownRoom}.`);
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
  saveRoom(room);
  showRoom(room);
  $("load-older").hidden = !hasOlder;
  // The draft of the room left is saved as it is typed; this room's own comes back.
  $("message-input").value = loadDraft(me, room);
  updateCharCount();
}

// The room's name everywhere it shows: the heading, the room field, the sidebar and the title.
function showRoom(room) {
  $("room-name").textContent = room;
  $("room-input").value = room;
  $("current-room").textContent = room;
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
  else if (due) endSession(due);
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
  outbox.add(text);
});

$("message-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});
$("message-input").addEventListener("input", composerChanged);

$("room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("room-input").value.trim();
  if (!isRoomName(room)) {
    // The field goes back to the room shown, so that the field and the heading agree; the banner
    // quotes what was refused (as text).
    showBanner(`Room names are 1-${config.roomMaxChars} characters of letters, digits, _ and -: `
      + `"${room}" is not one. You are still in #${state.shownRoom ?? state.room}.`);
    $("room-input").value = state.shownRoom ?? state.room;
    return;
  }
  panels.closeAll();
  if (room === state.shownRoom) return;
  state.room = room;
  socket.send({ action: "join", room });
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

socket.open();
tick();
setInterval(tick, 1000);
