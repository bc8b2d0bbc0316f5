// Browser-flow load driver for the side-by-side benchmark (Node >= 20, no npm packages).
// One driver for every server: endpoints come from discovery, and the login and consent pages are
// filled generically (the form's hidden inputs, a username field named `username` or `login`, the
// password, and the first named submit button), so the same requests are made against each server.
//
// Modes (one JSON line on stdout):
//   login    every flow starts with no cookies: authorize -> login form -> consent form (prompt=consent)
//            -> code -> token -> userinfo                                     (scenario 7)
//   sso      each worker logs in and consents once; then every flow is authorize (live session,
//            remembered consent) -> code -> token -> userinfo                 (scenario 6)
//   refresh  each worker gets a refresh token once; then every "flow" is one refresh_token grant,
//            using the newest refresh token returned                          (scenario 5)
//            With --token-file F, worker i starts from line i of F when F has one (no login, so
//            a restarted server can be measured without argon2id in its memory) and F is rewritten
//            with each worker's newest refresh token at the end.
//            With --metrics URL (our server's `--metrics-listen`), the password checks counted
//            by the server during the measured part are reported with their CPU time: the argon2id
//            share of a login flow, from the same process and the same run.
//
// Usage: node flows.mjs --issuer URL --client-id ID --client-secret S --username U --password P
//          --mode sso --concurrency 4 --duration 10 --warmup 2 [--server-pid PID] [--label X]
//          [--metrics URL]
import * as crypto from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', default: 'http://127.0.0.1:9/cb' },
    username: { type: 'string' },
    password: { type: 'string' },
    scope: { type: 'string', default: 'openid offline_access profile email' },
    mode: { type: 'string', default: 'login' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1' },
    'server-pid': { type: 'string' },
    label: { type: 'string', default: '' },
    flows: { type: 'string' }, // stop after this many flows in all (instead of --duration)
    'token-file': { type: 'string' }, // refresh mode: start from (and save) one refresh token per worker
    metrics: { type: 'string' }, // our server's GET /metrics: password checks and their CPU time
  },
});
for (const k of ['issuer', 'client-id', 'client-secret', 'username', 'password']) {
  if (!o[k]) throw new Error(`--${k} is required`);
}

