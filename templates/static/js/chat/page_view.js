// What the chat page shows besides the messages: who is signed in, the room's name wherever it
// shows, who is online, the tab title's count of the other rooms' unread messages, and the
// notifications toggle.
import { $ } from "../dom.js";
import { renderOnline } from "../render.js";

export class PageView {
  // rooms: the Rooms (names, the sidebar, unread counts); attention: the title and notifications.
  constructor({ me, store, rooms, attention }) {
    Object.assign(this, { me, store, rooms, attention });
  }

  showSignIn(login) {
    $("me-name").textContent = this.me;
    $("me-guest").hidden = !login.guest;
    // A guest's sign-in lasts as long as the guest session: one countdown ("Guest session ends in")
    // says it.
    $("token-row").hidden = login.guest;
  }

  // The room's name everywhere it shows: the heading, the room field, the sidebar and the title. A
  // direct conversation shows the other person's name (its room name is a hash).
  showRoom(room, { field = true } = {}) {
    if (room === null || room === undefined) return;
    const { sigil, name } = this.rooms.heading(room);
    $("room-sigil").textContent = sigil;
    $("room-name").textContent = name;
    $("room-private").hidden = !this.rooms.isPrivate(room);
    if (field) $("room-input").value = this.rooms.isDm(room) ? "" : room;
    this.rooms.renderSidebar();
    this.attention.showTitle();
  }

  // "#garden", or "@bob" for a direct conversation.
  roomTitle(room) {
    const { sigil, name } = this.rooms.heading(room);
    return `${sigil}${name}`;
  }

  // `users` may be the first names of a big room only; `count` is how many are online in all.
  showPresence(users, count = users.length) {
    renderOnline($("online"), users, this.me, count);
    $("online-count").textContent = `(${count})`;
    $("presence-toggle-count").textContent = `(${count})`;
    $("presence").dataset.live = "true";
  }

  // While not connected (or in no room), who is online is not known: the list says so instead of
  // looking live.
  presenceUnknown() {
    $("presence").dataset.live = "false";
  }

  // The tab's title counts the unread messages of the user's other rooms (the server's counts).
  showUnread() {
    this.attention.setOtherRooms(this.rooms.unreadElsewhere(this.store.shownRoom));
  }

  showNotify() {
    const button = $("notify-toggle");
    // A toggle button: its name stays, aria-pressed (and the status line) says whether it is on.
    button.setAttribute("aria-pressed", String(this.attention.notifying));
    button.disabled = !this.attention.supported || this.attention.permission === "denied";
    $("notify-status").textContent = this.attention.describe();
  }
}
