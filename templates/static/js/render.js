// Rendering only: builds DOM nodes from frames. Every piece of user text goes in as textContent or
// a text node, never as HTML; links are <a> elements built here, for http and https URLs only.
import { config } from "./config.js";
import { isUsername } from "./names.js";

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A message: the head (sender, time), the text (or, deleted, "message deleted"), and empty slots for what later changes add (a
// reply quote above the text, a reactions bar below it, a message menu). messages.js groups
// messages (data-group) and marks day changes.
export function messageItem(frame, me) {
  const item = element("li", frame.sender === me ? "message own" : "message");
  item.dataset.id = frame.id;
  item.dataset.sender = frame.sender;
  item.dataset.room = frame.room;
  item.dataset.sentAt = frame.sentAt;
  const meta = element("p", "meta");
  meta.append(element("span", "sender", frame.sender));
  const sent = new Date(frame.sentAt);
  const time = element("time", "sent", sent.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = frame.sentAt;
  time.title = sent.toLocaleString();
  meta.append(" ", time);
  const body = element("div", "body");
  if (frame.deleted) {
    // A tombstone: who sent it and when stay; the text is gone from the server too.
    item.classList.add("deleted");
    item.dataset.deleted = "true";
    body.append(element("p", "text deleted-text", "message deleted"));
    item.append(meta, body, element("div", "message-actions"));
    return item;
  }
  body.append(element("div", "quote-slot"), messageText(frame.message, me), element("div", "reactions"));
  item.append(meta, body, element("div", "message-actions"));
  if (mentions(frame.message, me) && frame.sender !== me) item.classList.add("mentions-me");
  return item;
}

// The text with its links clickable and @me highlighted; textContent stays the message, exactly.
export function messageText(text, me) {
  const paragraph = element("p", "text");
  for (const piece of linkPieces(text)) {
    if (piece.url) {
      const link = element("a", "", piece.text);
      link.href = piece.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      paragraph.append(link);
    } else {
      appendWithMentions(paragraph, piece.text, me);
    }
  }
  return paragraph;
}

// Candidate links start with http:// or https:// (so javascript:, data: and every other scheme are
// never links) and run to the next space or quote; closing punctuation is sentence, not URL.
const LINK_CANDIDATE = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;
const LINK_SCHEMES = new Set(["http:", "https:"]);

export function linkPieces(text) {
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(LINK_CANDIDATE)) {
    let candidate = match[0];
    const trailing = candidate.match(TRAILING_PUNCTUATION);
    // A ")" that closes a "(" inside the URL (Wikipedia links) belongs to it.
    if (trailing && !(trailing[0] === ")" && candidate.includes("("))) {
      candidate = candidate.slice(0, -trailing[0].length);
    }
    const url = safeUrl(candidate);
    if (!url) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index) });
    pieces.push({ text: candidate, url });
    last = match.index + candidate.length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last) });
  return pieces;
}

// The URL as the browser parses it, if it is http or https; null otherwise.
export function safeUrl(candidate) {
  try {
    const url = new URL(candidate);
    return LINK_SCHEMES.has(url.protocol) && url.hostname ? url.href : null;
  } catch {
    return null;
  }
}

// Does `text` hold @me as a whole name? A name character is one the contract's username pattern
// accepts: tested by adding it to a valid stem (the start of my own name), so that no copy of the
// pattern lives here.
export function mentionAt(text, me, index) {
  const stem = me.slice(0, config.usernameMinChars);
  const isNameChar = (char) => char !== undefined && isUsername(stem + char);
  return text.startsWith(`@${me}`, index)
    && !isNameChar(text[index - 1])
    && !isNameChar(text[index + me.length + 1]);
}

export function mentions(text, me) {
  for (let index = text.indexOf(`@${me}`); index >= 0; index = text.indexOf(`@${me}`, index + 1)) {
    if (mentionAt(text, me, index)) return true;
  }
  return false;
}

function appendWithMentions(parent, text, me) {
  let last = 0;
  for (let index = text.indexOf(`@${me}`); index >= 0; index = text.indexOf(`@${me}`, index + 1)) {
    if (!mentionAt(text, me, index)) continue;
    if (index > last) parent.append(text.slice(last, index));
    parent.append(element("mark", "mention", text.slice(index, index + me.length + 1)));
    last = index + me.length + 1;
  }
  if (last < text.length) parent.append(text.slice(last));
}

export function noticeItem(text) {
  return element("li", "notice", text);
}

// "Today", "Yesterday", or the date, for the line between two days' messages.
export function dayLabel(date, now = new Date()) {
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const daysAgo = Math.round((day(now) - day(date)) / 86_400_000);
  if (daysAgo === 0) return "Today";
  if (daysAgo === 1) return "Yesterday";
  const options = { weekday: "long", month: "long", day: "numeric" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return date.toLocaleDateString([], options);
}

export function daySeparator(dayKey, date) {
  const item = element("li", "day");
  item.dataset.day = dayKey;
  // A list item of its own (a role would take it out of the list): the date, read as text.
  item.append(element("span", "", dayLabel(date)));
  return item;
}

// `users` may be the first names of a big room only (the server caps the list); `total` counts all.
export function renderOnline(list, users, me, total = users.length) {
  list.replaceChildren(
    ...users.map((user) => element("li", user === me ? "me" : "", user === me ? `${user} (you)` : user)),
  );
  if (total > users.length) list.append(element("li", "more", `and ${total - users.length} more`));
}

const STATE_TEXT = {
  connecting: "Connecting…",
  open: "Connected",
  checking: "Checking connection…",
  reconnecting: "Reconnecting…",
  waiting: "Connection lost",
  closed: "Disconnected",
};

export function renderState(node, state, detail) {
  node.dataset.state = state;
  let text = STATE_TEXT[state] || state;
  if (state === "waiting" && detail) text += ` – retrying in ${Math.ceil(detail.delayMs / 1000)} s`;
  node.textContent = text;
  node.title = text; // a phone may cut the words short: the whole of them on hover
}
