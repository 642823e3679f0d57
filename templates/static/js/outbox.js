// Messages typed but not yet confirmed by their echo. The server may handle one connection's frames
// concurrently and store them in either order (docs/protocol.md), so one message is in flight at a
// time and the next goes out after its echo: each sender's messages are stored in the order they
// were written. Every message carries the room it was typed in and goes out only while the page is
// in that room (canSend): the server stores a message in the connection's room, so a message sent
// from anywhere else would land in the wrong room (the server refuses it too: wrong_room). Queued
// messages survive a dropped connection and go out after the reconnect; a message the server refused
// for now (rate limited) stays first and goes again after the wait; a message unanswered after
// `timeoutMs` goes again with the same clientMsgId (the server answers a repeat with the original).
// Nothing leaves the queue unless its echo confirms it, refuse() hands it back, or the user discards it.

export class Outbox {
  // send(frame): true if the frame went out (the socket is open); onChange(): after the queue changes;
  // canSend(room): the page is in `room` now (welcomed there, no join in flight); timeoutMs: how long
  // a message in flight waits for its answer before it goes again; onTimeout(entry): it did not come.
  constructor({ send, onChange, canSend = () => true, timeoutMs = 0, onTimeout = () => {} }) {
    Object.assign(this, { send, onChange, canSend, timeoutMs, onTimeout });
    this.queue = []; // {message, room, clientMsgId, replyTo?, tries, queuedAt}, oldest first
    this.inFlight = null; // the entry sent whose echo has not come back
    this.paused = false;
    this.holdTimer = null; // set while a message waits out the server's rate limit
    this.answerTimer = null; // the request timeout of the message in flight
    this.slowed = false; // a rate limit held a message back and the queue has not emptied since
  }

  // True while a message waits for the server's rate limit to let it through.
  get held() {
    return this.holdTimer !== null;
  }

  get waiting() {
    return this.queue.length;
  }

  // The messages typed in `room` that are not confirmed yet, oldest first.
  pendingIn(room) {
    return this.queue.filter((entry) => entry.room === room);
  }

  // extra: more fields of the sendmessage frame ({room, replyTo}).
  add(message, extra = {}) {
    this.queue.push({ message, ...extra, clientMsgId: crypto.randomUUID(), tries: 0, queuedAt: Date.now() });
    this.pump();
  }

  // Sends the oldest message of the room the page is in, if nothing is in flight or held.
  pump() {
    this.changed();
    if (this.inFlight || this.paused || this.holdTimer !== null) return;
    // The oldest of the room the page is in (a held message is the oldest of its room).
    const next = this.queue.find((entry) => this.canSend(entry.room));
    if (next) this.transmit(next);
  }

  transmit(entry) {
    const { message, room, clientMsgId, replyTo } = entry;
    const frame = { action: "sendmessage", message, clientMsgId };
    if (room !== undefined) frame.room = room;
    if (replyTo !== undefined) frame.replyTo = replyTo;
    if (!this.send(frame)) return;
    this.inFlight = entry;
    entry.tries += 1;
    this.armTimeout(entry);
    this.changed();
  }

  armTimeout(entry) {
    clearTimeout(this.answerTimer);
    this.answerTimer = null;
    if (!this.timeoutMs) return;
    this.answerTimer = setTimeout(() => {
      this.answerTimer = null;
      if (this.inFlight !== entry) return;
      // No answer: the same message again (same clientMsgId, so never stored twice).
      this.inFlight = null;
      this.onTimeout(entry);
      this.pump();
    }, this.timeoutMs);
  }

  settle() {
    clearTimeout(this.answerTimer);
    this.answerTimer = null;
    this.inFlight = null;
  }

  // While a reconnect fetches what it missed nothing goes out: one of the missed may be a queued
  // message stored before the drop (its echo lost), and seen() must drop it before it is resent.
  pause() {
    this.paused = true;
    this.changed();
  }

  resume() {
    this.paused = false;
    this.pump();
  }

  // A message frame, live or from history, of any room: the echo of one of ours confirms it.
  seen(frame) {
    const index = this.queue.findIndex((entry) => entry.clientMsgId === frame.clientMsgId);
    if (index < 0) return;
    const [entry] = this.queue.splice(index, 1);
    if (this.inFlight === entry) {
      // The echo of the message in flight: the next one may go.
      this.settle();
      this.pump();
    } else {
      // Stored before a drop, its echo lost: it must not be sent again.
      this.changed();
    }
  }

  // The server refused the message in flight for now (rate_limited: neither stored nor sent). It
  // stays first, so that the order holds, and goes again in `ms`; the ones behind it wait too.
  // Returns false if nothing was in flight.
  holdFor(ms) {
    if (!this.inFlight) return false;
    this.settle();
    this.slowed = true;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      this.pump();
    }, ms);
    this.changed();
    return true;
  }

  // The server refused the message in flight for good (too long, invalid...): returns its text, so
  // the page can give it back rather than lose it; null if nothing was in flight.
  refuse() {
    const refused = this.inFlight;
    if (!refused) return null;
    this.queue.splice(this.queue.indexOf(refused), 1);
    this.settle();
    this.pump();
    return refused.message;
  }

  // The message in flight was not handled: API Gateway's own error frame answered it, or the server
  // said the connection is not in its room (wrong_room). It stays queued, unconfirmed, and goes
  // again when pump() next finds its room; returns it (null if none was in flight, or the frame
  // names another message).
  unanswered(clientMsgId = null) {
    const entry = this.inFlight;
    if (!entry || (clientMsgId && entry.clientMsgId !== clientMsgId)) return null;
    this.settle();
    this.changed();
    return entry;
  }

  // Retry now (the user asked): the message goes at once if the page is in its room.
  retry(clientMsgId) {
    const entry = this.queue.find((candidate) => candidate.clientMsgId === clientMsgId);
    if (!entry) return;
    if (this.inFlight === entry) this.settle();
    this.pump();
  }

  // The user gave up on a message: it leaves the queue. If it was in flight and the server stored
  // it after all, its echo still shows it (an echo is a fact).
  discard(clientMsgId) {
    const index = this.queue.findIndex((entry) => entry.clientMsgId === clientMsgId);
    if (index < 0) return;
    const [entry] = this.queue.splice(index, 1);
    if (this.inFlight === entry) this.settle();
    this.pump();
  }

  // The connection dropped: the message in flight goes out again after the reconnect, unless its
  // echo or the catch-up shows it was stored. A hold runs on: its timer only calls pump().
  disconnected() {
    this.settle();
    this.changed();
  }

  changed() {
    if (!this.queue.length) this.slowed = false;
    this.onChange();
  }
}
