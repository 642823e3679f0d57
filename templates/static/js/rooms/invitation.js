// The notice of an invitation to a room or a new direct conversation, with a button to open it.
import { $ } from "../dom.js";

export class Invitation {
  // open(room): go to the room.
  constructor({ open }) {
    this.open = open;
    $("invite-dismiss").addEventListener("click", () => this.hide());
  }

  show(frame) {
    const text = frame.dm
      ? `${frame.with ?? frame.by} started a direct conversation with you.`
      : `${frame.by} invited you to #${frame.room}${frame.visibility === "private" ? " (a private room)" : ""}.`;
    $("invite-text").textContent = text;
    const button = $("invite-open");
    button.textContent = frame.dm ? "Open conversation" : `Open #${frame.room}`;
    button.onclick = () => {
      this.hide();
      this.open(frame.room);
    };
    $("invite-notice").hidden = false;
  }

  hide() {
    const hadFocus = $("invite-notice").contains(document.activeElement);
    $("invite-notice").hidden = true;
    if (hadFocus) $("message-input").focus();
  }
}
