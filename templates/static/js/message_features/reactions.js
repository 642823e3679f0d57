// Reactions: each message's emoji with their counts and (some of) who reacted, the picker, a
// reaction toggled, and the reaction frames every open page applies.
import { config } from "../config.js";
import { messageActionRefusal } from "../refusals.js";
import { emojiPicker, renderReactions } from "./view.js";

// A reaction frame applied to a message's reactions ([{emoji, count, users, me}], changed in
// place): the frame's count stands, the reactor's name is listed (up to namesShown names) or
// dropped, and an emoji nobody holds goes. False if there was nothing to change.
export function applyReaction(list, frame, { me, namesShown }) {
  let entry = list.find((r) => r.emoji === frame.emoji);
  if (!entry) {
    if (!frame.added) return false;
    entry = { emoji: frame.emoji, count: 0, users: [], me: false };
    list.push(entry);
  }
  entry.count = frame.count;
  entry.users = entry.users.filter((user) => user !== frame.user);
  if (frame.added && entry.users.length < namesShown) entry.users.push(frame.user);
  if (frame.user === me) entry.me = frame.added;
  if (entry.count <= 0) list.splice(list.indexOf(entry), 1);
  return true;
}

export class Reactions {
  // items: the MessageItems; send(frame): true if sent; room(): the room shown; banner(text).
  constructor({ me, items, send, room, banner }) {
    Object.assign(this, { me, items, send, room, banner });
    this.byId = new Map(); // message id -> [{emoji, count, users, me}]
    this.picker = null; // {node, id}
  }

  // A message item drawn (new, or the same message again): its reactions as the frame has them.
  set(id, reactions, item) {
    this.byId.set(id, reactions ? reactions.map((r) => ({ ...r })) : []);
    this.draw(id, item);
  }

  forget(id) {
    this.byId.delete(id);
  }

  clear() {
    this.byId.clear();
  }

  draw(id, item = this.items.item(id)) {
    const slot = item?.querySelector(".reactions");
    if (slot) renderReactions(slot, this.byId.get(id) ?? [], (emoji) => this.react(id, emoji));
  }

  react(id, emoji) {
    if (!this.send({ action: "react", room: this.room(), id, emoji })) {
      this.banner("Not connected: try again once the page has reconnected.");
    }
  }

  received(frame) {
    if (frame.room !== this.room() || !this.byId.has(frame.id)) return;
    if (applyReaction(this.byId.get(frame.id), frame, { me: this.me, namesShown: config.reactionNamesShown })) {
      this.draw(frame.id);
    }
  }

  openPicker(id) {
    const item = this.items.item(id);
    if (!item) return;
    this.closePicker();
    const present = new Set((this.byId.get(id) ?? []).map((r) => r.emoji));
    const node = emojiPicker({
      label: `React to ${item.dataset.sender}'s message`,
      present,
      full: present.size >= config.reactionKindsMax,
      onPick: (emoji) => {
        this.closePicker({ refocus: true });
        this.react(id, emoji);
      },
      onClose: () => this.closePicker({ refocus: true }),
    });
    item.querySelector(".body").append(node);
    this.picker = { node, id };
    node.querySelector("button:not(:disabled), input")?.focus();
    node.scrollIntoView({ block: "nearest" });
  }

  closePicker({ refocus = false } = {}) {
    const picker = this.picker;
    if (!picker) return;
    this.picker = null;
    const hadFocus = picker.node.contains(document.activeElement);
    picker.node.remove();
    const item = this.items.item(picker.id);
    if (item && (refocus || hadFocus)) this.items.focusMenu(item);
  }

  failed(frame) {
    this.banner(frame.code === "too_large"
      ? `That message has as many reactions as it may hold (${config.reactionKindsMax} different emoji).`
      : `Your reaction did not go through: ${messageActionRefusal(frame)}`);
  }
}
