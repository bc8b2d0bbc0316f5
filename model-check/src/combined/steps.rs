//! The combined model's transitions: each runs the real engine and compares what it did with
//! what the model knows must hold, noting every broken rule.

use super::state::{scope_bits, Broken, Code, Goal, InFlight, Page, Sess, Tok, TokKind, Why};
use super::world::{
    jwt_claims, key, verifier, Kind, ModelEngine, ACCESS_TTL, ATTACKER_VERIFIER, PASSWORD, TENANTS, USERS,
};
use super::{Action, CodeAttack, CombinedModel, RefreshAttack, Req, State};
use crate::world::{exchange, refresh, Exec};
use engine::session::logout::{EndSessionOutcome, EndSessionRequest};
use engine::token::minting::TokenResponse;
use engine::{AuthorizationRequest, AuthorizeOutcome, Env, LoginOutcome};

/// Who presents a code or refresh token: tenant and client.
type As = (usize, Kind);

impl CombinedModel {
    pub(super) fn step(&self, last: &State, action: Action) -> Option<State> {
        match action {
            Action::Begin(a) => {
                let mut s = last.clone();
                s.counters.races += 1;
                s.in_flight = Some(InFlight {
                    action: *a,
                    began: last.store.clone(),
                    redeemed: last.codes.iter().map(|c| c.redeemed).collect(),
                    latest: last.codes.iter().map(|c| c.latest_rt).collect(),
                });
                Some(s)
            }
            Action::Finish(fault) => {
                let mut s = last.clone();
                let f = s.in_flight.take()?;
                let exec = Exec::Raced {
                    began: f.began.clone(),
                    fault,
                };
                Some(self.act(&s, f.action.clone(), &exec, Some(&f)).unwrap_or(s))
            }
            a => self.act(last, a, &Exec::Alone, None),
        }
    }

