// Login, callback, session and token refresh for a public client. Tokens live in sessionStorage
// (gone with the tab); the access token is refreshed 5 minutes before it expires, and the
// rotated refresh token replaces the old one.
import { generatePKCE } from "./pkce.js";
import { ISSUER, CLIENT_ID } from "../config.js";

const REDIRECT_URI = window.location.origin + "/callback";
const endpoints = fetch(`${ISSUER}/.well-known/openid-configuration`).then((r) => r.json());

export async function login() {
  const { verifier, challenge } = await generatePKCE();
  const state = crypto.randomUUID();
  sessionStorage.setItem("oauth_code_verifier", verifier);
  sessionStorage.setItem("oauth_state", state);
  const url = new URL((await endpoints).authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: "code",
    scope: "openid profile email offline_access", state,
    code_challenge: challenge, code_challenge_method: "S256",
  });
  window.location.href = url.toString();
}

function store(tokens) {
  sessionStorage.setItem("tokens", JSON.stringify({
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    id_token: tokens.id_token,
    expires_at: Math.floor(Date.now() / 1000) + tokens.expires_in,
  }));
}

async function tokenRequest(params) {
  const res = await fetch((await endpoints).token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: CLIENT_ID, ...params }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error_description || body.error);
  return body;
}

export async function handleCallback() {
  const params = new URLSearchParams(window.location.search);
  if (params.get("error")) throw new Error(params.get("error_description") || params.get("error"));
  const code = params.get("code");
  const verifier = sessionStorage.getItem("oauth_code_verifier");
  if (!code || params.get("state") !== sessionStorage.getItem("oauth_state") || !verifier) {
    throw new Error("Invalid callback state");
  }
  if (params.get("iss") && params.get("iss") !== ISSUER) throw new Error("Response from another issuer");
  sessionStorage.removeItem("oauth_state");
  sessionStorage.removeItem("oauth_code_verifier");
  store(await tokenRequest({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier }));
}

export async function getValidAccessToken() {
  const tokens = JSON.parse(sessionStorage.getItem("tokens") || "null");
  if (!tokens) return null;
  if (Date.now() / 1000 > tokens.expires_at - 300 && tokens.refresh_token) {
    store(await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token }));
    return JSON.parse(sessionStorage.getItem("tokens")).access_token;
  }
  return tokens.access_token;
}

export async function getUser() {
  const token = await getValidAccessToken();
  if (!token) return null;
  const res = await fetch((await endpoints).userinfo_endpoint, { headers: { Authorization: `Bearer ${token}` } });
  return res.ok ? res.json() : null;
}

export async function logout() {
  const tokens = JSON.parse(sessionStorage.getItem("tokens") || "null");
  sessionStorage.removeItem("tokens");
  const url = new URL((await endpoints).end_session_endpoint);
  if (tokens?.id_token) url.searchParams.set("id_token_hint", tokens.id_token);
  window.location.href = url.toString();
}
