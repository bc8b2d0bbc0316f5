//! Activation links: how an invited user (an account with no password) gets in. The link carries
//! `{user id}.{secret}`; the user record keeps only the secret's hash and an expiry. Following the
//! link shows a form; submitting a password sets it, marks the email verified (the link reached
//! that inbox) and uses the link up. A new link replaces the old one.

use crate::audit::AuditKind;
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::{err, Result};
use crate::password;
use crate::secret::{mint, SecretHash};
use crate::store::{load, save, Store, Tx};
use crate::user::{PendingActivation, UserRecord};
use spec::ErrorCode;

/// A freshly minted activation link's token (shown or sent once) and its expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationToken {
    /// `{user id}.{secret}`: the `token` parameter of `/{tenant}/activate`.
    pub token: String,
    /// When it stops working.
    pub expires_at: UnixTime,
}

/// Who an activation link is for, to greet them on its page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationInfo {
    /// Their login name.
    pub username: String,
    /// Their email.
    pub email: Option<String>,
}

/// The refusal for a link that is unknown, used, replaced or expired (all look alike).
fn invalid_link() -> crate::error::EngineError {
    err(
        ErrorCode::InvalidRequest,
        "this activation link is invalid, used or expired; ask for a new invitation",
    )
}

/// Mints a link for `user` (replacing any earlier one); the caller saves the user.
pub(crate) fn mint_activation(env: &mut Env<'_>, user: &mut UserRecord, ttl: u64) -> ActivationToken {
    let secret = mint(env, "");
    let expires_at = env.now.plus(ttl);
    user.activation = Some(PendingActivation {
        secret_hash: SecretHash::of(&secret),
        expires_at,
    });
    ActivationToken {
        token: format!("{}.{secret}", user.id),
        expires_at,
    }
}

/// The user a live link is for.
fn linked_user(tx: &mut dyn Tx, tenant: &str, token: &str, now: UnixTime) -> Result<UserRecord> {
    // INVITE-activation-link
    let (user_id, secret) = token.split_once('.').ok_or_else(invalid_link)?;
    if user_id.is_empty() || user_id.len() > 64 || user_id.contains('/') {
        return Err(invalid_link());
    }
    let user = load::<UserRecord>(tx, &UserRecord::key(tenant, user_id))?.ok_or_else(invalid_link)?;
    match &user.activation {
        Some(a) if a.expires_at > now && !user.disabled && a.secret_hash.matches(secret) => Ok(user),
        _ => Err(invalid_link()),
    }
}

impl<S: Store> Engine<S> {
    /// Who the activation link `token` of `tenant` is for, if it is live (reads only).
    pub fn activation_info(&self, env: &Env<'_>, tenant: &str, token: &str) -> Result<ActivationInfo> {
        let now = env.now;
        let user = self.store.transact(|tx| linked_user(tx, tenant, token, now))?;
        Ok(ActivationInfo {
            username: user.profile.username,
            email: user.profile.email,
        })
    }

    /// Sets the password of the user the link `token` is for, and uses the link up.
    pub fn handle_activation(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        token: &str,
        new_password: &str,
    ) -> Result<UserRecord> {
        crate::password::check_policy(new_password)?;
        let salt: [u8; 16] = env.random_bytes();
        let hash = password::hash(self.config.password, new_password, &salt);
        let stamp = self.stamp(env);
        let now = env.now;
        self.store.transact(|tx| {
            let mut user = linked_user(tx, tenant, token, now)?;
            user.password_hash = hash.clone();
            user.activation = None;
            user.profile.email_verified = user.profile.email.is_some();
            user.updated_at = now.0;
            save(tx, &UserRecord::key(tenant, &user.id), &user)?;
            let event = stamp
                .event(AuditKind::AccountActivated, "password set from an activation link")
                .actor(user.id.clone())
                .subject(user.id.clone());
            self.audit(tx, tenant, &event)?;
            Ok(user)
        })
    }
}
