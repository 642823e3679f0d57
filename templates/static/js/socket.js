// The WebSocket connection: heartbeat, reconnect with backoff and jitter, and dispatch on `type`.
// It knows nothing of the page; chat.js gives it callbacks.

export class ChatSocket {
  // url(): the URL to (re)connect to; onFrame(frame); onOpen(isReconnect); onState(state, detail);
  // canReconnect(): false stops reconnecting (e.g. the token ran out).
  constructor({ url, heartbeatMs, backoffBaseMs, backoffMaxMs, onFrame, onOpen, onState, canReconnect }) {
    Object.assign(this, { url, heartbeatMs, backoffBaseMs, backoffMaxMs, onFrame, onOpen, onState, canReconnect });
    this.ws = null;
    this.attempts = 0;
    this.everOpened = false;
    this.intentional = false;
    this.heartbeatTimer = null;
    this.retryTimer = null;
  }

  open() {
    this.intentional = false;
    clearTimeout(this.retryTimer);
    this.onState(this.everOpened ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      const isReconnect = this.everOpened;
      this.everOpened = true;
      this.attempts = 0;
      this.onState("open");
      this.startHeartbeat();
      this.onOpen(isReconnect);
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame && typeof frame.type === "string") this.onFrame(frame);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopHeartbeat();
      if (this.intentional) {
        this.onState("closed");
      } else {
        this.scheduleReconnect();
      }
    });
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
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
    this.stopHeartbeat();
    if (this.ws) {
      this.ws.close(1000);
    } else {
      this.onState("closed");
    }
  }

  // Close without ending (e.g. the server has forgotten this connection): a reconnect follows.
  drop() {
    this.ws?.close();
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
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.send({ action: "heartbeat" }), this.heartbeatMs);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }
}
