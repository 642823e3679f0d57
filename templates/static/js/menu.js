// A menu button (the WAI-ARIA menu button pattern): a button with aria-haspopup="menu" that opens a
// list of role="menuitem" entries. Enter, Space or ArrowDown on the button open it on the first
// item, ArrowUp on the last; in the menu ArrowUp/ArrowDown move (wrapping), Home/End jump, Enter or
// Space runs the item, Escape closes and gives the focus back to the button, Tab closes and moves on.
// The items are asked for each time the menu opens, so they always match the user's current role.
import { element } from "./render.js";

let openMenu = null; // one menu open at a time on the page

document.addEventListener("pointerdown", (event) => {
  if (openMenu && !openMenu.root.contains(event.target)) openMenu.close();
});

let serial = 0;

export class MenuButton {
  // label: the button's accessible name; items(): [{id, label, run()}]; text: what the button shows.
  constructor({ label, items, text = "⋯", className = "" }) {
    this.items = items;
    serial += 1;
    this.root = element("div", `menu ${className}`.trim());
    this.button = element("button", "menu-button", text);
    this.button.type = "button";
    this.button.setAttribute("aria-label", label);
    this.button.setAttribute("aria-haspopup", "menu");
    this.button.setAttribute("aria-expanded", "false");
    this.list = element("ul", "menu-list");
    this.list.id = `menu-${serial}`;
    this.list.setAttribute("role", "menu");
    this.list.setAttribute("aria-label", label);
    this.list.hidden = true;
    this.button.setAttribute("aria-controls", this.list.id);
    this.root.append(this.button, this.list);

    this.button.addEventListener("click", () => (this.isOpen ? this.close() : this.open(0)));
    this.button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.open(event.key === "ArrowDown" ? 0 : -1);
      }
    });
    this.list.addEventListener("keydown", (event) => this.onKey(event));
    this.list.addEventListener("click", (event) => {
      const item = event.target.closest("[role=menuitem]");
      if (item) this.run(item);
    });
  }

  get isOpen() {
    return !this.list.hidden;
  }

  // Opens on the item at `index` (-1: the last). A menu with nothing in it does not open.
  open(index = 0) {
    const entries = this.items();
    if (!entries.length) return;
    openMenu?.close();
    openMenu = this;
    this.entries = new Map();
    this.list.replaceChildren(...entries.map((entry) => {
      const item = element("li", "menu-item", entry.label);
      item.setAttribute("role", "menuitem");
      item.tabIndex = -1;
      item.dataset.action = entry.id;
      this.entries.set(item, entry);
      return item;
    }));
    this.list.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.place();
    this.focusAt(index);
  }

  // Below the button, or above it when what clips it (a scrolling list, the window) ends first
  // and there is more room above.
  place() {
    this.list.classList.remove("up");
    let bottom = window.innerHeight;
    let top = 0;
    for (let node = this.root.parentElement; node; node = node.parentElement) {
      if (getComputedStyle(node).overflowY === "visible") continue;
      const box = node.getBoundingClientRect();
      bottom = Math.min(bottom, box.bottom);
      top = Math.max(top, box.top);
    }
    const list = this.list.getBoundingClientRect();
    const button = this.button.getBoundingClientRect();
    if (list.bottom > bottom && button.top - top > bottom - button.bottom) this.list.classList.add("up");
  }

  close({ refocus = false } = {}) {
    if (!this.isOpen) return;
    this.list.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (openMenu === this) openMenu = null;
    if (refocus) this.button.focus();
  }

  focusAt(index) {
    const items = [...this.list.children];
    items.at(((index % items.length) + items.length) % items.length)?.focus();
  }

  onKey(event) {
    const items = [...this.list.children];
    const at = items.indexOf(document.activeElement);
    const keys = {
      ArrowDown: () => this.focusAt(at + 1),
      ArrowUp: () => this.focusAt(at - 1),
      Home: () => this.focusAt(0),
      End: () => this.focusAt(-1),
      Escape: () => this.close({ refocus: true }),
      Enter: () => this.run(items[at]),
      " ": () => this.run(items[at]),
    };
    if (event.key === "Tab") {
      this.close();
      return;
    }
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    // Escape is this menu's: the drawer or dialog around it stays open.
    event.stopPropagation();
    action();
  }

  run(item) {
    const entry = item && this.entries.get(item);
    if (!entry) return;
    // The focus goes back to the button first: an item that opens a dialog hands it back there.
    this.close({ refocus: true });
    entry.run();
  }
}
