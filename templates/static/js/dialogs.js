// Modal dialogs over native <dialog> elements: showModal() makes the page behind inert (the focus
// stays in the dialog) and Escape closes it; this module adds what the element leaves out: the
// focus goes back to what opened the dialog (or, if that is gone from view, to a fallback), a
// Cancel button closes it, and the dialog's error line is cleared on every opening. A submit is
// handed to the caller, who closes the dialog when the server says it is done, or shows why not.

export class Dialog {
  // id: the <dialog>'s id; onSubmit(form data, dialog): called for the dialog's form, if it has one;
  // fallbackFocus(): where the focus goes when the opener is no longer shown.
  constructor(id, { onSubmit, fallbackFocus } = {}) {
    this.node = document.getElementById(id);
    this.form = this.node.querySelector("form");
    this.error = this.node.querySelector(".dialog-error");
    this.fallbackFocus = fallbackFocus;
    this.opener = null;
    this.node.addEventListener("close", () => this.restoreFocus());
    this.node.addEventListener("click", (event) => {
      if (event.target.closest("[data-dialog-cancel]")) this.close();
    });
    if (this.form && onSubmit) {
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.showError("");
        onSubmit(new FormData(this.form), this);
      });
    }
  }

  get isOpen() {
    return this.node.open;
  }

  // Opens the dialog; the focus goes to its first field (or `focus`), and back to `opener` after.
  open({ opener = document.activeElement, focus } = {}) {
    this.opener = opener;
    this.showError("");
    if (!this.node.open) this.node.showModal();
    (focus ?? this.node.querySelector("input:not([type=radio]), input:checked, button:not([data-dialog-cancel])"))?.focus();
  }

  close() {
    if (this.node.open) this.node.close();
  }

  showError(text) {
    if (!this.error) return;
    this.error.textContent = text;
    // The field the error is about reads as invalid until the next try.
    this.form?.querySelectorAll("[aria-invalid]").forEach((field) => field.removeAttribute("aria-invalid"));
  }

  // A field the user must fix: marked, focused, and the error said.
  invalid(field, text) {
    this.showError(text);
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }

  restoreFocus() {
    const opener = this.opener;
    this.opener = null;
    if (opener?.isConnected && opener.checkVisibility?.()) opener.focus();
    else this.fallbackFocus?.()?.focus();
  }
}
