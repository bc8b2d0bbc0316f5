//! One stateright model family over the real engine. A [`Scenario`] selects the actors and
//! actions: authorization code + PKCE under attack, refresh rotation under theft, consent and
//! login, and logout with live codes and tokens.

use crate::store::Fault;
use crate::world::{self, honest_code, request, Client, Exec, Snapshot, World, ATTACKER_VERIFIER, TENANT};
use engine::authorize::second_factor::FactorOutcome;
use engine::dpop::{DpopHeader, PresentedToken, Scheme};
use engine::session::logout::{EndSessionOutcome, EndSessionRequest};
use engine::{AuthorizationRequest, AuthorizeOutcome, LoginOutcome};
use stateright::{Model, Property};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Which model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Authorization code + PKCE: honest web and SPA flows, an attacker who knows every code.
    Code,
    /// Refresh rotation: honest client rotates, attacker steals an earlier refresh token.
    Refresh,
    /// Consent and login: prompt values, remembered consent, denial.
    Consent,
    /// Logout with a live code and live tokens outstanding.
    Logout,
    /// `Code`, with every token request begun at one instance and finished later, so that two
    /// can be in flight over one store, and any may meet a serialization failure.
    CodeRace,
    /// `Refresh`, the same way.
    RefreshRace,
    /// Two-step sign-in in a tenant that requires it: the user holds a one-factor session from
    /// before the policy changed, has no authenticator app, and signs in, sets one up, and enters
    /// right, wrong and replayed codes.
    SecondFactor,
    /// Sender-constrained tokens and pushed requests: a DPoP-bound access token presented at
    /// UserInfo by its holder and by a thief (as Bearer, with its own key, replaying the holder's
    /// proof), and a pushed request's `request_uri` used again.
    Sender,
}

impl Scenario {
    /// The scenario whose actors and actions this one runs.
    pub fn base(self) -> Scenario {
        match self {
            Scenario::CodeRace => Scenario::Code,
            Scenario::RefreshRace => Scenario::Refresh,
            s => s,
        }
    }
    /// Whether token requests race.
    pub fn races(self) -> bool {
        self.base() != self
    }
}

/// Token requests in flight at once, at most (one per instance).
pub const INSTANCES: usize = 2;

/// How deep the models go.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Honest refreshes (Refresh, Logout).
    pub refreshes: u8,
    /// Attacker refreshes with the stolen token (Refresh).
    pub attacker_refreshes: u8,
    /// Authorization requests (Consent).
    pub authorizations: u8,
}

impl Bounds {
    /// The bounds CI runs.
    pub fn ci() -> Self {
        Bounds {
            refreshes: 3,
            attacker_refreshes: 2,
            authorizations: 2,
        }
    }
    /// Deeper bounds for `--deep`.
    pub fn deep() -> Self {
        Bounds {
            refreshes: 5,
            attacker_refreshes: 3,
            authorizations: 3,
        }
    }
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Access token.
    Access,
    /// Refresh token.
    Refresh,
}

/// A token someone holds, with what the engine says about it after the last step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Token {
    /// Access or refresh.
    pub kind: Kind,
    /// The token.
    pub value: String,
    /// The client it was issued to.
    pub client: Client,
    /// The code it descends from.
    pub code: usize,
    /// Introspection by its client says active.
    pub active: bool,
    /// Introspection in the other tenant says active.
    pub active_elsewhere: bool,
}

/// An issued code and what the model knows about its flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// The code.
    pub value: String,
    /// Client it was issued to.
    pub owner: Client,
    /// The flow whose verifier matches its challenge.
    pub flow: usize,
}

/// Facts the properties read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Tokens were issued for code `code` to `by`, with a verifier that matched (or not) its flow.
    Redeemed {
        /// Code index.
        code: usize,
        /// Redeeming client.
        by: Client,
        /// Whether the verifier used was the flow's.
        verifier_ok: bool,
    },
    /// Code `code` was presented again after it had yielded tokens.
    Replayed(usize),
    /// A rotated refresh token of the family of code `code` was presented.
    Reused(usize),
    /// A successful refresh.
    Rotated,
    /// The user agent was redirected to `target` for `client`.
    Redirected {
        /// Client.
        client: Client,
        /// Target URI.
        target: String,
    },
    /// A code was issued by the authorization endpoint.
    CodeIssued {
        /// The user agent had logged in.
        had_session: bool,
        /// Every scope of the code had been approved by the user.
        consented_all: bool,
        /// Issued without showing the consent page in this authorization.
        skipped_consent_page: bool,
        /// The session had completed a second factor.
        two_factors: bool,
    },
    /// A second-factor code passed again within its time step.
    CodeReplayPassed,
    /// The user logged out of the web client.
    LoggedOut,
    /// A token request in flight met the other instance's commit and ran again.
    RacedAndRetried,
    /// UserInfo honoured the DPoP-bound access token: presented by its holder with a fresh proof
    /// from its key (`by_holder`), or not; the proof it came with.
    BoundTokenAccepted {
        /// Presented by the holder of the key, with a proof made for this request.
        by_holder: bool,
        /// The proof (none: presented as a Bearer token).
        proof: Option<String>,
    },
    /// The authorization endpoint took the pushed request's `request_uri`.
    PushedRequestUsed,
}

/// A pending page in the consent model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Pending {
    /// The login page: transaction, requested scopes.
    Login(String, Vec<String>),
    /// The consent page: transaction, scopes asked, requested scopes.
    Consent(String, Vec<String>, Vec<String>),
    /// The second-factor page: transaction, requested scopes, the secret of an app being set up.
    Factor(String, Vec<String>, Option<Vec<u8>>),
    /// The recovery codes page: transaction, requested scopes.
    RecoveryCodes(String, Vec<String>),
}

