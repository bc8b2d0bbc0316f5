// panva's openid-client (unmodified, from npm; DPoP and PAR by its oauth4webapi core) against the
// provider as a FAPI 2.0 client: private_key_jwt, a pushed authorization request with a DPoP
// proof, the code redeemed with DPoP (the server's nonce taken on use_dpop_nonce, as the library
// does by itself), ID token validated, UserInfo with DPoP, refresh with DPoP, and the bound access
// token refused as a Bearer token.
// Env: ISSUER, CLIENT_ID, CLIENT_KEY_PKCS8 (base64), CLIENT_KEY_KID, REDIRECT_URI, USERNAME, PASSWORD.
// Prints one JSON line; exit 1 on failure.
import * as client from "openid-client";
import { readFileSync } from "node:fs";
import { Browser } from "./pages.mjs";

const { ISSUER, CLIENT_ID, CLIENT_KEY_PKCS8, CLIENT_KEY_KID, REDIRECT_URI, USERNAME, PASSWORD } = process.env;
const version = JSON.parse(
  readFileSync(new URL("../node_modules/openid-client/package.json", import.meta.url)),
).version;
const result = { ok: false, library: `openid-client ${version} (PAR, DPoP, private_key_jwt)`, steps: [] };
const step = (s) => result.steps.push(s);

try {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    Buffer.from(CLIENT_KEY_PKCS8, "base64"),
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const config = await client.discovery(
    new URL(ISSUER),
    CLIENT_ID,
    undefined,
    client.PrivateKeyJwt({ key, kid: CLIENT_KEY_KID }),
    { execute: [client.allowInsecureRequests] },
  );
  client.enableNonRepudiationChecks(config);
  if (!config.serverMetadata().dpop_signing_alg_values_supported?.includes("ES256")) {
    throw new Error("discovery does not list ES256 for DPoP");
  }
  step("discovery");
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256"));
  const code_verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: REDIRECT_URI,
      scope: "openid profile email offline_access",
      code_challenge: await client.calculatePKCECodeChallenge(code_verifier),
      code_challenge_method: "S256",
      state,
      nonce,
      prompt: "consent",
    },
    { DPoP },
  );
  if (!url.searchParams.get("request_uri")?.startsWith("urn:ietf:params:oauth:request_uri:")) {
    throw new Error(`not a pushed request: ${url}`);
  }
  step("pushed authorization request with a DPoP proof");
  const browser = new Browser(new URL(ISSUER).origin);
  const callback = await browser.signIn(url.toString(), USERNAME, PASSWORD);
  step("authorize, login, consent");
  const tokens = await client.authorizationCodeGrant(
    config,
    new URL(callback),
    { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  if (tokens.token_type?.toLowerCase() !== "dpop") throw new Error(`token_type ${tokens.token_type}`);
  const claims = tokens.claims();
  step("token (DPoP-bound) and ID token validated");
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
  if (!userinfo.email) throw new Error(`UserInfo without email: ${JSON.stringify(userinfo)}`);
  step("userinfo with DPoP");
  let bearerRefused = false;
  try {
    await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  } catch (e) {
    bearerRefused = true;
  }
  if (!bearerRefused) throw new Error("the DPoP-bound token was accepted as a Bearer token");
  step("the bound token is refused as Bearer");
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  if (refreshed.token_type?.toLowerCase() !== "dpop") throw new Error(`refresh token_type ${refreshed.token_type}`);
  if (refreshed.refresh_token === tokens.refresh_token) throw new Error("refresh token not rotated");
  step("refresh with DPoP (rotated)");
  result.sub = claims.sub;
  result.ok = true;
} catch (e) {
  result.error = `${e?.name ?? "Error"}: ${e?.message ?? e} ${e?.cause ? JSON.stringify(e.cause) : ""}`;
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
