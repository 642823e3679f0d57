// What the user may do in the room shown, from their role there (the members frame, else the rooms
// frame) or their being a site admin. Menus offer only what this allows; the server decides anyway.
import { config } from "../config.js";
import { isDm } from "./roster.js";

export const RANKS = Object.fromEntries(config.roles.map((role, rank) => [role, rank]));
export const MODERATOR = RANKS.moderator;
export const OWNER = RANKS.owner;
const ADMIN = config.roles.length; // a site admin outranks every role in a room

export class Permissions {
  // roster: the Roster; members: the MemberList (members, room); current(): the room shown.
  constructor({ me, roster, members, current }) {
    Object.assign(this, { me, roster, members, current });
    this.admin = false; // the welcome's `admin`
  }

  myRole(room = this.current()) {
    if (room === this.members.room && this.members.members.has(this.me)) return this.members.members.get(this.me);
    return this.roster.entry(room)?.role ?? null;
  }

  myRank(room = this.current()) {
    if (this.admin) return ADMIN;
    return RANKS[this.myRole(room)] ?? 0;
  }

  rankOf(user) {
    return RANKS[this.members.members.get(user)] ?? 0;
  }

  // Kick, ban and mute: a moderator or above, on someone ranked below them (never on oneself).
  mayModerate(user) {
    const room = this.current();
    return !!room && user !== this.me && !isDm(room) && this.myRank() >= MODERATOR && this.rankOf(user) < this.myRank();
  }

  // Delete: the author, or a moderator above the author.
  mayDelete(message) {
    if (message.deleted || message.room !== this.current()) return false;
    if (message.sender === this.me) return true;
    return !isDm(message.room) && this.myRank() >= MODERATOR && this.rankOf(message.sender) < this.myRank();
  }
}
