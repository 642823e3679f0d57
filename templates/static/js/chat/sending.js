// Sending: the outbox (outbox.js) with what the page says about it: the count of messages held
// back, the rate-limit banner while the server slows them down, and a message the server refused.
import { $ } from "../dom.js";
import { Outbox } from "../outbox.js";
import { mutedWords } from "../refusals.js";
import { rateLimitWaitMs } from "./rate_limit.js";

// The banner's kind while it says that messages are being held back (Banner.hide takes it).
export const RATE_LIMITED_BANNER = "rate-limited";

export class Sending {
  // send(frame): true if sent; isOpen(): the socket is open; giveBack(text): back to the composer;
  // label(room): how a room reads to people.
  constructor({ store, send, isOpen, banner, giveBack, label }) {
    Object.assign(this, { store, isOpen, banner, giveBack, label });
    this.outbox = new Outbox({ send, onChange: () => this.showStatus() });
  }

  showStatus() {
    const { outbox } = this;
    const waiting = outbox.waiting;
    // Held back while disconnected, while a reconnect catches up, or by the rate limit: say so,
    // never stop in silence.
    $("outbox-status").textContent =
      waiting && (!this.isOpen() || outbox.paused || outbox.slowed) ? `${waiting} waiting to send` : "";
    // Everything held back by the rate limit has gone out: the banner that said so goes too.
    if (!waiting) this.banner.hide(RATE_LIMITED_BANNER);
  }

  // A message the server refused: held and sent again after a rate limit's wait, otherwise given
  // back to the composer with the reason.
  refused(frame) {
    if (frame.code === "rate_limited" && this.outbox.holdFor(rateLimitWaitMs(frame))) {
      // Neither stored nor sent: it stays first in the outbox and goes again after the wait.
      this.banner.show("Too many messages at once: yours wait and go out in order.", { kind: RATE_LIMITED_BANNER });
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
