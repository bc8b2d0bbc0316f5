//! Arbitrary command sequences against the engine (authorization, pushed requests, login,
//! consent, code and refresh and client-credentials grants, revocation, UserInfo in JSON and
//! signed, logout, consent withdrawal, disabling a user, key rotation, dynamic registration and
//! its deletion, two-step sign-in (an authenticator app enrolled through `acr_values=2`, its
//! codes, recovery codes), the clock), with the model's invariants checked after every step that can change
//! a token's fate: a code yields tokens at most once, a replayed code's tokens are dead, a reused
//! refresh token kills its family, at most one live refresh token per family, a withdrawn consent,
//! a disabled user or a deleted registration kills the families it covers; a TOTP code of a step
//! already used and a spent recovery code never pass; once the user has an app, every code issued
//! is of a two-factor session (its ID token says acr 2).
//! Requirements: covers("RFC6749-4.1.2-code-single-use"), covers("RFC6749-4.1.2-code-replay-revokes"), covers("RFC9700-4.14.2-refresh-reuse"), covers("OAUTH21-4.3.1-refresh-rotation"), covers("ADMIN-user-disable-revokes"), covers("RFC7592-2-client-management"), covers("MFA-totp-once"), covers("MFA-recovery-once"), covers("MFA-policy").
#![no_main]
#[path = "world.rs"]
mod world;
use arbitrary::{Arbitrary, Unstructured};
use engine::client::auth::ClientCredentials;
use engine::client::registration::ClientMetadata;
use engine::session::logout::EndSessionRequest;
use engine::token::TokenRequest;
use engine::authorize::second_factor::FactorOutcome;
use engine::mfa::totp;
use engine::{AuthorizationRequest, AuthorizeOutcome, Env, LoginOutcome, SeededRandom, UnixTime};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Cmd {
    /// `prompt % 4` picks the prompt; `prompt >= 128` asks for two factors (`acr_values=2`).
    Authorize {
        client: u8,
        prompt: u8,
        scope: u8,
    },
    /// Answers the login page (bit 0: the right password), or the second-factor page that is
    /// pending: `answer >> 1 & 3` picks the app's current code, a wrong one, an unused or a spent
    /// recovery code (`answer >> 3` which). One byte either way, as the `bool` it once was, so
    /// the committed corpus keeps its meaning.
    Login {
        answer: u8,
    },
    Consent {
        approve: bool,
    },
    Redeem {
        code: u8,
        client: u8,
        right_verifier: bool,
        right_redirect: bool,
    },
    Refresh {
        token: u8,
        client: u8,
    },
    Revoke {
        token: u8,
    },
    UserInfo {
        token: u8,
    },
    Logout {
        hint: bool,
    },
    Advance {
        secs: u16,
    },
    Push {
        client: u8,
        scope: u8,
    },
    ClientCredentials {
        client: u8,
    },
    WithdrawConsent,
    DisableUser {
        disabled: bool,
    },
    RotateKey,
    /// RFC 7591: registers a client (at most three), which later commands can then act as.
    Register {
        public: bool,
    },
    /// RFC 7592: deletes a client the sequence registered.
    DeleteRegistration {
        client: u8,
    },
    /// UserInfo as a signed JWT (the registered clients ask for it).
    UserInfoJwt {
        token: u8,
    },
}

/// A client the sequence acts as: the world's three, then the ones it registered.
struct Party {
    id: String,
    redirect: String,
    creds: ClientCredentials,
    /// Whether its credentials authenticate it (the FAPI client's, deliberately wrong, never do;
    /// nor do a deleted client's).
    authenticates: bool,
    /// The RFC 7592 registration access token of a client the sequence registered.
    registration: Option<String>,
}

struct Code {
    value: String,
    /// Issued after the user enrolled an app: its session used two factors.
    two_factors: bool,
    client: usize,
    flow: usize,
    redeemed: usize,
    family: Option<usize>,
}

