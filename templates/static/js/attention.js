// Getting the reader's attention: the count of messages received in the room shown while the tab is
// hidden, plus the unread messages of the reader's other rooms (the server's rooms frame), goes in
// the tab's title; a message that @mentions the reader, a direct message, or a new direct
// conversation raises a desktop notification while the tab is hidden, if they asked for them (a
// click on the session menu's button, never on load).

// The notification opt-in is a preference of this browser, not of the tab.
const OPT_IN_KEY = "wschat.notify";
const EXCERPT_CHARS = 140;

export class Attention {
  // baseTitle(): the title without the unread count; onChange(): the opt-in or permission changed.
  constructor({ baseTitle, onChange = () => {} }) {
    this.baseTitle = baseTitle;
    this.onChange = onChange;
    this.unread = 0;
    this.otherRooms = 0; // unread in the reader's other rooms, as the last rooms frame counted them
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.unread = 0;
      this.showTitle();
    });
  }

  showTitle() {
    const count = this.unread + this.otherRooms;
    document.title = count ? `(${count}) ${this.baseTitle()}` : this.baseTitle();
  }

  setOtherRooms(count) {
    this.otherRooms = count;
    this.showTitle();
  }

  // A live message from someone else: counted while the tab is hidden; notified if it mentions me
  // or is a direct message (`direct`: the other person's name, for a direct conversation).
  received({ sender, room, message }, mentionsMe, direct = null) {
    if (!document.hidden) return;
    this.unread += 1;
    this.showTitle();
    if (!this.notifying) return;
    if (direct) this.notify(`${sender} sent you a message`, message, room);
    else if (mentionsMe) this.notify(`${sender} mentioned you in #${room}`, message, room);
  }

  // An `activity` frame: a message in another of the reader's rooms (its text is not in the frame).
  // A DM or a mention is notified while this tab is hidden or not focused (a chat kept open on a
  // second screen); the title's count follows the rooms' badges (setOtherRooms).
  activity({ sender, room, dm, mention }, label) {
    if (!this.notifying || !(dm || mention) || (!document.hidden && document.hasFocus())) return;
    if (dm) this.notify(`${sender} sent you a message`, "", room);
    else this.notify(`${sender} mentioned you in ${label}`, "", room);
  }

  // Someone opened a direct conversation with the reader.
  invitedToDm(user, room) {
    if (document.hidden && this.notifying) this.notify(`${user} started a direct conversation with you`, "", room);
  }

  get supported() {
    return "Notification" in window;
  }

  get permission() {
    return this.supported ? Notification.permission : "unsupported";
  }

  get notifying() {
    return this.permission === "granted" && localStorage.getItem(OPT_IN_KEY) === "on";
  }

  // The button's click: switch on (asking the browser's permission if it was never asked) or off.
  async toggle() {
    if (this.notifying) {
      localStorage.removeItem(OPT_IN_KEY);
    } else if (this.supported) {
      const permission = this.permission === "default" ? await Notification.requestPermission() : this.permission;
      if (permission === "granted") localStorage.setItem(OPT_IN_KEY, "on");
    }
    this.onChange();
  }

  // Words for the menu: what the button does and why it may not.
  describe() {
    if (!this.supported) return "This browser cannot show notifications.";
    if (this.permission === "denied") return "Notifications are blocked in this browser's site settings.";
    return this.notifying
      ? "You are notified of @mentions and direct messages while this tab is in the background." : "";
  }

  notify(title, message, room) {
    const body = message.length > EXCERPT_CHARS ? `${message.slice(0, EXCERPT_CHARS)}…` : message;
    try {
      const notification = new Notification(title, { body, tag: `wschat-${room}` });
      notification.addEventListener("click", () => {
        window.focus();
        notification.close();
      });
    } catch {
      // Some browsers only allow notifications from a service worker: the title count still shows.
    }
  }
}
