//! Users: create, read, list, update, set password, disable, delete; their sessions and consents.

use super::{not_found, TenantAdmin};
use crate::activation::{mint_activation, ActivationToken};
use crate::authorize::consent::ConsentRecord;
use crate::env::{Env, UnixTime};
use crate::error::{err, Result};
use crate::password;
use crate::session::logout::LogoutNotice;
use crate::session::{SessionRecord, SessionState};
use crate::store::{decode, list_page, load, save, Page, Store, Table, Tx};
use crate::token::grant::{self, RevocationReason};
use crate::user::{Address, UserIndexRecord, UserProfile, UserRecord};
use serde::{Deserialize, Serialize};
use spec::ErrorCode;

/// Profile fields an update may change (absent fields are kept).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UserPatch {
    /// Login name.
    pub username: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Email verified.
    pub email_verified: Option<bool>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Phone.
    pub phone_number: Option<String>,
    /// Phone verified.
    pub phone_number_verified: Option<bool>,
    /// Address.
    pub address: Option<Address>,
    /// Primary organization.
    pub organization_id: Option<String>,
    /// Platform user type.
    pub user_type: Option<String>,
    /// Platform permissions.
    pub permissions: Option<Vec<String>>,
}

impl UserPatch {
    fn apply(self, p: &mut UserProfile) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { p.$f = v; } )* };
        }
        macro_rules! set_opt {
            ($($f:ident),*) => { $( if self.$f.is_some() { p.$f = self.$f; } )* };
        }
        set!(username, email_verified, phone_number_verified, permissions);
        set_opt!(
            email,
            name,
            given_name,
            family_name,
            picture,
            locale,
            phone_number,
            address,
            organization_id,
            user_type
        );
    }
}

/// A user's second factors as the Admin API shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondFactorInfo {
    /// When the authenticator app was enrolled, if it is.
    pub totp_enrolled_at: Option<UnixTime>,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
}

/// A browser session as the Admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Public session id (`sid`).
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
}

/// Points the username and email indexes of `tenant` at `user` (removing `old`'s names).
pub(crate) fn reindex(tx: &mut dyn Tx, tenant: &str, old: Option<&UserProfile>, user: &UserRecord) -> Result<()> {
    let names = |p: &UserProfile| {
        let mut n = vec![UserIndexRecord::username_key(tenant, &p.username)];
        if let Some(e) = &p.email {
            n.push(UserIndexRecord::email_key(tenant, e));
        }
        n
    };
    if let Some(old) = old {
        for name in names(old) {
            tx.delete(Table::UserIndex, &name)?;
        }
    }
    for name in names(&user.profile) {
        match load::<UserIndexRecord>(tx, &name)? {
            Some(i) if i.user_id != user.id => {
                return Err(err(ErrorCode::Conflict, "username or email already in use"));
            }
            _ => save(tx, &name, &UserIndexRecord::new(tenant, &user.id))?,
        }
    }
    Ok(())
}

fn check_profile(p: &UserProfile) -> Result<()> {
    if p.username.trim().is_empty() || p.username.len() > 256 {
        return Err(err(ErrorCode::InvalidRequest, "username must be 1-256 characters"));
    }
    if p.email.as_ref().is_some_and(|e| !e.contains('@') || e.len() > 256) {
        return Err(err(ErrorCode::InvalidRequest, "email is not an email address"));
    }
    Ok(())
}