/// What the user enters on the second-factor page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FactorCode {
    /// The app's code now.
    Right,
    /// A wrong code.
    Wrong,
    /// The code that passed last (same time step).
    Replay,
}

/// The model state: the engine's store plus what every actor holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// All records of the engine.
    pub store: Snapshot,
    /// Seconds since model start.
    pub clock: u64,
    /// The user agent's session cookie.
    pub session: Option<String>,
    /// Codes issued.
    pub codes: Vec<Code>,
    /// Tokens held (by honest clients or the attacker).
    pub tokens: Vec<Token>,
    /// The honest client's current refresh token (index into `tokens`).
    pub honest_rt: Option<usize>,
    /// The refresh token the attacker holds.
    pub stolen_rt: Option<usize>,
    /// The latest refresh token the engine issued in the family.
    pub latest_rt: Option<usize>,
    /// The ID token (for logout hints).
    pub id_token: Option<String>,
    /// Scopes the user approved for the web client.
    pub approved: BTreeSet<String>,
    /// Page the user agent is on (consent model).
    pub pending: Option<Pending>,
    /// Counters: honest refreshes, attacker refreshes, authorizations.
    pub counters: (u8, u8, u8),
    /// Token requests begun and not finished.
    pub in_flight: Vec<InFlight>,
    /// The browser's session completed a second factor (the model's own record, not the engine's).
    pub two_factors: bool,
    /// The authenticator app's secret, once set up.
    pub app: Option<Vec<u8>>,
    /// The last code that passed.
    pub used_code: Option<String>,
    /// The holder's last DPoP proof at UserInfo (the thief may replay it).
    pub last_proof: Option<String>,
    /// The `request_uri` of the web client's pushed request.
    pub pushed: Option<String>,
    /// Facts.
    pub events: Vec<Event>,
}

/// A token request begun at an instance and not finished.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InFlight {
    /// The request.
    pub action: Action,
    /// The records when it began.
    pub began: Snapshot,
    /// What had happened when it began.
    pub seen: Seen,
}

/// What had happened when a request began: a request that writes nothing takes effect at that
/// moment (its transactions read the records as they were), so replays and reuse are judged
/// against it; one that writes takes effect when it commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Seen {
    /// Events recorded.
    pub events: usize,
    /// The latest refresh token then.
    pub latest_rt: Option<usize>,
}

impl Seen {
    fn now(s: &State) -> Self {
        Seen {
            events: s.events.len(),
            latest_rt: s.latest_rt,
        }
    }
}

/// Attacks on a known code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attack {
    /// Redeem with the attacker's own client and verifier (code injection into its client).
    OwnClient,
    /// Redeem with the attacker's client and the victim flow's leaked verifier.
    OwnClientLeakedVerifier,
    /// Redeem as the public victim client with the attacker's verifier.
    AsPublicVictim,
    /// Redeem as the public victim client without a verifier.
    NoVerifier,
    /// Redeem as the public victim client with a swapped redirect_uri.
    SwapRedirect,
    /// Inject the code into the honest web client's flow (web redeems it with another flow's verifier).
    InjectIntoHonestClient,
}

/// Who presents the DPoP-bound access token, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Presenter {
    /// Its holder, with a fresh proof from its key.
    Holder,
    /// A thief, as a Bearer token.
    ThiefAsBearer,
    /// A thief, with a proof from its own key.
    ThiefOwnKey,
    /// A thief, replaying the holder's last proof.
    ThiefReplay,
}

/// Every action of every scenario.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The code's own client redeems it with the right verifier.
    HonestRedeem(usize),
    /// The attacker tries a code.
    Attack(usize, Attack),
    /// The attacker sends the user agent to /authorize with an unregistered redirect_uri.
    AttackerAuthorize,
    /// 61 seconds pass (codes expire).
    Tick,
    /// The honest client refreshes with its current refresh token.
    HonestRefresh,
    /// The attacker copies the honest client's current refresh token.
    Steal,
    /// The attacker refreshes with the token it holds.
    AttackerRefresh,
    /// The honest client revokes its refresh token.
    Revoke,
    /// RP-initiated logout with the ID token as hint.
    Logout,
    /// The user agent starts an authorization with a prompt and scope.
    Authorize(Option<&'static str>, &'static str),
    /// The user logs in (correct password or not).
    Login(bool),
    /// The user answers the consent page.
    Answer(bool),
    /// The user enters a code on the second-factor page.
    EnterCode(FactorCode),
    /// The user goes on from the recovery codes page.
    Continue,
    /// A refresh with token `0` (by the attacker: `1`), as begun.
    RefreshWith(usize, bool),
    /// The DPoP-bound access token is presented at UserInfo.
    Present(Presenter),
    /// The user agent brings the pushed request's `request_uri` to the authorization endpoint.
    UsePushed,
    /// An instance begins a token request (it sees the records as they are now).
    Begin(Box<Action>),
    /// The request in flight `0` finishes, meeting serialization failure `1`.
    Finish(usize, Fault),
}

/// Most tokens a state may hold (the honest runs stay well below).
pub const MAX_TOKENS: usize = 16;
/// Most events a state may record.
pub const MAX_EVENTS: usize = 16;

/// The model: a scenario over a world.
pub struct OidcModel {
    /// Which scenario.
    pub scenario: Scenario,
    /// The world (engine template and initial store).
    pub world: Arc<World>,
    /// Bounds.
    pub bounds: Bounds,
}

