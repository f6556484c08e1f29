// The gateway as the page uses it: who is signed in and with which token, requests that carry it, and
// a chat turn's Server-Sent Events read from a fetch POST (EventSource can only GET).
//
// The token lives in this tab only (sessionStorage), never in localStorage or a cookie.

const STORAGE_KEY = "todo-chat.session";

export class ApiError extends Error {
  constructor(status, code, message, { conversationId = null, retryAfter = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.conversationId = conversationId;
    this.retryAfter = retryAfter;
  }

  /** The gateway's one error shape, {"error": {"code", "message"}}, from a failed response. */
  static async from(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    const detail = body && typeof body.error === "object" && body.error ? body.error : {};
    const retryAfter = Number(response.headers.get("Retry-After")) || null;
    return new ApiError(
      response.status,
      typeof detail.code === "string" ? detail.code : "error",
      typeof detail.message === "string" && detail.message
        ? detail.message
        : `The server answered ${response.status}.`,
      { conversationId: body?.conversation_id ?? null, retryAfter },
    );
  }
}

export class SignedOut extends Error {}

export async function loadConfig() {
  const response = await fetch("/web/config", { headers: { Accept: "application/json" } });
  if (!response.ok) throw await ApiError.from(response);
  return response.json();
}

/** The JWT's subject, which the API wants in every path. Only read, never trusted: the gateway checks. */
export function subjectOf(token) {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return typeof claims.sub === "string" && claims.sub ? claims.sub : null;
  } catch {
    return null;
  }
}

export class Session {
  constructor(config) {
    this.config = config;
    this.userId = null;
    this.token = null;
    this.sessionToken = null; // Better Auth's session (bearer plugin), to fetch a fresh JWT.
  }

  get mode() {
    return this.config.auth;
  }

  restore() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
      if (saved && saved.auth === this.mode && saved.userId && saved.token) {
        Object.assign(this, { userId: saved.userId, token: saved.token, sessionToken: saved.sessionToken });
        return true;
      }
    } catch {
      // Unreadable or unavailable storage: sign in again.
    }
    return false;
  }

  save() {
    const saved = { auth: this.mode, userId: this.userId, token: this.token, sessionToken: this.sessionToken };
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
    } catch {
      // Storage may be off (private modes): the session then lasts as long as the page.
    }
  }

  clear() {
    this.userId = this.token = this.sessionToken = null;
    try {
      sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Nothing stored.
    }
  }

  /** Local development mode: the gateway mints a token for its demo user (loopback browsers only). */
  async signInLocal() {
    const response = await fetch("/dev/session", { method: "POST", headers: { Accept: "application/json" } });
    if (!response.ok) throw await ApiError.from(response);
    const body = await response.json();
    this.userId = body.user_id;
    this.token = body.token;
    this.save();
  }

  /** Better Auth: email and password for a session (bearer plugin), the session for a JWT (jwt plugin). */
  async signInWithPassword(email, password) {
    const base = this.config.auth_url;
    const response = await fetch(`${base}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email, password }),
      credentials: "omit",
    });
    if (!response.ok) {
      let message = "";
      try {
        message = (await response.json()).message ?? "";
      } catch {
        message = "";
      }
      throw new Error(message || `Sign-in failed (the identity provider answered ${response.status}).`);
    }
    const sessionToken = response.headers.get("set-auth-token");
    if (!sessionToken) {
      throw new Error(
        "Signed in, but no session token came back: the identity provider needs Better Auth's bearer " +
          "plugin, and must expose the set-auth-token header to this page's origin.",
      );
    }
    this.sessionToken = sessionToken;
    await this.fetchJwt();
  }

  async fetchJwt() {
    const response = await fetch(`${this.config.auth_url}/api/auth/token`, {
      headers: { Authorization: `Bearer ${this.sessionToken}`, Accept: "application/json" },
      credentials: "omit",
    });
    if (!response.ok) throw new Error(`Could not get a token (the identity provider answered ${response.status}).`);
    const { token } = await response.json();
    const subject = typeof token === "string" ? subjectOf(token) : null;
    if (!subject) throw new Error("The identity provider's token names no user.");
    this.userId = subject;
    this.token = token;
    this.save();
  }

  async signOut() {
    if (this.mode === "better_auth" && this.sessionToken) {
      try {
        await fetch(`${this.config.auth_url}/api/auth/sign-out`, {
          method: "POST",
          headers: { Authorization: `Bearer ${this.sessionToken}` },
          credentials: "omit",
        });
      } catch {
        // Signed out here either way.
      }
    }
    this.clear();
  }

  /** A pasted token: its subject is the user; the gateway verifies it on the first request. */
  useToken(token) {
    const subject = subjectOf(token);
    if (!subject) throw new Error("That does not look like a JWT with a subject (`sub`).");
    this.userId = subject;
    this.token = token;
    this.sessionToken = null;
    this.save();
  }

  /** A fresh token after a 401, where the mode can get one without asking the user. */
  async renew() {
    try {
      if (this.mode === "local") {
        await this.signInLocal();
        return true;
      }
      if (this.mode === "better_auth" && this.sessionToken) {
        await this.fetchJwt();
        return true;
      }
    } catch {
      return false;
    }
    return false;
  }

  path(suffix) {
    return `/api/${encodeURIComponent(this.userId)}${suffix}`;
  }

  /** fetch() with the bearer token; a 401 renews the token once, else throws SignedOut. */
  async fetch(suffix, init = {}) {
    const send = () =>
      fetch(this.path(suffix), {
        ...init,
        headers: { Accept: "application/json", ...init.headers, Authorization: `Bearer ${this.token}` },
      });
    let response = await send();
    if (response.status === 401 && (await this.renew())) response = await send();
    if (response.status === 401) {
      const error = await ApiError.from(response);
      this.clear();
      throw new SignedOut(error.message);
    }
    return response;
  }

  async getJson(suffix) {
    const response = await this.fetch(suffix);
    if (!response.ok) throw await ApiError.from(response);
    return response.json();
  }
}

/** The events of a `text/event-stream` body: {event, data} with `data` parsed as JSON. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = (buffer + value).replace(/\r\n?/g, "\n");
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const event = parseBlock(block);
        if (event) yield event;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parseBlock(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return null;
  return { event: name, data: JSON.parse(data.join("\n")) };
}
