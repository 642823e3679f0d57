// Edits, reactions, replies, typing and the read marker on the chat page (docs/protocol.md, "Message
// features" and "Read markers"). Edit, Reply and React are items of the shared message menu
// (message_menu.js); their frames (edited, reaction, typing, read) update every open page. The
// server decides everything; a refusal is said in clear words and loses nothing typed.
import { config } from "./config.js";
import {
  editedMark, editorForm, emojiPicker, newMessagesLine, renderQuote, renderReactions, typingWords,
} from "./features_view.js";
import { registerMessageAction } from "./message_menu.js";
import { messageText, mentions } from "./render.js";

const $ = (id) => document.getElementById(id);

// Someone is shown typing this long after their last `typing` frame: the server passes one on at
// most every typingIntervalSeconds while they type, plus room for the network.
const TYPING_SHOWN_MS = config.typingIntervalSeconds * 1000 + 3_000;
// A typing frame this soon after the same user's message is about that message (see typing()).
const TYPING_AFTER_MESSAGE_MS = 1_500;
// The read marker goes to the server at most this often.
const READ_INTERVAL_MS = 2_000;

export class MessageFeatures {
  // The requests this module sends: an error frame answering one of them is its to handle (failed).
  static ACTIONS = ["editmessage", "react", "typing", "read"];

  // send(frame): true if sent; room(): the room shown; messages: the MessageList; banner(text): a
  // problem; composer: the message textarea.
  constructor({ me, send, room, messages, banner, composer }) {
    Object.assign(this, { me, send, room, messages, banner, composer });
    this.reactions = new Map(); // message id -> [{emoji, count, users, me}]
    this.replyTarget = null; // {id, sender, excerpt} while a reply is being written
    this.typists = new Map(); // user -> when their "typing" stops showing (ms)
    this.typingTimer = null;
    this.lastMessageAt = new Map(); // user -> when their last message arrived (ms)
    this.lastTypingSent = 0;
    this.readSent = null; // the newest id sent as read (or heard from another tab) in this room
    this.readAt = 0;
    this.readTimer = null;
    this.pendingEdit = null; // {id, text} of the edit sent and not yet answered
    this.picker = null; // {node, id}

    registerMessageAction({ id: "edit", label: "Edit", visible: (m) => this.mayEdit(m), run: (m) => this.startEdit(m.id) });
    registerMessageAction({ id: "reply", label: "Reply", visible: (m) => this.isLive(m), run: (m) => this.startReply(m.id) });
    registerMessageAction({ id: "react", label: "React…", visible: (m) => this.isLive(m), run: (m) => this.openPicker(m.id) });

    $("reply-cancel").addEventListener("click", () => {
      this.cancelReply();
      this.composer.focus();
    });
    document.addEventListener("visibilitychange", () => this.maybeRead());
    this.messages.list.addEventListener("scroll", () => this.maybeRead());
  }

  // -- what applies to a message --------------------------------------------------------------

  isLive(message) {
    return !!message.id && !message.deleted && message.room === this.room();
  }

  mayEdit(message) {
    return this.isLive(message) && message.sender === this.me;
  }

  item(id) {
    return this.messages.list.querySelector(`li.message[data-id="${CSS.escape(id)}"]`);
  }

  // The message's text as shown (the text paragraph's textContent is the message, exactly).
  textOf(id) {
    return this.item(id)?.querySelector(".body > .text")?.textContent ?? "";
  }

  // -- a message item: its quote, reactions and edited mark (a new item, or the same message again) --

  decorate(item, frame) {
    if (frame.deleted) {
      this.reactions.delete(frame.id);
      return;
    }
    if (frame.replyTo) renderQuote(item.querySelector(".quote-slot"), frame.replyTo, (id) => this.showOriginal(id));
    if (frame.editedAt) this.markEdited(item, frame.editedAt);
    this.reactions.set(frame.id, frame.reactions ? frame.reactions.map((r) => ({ ...r })) : []);
    // The item is not in the list yet: drawn on it directly.
    this.drawReactions(frame.id, item);
  }

  // History brought a message already shown (a catch-up after a reconnect): its latest text and
  // reactions replace what the page had.
  refresh(frame) {
    const item = this.item(frame.id);
    if (!item || frame.deleted || item.dataset.deleted) return;
    if (frame.editedAt) this.applyText(item, frame.message, frame.editedAt);
    if (frame.reactions) {
      this.reactions.set(frame.id, frame.reactions.map((r) => ({ ...r })));
      this.drawReactions(frame.id);
    }
  }

  markEdited(item, editedAt) {
    item.querySelector(".body > .edited")?.remove();
    item.querySelector(".body > .text")?.after(" ", editedMark(editedAt));
    item.dataset.edited = "true";
  }

  applyText(item, text, editedAt) {
    const old = item.querySelector(".body > .text");
    if (!old) return;
    old.replaceWith(messageText(text, this.me));
    item.classList.toggle("mentions-me", mentions(text, this.me) && item.dataset.sender !== this.me);
    this.markEdited(item, editedAt);
  }