fn push_tokens(
    state: &mut State,
    t: &engine::token::minting::TokenResponse,
    client: Client,
    code: usize,
) -> Option<usize> {
    state.tokens.push(Token {
        kind: Kind::Access,
        value: t.access_token.clone(),
        client,
        code,
        active: true,
        active_elsewhere: false,
    });
    t.refresh_token.as_ref().map(|rt| {
        state.tokens.push(Token {
            kind: Kind::Refresh,
            value: rt.clone(),
            client,
            code,
            active: true,
            active_elsewhere: false,
        });
        state.tokens.len() - 1
    })
}

/// Records that a request met the other instance's commit (once).
fn note_race(s: &mut State, raced: bool) {
    if raced && !s.events.contains(&Event::RacedAndRetried) {
        s.events.push(Event::RacedAndRetried);
    }
}

impl OidcModel {
    fn initial(&self) -> State {
        let mut s = State {
            store: self.world.initial.clone(),
            clock: 0,
            session: None,
            codes: Vec::new(),
            tokens: Vec::new(),
            honest_rt: None,
            stolen_rt: None,
            latest_rt: None,
            id_token: None,
            approved: BTreeSet::new(),
            pending: None,
            counters: (0, 0, 0),
            in_flight: Vec::new(),
            events: Vec::new(),
            last_proof: None,
            pushed: None,
            two_factors: false,
            app: None,
            used_code: None,
        };
        let w = &self.world;
        match self.scenario.base() {
            Scenario::Code => {
                let ((c0, c1), store) = w.run(&s.store, 0, "setup", |e, env| {
                    let (c0, session) = honest_code(e, env, &request(Client::Web, 0, "openid", None), None);
                    let (c1, _) = honest_code(e, env, &request(Client::Spa, 1, "openid", None), Some(session));
                    (c0, c1)
                });
                s.store = store;
                s.codes = vec![
                    Code {
                        value: c0,
                        owner: Client::Web,
                        flow: 0,
                    },
                    Code {
                        value: c1,
                        owner: Client::Spa,
                        flow: 1,
                    },
                ];
            }
            Scenario::Refresh | Scenario::Logout => {
                let scenario = self.scenario;
                let ((code0, tokens, code1, session), store) = w.run(&s.store, 0, "setup", |e, env| {
                    let (code0, session) = honest_code(e, env, &request(Client::Web, 0, "openid", None), None);
                    let t = world::tokens(e.handle_token(
                        env,
                        TENANT,
                        &w.creds(Client::Web),
                        &world::exchange(&code0, Client::Web.redirect(), Some(&world::verifier(0))),
                    ));
                    let code1 = (scenario == Scenario::Logout).then(|| {
                        honest_code(e, env, &request(Client::Web, 1, "openid", None), Some(session.clone())).0
                    });
                    (code0, t, code1, session)
                });
                s.store = store;
                s.session = Some(session);
                s.codes.push(Code {
                    value: code0,
                    owner: Client::Web,
                    flow: 0,
                });
                s.events.push(Event::Redeemed {
                    code: 0,
                    by: Client::Web,
                    verifier_ok: true,
                });
                s.id_token = tokens.id_token.clone();
                s.honest_rt = push_tokens(&mut s, &tokens, Client::Web, 0);
                s.latest_rt = s.honest_rt;
                if let Some(c1) = code1 {
                    s.codes.push(Code {
                        value: c1,
                        owner: Client::Web,
                        flow: 1,
                    });
                }
            }
            Scenario::Sender => {
                let ((t, pushed), store) = w.run(&s.store, 0, "setup", |e, env| {
                    let (code, _) = honest_code(e, env, &request(Client::Web, 0, "openid", None), None);
                    let mut req = world::exchange(&code, Client::Web.redirect(), Some(&world::verifier(0)));
                    req.dpop = Some(world::dpop_proof(
                        world::DpopKey::Holder,
                        "POST",
                        &world::endpoint("token"),
                        env.now,
                        "setup",
                        None,
                    ));
                    let t = world::tokens(e.handle_token(env, TENANT, &w.creds(Client::Web), &req));
                    let pushed = e
                        .handle_par(
                            env,
                            TENANT,
                            &w.creds(Client::Web),
                            &request(Client::Web, 1, "openid", None),
                        )
                        .expect("set-up push");
                    (t, pushed.request_uri)
                });
                s.store = store;
                s.codes.push(Code {
                    value: String::new(),
                    owner: Client::Web,
                    flow: 0,
                });
                push_tokens(&mut s, &t, Client::Web, 0);
                s.pushed = Some(pushed);
            }
            Scenario::SecondFactor => {
                // A one-factor session from before the tenant required two.
                let (session, store) = w.run(&s.store, 0, "setup", |e, env| {
                    let (_, session) = honest_code(e, env, &request(Client::Web, 0, "openid", None), None);
                    engine::store::Store::transact(e.store(), |tx| {
                        let mut t = engine::store::load::<engine::TenantRecord>(tx, TENANT)?.expect("tenant");
                        t.second_factor = engine::mfa::SecondFactorPolicy::Required;
                        engine::store::save(tx, TENANT, &t)
                    })
                    .expect("policy");
                    session
                });
                s.store = store;
                s.session = Some(session);
                s.approved.insert("openid".into());
            }
            Scenario::Consent | Scenario::CodeRace | Scenario::RefreshRace => {}
        }
        s
    }