const base = o.issuer.replace(/\/$/, '');
const ep = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
const basic = `Basic ${Buffer.from(`${encodeURIComponent(o['client-id'])}:${encodeURIComponent(o['client-secret'])}`).toString('base64')}`;
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const unescapeHtml = (s) => s.replace(/&#x2f;/gi, '/').replace(/&#x27;/gi, "'").replace(/&quot;/g, '"')
  .replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

class Jar { // minimal path-aware cookie jar; every request goes to the one server host
  #c = new Map();
  store(res) {
    for (const sc of res.headers.getSetCookie()) {
      const [nv, ...attrs] = sc.split(';').map((x) => x.trim());
      const i = nv.indexOf('=');
      const name = nv.slice(0, i); const value = nv.slice(i + 1);
      let path = '/'; let expired = false;
      for (const at of attrs) {
        const [k, v] = at.split('=');
        const key = k.toLowerCase();
        if (key === 'path') path = v;
        else if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        else if (key === 'max-age' && Number(v) <= 0) expired = true;
      }
      const id = `${name};${path}`;
      if (expired || value === '') this.#c.delete(id); else this.#c.set(id, { name, value, path });
    }
  }
  header(url) {
    const p = new URL(url).pathname;
    const out = [];
    for (const { name, value, path } of this.#c.values()) {
      if (p === path || p.startsWith(path.endsWith('/') ? path : `${path}/`)) out.push(`${name}=${value}`);
    }
    return out.join('; ');
  }
}

let requests = 0;
async function req(jar, url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  const ck = jar.header(url);
  if (ck) headers.cookie = ck;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  const text = await res.text();
  requests += 1;
  jar.store(res);
  return { status: res.status, location: res.headers.get('location'), text };
}

const attrs = (tag) => Object.fromEntries([...tag.matchAll(/([a-zA-Z_-]+)="([^"]*)"/g)].map((m) => [m[1].toLowerCase(), unescapeHtml(m[2])]));

// Fills the one form on a login or consent page.
function fill(page) {
  const form = /<form\b[^>]*>/i.exec(page);
  if (!form) throw new Error(`no form on page: ${page.slice(0, 200)}`);
  const action = attrs(form[0]).action;
  const data = new URLSearchParams();
  let isLogin = false;
  for (const m of page.matchAll(/<input\b[^>]*>/gi)) {
    const a = attrs(m[0]);
    if (!a.name) continue;
    if (a.type === 'hidden') data.set(a.name, a.value ?? '');
    else if (a.type === 'password') { data.set(a.name, o.password); isLogin = true; }
    else if (a.name === 'username' || a.name === 'login') data.set(a.name, o.username);
  }
  if (!isLogin) {
    const button = [...page.matchAll(/<button\b[^>]*>/gi)].map((m) => attrs(m[0])).find((a) => a.name);
    if (button) data.set(button.name, button.value ?? '');
  }
  return { action: new URL(action, base).href, body: data.toString() };
}

// Drives the browser part from `url` until the server redirects to the client: returns the callback URL.
async function browse(jar, url) {
  let r = await req(jar, url);
  for (let hops = 0; hops < 12; hops += 1) {
    if (r.status >= 300 && r.status < 400 && r.location) {
      const next = new URL(r.location, url).href;
      if (next.startsWith(o['redirect-uri'])) return next;
      url = next;
      r = await req(jar, url);
    } else if (r.status === 200) {
      const f = fill(r.text);
      url = f.action;
      r = await req(jar, url, { method: 'POST', body: f.body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    } else {
      throw new Error(`browser step ${url}: ${r.status} ${r.text.slice(0, 200)}`);
    }
  }
  throw new Error('too many browser steps');
}

async function tokenRequest(jar, params) {
  const r = await req(jar, ep.token_endpoint, {
    method: 'POST', body: new URLSearchParams(params).toString(),
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (r.status !== 200) throw new Error(`token ${r.status} ${r.text.slice(0, 200)}`);
  return JSON.parse(r.text);
}

// authorize -> (pages) -> code -> token -> userinfo; returns the token response.
async function flow(jar, prompt) {
  const verifier = b64u(crypto.randomBytes(32));
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  const state = b64u(crypto.randomBytes(12));
  const au = new URL(ep.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: o['client-id'], response_type: 'code', redirect_uri: o['redirect-uri'], scope: o.scope,
    state, nonce: b64u(crypto.randomBytes(12)), code_challenge: challenge, code_challenge_method: 'S256',
    ...(prompt ? { prompt } : {}),
  })) au.searchParams.set(k, v);
  const cb = new URL(await browse(jar, au.href));
  if (cb.searchParams.get('state') !== state || !cb.searchParams.get('code')) throw new Error(`callback ${cb.href}`);
  if (cb.searchParams.get('iss') !== ep.issuer) throw new Error(`iss ${cb.searchParams.get('iss')} != ${ep.issuer}`);
  const tok = await tokenRequest(jar, {
    grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: o['redirect-uri'], code_verifier: verifier,
  });
  const ur = await req(jar, ep.userinfo_endpoint, { headers: { authorization: `Bearer ${tok.access_token}` } });
  if (ur.status !== 200 || !JSON.parse(ur.text).sub) throw new Error(`userinfo ${ur.status}`);
  return tok;
}

// One worker's state and its repeated unit of work.
const savedTokens = o['token-file'] && existsSync(o['token-file'])
  ? readFileSync(o['token-file'], 'utf8').split('\n').filter(Boolean) : [];
const newestTokens = [];
async function worker(i) {
  const jar = new Jar();
  if (o.mode === 'login') return async () => { await flow(new Jar(), 'consent'); };
  if (o.mode === 'refresh' && savedTokens[i]) return refresher(jar, i, savedTokens[i]);
  const first = await flow(jar, 'consent');
  if (o.mode === 'sso') return async () => { await flow(jar); };
  if (o.mode === 'refresh') return refresher(jar, i, first.refresh_token);
  throw new Error(`unknown mode ${o.mode}`);
}
// A refresh loop from `first`, remembering the newest token for --token-file.
function refresher(jar, i, first) {
  let rt = first;
  if (!rt) throw new Error('no refresh token issued');
  newestTokens[i] = rt;
  return async () => {
    const t = await tokenRequest(jar, { grant_type: 'refresh_token', refresh_token: rt });
    if (!t.access_token) throw new Error('no access token on refresh');
    rt = t.refresh_token ?? rt;
    newestTokens[i] = rt;
  };
}

const pid = o['server-pid'];
const CLK = 100; // CLK_TCK on Linux
const cpuS = () => {
  if (!pid) return null;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop().trim().split(/\s+/);
  return (Number(f[11]) + Number(f[12])) / CLK;
};
const statusKb = (k) => (pid ? Number(new RegExp(`${k}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) : null);

// The server's own count of password checks and their thread CPU time (seconds), or null.
const passwordChecks = async () => {
  if (!o.metrics) return null;
  const text = await (await fetch(o.metrics)).text();
  const v = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { n: v('oidc_password_checks_total'), cpu: v('oidc_password_check_cpu_seconds_total') };
};

const limit = o.flows ? Number(o.flows) : 0;
let done = 0;
async function loop(unit, until, lat) {
  let n = 0; let err = 0;
  while (performance.now() < until && !(limit && done >= limit)) {
    done += 1;
    const t = performance.now();
    try { await unit(); n += 1; lat?.push(performance.now() - t); } catch (e) { err += 1; if (err <= 3) console.error('flow error:', e.message); }
  }
  return [n, err];
}

const conc = Number(o.concurrency);
const units = await Promise.all(Array.from({ length: conc }, (_, i) => worker(i)));
await Promise.all(units.map((u) => loop(u, performance.now() + 1000 * Number(o.warmup))));
done = 0;
const lat = [];
const p0 = await passwordChecks();
const req0 = requests; const c0 = cpuS(); const t0 = performance.now();
const until = limit ? Infinity : t0 + 1000 * Number(o.duration);
const res = await Promise.all(units.map((u) => loop(u, until, lat)));
const el = (performance.now() - t0) / 1000;
const c1 = cpuS();
const p1 = await passwordChecks();
const n = res.reduce((a, [x]) => a + x, 0); const errors = res.reduce((a, [, e]) => a + e, 0);
if (o['token-file'] && o.mode === 'refresh') writeFileSync(o['token-file'], newestTokens.join('\n') + '\n');
lat.sort((a, b) => a - b);
const r2 = (x) => Math.round(x * 100) / 100;
const pct = (p) => r2(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0);
console.log(JSON.stringify({
  label: o.label, mode: o.mode, concurrency: conc, flows: n, errors, duration_s: r2(el),
  rps: r2(n / el), http_requests_per_flow: r2((requests - req0) / Math.max(n, 1)),
  lat_ms: { p50: pct(0.5), p99: pct(0.99) },
  ...(pid ? {
    server_cpu_s: r2(c1 - c0),
    server_cpu_us_per_req: Math.round((1e6 * (c1 - c0)) / Math.max(n, 1)),
    rss_mb_after: r2(statusKb('VmRSS') / 1024), rss_mb_peak_process: r2(statusKb('VmHWM') / 1024),
  } : {}),
  ...(p0 && p1 ? {
    password_checks: p1.n - p0.n,
    password_check_cpu_us: Math.round((1e6 * (p1.cpu - p0.cpu)) / Math.max(p1.n - p0.n, 1)),
    password_check_cpu_us_per_flow: Math.round((1e6 * (p1.cpu - p0.cpu)) / Math.max(n, 1)),
  } : {}),
}));
