// The sign-in the chat page runs on, and how its session ends: a token renewed (here or in another
// tab) is adopted by the clocks and the open connection; a token that ran out is rescued if the
// sign-in still holds; otherwise, or when the server, the clocks or the user end it, the page goes
// to the login page, which says why.
import { postJson, refreshTokens } from "../api.js";
import { clearDrafts } from "../drafts.js";
import {
  SessionKeeper, clearLogin, currentLogin, isExpired, loginUrl, renewStored, sessionEndUrl,
} from "../session.js";

// A token that ran out before it was renewed: how often, and how far apart, renewing is tried.
const RESCUE_ATTEMPTS = 4;
const RESCUE_RETRY_MS = 5_000;
// How long a logout waits for the server to confirm the revocation before it gives up and says so.
const LOGOUT_TIMEOUT_MS = 10_000;

// The stored sign-in, renewed if a new tab finds its token run out (tabs share the sign-in); a page
// with none goes to the login page and this never settles.
export async function loginOrLeave() {
  let login = currentLogin();
  if (isExpired(login) && login?.refreshToken) login = (await renewStored(refreshTokens)).login ?? login;
  if (isExpired(login)) {
    location.replace(login ? sessionEndUrl("token_expired") : loginUrl("signin"));
    // Stop here while the page goes away: a promise that never settles halts the module quietly,
    // where a throw would be an uncaught error (the Back button after a logout lands here).
    await new Promise(() => {});
  }
  // Back (or forward) to a page kept in the browser's page cache after a logout in it: its login is
  // gone, so go to the login page rather than show a chat that cannot connect.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && isExpired(currentLogin())) location.replace(loginUrl("signin"));
  });
  return login;
}

export class SignIn {
  // login: from loginOrLeave(); socket: the ChatSocket; clock: the SessionClock.
  constructor({ login, store, socket, clock }) {
    Object.assign(this, { login, store, socket, clock });
    this.rescue = null;
    // Renewed before it expires (session.js); the open connection is given the new token (`renew`),
    // so that the server keeps it past the old one's expiry. A sign-in ended in another tab ends here too.
    this.keeper = new SessionKeeper({
      refresh: refreshTokens,
      onRenewed: (fresh) => this.renewed(fresh),
      onEnded: (code) => this.end(code),
    });
  }

  start() {
    this.keeper.start();
  }

  canReconnect() {
    return !this.store.isEnded && !isExpired(this.login);
  }

  // The connection closed: if the token ran out meanwhile, rescue it.
  closed() {
    if (!this.store.isEnded && isExpired(this.login)) this.tokenRanOut();
  }

  renewed(fresh) {
    this.login = fresh;
    this.clock.tokenExpiresAtMs = fresh.expiresAtMs;
    this.socket.send({ action: "renew", token: fresh.token });
  }

  // The token ran out before it was renewed (a renewal slower than its margin, a computer waking from
  // sleep): renewed now if the sign-in still holds (another tab may have done it already), and the
  // connection goes on with it; otherwise the session ends. A renewal that cannot reach the server
  // is tried RESCUE_ATTEMPTS times.
  tokenRanOut(attempt = 1) {
    if (this.store.isEnded || this.rescue) return;
    const stored = currentLogin();
    if (!isExpired(stored)) {
      this.useLogin(stored);
      return;
    }
    if (!this.login.refreshToken) {
      this.end("token_expired");
      return;
    }
    this.rescue = renewStored(refreshTokens, this.login.token).then((result) => {
      this.rescue = null;
      if (this.store.isEnded) return; // logged out (or ended) meanwhile
      if (result.login && !isExpired(result.login)) {
        this.useLogin(result.login);
      } else if (result.failed && attempt < RESCUE_ATTEMPTS) {
        this.rescue = setTimeout(() => {
          this.rescue = null;
          this.tokenRanOut(attempt + 1);
        }, RESCUE_RETRY_MS);
      } else {
        this.end(result.ended ?? "token_expired");
      }
    }, () => {
      // Storage or Web Locks failed: nothing can renew the sign-in here.
      this.rescue = null;
      this.end("token_expired");
    });
  }

  // A renewed sign-in (from this tab or another): the clocks count to it, the open connection is
  // given it, and a connection closed for want of it opens again (one closed on purpose, by the
  // auto-disconnect, stays closed until the user reconnects).
  useLogin(fresh) {
    this.keeper.adopt(fresh);
    this.login = fresh;
    this.clock.tokenExpiresAtMs = fresh.expiresAtMs;
    if (!this.socket.ws && !this.socket.intentional) this.socket.open();
  }

  // Ends the session for good and goes to the login page, which says why. `code` is a SessionEnd code
  // (handler/protocol/wire.py), from the server or from this page's own clocks.
  end(code) {
    if (!this.store.ended(code)) return;
    this.socket.close();
    clearLogin();
    // A guest has no account to log back into: the login page tells them so in a guest's words.
    location.assign(this.login.guest && code !== "logged_out" ? loginUrl("guest-ended") : sessionEndUrl(code));
  }

  // The Log out button. Revokes the token on the server first, so that it cannot connect again.
  // Leaves either way, but if the server did not confirm it (an error, or no answer in time), the
  // login page says that the token may stay valid until it expires.
  async logout(button) {
    this.store.ended("logged_out");
    button.disabled = true;
    button.textContent = "Logging out…";
    // The refresh token too: an expired access token still names its sign-in, but the body makes sure.
    const body = this.login.refreshToken ? { refreshToken: this.login.refreshToken } : undefined;
    const { ok } = await postJson("/logout", body, { Authorization: `Bearer ${this.login.token}` },
      { timeoutMs: LOGOUT_TIMEOUT_MS });
    this.socket.close();
    clearLogin();
    clearDrafts();
    location.assign(sessionEndUrl(ok ? "logged_out" : "logout_unconfirmed"));
  }
}
