//! The combined model: two tenants, a confidential and a public client in each, two users with a
//! browser each, an attacker who knows every code and token the engine hands out, administrators,
//! the clock, and a second engine instance over the same records. Every step calls the real engine;
//! the model records what it knows must hold (a token it knows is dead, the nonce a flow sent) and
//! each step checks the engine against it, noting every broken rule under the property naming it.
//!
//! No symmetry reduction: the two users (and the two clients) are not interchangeable in the
//! state, because the state holds the engine's own records, in which every user id, client id and
//! key id is spelled out and tokens are signed over them; a representative would have to rewrite
//! and re-sign the records. Bounds keep the space finite instead.

pub mod state;
mod steps;
pub mod world;

use crate::store::Fault;
use crate::world::Snapshot;
use state::{Broken, Browser, Code, Flow, Goal, InFlight, Tok, Why, FAULTS};
use stateright::{Model, Property};
use std::collections::BTreeSet;
use std::sync::Arc;
use world::{CombinedWorld, Kind};

pub use state::Req;

/// How far the combined model goes.
#[derive(Clone, Copy, Debug)]
pub struct CombinedBounds {
    /// Authorization requests started.
    pub flows: u8,
    /// Attacker moves.
    pub attacks: u8,
    /// Honest refreshes.
    pub refreshes: u8,
    /// Administrator and logout moves (revoke, logout, consent, disable, deactivate, rotate).
    pub admin: u8,
    /// Clock moves.
    pub ticks: u8,
    /// Requests at the second instance.
    pub races: u8,
    /// Users sign in at both tenants (otherwise each at its own: alice at acme, bob at globex).
    pub roam: bool,
}

impl CombinedBounds {
    /// The bounds CI runs.
    pub fn ci() -> Self {
        CombinedBounds {
            flows: 1,
            attacks: 1,
            refreshes: 1,
            admin: 1,
            ticks: 1,
            races: 1,
            roam: false,
        }
    }
    /// The bounds of the deep run.
    pub fn deep() -> Self {
        CombinedBounds {
            flows: 3,
            attacks: 2,
            refreshes: 2,
            admin: 2,
            ticks: 1,
            races: 1,
            roam: true,
        }
    }
    /// The two slices CI explores exhaustively: every kind of move once with one flow, and two
    /// flows with the clock and both tenants (for remembered consent, prompt=none, max_age).
    pub fn ci_slices() -> [(&'static str, CombinedBounds); 2] {
        [
            ("every move once", CombinedBounds::ci()),
            (
                "two flows, the clock, both tenants",
                CombinedBounds {
                    flows: 2,
                    attacks: 0,
                    refreshes: 0,
                    admin: 0,
                    ticks: 1,
                    races: 0,
                    roam: true,
                },
            ),
        ]
    }
    /// Bounds from `f,a,r,m,t,x,roam` (flows, attacks, refreshes, admin, ticks, races, 0/1).
    pub fn parse(s: &str) -> Option<Self> {
        let n: Vec<u8> = s.split(',').map(|x| x.trim().parse().ok()).collect::<Option<_>>()?;
        let [flows, attacks, refreshes, admin, ticks, races, roam] = n[..] else {
            return None;
        };
        Some(CombinedBounds {
            flows,
            attacks,
            refreshes,
            admin,
            ticks,
            races,
            roam: roam != 0,
        })
    }
}

/// Moves made so far, against the bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Flows started.
    pub flows: u8,
    /// Attacker moves.
    pub attacks: u8,
    /// Honest refreshes.
    pub refreshes: u8,
    /// Administrator moves.
    pub admin: u8,
    /// Clock moves.
    pub ticks: u8,
    /// Second-instance requests.
    pub races: u8,
}

