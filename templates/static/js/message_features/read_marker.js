// The read marker: the "New messages" line where the reader left off, and the newest message seen
// told to the server (which keeps the marker for every tab and the rooms' unread counts).
import { newMessagesLine } from "./view.js";

// The read marker goes to the server at most this often.
const READ_INTERVAL_MS = 2_000;

export class ReadMarker {
  // messages: the MessageList; send(frame): true if sent; room(): the room shown.
  constructor({ me, messages, send, room }) {
    Object.assign(this, { me, messages, send, room });
    this.sent = null; // the newest id sent as read (or heard from another tab) in this room
    this.sentAt = 0;
    this.timer = null;
  }

  // A welcome for a room the page enters: the line goes above the first message from someone else
  // after the marker (none if the marker is null: nothing was ever read here).
  entered(lastRead) {
    this.sent = lastRead ?? null;
    this.sentAt = 0;
    this.placeLine(lastRead);
    const list = this.messages.list;
    const line = list.querySelector(".new-line");
    // More new messages than fit: the reader starts at the line, not at the bottom.
    if (line && list.scrollHeight - line.offsetTop > list.clientHeight) line.scrollIntoView({ block: "start" });
    this.maybeRead();
  }

  placeLine(lastRead) {
    this.messages.list.querySelector(".new-line")?.remove();
    if (typeof lastRead !== "string") return;
    const first = [...this.messages.list.querySelectorAll("li.message")]
      .find((item) => item.dataset.id > lastRead && item.dataset.sender !== this.me);
    if (first) first.before(newMessagesLine());
  }

  // The marker as the server has it: the answer to this page's own `read` (the line stays where
  // the reader found it), or another tab of mine read further (the line moves there).
  received(frame) {
    if (frame.room !== this.room()) return;
    if (this.sent !== null && frame.id <= this.sent) return;
    this.sent = frame.id;
    this.placeLine(frame.id);
  }

  // The newest message is seen (tab visible, list at the bottom): the server is told, at most once
  // every READ_INTERVAL_MS.
  maybeRead() {
    const newest = this.messages.lastId;
    if (!newest || document.hidden || !this.messages.nearBottom()) return;
    if (this.sent !== null && newest <= this.sent) return;
    const wait = this.sentAt + READ_INTERVAL_MS - Date.now();
    if (wait > 0) {
      if (!this.timer) this.timer = setTimeout(() => {
        this.timer = null;
        this.maybeRead();
      }, wait);
      return;
    }
    if (this.send({ action: "read", room: this.room(), id: newest })) {
      this.sent = newest;
      this.sentAt = Date.now();
    }
  }

  // Another room: a read waiting for its turn is of the room left.
  reset() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