struct Tok {
    value: String,
    refresh: bool,
    client: usize,
    family: usize,
}

fuzz_target!(|data: &[u8]| {
    // The commands are decoded as they run, the first 24 only (the rest of a long input is never
    // decoded): the encoding of an `arbitrary` Vec<Cmd>, without building it.
    let mut u = Unstructured::new(data);
    let cmds = std::iter::from_fn(|| (!u.is_empty()).then(|| Cmd::arbitrary(&mut u).ok()).flatten());
    let w = world::world();
    let engine = w.fresh();
    let mut clock = world::NOW;
    let mut rng = SeededRandom::new(data.len() as u64);
    let mut session: Option<String> = None;
    let mut pending: Option<(String, usize, usize)> = None; // (transaction, client, flow)
    let mut codes: Vec<Code> = Vec::new();
    let mut tokens: Vec<Tok> = Vec::new();
    let mut latest_rt: Vec<Option<usize>> = Vec::new(); // per family
    let mut dead_families: Vec<usize> = Vec::new();
    let mut id_token: Option<(String, usize)> = None;
    let mut disabled = false;
    let mut rotations = 0u8;
    // Two-step sign-in: the pending second-factor page (transaction, client, flow, the secret
    // of an app being set up), the enrolled app's secret and last used step, recovery codes.
    let mut factor: Option<(String, usize, usize, Option<Vec<u8>>)> = None;
    let mut app: Option<(Vec<u8>, u64)> = None;
    let mut recovery: Vec<String> = Vec::new();
    let mut spent: Vec<String> = Vec::new();
    let mut parties: Vec<Party> = (0..world::CLIENTS.len())
        .map(|i| Party {
            id: world::CLIENTS[i].0.into(),
            redirect: world::CLIENTS[i].1.into(),
            creds: w.creds(i),
            authenticates: i != 2,
            registration: None,
        })
        .collect();
    // ENGINE_SEQUENCE_TRACE=1 prints each command as it runs (to read a finding).
    let trace = std::env::var_os("ENGINE_SEQUENCE_TRACE").is_some();
    for (step, cmd) in cmds.take(24).enumerate() {
        if trace {
            eprintln!("step {step}: {cmd:?} (tokens {}, dead families {dead_families:?})", tokens.len());
        }
        let mut env = Env::new(UnixTime(clock), &mut rng);
        let mut outcome: Option<(AuthorizeOutcome, usize, usize)> = None;
        // Whether the step can change which tokens are live (the invariants are checked after it).
        let fateful = matches!(
            cmd,
            Cmd::Redeem { .. }
                | Cmd::Refresh { .. }
                | Cmd::Revoke { .. }
                | Cmd::Logout { .. }
                | Cmd::Advance { .. }
                | Cmd::WithdrawConsent
                | Cmd::DisableUser { .. }
                | Cmd::RotateKey
                | Cmd::DeleteRegistration { .. }
        );
        match cmd {
            Cmd::Authorize { client, prompt, scope } => {
                let two_factors = prompt >= 128;
                let c = client as usize % parties.len();
                let flow = step;
                let req = AuthorizationRequest {
                    client_id: Some(parties[c].id.clone()),
                    redirect_uri: Some(parties[c].redirect.clone()),
                    response_type: Some("code".into()),
                    scope: Some(["openid", "openid email", "openid profile email"][scope as usize % 3].into()),
                    state: Some("s".into()),
                    code_challenge: Some(engine::authorize::pkce::s256(&world::verifier(flow))),
                    code_challenge_method: Some("S256".into()),
                    prompt: [None, Some("none"), Some("login"), Some("consent")][prompt as usize % 4]
                        .map(str::to_owned),
                    acr_values: two_factors.then(|| "2".to_string()),
                    ..Default::default()
                };
                outcome = Some((
                    engine.handle_authorize(&mut env, world::T, &req, session.as_deref()),
                    c,
                    flow,
                ));
            }
            Cmd::Login { answer } if factor.is_some() => {
                let Some((tx, c, flow, enrolling)) = factor.clone() else {
                    continue;
                };
                let (kind, which) = (answer >> 1 & 3, answer >> 3);
                // The code, and whether it must pass (Some(true)), must not (Some(false)), or may.
                let step = clock / totp::STEP;
                let (code, expect) = match (kind, &enrolling, &app) {
                    (0, Some(secret), _) => (totp::code_at(secret, UnixTime(clock)), Some(true)),
                    (0, None, Some((secret, last))) => {
                        let code = totp::code_at(secret, UnixTime(clock));
                        // MFA-totp-once: the step's code passes once (unless, by chance, the next
                        // step's code is the same six digits).
                        let next_same = totp::code_at(secret, UnixTime(clock + totp::STEP)) == code;
                        (code, if step > *last { Some(true) } else { (!next_same).then_some(false) })
                    }
                    (2, None, _) if !recovery.is_empty() => {
                        let code = recovery[which as usize % recovery.len()].clone();
                        (code, Some(true))
                    }
                    // MFA-recovery-once
                    (3, None, _) if !spent.is_empty() => (spent[which as usize % spent.len()].clone(), Some(false)),
                    _ => ("abcde-fghij".to_string(), Some(false)),
                };
                let out = match &enrolling {
                    Some(_) => engine.handle_totp_enrolment(&mut env, world::T, &tx, &code, session.as_deref()),
                    None => engine.handle_second_factor(&mut env, world::T, &tx, &code, session.as_deref()),
                };
                match out {
                    FactorOutcome::Passed { session: s, next } => {
                        if trace {
                            eprintln!("  second factor passed: {code}");
                        }
                        assert_ne!(expect, Some(false), "a used or wrong second-factor code passed: {code}");
                        factor = None;
                        match &enrolling {
                            Some(secret) => app = Some((secret.clone(), step)),
                            None if recovery.contains(&code) => {
                                recovery.retain(|r| *r != code);
                                spent.push(code);
                            }
                            None => {
                                if let Some((_, last)) = &mut app {
                                    *last = step;
                                }
                            }
                        }
                        if let Some(s) = s {
                            session = Some(s.token);
                        }
                        outcome = Some((next, c, flow));
                    }
                    FactorOutcome::Rejected { .. } => {
                        assert_ne!(expect, Some(true), "a right second-factor code was refused: {code}");
                    }
                    // Expired, abandoned after five wrong codes, the user disabled, the client gone.
                    FactorOutcome::ErrorPage(_) => factor = None,
                }
            }
            Cmd::Login { answer } => {
                let correct = answer & 1 == 1;
                if let Some((tx, c, flow)) = pending.clone() {
                    let pw = if correct { world::PASSWORD } else { "nope nope" };
                    match engine.handle_login(&mut env, world::T, &tx, "alice", pw, session.as_deref()) {
                        LoginOutcome::LoggedIn { session: s, next } => {
                            session = Some(s.token);
                            outcome = Some((next, c, flow));
                        }
                        LoginOutcome::Rejected(_) => {}
                        LoginOutcome::ErrorPage(_) => pending = None,
                        LoginOutcome::SecondFactor(next) => outcome = Some((next, c, flow)),
                    }
                }
            }
            Cmd::Consent { approve } => {
                if let Some((tx, c, flow)) = pending.clone() {
                    outcome = Some((
                        engine.handle_consent(&mut env, world::T, &tx, session.as_deref(), approve),
                        c,
                        flow,
                    ));
                }
            }
            Cmd::Redeem {
                code,
                client,
                right_verifier,
                right_redirect,
            } => {
                if codes.is_empty() {
                    continue;
                }
                let i = code as usize % codes.len();
                let by = client as usize % parties.len();
                let (c_client, flow) = (codes[i].client, codes[i].flow);
                let verifier = if right_verifier {
                    world::verifier(flow)
                } else {
                    world::verifier(flow + 1000)
                };
                let redirect = if right_redirect {
                    parties[c_client].redirect.clone()
                } else {
                    parties[(c_client + 1) % parties.len()].redirect.clone()
                };
                let req = TokenRequest {
                    grant_type: Some("authorization_code".into()),
                    code: Some(codes[i].value.clone()),
                    redirect_uri: Some(redirect),
                    code_verifier: Some(verifier),
                    ..Default::default()
                };
                // A replayed code revokes what it issued, when the replaying client authenticates
                // (the FAPI client's credentials never do: an unauthenticated caller can revoke nothing).
                if let (Some(f), true) = (codes[i].family, parties[by].authenticates) {
                    dead_families.push(f);
                }
                if let Ok(t) = engine.handle_token(&mut env, world::T, &parties[by].creds, &req) {
                    assert_eq!(by, c_client, "a code yielded tokens to another client");
                    assert!(right_verifier, "a code yielded tokens without its verifier");
                    codes[i].redeemed += 1;
                    let family = latest_rt.len();
                    codes[i].family = Some(family);
                    tokens.push(Tok {
                        value: t.access_token,
                        refresh: false,
                        client: by,
                        family,
                    });
                    latest_rt.push(t.refresh_token.map(|rt| {
                        tokens.push(Tok {
                            value: rt,
                            refresh: true,
                            client: by,
                            family,
                        });
                        tokens.len() - 1
                    }));
                    if let (true, Some(idt)) = (codes[i].two_factors, &t.id_token) {
                        let claims: serde_json::Value = engine::jose::decode(idt).unwrap().claims().unwrap();
                        assert_eq!(claims["acr"], "2", "a code of a one-factor session after the user enrolled an app");
                    }
                    if t.id_token.is_some() {
                        id_token = t.id_token.map(|t| (t, by));
                    }
                    assert!(codes[i].redeemed <= 1, "a code yielded tokens twice");
                }
            }
            Cmd::Refresh { token, client } => {
                let rts: Vec<usize> = (0..tokens.len()).filter(|i| tokens[*i].refresh).collect();
                if rts.is_empty() {
                    continue;
                }
                let i = rts[token as usize % rts.len()];
                let by = client as usize % parties.len();
                let family = tokens[i].family;
                let reuse = latest_rt[family] != Some(i);
                let req = TokenRequest {
                    grant_type: Some("refresh_token".into()),
                    refresh_token: Some(tokens[i].value.clone()),
                    ..Default::default()
                };
                match engine.handle_token(&mut env, world::T, &parties[by].creds, &req) {
                    Ok(t) => {
                        assert!(
                            !reuse && !dead_families.contains(&family) && by == tokens[i].client,
                            "refresh accepted a rotated, revoked or foreign token"
                        );
                        tokens.push(Tok {
                            value: t.access_token,
                            refresh: false,
                            client: by,
                            family,
                        });
                        if let Some(rt) = t.refresh_token {
                            tokens.push(Tok {
                                value: rt,
                                refresh: true,
                                client: by,
                                family,
                            });
                            latest_rt[family] = Some(tokens.len() - 1);
                        }
                    }
                    Err(_) => {
                        if reuse && by == tokens[i].client {
                            dead_families.push(family);
                        }
                    }
                }
            }
            Cmd::Revoke { token } => {
                if tokens.is_empty() {
                    continue;
                }
                let i = token as usize % tokens.len();
                let _ = engine.handle_revoke(&mut env, world::T, &parties[tokens[i].client].creds, &tokens[i].value);
                if tokens[i].refresh {
                    dead_families.push(tokens[i].family);
                }
            }
            Cmd::UserInfo { token } => {
                if !tokens.is_empty() {
                    let _ = engine.handle_userinfo(&mut env, world::T, &tokens[token as usize % tokens.len()].value);
                }
            }
            Cmd::Logout { hint } => {
                let hint = if hint { id_token.clone() } else { None };
                let req = EndSessionRequest {
                    id_token_hint: hint.as_ref().map(|h| h.0.clone()),
                    ..Default::default()
                };
                let _ = engine.handle_end_session(&mut env, world::T, &req, session.as_deref(), true);
                // Logout with a hint revokes the user's grants for the hint's client.
                if let Some((_, c)) = hint {
                    dead_families.extend(tokens.iter().filter(|t| t.client == c).map(|t| t.family));
                }
            }
            Cmd::Advance { secs } => clock += u64::from(secs),
            Cmd::Push { client, scope } => {
                let c = client as usize % parties.len();
                let flow = step;
                let req = AuthorizationRequest {
                    client_id: Some(parties[c].id.clone()),
                    redirect_uri: Some(parties[c].redirect.clone()),
                    response_type: Some("code".into()),
                    scope: Some(["openid", "openid email"][scope as usize % 2].into()),
                    state: Some("s".into()),
                    code_challenge: Some(engine::authorize::pkce::s256(&world::verifier(flow))),
                    code_challenge_method: Some("S256".into()),
                    ..Default::default()
                };
                if let Ok(pushed) = engine.handle_par(&mut env, world::T, &parties[c].creds, &req) {
                    let by_uri = AuthorizationRequest {
                        client_id: Some(parties[c].id.clone()),
                        request_uri: Some(pushed.request_uri),
                        ..Default::default()
                    };
                    outcome = Some((
                        engine.handle_authorize(&mut env, world::T, &by_uri, session.as_deref()),
                        c,
                        flow,
                    ));
                }
            }
            Cmd::ClientCredentials { client } => {
                let req = TokenRequest {
                    grant_type: Some("client_credentials".into()),
                    ..Default::default()
                };
                let by = client as usize % parties.len();
                if engine.handle_token(&mut env, world::T, &parties[by].creds, &req).is_ok() {
                    assert_eq!(by, 0, "only the web client may use client credentials with its secret");
                }
            }
            Cmd::WithdrawConsent => {
                let principal = world::admin();
                let admin = engine.tenant_admin(&principal, world::T).unwrap();
                if admin.revoke_consents(&mut env, &w.alice, Some("web")).is_ok() {
                    dead_families.extend(tokens.iter().filter(|t| t.client == 0).map(|t| t.family));
                }
            }
            Cmd::DisableUser { disabled: d } => {
                let principal = world::admin();
                let admin = engine.tenant_admin(&principal, world::T).unwrap();
                admin.set_user_disabled(&mut env, &w.alice, d).unwrap();
                if d {
                    dead_families.extend(tokens.iter().map(|t| t.family));
                }
                disabled = d;
            }
            // Three rotations give tokens signed by the active key, the one it replaced and one
            // retired before that: a fourth reaches no state the first three did not (and each
            // costs a P-256 key derivation, as long as a whole sequence of other steps).
            Cmd::RotateKey if rotations < 3 => {
                rotations += 1;
                let key = engine::jose::KeyMaterial::p256_scalar(&[rotations; 32]);
                engine.install_signing_key(&mut env, world::T, key).unwrap();
            }
            Cmd::RotateKey => continue,
            Cmd::Register { public } => {
                if parties.len() >= world::CLIENTS.len() + 3 {
                    continue;
                }
                let redirect = format!("https://dyn{}.example.com/cb", parties.len());
                let metadata: ClientMetadata = serde_json::from_value(serde_json::json!({
                    "redirect_uris": [redirect],
                    "token_endpoint_auth_method": if public { "none" } else { "client_secret_basic" },
                    "grant_types": ["authorization_code", "refresh_token"],
                    "id_token_signed_response_alg": "ES256",
                    "userinfo_signed_response_alg": "ES256",
                }))
                .unwrap();
                let body = engine
                    .handle_register(&mut env, world::T, None, &metadata)
                    .expect("the tenant's registration is open and the metadata valid");
                let field = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                let id = field("client_id").expect("a registered client has an id");
                let creds = match field("client_secret") {
                    Some(secret) if !public => ClientCredentials::Basic {
                        client_id: id.clone(),
                        secret,
                    },
                    None if public => ClientCredentials::PublicId(id.clone()),
                    _ => panic!("a client_secret exactly for a confidential client"),
                };
                parties.push(Party {
                    id,
                    redirect,
                    creds,
                    authenticates: true,
                    registration: Some(field("registration_access_token").expect("RFC 7592 token")),
                });
            }
            Cmd::DeleteRegistration { client } => {
                let c = client as usize % parties.len();
                let Some(rat) = parties[c].registration.take() else {
                    continue;
                };
                engine
                    .handle_registration_delete(&mut env, world::T, &parties[c].id, Some(&rat))
                    .expect("its own registration access token deletes a client");
                // A deleted client no longer authenticates (so its replays revoke nothing).
                parties[c].authenticates = false;
                // RFC 7592 §2.3: its grants and tokens die with it.
                dead_families.extend(tokens.iter().filter(|t| t.client == c).map(|t| t.family));
                assert!(
                    engine
                        .handle_registration_read(world::T, &parties[c].id, Some(&rat))
                        .is_err(),
                    "a deleted registration is still readable"
                );
                for t in tokens.iter().filter(|t| t.client == c && !t.refresh) {
                    assert!(
                        engine.handle_userinfo(&mut env, world::T, &t.value).is_err(),
                        "a deleted client's access token still serves UserInfo"
                    );
                }
            }
            Cmd::UserInfoJwt { token } => {
                if !tokens.is_empty() {
                    let t = &tokens[token as usize % tokens.len()];
                    let _ = engine.handle_userinfo_response(&mut env, world::T, &t.value);
                }
            }
        }
        while let Some((out, c, flow)) = outcome.take() {
            pending = None;
            factor = None;
            match out {
                AuthorizeOutcome::Login(p) => pending = Some((p.transaction, c, flow)),
                AuthorizeOutcome::Consent(p) => pending = Some((p.transaction, c, flow)),
                AuthorizeOutcome::SecondFactor(p) => {
                    if trace {
                        eprintln!("  second-factor page (setting up an app: {})", p.enrolment.is_some());
                    }
                    let secret = p.enrolment.map(|e| totp::secret_from_base32(&e.secret).expect("base32"));
                    factor = Some((p.transaction, c, flow, secret));
                }
                // The codes are shown once; the user goes on at once.
                AuthorizeOutcome::RecoveryCodes(p) => {
                    recovery = p.codes;
                    let mut env = Env::new(UnixTime(clock), &mut rng);
                    let next = engine.handle_sign_in_continue(&mut env, world::T, &p.transaction, session.as_deref());
                    outcome = Some((next, c, flow));
                }
                AuthorizeOutcome::Redirect(r) => {
                    assert_eq!(r.target.uri(), parties[c].redirect);
                    if let Some(code) = r.param("code") {
                        assert!(!disabled, "a disabled user was given a code");
                        codes.push(Code {
                            value: code.into(),
                            two_factors: app.is_some(),
                            client: c,
                            flow,
                            redeemed: 0,
                            family: None,
                        });
                    }
                }
                AuthorizeOutcome::ErrorPage(_) => {}
            }
        }
        if !fateful {
            continue;
        }
        // Invariants, as the engine reports them.
        let mut env = Env::new(UnixTime(clock), &mut rng);
        let mut live_rts = vec![0usize; latest_rt.len()];
        for t in &tokens {
            let active = engine
                .handle_introspect(&mut env, world::T, &parties[t.client].creds, &t.value)
                .map(|i| i.active)
                .unwrap_or(false);
            if active {
                assert!(
                    !dead_families.contains(&t.family),
                    "a token of a revoked family is active"
                );
                if t.refresh {
                    live_rts[t.family] += 1;
                }
            }
        }
        assert!(
            live_rts.iter().all(|n| *n <= 1),
            "more than one live refresh token in a family"
        );
    }
});
