// The chat page's state: the room it wants and the room it shows, the history requests in flight,
// and whether the session is over. The message list, the outbox and the clocks keep their own.
import { config, fullMatch } from "./config.js";

export const isRoomName = fullMatch(config.roomPattern);

export function createState(savedRoom) {
  return {
    // A stored room that is not a valid name (tampered storage) would make every connect fail.
    room: isRoomName(savedRoom) ? savedRoom : config.defaultRoom,
    shownRoom: null, // the room whose messages the list shows; null until the first welcome
    // Kinds of the history requests in flight, oldest first: the server answers in order, and a
    // history frame does not say which request it answers.
    historyRequests: [],
    // The catch-up after a reconnect, while it runs: {after: the cursor asked for, attempts: failed
    // tries of that page, timer: the retry waiting}. null otherwise.
    catchUp: null,
    ended: false, // logged out or expired: nothing reconnects, nothing redirects twice
    // Rooms: the join in flight (its room; null if none); kicked or banned from the room shown (the
    // connection is in no room); the connect attempt ({room, opened}); a room whose connect failed,
    // asked for again by join once the default room's connection is in (chat.js connectFailed);
    // a banner to show after the next welcome (why the page moved).
    joining: null,
    outOfRoom: false,
    attempt: null,
    refusedRoom: null,
    afterWelcome: null,
    welcomed: false, // a welcome came on this connection (the first asks for the rooms list)
  };
}
