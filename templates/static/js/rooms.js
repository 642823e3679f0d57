// Rooms on the chat page: the sidebar's rooms and direct conversations, the public directory, the
// member list with roles, the dialogs (new room, invite, direct message, ban and mute lengths) and
// the moderation menus. Everything shown comes from the server's frames (rooms, room, members,
// done, invited); what a menu offers follows the user's role there, and the server decides anyway:
// a refusal is said in clear words (refusals.js). chat.js owns the connection and the room shown.
import { config, fullMatch } from "./config.js";
import { Dialog } from "./dialogs.js";
import { MenuButton } from "./menu.js";
import { actionRefusal, formatUntil } from "./refusals.js";
import { renderDirectory, renderMembers, renderModlog, renderRoomList, roomLabel } from "./rooms_view.js";

const $ = (id) => document.getElementById(id);
const isRoomName = fullMatch(config.roomPattern);
const isUsername = fullMatch(config.usernamePattern);
const RANKS = Object.fromEntries(config.roles.map((role, rank) => [role, rank]));
const MODERATOR = RANKS.moderator;
const OWNER = RANKS.owner;
const ADMIN = config.roles.length; // a site admin outranks every role in a room
// Replies that never come (the connection dropped) stop counting after this long.
const PENDING_MS = 30_000;
// The requests this module makes in the background: a refusal of one is never said.
const QUIET_ACTIONS = new Set(["rooms", "members"]);

export class Rooms {
  // The requests this module sends: an error frame answering one of them is its to handle (failed).
  static ACTIONS = ["createroom", "invite", "leave", "dm", "rooms", "members", "setrole", "kick", "ban", "unban",
    "mute", "deletemessage", "modlog"];

  // send(frame): true if sent; shownRoom(): the room the page shows; switchTo(room): join it;
  // status(text): a polite announcement; banner(text): a problem; changed(): names or roles changed
  // (the page redraws its heading and message menus); closePanels(): close a phone drawer.
  constructor({ me, guest, send, shownRoom, switchTo, status, banner, changed, closePanels }) {
    Object.assign(this, { me, guest, send, shownRoom, switchTo, status, banner, changed, closePanels });
    this.mine = []; // the rooms frame's `mine`
    this.names = new Map(); // direct conversation room -> the other user's name
    this.directory = [];
    this.directoryAfter = null;
    this.directoryHasMore = false;
    this.members = new Map(); // user -> role, for the room shown
    this.membersRoom = null;
    this.membersHasMore = false;
    this.online = [];
    this.admin = false;
    this.pending = []; // requests waiting for their reply: {action, room, user, id, dialog, quiet, at, more}

    const fallbackFocus = () => $("message-input");
    this.createDialog = new Dialog("create-dialog", { onSubmit: (data) => this.submitCreate(data), fallbackFocus });
    this.inviteDialog = new Dialog("invite-dialog", { onSubmit: (data) => this.submitInvite(data), fallbackFocus });
    this.dmDialog = new Dialog("dm-dialog", { onSubmit: (data) => this.submitDm(data), fallbackFocus });
    this.moderateDialog = new Dialog("moderate-dialog", { onSubmit: (data) => this.submitModerate(data), fallbackFocus });
    this.directoryDialog = new Dialog("directory-dialog", { fallbackFocus });
    this.modlogDialog = new Dialog("modlog-dialog", { fallbackFocus });
    this.modlog = { room: null, entries: [], hasMore: false, opened: 0 };

    $("new-room").addEventListener("click", () => this.openCreate());
    $("new-dm").addEventListener("click", () => this.openDm());
    $("browse-rooms").addEventListener("click", () => this.openDirectory());
    $("directory-filter").addEventListener("input", () => this.showDirectory());
    $("directory-more").addEventListener("click", () => this.requestRooms({ after: this.directoryAfter }));
    $("modlog-more").addEventListener("click", () => this.requestModlog({ more: true }));
    $("more-members").addEventListener("click", () => this.requestMembers({ more: true }));
    $("invite-dismiss").addEventListener("click", () => this.hideInvitation());

    this.roomMenu = new MenuButton({ label: "Room actions", text: "Room ▾", className: "room-actions",
      items: () => this.roomMenuItems() });
    $("room-menu").append(this.roomMenu.root);
  }

  // -- what the user may do ------------------------------------------------------------------

  get current() {
    return this.shownRoom();
  }

  isDm(room) {
    return room?.startsWith(config.dmPrefix) ?? false;
  }

