// Editing one's own message in place: the inline editor, the edit sent, the edited frame that
// every open page applies, and a refused edit given back to its editor.
import { messageActionRefusal } from "../refusals.js";
import { editorForm } from "./view.js";

export class Edits {
  // items: the MessageItems; send(frame): true if sent; room(): the room shown; banner(text).
  constructor({ items, send, room, banner }) {
    Object.assign(this, { items, send, room, banner });
    this.pending = null; // {id, text} of the edit sent and not yet answered
  }

  start(id, text = this.items.textOf(id)) {
    const item = this.items.item(id);
    if (!item) return;
    this.closeEditor(item);
    const shown = item.querySelector(".body > .text");
    const form = editorForm(text, {
      onSave: (value) => this.save(id, value),
      onCancel: () => this.closeEditor(item, { refocus: true }),
    });
    shown.hidden = true;
    shown.after(form);
    item.classList.add("editing");
    const field = form.querySelector("textarea");
    field.focus();
    field.setSelectionRange(field.value.length, field.value.length);
  }

  closeEditor(item, { refocus = false } = {}) {
    const form = item.querySelector(".edit-form");
    if (!form) return;
    form.remove();
    const shown = item.querySelector(".body > .text");
    if (shown) shown.hidden = false;
    item.classList.remove("editing");
    if (refocus) this.items.focusMenu(item);
  }

  save(id, value) {
    const item = this.items.item(id);
    if (!item) return;
    const text = value.trim();
    if (!text || text === this.items.textOf(id)) {
      // Nothing changed (or nothing left: deleting is the menu's Delete): as a cancel.
      this.closeEditor(item, { refocus: true });
      return;
    }
    if (!this.send({ action: "editmessage", room: this.room(), id, message: text })) {
      this.banner("Not connected: your edit was not saved. Try again once the page has reconnected.");
      return;
    }
    this.pending = { id, text };
    this.closeEditor(item, { refocus: true });
    item.setAttribute("aria-busy", "true");
  }

  received(frame) {
    if (this.pending?.id === frame.id) this.pending = null;
    if (frame.room !== this.room()) return;
    const item = this.items.item(frame.id);
    if (!item || item.dataset.deleted) return;
    item.removeAttribute("aria-busy");
    this.items.applyText(item, frame.message, frame.editedAt);
  }

  // A refused edit goes back into its editor, with the reason.
  failed(frame) {
    const edit = this.pending;
    this.pending = null;
    if (edit && this.items.item(edit.id)) {
      this.items.item(edit.id).removeAttribute("aria-busy");
      this.start(edit.id, edit.text);
    }
    this.banner(`Your edit was not saved: ${messageActionRefusal(frame)}`);
  }

  reset() {
    this.pending = null;
  }
}
