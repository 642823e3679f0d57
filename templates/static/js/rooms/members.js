// The member list of the room shown: who is in it with their roles (the members frame, page by
// page), who is online, and each member's menu of what the user may do to them (kick, ban, mute,
// roles, a direct message).
import { $ } from "../dom.js";
import { MenuButton } from "../menu.js";
import { OWNER, RANKS } from "./permissions.js";
import { isDm } from "./roster.js";
import { renderMembers } from "./view.js";

export class MemberList {
  // current(): the room shown; isPrivate(room); permissions(): the Permissions; requests: the
  // RoomRequests; act(frame): a moderation request; openModerate(kind, user): its dialog.
  constructor({ me, guest, current, isPrivate, permissions, requests, act, openModerate }) {
    Object.assign(this, { me, guest, current, isPrivate, permissions, requests, act, openModerate });
    this.members = new Map(); // user -> role, for the room shown
    this.room = null; // the room `members` is of
    this.hasMore = false;
    this.online = []; // who is in the room shown now (welcome, presence)
    this.anywhere = new Map(); // user -> online in any room (the members frame's `online`)
    $("more-members").addEventListener("click", () => this.request({ more: true }));
  }

  // A welcome: a list of another room starts over; its members (and roles) are asked for.
  welcomed(frame) {
    if (frame.room !== this.room) {
      this.members = new Map();
      this.room = frame.room;
    }
    this.online = frame.online;
    this.request();
  }

  presence(frame) {
    this.online = frame.online;
    // Out of this room is not offline (presence is the team's): the members frame says again.
    if (frame.event === "left") this.request();
    this.render();
  }

  request({ more = false } = {}) {
    const room = this.current();
    if (!room) return;
    const last = more ? [...this.members.keys()].at(-1) : null;
    this.requests.request(last ? { action: "members", room, after: last } : { action: "members", room },
      { quiet: true, room, more: !!last });
  }

  // A members frame: false if it is of a room no longer shown.
  received(frame) {
    const request = this.requests.settle(["members"], (entry) => entry.room === frame.room);
    if (frame.room !== this.current()) return false;
    if (!request?.more) this.members = new Map();
    for (const member of frame.members) {
      this.members.set(member.user, member.role);
      if (typeof member.online === "boolean") this.anywhere.set(member.user, member.online);
    }
    this.room = frame.room;
    this.hasMore = !!frame.hasMore;
    this.render();
    return true;
  }

  render() {
    const room = this.current();
    const rows = [...this.members].map(([user, role]) => ({ user, role, online: this.online.includes(user) || this.anywhere.get(user) === true }));
    // In a public room anyone online is in it too, with or without a role.
    if (!this.isPrivate(room) && !isDm(room)) {
      for (const user of this.online) if (!this.members.has(user)) rows.push({ user, role: null, online: true });
    }
    const order = (row) => -(RANKS[row.role] ?? -1);
    rows.sort((a, b) => order(a) - order(b) || a.user.localeCompare(b.user));
    renderMembers($("member-list"), rows, this.me, (row) => this.menu(row),
      (row) => this.items(row.user).map((item) => item.id).join());
    $("more-members").hidden = !this.hasMore;
    const note = $("members-note");
    note.hidden = rows.length > 0;
    note.textContent = "Nobody yet.";
  }

  menu(row) {
    if (!this.items(row.user).length) return null;
    return new MenuButton({ label: `Actions for ${row.user}`, className: "member-menu",
      items: () => this.items(row.user) }).root;
  }

  items(user) {
    const room = this.current();
    const may = this.permissions();
    const items = [];
    if (may.mayModerate(user)) {
      // Only a site admin outranks the owner, and may only mute them: the room is handed over
      // before its owner is demoted, kicked or banned (the server refuses otherwise).
      const role = this.members.get(user);
      if (role !== "owner") {
        items.push({ id: "kick", label: "Kick", run: () => this.act({ action: "kick", room, user }) });
        items.push({ id: "ban", label: "Ban…", run: () => this.openModerate("ban", user) });
      }
      items.push({ id: "mute", label: "Mute…", run: () => this.openModerate("mute", user) });
      if (may.myRank() >= OWNER && role !== "owner") {
        if (role !== "moderator") {
          items.push({ id: "make-moderator", label: "Make moderator",
            run: () => this.act({ action: "setrole", room, user, role: "moderator" }) });
        } else {
          items.push({ id: "make-member", label: "Make member (not moderator)",
            run: () => this.act({ action: "setrole", room, user, role: "member" }) });
        }
        if ([...this.members.values()].includes("owner")) {
          items.push({ id: "make-owner", label: "Hand the room over…", run: () => this.openModerate("owner", user) });
        }
      }
    }
    if (user !== this.me && !this.guest && !user.startsWith("guest-") && !isDm(room)) {
      items.push({ id: "message", label: `Message ${user} directly`,
        run: () => this.requests.request({ action: "dm", user }, { user }) });
    }
    return items;
  }
}
