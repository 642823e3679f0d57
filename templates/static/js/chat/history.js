// History requests: older pages on demand, and the catch-up after a reconnect (page by page, each
// page retried a few times). The page store keeps which requests are in flight and the catch-up's
// cursor; this module sends them, shows what comes back and keeps the retry's timer.
import { config } from "../config.js";

// A catch-up page that fails is asked for again this many times in all, a little later each time,
// before the page gives up on it, says so, and goes on sending.
const CATCH_UP_ATTEMPTS = 3;
const CATCH_UP_RETRY_MS = 1_000;

export class History {
  // send(frame): true if sent; messages: the MessageList; features: the MessageFeatures (a message
  // shown again is refreshed); outbox: waits while the catch-up runs; loadOlder: the button.
  constructor({ store, send, messages, features, outbox, banner, loadOlder }) {
    Object.assign(this, { store, send, messages, features, outbox, banner, loadOlder });
    this.retryTimer = null;
    // A catch-up ended by anything (a new connection, another room entered) takes its retry along.
    store.subscribe(() => {
      if (store.catchUp) return;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    });
  }

  // A message from a welcome or a history page: shown once; shown already (a catch-up after a
  // reconnect), its latest text and reactions.
  show(frame) {
    this.outbox.seen(frame);
    if (this.messages.ids.has(frame.id)) this.features.refresh(frame);
    this.messages.insert(frame);
  }

  request(kind, query) {
    const sent = this.send({ action: "history", ...query, limit: config.historyMaxLimit });
    if (sent) this.store.historyRequested(kind);
    return sent;
  }

  requestOlder() {
    if (this.messages.oldestId) this.request("older", { before: this.messages.oldestId });
  }

  // Asks for the messages after `cursor`; the outbox waits until the catch-up finishes or gives up.
  startCatchUp(cursor) {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.store.catchingUp(cursor);
    // Not sent (the socket closed meanwhile): the next welcome starts over.
    this.request("missed", { after: cursor });
  }

  finishCatchUp() {
    this.store.caughtUp();
    this.outbox.resume();
  }

  received(frame) {
    const kind = this.store.historyAnswered() ?? "missed";
    if (frame.room !== this.store.shownRoom) return;
    if (kind === "older") {
      this.messages.keepingPlace(() => frame.messages.forEach((message) => this.show(message)));
      this.loadOlder.hidden = !frame.hasMore;
      return;
    }
    this.messages.batch(() => frame.messages.forEach((message) => this.show(message)));
    // A catch-up of more than one page goes on exactly where this page stopped (live messages
    // shown meanwhile may be newer: going on after them would skip what lies between).
    const last = frame.messages.at(-1);
    if (frame.hasMore && last) this.startCatchUp(last.id);
    else this.finishCatchUp();
  }

  // An error frame answering a history request: the oldest in flight.
  refused(frame) {
    if (!this.store.historyInFlight) return;
    const kind = this.store.historyAnswered();
    if (kind === "older") {
      this.banner.show(`Could not load older messages: ${frame.message}`);
      return;
    }
    const catchUp = this.store.catchUp;
    if (!catchUp) return;
    const attempts = this.store.catchUpFailed();
    if (attempts < CATCH_UP_ATTEMPTS) {
      this.retryTimer = setTimeout(() => this.startCatchUp(catchUp.after), CATCH_UP_RETRY_MS * attempts);
      return;
    }
    // Given up: say so where the gap is and above the list, and go on sending.
    this.messages.notice("Some messages sent while you were away could not be loaded.");
    this.banner.show(`Could not load the messages you missed (${frame.message}). Reload the page to try again.`);
    this.finishCatchUp();
  }
}
