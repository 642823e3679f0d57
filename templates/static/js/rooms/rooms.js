// Rooms on the chat page: the one object chat.js talks to for the sidebar (sidebar.js), the public
// directory (directory.js), the member list (members.js), the dialogs (room_dialogs.js), the
// moderation log (modlog.js) and invitations (invitation.js). Everything shown comes from the
// server's frames (rooms, room, members, done, invited, modlog); what a menu offers follows the
// user's role there (permissions.js), and the server decides anyway: a refusal is said in clear
// words (requests.js, refusals.js). chat.js owns the connection and the room shown.
import { config } from "../config.js";
import { $ } from "../dom.js";
import { MenuButton } from "../menu.js";
import { formatUntil } from "../refusals.js";
import { Directory } from "./directory.js";
import { Invitation } from "./invitation.js";
import { MemberList } from "./members.js";
import { ModerationLog } from "./modlog.js";
import { MODERATOR, Permissions } from "./permissions.js";
import { RoomRequests } from "./requests.js";
import { RoomDialogs } from "./room_dialogs.js";
import { Roster, isDm } from "./roster.js";
import { renderSidebar } from "./sidebar.js";

// A tab shown again asks for the rooms' unread counts, at most this often.
const ROOMS_REFRESH_MS = 10_000;
// After an `activity` frame that does not say how many messages it stands for (a busy room's,
// coalesced by the server for 3 s) or names a room not in the list, the rooms frame is asked for
// once this long after the first such frame: one request per tab per window, however busy.
const ROOMS_AFTER_ACTIVITY_MS = 3_500;

// What the status line says when a room action is done.
export function doneWords(frame, label) {
  const until = frame.until ? ` until ${formatUntil(frame.until)}` : "";
  const words = {
    invite: `${frame.user} is now a member of ${label}.`,
    kick: `${frame.user} was removed from ${label}.`,
    ban: `${frame.user} is banned from ${label}${until || " until you lift the ban"}.`,
    unban: `${frame.user} may come back to ${label}.`,
    mute: `${frame.user} is muted in ${label}${until}.`,
    setrole: `${frame.user} is now ${frame.role === "owner" ? "the owner" : `a ${frame.role}`} of ${label}.`,
    leave: `You left ${label}.`,
  };
  return words[frame.action] ?? "Done.";
}

export class Rooms {
  // The requests this module sends: an error frame answering one of them is its to handle (failed).
  static ACTIONS = ["createroom", "invite", "leave", "dm", "rooms", "members", "setrole", "kick", "ban", "unban",
    "mute", "deletemessage", "modlog"];

  // send(frame): true if sent; shownRoom(): the room the page shows; switchTo(room): join it;
  // status(text): a polite announcement; banner(text): a problem; changed(): names or roles changed
  // (the page redraws its heading and message menus); closePanels(): close a phone drawer.
  constructor({ me, guest, send, shownRoom, switchTo, status, banner, changed, closePanels }) {
    Object.assign(this, { me, guest, shownRoom, switchTo, status, changed, closePanels });
    const current = () => this.shownRoom();
    const label = (room) => this.label(room);
    const act = (frame, dialog) => this.act(frame, dialog);
    const open = (room) => {
      this.closePanels();
      this.switchTo(room);
    };
    this.roster = new Roster();
    this.requests = new RoomRequests({ send, banner, label });
    this.dialogs = new RoomDialogs({ me, current, label, act,
      request: (frame, meta) => this.requests.request(frame, meta) });
    this.members = new MemberList({ me, guest, current, isPrivate: (room) => this.isPrivate(room),
      permissions: () => this.permissions, requests: this.requests, act,
      openModerate: (kind, user) => this.dialogs.openModerate(kind, user) });
    this.permissions = new Permissions({ me, roster: this.roster, members: this.members, current });
    this.directory = new Directory({ current, requestRooms: (options) => this.requestRooms(options), open });
    this.modlog = new ModerationLog({ requests: this.requests, label });
    this.invitation = new Invitation({ open: (room) => this.switchTo(room) });
    this.roomsAskedAt = 0;
    this.refreshTimer = null;

    this.roomMenu = new MenuButton({ label: "Room actions", text: "Room ▾", className: "room-actions",
      items: () => this.roomMenuItems() });
    $("room-menu").append(this.roomMenu.root);
  }

  // -- names, and what the user may do -------------------------------------------------------

  isDm(room) { return isDm(room); }
  label(room) { return this.roster.label(room); }
  heading(room) { return this.roster.heading(room); }
  isPrivate(room) { return this.roster.isPrivate(room); }
  unreadElsewhere(room) { return this.roster.unreadElsewhere(room); }
  mayDelete(message) { return this.permissions.mayDelete(message); }

  // The room was read (here, or in another tab of the user's): its badge goes.
  markRead(room) {
    if (this.roster.markRead(room)) this.renderSidebar();
  }

