"""Authlib (unmodified, from PyPI) against the provider: discovery -> authorize (PKCE, state,
nonce) -> login/consent (a requests session filling the forms) -> token -> ID token validated by
Authlib against the JWKS -> UserInfo -> refresh -> RP-initiated logout -> prompt=none fails.

Env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_URI, USERNAME, PASSWORD.
Prints one JSON line; exit 1 on failure."""

import json
import os
import secrets
import sys
from urllib.parse import parse_qs, urlparse

import authlib
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken
from pages import sign_in

env = os.environ
ISSUER = env["ISSUER"]
result = {"ok": False, "library": f"Authlib {authlib.__version__}", "steps": []}


try:
    meta = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == ISSUER, meta["issuer"]
    result["steps"].append("discovery")
    rp = OAuth2Session(
        env["CLIENT_ID"],
        env["CLIENT_SECRET"],
        scope="openid profile email offline_access",
        redirect_uri=env["REDIRECT_URI"],
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier, prompt="consent"
    )
    browser = requests.Session()
    callback = sign_in(browser, url, ISSUER, env["USERNAME"], env["PASSWORD"])
    result["steps"].append("authorize, login, consent")
    token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state)
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}},
        claims_params={"nonce": nonce, "client_id": env["CLIENT_ID"], "access_token": token["access_token"]},
    )
    claims.validate(leeway=5)
    result["steps"].append("token and ID token validated")
    userinfo = rp.get(meta["userinfo_endpoint"]).json()
    assert userinfo["sub"] == claims["sub"] and userinfo.get("email"), userinfo
    result["steps"].append("userinfo")
    refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"], "refresh token not rotated"
    result["steps"].append("refresh (rotated)")
    out = browser.get(
        meta["end_session_endpoint"],
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": env["POST_LOGOUT_URI"], "state": "bye"},
        allow_redirects=False,
    )
    back = out.headers.get("location", "")
    assert back.startswith(env["POST_LOGOUT_URI"]) and parse_qs(urlparse(back).query).get("state") == ["bye"], (
        out.status_code,
        back,
    )
    result["steps"].append("logout")
    silent, _ = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, prompt="none")
    after = sign_in(browser, silent, ISSUER, env["USERNAME"], env["PASSWORD"])
    assert parse_qs(urlparse(after).query).get("error") == ["login_required"], after
    result["steps"].append("session ended (prompt=none: login_required)")
    result["sub"] = claims["sub"]
    result["ok"] = True
except Exception as e:  # noqa: BLE001 - the report shows whatever went wrong
    result["error"] = f"{type(e).__name__}: {e}"[:600]
print(json.dumps(result))
sys.exit(0 if result["ok"] else 1)