  entry(room) {
    return this.mine.find((entry) => entry.room === room);
  }

  label(room) {
    if (this.isDm(room)) {
      const other = this.names.get(room);
      return other ? `your conversation with ${other}` : "this direct conversation";
    }
    return `#${room}`;
  }

  // The name the heading shows, and its sigil.
  heading(room) {
    if (this.isDm(room)) return { sigil: "@", name: this.names.get(room) ?? "direct conversation" };
    return { sigil: "#", name: room };
  }

  // The unread messages of the user's rooms other than `room` (the rooms frame's counts).
  unreadElsewhere(room) {
    return this.mine.reduce((sum, entry) => sum + (entry.room !== room && Number.isInteger(entry.unread) ? entry.unread : 0), 0);
  }

  // The room was read (here, or in another tab of the user's): its badge goes.
  markRead(room) {
    const entry = this.entry(room);
    if (!entry || (!entry.unread && !entry.mention)) return;
    entry.unread = 0;
    entry.mention = false;
    this.renderSidebar();
  }

  isPrivate(room) {
    return !this.isDm(room) && this.entry(room)?.visibility === "private";
  }

  myRole(room = this.current) {
    if (room === this.membersRoom && this.members.has(this.me)) return this.members.get(this.me);
    return this.entry(room)?.role ?? null;
  }

  myRank(room = this.current) {
    if (this.admin) return ADMIN;
    return RANKS[this.myRole(room)] ?? 0;
  }

  rankOf(user) {
    return RANKS[this.members.get(user)] ?? 0;
  }

  // Kick, ban and mute: a moderator or above, on someone ranked below them (never on oneself).
  mayModerate(user) {
    const room = this.current;
    return !!room && user !== this.me && !this.isDm(room) && this.myRank() >= MODERATOR && this.rankOf(user) < this.myRank();
  }

  // Delete: the author, or a moderator above the author.
  mayDelete(message) {
    if (message.deleted || message.room !== this.current) return false;
    if (message.sender === this.me) return true;
    return !this.isDm(message.room) && this.myRank() >= MODERATOR && this.rankOf(message.sender) < this.myRank();
  }

  // -- requests ------------------------------------------------------------------------------

  request(frame, meta = {}) {
    const sent = this.send(frame);
    if (sent) this.pending.push({ action: frame.action, at: Date.now(), ...meta });
    else if (!meta.quiet) this.banner("Not connected: try again once the page has reconnected.");
    return sent;
  }

  requestRooms({ after = null } = {}) {
    this.request(after ? { action: "rooms", after } : { action: "rooms" }, { quiet: true, more: !!after });
  }

