// panva's openid-client (unmodified, from npm) against the provider: discovery → authorize
// (PKCE, state, nonce) → login/consent → token → ID token validation (signature checked against
// the JWKS) → UserInfo → refresh → RP-initiated logout → prompt=none fails.
// Env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_URI, USERNAME, PASSWORD.
// Prints one JSON line; exit 1 on failure.
import * as client from "openid-client";
import { readFileSync } from "node:fs";
import { Browser } from "./pages.mjs";

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_URI, USERNAME, PASSWORD } = process.env;
const version = JSON.parse(
  readFileSync(new URL("../node_modules/openid-client/package.json", import.meta.url)),
).version;
const result = { ok: false, library: `openid-client ${version}`, steps: [] };
const step = (s) => result.steps.push(s);

try {
  const config = await client.discovery(
    new URL(ISSUER),
    CLIENT_ID,
    undefined,
    client.ClientSecretBasic(CLIENT_SECRET),
    { execute: [client.allowInsecureRequests] },
  );
  client.enableNonRepudiationChecks(config); // verify ID token signatures with the JWKS
  step("discovery");
  const browser = new Browser(new URL(ISSUER).origin);
  const code_verifier = client.randomPKCECodeVerifier();
  const code_challenge = await client.calculatePKCECodeChallenge(code_verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: "openid profile email offline_access",
    code_challenge,
    code_challenge_method: "S256",
    state,
    nonce,
    prompt: "consent",
  });
  const callback = await browser.signIn(url.toString(), USERNAME, PASSWORD);
  step("authorize, login, consent");
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: code_verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  step("token and ID token validated");
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  if (!userinfo.email) throw new Error(`UserInfo without email: ${JSON.stringify(userinfo)}`);
  step("userinfo");
  if (!tokens.refresh_token) throw new Error("no refresh token");
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  if (refreshed.refresh_token === tokens.refresh_token) throw new Error("refresh token not rotated");
  step("refresh (rotated)");
  const end = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: POST_LOGOUT_URI,
    state: "bye",
  });
  const out = await browser.request(end.toString());
  const back = new URL(out.headers.get("location") || "about:blank", ISSUER);
  if (!back.toString().startsWith(POST_LOGOUT_URI) || back.searchParams.get("state") !== "bye") {
    throw new Error(`logout did not return to the client: ${out.status} ${back}`);
  }
  step("logout");
  const silent = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: "openid",
    code_challenge,
    code_challenge_method: "S256",
    state,
    prompt: "none",
  });
  const after = new URL(await browser.signIn(silent.toString(), USERNAME, PASSWORD));
  if (after.searchParams.get("error") !== "login_required") throw new Error(`session survived logout: ${after}`);
  step("session ended (prompt=none: login_required)");
  result.sub = claims.sub;
  result.ok = true;
} catch (e) {
  result.error = String(e?.cause ? `${e} (${e.cause})` : e).slice(0, 600);
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