impl<S: Store> TenantAdmin<'_, S> {
    /// Creates a user; without a password the user cannot log in until one is set.
    pub fn create_user(&self, env: &mut Env<'_>, profile: UserProfile, pw: Option<&str>) -> Result<UserRecord> {
        check_profile(&profile)?;
        if let Some(pw) = pw {
            crate::password::check_policy(pw)?;
        }
        let user = self.engine.new_user(env, self.slug(), profile, pw);
        self.change(env, "create user", &format!("users/{}", user.id), |tx| {
            reindex(tx, &self.tenant.slug, None, &user)?;
            save(tx, &UserRecord::key(&self.tenant.slug, &user.id), &user)
        })?;
        Ok(user)
    }

    /// Reads a user.
    pub fn user(&self, user_id: &str) -> Result<UserRecord> {
        self.engine
            .user(self.slug(), user_id)?
            .ok_or_else(|| not_found("unknown user"))
    }

    /// A page of the tenant's users.
    pub fn list_users(&self, cursor: Option<&str>, limit: usize) -> Result<Page<UserRecord>> {
        list_page(
            &self.engine.store,
            &format!("{}/", self.slug()),
            cursor,
            limit,
            |_: &UserRecord| true,
        )
    }

    /// Changes profile fields (username and email stay unique).
    pub fn update_user(&self, env: &mut Env<'_>, user_id: &str, patch: UserPatch) -> Result<UserRecord> {
        let now = env.now.0;
        let key = UserRecord::key(self.slug(), user_id);
        self.change(env, "update user", &format!("users/{user_id}"), |tx| {
            let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            let old = u.profile.clone();
            patch.clone().apply(&mut u.profile);
            check_profile(&u.profile)?;
            u.updated_at = now;
            reindex(tx, &self.tenant.slug, Some(&old), &u)?;
            save(tx, &key, &u)?;
            Ok(u)
        })
    }

    /// Sets a new password.
    pub fn set_password(&self, env: &mut Env<'_>, user_id: &str, pw: &str) -> Result<()> {
        crate::password::check_policy(pw)?;
        let salt: [u8; 16] = env.random_bytes();
        let hash = password::hash(self.engine.config.password, pw, &salt);
        let key = UserRecord::key(self.slug(), user_id);
        self.change(env, "set user password", &format!("users/{user_id}"), |tx| {
            let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            u.password_hash = hash.clone();
            save(tx, &key, &u)
        })
    }

    /// A user's second factors, as the Admin API lists them (never a secret).
    pub fn second_factors(&self, user_id: &str) -> Result<SecondFactorInfo> {
        let u = self.user(user_id)?;
        Ok(SecondFactorInfo {
            totp_enrolled_at: u.second_factors.totp.as_ref().map(|t| t.enrolled_at),
            recovery_codes_left: u.second_factors.recovery_codes.len(),
        })
    }

    /// Removes a user's second factors (a lost phone): the app and the recovery codes. Where the
    /// tenant requires a second factor, the user sets up a new app at the next sign-in.
    pub fn reset_second_factors(&self, env: &mut Env<'_>, user_id: &str) -> Result<()> {
        let key = UserRecord::key(self.slug(), user_id);
        self.change(env, "reset second factors", &format!("users/{user_id}"), |tx| {
            let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            u.second_factors = Default::default();
            save(tx, &key, &u)
        })
    }

    /// Records an administrator's unlock of a user's sign-in and returns the names the user signs
    /// in with (username, and email when set), whose failed-login counts the adapter then clears.
    pub fn unlock_sign_in(&self, env: &mut Env<'_>, user_id: &str) -> Result<Vec<String>> {
        let key = UserRecord::key(self.slug(), user_id);
        self.change(env, "unlock sign-in", &format!("users/{user_id}"), |tx| {
            let u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            Ok(std::iter::once(u.profile.username.clone())
                .chain(u.profile.email.clone())
                .collect())
        })
    }

    /// Disables (sessions end, every grant is revoked) or re-enables a user; returns the user
    /// and the back-channel logout tokens to send for the ended sessions.
    pub fn set_user_disabled(
        &self,
        env: &mut Env<'_>,
        user_id: &str,
        disabled: bool,
    ) -> Result<(UserRecord, Vec<LogoutNotice>)> {
        // ADMIN-user-disable-revokes
        let key = UserRecord::key(self.slug(), user_id);
        let (sessions, grants) = self.user_sessions_and_grants(user_id)?;
        let what = if disabled { "disable user" } else { "enable user" };
        let ending = Ending::draw(env);
        if self.engine.mutant(|m| m.disable_user_noop) {
            return Ok((self.user(user_id)?, Vec::new()));
        }
        self.change(env, what, &format!("users/{user_id}"), |tx| {
            let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            u.disabled = disabled;
            save(tx, &key, &u)?;
            let mut notices = Vec::new();
            if disabled {
                notices = self.end_sessions(tx, &sessions, &ending)?;
                self.revoke_grants(tx, user_id, &grants, RevocationReason::UserDisabled)?;
            }
            Ok((u, notices))
        })
    }

    /// Deletes a user: sessions end, grants are revoked, consents and names are removed.
    /// Returns the back-channel logout tokens to send for the ended sessions.
    pub fn delete_user(&self, env: &mut Env<'_>, user_id: &str) -> Result<Vec<LogoutNotice>> {
        // ADMIN-user-disable-revokes
        let key = UserRecord::key(self.slug(), user_id);
        let (sessions, grants) = self.user_sessions_and_grants(user_id)?;
        let consents = self.consent_keys(user_id)?;
        let ending = Ending::draw(env);
        self.change(env, "delete user", &format!("users/{user_id}"), |tx| {
            let u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            let notices = self.end_sessions(tx, &sessions, &ending)?;
            self.revoke_grants(tx, user_id, &grants, RevocationReason::UserDisabled)?;
            for (k, _) in &consents {
                tx.delete(Table::Consent, k)?;
            }
            tx.delete(
                Table::UserIndex,
                &UserIndexRecord::username_key(&self.tenant.slug, &u.profile.username),
            )?;
            if let Some(e) = &u.profile.email {
                tx.delete(Table::UserIndex, &UserIndexRecord::email_key(&self.tenant.slug, e))?;
            }
            tx.delete(Table::User, &key)?;
            Ok(notices)
        })
    }

    /// The user's active sessions.
    pub fn sessions(&self, user_id: &str) -> Result<Vec<SessionInfo>> {
        self.user(user_id)?;
        Ok(self
            .user_sessions_and_grants(user_id)?
            .0
            .into_iter()
            .map(|(_, s)| SessionInfo {
                sid: s.sid,
                auth_time: s.auth_time,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// Ends one session (`Some(sid)`) or all of them, revoking the user's grants too when all end.
    /// Returns the back-channel logout tokens to send for the ended sessions.
    pub fn revoke_sessions(&self, env: &mut Env<'_>, user_id: &str, sid: Option<&str>) -> Result<Vec<LogoutNotice>> {
        // ADMIN-user-disable-revokes
        self.user(user_id)?;
        let (mut sessions, grants) = self.user_sessions_and_grants(user_id)?;
        if let Some(sid) = sid {
            sessions.retain(|(_, s)| s.sid == sid);
            if sessions.is_empty() {
                return Err(not_found("unknown session"));
            }
        }
        let detail = match sid {
            Some(s) => format!("revoke session {s}"),
            None => "revoke all sessions".into(),
        };
        let ending = Ending::draw(env);
        self.change(env, detail, &format!("users/{user_id}"), |tx| {
            let notices = self.end_sessions(tx, &sessions, &ending)?;
            if sid.is_none() {
                self.revoke_grants(tx, user_id, &grants, RevocationReason::Logout)?;
            }
            Ok(notices)
        })
    }

    /// The user's remembered consents: (client id, scopes).
    pub fn consents(&self, user_id: &str) -> Result<Vec<(String, Vec<String>)>> {
        self.user(user_id)?;
        Ok(self
            .consent_keys(user_id)?
            .into_iter()
            .map(|(k, c)| {
                (
                    k.rsplit('/').next().unwrap_or_default().to_string(),
                    c.scopes.into_iter().collect(),
                )
            })
            .collect())
    }

    /// Forgets the user's consent to `client_id` (or to every client) and revokes the grants it covered.
    pub fn revoke_consents(&self, env: &mut Env<'_>, user_id: &str, client_id: Option<&str>) -> Result<()> {
        // ADMIN-user-disable-revokes
        self.user(user_id)?;
        let mut consents = self.consent_keys(user_id)?;
        if let Some(c) = client_id {
            consents.retain(|(k, _)| k.rsplit('/').next() == Some(c));
            if consents.is_empty() {
                return Err(not_found("no consent for this client"));
            }
        }
        self.change(env, "revoke consent", &format!("users/{user_id}"), |tx| {
            for (k, _) in &consents {
                tx.delete(Table::Consent, k)?;
                let client = k.rsplit('/').next().unwrap_or_default();
                grant::revoke_for_user(tx, &self.tenant.slug, user_id, client, RevocationReason::ConsentRevoked)?;
            }
            Ok(())
        })
    }

    fn consent_keys(&self, user_id: &str) -> Result<Vec<(String, ConsentRecord)>> {
        self.engine
            .store
            .scan(Table::Consent, &format!("{}/{user_id}/", self.slug()))?
            .into_iter()
            .map(|(k, v)| Ok((k, decode::<ConsentRecord>(&v)?)))
            .collect()
    }

    /// The user's active sessions (key, record) and the client ids they have grants with.
    #[allow(clippy::type_complexity)]
    fn user_sessions_and_grants(&self, user_id: &str) -> Result<(Vec<(String, SessionRecord)>, Vec<String>)> {
        let slug = self.slug();
        let mut sessions = Vec::new();
        for (k, v) in self.engine.store.scan(Table::Session, &format!("{slug}/"))? {
            let s = decode::<SessionRecord>(&v)?;
            if s.user_id == user_id && s.state == SessionState::Active {
                sessions.push((k, s));
            }
        }
        let grants = self
            .engine
            .store
            .scan(Table::UserClientGrants, &format!("{slug}/{user_id}/"))?
            .into_iter()
            .filter_map(|(k, _)| k.rsplit('/').next().map(str::to_owned))
            .collect();
        Ok((sessions, grants))
    }

    /// Ends `sessions`; OIDC-BCLOGOUT-2.4-logout-token: returns a logout token for each client of
    /// each ended session that registered a back-channel logout URI.
    fn end_sessions(
        &self,
        tx: &mut dyn Tx,
        sessions: &[(String, SessionRecord)],
        ending: &Ending,
    ) -> Result<Vec<LogoutNotice>> {
        let iss = self.engine.issuer(self.slug());
        let mut notices = Vec::new();
        for (i, (key, _)) in sessions.iter().enumerate() {
            if let Some(mut s) = load::<SessionRecord>(tx, key)? {
                s.state = SessionState::Ended;
                save(tx, key, &s)?;
                let jti = format!("{}-{i}", ending.jti);
                notices.extend(
                    self.engine
                        .logout_notices(tx, self.slug(), &iss, &s, &jti, ending.now)?,
                );
            }
        }
        Ok(notices)
    }

    fn revoke_grants(&self, tx: &mut dyn Tx, user_id: &str, clients: &[String], why: RevocationReason) -> Result<()> {
        for c in clients {
            grant::revoke_for_user(tx, &self.tenant.slug, user_id, c, why)?;
        }
        Ok(())
    }
}

/// What ending sessions needs from the environment, drawn before the store transaction.
struct Ending {
    jti: String,
    now: UnixTime,
}

impl Ending {
    fn draw(env: &mut Env<'_>) -> Self {
        Ending {
            jti: crate::secret::mint(env, ""),
            now: env.now,
        }
    }
}

impl<S: Store> TenantAdmin<'_, S> {
    /// A new activation link for a user who has no password yet (409 for one who has); the old
    /// link stops working.
    pub fn issue_activation(&self, env: &mut Env<'_>, user_id: &str) -> Result<(UserRecord, ActivationToken)> {
        let ttl = self.engine.config.activation_ttl;
        let key = UserRecord::key(self.slug(), user_id);
        let mut user = self.user(user_id)?;
        if !user.password_hash.is_empty() {
            return Err(err(ErrorCode::Conflict, "this user already has a password"));
        }
        let link = mint_activation(env, &mut user, ttl);
        let issued = user.clone();
        self.change(env, "issue activation link", &format!("users/{user_id}"), |tx| {
            let current = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            if !current.password_hash.is_empty() {
                return Err(err(ErrorCode::Conflict, "this user already has a password"));
            }
            let mut u = current;
            u.activation = issued.activation.clone();
            save(tx, &key, &u)
        })?;
        Ok((issued, link))
    }
}
