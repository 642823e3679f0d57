// Rendering for the message features (docs/protocol.md, "Message features"): the reactions bar, the
// reply quote, the "(edited)" mark, the inline editor, the emoji picker and the typing line. DOM only,
// every name and text as text (render.js element()); message_features/ decides what to show.
import { config } from "../config.js";
import { element } from "../render.js";

// The picker's ready-made choices; any other single emoji can be typed in its field.
export const COMMON_EMOJI = [
  ["👍", "thumbs up"], ["❤️", "red heart"], ["😂", "face with tears of joy"], ["🎉", "party popper"],
  ["😮", "face with open mouth"], ["😢", "crying face"], ["🙏", "folded hands"], ["👀", "eyes"],
];

function button(className, text) {
  const node = element("button", className, text);
  node.type = "button";
  return node;
}

// "alice, bob and 3 others": the names a reaction frame carries (at most reactionNamesShown of
// `count`), with the rest counted.
export function reactorWords({ users = [], count }) {
  const others = count - users.length;
  const names = [...users];
  if (others > 0) names.push(`${others} other${others === 1 ? "" : "s"}`);
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

// reactions: [{emoji, count, users, me}] in the order the emoji were first used; onToggle(emoji).
export function renderReactions(slot, reactions, onToggle) {
  const focused = slot.contains(document.activeElement) ? document.activeElement.dataset.emoji : null;
  slot.replaceChildren(...reactions.map((reaction) => {
    const node = button("reaction", "");
    node.dataset.emoji = reaction.emoji;
    node.setAttribute("aria-pressed", String(!!reaction.me));
    const who = reactorWords(reaction);
    // Pressed says whether it is mine; the name says what, how many, and who.
    node.setAttribute("aria-label", `${reaction.emoji} ${reaction.count}: ${who}`);
    node.title = who;
    node.append(element("span", "reaction-emoji", reaction.emoji), element("span", "reaction-count", String(reaction.count)));
    node.addEventListener("click", () => onToggle(reaction.emoji));
    return node;
  }));
  if (focused) slot.querySelector(`[data-emoji="${CSS.escape(focused)}"]`)?.focus();
}

// The quote of the message replied to ({id, sender, excerpt}), in the reply's .quote-slot: a button
// that shows the original (onOpen(id)).
export function renderQuote(slot, replyTo, onOpen) {
  const quote = button("quote", "");
  quote.dataset.replyTo = replyTo.id;
  quote.append(element("span", "visually-hidden", "In reply to "), element("span", "quote-sender", replyTo.sender),
    element("span", "visually-hidden", ": "), element("span", "quote-excerpt", replyTo.excerpt));
  quote.title = "Show the message replied to";
  quote.addEventListener("click", () => onOpen(replyTo.id));
  slot.replaceChildren(quote);
}

// "(edited)" after the text, with when in its tooltip (and for screen readers in its text).
export function editedMark(editedAt) {
  const when = new Date(editedAt);
  const mark = element("time", "edited", "(edited)");
  mark.dateTime = editedAt;
  mark.title = `Edited ${when.toLocaleString()}`;
  return mark;
}

// The inline editor that stands in for a message's text: Enter saves, Shift+Enter is a new line,
// Escape cancels. onSave(text) and onCancel().
export function editorForm(text, { onSave, onCancel }) {
  const form = element("form", "edit-form");
  form.noValidate = true;
  const field = element("textarea", "edit-field");
  field.value = text;
  field.rows = 1;
  field.maxLength = config.messageMaxChars;
  field.setAttribute("aria-label", "Edit message");
  const hint = element("p", "hint edit-hint", "Enter to save · Escape to cancel");
  hint.id = `edit-hint-${crypto.randomUUID()}`;
  field.setAttribute("aria-describedby", hint.id);
  const save = element("button", "primary small", "Save");
  save.type = "submit";
  const cancel = button("small", "Cancel");
  const buttons = element("div", "edit-buttons");
  buttons.append(save, cancel);
  form.append(field, hint, buttons);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSave(field.value);
  });
  cancel.addEventListener("click", () => onCancel());
  field.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation(); // the editor's: a drawer or menu around it stays as it is
      onCancel();
    }
  });
  return form;
}

// The emoji picker for one message: the common emoji, and a field for any one emoji. `full`: the
// message holds as many different emoji as it may, so only those already there can be picked.
// onPick(emoji), onClose().
export function emojiPicker({ label, present, full, onPick, onClose }) {
  const picker = element("div", "emoji-picker");
  picker.setAttribute("role", "dialog");
  picker.setAttribute("aria-label", label);
  const group = element("div", "emoji-choices");
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", "Common emoji");
  for (const [emoji, name] of COMMON_EMOJI) {
    const choice = button("emoji-choice", emoji);
    choice.setAttribute("aria-label", name);
    choice.title = name;
    choice.dataset.emoji = emoji;
    if (full && !present.has(emoji)) choice.disabled = true;
    choice.addEventListener("click", () => onPick(emoji));
    group.append(choice);
  }
  const form = element("form", "emoji-other");
  form.noValidate = true;
  const id = `emoji-field-${crypto.randomUUID()}`;
  const fieldLabel = element("label", "", "Any emoji");
  fieldLabel.htmlFor = id;
  const field = element("input", "emoji-field");
  field.id = id;
  field.autocomplete = "off";
  field.setAttribute("enterkeyhint", "done");
  const submit = element("button", "small", "React");
  submit.type = "submit";
  const close = button("small emoji-close", "Cancel");
  const error = element("p", "field-error emoji-error");
  error.setAttribute("role", "alert");
  form.append(fieldLabel, field, submit, close, error);
  if (full) {
    const note = element("p", "hint", `This message has ${config.reactionKindsMax} different emoji, the most it may hold: `
      + "add to one of those.");
    picker.append(note);
  }
  picker.append(group, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const emoji = field.value.trim();
    // One emoji at most emojiMaxChars code points (the server checks that it is one emoji).
    if (!emoji || [...emoji].length > config.emojiMaxChars) {
      error.textContent = "Type or paste one emoji.";
      field.setAttribute("aria-invalid", "true");
      field.focus();
      return;
    }
    onPick(emoji);
  });
  close.addEventListener("click", () => onClose());
  picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      onClose();
      return;
    }
    // Arrow keys move between the common emoji, as in a toolbar.
    if (!event.target.classList.contains("emoji-choice") || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) return;
    event.preventDefault();
    const choices = [...group.querySelectorAll(".emoji-choice:not(:disabled)")];
    const at = choices.indexOf(event.target);
    const step = event.key === "ArrowLeft" || event.key === "ArrowUp" ? -1 : 1;
    choices.at((at + step) % choices.length)?.focus();
  });
  return picker;
}

// "bob is typing…", "bob and carol are typing…", "bob, carol and dave are typing…", then "Several
// people are typing…".
export function typingWords(users) {
  if (!users.length) return "";
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length > 3) return "Several people are typing…";
  return `${users.slice(0, -1).join(", ")} and ${users.at(-1)} are typing…`;
}

// The line above the first message after the reader's read marker.
export function newMessagesLine() {
  const line = element("li", "new-line");
  line.append(element("span", "", "New messages"));
  return line;
}
