// The chat page's shared state, in one store: the connection's phase, the room the page wants and
// the room it shows, the join and the history requests in flight, the catch-up after a reconnect,
// and what a failed connect or a removal leaves for the next welcome. It changes only through the
// named transitions below, each of which says what it may follow; subscribers hear of every change.
// No DOM, no socket, no timers: the modules that do the work call the transitions and act on what
// they return. The message list, the outbox, the clocks and the rooms keep their own data.

// The connection's phases. `ended` is final: logged out or expired, nothing reconnects.
export const Phase = Object.freeze({
  STARTING: "starting", // the page has not connected yet
  CONNECTING: "connecting", // the first connection is being opened
  RECONNECTING: "reconnecting", // a later one is
  JOINING: "joining", // open, and the join the socket sent on opening is not answered yet
  WELCOMED: "welcomed", // in a room
  CATCHING_UP: "catching-up", // in a room, asking for what was missed while away
  DISCONNECTED: "disconnected", // closed, or waiting to try again
  ENDED: "ended",
});

// What each phase may follow. A transition asked for out of turn leaves the phase as it is (its
// data still change as they always did: a frame that arrives is a fact, whatever the page expected).
const FOLLOWS = {
  [Phase.CONNECTING]: [Phase.STARTING, Phase.DISCONNECTED],
  [Phase.RECONNECTING]: [Phase.STARTING, Phase.CONNECTING, Phase.RECONNECTING, Phase.JOINING, Phase.WELCOMED,
    Phase.CATCHING_UP, Phase.DISCONNECTED],
  [Phase.JOINING]: [Phase.CONNECTING, Phase.RECONNECTING],
  [Phase.WELCOMED]: [Phase.JOINING, Phase.WELCOMED, Phase.CATCHING_UP],
  [Phase.CATCHING_UP]: [Phase.WELCOMED, Phase.CATCHING_UP],
  [Phase.DISCONNECTED]: [Phase.STARTING, Phase.CONNECTING, Phase.RECONNECTING, Phase.JOINING, Phase.WELCOMED,
    Phase.CATCHING_UP, Phase.DISCONNECTED],
};

// What a failed connect does next (connectFailed).
export const ConnectFailure = Object.freeze({
  DROPPED: "dropped", // an open connection dropped: reconnect to the same room
  RETRYING: "retrying", // a connect to the room wanted failed: most likely the network, the next try asks for it again
  // it failed so often that the room may refuse it: the next try goes to the default room
  TRYING_DEFAULT: "trying-default",
  BACK_TO_WANTED: "back-to-wanted", // the default room failed too: most likely the network; back to the room wanted
  DEFAULT_FAILED: "default-failed", // the default room itself could not be reached
});

// Connects to the room wanted that fail before a try goes to the default room. A browser cannot tell
// a refused connect (403: a private room, a ban) from a network that is down, and a network that is
// down must never move the page to another room (its queued messages belong to the room wanted):
// only a try that opens elsewhere and then a join refused by the server may leave that room. Three
// tries (about 2-3 s of backoff) before the default room: a stale link to a private room is said
// within seconds, and queued messages wait for their own room whatever the page is showing.
export const CONNECT_TRIES_BEFORE_DEFAULT = 3;

// What API Gateway's own typeless error frame answers (gatewayError): it does not say.
export const Unanswered = Object.freeze({ JOIN: "join", HISTORY: "history", MESSAGE: "message" });

export class PageStore {
  #phase = Phase.STARTING;
  #everOpened = false;
  #defaultRoom; // where the page goes when the room it wants cannot be had
  #room; // the room the next connection or join asks for
  #shownRoom = null; // the room whose messages the list shows; null until the first welcome
  #joining = null; // the room of the join in flight on the open connection
  #outOfRoom = false; // kicked or banned from the room shown: the connection is in no room
  #attempt = null; // the connect attempt: {room, opened}
  #failedConnects = 0; // connects to the room wanted in a row that never opened
  #refusedRoom = null; // a room whose connect failed, asked for again by a join once the default room is in
  #afterWelcome = null; // a banner to show after the next welcome (why the page moved)
  #welcomed = false; // a welcome came on this connection (the first asks for the rooms list)
  // Kinds of the history requests in flight, oldest first: the server answers in order, and a
  // history frame does not say which request it answers.
  #historyRequests = [];
  #catchUp = null; // {after: the cursor asked for, attempts: failed tries of that page}
  #endReason = null;
  #subscribers = new Set();