  // -- edits -------------------------------------------------------------------------------------

  startEdit(id, text = this.textOf(id)) {
    const item = this.item(id);
    if (!item) return;
    this.closeEditor(item);
    const shown = item.querySelector(".body > .text");
    const form = editorForm(text, {
      onSave: (value) => this.saveEdit(id, value),
      onCancel: () => this.closeEditor(item, { refocus: true }),
    });
    shown.hidden = true;
    shown.after(form);
    item.classList.add("editing");
    const field = form.querySelector("textarea");
    field.focus();
    field.setSelectionRange(field.value.length, field.value.length);
  }

  closeEditor(item, { refocus = false } = {}) {
    const form = item.querySelector(".edit-form");
    if (!form) return;
    form.remove();
    const shown = item.querySelector(".body > .text");
    if (shown) shown.hidden = false;
    item.classList.remove("editing");
    if (refocus) this.focusMenu(item);
  }

  saveEdit(id, value) {
    const item = this.item(id);
    if (!item) return;
    const text = value.trim();
    if (!text || text === this.textOf(id)) {
      // Nothing changed (or nothing left: deleting is the menu's Delete): as a cancel.
      this.closeEditor(item, { refocus: true });
      return;
    }
    if (!this.send({ action: "editmessage", room: this.room(), id, message: text })) {
      this.banner("Not connected: your edit was not saved. Try again once the page has reconnected.");
      return;
    }
    this.pendingEdit = { id, text };
    this.closeEditor(item, { refocus: true });
    item.setAttribute("aria-busy", "true");
  }

  edited(frame) {
    if (this.pendingEdit?.id === frame.id) this.pendingEdit = null;
    if (frame.room !== this.room()) return;
    const item = this.item(frame.id);
    if (!item || item.dataset.deleted) return;
    item.removeAttribute("aria-busy");
    this.applyText(item, frame.message, frame.editedAt);
  }

  // -- reactions ---------------------------------------------------------------------------------

  drawReactions(id, item = this.item(id)) {
    const slot = item?.querySelector(".reactions");
    if (slot) renderReactions(slot, this.reactions.get(id) ?? [], (emoji) => this.react(id, emoji));
  }

  react(id, emoji) {
    if (!this.send({ action: "react", room: this.room(), id, emoji })) {
      this.banner("Not connected: try again once the page has reconnected.");
    }
  }

  reaction(frame) {
    if (frame.room !== this.room() || !this.reactions.has(frame.id)) return;
    const list = this.reactions.get(frame.id);
    let entry = list.find((r) => r.emoji === frame.emoji);
    if (!entry) {
      if (!frame.added) return;
      entry = { emoji: frame.emoji, count: 0, users: [], me: false };
      list.push(entry);
    }
    entry.count = frame.count;
    entry.users = entry.users.filter((user) => user !== frame.user);
    if (frame.added && entry.users.length < config.reactionNamesShown) entry.users.push(frame.user);
    if (frame.user === this.me) entry.me = frame.added;
    if (entry.count <= 0) list.splice(list.indexOf(entry), 1);
    this.drawReactions(frame.id);
  }

  openPicker(id) {
    const item = this.item(id);
    if (!item) return;
    this.closePicker();
    const present = new Set((this.reactions.get(id) ?? []).map((r) => r.emoji));
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
    const item = this.item(picker.id);
    if (item && (refocus || hadFocus)) this.focusMenu(item);
  }

  focusMenu(item) {
    const button = item.querySelector(".message-actions .menu-button");
    if (button) button.focus();
    else this.composer.focus();
  }

  // -- replies -----------------------------------------------------------------------------------

  startReply(id) {
    const item = this.item(id);
    if (!item) return;
    const line = this.textOf(id).replace(/\s+/g, " ").trim();
    const max = config.replyExcerptChars;
    const excerpt = line.length <= max ? line : `${line.slice(0, max - 1)}…`;
    this.replyTarget = { id, sender: item.dataset.sender, excerpt };
    $("reply-sender").textContent = item.dataset.sender;
    $("reply-excerpt").textContent = excerpt;
    $("reply-bar").hidden = false;
    this.composer.focus();
  }

  cancelReply() {
    this.replyTarget = null;
    $("reply-bar").hidden = true;
  }

  // What a message sent now carries besides its text: {replyTo} while replying. The reply is done.
  takeReply() {
    const target = this.replyTarget;
    this.cancelReply();
    return target ? { replyTo: target.id } : {};
  }

  showOriginal(id) {
    const item = this.item(id);
    if (!item) {
      this.banner("The message replied to is not loaded: use Load older messages to find it.");
      return;
    }
    item.tabIndex = -1;
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
    item.classList.remove("flash");
    void item.offsetWidth; // restart the highlight's animation
    item.classList.add("flash");
  }

  // -- typing ------------------------------------------------------------------------------------

