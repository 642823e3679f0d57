// The message items the features work on: found by id in the list, their text as shown, their
// "(edited)" mark, and where the focus goes back to after an editor or the picker closes.
import { mentions, messageText } from "../render.js";
import { editedMark } from "./view.js";

export class MessageItems {
  // list: the message list element; composer: the message textarea (the focus's last resort).
  constructor({ list, me, composer }) {
    Object.assign(this, { list, me, composer });
  }

  item(id) {
    return this.list.querySelector(`li.message[data-id="${CSS.escape(id)}"]`);
  }

  // The message's text as shown (the text paragraph's textContent is the message, exactly).
  textOf(id) {
    return this.item(id)?.querySelector(".body > .text")?.textContent ?? "";
  }

  markEdited(item, editedAt) {
    item.querySelector(".body > .edited")?.remove();
    item.querySelector(".body > .text")?.after(" ", editedMark(editedAt));
    item.dataset.edited = "true";
  }

  applyText(item, text, editedAt) {
    const old = item.querySelector(".body > .text");
    if (!old) return;
    old.replaceWith(messageText(text, this.me));
    item.classList.toggle("mentions-me", mentions(text, this.me) && item.dataset.sender !== this.me);
    this.markEdited(item, editedAt);
  }

  focusMenu(item) {
    const button = item.querySelector(".message-actions .menu-button");
    if (button) button.focus();
    else this.composer.focus();
  }
}
