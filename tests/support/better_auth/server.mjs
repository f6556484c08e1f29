// A real Better Auth server for end-to-end tests: the identity provider the two services trust.
//
// It is configured the way docs/operations.md ("Identity") tells a frontend team to configure theirs
// (email and password sign-in, the `jwt` plugin with both services in `aud`, the `bearer` plugin), but
// keeps its users and keys in memory, listens on loopback only and never calls out (telemetry off), so
// tests run offline.
//
// Environment:
//   BETTER_AUTH_PORT      port to listen on (or the first command-line argument)
//   BETTER_AUTH_URL       the base URL tokens name as `iss`; default http://127.0.0.1:<port>
//   BETTER_AUTH_SECRET    encrypts the private signing keys and signs session tokens (32+ characters)
//   JWT_AUDIENCE          comma list of the services that must accept the tokens
//   TEST_HOOKS=1          also serve POST /__test__/expire-signing-keys (see below)
//
// It prints "listening <url>" on stdout once it accepts connections.

import { createServer } from "node:http";

import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";

const port = Number(process.argv[2] ?? process.env.BETTER_AUTH_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node server.mjs PORT (or set BETTER_AUTH_PORT)");
  process.exit(2);
}
const baseURL = process.env.BETTER_AUTH_URL ?? `http://127.0.0.1:${port}`;
const audience = (process.env.JWT_AUDIENCE ?? "")
  .split(",")
  .map((value) => value.trim())
  .filter(Boolean);
if (audience.length === 0) {
  console.error("JWT_AUDIENCE must name at least one service");
  process.exit(2);
}

const DAY = 24 * 60 * 60;

// The memory adapter keeps each model's rows in these arrays, so the test hook below can reach the keys.
const db = { user: [], session: [], account: [], verification: [], jwks: [] };

const auth = betterAuth({
  baseURL,
  secret: process.env.BETTER_AUTH_SECRET,
  database: memoryAdapter(db),
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  plugins: [
    jwt({
      jwt: {
        // Both services compare `iss` with AUTH_ISSUER exactly, so it is pinned rather than derived
        // from the request, and `aud` names every service that must accept the token.
        issuer: baseURL,
        audience,
        expirationTime: "15m",
        // The plugin adds `sub` (the user id), `iat`, `exp`, `iss` and `aud` itself; the services need
        // nothing else, and leaving out the name and email keeps personal data out of every log line
        // and proxy that sees a bearer token.
        definePayload: () => ({}),
      },
      jwks: {
        // A new signing key every 30 days; the old one stays in the JWKS for the 30 day grace period, far
        // longer than any token it signed lives.
        rotationInterval: 30 * DAY,
        gracePeriod: 30 * DAY,
      },
    }),
    bearer(),
  ],
});

const handleAuth = toNodeHandler(auth);
const testHooks = process.env.TEST_HOOKS === "1";

const server = createServer((req, res) => {
  if (testHooks && req.method === "POST" && req.url === "/__test__/expire-signing-keys") {
    // Puts every key where `jwks.rotationInterval` elapsing would put it: past its `expiresAt`. Better Auth
    // then mints a new key the next time it signs a token, and keeps the old ones in the JWKS for the grace
    // period, exactly as it does when the interval runs out, without a test waiting 30 days.
    const past = new Date(Date.now() - 1000);
    for (const key of db.jwks) key.expiresAt = past;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ expired: db.jwks.map((key) => key.id) }));
    return;
  }
  handleAuth(req, res);
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${port}`);
});

// Everything lives in memory, so there is nothing to flush: exit at once rather than wait for keep-alive
// connections to close.
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