  // -- requests ------------------------------------------------------------------------------

  requestRooms({ after = null } = {}) {
    this.requests.request(after ? { action: "rooms", after } : { action: "rooms" }, { quiet: true, more: !!after });
  }

  // The tab is shown again on an open connection: the unread counts may have moved.
  tabShown() {
    if (Date.now() - this.roomsAskedAt < ROOMS_REFRESH_MS) return;
    this.roomsAskedAt = Date.now();
    this.requestRooms();
  }

  act(frame, dialog = null) {
    return this.requests.request(frame, { room: frame.room, user: frame.user, id: frame.id, dialog });
  }

  // The connection was (re)opened: answers to what was asked before will never come.
  reset() {
    this.requests.reset();
  }

  failed(frame) {
    this.requests.failed(frame);
  }

  // -- frames --------------------------------------------------------------------------------

  // A welcome: the room shown may have changed; its members (and roles) are asked for.
  welcomed(frame, { firstOfConnection }) {
    this.permissions.admin = frame.admin === true;
    this.members.welcomed(frame);
    if (firstOfConnection) this.requestRooms();
    this.renderSidebar();
    this.members.render();
  }

  presence(frame) {
    this.members.presence(frame);
  }

  // An `activity` frame (a message in another of the user's rooms): its badge moves at once. False
  // for the room shown (its messages come themselves).
  onActivity(frame) {
    if (frame.room === this.shownRoom()) return false;
    const known = this.roster.activity(frame);
    if (!known || (!frame.dm && !frame.mention)) this.refreshSoon();
    this.renderSidebar();
    return true;
  }

  refreshSoon() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.requestRooms();
    }, ROOMS_AFTER_ACTIVITY_MS);
  }

  onRooms(frame) {
    const request = this.requests.settle(["rooms"]);
    this.roster.update(frame.mine);
    this.directory.update(frame, { more: !!request?.more });
    this.renderSidebar();
    this.changed();
  }

  // The reply to createroom or dm: the room is the user's; open it.
  onRoom(frame) {
    const request = this.requests.settle(["createroom", "dm"]);
    this.roster.learnName(frame);
    request?.dialog?.close();
    this.roster.add(frame);
    this.requestRooms();
    this.closePanels();
    this.switchTo(frame.room);
  }

  onInvited(frame) {
    this.roster.learnName(frame);
    this.invitation.show(frame);
    this.requestRooms();
  }

  onDone(frame) {
    const request = this.requests.settle([frame.action], (entry) => entry.room === frame.room);
    request?.dialog?.close();
    this.status(doneWords(frame, this.label(frame.room)));
    if (frame.action === "leave") {
      // Out of a private room the connection is in no room (docs/protocol.md): go elsewhere.
      const closed = isDm(frame.room) || this.isPrivate(frame.room);
      this.roster.remove(frame.room);
      this.requestRooms();
      if (closed && frame.room === this.shownRoom()) this.switchTo(config.defaultRoom);
    } else if (frame.room === this.shownRoom()) {
      this.members.request();
    }
    if (frame.action === "setrole" && frame.role === "owner") this.requestRooms();
    this.renderSidebar();
  }

  onMembers(frame) {
    if (this.members.received(frame)) this.changed();
  }

  onModlog(frame) {
    this.modlog.received(frame);
  }

  // A message deleted by this user: the request is answered.
  onDeleted(frame) {
    if (frame.by === this.me) this.requests.settle(["deletemessage"], (entry) => entry.id === frame.id);
  }

  // Removed from a room (kicked, banned, or out of a private room): it may be gone from the list.
  removed() {
    this.requestRooms();
  }

  // -- the sidebar and the room menu ---------------------------------------------------------

  renderSidebar() {
    renderSidebar({ roster: this.roster, current: this.shownRoom(), guest: this.guest, open: (room) => {
      this.closePanels();
      this.switchTo(room);
    } });
  }

  roomMenuItems() {
    const room = this.shownRoom();
    if (!room) return [];
    const items = [];
    if (!isDm(room) && this.permissions.myRank() >= MODERATOR) {
      items.push({ id: "invite", label: "Invite someone…", run: () => this.dialogs.openInvite("invite") });
      items.push({ id: "unban", label: "Lift a ban…", run: () => this.dialogs.openInvite("unban") });
      items.push({ id: "modlog", label: "Moderation log…", run: () => this.modlog.open(room) });
    }
    const role = this.roster.entry(room)?.role;
    if (role && role !== "owner") {
      items.push({ id: "leave", label: isDm(room) ? "Leave this conversation" : `Leave #${room}`,
        run: () => this.act({ action: "leave", room }) });
    }
    items.push({ id: "browse", label: "Browse public rooms…", run: () => this.directory.openDialog() });
    return items;
  }
}
