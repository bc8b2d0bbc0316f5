// §9 of the Calimatic guide, "Verifying Access Tokens Locally", as printed; changed: the issuer
// and client id come from the environment. Verifies each token in TOKENS (comma-separated) and
// that a token for another audience, an altered token and one from another issuer are refused.
// Env: ISSUER, CLIENT_ID, TOKENS. Prints one JSON line; exits 1 on failure.
import { createRemoteJWKSet, jwtVerify } from "jose";

const ISSUER = process.env.ISSUER;
const CLIENT_ID = process.env.CLIENT_ID;

const JWKS = createRemoteJWKSet(new URL(`${ISSUER}/api/v1/oidc/jwks`));

async function verifyAccessToken(token) {
  const { payload } = await jwtVerify(token, JWKS, {
    issuer: ISSUER,
    audience: CLIENT_ID, // Your client_id
  });
  return payload;
}

const result = { ok: false, verified: [], refused: [] };
try {
  for (const token of process.env.TOKENS.split(",")) {
    const p = await verifyAccessToken(token);
    result.verified.push({ sub: p.sub, aud: p.aud, client_id: p.client_id, scope: p.scope });
  }
  const [first] = process.env.TOKENS.split(",");
  const [h, b, s] = first.split(".");
  const tampered = `${h}.${b.slice(0, -2)}${b.slice(-2) === "AA" ? "AB" : "AA"}.${s}`;
  for (const [what, fn] of [
    ["another audience", () => jwtVerify(first, JWKS, { issuer: ISSUER, audience: "someone-else" })],
    ["another issuer", () => jwtVerify(first, JWKS, { issuer: `${ISSUER}-x`, audience: CLIENT_ID })],
    ["altered payload", () => verifyAccessToken(tampered)],
  ]) {
    try {
      await fn();
    } catch (e) {
      result.refused.push({ what, code: e.code });
    }
  }
  result.ok = result.verified.length === process.env.TOKENS.split(",").length && result.refused.length === 3;
} catch (e) {
  result.error = String(e);
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
