// The chat page's panels, each opened by a button (aria-expanded, aria-controls): the session menu
// in the top bar, and on a narrow screen the rooms sidebar and the online list, which become
// drawers. One is open at a time; Escape or a click elsewhere closes it, and Escape gives the focus
// back to the button. On a wide screen the sidebar and the online list are always shown and their
// buttons are hidden by the stylesheet.

// The first control a panel's keyboard user lands on (a drawer's Close button is passed over).
const FOCUSABLE = "input, button:not([data-close-panel]), select, textarea, a[href], [tabindex]:not([tabindex='-1'])";

export class Panels {
  constructor(ids = [["session-toggle", "session-menu"], ["rooms-toggle", "sidebar"], ["presence-toggle", "presence"]]) {
    this.panels = ids.map(([button, panel]) => ({
      button: document.getElementById(button),
      panel: document.getElementById(panel),
      // The session menu is hidden when closed; a drawer is always in the page (a wide screen shows
      // it) and body[data-drawer] slides it in on a narrow one.
      drawer: panel !== "session-menu",
    }));
    this.open = null;
    for (const entry of this.panels) {
      entry.button.addEventListener("click", () => (this.open === entry ? this.close() : this.show(entry)));
    }
    // A drawer's own Close button (shown on a phone only).
    document.addEventListener("click", (event) => {
      if (this.open && event.target.closest("[data-close-panel]")) this.close({ refocus: true });
    });
    document.addEventListener("keydown", (event) => {
      // A dialog or a menu over the panel takes its own Escape.
      if (event.key === "Escape" && this.open && !event.defaultPrevented && !document.querySelector("dialog[open]")) {
        event.preventDefault();
        this.close({ refocus: true });
      }
    });
    // A click outside the open panel and its button closes it (the scrim behind a drawer included).
    document.addEventListener("pointerdown", (event) => {
      const entry = this.open;
      // A dialog opened from the drawer is over it, not outside it.
      if (event.target.closest?.("dialog")) return;
      if (entry && !entry.panel.contains(event.target) && !entry.button.contains(event.target)) this.close();
    });
  }

  show(entry) {
    this.close();
    this.open = entry;
    entry.button.setAttribute("aria-expanded", "true");
    if (entry.drawer) {
      document.body.dataset.drawer = entry.panel.id;
      document.getElementById("scrim").hidden = false;
    } else {
      entry.panel.hidden = false;
    }
    // Into the panel, so that a keyboard user goes on from there (a drawer becomes visible at once:
    // its slide is a transform, and visibility switches with the data attribute).
    entry.panel.querySelector(FOCUSABLE)?.focus();
  }

  close({ refocus = false } = {}) {
    const entry = this.open;
    if (!entry) return;
    this.open = null;
    entry.button.setAttribute("aria-expanded", "false");
    if (entry.drawer) {
      delete document.body.dataset.drawer;
      document.getElementById("scrim").hidden = true;
    } else {
      entry.panel.hidden = true;
    }
    if (refocus || entry.panel.contains(document.activeElement)) entry.button.focus();
  }

  closeAll() {
    this.close();
  }
}
