// passport-openidconnect (unmodified, from npm) in a real Express app with sessions, against the
// provider: the app's /login redirects to /authorize (state from its session store, nonce; this
// library sends no PKCE) → login/consent → the app's /cb exchanges the code (the secret in the
// body: client_secret_post), checks the ID token's claims and fetches UserInfo.
// The client must be registered as the compatibility page says: created without a
// token_endpoint_auth_method (or client_secret_post) and require_pkce false, which the tenant
// must allow (allow_pkce_opt_out).
// Env: ISSUER, CLIENT_ID, CLIENT_SECRET, APP_PORT, USERNAME, PASSWORD. The redirect URI is
// http://127.0.0.1:$APP_PORT/cb. Prints one JSON line; exit 1 on failure.
import express from "express";
import session from "express-session";
import passport from "passport";
import OpenIDConnectStrategy from "passport-openidconnect";
import { readFileSync } from "node:fs";
import { Browser } from "./pages.mjs";

const { ISSUER, CLIENT_ID, CLIENT_SECRET, APP_PORT, USERNAME, PASSWORD } = process.env;
const version = JSON.parse(
  readFileSync(new URL("../node_modules/passport-openidconnect/package.json", import.meta.url)),
).version;
const result = { ok: false, library: `passport-openidconnect ${version}`, steps: [] };
const step = (s) => result.steps.push(s);
const app_origin = `http://127.0.0.1:${APP_PORT}`;
let server;

try {
  const meta = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
  step("discovery");
  passport.use(
    new OpenIDConnectStrategy(
      {
        issuer: meta.issuer,
        authorizationURL: meta.authorization_endpoint,
        tokenURL: meta.token_endpoint,
        userInfoURL: meta.userinfo_endpoint,
        clientID: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        callbackURL: `${app_origin}/cb`,
        scope: ["profile", "email"],
        nonce: true,
      },
      (issuer, profile, done) => done(null, { issuer, id: profile.id, name: profile.displayName, emails: profile.emails }),
    ),
  );
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user, done) => done(null, user));
  const app = express();
  app.use(session({ secret: "compat-test", resave: false, saveUninitialized: true }));
  app.use(passport.session());
  app.get("/login", passport.authenticate("openidconnect"));
  app.get(
    "/cb",
    passport.authenticate("openidconnect", { failureRedirect: "/failed", failureMessage: true }),
    (req, res) => res.json({ user: req.user }),
  );
  app.get("/failed", (req, res) => res.status(401).json({ failed: req.session.messages || [] }));
  await new Promise((ok) => (server = app.listen(Number(APP_PORT), "127.0.0.1", ok)));
  // One cookie jar per origin: the app's session, and the provider's.
  const appBrowser = new Browser(app_origin);
  const start = await appBrowser.request(`${app_origin}/login`);
  const authorize = start.headers.get("location");
  if (start.status !== 302 || !authorize?.startsWith(meta.authorization_endpoint)) {
    throw new Error(`the app did not redirect to /authorize: ${start.status} ${authorize}`);
  }
  if (/code_challenge/.test(authorize)) throw new Error("this library was not expected to send PKCE");
  const callback = await new Browser(new URL(ISSUER).origin).signIn(authorize, USERNAME, PASSWORD);
  step("authorize without PKCE, login, consent");
  const done = await appBrowser.request(callback);
  const body = await done.json();
  if (done.status !== 200 || !body.user) throw new Error(`callback ${done.status}: ${JSON.stringify(body)}`);
  step("code exchanged (secret in the body), ID token claims checked");
  if (body.user.issuer !== ISSUER || !body.user.id) throw new Error(`profile: ${JSON.stringify(body.user)}`);
  if (!body.user.emails?.length) throw new Error(`no email from UserInfo: ${JSON.stringify(body.user)}`);
  step("UserInfo profile");
  result.ok = true;
} catch (e) {
  result.error = String(e?.stack || e);
}
server?.close();
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
