// The message list: each message once, in id order (ids sort in storing order) whatever order the
// frames arrive in, with notices between them; a reader scrolled back is never pulled down.
// Messages of one sender within one minute form a group (only the first shows the sender and
// time), and a line with the date opens each day.
import { config, fullMatch } from "./config.js";
import { daySeparator, messageItem, noticeItem } from "./render.js";

// Within this many pixels of the bottom, the reader is following the newest messages.
const NEAR_BOTTOM_PX = 60;

export class MessageList {
  // decorateItem(item, frame): fills a new item's slots (the message menu); called for each.
  constructor({ list, jump, me, decorateItem = () => {} }) {
    this.list = list;
    this.decorateItem = decorateItem;
    this.jump = jump; // the "new messages" button, shown when one arrives below a reader scrolled back
    this.me = me;
    this.ids = new Set();
    this.lastId = null; // the newest id shown: a reconnect fetches what came after it
    this.oldestId = null; // "load older" pages back from here
    this.batching = 0; // inside batch(): grouping waits until the batch ends
  }

  // Runs add(), which inserts many messages, and groups them once at the end.
  batch(add) {
    this.batching += 1;
    try {
      add();
    } finally {
      this.batching -= 1;
    }
    this.decorate();
  }

  clear() {
    this.ids.clear();
    this.lastId = null;
    this.oldestId = null;
    this.list.replaceChildren();
  }

  insert(frame) {
    if (this.ids.has(frame.id)) {
      // History may bring the tombstone of a message shown before it was deleted.
      if (frame.deleted) this.markDeleted(frame);
      return;
    }
    const follow = this.nearBottom() || frame.sender === this.me;
    const newest = this.lastId === null || frame.id > this.lastId;
    this.ids.add(frame.id);
    const item = messageItem(frame, this.me);
    this.decorateItem(item, frame);
    if (newest) {
      this.list.append(item); // the common case: the newest message goes last, after any notices
      this.lastId = frame.id;
    } else {
      let after = this.list.lastElementChild;
      while (after && (!after.dataset.id || after.dataset.id > frame.id)) after = after.previousElementSibling;
      if (after) after.after(item);
      else this.list.prepend(item);
    }
    if (this.oldestId === null || frame.id < this.oldestId) this.oldestId = frame.id;
    this.decorate();
    if (follow) this.scrollToBottom();
    else if (newest) this.jump.hidden = false;
  }

  // A message shown is deleted (a live `deleted` frame, or its tombstone in history): it stays in
  // its place, as "message deleted", with no text. False if it is not shown.
  markDeleted({ id, by, deletedBy, deletedAt }) {
    const item = this.list.querySelector(`li.message[data-id="${CSS.escape(id)}"]`);
    if (!item || item.dataset.deleted) return !!item;
    const tombstone = messageItem({ id, sender: item.dataset.sender, sentAt: item.dataset.sentAt, deleted: true,
      deletedBy: deletedBy ?? by, deletedAt }, this.me);
    this.decorateItem(tombstone, { id, room: item.dataset.room, sender: item.dataset.sender,
      sentAt: item.dataset.sentAt, deleted: true });
    const hadFocus = item.contains(document.activeElement);
    item.replaceWith(tombstone);
    if (hadFocus) this.list.focus();
    this.decorate();
    return true;
  }

  notice(text) {
    const follow = this.nearBottom();
    this.list.append(noticeItem(text));
    this.decorate();
    if (follow) this.scrollToBottom();
  }

  // Runs add() (which puts messages above the reader) and keeps what the reader sees in place.
  keepingPlace(add) {
    const fromBottom = this.list.scrollHeight - this.list.scrollTop;
    this.batch(add);
    this.list.scrollTop = this.list.scrollHeight - fromBottom;
  }

  // One pass over the list: each message starts a group or continues the one above (same sender,
  // same minute, nothing between them), and each day's first message has its date line above it.
  // Separators already in the right place are kept, so that the log does not announce them again.
  decorate() {
    if (this.batching) return;
    let previous = null; // the last message seen
    let separator = null; // a date line seen since that message
    let interrupted = false; // a notice stands between `previous` and the next message
    for (const node of [...this.list.children]) {
      if (node.classList.contains("day")) {
        separator?.remove();
        separator = node;
        continue;
      }
      if (!node.classList.contains("message")) {
        interrupted = true;
        continue;
      }
      const sent = new Date(node.dataset.sentAt);
      const day = dayKey(sent);
      const newDay = !previous || dayKey(new Date(previous.dataset.sentAt)) !== day;
      if (newDay && separator?.dataset.day !== day) {
        separator?.remove();
        node.before(daySeparator(day, sent));
      } else if (!newDay) {
        separator?.remove();
      }
      separator = null;
      const continues = !newDay && !interrupted && previous.dataset.sender === node.dataset.sender
        && minuteOf(previous.dataset.sentAt) === minuteOf(node.dataset.sentAt);
      node.dataset.group = continues ? "continued" : "start";
      previous = node;
      interrupted = false;
    }
    separator?.remove(); // a date line with no message after it
  }

  nearBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.list.scrollTop = this.list.scrollHeight;
    this.jump.hidden = true;
  }

  // The reader scrolled: back at the bottom, the jump button has nothing left to offer.
  scrolled() {
    if (this.nearBottom()) this.jump.hidden = true;
  }
}

// The local calendar day, as the reader's clock sees it.
function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

function minuteOf(sentAt) {
  return Math.floor(Date.parse(sentAt) / 60_000);
}

const isMessageId = fullMatch(config.messageIdPattern);
const TIME_DIGITS = config.messageIdTimeDigits;

// A history cursor `ms` milliseconds before a message id. An id is TIME_DIGITS digits of epoch
// milliseconds then a random suffix, and a cursor is such a moment with the suffix all zeros
// (docs/protocol.md).
// Two functions storing at the same moment may post in the other order, so a reconnect asks a
// little further back and insert() drops what is already shown. Should the server's id format
// change, the cursor fails the contract's pattern and the id itself is used.
export function cursorBefore(id, ms) {
  const at = Math.max(0, Number(id.slice(0, TIME_DIGITS)) - ms);
  const cursor = String(at).padStart(TIME_DIGITS, "0").padEnd(id.length, "0");
  return isMessageId(cursor) ? cursor : id;
}
