// The provider's pages driven like a browser would (cookie jar, manual redirects): fill the login
// form, approve consent, and stop at the first redirect that leaves the provider.

function unescape(s) {
  return s
    .replace(/&#x2f;/gi, "/")
    .replace(/&#x27;/gi, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

export class Browser {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
  }

  async request(url, init = {}) {
    const headers = new Headers(init.headers || {});
    if (new URL(url).origin === this.origin && this.cookies.size) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/max-age=0/i.test(c) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  // Follows `url` through login and consent; returns the URL the provider finally redirects to
  // outside itself (the client's redirect URI), or throws with what it found instead.
  async signIn(url, username, password) {
    let res = await this.request(url);
    let current = url;
    for (let step = 0; step < 10; step++) {
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get("location"), current).toString();
        if (new URL(next).origin !== this.origin) return next;
        current = next;
        res = await this.request(next);
        continue;
      }
      const html = await res.text();
      const form = {};
      for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
        form[m[1]] = unescape(m[2]);
      }
      const action = html.match(/<form method="post" action="([^"]+)"/);
      if (html.includes('name="password"') && action) {
        Object.assign(form, { username, password });
      } else if (html.includes('name="decision"') && action) {
        form.decision = "approve";
      } else {
        throw new Error(`unexpected page (${res.status}): ${html.slice(0, 300)}`);
      }
      current = new URL(unescape(action[1]), current).toString();
      res = await this.request(current, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      });
    }
    throw new Error("too many steps");
  }
}
