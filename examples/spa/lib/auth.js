// src/lib/auth.ts of the Calimatic guide §5, as plain JavaScript. Changed: ISSUER and CLIENT_ID
// come from config.js (the issuer URL and the client's id); everything else is the guide's code.
import { generatePKCE } from "./pkce.js";
import { ISSUER, CLIENT_ID } from "../config.js";

const REDIRECT_URI = window.location.origin + "/callback";

export async function login() {
  const { verifier, challenge } = await generatePKCE();
  const state = crypto.randomUUID();
  // Store for callback verification
  sessionStorage.setItem("oauth_code_verifier", verifier);
  sessionStorage.setItem("oauth_state", state);
  const url = new URL(`${ISSUER}/api/v1/oidc/authorize`);
  url.searchParams.set("client_id", CLIENT_ID);
  url.searchParams.set("redirect_uri", REDIRECT_URI);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", "openid profile email");
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge", challenge);
  url.searchParams.set("code_challenge_method", "S256");
  window.location.href = url.toString();
}

export async function handleCallback() {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  const state = params.get("state");
  const error = params.get("error");
  if (error) throw new Error(params.get("error_description") || error);
  const savedState = sessionStorage.getItem("oauth_state");
  const codeVerifier = sessionStorage.getItem("oauth_code_verifier");
  if (!code || state !== savedState || !codeVerifier) {
    throw new Error("Invalid callback state");
  }
  // Clean up
  sessionStorage.removeItem("oauth_state");
  sessionStorage.removeItem("oauth_code_verifier");
  // Exchange code for tokens (public client — no secret)
  const tokenRes = await fetch(`${ISSUER}/api/v1/oidc/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      code_verifier: codeVerifier,
    }),
  });
  if (!tokenRes.ok) {
    const err = await tokenRes.json();
    throw new Error(err.error_description || err.error);
  }
  const tokens = await tokenRes.json();
  // Fetch user profile
  const userRes = await fetch(`${ISSUER}/api/v1/oidc/userinfo`, {
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
  const user = await userRes.json();
  return { accessToken: tokens.access_token, user };
}
