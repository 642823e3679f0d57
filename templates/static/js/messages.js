// The message list: each message once, in id order (ids sort in storing order) whatever order the
// frames arrive in, with notices between them; a reader scrolled back is never pulled down.
import { config, fullMatch } from "./config.js";
import { messageItem, noticeItem } from "./render.js";

// Within this many pixels of the bottom, the reader is following the newest messages.
const NEAR_BOTTOM_PX = 60;

export class MessageList {
  constructor({ list, jump, me }) {
    this.list = list;
    this.jump = jump; // the "new messages" button, shown when one arrives below a reader scrolled back
    this.me = me;
    this.ids = new Set();
    this.lastId = null; // the newest id shown: a reconnect fetches what came after it
    this.oldestId = null; // "load older" pages back from here
  }

  clear() {
    this.ids.clear();
    this.lastId = null;
    this.oldestId = null;
    this.list.replaceChildren();
  }

  insert(frame) {
    if (this.ids.has(frame.id)) return;
    const follow = this.nearBottom() || frame.sender === this.me;
    const newest = this.lastId === null || frame.id > this.lastId;
    this.ids.add(frame.id);
    const item = messageItem(frame, this.me);
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
    if (follow) this.scrollToBottom();
    else if (newest) this.jump.hidden = false;
  }

  notice(text) {
    const follow = this.nearBottom();
    this.list.append(noticeItem(text));
    if (follow) this.scrollToBottom();
  }

  // Runs add() (which puts messages above the reader) and keeps what the reader sees in place.
  keepingPlace(add) {
    const fromBottom = this.list.scrollHeight - this.list.scrollTop;
    add();
    this.list.scrollTop = this.list.scrollHeight - fromBottom;
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
