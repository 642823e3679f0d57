// The signed-in user's token and preferences, kept for this tab only (sessionStorage).
const TOKEN_KEY = "wschat.token";
const USER_KEY = "wschat.user";
const ROOM_KEY = "wschat.room";

export function saveLogin({ token, user }) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function clearLogin() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  sessionStorage.removeItem(ROOM_KEY);
}

// The token's claims, read without checking the signature: the server checks it; the page only
// needs to know when it runs out. null when there is no usable token.
export function currentLogin() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  const claims = decodeClaims(token);
  if (!claims || typeof claims.exp !== "number" || typeof claims.sub !== "string") return null;
  let user = {};
  try { user = JSON.parse(sessionStorage.getItem(USER_KEY) || "{}"); } catch { user = {}; }
  return {
    token,
    username: claims.sub,
    guest: claims.guest === true,
    expiresAtMs: claims.exp * 1000,
    sessionLimitSeconds: claims.sessionLimitSeconds || user.sessionLimitSeconds || null,
  };
}

export function isExpired(login, now = Date.now()) {
  return !login || now >= login.expiresAtMs;
}

export function savedRoom() {
  return sessionStorage.getItem(ROOM_KEY);
}

export function saveRoom(room) {
  sessionStorage.setItem(ROOM_KEY, room);
}

function decodeClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(base64), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

// Where to send a user who must sign in again, with the reason the login page shows (login.js).
export function loginUrl(reason) {
  return reason ? `index.html?reason=${encodeURIComponent(reason)}` : "index.html";
}

// The login page's reason for each way a session ends: the server's SessionEnd codes
// (handler/protocol.py), which the chat page also uses when its own clock or the user ends it,
// and the page's own logout_unconfirmed (the server did not confirm the revocation).
// The short names keep the login page's URLs as they were.
const SESSION_END_REASONS = new Map([
  ["token_expired", "expired"],
  ["session_limit", "limit"],
  ["logged_out", "logout"],
  ["logout_unconfirmed", "logout-unconfirmed"],
]);

// An unknown or missing code reads as expired: signing in again is the answer whatever the cause.
export function sessionEndUrl(code) {
  return loginUrl(SESSION_END_REASONS.get(code) ?? "expired");
}