  requestMembers({ more = false } = {}) {
    const room = this.current;
    if (!room) return;
    const last = more ? [...this.members.keys()].at(-1) : null;
    this.request(last ? { action: "members", room, after: last } : { action: "members", room },
      { quiet: true, room, more: !!last });
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

  // An error frame that answers one of this module's requests (its `action` says which kind; the
  // oldest of that kind): said where it belongs (in the open dialog, or in the banner). A
  // background refresh (rooms, members) fails in silence.
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

  // -- frames --------------------------------------------------------------------------------

  // A welcome: the room shown may have changed; its members (and roles) are asked for.
  welcomed(frame, { firstOfConnection }) {
    this.admin = frame.admin === true;
    if (frame.room !== this.membersRoom) {
      this.members = new Map();
      this.membersRoom = frame.room;
    }
    this.online = frame.online;
    this.requestMembers();
    if (firstOfConnection) this.requestRooms();
    this.renderSidebar();
    this.renderMembers();
  }

  presence(frame) {
    this.online = frame.online;
    this.renderMembers();
  }

  onRooms(frame) {
    const request = this.settle(["rooms"]);
    this.mine = frame.mine;
    for (const entry of frame.mine) if (entry.dm && entry.with) this.names.set(entry.room, entry.with);
    if (request?.more) this.directory = [...this.directory, ...frame.directory];
    else this.directory = frame.directory;
    this.directoryAfter = frame.after ?? null;
    this.directoryHasMore = !!frame.hasMore;
    this.renderSidebar();
    this.showDirectory();
    this.changed();
  }

  // The reply to createroom or dm: the room is the user's; open it.
  onRoom(frame) {
    const request = this.settle(["createroom", "dm"]);
    if (frame.dm && frame.with) this.names.set(frame.room, frame.with);
    request?.dialog?.close();
    if (!this.entry(frame.room)) {
      this.mine = [{ room: frame.room, visibility: frame.visibility, role: frame.role, dm: frame.dm, with: frame.with,
        topic: frame.topic, lastActivityAt: null }, ...this.mine];
    }
    this.requestRooms();
    this.closePanels();
    this.switchTo(frame.room);
  }

  onInvited(frame) {
    if (frame.dm && frame.with) this.names.set(frame.room, frame.with);
    const text = frame.dm
      ? `${frame.with ?? frame.by} started a direct conversation with you.`
      : `${frame.by} invited you to #${frame.room}${frame.visibility === "private" ? " (a private room)" : ""}.`;
    $("invite-text").textContent = text;
    const open = $("invite-open");
    open.textContent = frame.dm ? "Open conversation" : `Open #${frame.room}`;
    open.onclick = () => {
      this.hideInvitation();
      this.switchTo(frame.room);
    };
    $("invite-notice").hidden = false;
    this.requestRooms();
  }

  hideInvitation() {
    const hadFocus = $("invite-notice").contains(document.activeElement);
    $("invite-notice").hidden = true;
    if (hadFocus) $("message-input").focus();
  }

  onDone(frame) {
    const request = this.settle([frame.action], (entry) => entry.room === frame.room);
    request?.dialog?.close();
    const label = this.label(frame.room);
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
    this.status(words[frame.action] ?? "Done.");
    if (frame.action === "leave") {
      // Out of a private room the connection is in no room (docs/protocol.md): go elsewhere.
      const closed = this.isDm(frame.room) || this.isPrivate(frame.room);
      this.mine = this.mine.filter((entry) => entry.room !== frame.room);
      this.requestRooms();
      if (closed && frame.room === this.current) this.switchTo(config.defaultRoom);
    } else if (frame.room === this.current) {
      this.requestMembers();
    }
    if (frame.action === "setrole" && frame.role === "owner") this.requestRooms();
    this.renderSidebar();
  }

  onMembers(frame) {
    const request = this.settle(["members"], (entry) => entry.room === frame.room);
    if (frame.room !== this.current) return;
    if (!request?.more) this.members = new Map();
    for (const member of frame.members) this.members.set(member.user, member.role);
    this.membersRoom = frame.room;
    this.membersHasMore = !!frame.hasMore;
    this.renderMembers();
    this.changed();
  }

  // A message deleted by this user: the request is answered.
  onDeleted(frame) {
    if (frame.by === this.me) this.settle(["deletemessage"], (entry) => entry.id === frame.id);
  }

  // Removed from a room (kicked, banned, or out of a private room): it may be gone from the list.
  removed() {
    this.requestRooms();
  }

  // -- the sidebar, the directory and the member list ------------------------------------------

  renderSidebar() {
    const current = this.current;
    const rooms = this.mine.filter((entry) => !entry.dm);
    // The room shown is listed even if the user only visits it (any public room).
    if (current && !this.isDm(current) && !rooms.some((entry) => entry.room === current)) {
      rooms.unshift({ room: current, dm: false, visibility: "public", notMember: true });
    }
    const dms = this.mine.filter((entry) => entry.dm);
    if (current && this.isDm(current) && !dms.some((entry) => entry.room === current)) {
      dms.unshift({ room: current, dm: true, with: this.names.get(current) });
    }
    const open = (room) => {
      this.closePanels();
      this.switchTo(room);
    };
    renderRoomList($("room-list"), rooms, current, open);
    renderRoomList($("dm-list"), dms, current, open);
    $("dm-empty").hidden = dms.length > 0;
    $("new-room").hidden = this.guest;
    $("new-dm").hidden = this.guest;
  }

  showDirectory() {
    const filter = $("directory-filter").value.trim().toLowerCase();
    const shown = this.directory.filter((entry) => entry.room.toLowerCase().includes(filter));
    renderDirectory($("directory-list"), shown, this.current, (room) => {
      this.directoryDialog.close();
      this.closePanels();
      this.switchTo(room);
    });
    let status = `${shown.length} of ${this.directory.length} public rooms`;
    if (!this.directory.length) status = "No public rooms with messages yet.";
    else if (!shown.length) status = `No room loaded matches "${filter}".`;
    if (this.directoryHasMore) status += " More can be loaded.";
    $("directory-status").textContent = status;
    $("directory-more").hidden = !this.directoryHasMore;
  }

  renderMembers() {
    const room = this.current;
    const rows = [...this.members].map(([user, role]) => ({ user, role, online: this.online.includes(user) }));
    // In a public room anyone online is in it too, with or without a role.
    if (!this.isPrivate(room) && !this.isDm(room)) {
      for (const user of this.online) if (!this.members.has(user)) rows.push({ user, role: null, online: true });
    }
    const order = (row) => -(RANKS[row.role] ?? -1);
    rows.sort((a, b) => order(a) - order(b) || a.user.localeCompare(b.user));
    renderMembers($("member-list"), rows, this.me, (row) => this.memberMenu(row),
      (row) => this.memberItems(row.user).map((item) => item.id).join());
    $("more-members").hidden = !this.membersHasMore;
    const note = $("members-note");
    note.hidden = rows.length > 0;
    note.textContent = "Nobody yet.";
  }

  memberMenu(row) {
    if (!this.memberItems(row.user).length) return null;
    return new MenuButton({ label: `Actions for ${row.user}`, className: "member-menu",
      items: () => this.memberItems(row.user) }).root;
  }

  memberItems(user) {
    const room = this.current;
    const items = [];
    if (this.mayModerate(user)) {
      // Only a site admin outranks the owner, and may only mute them: the room is handed over
      // before its owner is demoted, kicked or banned (the server refuses otherwise).
      const role = this.members.get(user);
      if (role !== "owner") {
        items.push({ id: "kick", label: "Kick", run: () => this.act({ action: "kick", room, user }) });
        items.push({ id: "ban", label: "Ban…", run: () => this.openModerate("ban", user) });
      }
      items.push({ id: "mute", label: "Mute…", run: () => this.openModerate("mute", user) });
      if (this.myRank() >= OWNER && role !== "owner") {
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
    if (user !== this.me && !this.guest && !user.startsWith("guest-") && !this.isDm(room)) {
      items.push({ id: "message", label: `Message ${user} directly`, run: () => this.request({ action: "dm", user }, { user }) });
    }
    return items;
  }

  roomMenuItems() {
    const room = this.current;
    if (!room) return [];
    const items = [];
    if (!this.isDm(room) && this.myRank() >= MODERATOR) {
      items.push({ id: "invite", label: "Invite someone…", run: () => this.openInvite("invite") });
      items.push({ id: "unban", label: "Lift a ban…", run: () => this.openInvite("unban") });
      items.push({ id: "modlog", label: "Moderation log…", run: () => this.openModlog() });
    }
    const role = this.entry(room)?.role;
    if (role && role !== "owner") {
      items.push({ id: "leave", label: this.isDm(room) ? "Leave this conversation" : `Leave #${room}`,
        run: () => this.act({ action: "leave", room }) });
    }
    items.push({ id: "browse", label: "Browse public rooms…", run: () => this.openDirectory() });
    return items;
  }

  act(frame, dialog = null) {
    return this.request(frame, { room: frame.room, user: frame.user, id: frame.id, dialog });
  }

  // -- dialogs -------------------------------------------------------------------------------

  openCreate() {
    this.createDialog.form.reset();
    this.createDialog.open();
  }

  submitCreate(data) {
    const room = String(data.get("room") ?? "").trim();
    const field = $("create-name");
    if (!isRoomName(room)) {
      this.createDialog.invalid(field, `A room's name is 1-${config.roomMaxChars} letters, digits, _ or -.`);
      return;
    }
    if (room.startsWith(config.dmPrefix)) {
      this.createDialog.invalid(field, `Names starting with "${config.dmPrefix}" are kept for direct messages.`);
      return;
    }
    const topic = String(data.get("topic") ?? "").trim();
    const frame = { action: "createroom", room, visibility: data.get("visibility") || "public" };
    if (topic) frame.topic = topic;
    this.act(frame, this.createDialog);
  }

  // `action`: "invite", or "unban" (the same dialog: a username for the room shown).
  openInvite(action = "invite") {
    const label = this.label(this.current);
    $("invite-title").textContent = action === "unban" ? `Lift a ban in ${label}` : `Invite someone to ${label}`;
    $("invite-submit").textContent = action === "unban" ? "Lift the ban" : "Invite";
    this.inviteAction = action;
    this.inviteDialog.form.reset();
    this.inviteDialog.open();
  }

  submitInvite(data) {
    const user = String(data.get("user") ?? "").trim();
    if (!isUsername(user)) {
      this.inviteDialog.invalid($("invite-user"), "Type the person's username.");
      return;
    }
    this.act({ action: this.inviteAction ?? "invite", room: this.current, user }, this.inviteDialog);
  }

  openDm() {
    this.dmDialog.form.reset();
    this.dmDialog.open();
  }

  submitDm(data) {
    const user = String(data.get("user") ?? "").trim();
    if (!isUsername(user)) {
      this.dmDialog.invalid($("dm-user"), "Type the person's username.");
      return;
    }
    if (user.toLowerCase() === this.me.toLowerCase()) {
      this.dmDialog.invalid($("dm-user"), "That is you: type someone else's username.");
      return;
    }
    this.request({ action: "dm", user }, { user, dialog: this.dmDialog });
  }

  // Ban or mute (with a length) or hand the room over (a confirmation), for `user`.
  openModerate(kind, user) {
    const room = this.current;
    const label = this.label(room);
    const minutes = $("moderate-minutes");
    const texts = {
      ban: [`Ban ${user} from ${label}`, "Ban",
        "For how many minutes? Leave it empty to ban until you lift the ban."],
      mute: [`Mute ${user} in ${label}`, "Mute", "For how many minutes? They can read but not send."],
      owner: [`Hand ${label} over to ${user}?`, "Hand over", "You become a moderator of the room."],
    }[kind];
    $("moderate-title").textContent = texts[0];
    $("moderate-submit").textContent = texts[1];
    $("moderate-hint").textContent = texts[2];
    this.moderateDialog.form.reset();
    minutes.required = kind === "mute";
    minutes.hidden = kind === "owner";
    minutes.labels.forEach((node) => { node.hidden = kind === "owner"; });
    this.moderation = { kind, user, room };
    this.moderateDialog.open({ focus: kind === "owner" ? $("moderate-submit") : minutes });
  }

  submitModerate(data) {
    const { kind, user, room } = this.moderation ?? {};
    if (!kind) return;
    if (kind === "owner") {
      this.act({ action: "setrole", room, user, role: "owner" }, this.moderateDialog);
      return;
    }
    const text = String(data.get("minutes") ?? "").trim();
    const minutes = Number(text);
    const valid = Number.isInteger(minutes) && minutes >= 1 && minutes <= config.moderationMaxMinutes;
    if ((text || kind === "mute") && !valid) {
      this.moderateDialog.invalid($("moderate-minutes"),
        `Minutes: a whole number from 1 to ${config.moderationMaxMinutes}${kind === "ban" ? ", or nothing" : ""}.`);
      return;
    }
    const frame = { action: kind, room, user };
    if (text) frame.minutes = minutes;
    this.act(frame, this.moderateDialog);
  }

  // The room's moderation log (moderators and up): newest first, a page at a time.
  openModlog() {
    const room = this.current;
    // `opened` tells this opening's replies from those of an earlier one still on their way.
    this.modlog = { room, entries: [], hasMore: false, opened: this.modlog.opened + 1 };
    $("modlog-title").textContent = `Moderation log of ${this.label(room)}`;
    $("modlog-list").replaceChildren();
    $("modlog-more").hidden = true;
    $("modlog-status").textContent = "Loading…";
    this.modlogDialog.open({ focus: this.modlogDialog.node.querySelector("[data-dialog-cancel]") });
    this.requestModlog();
  }

  requestModlog({ more = false } = {}) {
    const { room, entries } = this.modlog;
    const frame = more && entries.length ? { action: "modlog", room, before: entries.at(-1).id } : { action: "modlog", room };
    this.request(frame, { room, dialog: this.modlogDialog, opened: this.modlog.opened });
  }

  onModlog(frame) {
    const request = this.settle(["modlog"]);
    if (frame.room !== this.modlog.room || request?.opened !== this.modlog.opened) return;
    const known = new Set(this.modlog.entries.map((entry) => entry.id));
    this.modlog.entries.push(...frame.entries.filter((entry) => !known.has(entry.id)));
    this.modlog.hasMore = !!frame.hasMore;
    renderModlog($("modlog-list"), this.modlog.entries);
    const count = this.modlog.entries.length;
    $("modlog-status").textContent = count
      ? `${count} ${count === 1 ? "entry" : "entries"}, newest first.${frame.hasMore ? " Older ones can be loaded." : ""}`
      : "Nothing yet: no one has been invited, kicked, banned or muted here.";
    $("modlog-more").hidden = !frame.hasMore;
  }

  openDirectory() {
    this.directoryDialog.open({ focus: $("directory-filter") });
    this.requestRooms();
  }
}
