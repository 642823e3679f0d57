// A room's moderation log (moderators and up): a dialog, newest first, a page at a time.
import { Dialog } from "../dialogs.js";
import { $ } from "../dom.js";
import { renderModlog } from "./view.js";

export class ModerationLog {
  // requests: the RoomRequests; label(room): how a room reads to people.
  constructor({ requests, label }) {
    Object.assign(this, { requests, label });
    this.dialog = new Dialog("modlog-dialog", { fallbackFocus: () => $("message-input") });
    // `opened` tells this opening's replies from those of an earlier one still on their way.
    this.log = { room: null, entries: [], hasMore: false, opened: 0 };
    $("modlog-more").addEventListener("click", () => this.request({ more: true }));
  }

  open(room) {
    this.log = { room, entries: [], hasMore: false, opened: this.log.opened + 1 };
    $("modlog-title").textContent = `Moderation log of ${this.label(room)}`;
    $("modlog-list").replaceChildren();
    $("modlog-more").hidden = true;
    $("modlog-status").textContent = "Loading…";
    this.dialog.open({ focus: this.dialog.node.querySelector("[data-dialog-cancel]") });
    this.request();
  }

  request({ more = false } = {}) {
    const { room, entries } = this.log;
    const frame = more && entries.length ? { action: "modlog", room, before: entries.at(-1).id } : { action: "modlog", room };
    this.requests.request(frame, { room, dialog: this.dialog, opened: this.log.opened });
  }

  received(frame) {
    const request = this.requests.settle(["modlog"]);
    if (frame.room !== this.log.room || request?.opened !== this.log.opened) return;
    const known = new Set(this.log.entries.map((entry) => entry.id));
    this.log.entries.push(...frame.entries.filter((entry) => !known.has(entry.id)));
    this.log.hasMore = !!frame.hasMore;
    renderModlog($("modlog-list"), this.log.entries);
    const count = this.log.entries.length;
    $("modlog-status").textContent = count
      ? `${count} ${count === 1 ? "entry" : "entries"}, newest first.${frame.hasMore ? " Older ones can be loaded." : ""}`
      : "Nothing yet: no one has been invited, kicked, banned or muted here.";
    $("modlog-more").hidden = !frame.hasMore;
  }
}
