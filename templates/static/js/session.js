// The signed-in user's tokens, shared by every tab of the site (localStorage), and their renewal.
//
// Where the tokens live and why (docs/protocol.md, "Staying signed in"): the site (GitHub Pages)
// and the API are different origins, so an API cookie would be a third-party cookie, which
// browsers block more and more; localStorage is readable by this origin's scripts only, shared by
// its tabs, and survives a reload. The price is that a script injected into the page could read
// the tokens: the page renders all text as text under a strict CSP, the access token lives an
// hour, and the refresh token is rotated on every use (a stolen copy used later ends the sign-in).
// The room a tab shows stays per tab (sessionStorage).
const TOKEN_KEY = "wschat.token";
const USER_KEY = "wschat.user";
const REFRESH_KEY = "wschat.refresh";
const ROOM_KEY = "wschat.room";
// The Web Locks name that lets one tab at a time use the refresh token: two tabs presenting the
// same one would look like a stolen copy and end the sign-in.
const REFRESH_LOCK = "wschat.refresh";
// A token is renewed when this share of its life has passed (plus up to RENEW_JITTER of it, so
// that tabs do not all wake at once), and a failed attempt is tried again this often until it expires.
const RENEW_AT = 0.75;
const RENEW_JITTER = 0.05;
const RENEW_RETRY_MS = 15_000;

// body: what POST /login, /register, /guest or /refresh answered ({token, user, refreshToken?}).
export function saveLogin({ token, user, refreshToken }) {
  localStorage.setItem(TOKEN_KEY, token);
  if (user) localStorage.setItem(USER_KEY, JSON.stringify(user));
  // A guest gets none: a refresh token left from an earlier sign-in must not outlive it.
  if (refreshToken) localStorage.setItem(REFRESH_KEY, refreshToken);
  else localStorage.removeItem(REFRESH_KEY);
}

export function clearLogin() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
  localStorage.removeItem(REFRESH_KEY);
  sessionStorage.removeItem(ROOM_KEY);
}

// The token's claims, read without checking the signature: the server checks it; the page only
// needs to know when it runs out. null when there is no usable token.
export function currentLogin() {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  const claims = decodeClaims(token);
  if (!claims || typeof claims.exp !== "number" || typeof claims.sub !== "string") return null;
  let user = {};
  try { user = JSON.parse(localStorage.getItem(USER_KEY) || "{}"); } catch { user = {}; }
  return {
    token,
    username: claims.sub,
    guest: claims.guest === true,
    issuedAtMs: (typeof claims.iat === "number" ? claims.iat : claims.exp - 3600) * 1000,
    expiresAtMs: claims.exp * 1000,
    sessionLimitSeconds: claims.sessionLimitSeconds || user.sessionLimitSeconds || null,
    refreshToken: localStorage.getItem(REFRESH_KEY),
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

// Run `work` while holding the refresh lock (one tab at a time); browsers without Web Locks run it
// straight away (their tabs wake at different moments, see RENEW_JITTER).
function withRefreshLock(work) {
  if (navigator.locks?.request) return navigator.locks.request(REFRESH_LOCK, work);
  return work();
}

// Renew the stored tokens with `refresh` (api.js refreshTokens), unless another tab did while this
// one waited: {login} with the tokens now stored, or {ended: code} when the sign-in is over (the
// refresh token was refused), or {failed: true} (the server could not be reached: try again).
export function renewStored(refresh, seenToken = currentLogin()?.token) {
  return withRefreshLock(async () => {
    const stored = currentLogin();
    if (!stored) return { ended: "logged_out" };
    if (stored.token !== seenToken && !isExpired(stored)) return { login: stored }; // another tab renewed
    if (!stored.refreshToken) return { ended: "token_expired" };
    const { ok, status, data } = await refresh(stored.refreshToken);
    if (ok && data.token) {
      saveLogin(data);
      return { login: currentLogin() };
    }
    if (status === 401 || status === 400) {
      // The sign-in is over (used, revoked or out of time): nothing stored can sign in any more.
      clearLogin();
      return { ended: "token_expired" };
    }
    return { failed: true };
  });
}

// Keeps this tab's sign-in alive: renews the token before it expires (one tab does it, the others
// adopt the new one through the storage event), and tells the page when the sign-in ends in
// another tab (a logout). onRenewed(login): a newer token is stored; onEnded(code): a SessionEnd code.
export class SessionKeeper {
  constructor({ refresh, onRenewed, onEnded }) {
    Object.assign(this, { refresh, onRenewed, onEnded });
    this.timer = null;
    this.login = currentLogin();
    window.addEventListener("storage", (event) => {
      if (event.storageArea !== localStorage || event.key !== TOKEN_KEY) return;
      if (!event.newValue) this.stop("logged_out");
      else this.adopt(currentLogin());
    });
  }

  start() {
    this.schedule();
  }

  adopt(login) {
    if (!login || login.token === this.login?.token) return;
    this.login = login;
    this.onRenewed(login);
    this.schedule();
  }

  stop(code) {
    clearTimeout(this.timer);
    this.timer = null;
    if (code) this.onEnded(code);
  }

  schedule(delayMs = null) {
    clearTimeout(this.timer);
    const login = this.login;
    if (!login?.refreshToken) return; // a guest: the session ends with its token, as it must
    if (delayMs === null) {
      const life = login.expiresAtMs - login.issuedAtMs;
      const at = login.issuedAtMs + life * (RENEW_AT + Math.random() * RENEW_JITTER);
      delayMs = Math.max(0, at - Date.now());
    }
    this.timer = setTimeout(() => this.renew(), delayMs);
  }

  async renew() {
    const result = await renewStored(this.refresh, this.login?.token);
    if (result.login) this.adopt(result.login);
    else if (result.ended) this.stop(result.ended);
    else if (!isExpired(this.login, Date.now() + RENEW_RETRY_MS)) this.schedule(RENEW_RETRY_MS);
  }
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
// (handler/protocol/wire.py), which the chat page also uses when its own clock or the user ends it,
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
