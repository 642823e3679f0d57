// Getting the reader's attention while the tab is hidden: the count of messages received since it
// was hidden goes in the tab's title, and a message that @mentions the reader raises a desktop
// notification if they asked for them (a click on the session menu's button, never on load).

// The notification opt-in is a preference of this browser, not of the tab.
const OPT_IN_KEY = "wschat.notify";
const EXCERPT_CHARS = 140;

export class Attention {
  // baseTitle(): the title without the unread count; onChange(): the opt-in or permission changed.
  constructor({ baseTitle, onChange = () => {} }) {
    this.baseTitle = baseTitle;
    this.onChange = onChange;
    this.unread = 0;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.unread = 0;
      this.showTitle();
    });
  }

  showTitle() {
    document.title = this.unread ? `(${this.unread}) ${this.baseTitle()}` : this.baseTitle();
  }

  // A live message from someone else: counted while the tab is hidden; notified if it mentions me.
  received({ sender, room, message }, mentionsMe) {
    if (!document.hidden) return;
    this.unread += 1;
    this.showTitle();
    if (mentionsMe && this.notifying) this.notify(sender, room, message);
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
    return this.notifying ? "You are notified of @mentions while this tab is in the background." : "";
  }

  notify(sender, room, message) {
    const body = message.length > EXCERPT_CHARS ? `${message.slice(0, EXCERPT_CHARS)}…` : message;
    try {
      const notification = new Notification(`${sender} mentioned you in #${room}`, { body, tag: `wschat-${room}` });
      notification.addEventListener("click", () => {
        window.focus();
        notification.close();
      });
    } catch {
      // Some browsers only allow notifications from a service worker: the title count still shows.
    }
  }
}
