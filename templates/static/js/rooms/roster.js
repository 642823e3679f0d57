// The user's rooms and direct conversations as the server's rooms frame lists them (with their
// roles, unread counts and mention flags), and how each room reads to people. No DOM.
import { config } from "../config.js";

export function isDm(room) {
  return room?.startsWith(config.dmPrefix) ?? false;
}

export class Roster {
  constructor() {
    this.mine = []; // the rooms frame's `mine`
    this.names = new Map(); // direct conversation room -> the other user's name
  }

  entry(room) {
    return this.mine.find((entry) => entry.room === room);
  }

  // "#garden", "your conversation with bob" (in sentences).
  label(room) {
    if (isDm(room)) {
      const other = this.names.get(room);
      return other ? `your conversation with ${other}` : "this direct conversation";
    }
    return `#${room}`;
  }

  // The name the heading shows, and its sigil.
  heading(room) {
    if (isDm(room)) return { sigil: "@", name: this.names.get(room) ?? "direct conversation" };
    return { sigil: "#", name: room };
  }

  isPrivate(room) {
    return !isDm(room) && this.entry(room)?.visibility === "private";
  }

  // The unread messages of the user's rooms other than `room` (the rooms frame's counts).
  unreadElsewhere(room) {
    return this.mine.reduce((sum, entry) => sum + (entry.room !== room && Number.isInteger(entry.unread) ? entry.unread : 0), 0);
  }

  // The room was read (here, or in another tab of the user's): its badge goes. True if it had one.
  markRead(room) {
    const entry = this.entry(room);
    if (!entry || (!entry.unread && !entry.mention)) return false;
    entry.unread = 0;
    entry.mention = false;
    return true;
  }

  // An `activity` frame: a message in one of the user's rooms other than the one shown. Its badge
  // counts one more (a DM's and a mention's frames come one per message; a busy room's are
  // coalesced, so its exact count comes with the next rooms frame), a mention marks it, and a DM's
  // sender is online. False if the room is not in the list (a rooms frame will bring it).
  activity(frame) {
    const entry = this.entry(frame.room);
    if (!entry) return false;
    if (Number.isInteger(entry.unread)) entry.unread += 1;
    else if (entry.unread === undefined) entry.unread = 1;
    if (frame.mention) entry.mention = true;
    if (frame.sentAt) entry.lastActivityAt = frame.sentAt;
    if (entry.dm && frame.sender === entry.with) entry.online = true;
    return true;
  }

  // A frame naming the other person of a direct conversation (rooms, room, invited).
  learnName(frame) {
    if (frame.dm && frame.with) this.names.set(frame.room, frame.with);
  }

  update(mine) {
    this.mine = mine;
    for (const entry of mine) this.learnName(entry);
  }

  // A room made or opened by the user (the room frame): first in the list until the next rooms frame.
  add(frame) {
    if (this.entry(frame.room)) return;
    this.mine = [{ room: frame.room, visibility: frame.visibility, role: frame.role, dm: frame.dm, with: frame.with,
      topic: frame.topic, lastActivityAt: null }, ...this.mine];
  }

  remove(room) {
    this.mine = this.mine.filter((entry) => entry.room !== room);
  }
}
