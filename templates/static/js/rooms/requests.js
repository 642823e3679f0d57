// The rooms' requests waiting for their reply: a reply (or an error frame) settles the oldest of its
// kind, and a refusal is said where it belongs (in the dialog that asked, or in the banner).
import { actionRefusal } from "../refusals.js";

// Replies that never come (the connection dropped) stop counting after this long.
const PENDING_MS = 30_000;
// The requests made in the background: a refusal of one is never said.
const QUIET_ACTIONS = new Set(["rooms", "members"]);

export class RoomRequests {
  // send(frame): true if sent; banner(text): a problem; label(room): how a room reads to people.
  constructor({ send, banner, label }) {
    Object.assign(this, { send, banner, label });
    this.pending = []; // {action, room, user, id, dialog, quiet, at, more, opened}
  }

  request(frame, meta = {}) {
    const sent = this.send(frame);
    if (sent) this.pending.push({ action: frame.action, at: Date.now(), ...meta });
    else if (!meta.quiet) this.banner("Not connected: try again once the page has reconnected.");
    return sent;
  }

  // The reply to a request: the oldest pending one of that kind (and matching `test`).
  settle(actions, test = () => true) {
    const now = Date.now();
    this.pending = this.pending.filter((entry) => now - entry.at < PENDING_MS);
    const index = this.pending.findIndex((entry) => actions.includes(entry.action) && test(entry));
    return index < 0 ? null : this.pending.splice(index, 1)[0];
  }

  // The connection was (re)opened: answers to what was asked before will never come.
  reset() {
    this.pending = [];
  }

  // An error frame that answers one of these requests (its `action` says which kind; the oldest of
  // that kind). A background refresh (rooms, members) fails in silence.
  failed(frame) {
    const entry = this.settle([frame.action]);
    if (!entry) {
      if (!QUIET_ACTIONS.has(frame.action)) this.banner(actionRefusal(frame, { action: frame.action }));
      return;
    }
    if (entry.quiet) return;
    const text = actionRefusal(frame, { action: entry.action, label: entry.room ? this.label(entry.room) : undefined,
      user: entry.user });
    if (entry.dialog?.isOpen) entry.dialog.showError(text);
    else this.banner(text);
  }
}
