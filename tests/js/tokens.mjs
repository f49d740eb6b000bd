// Tokens made by the real libraries Tollgate accepts: `jose` for OpenID Connect providers
// (RS256, ES256, EdDSA, signed against a JWKS this script publishes) and `next-auth`'s own
// `encode` for NextAuth.js session tokens. Reads a JSON request on stdin, writes JSON on stdout.
//
//   {"issuer": "...", "audience": "...", "now": 1768478400, "nextauth_secret": "...",
//    "subject": "...", "email": "...", "email_verified": true}
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { encode } from "next-auth/jwt";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const { issuer, audience, now, nextauth_secret: secret, subject, email } = input;
const verified = input.email_verified;

async function key(alg, kid, options) {
  const { publicKey, privateKey } = await generateKeyPair(alg, options);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, jwk };
}

const keys = {
  rs256: await key("RS256", "rsa-1"),
  es256: await key("ES256", "ec-1"),
  eddsa: await key("EdDSA", "ed-1", { crv: "Ed25519" }),
};
const rotated = await key("RS256", "rsa-2");

function sign(k, claims = {}, at = now) {
  const payload = { email, email_verified: verified, ...claims };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: "JWT" })
    .setIssuer(claims.iss ?? issuer)
    .setAudience(claims.aud ?? audience)
    .setSubject(claims.sub ?? subject)
    .setIssuedAt(at)
    .setExpirationTime(at + 3600)
    .sign(k.privateKey);
}

const output = {
  jwks: { keys: Object.values(keys).map((k) => k.jwk) },
  rotated_jwks: { keys: [...Object.values(keys).map((k) => k.jwk), rotated.jwk] },
  oidc: {
    rs256: await sign(keys.rs256),
    es256: await sign(keys.es256),
    eddsa: await sign(keys.eddsa),
    wrong_audience: await sign(keys.rs256, { aud: "someone-else" }),
    wrong_issuer: await sign(keys.rs256, { iss: issuer + "x" }),
    expired: await sign(keys.rs256, {}, now - 7200),
    rotated_key: await sign(rotated),
    later: await sign(keys.es256, {}, now + 120),
  },
};
if (secret) {
  const token = { sub: subject, email, name: "Ada", ...(verified === undefined ? {} : { email_verified: verified }) };
  output.nextauth = {
    // NextAuth's default: an encrypted JWT (dir + A256GCM), made by next-auth itself.
    jwe: await encode({ token, secret }),
    // The signed form an app's custom encode makes (HS256 with the same secret).
    jws: await new SignJWT(token)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(secret)),
    other_secret: await encode({ token, secret: secret + "-not" }),
  };
}
process.stdout.write(JSON.stringify(output));
