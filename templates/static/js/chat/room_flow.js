// Which room the page is in: switching rooms, the welcome that enters one (or comes back to it after
// a reconnect, and catches up), a refused join, a removal (kicked, banned), and a connect that never
// opened. The page store holds the rooms wanted and shown; this module does what each step shows.
import { config } from "../config.js";
import { cursorBefore } from "../messages.js";
import { isRoomName } from "../names.js";
import { joinRefusal, removalWords } from "../refusals.js";
import { saveRoom } from "../session.js";
import { ConnectFailure } from "../page_store.js";

// A reconnect asks for history from this long before the last message seen (see cursorBefore).
const CATCH_UP_LOOKBACK_MS = 10_000;
// A join unanswered this long goes again (a join of the room the connection is in is harmless).
export const JOIN_TIMEOUT_MS = 8_000;
// A join answered by API Gateway's error frame goes again after this pause.
const JOIN_RETRY_MS = 500;

export class RoomFlow {
  // socket: the ChatSocket; view: the PageView; history: the History; composer: the Composer;
  // closePanels(): close the open drawer; loadOlder: the button.
  constructor({ store, socket, view, banner, rooms, features, messages, outbox, history, composer, closePanels,
    loadOlder }) {
    Object.assign(this, { store, socket, view, banner, rooms, features, messages, outbox, history, composer,
      closePanels, loadOlder });
    this.joinTimer = null;
  }

  // The connection opened: the join of the room it asked for (?room=) goes.
  opened() {
    this.sendJoin(null);
  }

  // Sends a join (of `room`, or of the connection's own room for null) and watches for its answer:
  // unanswered after JOIN_TIMEOUT_MS, the socket is probed and the join goes again.
  sendJoin(room) {
    const { store, socket } = this;
    if (room !== null) store.joining(room);
    socket.send(room === null ? { action: "join" } : { action: "join", room });
    clearTimeout(this.joinTimer);
    this.joinTimer = setTimeout(() => {
      this.joinTimer = null;
      if (!socket.isOpen || store.mayPostIn(store.shownRoom)) return;
      socket.probe();
      this.sendJoin(store.joiningRoom);
    }, JOIN_TIMEOUT_MS);
  }

  joinAnswered() {
    clearTimeout(this.joinTimer);
    this.joinTimer = null;
  }

  // API Gateway's error frame answered the join: it goes again.
  joinFailedAtGateway() {
    clearTimeout(this.joinTimer);
    this.joinTimer = setTimeout(() => {
      this.joinTimer = null;
      if (this.socket.isOpen) this.sendJoin(this.store.joiningRoom);
    }, JOIN_RETRY_MS);
  }

  // The server refused a message because the connection is not in the room the page shows
  // (wrong_room: nothing stored). The page and the server disagree on the room: the page joins its
  // room again, and the message, still queued, goes once the welcome is in. A message of a room
  // the user has left meanwhile just waits for that room.
  wrongRoom(room) {
    if (room === this.store.shownRoom && this.socket.isOpen) this.sendJoin(room);
  }

  // Goes to `room` (a click in the sidebar, the directory, an invitation, the Room field): a join on
  // the open connection; while there is none, the next connection asks for it.
  switchTo(room) {
    const { store, socket } = this;
    if (room === store.shownRoom && !store.outOfRoom) {
      this.view.showRoom(room);
      return;
    }
    if (socket.isOpen) {
      this.sendJoin(room);
    } else {
      store.wantRoom(room);
      if (!socket.ws) socket.open(); // waiting to retry: try now, with this room
    }
  }

  // The Room field was submitted.
  roomTyped(text) {
    const room = text.trim();
    if (!isRoomName(room)) {
      // The field goes back to the room shown, so that the field and the heading agree; the banner
      // quotes what was refused (as text).
      const current = this.store.currentRoom;
      this.banner.show(`Room names are 1-${config.roomMaxChars} characters of letters, digits, _ and -: `
        + `"${room}" is not one. You are still in ${this.view.roomTitle(current)}.`);
      this.view.showRoom(current);
      return;
    }
    this.closePanels();
    this.switchTo(room);
  }

  welcomed(frame) {
    const { messages, outbox, features } = this;
    this.joinAnswered();
    this.banner.hide();
    const { entering, firstOfConnection, banner, retryRoom } = this.store.welcomed(frame.room);
    if (banner) this.banner.show(banner);
    const missedSince = entering ? null : messages.lastId;
    if (entering) this.enterRoom(frame.room, frame.hasMore);
    else features.roomChanged({ same: true });
    // Nothing queued goes out until the history is in: it may hold one of ours, stored before a
    // drop that lost its echo.
    outbox.pause();
    messages.batch(() => frame.history.forEach((message) => this.history.show(message)));
    this.view.showPresence(frame.online, frame.onlineCount);
    messages.scrollToBottom();
    // The "New messages" line at the read marker, when the page enters the room.
    if (entering) features.entered(frame.lastRead);
    // Back from a drop in the same room: the welcome holds only the last page of history, so ask
    // for everything since the last message seen.
    if (missedSince) this.history.startCatchUp(cursorBefore(missedSince, CATCH_UP_LOOKBACK_MS));
    else outbox.resume();
    this.rooms.welcomed(frame, { firstOfConnection });
    this.view.showRoom(frame.room, { field: false });
    // A room whose connect failed is asked for again, now that the default room's connection is
    // in: the server says why it refuses it.
    if (retryRoom) this.switchTo(retryRoom);
  }

  enterRoom(room, hasOlder) {
    this.messages.clear();
    this.features.roomChanged();
    // The room entered is being read: its badge goes, and it leaves the title's count.
    this.rooms.markRead(room);
    saveRoom(room);
    this.view.showRoom(room);
    this.view.showUnread();
    this.loadOlder.hidden = !hasOlder;
    this.composer.restoreDraft(room);
  }

  // The page stays in the room it shows, and the room field says so again (it held the refused name).
  joinRefused(frame) {
    this.joinAnswered();
    const { wanted, roomShown } = this.store.joinRefused();
    const refusal = joinRefusal(frame, this.view.roomTitle(wanted));
    if (!roomShown) {
      // The first join of the page (no room shown yet): said, and the room asked for stays the
      // one the next connection asks for.
      this.banner.show(refusal);
      return;
    }
    const shown = this.store.shownRoom;
    this.view.showRoom(shown);
    const where = this.store.outOfRoom ? "Open another room to go on."
      : `You are still in ${this.view.roomTitle(shown)}.`;
    this.banner.show(`${refusal} ${where}`);
  }

  // Kicked or banned from the room shown: the connection is in no room. Back to the default room
  // (unless that is the room), saying why.
  removed(frame) {
    this.rooms.removed();
    if (frame.room !== this.store.shownRoom) return;
    const words = removalWords(frame, this.rooms.label(frame.room));
    if (frame.room !== config.defaultRoom) {
      const text = `${words} You are back in #${config.defaultRoom}.`;
      this.store.removed({ afterWelcome: text });
      this.view.presenceUnknown();
      this.banner.show(text);
      this.switchTo(config.defaultRoom);
    } else {
      this.store.removed();
      this.view.presenceUnknown();
      this.banner.show(`${words} Open another room to go on.`);
    }
  }

  // A connection closed: if it never opened, the next try may go elsewhere (PageStore.connectFailed).
  connectFailed() {
    if (this.store.connectFailed() !== ConnectFailure.DEFAULT_FAILED) return;
    this.banner.show(`Could not connect to #${config.defaultRoom} (trying again). If you were banned from it, `
      + "type another room's name in the Room field.");
  }
}