  // `room`: the room to connect to first (the caller has checked that it is a room name);
  // `defaultRoom`: the server's default room.
  constructor({ room, defaultRoom }) {
    this.#room = room;
    this.#defaultRoom = defaultRoom;
  }

  // -- reading -------------------------------------------------------------------------------------

  get phase() { return this.#phase; }
  get room() { return this.#room; }
  get shownRoom() { return this.#shownRoom; }
  // The room the page is about: the one shown, or before any welcome the one asked for.
  get currentRoom() { return this.#shownRoom ?? this.#room; }
  get joiningRoom() { return this.#joining; }
  get outOfRoom() { return this.#outOfRoom; }
  get isEnded() { return this.#phase === Phase.ENDED; }
  get endReason() { return this.#endReason; }
  get historyInFlight() { return this.#historyRequests.length; }
  get catchUp() { return this.#catchUp && { ...this.#catchUp }; }
  // A message typed in `room` may go now: the connection is welcomed in that room, no join is in
  // flight and no removal has left it in no room. The server stores a message in the connection's
  // room, so this is what keeps every message in the room it was typed in.
  mayPostIn(room) {
    return (this.#phase === Phase.WELCOMED || this.#phase === Phase.CATCHING_UP) && room === this.#shownRoom
      && this.#joining === null && !this.#outOfRoom;
  }

  // listener(store, transition): called after every transition; returns the unsubscribe function.
  subscribe(listener) {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  // -- the connection ------------------------------------------------------------------------------

  // A connection is being opened; returns the room it asks for (?room=). Remembered to tell a
  // refused connect (403: a private room, a ban) from one that opened.
  connecting() {
    this.#attempt = { room: this.#room, opened: false };
    this.#move(this.#everOpened ? Phase.RECONNECTING : Phase.CONNECTING);
    this.#notify("connecting");
    return this.#room;
  }

  // The connection opened (the socket sends its join): answers to requests made on the old one
  // will never come.
  opened() {
    if (this.#attempt) this.#attempt.opened = true;
    this.#failedConnects = 0;
    this.#everOpened = true;
    this.#welcomed = false;
    this.#joining = null;
    this.#historyRequests = [];
    this.#catchUp = null;
    this.#move(Phase.JOINING);
    this.#notify("opened");
  }

  // The connection closed, or waits to try again.
  disconnected() {
    this.#move(Phase.DISCONNECTED);
    this.#notify("disconnected");
  }

  // A connection closed before it opened or after: what the next try asks for (see ConnectFailure).
  // A dropped connection, and a connect that failed, try the same room again: the page never
  // moves to another room because the network is down. Only after CONNECT_TRIES_BEFORE_DEFAULT
  // failures in a row (the server may refuse ?room= of a private room or a ban with a 403, which a
  // browser cannot tell from a network failure) does a try go to the default room; its welcome then
  // asks for the room wanted again by a join (welcomed's retryRoom), and only the server's refusal
  // of that join leaves the page in the default room.
  connectFailed() {
    const defaultRoom = this.#defaultRoom;
    const attempt = this.#attempt;
    let outcome = ConnectFailure.DEFAULT_FAILED;
    if (!attempt || attempt.opened) {
      outcome = ConnectFailure.DROPPED;
    } else if (attempt.room !== defaultRoom) {
      this.#failedConnects += 1;
      outcome = ConnectFailure.RETRYING;
      if (this.#failedConnects >= CONNECT_TRIES_BEFORE_DEFAULT) {
        this.#refusedRoom = attempt.room;
        this.#room = defaultRoom;
        this.#failedConnects = 0;
        outcome = ConnectFailure.TRYING_DEFAULT;
      }
    } else if (this.#refusedRoom) {
      this.#room = this.#refusedRoom;
      this.#refusedRoom = null;
      outcome = ConnectFailure.BACK_TO_WANTED;
    }
    this.#notify("connectFailed");
    return outcome;
  }

  // API Gateway answered a request with its own error frame, which names no request: the oldest
  // one in flight failed. A join comes first (nothing else is sent to a room until its welcome),
  // then the history requests, then the outbox's message. Returns which (Unanswered).
  gatewayError() {
    let failed = Unanswered.MESSAGE;
    if (this.#phase === Phase.JOINING || this.#joining !== null) failed = Unanswered.JOIN;
    else if (this.#historyRequests.length) failed = Unanswered.HISTORY;
    this.#notify("gatewayError");
    return failed;
  }

  // Logged out or expired, for good. Returns false if the session had ended already.
  ended(reason) {
    if (this.isEnded) return false;
    this.#phase = Phase.ENDED;
    this.#endReason = reason;
    this.#notify("ended");
    return true;
  }

  // -- rooms ---------------------------------------------------------------------------------------

  // The room the next connection asks for (no join can go now: the socket is closed).
  wantRoom(room) {
    this.#room = room;
    this.#notify("wantRoom");
  }

  // A join of `room` was sent on the open connection.
  joining(room) {
    this.#room = room;
    this.#joining = room;
    this.#notify("joining");
  }

  // A welcome for `room`. Returns what the page does about it: `entering` (another room than the
  // one shown: the list starts over), `firstOfConnection`, `banner` (why the page moved, or null)
  // and `retryRoom` (the room whose connect failed, to join now that the default room is in, or null).
  welcomed(room) {
    const entering = room !== this.#shownRoom;
    const firstOfConnection = !this.#welcomed;
    const banner = this.#afterWelcome;
    const wanted = this.#refusedRoom;
    this.#afterWelcome = null;
    this.#refusedRoom = null;
    this.#joining = null;
    this.#outOfRoom = false;
    this.#welcomed = true;
    if (entering) {
      this.#shownRoom = room;
      this.#room = room;
      this.#historyRequests = [];
      this.#catchUp = null;
    }
    this.#move(Phase.WELCOMED);
    this.#notify("welcomed");
    const retryRoom = wanted && room === this.#defaultRoom && wanted !== room ? wanted : null;
    return { entering, firstOfConnection, banner, retryRoom };
  }

  // The join in flight was refused. Returns the room that was asked for and whether a room is shown:
  // if none is (the page's first join), the room asked for stays the one the next connection asks
  // for; otherwise the page stays in the room it shows.
  joinRefused() {
    const wanted = this.#joining ?? this.#room;
    this.#joining = null;
    const roomShown = this.#shownRoom !== null;
    if (roomShown) this.#room = this.#shownRoom;
    this.#notify("joinRefused");
    return { wanted, roomShown };
  }

  // Kicked or banned from the room shown: the connection is in no room. `afterWelcome`: what the
  // banner says once the next welcome comes (the page moves to the default room), or null.
  removed({ afterWelcome = null } = {}) {
    this.#outOfRoom = true;
    if (afterWelcome !== null) this.#afterWelcome = afterWelcome;
    this.#notify("removed");
  }

  // -- history -------------------------------------------------------------------------------------

  // A history request of `kind` ("older", or "missed" for the catch-up) went out.
  historyRequested(kind) {
    this.#historyRequests.push(kind);
    this.#notify("historyRequested");
  }

  // A history frame (or a refusal of a history request) came: the kind of the oldest request in
  // flight, or null if none is (the answer to a request of an earlier connection).
  historyAnswered() {
    const kind = this.#historyRequests.shift() ?? null;
    this.#notify("historyAnswered");
    return kind;
  }

  // The catch-up asks for the messages after `cursor`; asking again for the same page keeps the
  // count of its failed tries.
  catchingUp(cursor) {
    const attempts = this.#catchUp && this.#catchUp.after === cursor ? this.#catchUp.attempts : 0;
    this.#catchUp = { after: cursor, attempts };
    this.#move(Phase.CATCHING_UP);
    this.#notify("catchingUp");
  }

  // A catch-up page failed: the number of failed tries of that page, or null if no catch-up runs.
  catchUpFailed() {
    if (!this.#catchUp) return null;
    this.#catchUp = { ...this.#catchUp, attempts: this.#catchUp.attempts + 1 };
    this.#notify("catchUpFailed");
    return this.#catchUp.attempts;
  }

  // The catch-up finished, gave up, or no longer applies.
  caughtUp() {
    this.#catchUp = null;
    if (this.#phase === Phase.CATCHING_UP) this.#move(Phase.WELCOMED);
    this.#notify("caughtUp");
  }

  #move(phase) {
    if (this.#phase === Phase.ENDED || !FOLLOWS[phase].includes(this.#phase)) return;
    this.#phase = phase;
  }

  #notify(transition) {
    for (const listener of this.#subscribers) listener(this, transition);
  }
}