/// The combined model's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// All records of the engine.
    pub store: Snapshot,
    /// Seconds since model start.
    pub clock: u64,
    /// One browser per user.
    pub browsers: [Browser; 2],
    /// Authorization requests started.
    pub flows: Vec<Flow>,
    /// Codes issued.
    pub codes: Vec<Code>,
    /// Tokens issued.
    pub tokens: Vec<Tok>,
    /// Scopes each user approved for each client, per tenant: `[t][u][k]`.
    pub approved: [[[u8; 2]; 2]; 2],
    /// Disabled users, `[t][u]`.
    pub disabled: [[bool; 2]; 2],
    /// Deactivated clients, `[t][k]`.
    pub inactive: [[bool; 2]; 2],
    /// Key rotations per tenant.
    pub rotations: [u8; 2],
    /// Moves made.
    pub counters: Counters,
    /// A request begun at the second instance.
    pub in_flight: Option<InFlight>,
    /// Rules the engine broke.
    pub broken: BTreeSet<Broken>,
    /// Goals reached.
    pub goals: BTreeSet<Goal>,
}

/// How the attacker uses a code it learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeAttack {
    /// Redeems it first, as its public client with the leaked verifier (a bearer win the honest
    /// client's later redemption must undo).
    StealFirst,
    /// As the tenant's other client, with the leaked verifier.
    SwapClient,
    /// As its public client without a verifier (PKCE downgrade).
    NoVerifier,
    /// As its public client with the attacker's verifier.
    WrongVerifier,
    /// As its public client with the other client's redirect URI.
    SwapRedirect,
    /// At the other tenant, as the same-named public client there.
    OtherTenant,
}

/// How the attacker uses a refresh token it learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefreshAttack {
    /// As its (public) client: theft, or reuse of a rotated token.
    AsOwner,
    /// As the tenant's public client, for a token of its confidential client.
    AsOtherClient,
    /// At the other tenant.
    OtherTenant,
}

/// Every move.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// User `u`'s browser starts an authorization at tenant `t` for client `k`.
    Start(usize, usize, Kind, Req),
    /// User `u` logs in on the login page.
    Login(usize),
    /// User `u` answers the consent page.
    Answer(usize, bool),
    /// The code's client redeems it.
    Redeem(usize),
    /// The client of code `0`'s family refreshes with its latest refresh token.
    Refresh(usize),
    /// The attacker uses code `0`.
    AttackCode(usize, CodeAttack),
    /// The attacker uses refresh token `0`.
    AttackRefresh(usize, RefreshAttack),
    /// The attacker sends a browser to tenant `0`'s authorization endpoint with a crafted redirect_uri.
    AttackAuthorize(usize),
    /// The token's client revokes it.
    Revoke(usize),
    /// User `u` logs out of tenant `t` (RP-initiated, with its latest ID token there as hint).
    Logout(usize, usize),
    /// User `u` withdraws consent to client `k` of tenant `t`.
    RevokeConsent(usize, usize, Kind),
    /// An administrator disables user `u` of tenant `t`.
    DisableUser(usize, usize),
    /// An administrator deactivates client `k` of tenant `t`.
    DeactivateClient(usize, Kind),
    /// An administrator rotates tenant `t`'s signing key.
    RotateKey(usize),
    /// 61 s pass (codes expire).
    Tick,
    /// The access tokens' lifetime passes.
    Expire,
    /// The second instance begins a request (it sees the records as they are now).
    Begin(Box<Action>),
    /// The second instance's request finishes, meeting fault `0`.
    Finish(Fault),
}

/// Most tokens a state may hold (keeps the space finite when a mutant mints freely).
pub const MAX_TOKENS: usize = 24;

/// The combined model.
pub struct CombinedModel {
    /// The world.
    pub world: Arc<CombinedWorld>,
    /// Bounds.
    pub bounds: CombinedBounds,
}

impl CombinedModel {
    /// The model over a fresh world with `mutants`.
    pub fn new(mutants: engine::mutants::Mutants, bounds: CombinedBounds) -> Self {
        CombinedModel {
            world: Arc::new(CombinedWorld::new(mutants)),
            bounds,
        }
    }
}

