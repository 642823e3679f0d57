// Sending: the outbox (outbox.js) with what the page says about it: the messages of the room shown
// that the server has not confirmed (each with Retry and Discard), the count of messages held back,
// the rate-limit banner while the server slows them down, and a message the server refused.
import { $ } from "../dom.js";
import { Outbox } from "../outbox.js";
import { mutedWords } from "../refusals.js";
import { rateLimitWaitMs } from "./rate_limit.js";

// The banner's kind while it says that messages are being held back (Banner.hide takes it).
export const RATE_LIMITED_BANNER = "rate-limited";
// A message unanswered this long goes again with the same clientMsgId (the server stores it once).
export const MESSAGE_TIMEOUT_MS = 8_000;
// On an open connection a message shows as pending only if its echo has not come after this long: a
// healthy round trip does not flicker through the pending list.
export const PENDING_GRACE_MS = 1_000;

export class Sending {
  // send(frame): true if sent; isOpen(): the socket is open; giveBack(text): back to the composer;
  // label(room): how a room reads to people; probe(): check the line (a message went unanswered);
  // retryNow(): reconnect now if the socket waits (the user pressed Retry); wrongRoom(room): the
  // server said the connection is not in `room`.
  constructor({ store, send, isOpen, banner, giveBack, label, probe = () => {}, retryNow = () => {},
    wrongRoom = () => {} }) {
    Object.assign(this, { store, isOpen, banner, giveBack, label, probe, retryNow, wrongRoom });
    this.outbox = new Outbox({
      send,
      onChange: () => this.showStatus(),
      canSend: (room) => store.mayPostIn(room),
      timeoutMs: MESSAGE_TIMEOUT_MS,
      onTimeout: () => probe(),
    });
    // Entering a room, leaving one, a connection lost: the pending list follows the room shown.
    // (What may go goes when the welcome's flow resumes the outbox, after any catch-up.)
    const shownChanges = new Set(["welcomed", "joining", "wantRoom", "disconnected", "removed"]);
    store.subscribe((_, transition) => {
      if (shownChanges.has(transition)) this.showStatus();
    });
  }

  showStatus() {
    const { outbox } = this;
    const waiting = outbox.waiting;
    // Held back while disconnected, while a reconnect catches up, by the rate limit, or typed in
    // another room: say so, never stop in silence.
    const elsewhere = outbox.queue.some((entry) => entry.room !== this.store.currentRoom);
    $("outbox-status").textContent =
      waiting && (!this.isOpen() || outbox.paused || outbox.slowed || elsewhere) ? `${waiting} waiting to send` : "";
    this.showPending();
    // Everything held back by the rate limit has gone out: the banner that said so goes too.
    if (!waiting) this.banner.hide(RATE_LIMITED_BANNER);
  }

  // The room's unconfirmed messages, under the list: "Sending…" for the one in flight, "Not sent
  // yet" for the others, each with Retry and Discard.
  showPending() {
    const list = $("pending");
    if (!list) return;
    const now = Date.now();
    const open = this.isOpen();
    const all = this.outbox.pendingIn(this.store.currentRoom);
    const entries = all.filter((entry) => !open || entry.tries > 1 || now - entry.queuedAt >= PENDING_GRACE_MS);
    clearTimeout(this.graceTimer);
    if (entries.length < all.length) this.graceTimer = setTimeout(() => this.showPending(), PENDING_GRACE_MS);
    list.replaceChildren(...entries.map((entry) => this.pendingItem(entry)));
    list.hidden = entries.length === 0;
  }

  pendingItem(entry) {
    const item = document.createElement("li");
    item.dataset.clientMsgId = entry.clientMsgId;
    const text = document.createElement("span");
    text.className = "pending-text";
    text.textContent = entry.message;
    const state = document.createElement("span");
    state.className = "pending-state";
    state.textContent = this.outbox.inFlight === entry ? "Sending…" : "Not sent yet";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
    retry.setAttribute("aria-label", `Retry sending: ${entry.message.slice(0, 40)}`);
    retry.addEventListener("click", () => {
      this.retryNow();
      this.outbox.retry(entry.clientMsgId);
    });
    const discard = document.createElement("button");
    discard.type = "button";
    discard.textContent = "Discard";
    discard.setAttribute("aria-label", `Discard: ${entry.message.slice(0, 40)}`);
    discard.addEventListener("click", () => this.outbox.discard(entry.clientMsgId));
    item.append(text, state, retry, discard);
    return item;
  }

  // API Gateway's error frame answered the message in flight: it was not handled, and goes again.
  failedAtGateway() {
    if (this.outbox.unanswered()) setTimeout(() => this.outbox.pump(), 500);
  }

  // A message the server refused: held and sent again after a rate limit's wait; refused for its
  // room (wrong_room: nothing stored) kept for its room; otherwise given back to the composer with
  // the reason.
  refused(frame) {
    if (frame.code === "rate_limited" && this.outbox.holdFor(rateLimitWaitMs(frame))) {
      // Neither stored nor sent: it stays first in the outbox and goes again after the wait.
      this.banner.show("Too many messages at once: yours wait and go out in order.", { kind: RATE_LIMITED_BANNER });
      return;
    }
    if (frame.code === "wrong_room") {
      const entry = this.outbox.unanswered(frame.clientMsgId);
      if (entry) this.wrongRoom(entry.room);
      return;
    }
    this.giveBack(this.outbox.refuse());
    if (frame.code === "muted") {
      this.banner.show(mutedWords(this.label(this.store.shownRoom), frame.until));
    } else if (frame.code === "forbidden" && this.store.outOfRoom) {
      this.banner.show("You are in no room now: open a room to send messages (yours is back in the box).");
    } else {
      this.banner.show(frame.message);
    }
  }
}