  // The composer changed: others are told, at most once every typingIntervalSeconds.
  typed(text) {
    const now = Date.now();
    if (!text.trim() || now - this.lastTypingSent < config.typingIntervalSeconds * 1000) return;
    if (this.send({ action: "typing", room: this.room() })) this.lastTypingSent = now;
  }

  typing(frame) {
    if (frame.room !== this.room() || frame.user === this.me) return;
    // Typing and sending are handled by different functions: the typing frame sent as a message
    // was begun may arrive after the message itself, and would say they are typing it still.
    if (Date.now() - (this.lastMessageAt.get(frame.user) ?? 0) < TYPING_AFTER_MESSAGE_MS) return;
    this.typists.set(frame.user, Date.now() + TYPING_SHOWN_MS);
    this.drawTyping();
  }

  // Their message came: they are no longer typing it.
  messageFrom(user) {
    this.lastMessageAt.set(user, Date.now());
    if (this.typists.delete(user)) this.drawTyping();
  }

  drawTyping() {
    const now = Date.now();
    for (const [user, until] of this.typists) if (until <= now) this.typists.delete(user);
    const text = typingWords([...this.typists.keys()]);
    if ($("typing").textContent !== text) $("typing").textContent = text;
    clearTimeout(this.typingTimer);
    if (this.typists.size) {
      const next = Math.min(...this.typists.values()) - now;
      this.typingTimer = setTimeout(() => this.drawTyping(), Math.max(next, 0) + 1);
    }
  }

  // -- the read marker ---------------------------------------------------------------------------

  // A welcome for a room the page enters: the line goes above the first message from someone else
  // after the marker (none if the marker is null: nothing was ever read here).
  entered(lastRead) {
    this.readSent = lastRead ?? null;
    this.readAt = 0;
    this.placeNewLine(lastRead);
    const line = this.messages.list.querySelector(".new-line");
    // More new messages than fit: the reader starts at the line, not at the bottom.
    if (line && this.messages.list.scrollHeight - line.offsetTop > this.messages.list.clientHeight) {
      line.scrollIntoView({ block: "start" });
    }
    this.maybeRead();
  }

  placeNewLine(lastRead) {
    this.messages.list.querySelector(".new-line")?.remove();
    if (typeof lastRead !== "string") return;
    const first = [...this.messages.list.querySelectorAll("li.message")]
      .find((item) => item.dataset.id > lastRead && item.dataset.sender !== this.me);
    if (first) first.before(newMessagesLine());
  }

  // The marker as the server has it: the answer to this page's own `read` (the line stays where
  // the reader found it), or another tab of mine read further (the line moves there).
  read(frame) {
    if (frame.room !== this.room()) return;
    if (this.readSent !== null && frame.id <= this.readSent) return;
    this.readSent = frame.id;
    this.placeNewLine(frame.id);
  }

  // The newest message is seen (tab visible, list at the bottom): the server is told, at most once
  // every READ_INTERVAL_MS.
  maybeRead() {
    const newest = this.messages.lastId;
    if (!newest || document.hidden || !this.messages.nearBottom()) return;
    if (this.readSent !== null && newest <= this.readSent) return;
    const wait = this.readAt + READ_INTERVAL_MS - Date.now();
    if (wait > 0) {
      if (!this.readTimer) this.readTimer = setTimeout(() => {
        this.readTimer = null;
        this.maybeRead();
      }, wait);
      return;
    }
    if (this.send({ action: "read", room: this.room(), id: newest })) {
      this.readSent = newest;
      this.readAt = Date.now();
    }
  }

  // -- the room changes, and errors ----------------------------------------------------------------

  // The page shows another room (or the same again after a reconnect: `same`).
  roomChanged({ same = false } = {}) {
    this.closePicker();
    this.typists.clear();
    this.drawTyping();
    if (same) return;
    this.cancelReply();
    this.reactions.clear();
    this.pendingEdit = null;
    this.lastTypingSent = 0;
    clearTimeout(this.readTimer);
    this.readTimer = null;
  }

  // An error frame that answers one of this module's requests (its `action` says which): a refused
  // edit goes back into its editor and a refused reaction is said in the banner; typing and read
  // markers fail in silence (nothing the user asked for: a muted user is told when they send).
  failed(frame) {
    if (frame.action === "editmessage") {
      const edit = this.pendingEdit;
      this.pendingEdit = null;
      if (edit && this.item(edit.id)) {
        this.item(edit.id).removeAttribute("aria-busy");
        this.startEdit(edit.id, edit.text);
      }
      this.banner(`Your edit was not saved: ${refusalWords(frame)}`);
    } else if (frame.action === "react") {
      this.banner(frame.code === "too_large"
        ? `That message has as many reactions as it may hold (${config.reactionKindsMax} different emoji).`
        : `Your reaction did not go through: ${refusalWords(frame)}`);
    }
  }
}

function refusalWords(frame) {
  switch (frame.code) {
    case "rate_limited":
      return "too many at once; wait a moment and try again.";
    case "not_found":
      return "that message is gone.";
    default:
      return `${frame.message}.`;
  }
}
