// The HTTP API: register, login, guest, logout, refresh. Answers {ok, status, data}; never throws.
import { config } from "./config.js";

// timeoutMs: give up after this long (status 0, as when the server cannot be reached).
export async function postJson(path, body, headers = {}, { timeoutMs } = {}) {
  try {
    const response = await fetch(config.httpUrl.replace(/\/$/, "") + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
    });
    let data = {};
    try { data = await response.json(); } catch { data = {}; }
    return { ok: response.ok, status: response.status, data };
  } catch {
    return { ok: false, status: 0, data: { error: "cannot reach the server; check your connection" } };
  }
}

// POST /refresh: new tokens for the stored refresh token (session.js renewStored uses it).
export function refreshTokens(refreshToken) {
  return postJson("/refresh", { refreshToken }, {}, { timeoutMs: 15_000 });
}
