// The rooms' dialogs: a new room, a direct message, an invitation (or a ban lifted: the same dialog,
// a username), and a ban, mute or handing over (a length, or a confirmation). Each checks what it
// can before asking; the server's refusal is said in the dialog.
import { config } from "../config.js";
import { Dialog } from "../dialogs.js";
import { $ } from "../dom.js";
import { isRoomName, isUsername } from "../names.js";

export class RoomDialogs {
  // current(): the room shown; label(room): how a room reads to people; act(frame, dialog) and
  // request(frame, meta): send through the RoomRequests.
  constructor({ me, current, label, act, request }) {
    Object.assign(this, { me, current, label, act, request });
    const fallbackFocus = () => $("message-input");
    this.createDialog = new Dialog("create-dialog", { onSubmit: (data) => this.submitCreate(data), fallbackFocus });
    this.inviteDialog = new Dialog("invite-dialog", { onSubmit: (data) => this.submitInvite(data), fallbackFocus });
    this.dmDialog = new Dialog("dm-dialog", { onSubmit: (data) => this.submitDm(data), fallbackFocus });
    this.moderateDialog = new Dialog("moderate-dialog", { onSubmit: (data) => this.submitModerate(data), fallbackFocus });
    this.inviteAction = "invite";
    this.moderation = null; // {kind, user, room} of the moderate dialog
    $("new-room").addEventListener("click", () => this.openCreate());
    $("new-dm").addEventListener("click", () => this.openDm());
  }

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
    const label = this.label(this.current());
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
    this.act({ action: this.inviteAction, room: this.current(), user }, this.inviteDialog);
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
    const room = this.current();
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
}
