"""{{APP_NAME}}: a Flask app signed in through the provider (authorization code + PKCE, confidential
client). Routes: / (public), /login, /callback, /dashboard (protected), /logout.
Run: python -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python app.py"""
import base64
import hashlib
import os
import secrets
import time
from functools import wraps
from pathlib import Path

import requests
from flask import Flask, abort, redirect, request, session, url_for

for line in (Path(__file__).parent / ".env").read_text().splitlines():
    if "=" in line and not line.startswith("#"):
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip())

ISSUER = os.environ["ISSUER"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
REDIRECT_URI = os.environ["REDIRECT_URI"]
CONFIG = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()

app = Flask(__name__)
app.secret_key = os.environ["SESSION_SECRET"]


def generate_pkce():
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def token_request(**params):
    resp = requests.post(CONFIG["token_endpoint"], data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **params},
                         timeout=10)
    resp.raise_for_status()
    tokens = resp.json()
    session["tokens"] = {**tokens, "expires_at": int(time.time()) + tokens["expires_in"]}
    return tokens


def access_token():
    """The session's access token, refreshed 5 minutes before it expires."""
    tokens = session.get("tokens")
    if not tokens:
        return None
    if time.time() > tokens["expires_at"] - 300 and tokens.get("refresh_token"):
        try:
            tokens = token_request(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        except requests.HTTPError:
            session.clear()
            return None
    return tokens["access_token"]


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not access_token():
            return redirect(url_for("login", next=request.path))
        return view(*args, **kwargs)
    return wrapped


@app.get("/")
def home():
    return '<h1>{{APP_NAME}}</h1><p><a href="/login">Sign in</a> · <a href="/dashboard">Dashboard</a></p>'


@app.get("/login")
def login():
    verifier, challenge = generate_pkce()
    session["oauth"] = {"state": secrets.token_urlsafe(16), "verifier": verifier}
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code",
              "scope": "openid profile email offline_access", "state": session["oauth"]["state"],
              "code_challenge": challenge, "code_challenge_method": "S256"}
    return redirect(requests.Request("GET", CONFIG["authorization_endpoint"], params=params).prepare().url)


@app.get("/callback")
def callback():
    pending = session.pop("oauth", None)
    if request.args.get("error"):
        return f"Sign-in failed: {request.args.get('error')}", 400
    if not pending or request.args.get("state") != pending["state"] or request.args.get("iss", ISSUER) != ISSUER:
        abort(400, "invalid state")
    token_request(grant_type="authorization_code", code=request.args["code"], redirect_uri=REDIRECT_URI,
                  code_verifier=pending["verifier"])
    return redirect(url_for("dashboard"))


@app.get("/dashboard")
@login_required
def dashboard():
    user = requests.get(CONFIG["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token()}"},
                        timeout=10).json()
    return f'<h1>Dashboard</h1><p id="who">Welcome, {user.get("name")}</p><a href="/logout">Sign out</a>'


@app.get("/logout")
def logout():
    id_token = (session.get("tokens") or {}).get("id_token")
    session.clear()
    url = CONFIG["end_session_endpoint"] + (f"?id_token_hint={id_token}" if id_token else "")
    return redirect(url)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]))
