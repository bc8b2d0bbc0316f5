"""Drives the provider with a client generated from openapi.yaml by openapi-python-client:
creates a tenant, a client and a user through the Admin API, then logs the user in.

Env: BASE (server base URL), ADMIN_TOKEN (a platform admin access token). The generated package
is importable as `op_client`. Prints one line per step; exits non-zero on any failure."""

import base64
import hashlib
import os
import re
import sys
from urllib.parse import parse_qs, urlparse

import httpx
from op_client import AuthenticatedClient
from op_client.api.clients import post_admin_v1_tenants_tenant_clients as create_client
from op_client.api.tenants import post_admin_v1_tenants as create_tenant
from op_client.api.users import post_admin_v1_tenants_tenant_users as create_user
from op_client.models import ClientInput, OAuthClient, Tenant, TenantCreate, User, UserInput

BASE = os.environ["BASE"]
admin = AuthenticatedClient(base_url=BASE, token=os.environ["ADMIN_TOKEN"])


def expect(response, model, status):
    if response.status_code != status or not isinstance(response.parsed, model):
        sys.exit(f"unexpected answer {response.status_code}: {response.content!r}")
    return response.parsed


tenant = expect(create_tenant.sync_detailed(client=admin, body=TenantCreate(slug="generated", display_name="Generated")), Tenant, 201)
print(tenant.issuer)
app = expect(
    create_client.sync_detailed(
        "generated",
        client=admin,
        body=ClientInput(
            client_id="gen-web",
            name="Generated Web",
            redirect_uris=["http://localhost:4000/cb"],
            require_consent=False,
        ),
    ),
    OAuthClient,
    201,
)
print(app.client_id)
user = expect(
    create_user.sync_detailed(
        "generated",
        client=admin,
        body=UserInput(username="gen-user", password="generated password", email="gen@example.com"),
    ),
    User,
    201,
)
print(user.username)

# The login flow, as a browser would do it.
verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
iss = tenant.issuer
browser = httpx.Client(follow_redirects=False)
page = browser.get(
    f"{iss}/authorize",
    params={
        "client_id": "gen-web",
        "redirect_uri": "http://localhost:4000/cb",
        "response_type": "code",
        "scope": "openid email",
        "state": "gen-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    },
).text
hidden = lambda name: re.search(f'name="{name}" value="([^"]*)"', page).group(1)
done = browser.post(
    f"{iss}/login",
    data={"transaction": hidden("transaction"), "csrf": hidden("csrf"), "username": "gen-user", "password": "generated password"},
)
location = done.headers["location"]
query = parse_qs(urlparse(location).query)
assert query["state"] == ["gen-state"] and query["iss"] == [iss], location
tokens = httpx.post(
    f"{iss}/token",
    auth=("gen-web", app.client_secret),
    data={
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": "http://localhost:4000/cb",
        "code_verifier": verifier,
    },
).json()
claims = httpx.get(f"{iss}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
print(claims["email"])
