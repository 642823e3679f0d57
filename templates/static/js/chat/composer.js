// The composer: the text being written, its count of what is left, its draft kept per room, and
// what happens on Enter (a message checked against the limits and handed to the outbox).
import { config } from "../config.js";
import { $ } from "../dom.js";
import { loadDraft, saveDraft } from "../drafts.js";

// The character count appears once fewer than this many characters are left.
const CHARS_LEFT_SHOWN_BELOW = 200;

export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

// What the count under the composer says for `text`: nothing while plenty is left.
export function charsLeftText(text, { maxChars, maxBytes }) {
  const left = maxChars - text.length;
  // Emoji and many scripts take several bytes a character: the byte limit can come first.
  const bytesLeft = maxBytes - utf8Length(text);
  let shown = left < CHARS_LEFT_SHOWN_BELOW ? `${left} left` : "";
  if (bytesLeft < CHARS_LEFT_SHOWN_BELOW && bytesLeft < left) shown = `${bytesLeft} bytes left`;
  return shown;
}

export class Composer {
  // room(): the room the draft belongs to; replies: the message features' reply (takeReply,
  // replyTarget, cancelReply, typed); send(text, extra): hands a message to the outbox;
  // banner: where a message over the limits is refused.
  constructor({ me, room, replies, send, banner }) {
    Object.assign(this, { me, room, replies, send, banner });
    this.input = $("message-input");
    this.form = $("composer");
  }

  // This room's own draft comes back (the draft of the room left was saved as it was typed).
  restoreDraft(room, { count = true } = {}) {
    this.input.value = loadDraft(this.me, room);
    if (count) this.updateCharCount();
  }

  // The text changed: the count of what is left, and the draft kept for a reload.
  changed() {
    this.updateCharCount();
    saveDraft(this.me, this.room(), this.input.value);
  }

  updateCharCount() {
    $("char-count").textContent = charsLeftText(this.input.value,
      { maxChars: config.messageMaxChars, maxBytes: config.messageMaxBytes });
  }

  submit() {
    const text = this.input.value.trim();
    if (!text) return;
    if (text.length > config.messageMaxChars || utf8Length(text) > config.messageMaxBytes) {
      this.banner.show(`Messages are limited to ${config.messageMaxChars} characters and ${config.messageMaxBytes} bytes `
        + "(an emoji takes 4).");
      return;
    }
    this.input.value = "";
    this.changed();
    this.send(text, this.replies.takeReply());
  }

  keydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.form.requestSubmit();
    } else if (event.key === "Escape" && this.replies.replyTarget) {
      // Escape drops the reply first (a second one closes whatever panel is open).
      event.preventDefault();
      event.stopPropagation();
      this.replies.cancelReply();
    }
  }

  typed() {
    this.changed();
    this.replies.typed(this.input.value);
  }

  // Muted or out of the room (chat/moderation.js): the composer gives its place to `text`, the
  // reason and the end; null brings it back. What was typed stays in the box (and its draft).
  block(text) {
    const blocked = $("composer-blocked");
    blocked.textContent = text ?? "";
    blocked.hidden = !text;
    this.form.hidden = !!text;
  }

  // A message the server refused for good goes back into the composer, after anything typed since:
  // nothing typed is lost.
  giveBack(text) {
    if (text === null) return;
    this.input.value = this.input.value ? `${this.input.value}\n${text}` : text;
    this.changed();
  }
}