    fn act(&self, last: &State, action: Action, exec: &Exec, began: Option<&InFlight>) -> Option<State> {
        let w = &self.world;
        let mut s = last.clone();
        match action {
            Action::Start(u, t, k, req) => {
                s.counters.flows += 1;
                let f = s.flows.len();
                s.flows.push(super::state::Flow {
                    u,
                    t,
                    k,
                    req,
                    started: last.clock,
                    logged_in_here: false,
                });
                let request = authorization(f, k, req, k.redirect());
                let cookie = last.browsers[u].sessions[t].as_ref().map(|x| x.cookie.clone());
                let out = self.run(&mut s, exec, ("start", f), |e, env| {
                    e.handle_authorize(env, TENANTS[t], &request, cookie.as_deref())
                });
                self.outcome(&mut s, f, out, false);
            }
            Action::Login(u) => {
                let Some(Page::Login(tx, f)) = last.browsers[u].page.clone() else {
                    return None;
                };
                let t = last.flows[f].t;
                let cookie = last.browsers[u].sessions[t].as_ref().map(|x| x.cookie.clone());
                let out = self.run(&mut s, exec, ("login", f), |e, env| {
                    e.handle_login(env, TENANTS[t], &tx, USERS[u], PASSWORD, cookie.as_deref())
                });
                s.browsers[u].page = None;
                if let LoginOutcome::LoggedIn { session, next } = out {
                    let b = &mut s.browsers[u];
                    b.logins[t] += 1;
                    b.sessions[t] = Some(Sess {
                        cookie: session.token,
                        no: b.logins[t],
                        auth_clock: last.clock,
                    });
                    if s.flows[f].req == Req::MaxAge0 && b.logins[t] > 1 {
                        s.goals.insert(Goal::StepUp);
                    }
                    s.flows[f].logged_in_here = true;
                    self.outcome(&mut s, f, next, false);
                }
            }
            Action::Answer(u, approve) => {
                let Some(Page::Consent(tx, f, scopes)) = last.browsers[u].page.clone() else {
                    return None;
                };
                let (t, k) = (last.flows[f].t, last.flows[f].k);
                let cookie = last.browsers[u].sessions[t].as_ref().map(|x| x.cookie.clone());
                let out = self.run(&mut s, exec, ("consent", f, approve), |e, env| {
                    e.handle_consent(env, TENANTS[t], &tx, cookie.as_deref(), approve)
                });
                s.browsers[u].page = None;
                if approve {
                    s.approved[t][u][k as usize] |= scopes;
                }
                self.outcome(&mut s, f, out, true);
            }
            Action::Redeem(i) => {
                let f = last.codes[i].flow;
                let (t, k) = (last.flows[f].t, last.flows[f].k);
                self.redeem(&mut s, exec, began, i, (t, k), k.redirect(), Some(verifier(f)));
            }
            Action::AttackCode(i, attack) => {
                s.counters.attacks += 1;
                let f = last.codes[i].flow;
                let (t, k) = (last.flows[f].t, last.flows[f].k);
                let leaked = Some(verifier(f));
                let (by, redirect, v) = match attack {
                    CodeAttack::StealFirst => ((t, k), k.redirect(), leaked),
                    CodeAttack::SwapClient => ((t, k.other()), k.redirect(), leaked),
                    CodeAttack::NoVerifier => ((t, k), k.redirect(), None),
                    CodeAttack::WrongVerifier => ((t, k), k.redirect(), Some(ATTACKER_VERIFIER.into())),
                    CodeAttack::SwapRedirect => ((t, k), k.other().redirect(), leaked),
                    CodeAttack::OtherTenant => ((1 - t, k), k.redirect(), leaked),
                };
                self.redeem(&mut s, exec, began, i, by, redirect, v);
            }
            Action::Refresh(i) => {
                s.counters.refreshes += 1;
                let rt = match began {
                    Some(b) => b.latest[i]?,
                    None => last.codes[i].latest_rt?,
                };
                let tok = &last.tokens[rt];
                if self.refresh(&mut s, exec, began, rt, (tok.t, tok.k)) {
                    s.goals.insert(Goal::Rotated);
                }
            }
            Action::AttackRefresh(rt, attack) => {
                s.counters.attacks += 1;
                let tok = &last.tokens[rt];
                let by = match attack {
                    RefreshAttack::AsOwner => (tok.t, tok.k),
                    RefreshAttack::AsOtherClient => (tok.t, Kind::Spa),
                    RefreshAttack::OtherTenant => (1 - tok.t, tok.k),
                };
                self.refresh(&mut s, exec, began, rt, by);
            }
            Action::AttackAuthorize(t) => {
                s.counters.attacks += 1;
                let f = s.flows.len();
                let crafted = format!("{}.evil.example/steal", Kind::App.redirect());
                let request = authorization(f, Kind::App, Req::Plain, &crafted);
                let cookie = last.browsers[0].sessions[t].as_ref().map(|x| x.cookie.clone());
                let out = self.run(&mut s, exec, "attacker-authorize", |e, env| {
                    e.handle_authorize(env, TENANTS[t], &request, cookie.as_deref())
                });
                if let AuthorizeOutcome::Redirect(r) = out {
                    if r.target.uri() != Kind::App.redirect() {
                        s.broken.insert(Broken::UntrustedRedirect);
                    }
                }
            }
            Action::Revoke(i) => {
                s.counters.admin += 1;
                let tok = last.tokens[i].clone();
                let creds = w.creds(tok.t, tok.k);
                let out = self.run(&mut s, exec, ("revoke", i), |e, env| {
                    e.handle_revoke(env, TENANTS[tok.t], &creds, &tok.value)
                });
                if out.is_ok() {
                    match tok.kind {
                        TokKind::Refresh => kill(&mut s, |x| x.code == tok.code && x.t == tok.t, Why::Revoked),
                        _ => kill(&mut s, |x| x.value == tok.value, Why::Revoked),
                    }
                }
            }
            Action::Logout(u, t) => {
                s.counters.admin += 1;
                let hint = last
                    .tokens
                    .iter()
                    .rev()
                    .find(|x| x.kind == TokKind::Id && x.t == t && x.u == u)?
                    .clone();
                let cookie = last.browsers[u].sessions[t].as_ref().map(|x| x.cookie.clone());
                let req = EndSessionRequest {
                    id_token_hint: Some(hint.value.clone()),
                    ..Default::default()
                };
                let out = self.run(&mut s, exec, ("logout", u, t), |e, env| {
                    e.handle_end_session(env, TENANTS[t], &req, cookie.as_deref(), false)
                });
                if matches!(out, EndSessionOutcome::LoggedOut { .. }) {
                    s.browsers[u].sessions[t] = None;
                    s.goals.insert(Goal::LoggedOut);
                    kill(&mut s, |x| x.t == t && x.u == u && x.k == hint.k, Why::LoggedOut);
                    doom(&mut s, |f| f.t == t && f.u == u && f.k == hint.k, Why::LoggedOut);
                }
            }
            Action::RevokeConsent(u, t, k) => {
                s.counters.admin += 1;
                let uid = &w.user_ids[t][u];
                let out = self.run(&mut s, exec, ("consent-revoke", u, t, k), |e, env| {
                    w.admin(e, t).revoke_consents(env, uid, Some(k.id()))
                });
                if out.is_ok() {
                    s.approved[t][u][k as usize] = 0;
                    kill(&mut s, |x| x.t == t && x.u == u && x.k == k, Why::ConsentRevoked);
                    doom(&mut s, |f| f.t == t && f.u == u && f.k == k, Why::ConsentRevoked);
                }
            }
            Action::DisableUser(u, t) => {
                s.counters.admin += 1;
                let uid = &w.user_ids[t][u];
                let out = self.run(&mut s, exec, ("disable", u, t), |e, env| {
                    w.admin(e, t).set_user_disabled(env, uid, true).map(|_| ())
                });
                if out.is_ok() {
                    s.disabled[t][u] = true;
                    s.browsers[u].sessions[t] = None;
                    kill(&mut s, |x| x.t == t && x.u == u, Why::Disabled);
                    doom(&mut s, |f| f.t == t && f.u == u, Why::Disabled);
                }
            }
            Action::DeactivateClient(t, k) => {
                s.counters.admin += 1;
                let out = self.run(&mut s, exec, ("deactivate", t, k), |e, env| {
                    w.admin(e, t).set_client_active(env, k.id(), false).map(|_| ())
                });
                if out.is_ok() {
                    s.inactive[t][k as usize] = true;
                    kill(&mut s, |x| x.t == t && x.k == k, Why::ClientOff);
                    doom(&mut s, |f| f.t == t && f.k == k, Why::ClientOff);
                }
            }
            Action::RotateKey(t) => {
                s.counters.admin += 1;
                s.rotations[t] += 1;
                let material = key(s.rotations[t]);
                let access: Vec<String> = last
                    .tokens
                    .iter()
                    .filter(|x| x.t == t && x.kind == TokKind::Access)
                    .map(|x| x.value.clone())
                    .collect();
                let (before, after) = self.run(&mut s, exec, ("rotate", t), |e, env| {
                    let accepted = |e: &ModelEngine, env: &mut Env<'_>| -> Vec<bool> {
                        access
                            .iter()
                            .map(|a| e.handle_userinfo(env, TENANTS[t], a).is_ok())
                            .collect()
                    };
                    let before = accepted(e, env);
                    e.install_signing_key(env, TENANTS[t], material).expect("rotation");
                    (before, accepted(e, env))
                });
                if before.iter().zip(&after).any(|(b, a)| *b && !*a) {
                    s.broken.insert(Broken::RotationBroke);
                } else if after.iter().any(|a| *a) {
                    s.goals.insert(Goal::RotatedKeyKeptTokens);
                }
            }
            Action::Tick | Action::Expire => {
                s.counters.ticks += 1;
                s.clock += if action == Action::Tick { 61 } else { ACCESS_TTL + 1 };
                let now = s.clock;
                kill(
                    &mut s,
                    |x| x.kind == TokKind::Access && x.issued + ACCESS_TTL <= now,
                    Why::Expired,
                );
            }
            Action::Begin(_) | Action::Finish(_) => return None,
        }
        self.check_dead(&mut s);
        Some(s)
    }

    /// Runs `f` on `s`'s records and stores what it wrote; notes a race met.
    fn run<T>(
        &self,
        s: &mut State,
        exec: &Exec,
        salt: impl std::hash::Hash,
        f: impl FnOnce(&ModelEngine, &mut Env<'_>) -> T,
    ) -> T {
        let (out, store, raced) = self.world.run(exec, &s.store, s.clock, salt, f);
        s.store = store;
        if raced {
            s.goals.insert(Goal::RacedAndRetried);
        }
        out
    }

    /// What the browser of flow `f`'s user does with an authorization outcome; `consented` says
    /// the consent page was answered in this step.
    fn outcome(&self, s: &mut State, f: usize, out: AuthorizeOutcome, consented: bool) {
        let flow = s.flows[f].clone();
        let prompt_none = flow.req == Req::PromptNone;
        match out {
            AuthorizeOutcome::Login(p) => {
                if prompt_none {
                    s.broken.insert(Broken::PromptNoneUi);
                }
                s.browsers[flow.u].page = Some(Page::Login(p.transaction, f));
            }
            AuthorizeOutcome::Consent(p) => {
                if prompt_none {
                    s.broken.insert(Broken::PromptNoneUi);
                }
                let scopes = scope_bits(&p.scopes.join(" "));
                s.browsers[flow.u].page = Some(Page::Consent(p.transaction, f, scopes));
            }
            // No user of this model enrols a second factor, and its tenants keep the default
            // policy: a second-factor page is one the user leaves (and UI all the same).
            AuthorizeOutcome::SecondFactor(_) | AuthorizeOutcome::RecoveryCodes(_) => {
                if prompt_none {
                    s.broken.insert(Broken::PromptNoneUi);
                }
            }
            AuthorizeOutcome::Redirect(r) => {
                if r.target.uri() != flow.k.redirect() {
                    s.broken.insert(Broken::UntrustedRedirect);
                }
                let Some(code) = r.param("code") else { return };
                let session = s.browsers[flow.u].sessions[flow.t].clone();
                let approved = s.approved[flow.t][flow.u][flow.k as usize];
                if session.is_none() || flow.req.scopes() & !approved != 0 {
                    s.broken.insert(Broken::NoConsent);
                }
                // max_age=0 is judged when the request came: a login older than that is too old.
                if flow.req == Req::MaxAge0 && session.as_ref().is_some_and(|x| x.auth_clock < flow.started) {
                    s.broken.insert(Broken::MaxAge);
                }
                if prompt_none {
                    s.goals.insert(Goal::SilentCode);
                }
                if !consented && approved != 0 {
                    s.goals.insert(Goal::RememberedConsent);
                }
                let doomed = if s.disabled[flow.t][flow.u] {
                    Some(Why::Disabled)
                } else if s.inactive[flow.t][flow.k as usize] {
                    Some(Why::ClientOff)
                } else {
                    None
                };
                s.codes.push(Code {
                    value: code.to_string(),
                    flow: f,
                    session: session.map(|x| x.no).unwrap_or_default(),
                    redeemed: 0,
                    latest_rt: None,
                    doomed,
                });
            }
            AuthorizeOutcome::ErrorPage(_) => {}
        }
    }

    /// Code `i` presented by `by` with `redirect` and `verifier`.
    #[allow(clippy::too_many_arguments)]
    fn redeem(
        &self,
        s: &mut State,
        exec: &Exec,
        began: Option<&InFlight>,
        i: usize,
        by: As,
        redirect: &str,
        verifier_sent: Option<String>,
    ) {
        let before = s.store.clone();
        let code = s.codes[i].clone();
        let flow = s.flows[code.flow].clone();
        let creds = self.world.creds(by.0, by.1);
        let req = exchange(&code.value, redirect, verifier_sent.as_deref());
        let out = self.run(s, exec, ("redeem", i, by, redirect), |e, env| {
            e.handle_token(env, TENANTS[by.0], &creds, &req)
        });
        let redeemed_before = match (began, s.store == before) {
            (Some(b), true) => b.redeemed[i] > 0,
            _ => code.redeemed > 0,
        };
        // A code is looked up in the tenant it is presented to: only there is it known as used.
        if redeemed_before && by.0 == flow.t {
            kill(s, |x| x.code == i, Why::Replayed);
        }
        let Ok(t) = out else { return };
        s.codes[i].redeemed += 1;
        if s.codes[i].redeemed > 1 {
            s.broken.insert(Broken::CodeTwice);
        }
        if by != (flow.t, flow.k) {
            s.broken.insert(Broken::CodeWrongClient);
        }
        if verifier_sent != Some(verifier(code.flow)) {
            s.broken.insert(Broken::Pkce);
        }
        if redirect != flow.k.redirect() {
            s.broken.insert(Broken::RedirectMismatch);
        }
        if scope_bits(&t.scope) & !flow.req.scopes() != 0 {
            s.broken.insert(Broken::NoConsent);
        }
        self.check_id_token(s, &t, code.flow, code.session, by.1);
        let dead = code
            .doomed
            .or((redeemed_before && by.0 == flow.t).then_some(Why::Replayed));
        let rt = self.issued(s, &t, by, flow.u, i, code.session, dead);
        s.codes[i].latest_rt = rt.or(s.codes[i].latest_rt);
        if by == (flow.t, flow.k) {
            s.goals.insert(match flow.k {
                Kind::App => Goal::AppTokens,
                Kind::Spa => Goal::SpaTokens,
            });
            if s.tokens.iter().any(|x| x.t != flow.t) {
                s.goals.insert(Goal::BothTenants);
            }
        }
    }

    /// Refresh token `rt` presented by `by`; says whether it yielded tokens.
    fn refresh(&self, s: &mut State, exec: &Exec, began: Option<&InFlight>, rt: usize, by: As) -> bool {
        let before = s.store.clone();
        let tok = s.tokens[rt].clone();
        let creds = self.world.creds(by.0, by.1);
        let req = refresh(&tok.value);
        let out = self.run(s, exec, ("refresh", rt, by), |e, env| {
            e.handle_token(env, TENANTS[by.0], &creds, &req)
        });
        let latest = match (began, s.store == before) {
            (Some(b), true) => b.latest[tok.code],
            _ => s.codes[tok.code].latest_rt,
        };
        let own = by == (tok.t, tok.k);
        if own && latest != Some(rt) {
            kill(s, |x| x.code == tok.code && x.t == tok.t, Why::Reused);
        }
        let Ok(t) = out else { return false };
        if latest != Some(rt) {
            s.broken.insert(Broken::OldRefreshWorked);
        }
        if !own {
            s.broken.insert(Broken::RefreshWrongClient);
        }
        if by.0 != tok.t {
            s.broken.insert(Broken::OtherTenant);
        }
        if let Some(why) = tok.dead {
            s.broken.insert(Broken::DeadActive(why));
        }
        let flow = &s.flows[s.codes[tok.code].flow];
        if scope_bits(&t.scope) & !flow.req.scopes() != 0 {
            s.broken.insert(Broken::NoConsent);
        }
        let dead = if own && latest != Some(rt) {
            Some(Why::Reused)
        } else {
            tok.dead
        };
        let new_rt = self.issued(s, &t, by, tok.u, tok.code, tok.session, dead);
        s.codes[tok.code].latest_rt = new_rt;
        true
    }

    /// Records the tokens of a response issued to `by` for user `u` in code `code`'s family;
    /// checks the user and client may have them and that the other tenant refuses them.
    /// Returns the refresh token's index.
    #[allow(clippy::too_many_arguments)]
    fn issued(
        &self,
        s: &mut State,
        t: &TokenResponse,
        by: As,
        u: usize,
        code: usize,
        session: u8,
        dead: Option<Why>,
    ) -> Option<usize> {
        if s.disabled[by.0][u] {
            s.broken.insert(Broken::DisabledUserToken);
        }
        if s.inactive[by.0][by.1 as usize] {
            s.broken.insert(Broken::InactiveClientToken);
        }
        let push = |s: &mut State, kind, value: &str| {
            s.tokens.push(Tok {
                kind,
                value: value.to_string(),
                t: by.0,
                u,
                k: by.1,
                code,
                issued: s.clock,
                session,
                dead,
            });
            s.tokens.len() - 1
        };
        push(s, TokKind::Access, &t.access_token);
        if let Some(id) = &t.id_token {
            push(s, TokKind::Id, id);
        }
        let rt = t.refresh_token.as_ref().map(|rt| push(s, TokKind::Refresh, rt));
        // TENANCY-isolation: the other tenant refuses both.
        let other = 1 - by.0;
        let creds = self.world.creds(other, by.1);
        let (at, rtv) = (t.access_token.clone(), t.refresh_token.clone());
        let (accepted, _, _) = self.world.run(&Exec::Alone, &s.store, s.clock, "elsewhere", |e, env| {
            e.handle_userinfo(env, TENANTS[other], &at).is_ok()
                || e.handle_introspect(env, TENANTS[other], &creds, &at)
                    .is_ok_and(|i| i.active)
                || rtv.as_ref().is_some_and(|r| {
                    e.handle_introspect(env, TENANTS[other], &creds, r)
                        .is_ok_and(|i| i.active)
                })
        });
        if accepted {
            s.broken.insert(Broken::OtherTenant);
        }
        rt
    }

    /// The ID token of a response to flow `f` (session `session`) for client `k`: nonce, aud,
    /// azp, sub and sid.
    fn check_id_token(&self, s: &mut State, t: &TokenResponse, f: usize, session: u8, k: Kind) {
        let Some(id) = &t.id_token else { return };
        let flow = &s.flows[f];
        let c = jwt_claims(id);
        if c["nonce"].as_str() != Some(nonce(f).as_str()) {
            s.broken.insert(Broken::Nonce);
        }
        let aud_ok =
            c["aud"].as_str() == Some(k.id()) || c["aud"].as_array().is_some_and(|a| a.iter().any(|x| x == k.id()));
        let sub_ok = c["sub"].as_str() == Some(self.world.user_ids[flow.t][flow.u].as_str());
        let sid = c["sid"].as_str();
        let sid_ok = sid.is_some()
            && s.tokens
                .iter()
                .filter(|x| x.kind == TokKind::Id && x.t == flow.t && x.u == flow.u)
                .all(|x| (x.session == session) == (jwt_claims(&x.value)["sid"].as_str() == sid));
        if !(aud_ok && sub_ok && sid_ok && c["azp"].as_str() == Some(k.id())) {
            s.broken.insert(Broken::IdClaims);
        }
    }

    /// Asks the engine about every token the model knows is dead: an access token must be
    /// refused at UserInfo, a refresh token inactive at introspection by its client.
    fn check_dead(&self, s: &mut State) {
        let dead: Vec<(usize, Why)> = s
            .tokens
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.dead.map(|w| (i, w)))
            .filter(|(i, w)| s.tokens[*i].kind != TokKind::Id && !s.broken.contains(&Broken::DeadActive(*w)))
            .collect();
        if dead.is_empty() {
            return;
        }
        let w = &self.world;
        let tokens = &s.tokens;
        let (active, _, _) = w.run(&Exec::Alone, &s.store, s.clock, "observe", |e, env| {
            dead.iter()
                .filter(|(i, _)| {
                    let x = &tokens[*i];
                    match x.kind {
                        TokKind::Access => e.handle_userinfo(env, TENANTS[x.t], &x.value).is_ok(),
                        _ => e
                            .handle_introspect(env, TENANTS[x.t], &w.creds(x.t, x.k), &x.value)
                            .is_ok_and(|r| r.active),
                    }
                })
                .map(|(_, w)| *w)
                .collect::<Vec<Why>>()
        });
        for why in active {
            s.broken.insert(Broken::DeadActive(why));
        }
    }
}

