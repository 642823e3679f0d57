// The public rooms' directory: a dialog listing them page by page (the rooms frame's `directory`),
// filtered as the user types, each one a way into its room.
import { Dialog } from "../dialogs.js";
import { $ } from "../dom.js";
import { renderDirectory } from "./view.js";

export class Directory {
  // current(): the room shown; requestRooms({after}): asks for the rooms frame; open(room): go there.
  constructor({ current, requestRooms, open }) {
    Object.assign(this, { current, requestRooms, open });
    this.entries = [];
    this.after = null;
    this.hasMore = false;
    this.dialog = new Dialog("directory-dialog", { fallbackFocus: () => $("message-input") });
    $("browse-rooms").addEventListener("click", () => this.openDialog());
    $("directory-filter").addEventListener("input", () => this.show());
    $("directory-more").addEventListener("click", () => this.requestRooms({ after: this.after }));
  }

  openDialog() {
    this.dialog.open({ focus: $("directory-filter") });
    this.requestRooms();
  }

  // A rooms frame: its directory page replaces the list, or follows it (`more`: asked for with `after`).
  update(frame, { more }) {
    this.entries = more ? [...this.entries, ...frame.directory] : frame.directory;
    this.after = frame.after ?? null;
    this.hasMore = !!frame.hasMore;
    this.show();
  }

  show() {
    const filter = $("directory-filter").value.trim().toLowerCase();
    const shown = this.entries.filter((entry) => entry.room.toLowerCase().includes(filter));
    renderDirectory($("directory-list"), shown, this.current(), (room) => {
      this.dialog.close();
      this.open(room);
    });
    let status = `${shown.length} of ${this.entries.length} public rooms`;
    if (!this.entries.length) status = "No public rooms with messages yet.";
    else if (!shown.length) status = `No room loaded matches "${filter}".`;
    if (this.hasMore) status += " More can be loaded.";
    $("directory-status").textContent = status;
    $("directory-more").hidden = !this.hasMore;
  }
}
