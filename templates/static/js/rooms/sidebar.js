// The sidebar's two lists: the user's rooms (with the room shown, even one they only visit) and
// their direct conversations; a guest is offered neither a new room nor a new conversation.
import { $ } from "../dom.js";
import { isDm } from "./roster.js";
import { renderRoomList } from "./view.js";

// roster: the Roster; current: the room shown; open(room): a click on a room.
export function renderSidebar({ roster, current, guest, open }) {
  const rooms = roster.mine.filter((entry) => !entry.dm);
  // The room shown is listed even if the user only visits it (any public room).
  if (current && !isDm(current) && !rooms.some((entry) => entry.room === current)) {
    rooms.unshift({ room: current, dm: false, visibility: "public", notMember: true });
  }
  const dms = roster.mine.filter((entry) => entry.dm);
  if (current && isDm(current) && !dms.some((entry) => entry.room === current)) {
    dms.unshift({ room: current, dm: true, with: roster.names.get(current) });
  }
  renderRoomList($("room-list"), rooms, current, open);
  renderRoomList($("dm-list"), dms, current, open);
  $("dm-empty").hidden = dms.length > 0;
  $("new-room").hidden = guest;
  $("new-dm").hidden = guest;
}
