"""requests-oauthlib (unmodified, from PyPI) against the provider, with joserfc verifying the ID
token: discovery -> authorize (PKCE S256, state, nonce) -> login/consent -> token (client_secret_basic,
the library's default) -> ID token signature and claims checked by joserfc against the JWKS ->
UserInfo -> refresh; then plain OAuth 2.0 (no `openid`): tokens, no ID token, UserInfo 403.

Env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERNAME, PASSWORD.
Prints one JSON line; exit 1 on failure."""

import json
import os
import secrets
import sys
from importlib.metadata import version

import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from requests_oauthlib import OAuth2Session

from pages import sign_in

env = os.environ
ISSUER = env["ISSUER"]
# The suite's provider is plain http on loopback; oauthlib refuses that unless told.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
result = {
    "ok": False,
    "library": f"requests-oauthlib {version('requests-oauthlib')} + joserfc {version('joserfc')}",
    "steps": [],
}


def authorize(scope, **extra):
    """A session that went through authorize, login and consent; returns it and the callback."""
    rp = OAuth2Session(env["CLIENT_ID"], redirect_uri=env["REDIRECT_URI"], scope=scope, pkce="S256")
    url, state = rp.authorization_url(meta["authorization_endpoint"], prompt="consent", **extra)
    return rp, state, sign_in(requests.Session(), url, ISSUER, env["USERNAME"], env["PASSWORD"])


try:
    meta = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == ISSUER, meta["issuer"]
    result["steps"].append("discovery")
    nonce = secrets.token_urlsafe(16)
    rp, state, callback = authorize(["openid", "profile", "email"], nonce=nonce)
    result["steps"].append("authorize with PKCE, login, consent")
    token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback, client_secret=env["CLIENT_SECRET"])
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256", "ES256", "ES384"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": env["CLIENT_ID"]},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
    ).validate(id_token.claims)
    result["steps"].append("token; ID token verified by joserfc")
    info = rp.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == id_token.claims["sub"] and info.get("email"), info
    result["steps"].append("UserInfo")
    # refresh_token() puts client_id/client_secret keyword arguments in the body
    # (client_secret_post); a client_secret_basic client passes them as `auth` instead.
    refreshed = rp.refresh_token(
        meta["token_endpoint"], auth=requests.auth.HTTPBasicAuth(env["CLIENT_ID"], env["CLIENT_SECRET"])
    )
    assert refreshed["refresh_token"] != token["refresh_token"], "rotated"
    result["steps"].append("refresh (rotated)")
    plain, _, callback = authorize(["profile"])
    token = plain.fetch_token(meta["token_endpoint"], authorization_response=callback, client_secret=env["CLIENT_SECRET"])
    assert "id_token" not in token and token["access_token"], token.keys()
    denied = plain.get(meta["userinfo_endpoint"])
    assert denied.status_code == 403 and "insufficient_scope" in denied.headers.get("www-authenticate", ""), (
        denied.status_code,
        denied.headers,
    )
    result["steps"].append("plain OAuth 2.0 without openid: tokens, no ID token, UserInfo 403")
    result["ok"] = True
except Exception as e:  # noqa: BLE001 - the report carries whatever broke
    result["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(result))
sys.exit(0 if result["ok"] else 1)