/// Every property: the requirement it checks and the broken rules that refute it.
pub const PROPERTIES: [(&str, &[Broken]); 21] = [
    ("RFC6749-4.1.2-code-single-use", &[Broken::CodeTwice]),
    ("RFC6749-4.1.3-code-client-binding", &[Broken::CodeWrongClient]),
    ("RFC7636-4.6-s256-verify", &[Broken::Pkce]),
    ("RFC6749-4.1.3-redirect-uri-match", &[Broken::RedirectMismatch]),
    (
        "RFC6749-4.1.2-code-replay-revokes",
        &[Broken::DeadActive(Why::Replayed)],
    ),
    ("RFC9700-4.14.2-refresh-reuse", &[Broken::DeadActive(Why::Reused)]),
    ("OAUTH21-4.3.1-refresh-rotation", &[Broken::OldRefreshWorked]),
    ("RFC6749-6-refresh-client-binding", &[Broken::RefreshWrongClient]),
    ("RFC7009-2.1-revocation", &[Broken::DeadActive(Why::Revoked)]),
    ("TOKENS-lifetimes", &[Broken::DeadActive(Why::Expired)]),
    ("OIDC-RPLOGOUT-logout-revokes", &[Broken::DeadActive(Why::LoggedOut)]),
    (
        "ADMIN-user-disable-revokes",
        &[
            Broken::DeadActive(Why::Disabled),
            Broken::DeadActive(Why::ConsentRevoked),
            Broken::DisabledUserToken,
        ],
    ),
    (
        "CLIENT-deactivated",
        &[Broken::DeadActive(Why::ClientOff), Broken::InactiveClientToken],
    ),
    ("CONSENT-require-consent", &[Broken::NoConsent]),
    ("TENANCY-isolation", &[Broken::OtherTenant]),
    ("RFC6749-4.1.2.1-no-redirect-untrusted", &[Broken::UntrustedRedirect]),
    ("OIDC-CORE-3.1.2.1-nonce", &[Broken::Nonce]),
    ("OIDC-CORE-2-id-token-claims", &[Broken::IdClaims]),
    ("OIDC-CORE-3.1.2.1-max-age", &[Broken::MaxAge]),
    ("OIDC-CORE-3.1.2.1-prompt-none", &[Broken::PromptNoneUi]),
    ("JOSE-key-rotation", &[Broken::RotationBroke]),
];

/// Every reachability goal, with the name the report gives it.
pub const GOALS: [(&str, Goal); 10] = [
    ("the confidential client gets tokens", Goal::AppTokens),
    ("the public client gets tokens", Goal::SpaTokens),
    ("a refresh rotates", Goal::Rotated),
    ("a remembered consent skips the consent page", Goal::RememberedConsent),
    ("prompt=none answers with a code", Goal::SilentCode),
    ("max_age=0 makes a signed-in user log in again", Goal::StepUp),
    ("RP-initiated logout ends a session", Goal::LoggedOut),
    (
        "a key rotation leaves earlier tokens working",
        Goal::RotatedKeyKeptTokens,
    ),
    (
        "a request at the second instance meets the other's commit and its retry answers",
        Goal::RacedAndRetried,
    ),
    ("both tenants issue tokens", Goal::BothTenants),
];

/// A property's condition (stateright takes plain functions).
type Condition = fn(&CombinedModel, &State) -> bool;

/// Property `I` of [`PROPERTIES`] holds: none of its broken rules was noted.
fn holds<const I: usize>(_: &CombinedModel, s: &State) -> bool {
    !PROPERTIES[I].1.iter().any(|b| s.broken.contains(b))
}

/// Goal `I` of [`GOALS`] was reached.
fn reached<const I: usize>(_: &CombinedModel, s: &State) -> bool {
    s.goals.contains(&GOALS[I].1)
}

/// `[f::<0>, f::<1>, …]`.
macro_rules! seq {
    ($f:ident; $($i:literal)*) => { [$($f::<$i> as Condition),*] };
}

