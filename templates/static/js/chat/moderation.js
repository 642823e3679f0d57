// Moderation shown before typing: while the user is muted in the room shown (the `muted` frame,
// welcome's `mutedUntil`, a `muted` refusal) or out of it (kicked, banned), the composer is
// replaced by the reason and the end time, and comes back by itself when the mute ends. A kick or
// a ban also clears the room's messages from the view: the room is not the user's to read any more.
import { formatUntil, removalWords } from "../refusals.js";

// The longest a timer may wait (setTimeout's limit, about 24.8 days): a longer mute is checked again then.
const MAX_TIMER_MS = 2 ** 31 - 1;
// The composer comes back this long after the mute's end, so that the server's clock has passed it too.
const END_SLACK_MS = 500;

// Mutes by room, as the server said them: no DOM, no clock of its own.
export class Mutes {
  constructor() {
    this.byRoom = new Map(); // room -> {until, by}
  }

  // until: an ISO time, or null/undefined when the user is not muted there.
  set(room, until, by = null) {
    if (until && !Number.isNaN(Date.parse(until))) this.byRoom.set(room, { until, by });
    else this.byRoom.delete(room);
  }

  // The mute in `room` still running at `now` ({until, by, leftMs}), or null.
  current(room, now = Date.now()) {
    const mute = this.byRoom.get(room);
    if (!mute) return null;
    const leftMs = Date.parse(mute.until) - now;
    if (leftMs <= 0) {
      this.byRoom.delete(room);
      return null;
    }
    return { ...mute, leftMs };
  }
}

// What the composer's place says while muted.
export function mutedNotice(label, { until, by }) {
  const who = by ? ` (by ${by})` : "";
  return `You are muted in ${label}${who} until ${formatUntil(until)}: you can read, but not write, until then.`;
}

// What it says after a kick or a ban from the room shown (the page then opens another room, or
// asks the user to).
export function removedNotice(frame, label) {
  return `${removalWords(frame, label)} Open another room to go on.`;
}

export class Moderation {
  // room(): the room shown; label(room): its name in sentences; composer: the Composer (block);
  // messages: the MessageList (clear).
  constructor({ room, label, composer, messages, now = () => Date.now() }) {
    Object.assign(this, { room, label, composer, messages, now });
    this.mutes = new Mutes();
    this.removal = null; // the kicked or banned frame of the room shown, until the next welcome
    this.timer = null;
  }

  welcomed(frame) {
    this.removal = null;
    this.mutes.set(frame.room, frame.mutedUntil ?? null);
    this.show();
  }

  // A `muted` frame (any of the user's connections gets it), or a `muted` refusal of a message.
  muted({ room, until, by = null }) {
    this.mutes.set(room, until, by);
    this.show();
  }

  // Kicked or banned: `wasShown` whether the frame's room was the room shown when it came.
  removed(frame, wasShown) {
    if (!wasShown) return;
    this.messages.clear();
    this.removal = frame;
    this.show();
  }

  show() {
    clearTimeout(this.timer);
    this.timer = null;
    const room = this.room();
    if (this.removal) {
      this.composer.block(removedNotice(this.removal, this.label(this.removal.room)));
      return;
    }
    const mute = room ? this.mutes.current(room, this.now()) : null;
    if (!mute) {
      this.composer.block(null);
      return;
    }
    this.composer.block(mutedNotice(this.label(room), mute));
    this.timer = setTimeout(() => this.show(), Math.min(mute.leftMs + END_SLACK_MS, MAX_TIMER_MS));
  }
}
