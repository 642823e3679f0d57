// Replying to a message: the bar above the composer naming the message replied to, the reply sent
// with the next message, and a quote's way back to its original.
import { config } from "../config.js";
import { $ } from "../dom.js";

// A message's text as one line, cut to `max` characters with an ellipsis.
export function replyExcerpt(text, max) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

export class Replies {
  // items: the MessageItems; composer: the message textarea; banner(text).
  constructor({ items, composer, banner }) {
    Object.assign(this, { items, composer, banner });
    this.target = null; // {id, sender, excerpt} while a reply is being written
    $("reply-cancel").addEventListener("click", () => {
      this.cancel();
      this.composer.focus();
    });
  }

  start(id) {
    const item = this.items.item(id);
    if (!item) return;
    const excerpt = replyExcerpt(this.items.textOf(id), config.replyExcerptChars);
    this.target = { id, sender: item.dataset.sender, excerpt };
    $("reply-sender").textContent = item.dataset.sender;
    $("reply-excerpt").textContent = excerpt;
    $("reply-bar").hidden = false;
    this.composer.focus();
  }

  cancel() {
    this.target = null;
    $("reply-bar").hidden = true;
  }

  // What a message sent now carries besides its text: {replyTo} while replying. The reply is done.
  take() {
    const target = this.target;
    this.cancel();
    return target ? { replyTo: target.id } : {};
  }

  showOriginal(id) {
    const item = this.items.item(id);
    if (!item) {
      this.banner("The message replied to is not loaded: use Load older messages to find it.");
      return;
    }
    item.tabIndex = -1;
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
    item.classList.remove("flash");
    void item.offsetWidth; // restart the highlight's animation
    item.classList.add("flash");
  }
}
