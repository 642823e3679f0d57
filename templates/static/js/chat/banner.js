// The banner above the message list: one problem at a time, in words, with a Reconnect button
// when reconnecting is the way out.
import { $ } from "../dom.js";

export class Banner {
  // `kind` names a banner that something hides again by itself (hide(kind)).
  show(text, { offerReconnect = false, kind = "" } = {}) {
    $("banner-text").textContent = text;
    $("reconnect").hidden = !offerReconnect;
    $("banner").dataset.kind = kind;
    $("banner").hidden = false;
  }

  // Hides the banner; given a kind, only if the banner shown is of that kind.
  hide(kind) {
    if (kind && $("banner").dataset.kind !== kind) return;
    $("banner").hidden = true;
  }
}
