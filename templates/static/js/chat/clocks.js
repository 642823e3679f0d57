// The session menu's clocks (connected at, session time, token and session-limit countdowns, the
// auto-disconnect), ticking every second, and what happens when one runs out.
import { formatClock, formatDuration } from "../clock.js";
import { $ } from "../dom.js";

const TICK_MS = 1_000;

export class Clocks {
  // clock: the SessionClock; signIn: the SignIn (a token run out, a session ended); socket: closed by
  // the auto-disconnect; closePanels(): close the open menu; banner: says it disconnected.
  constructor({ clock, store, signIn, socket, closePanels, banner }) {
    Object.assign(this, { clock, store, signIn, socket, closePanels, banner });
  }

  start() {
    this.tick();
    setInterval(() => this.tick(), TICK_MS);
  }

  connected(welcome) {
    this.clock.connected(welcome);
    $("connected-at").textContent = formatClock(this.clock.connectedAt);
    $("connected-at").title = this.clock.connectedAt.toISOString();
    this.tick();
  }

  tick() {
    const now = Date.now();
    const seconds = this.clock.read(now);
    if (seconds.session !== null) $("session-timer").textContent = formatDuration(seconds.session);
    $("token-countdown").textContent = formatDuration(seconds.token);
    if (seconds.limit !== null) {
      $("limit-row").hidden = false;
      $("limit-countdown").textContent = formatDuration(seconds.limit);
    }
    if (seconds.auto !== null) $("auto-countdown").textContent = `(in ${formatDuration(seconds.auto)})`;
    if (this.store.isEnded) return;
    const due = this.clock.due(now);
    if (due === "auto") this.autoDisconnect();
    else if (due === "token_expired") this.signIn.tokenRanOut();
    else if (due) this.signIn.end(due);
  }

  autoDisconnect() {
    const minutes = $("auto-minutes").value;
    this.clock.setAutoDisconnect(null);
    $("auto-countdown").textContent = "";
    $("auto-enabled").checked = false;
    this.socket.close();
    // Out of the way (the menu may be open, over the banner): what happened and Reconnect come first.
    this.closePanels();
    this.banner.show(`Disconnected automatically after ${minutes} min.`, { offerReconnect: true });
  }

  // The auto-disconnect's checkbox or minutes changed.
  autoDisconnectChanged() {
    this.clock.setAutoDisconnect($("auto-enabled").checked ? Number($("auto-minutes").value) : null);
    if (this.clock.autoDeadline === null) $("auto-countdown").textContent = "";
    this.tick();
  }
}
