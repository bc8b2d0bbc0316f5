"""The provider's pages driven like a browser (a requests session: cookie jar, manual redirects):
fill the login form, approve consent, stop at the first redirect that leaves the provider."""

import html
import re
from urllib.parse import urljoin, urlparse


def sign_in(browser, url, issuer, username, password):
    """Walks login and consent; returns the first redirect that leaves the provider."""
    res = browser.get(url, allow_redirects=False)
    for _ in range(10):
        if 300 <= res.status_code < 400:
            nxt = urljoin(res.url, res.headers["location"])
            if urlparse(nxt).netloc != urlparse(issuer).netloc:
                return nxt
            res = browser.get(nxt, allow_redirects=False)
            continue
        page = res.text
        form = {n: html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
        action = re.search(r'<form method="post" action="([^"]+)"', page)
        if 'name="password"' in page and action:
            form.update(username=username, password=password)
        elif 'name="decision"' in page and action:
            form["decision"] = "approve"
        else:
            raise RuntimeError(f"unexpected page ({res.status_code}): {page[:300]}")
        res = browser.post(urljoin(res.url, html.unescape(action.group(1))), data=form, allow_redirects=False)
    raise RuntimeError("too many steps")
