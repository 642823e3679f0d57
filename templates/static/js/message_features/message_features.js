// Edits, reactions, replies, typing and the read marker on the chat page (docs/protocol.md, "Message
// features" and "Read markers"): the one object chat.js talks to for them (edits.js, reactions.js,
// replies.js, typing.js, read_marker.js). Edit, Reply and React are items of the shared message
// menu (message_menu.js); their frames (edited, reaction, typing, read) update every open page. The
// server decides everything; a refusal is said in clear words and loses nothing typed.
import { registerMessageAction } from "../message_menu.js";
import { Edits } from "./edits.js";
import { MessageItems } from "./items.js";
import { ReadMarker } from "./read_marker.js";
import { Reactions } from "./reactions.js";
import { Replies } from "./replies.js";
import { Typing } from "./typing.js";
import { renderQuote } from "./view.js";

export class MessageFeatures {
  // The requests this module sends: an error frame answering one of them is its to handle (failed).
  static ACTIONS = ["editmessage", "react", "typing", "read"];

  // send(frame): true if sent; room(): the room shown; messages: the MessageList; banner(text): a
  // problem; composer: the message textarea.
  constructor({ me, send, room, messages, banner, composer }) {
    Object.assign(this, { me, room });
    this.items = new MessageItems({ list: messages.list, me, composer });
    const items = this.items;
    this.edits = new Edits({ items, send, room, banner });
    this.reactions = new Reactions({ me, items, send, room, banner });
    this.replies = new Replies({ items, composer, banner });
    this.typists = new Typing({ me, send, room });
    this.readMarker = new ReadMarker({ me, messages, send, room });

    registerMessageAction({ id: "edit", label: "Edit", visible: (m) => this.mayEdit(m),
      run: (m) => this.edits.start(m.id) });
    registerMessageAction({ id: "reply", label: "Reply", visible: (m) => this.isLive(m),
      run: (m) => this.replies.start(m.id) });
    registerMessageAction({ id: "react", label: "React…", visible: (m) => this.isLive(m),
      run: (m) => this.reactions.openPicker(m.id) });

    document.addEventListener("visibilitychange", () => this.maybeRead());
    messages.list.addEventListener("scroll", () => this.maybeRead());
  }

  isLive(message) {
    return !!message.id && !message.deleted && message.room === this.room();
  }

  mayEdit(message) {
    return this.isLive(message) && message.sender === this.me;
  }

  // -- a message item: its quote, reactions and edited mark (a new item, or the same message again) --

  decorate(item, frame) {
    if (frame.deleted) {
      this.reactions.forget(frame.id);
      return;
    }
    if (frame.replyTo) {
      renderQuote(item.querySelector(".quote-slot"), frame.replyTo, (id) => this.replies.showOriginal(id));
    }
    if (frame.editedAt) this.items.markEdited(item, frame.editedAt);
    // The item is not in the list yet: drawn on it directly.
    this.reactions.set(frame.id, frame.reactions, item);
  }

  // History brought a message already shown (a catch-up after a reconnect): its latest text and
  // reactions replace what the page had.
  refresh(frame) {
    const item = this.items.item(frame.id);
    if (!item || frame.deleted || item.dataset.deleted) return;
    if (frame.editedAt) this.items.applyText(item, frame.message, frame.editedAt);
    if (frame.reactions) this.reactions.set(frame.id, frame.reactions);
  }

  // -- frames ----------------------------------------------------------------------------------

  edited(frame) { this.edits.received(frame); }
  reaction(frame) { this.reactions.received(frame); }
  typing(frame) { this.typists.received(frame); }
  read(frame) { this.readMarker.received(frame); }
  // A live message from `user`: they are no longer typing it.
  messageFrom(user) { this.typists.messageFrom(user); }
  entered(lastRead) { this.readMarker.entered(lastRead); }
  maybeRead() { this.readMarker.maybeRead(); }

  // -- the composer ----------------------------------------------------------------------------

  get replyTarget() { return this.replies.target; }
  typed(text) { this.typists.typed(text); }
  takeReply() { return this.replies.take(); }
  cancelReply() { this.replies.cancel(); }

  // -- the room changes, and errors ------------------------------------------------------------

  // The page shows another room (or the same again after a reconnect: `same`).
  roomChanged({ same = false } = {}) {
    this.reactions.closePicker();
    this.typists.clear();
    if (same) return;
    this.replies.cancel();
    this.reactions.clear();
    this.edits.reset();
    this.typists.reset();
    this.readMarker.reset();
  }

  // An error frame that answers one of this module's requests (its `action` says which): a refused
  // edit goes back into its editor and a refused reaction is said in the banner; typing and read
  // markers fail in silence (nothing the user asked for: a muted user is told when they send).
  failed(frame) {
    if (frame.action === "editmessage") this.edits.failed(frame);
    else if (frame.action === "react") this.reactions.failed(frame);
  }
}
