// Typing: others told while the user types (at most once every typingIntervalSeconds), and the
// line under the list naming who is typing in the room shown.
import { config } from "../config.js";
import { $ } from "../dom.js";
import { typingWords } from "./view.js";

// Someone is shown typing this long after their last `typing` frame: the server passes one on at
// most every typingIntervalSeconds while they type, plus room for the network.
const TYPING_SHOWN_MS = config.typingIntervalSeconds * 1000 + 3_000;
// A typing frame this soon after the same user's message is about that message (see received()).
const TYPING_AFTER_MESSAGE_MS = 1_500;

export class Typing {
  // send(frame): true if sent; room(): the room shown.
  constructor({ me, send, room }) {
    Object.assign(this, { me, send, room });
    this.typists = new Map(); // user -> when their "typing" stops showing (ms)
    this.timer = null;
    this.lastMessageAt = new Map(); // user -> when their last message arrived (ms)
    this.lastSent = 0;
  }

  // The composer changed.
  typed(text) {
    const now = Date.now();
    if (!text.trim() || now - this.lastSent < config.typingIntervalSeconds * 1000) return;
    if (this.send({ action: "typing", room: this.room() })) this.lastSent = now;
  }

  received(frame) {
    if (frame.room !== this.room() || frame.user === this.me) return;
    // Typing and sending are handled by different functions: the typing frame sent as a message
    // was begun may arrive after the message itself, and would say they are typing it still.
    if (Date.now() - (this.lastMessageAt.get(frame.user) ?? 0) < TYPING_AFTER_MESSAGE_MS) return;
    this.typists.set(frame.user, Date.now() + TYPING_SHOWN_MS);
    this.draw();
  }

  // Their message came: they are no longer typing it.
  messageFrom(user) {
    this.lastMessageAt.set(user, Date.now());
    if (this.typists.delete(user)) this.draw();
  }

  draw() {
    const now = Date.now();
    for (const [user, until] of this.typists) if (until <= now) this.typists.delete(user);
    const text = typingWords([...this.typists.keys()]);
    if ($("typing").textContent !== text) $("typing").textContent = text;
    clearTimeout(this.timer);
    if (this.typists.size) {
      const next = Math.min(...this.typists.values()) - now;
      this.timer = setTimeout(() => this.draw(), Math.max(next, 0) + 1);
    }
  }

  // Nobody is shown typing (another room, or the same after a reconnect).
  clear() {
    this.typists.clear();
    this.draw();
  }

  // Another room: the user has told it nothing yet.
  reset() {
    this.lastSent = 0;
  }
}
