// Verifies a Tollgate entitlement token as a customer's backend would, with `jose`: the JWKS
// Tollgate publishes, the issuer and audience it names. Reads {"jwks", "token", "issuer",
// "audience", "now"} on stdin; writes {"payload", "header"} or {"error"}.
import { createLocalJWKSet, jwtVerify } from "jose";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
try {
  const { payload, protectedHeader } = await jwtVerify(input.token, createLocalJWKSet(input.jwks), {
    issuer: input.issuer,
    audience: input.audience,
    algorithms: ["EdDSA"],
    currentDate: new Date(input.now * 1000),
  });
  process.stdout.write(JSON.stringify({ payload, header: protectedHeader }));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e.code ?? String(e) }));
}
