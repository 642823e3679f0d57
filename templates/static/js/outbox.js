// Messages typed but not yet confirmed by their echo. The server may handle one connection's frames
// concurrently and store them in either order (docs/protocol.md), so one message is in flight at a
// time and the next goes out after its echo: each sender's messages are stored in the order they
// were written. Queued messages survive a dropped connection and go out after the reconnect; a
// message the server refused for now (rate limited) stays first and goes again after the wait.
// Nothing leaves the queue unless its echo confirms it or refuse() hands it back to the page.

export class Outbox {
  // send(frame): true if the frame went out (the socket is open); onChange(): after the queue changes.
  constructor({ send, onChange }) {
    this.send = send;
    this.onChange = onChange;
    this.queue = []; // {message, clientMsgId}, oldest first
    this.inFlight = false; // queue[0] was sent and its echo has not come back
    this.paused = false;
    this.holdTimer = null; // set while queue[0] waits out the server's rate limit
    this.slowed = false; // a rate limit held a message back and the queue has not emptied since
  }

  get waiting() {
    return this.queue.length;
  }

  // True while the oldest message waits for the server's rate limit to let it through.
  get held() {
    return this.holdTimer !== null;
  }

  // extra: more fields of the sendmessage frame ({replyTo}).
  add(message, extra = {}) {
    this.queue.push({ message, ...extra, clientMsgId: crypto.randomUUID() });
    this.pump();
  }

  // Sends the oldest message if nothing is in flight.
  pump() {
    this.changed();
    if (this.inFlight || this.paused || this.held || !this.queue.length) return;
    if (this.send({ action: "sendmessage", ...this.queue[0] })) this.inFlight = true;
  }

  // While a reconnect fetches what it missed nothing goes out: one of the missed may be a queued
  // message stored before the drop (its echo lost), and seen() must drop it before it is resent.
  pause() {
    this.paused = true;
  }

  resume() {
    this.paused = false;
    this.pump();
  }

  // A message frame of the shown room, live or from history.
  seen(frame) {
    const index = this.queue.findIndex((entry) => entry.clientMsgId === frame.clientMsgId);
    if (index < 0) return;
    this.queue.splice(index, 1);
    if (index === 0 && this.inFlight) {
      // The echo of the message in flight: the next one may go.
      this.inFlight = false;
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
    this.inFlight = false;
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
    if (!this.inFlight) return null;
    const refused = this.queue.shift();
    this.inFlight = false;
    this.pump();
    return refused.message;
  }

  // The connection dropped: the message in flight goes out again after the reconnect, unless its
  // echo or the catch-up shows it was stored. A hold runs on: its timer only calls pump().
  disconnected() {
    this.inFlight = false;
    this.changed();
  }

  changed() {
    if (!this.queue.length) this.slowed = false;
    this.onChange();
  }
}
