"""Runs the guide's Python functions (calimatic_seed.py) through a whole login against a running
provider, then the guide's M2M curl (§7). The browser part (the login and consent forms) is done
with a requests.Session. Env: ISSUER, CALIMATIC_CLIENT_ID, CALIMATIC_CLIENT_SECRET, REDIRECT_URI,
USERNAME, PASSWORD, APP_NAME. Prints one JSON object; exits 1 when a check fails."""
import base64
import json
import os
import re
import secrets
import subprocess
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import requests

import calimatic_seed as seed

checks = []


def check(name, ok, detail=""):
    checks.append({"check": name, "ok": bool(ok), "detail": str(detail)[:300]})


def hidden(html, name):
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    return m.group(1) if m else ""


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def browser_login(url):
    """Follows the provider's pages like a browser until the redirect to REDIRECT_URI."""
    s = requests.Session()
    r = s.get(url, allow_redirects=False)
    for _ in range(5):
        if r.is_redirect:
            loc = urljoin(r.url, r.headers["location"])
            if loc.startswith(seed.REDIRECT_URI):
                return loc
            r = s.get(loc, allow_redirects=False)
            continue
        html = r.text
        action = urljoin(r.url, re.search(r'<form method="post" action="([^"]+)"', html).group(1).replace("&#x2f;", "/"))
        if 'name="password"' in html:
            form = {"transaction": hidden(html, "transaction"), "csrf": hidden(html, "csrf"),
                    "username": os.environ["USERNAME"], "password": os.environ["PASSWORD"]}
        else:
            form = {"transaction": hidden(html, "transaction"), "csrf": hidden(html, "csrf"), "decision": "approve"}
        r = s.post(action, data=form, allow_redirects=False)
    raise RuntimeError(f"no redirect to the app: {r.status_code} {r.text[:200]}")


result = {}
try:
    # §6: login with PKCE, code exchange, UserInfo, refresh.
    state = secrets.token_urlsafe(16)
    verifier, challenge = seed.generate_pkce()
    callback = browser_login(seed.get_authorization_url(state, challenge))
    q = parse_qs(urlparse(callback).query)
    check("callback carries state and iss", q.get("state") == [state] and q.get("iss") == [seed.ISSUER], callback)
    tokens = seed.exchange_code(q["code"][0], verifier)
    check("exchange_code returns the three tokens",
          all(k in tokens for k in ("access_token", "id_token", "refresh_token")) and tokens["token_type"] == "Bearer",
          sorted(tokens))
    user = seed.get_user_info(tokens["access_token"])
    check("get_user_info returns the profile", user.get("sub") and user.get("email") and user.get("name"), user)
    check("organization scope claims present", "organization_memberships" in user or "organization_id" in user, sorted(user))
    refreshed = seed.refresh_tokens(tokens["refresh_token"])
    check("refresh_tokens rotates the refresh token",
          refreshed.get("refresh_token") and refreshed["refresh_token"] != tokens["refresh_token"], sorted(refreshed))
    try:
        seed.refresh_tokens(tokens["refresh_token"])
        check("the old refresh token is refused", False, "accepted again")
    except requests.HTTPError as e:
        check("the old refresh token is refused", e.response.status_code == 400 and e.response.json()["error"] == "invalid_grant",
              e.response.text)
    result["user_access_token"] = refreshed["access_token"]

    # §7: the M2M curl, as printed (issuer and credentials substituted).
    out = subprocess.run(
        ["curl", "-sS", "-X", "POST", f"{seed.ISSUER}/api/v1/oidc/token",
         "-H", "Content-Type: application/x-www-form-urlencoded",
         "-d", "grant_type=client_credentials",
         "-d", f"client_id={seed.CLIENT_ID}",
         "-d", f"client_secret={seed.CLIENT_SECRET}",
         "-d", "scope=openid"], capture_output=True, text=True, check=True)
    m2m = json.loads(out.stdout)
    check("M2M response fields", m2m.get("token_type") == "Bearer" and m2m.get("expires_in") == 3600
          and m2m.get("scope") == "openid", m2m)
    c = claims(m2m["access_token"])
    expected = {"iss": seed.ISSUER, "sub": seed.CLIENT_ID, "aud": seed.CLIENT_ID, "scope": "openid",
                "token_type": "access_token", "client_id": seed.CLIENT_ID, "application": os.environ["APP_NAME"]}
    check("M2M access-token claims as documented", all(c.get(k) == v for k, v in expected.items()), c)
    result["m2m_access_token"] = m2m["access_token"]
except Exception as e:  # a failing step is a failed check, with its reason
    check("no exception", False, repr(e))

result["checks"] = checks
result["ok"] = bool(checks) and all(c["ok"] for c in checks)
print(json.dumps(result))
sys.exit(0 if result["ok"] else 1)