impl Model for CombinedModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![State {
            store: self.world.initial.clone(),
            clock: 0,
            browsers: Default::default(),
            flows: Vec::new(),
            codes: Vec::new(),
            tokens: Vec::new(),
            approved: Default::default(),
            disabled: Default::default(),
            inactive: Default::default(),
            rotations: [0; 2],
            counters: Counters::default(),
            in_flight: None,
            broken: BTreeSet::new(),
            goals: BTreeSet::new(),
        }]
    }

    fn actions(&self, s: &State, out: &mut Vec<Action>) {
        let b = &self.bounds;
        let c = &s.counters;
        let mut honest = Vec::new();
        for (u, browser) in s.browsers.iter().enumerate() {
            match &browser.page {
                Some(state::Page::Login(..)) => out.push(Action::Login(u)),
                Some(state::Page::Consent(..)) => out.extend([Action::Answer(u, true), Action::Answer(u, false)]),
                None if c.flows < b.flows => {
                    for t in (0..2).filter(|t| b.roam || *t == u) {
                        for k in Kind::ALL {
                            for r in Req::ALL {
                                out.push(Action::Start(u, t, k, r));
                            }
                        }
                    }
                }
                None => {}
            }
        }
        for (i, code) in s.codes.iter().enumerate() {
            if code.redeemed == 0 {
                honest.push(Action::Redeem(i));
            }
            if c.attacks < b.attacks {
                let public = s.flows[code.flow].k == Kind::Spa;
                for a in [
                    CodeAttack::StealFirst,
                    CodeAttack::SwapClient,
                    CodeAttack::NoVerifier,
                    CodeAttack::WrongVerifier,
                    CodeAttack::SwapRedirect,
                    CodeAttack::OtherTenant,
                ] {
                    let needs_public = !matches!(a, CodeAttack::SwapClient);
                    if public || !needs_public {
                        out.push(Action::AttackCode(i, a));
                    }
                }
            }
            if code.latest_rt.is_some() && c.refreshes < b.refreshes {
                honest.push(Action::Refresh(i));
            }
        }
        for (i, tok) in s.tokens.iter().enumerate() {
            if c.attacks < b.attacks && tok.kind == state::TokKind::Refresh {
                let attacks: &[RefreshAttack] = match tok.k {
                    Kind::Spa => &[RefreshAttack::AsOwner, RefreshAttack::OtherTenant],
                    Kind::App => &[RefreshAttack::AsOtherClient],
                };
                out.extend(attacks.iter().map(|a| Action::AttackRefresh(i, *a)));
            }
            let live = tok.dead.is_none() && tok.kind != state::TokKind::Id;
            if c.admin < b.admin && live {
                out.push(Action::Revoke(i));
            }
        }
        if c.attacks < b.attacks {
            out.extend([Action::AttackAuthorize(0)]);
        }
        if c.admin < b.admin {
            for t in 0..2 {
                for u in 0..2 {
                    let has_id = s
                        .tokens
                        .iter()
                        .any(|x| x.kind == state::TokKind::Id && x.t == t && x.u == u);
                    if has_id && s.browsers[u].sessions[t].is_some() {
                        out.push(Action::Logout(u, t));
                    }
                    for k in Kind::ALL {
                        if s.approved[t][u][k as usize] != 0 {
                            out.push(Action::RevokeConsent(u, t, k));
                        }
                    }
                    let known = s.flows.iter().any(|f| f.t == t && f.u == u);
                    if !s.disabled[t][u] && known {
                        out.push(Action::DisableUser(u, t));
                    }
                }
                for k in Kind::ALL {
                    if !s.inactive[t][k as usize] && s.flows.iter().any(|f| f.t == t && f.k == k) {
                        out.push(Action::DeactivateClient(t, k));
                    }
                }
                if s.tokens.iter().any(|x| x.t == t && x.kind == state::TokKind::Access) {
                    out.push(Action::RotateKey(t));
                }
            }
        }
        if c.ticks < b.ticks && !s.codes.is_empty() {
            out.extend([Action::Tick, Action::Expire]);
        }
        match &s.in_flight {
            Some(_) => out.extend(FAULTS.map(Action::Finish)),
            None if c.races < b.races => {
                out.extend(honest.iter().cloned().map(|a| Action::Begin(Box::new(a))));
            }
            None => {}
        }
        out.extend(honest);
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        self.step(last, action)
    }

    fn within_boundary(&self, s: &State) -> bool {
        s.tokens.len() <= MAX_TOKENS
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let holds: [Condition; 21] = seq!(holds; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20);
        let reached: [Condition; 10] = seq!(reached; 0 1 2 3 4 5 6 7 8 9);
        let always = PROPERTIES.iter().zip(holds).map(|((n, _), f)| Property::always(n, f));
        let sometimes = GOALS.iter().zip(reached).map(|((n, _), f)| Property::sometimes(n, f));
        always.chain(sometimes).collect()
    }
}
