// The WebSocket connection: the liveness probe, reconnect with backoff and jitter, and dispatch on
// `type`. It knows nothing of the page; chat.js gives it callbacks.
//
// A connection can die without closing (a laptop waking from sleep, a phone changing networks):
// frames stop passing and the browser says nothing for minutes. So the line is proven alive: when
// nothing has come for `probeQuietMs` (visible tab) or `heartbeatMs` (hidden tab: the keep-alive
// API Gateway needs anyway), a heartbeat goes, and if no frame at all comes within `probeTimeoutMs`
// the connection is taken for dead, dropped and reopened. Any frame is proof of life, so a busy
// line costs no probe. Worst case on a visible tab: quiet + timeout (15 s) before "dead".

const TICK_MS = 1000;

export class ChatSocket {
  // url(): the URL to (re)connect to; onFrame(frame); onOpen(isReconnect); onState(state, detail);
  // canReconnect(): false stops reconnecting (e.g. the token ran out); onGatewayError(frame): API
  // Gateway's own typeless error frame (a platform failure of the request it answers).
  constructor({ url, heartbeatMs, backoffBaseMs, backoffMaxMs, onFrame, onOpen, onState, canReconnect,
    onGatewayError = () => {}, probeQuietMs = 10_000, probeTimeoutMs = 5_000, connectTimeoutMs = 10_000,
    now = () => Date.now(), isHidden = () => globalThis.document?.hidden === true }) {
    Object.assign(this, { url, heartbeatMs, backoffBaseMs, backoffMaxMs, onFrame, onOpen, onState, canReconnect,
      onGatewayError, probeQuietMs, probeTimeoutMs, connectTimeoutMs, now, isHidden });
    this.ws = null;
    this.attempts = 0;
    this.everOpened = false;
    this.intentional = false;
    this.tickTimer = null;
    this.retryTimer = null;
    this.openedAt = 0; // when the current socket was created (the connect timeout)
    this.lastFrameAt = 0;
    this.probeSentAt = null; // a probe awaits its answer (any frame)
  }

  open() {
    this.intentional = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.onState(this.everOpened ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.openedAt = this.now();
    this.startTicking();
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      const isReconnect = this.everOpened;
      this.everOpened = true;
      this.attempts = 0;
      this.lastFrameAt = this.now();
      this.probeSentAt = null;
      this.onState("open");
      this.onOpen(isReconnect);
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      this.lifeSeen();
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (!frame || typeof frame !== "object") return;
      if (typeof frame.type === "string") this.onFrame(frame);
      // API Gateway's answer to a platform-level failure (timeout, throttle, crash): no `type`.
      else if (typeof frame.message === "string" && "requestId" in frame) this.onGatewayError(frame);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.lost();
    });
  }

  lifeSeen() {
    const wasChecking = this.probeSentAt !== null && this.now() - this.probeSentAt >= TICK_MS * 2;
    this.lastFrameAt = this.now();
    this.probeSentAt = null;
    if (wasChecking) this.onState("open");
  }

  // The socket closed, or was taken for dead: reconnect unless closed on purpose.
  lost() {
    this.ws = null;
    this.stopTicking();
    this.probeSentAt = null;
    if (this.intentional) {
      this.onState("closed");
    } else {
      this.scheduleReconnect();
    }
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // Close on purpose (logout, expiry, auto-disconnect): no reconnect follows.
  close() {
    this.intentional = true;
    clearTimeout(this.retryTimer);
    this.stopTicking();
    if (this.ws) {
      this.ws.close(1000);
    } else {
      this.onState("closed");
    }
  }

  // Close without ending (e.g. the server has forgotten this connection, or it is dead): a
  // reconnect follows at once, without waiting for a close handshake a dead line never completes.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    try { ws.close(); } catch { /* closing a dead socket may throw: it is gone either way */ }
    this.lost();
  }

  // Is the line alive? A heartbeat goes unless a probe is already out; a request that went
  // unanswered calls this too.
  probe() {
    if (!this.isOpen || this.probeSentAt !== null) return;
    this.probeSentAt = this.now();
    this.send({ action: "heartbeat" });
  }

  // The network came back (`online`) or the tab became visible: a waiting reconnect goes now (a
  // fresh backoff), an open connection is checked.
  reconnectNow() {
    if (this.intentional || !this.canReconnect()) return;
    if (this.isOpen) {
      this.probe();
      return;
    }
    if (this.ws) return; // connecting: the connect timeout watches it
    this.attempts = 0;
    this.open();
  }

  scheduleReconnect() {
    if (!this.canReconnect()) {
      this.onState("closed");
      return;
    }
    // Exponential backoff with jitter, so that clients dropped together do not return together.
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** this.attempts);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempts += 1;
    this.onState("waiting", { delayMs: delay, attempt: this.attempts });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  // Once a second: a connect that hangs, a quiet line to probe, a probe unanswered.
  tick() {
    const ws = this.ws;
    if (!ws) return;
    const now = this.now();
    if (ws.readyState === WebSocket.CONNECTING) {
      if (now - this.openedAt >= this.connectTimeoutMs) this.drop();
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    if (this.probeSentAt !== null) {
      const waited = now - this.probeSentAt;
      if (waited >= this.probeTimeoutMs) {
        this.onState("dead");
        this.drop();
      } else if (waited >= TICK_MS * 2) {
        this.onState("checking");
      }
      return;
    }
    const quietMs = this.isHidden() ? this.heartbeatMs : this.probeQuietMs;
    if (now - this.lastFrameAt >= quietMs) this.probe();
  }

  startTicking() {
    this.stopTicking();
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
  }

  stopTicking() {
    clearInterval(this.tickTimer);
    this.tickTimer = null;
  }
}
