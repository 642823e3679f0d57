// The composer's unsent text, per user and room, kept for this tab (sessionStorage) so that a
// reload or a room switch loses nothing typed. Cleared by a logout (clearDrafts).
const PREFIX = "wschat.draft.";

function key(user, room) {
  return `${PREFIX}${JSON.stringify([user, room])}`;
}

export function loadDraft(user, room) {
  return sessionStorage.getItem(key(user, room)) || "";
}

export function saveDraft(user, room, text) {
  if (text) sessionStorage.setItem(key(user, room), text);
  else sessionStorage.removeItem(key(user, room));
}

export function clearDrafts() {
  for (const name of Object.keys(sessionStorage)) {
    if (name.startsWith(PREFIX)) sessionStorage.removeItem(name);
  }
}