    /// Refreshes `active` and `active_elsewhere` of every token from the engine.
    fn observe(&self, s: &mut State) {
        for i in 0..s.tokens.len() {
            let (here, there) = self
                .world
                .activity(&s.store, s.clock, s.tokens[i].client, &s.tokens[i].value);
            s.tokens[i].active = here;
            s.tokens[i].active_elsewhere = there;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn redeem(
        &self,
        last: &State,
        (exec, seen): (&Exec, Seen),
        code: usize,
        by: Client,
        redirect: &str,
        verifier: Option<&str>,
    ) -> Option<State> {
        let c = &last.codes[code];
        let creds = self.world.creds(by);
        let (out, store, raced) = self.world.run_on(
            exec,
            &last.store,
            last.clock,
            ("redeem", code, by, redirect, verifier),
            |e, env| e.handle_token(env, TENANT, &creds, &world::exchange(&c.value, redirect, verifier)),
        );
        let history = match store == last.store {
            true => &last.events[..seen.events],
            false => &last.events[..],
        };
        let redeemed_before = history
            .iter()
            .any(|e| matches!(e, Event::Redeemed { code: x, .. } if *x == code));
        let mut s = last.clone();
        s.store = store;
        note_race(&mut s, raced);
        if redeemed_before && !s.events.contains(&Event::Replayed(code)) {
            s.events.push(Event::Replayed(code));
        }
        if let Ok(t) = out {
            let verifier_ok = verifier == Some(world::verifier(c.flow).as_str());
            s.events.push(Event::Redeemed { code, by, verifier_ok });
            let rt = push_tokens(&mut s, &t, by, code);
            if by == c.owner && verifier_ok && s.honest_rt.is_none() {
                s.honest_rt = rt;
                s.latest_rt = rt;
            }
        }
        self.changed(last, s)
    }

    fn refresh_with(&self, last: &State, (exec, seen): (&Exec, Seen), rt: usize, attacker: bool) -> Option<State> {
        let tok = &last.tokens[rt];
        let creds = self.world.creds(tok.client);
        let (out, store, raced) =
            self.world
                .run_on(exec, &last.store, last.clock, ("refresh", rt, attacker), |e, env| {
                    e.handle_token(env, TENANT, &creds, &world::refresh(&tok.value))
                });
        let mut s = last.clone();
        s.store = store;
        note_race(&mut s, raced);
        if attacker {
            s.counters.1 += 1;
        } else {
            s.counters.0 += 1;
        }
        let latest_rt = match s.store == last.store {
            true => seen.latest_rt,
            false => last.latest_rt,
        };
        if latest_rt != Some(rt) && !s.events.contains(&Event::Reused(tok.code)) {
            s.events.push(Event::Reused(tok.code));
        }
        if let Ok(t) = out {
            let new_rt = push_tokens(&mut s, &t, tok.client, tok.code);
            s.latest_rt = new_rt;
            if attacker {
                s.stolen_rt = new_rt;
            } else {
                s.honest_rt = new_rt;
                s.events.push(Event::Rotated);
            }
        }
        self.changed(last, s)
    }

    /// `Some(next)` when the step changed anything; refreshes observations.
    fn changed(&self, last: &State, mut s: State) -> Option<State> {
        if s.store == last.store
            && s.events == last.events
            && s.tokens.len() == last.tokens.len()
            && s.counters == last.counters
            && s.in_flight == last.in_flight
        {
            return None;
        }
        self.observe(&mut s);
        Some(s)
    }

    fn authorize_outcome(
        &self,
        last: &State,
        mut s: State,
        out: AuthorizeOutcome,
        asked_consent_now: bool,
        requested: Vec<String>,
    ) -> State {
        let scopes = requested;
        match out {
            AuthorizeOutcome::Login(p) => s.pending = Some(Pending::Login(p.transaction, scopes)),
            AuthorizeOutcome::Consent(p) => s.pending = Some(Pending::Consent(p.transaction, p.scopes, scopes)),
            AuthorizeOutcome::SecondFactor(p) => {
                let secret = p
                    .enrolment
                    .map(|e| engine::mfa::totp::secret_from_base32(&e.secret).expect("base32"));
                s.pending = Some(Pending::Factor(p.transaction, scopes, secret));
            }
            AuthorizeOutcome::RecoveryCodes(p) => s.pending = Some(Pending::RecoveryCodes(p.transaction, scopes)),
            AuthorizeOutcome::Redirect(r) => {
                s.pending = None;
                s.events.push(Event::Redirected {
                    client: Client::Web,
                    target: r.target.uri().to_string(),
                });
                if r.param("code").is_some() {
                    s.events.push(Event::CodeIssued {
                        had_session: s.session.is_some(),
                        consented_all: scopes.iter().all(|x| s.approved.contains(x)),
                        skipped_consent_page: !asked_consent_now
                            && last.events.iter().any(|e| matches!(e, Event::CodeIssued { .. })),
                        two_factors: s.two_factors,
                    });
                }
            }
            AuthorizeOutcome::ErrorPage(_) => s.pending = None,
        }
        s
    }

    fn base_actions(&self, s: &State, actions: &mut Vec<Action>) {
        match self.scenario.base() {
            Scenario::Code => {
                for i in 0..s.codes.len() {
                    actions.push(Action::HonestRedeem(i));
                    for a in [
                        Attack::OwnClient,
                        Attack::OwnClientLeakedVerifier,
                        Attack::AsPublicVictim,
                        Attack::NoVerifier,
                        Attack::SwapRedirect,
                        Attack::InjectIntoHonestClient,
                    ] {
                        actions.push(Action::Attack(i, a));
                    }
                }
                actions.push(Action::AttackerAuthorize);
                if s.clock == 0 {
                    actions.push(Action::Tick);
                }
            }
            Scenario::Refresh => {
                // Rotations in flight count against the bounds too.
                let in_flight = |attacker: bool| {
                    s.in_flight
                        .iter()
                        .filter(|f| matches!(f.action, Action::RefreshWith(_, x) if x == attacker))
                        .count() as u8
                };
                let (refreshes, attacker_refreshes) = match self.scenario.races() {
                    true => (self.bounds.refreshes.min(2), self.bounds.attacker_refreshes.min(1)),
                    false => (self.bounds.refreshes, self.bounds.attacker_refreshes),
                };
                if s.counters.0 + in_flight(false) < refreshes {
                    actions.push(Action::HonestRefresh);
                }
                if s.stolen_rt.is_none() {
                    actions.push(Action::Steal);
                } else if s.counters.1 + in_flight(true) < attacker_refreshes {
                    actions.push(Action::AttackerRefresh);
                }
                actions.push(Action::Revoke);
                actions.push(Action::Logout);
            }
            Scenario::Logout => {
                actions.push(Action::Logout);
                actions.push(Action::HonestRedeem(1));
                if s.counters.0 < self.bounds.refreshes {
                    actions.push(Action::HonestRefresh);
                }
            }
            Scenario::Consent => match &s.pending {
                Some(Pending::Login(..)) => actions.extend([Action::Login(true), Action::Login(false)]),
                Some(Pending::Consent(..)) => actions.extend([Action::Answer(true), Action::Answer(false)]),
                // Not in this scenario: nobody sets up a second factor.
                Some(Pending::Factor(..) | Pending::RecoveryCodes(..)) => {}
                None if s.counters.2 < self.bounds.authorizations => {
                    for prompt in [None, Some("none"), Some("login"), Some("consent")] {
                        for scope in ["openid", "openid email"] {
                            actions.push(Action::Authorize(prompt, scope));
                        }
                    }
                }
                None => {}
            },
            Scenario::Sender => {
                if s.counters.0 < self.bounds.refreshes {
                    actions.extend(
                        [
                            Presenter::Holder,
                            Presenter::ThiefAsBearer,
                            Presenter::ThiefOwnKey,
                            Presenter::ThiefReplay,
                        ]
                        .map(Action::Present),
                    );
                }
                if s.counters.2 < 2 {
                    actions.push(Action::UsePushed);
                }
            }
            Scenario::SecondFactor => match &s.pending {
                Some(Pending::Login(..)) => actions.extend([Action::Login(true), Action::Login(false)]),
                Some(Pending::Consent(..)) => actions.extend([Action::Answer(true), Action::Answer(false)]),
                Some(Pending::Factor(..)) => {
                    actions.extend([
                        Action::EnterCode(FactorCode::Right),
                        Action::EnterCode(FactorCode::Wrong),
                    ]);
                    if s.used_code.is_some() {
                        actions.push(Action::EnterCode(FactorCode::Replay));
                    }
                }
                Some(Pending::RecoveryCodes(..)) => actions.push(Action::Continue),
                None if s.counters.2 < self.bounds.authorizations => {
                    for prompt in [None, Some("none"), Some("login")] {
                        actions.push(Action::Authorize(prompt, "openid"));
                    }
                }
                None => {}
            },
            Scenario::CodeRace | Scenario::RefreshRace => {}
        }
        if self.scenario == Scenario::SecondFactor && s.clock == 0 && s.used_code.is_some() {
            actions.push(Action::Tick);
        }
    }

    /// The bound access token presented at UserInfo by `who`.
    fn present(&self, last: &State, who: Presenter) -> Option<State> {
        let at = last.tokens.iter().find(|t| t.kind == Kind::Access)?.value.clone();
        let n = last.counters.0;
        let ((accepted, proof), store) = self.world.run(&last.store, last.clock, ("present", who, n), |e, env| {
            let fresh = |key| {
                world::dpop_proof(
                    key,
                    "GET",
                    &world::endpoint("userinfo"),
                    env.now,
                    &format!("{key:?}-{n}"),
                    Some(&at),
                )
            };
            let (scheme, proof) = match who {
                Presenter::Holder => (Scheme::Dpop, Some(fresh(world::DpopKey::Holder))),
                Presenter::ThiefAsBearer => (Scheme::Bearer, None),
                Presenter::ThiefOwnKey => (Scheme::Dpop, Some(fresh(world::DpopKey::Thief))),
                Presenter::ThiefReplay => (
                    Scheme::Dpop,
                    last.last_proof.clone().map(|value| DpopHeader {
                        value,
                        method: "GET".into(),
                    }),
                ),
            };
            let presented = PresentedToken {
                token: at.clone(),
                scheme,
                proof: proof.clone(),
            };
            (e.handle_userinfo_presented(env, TENANT, &presented).is_ok(), proof)
        });
        let mut s = last.clone();
        s.store = store;
        s.counters.0 += 1;
        let proof = proof.map(|p| p.value);
        if who == Presenter::Holder {
            s.last_proof = proof.clone();
        }
        if accepted {
            s.events.push(Event::BoundTokenAccepted {
                by_holder: who == Presenter::Holder,
                proof,
            });
        }
        self.changed(last, s)
    }

    fn step(&self, last: &State, action: Action, exec: (&Exec, Seen)) -> Option<State> {
        let w = &self.world;
        match action {
            Action::HonestRedeem(i) => {
                let c = &last.codes[i];
                self.redeem(
                    last,
                    exec,
                    i,
                    c.owner,
                    c.owner.redirect(),
                    Some(&world::verifier(c.flow)),
                )
            }
            Action::Attack(i, attack) => {
                let c = &last.codes[i];
                let leaked = world::verifier(c.flow);
                match attack {
                    Attack::OwnClient => self.redeem(
                        last,
                        exec,
                        i,
                        Client::Evil,
                        Client::Evil.redirect(),
                        Some(ATTACKER_VERIFIER),
                    ),
                    Attack::OwnClientLeakedVerifier => {
                        self.redeem(last, exec, i, Client::Evil, c.owner.redirect(), Some(&leaked))
                    }
                    Attack::AsPublicVictim => {
                        self.redeem(last, exec, i, Client::Spa, c.owner.redirect(), Some(ATTACKER_VERIFIER))
                    }
                    Attack::NoVerifier => self.redeem(last, exec, i, Client::Spa, c.owner.redirect(), None),
                    Attack::SwapRedirect => self.redeem(
                        last,
                        exec,
                        i,
                        Client::Spa,
                        Client::Evil.redirect(),
                        Some(ATTACKER_VERIFIER),
                    ),
                    Attack::InjectIntoHonestClient => self.redeem(
                        last,
                        exec,
                        i,
                        Client::Web,
                        Client::Web.redirect(),
                        Some(ATTACKER_VERIFIER),
                    ),
                }
            }
            Action::AttackerAuthorize => {
                let req = AuthorizationRequest {
                    redirect_uri: Some(format!("{}.evil.example/steal", Client::Web.redirect())),
                    scope: Some("openid admin".into()),
                    ..request(Client::Web, 9, "openid", None)
                };
                let (out, store) = w.run(&last.store, last.clock, "attacker-authorize", |e, env| {
                    e.handle_authorize(env, TENANT, &req, None)
                });
                let mut s = last.clone();
                s.store = store;
                if let AuthorizeOutcome::Redirect(r) = out {
                    s.events.push(Event::Redirected {
                        client: Client::Web,
                        target: r.target.uri().to_string(),
                    });
                }
                self.changed(last, s)
            }
            Action::Tick => {
                let mut s = last.clone();
                s.clock += 61;
                self.observe(&mut s);
                Some(s)
            }
            Action::HonestRefresh => last.honest_rt.and_then(|rt| self.refresh_with(last, exec, rt, false)),
            Action::Steal => {
                let mut s = last.clone();
                s.stolen_rt = last.honest_rt;
                Some(s)
            }
            Action::AttackerRefresh => last.stolen_rt.and_then(|rt| self.refresh_with(last, exec, rt, true)),
            Action::RefreshWith(rt, attacker) => self.refresh_with(last, exec, rt, attacker),
            Action::Begin(_) | Action::Finish(..) => None,
            Action::Present(who) => self.present(last, who),
            Action::UsePushed => {
                let req = AuthorizationRequest {
                    client_id: Some(Client::Web.id().into()),
                    request_uri: last.pushed.clone(),
                    ..Default::default()
                };
                let (out, store) = w.run(&last.store, last.clock, ("use-pushed", last.counters.2), |e, env| {
                    e.handle_authorize(env, TENANT, &req, None)
                });
                let mut s = last.clone();
                s.store = store;
                s.counters.2 += 1;
                if !matches!(out, AuthorizeOutcome::ErrorPage(_)) {
                    s.events.push(Event::PushedRequestUsed);
                }
                self.changed(last, s)
            }
            Action::Revoke => {
                let rt = last.honest_rt?;
                let (_, store) = w.run(&last.store, last.clock, "revoke", |e, env| {
                    e.handle_revoke(env, TENANT, &w.creds(Client::Web), &last.tokens[rt].value)
                });
                let mut s = last.clone();
                s.store = store;
                self.changed(last, s)
            }
            Action::Logout => {
                if last.events.contains(&Event::LoggedOut) {
                    return None;
                }
                let req = EndSessionRequest {
                    id_token_hint: last.id_token.clone(),
                    ..Default::default()
                };
                let (out, store) = w.run(&last.store, last.clock, "logout", |e, env| {
                    e.handle_end_session(env, TENANT, &req, last.session.as_deref(), false)
                });
                let mut s = last.clone();
                s.store = store;
                if matches!(out, EndSessionOutcome::LoggedOut { .. }) {
                    s.events.push(Event::LoggedOut);
                    s.session = None;
                }
                self.changed(last, s)
            }
            Action::Authorize(prompt, scope) => {
                let req = request(Client::Web, 0, scope, prompt);
                let (out, store) = w.run(&last.store, last.clock, ("authorize", prompt, scope), |e, env| {
                    e.handle_authorize(env, TENANT, &req, last.session.as_deref())
                });
                let mut s = last.clone();
                s.store = store;
                s.counters.2 += 1;
                let scopes = scope.split(' ').map(str::to_owned).collect();
                Some(self.authorize_outcome(last, s, out, false, scopes))
            }
            Action::Login(correct) => {
                let Some(Pending::Login(tx, scopes)) = &last.pending else {
                    return None;
                };
                let password = if correct { world::PASSWORD } else { "wrong password" };
                let (out, store) = w.run(&last.store, last.clock, ("login", correct), |e, env| {
                    e.handle_login(env, TENANT, tx, "alice", password, last.session.as_deref())
                });
                let mut s = last.clone();
                s.store = store;
                match out {
                    LoginOutcome::LoggedIn { session, next } => {
                        s.session = Some(session.token);
                        s.two_factors = false;
                        Some(self.authorize_outcome(last, s, next, false, scopes.clone()))
                    }
                    LoginOutcome::Rejected(_) => None,
                    LoginOutcome::SecondFactor(next) => {
                        Some(self.authorize_outcome(last, s, next, false, scopes.clone()))
                    }
                    LoginOutcome::ErrorPage(_) => {
                        s.pending = None;
                        Some(s)
                    }
                }
            }
            Action::EnterCode(kind) => {
                let Some(Pending::Factor(tx, scopes, enrolling)) = &last.pending else {
                    return None;
                };
                let secret = enrolling.clone().or_else(|| last.app.clone())?;
                let right = engine::mfa::totp::code_at(&secret, engine::UnixTime(world::T0 + last.clock));
                let code = match kind {
                    FactorCode::Right => right,
                    FactorCode::Wrong if right != "000000" => "000000".to_string(),
                    FactorCode::Wrong => "000001".to_string(),
                    FactorCode::Replay => last.used_code.clone()?,
                };
                let (out, store) = w.run(&last.store, last.clock, ("code", kind), |e, env| match enrolling {
                    Some(_) => e.handle_totp_enrolment(env, TENANT, tx, &code, last.session.as_deref()),
                    None => e.handle_second_factor(env, TENANT, tx, &code, last.session.as_deref()),
                });
                let mut s = last.clone();
                s.store = store;
                match out {
                    FactorOutcome::Passed { session, next } => {
                        // MFA-totp-once: the code that passed last, in the same step, must not pass again.
                        if kind == FactorCode::Replay && last.used_code.as_deref() == Some(code.as_str()) {
                            s.events.push(Event::CodeReplayPassed);
                        }
                        if let Some(new) = session {
                            s.session = Some(new.token);
                        }
                        s.two_factors = true;
                        s.app = Some(secret);
                        s.used_code = Some(code);
                        Some(self.authorize_outcome(last, s, next, false, scopes.clone()))
                    }
                    FactorOutcome::Rejected { .. } => Some(s),
                    FactorOutcome::ErrorPage(_) => {
                        s.pending = None;
                        Some(s)
                    }
                }
            }
            Action::Continue => {
                let Some(Pending::RecoveryCodes(tx, scopes)) = &last.pending else {
                    return None;
                };
                let (out, store) = w.run(&last.store, last.clock, "continue", |e, env| {
                    e.handle_sign_in_continue(env, TENANT, tx, last.session.as_deref())
                });
                let mut s = last.clone();
                s.store = store;
                Some(self.authorize_outcome(last, s, out, false, scopes.clone()))
            }
            Action::Answer(approve) => {
                let Some(Pending::Consent(tx, asked, requested)) = &last.pending else {
                    return None;
                };
                let (out, store) = w.run(&last.store, last.clock, ("consent", approve), |e, env| {
                    e.handle_consent(env, TENANT, tx, last.session.as_deref(), approve)
                });
                let mut s = last.clone();
                s.store = store;
                if approve {
                    s.approved.extend(asked.iter().cloned());
                }
                Some(self.authorize_outcome(last, s, out, true, requested.clone()))
            }
        }
    }
}

impl Model for OidcModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut s = self.initial();
        self.observe(&mut s);
        vec![s]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        if !self.scenario.races() {
            return self.base_actions(s, actions);
        }
        let mut base = Vec::new();
        self.base_actions(s, &mut base);
        // The races keep the requests that write what others read (redemptions, rotations) and
        // the honest client's rivals; the other attacks are the base scenarios' (the space grows
        // with every action in flight).
        for a in base {
            match a {
                Action::HonestRedeem(_)
                | Action::Attack(_, Attack::OwnClientLeakedVerifier)
                | Action::HonestRefresh
                | Action::AttackerRefresh
                    if s.in_flight.len() < INSTANCES =>
                {
                    actions.push(Action::Begin(Box::new(a)))
                }
                Action::Steal => actions.push(Action::Steal),
                _ => {}
            }
        }
        for i in 0..s.in_flight.len() {
            for fault in [Fault::None, Fault::AtFirstRead, Fault::AtCommit] {
                actions.push(Action::Finish(i, fault));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        match action {
            Action::Begin(a) => {
                // A refresh is pinned to the token the client holds now.
                let a = match *a {
                    Action::HonestRefresh => Action::RefreshWith(last.honest_rt?, false),
                    Action::AttackerRefresh => Action::RefreshWith(last.stolen_rt?, true),
                    other => other,
                };
                let mut s = last.clone();
                s.in_flight.push(InFlight {
                    action: a,
                    began: last.store.clone(),
                    seen: Seen::now(last),
                });
                Some(s)
            }
            Action::Finish(i, fault) => {
                let mut s = last.clone();
                let f = s.in_flight.remove(i);
                let exec = Exec::Raced { began: f.began, fault };
                Some(self.step(&s, f.action, (&exec, f.seen)).unwrap_or(s))
            }
            other => self.step(last, other, (&Exec::Alone, Seen::now(last))),
        }
    }

    /// Keeps the space finite even when a mutant lets tokens be minted forever.
    fn within_boundary(&self, s: &State) -> bool {
        s.tokens.len() <= MAX_TOKENS && s.events.len() <= MAX_EVENTS
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut p = vec![
            Property::always("RFC6749-4.1.2-code-single-use", |_, s: &State| {
                (0..s.codes.len()).all(|i| {
                    s.events
                        .iter()
                        .filter(|e| matches!(e, Event::Redeemed { code, .. } if *code == i))
                        .count()
                        <= 1
                })
            }),
            Property::always("RFC6749-4.1.3-code-client-binding", |_, s: &State| {
                s.events.iter().all(|e| match e {
                    Event::Redeemed { code, by, .. } => *by == s.codes[*code].owner,
                    _ => true,
                })
            }),
            Property::always("RFC7636-4.6-s256-verify", |_, s: &State| {
                s.events
                    .iter()
                    .all(|e| !matches!(e, Event::Redeemed { verifier_ok: false, .. }))
            }),
            Property::always("RFC6749-4.1.2-code-replay-revokes", |_, s: &State| {
                s.events.iter().all(|e| match e {
                    Event::Replayed(c) => s.tokens.iter().filter(|t| t.code == *c).all(|t| !t.active),
                    _ => true,
                })
            }),
            Property::always("RFC9700-4.14.2-refresh-reuse", |_, s: &State| {
                s.events.iter().all(|e| match e {
                    Event::Reused(c) => s.tokens.iter().filter(|t| t.code == *c).all(|t| !t.active),
                    _ => true,
                })
            }),
            Property::always("OAUTH21-4.3.1-refresh-rotation", |_, s: &State| {
                (0..s.codes.len()).all(|c| {
                    s.tokens
                        .iter()
                        .filter(|t| t.code == c && t.kind == Kind::Refresh && t.active)
                        .count()
                        <= 1
                })
            }),
            Property::always("OIDC-RPLOGOUT-logout-revokes", |_, s: &State| {
                !s.events.contains(&Event::LoggedOut)
                    || s.tokens
                        .iter()
                        .all(|t| !(t.kind == Kind::Refresh && t.client == Client::Web && t.active))
            }),
            Property::always("CONSENT-require-consent", |_, s: &State| {
                s.events.iter().all(|e| {
                    !matches!(
                        e,
                        Event::CodeIssued { had_session: false, .. }
                            | Event::CodeIssued {
                                consented_all: false,
                                ..
                            }
                    )
                })
            }),
            Property::always("TENANCY-isolation", |_, s: &State| {
                s.tokens.iter().all(|t| !t.active_elsewhere)
            }),
            Property::always("RFC9449-7-resource-binding", |_, s: &State| {
                s.events
                    .iter()
                    .all(|e| !matches!(e, Event::BoundTokenAccepted { by_holder: false, .. }))
            }),
            Property::always("RFC9449-11.1-proof-replay", |_, s: &State| {
                let proofs: Vec<&String> = s
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        Event::BoundTokenAccepted { proof: Some(p), .. } => Some(p),
                        _ => None,
                    })
                    .collect();
                proofs.iter().collect::<BTreeSet<_>>().len() == proofs.len()
            }),
            Property::always("RFC9126-2.2-request-uri-one-time", |_, s: &State| {
                s.events.iter().filter(|e| **e == Event::PushedRequestUsed).count() <= 1
            }),
            Property::always("RFC6749-4.1.2.1-no-redirect-untrusted", |_, s: &State| {
                s.events.iter().all(|e| match e {
                    Event::Redirected { client, target } => target == client.redirect(),
                    _ => true,
                })
            }),
        ];
        match self.scenario.base() {
            Scenario::Code => p.push(Property::sometimes(
                "happy path: the honest client holds a live access token",
                |_, s: &State| {
                    s.tokens
                        .iter()
                        .any(|t| t.kind == Kind::Access && t.active && t.client == s.codes[t.code].owner)
                },
            )),
            Scenario::Refresh => p.push(Property::sometimes(
                "refresh succeeds after several rotations",
                |_, s: &State| {
                    s.events.iter().filter(|e| **e == Event::Rotated).count() >= 2
                        && s.honest_rt.is_some_and(|rt| s.tokens[rt].active)
                },
            )),
            Scenario::Consent => p.push(Property::sometimes(
                "remembered consent skips the consent page",
                |_, s: &State| {
                    s.events.iter().any(|e| {
                        matches!(
                            e,
                            Event::CodeIssued {
                                skipped_consent_page: true,
                                ..
                            }
                        )
                    })
                },
            )),
            Scenario::Logout => p.push(Property::sometimes(
                "logout completes with tokens outstanding",
                |_, s: &State| s.events.contains(&Event::LoggedOut) && s.tokens.iter().any(|t| t.kind == Kind::Refresh),
            )),
            Scenario::Sender => p.push(Property::sometimes(
                "the holder uses its DPoP-bound token and its pushed request",
                |_, s: &State| {
                    s.events
                        .iter()
                        .any(|e| matches!(e, Event::BoundTokenAccepted { by_holder: true, .. }))
                        && s.events.contains(&Event::PushedRequestUsed)
                },
            )),
            Scenario::SecondFactor => {
                p.push(Property::always("MFA-policy", |_, s: &State| {
                    !s.events
                        .iter()
                        .any(|e| matches!(e, Event::CodeIssued { two_factors: false, .. }))
                }));
                p.push(Property::always("MFA-totp-once", |_, s: &State| {
                    !s.events.contains(&Event::CodeReplayPassed)
                }));
                p.push(Property::sometimes(
                    "the user sets up an app, then signs in again with a fresh code",
                    |_, s: &State| {
                        s.events
                            .iter()
                            .filter(|e| matches!(e, Event::CodeIssued { two_factors: true, .. }))
                            .count()
                            >= 2
                    },
                ));
            }
            Scenario::CodeRace | Scenario::RefreshRace => {}
        }
        if self.scenario.races() {
            p.push(Property::sometimes(
                "a request in flight at one instance meets a conflict from the other and its retry answers",
                |_, s: &State| s.events.contains(&Event::RacedAndRetried),
            ));
        }
        p
    }
}