/// Marks every live token matching `pick` dead for `why`.
fn kill(s: &mut State, pick: impl Fn(&Tok) -> bool, why: Why) {
    for x in s.tokens.iter_mut().filter(|x| x.dead.is_none() && pick(x)) {
        x.dead = Some(why);
    }
}

/// Marks every unredeemed code whose flow matches `pick` as yielding dead tokens.
fn doom(s: &mut State, pick: impl Fn(&super::state::Flow) -> bool, why: Why) {
    let flows = &s.flows;
    for c in s.codes.iter_mut().filter(|c| c.redeemed == 0 && c.doomed.is_none()) {
        if pick(&flows[c.flow]) {
            c.doomed = Some(why);
        }
    }
}

/// Flow `f`'s nonce.
fn nonce(f: usize) -> String {
    format!("nonce-{f}")
}

/// Flow `f`'s authorization request for client `k` with `redirect`.
fn authorization(f: usize, k: Kind, req: Req, redirect: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some(k.id().into()),
        redirect_uri: Some(redirect.into()),
        response_type: Some("code".into()),
        scope: Some(if req == Req::Email { "openid email" } else { "openid" }.into()),
        state: Some(format!("state-{f}")),
        nonce: Some(nonce(f)),
        code_challenge: Some(engine::authorize::pkce::s256(&verifier(f))),
        code_challenge_method: Some("S256".into()),
        prompt: (req == Req::PromptNone).then(|| "none".into()),
        max_age: (req == Req::MaxAge0).then(|| "0".into()),
        ..Default::default()
    }
}
