// The per-message menu, in each message's .message-actions slot. Features add their items to a
// registry (registerMessageAction), so that Delete here and Edit, Reply or React later share one
// keyboard-accessible menu (menu.js). A message shows the menu button only if some item is visible
// for it; refreshMessageMenus() asks again when what decides that changes (the user's role).
import { MenuButton } from "./menu.js";

const actions = []; // {id, label, visible(message), run(message)}, in the order registered
const shown = new WeakMap(); // message item -> the message frame it shows

// id: a name for tests and styles; label: a string or label(message); visible(message): whether it
// applies to that message now; run(message): what it does.
export function registerMessageAction({ id, label, visible = () => true, run }) {
  if (actions.some((action) => action.id === id)) throw new Error(`message action ${id} registered twice`);
  actions.push({ id, label, visible, run });
}

function visibleFor(message) {
  if (!message.id) return [];
  return actions.filter((action) => {
    try {
      return action.visible(message);
    } catch {
      return false; // a broken item must not take the menu (or the message) with it
    }
  });
}

// Fills the message item's slot: a menu button if any item applies, nothing otherwise.
export function attachMessageMenu(item, message) {
  shown.set(item, message);
  const slot = item.querySelector(".message-actions");
  if (!slot) return;
  if (!visibleFor(message).length) {
    slot.replaceChildren();
    return;
  }
  const time = new Date(message.sentAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const menu = new MenuButton({
    label: `Actions for the message from ${message.sender} at ${time}`,
    className: "message-menu",
    items: () => visibleFor(shown.get(item) ?? message).map((action) => ({
      id: action.id,
      label: typeof action.label === "function" ? action.label(message) : action.label,
      run: () => action.run(shown.get(item) ?? message),
    })),
  });
  slot.replaceChildren(menu.root);
}

// Every message in `list` again: what is visible may have changed (a role arrived or changed).
export function refreshMessageMenus(list) {
  for (const item of list.querySelectorAll("li.message")) {
    const message = shown.get(item);
    // Keep an open menu as it is: rebuilding it would take the focus from under the user.
    if (!message || item.querySelector(".menu-button[aria-expanded=true]")) continue;
    const focused = item.querySelector(".message-actions")?.contains(document.activeElement);
    attachMessageMenu(item, message);
    if (focused) item.querySelector(".message-actions .menu-button")?.focus();
  }
}
