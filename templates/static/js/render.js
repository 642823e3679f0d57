// Rendering only: builds DOM nodes from frames. Every piece of user text goes in as textContent,
// never as HTML.

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function messageItem(frame, me) {
  const item = element("li", frame.sender === me ? "message own" : "message");
  item.dataset.id = frame.id;
  const meta = element("p", "meta");
  meta.append(element("span", "sender", frame.sender));
  const sent = new Date(frame.sentAt);
  const time = element("time", "sent", sent.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = frame.sentAt;
  time.title = sent.toLocaleString();
  meta.append(" ", time);
  item.append(meta, element("p", "text", frame.message));
  return item;
}

export function noticeItem(text) {
  return element("li", "notice", text);
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
  reconnecting: "Reconnecting…",
  waiting: "Connection lost",
  closed: "Disconnected",
};

export function renderState(node, state, detail) {
  node.dataset.state = state;
  let text = STATE_TEXT[state] || state;
  if (state === "waiting" && detail) text += ` – retrying in ${Math.ceil(detail.delayMs / 1000)} s`;
  node.textContent = text;
}
