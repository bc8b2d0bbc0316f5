//! App licences for many users of an organization at once (Calimatic seed §8, "bulk assign"):
//! assign or withdraw one client's licence, each user in a transaction of its own, each reported.

use super::{not_found, TenantAdmin};
use crate::admin::organization::OrganizationRecord;
use crate::client::ClientRecord;
use crate::env::Env;
use crate::error::{err, Result};
use crate::store::{load, save, Store};
use crate::user::UserRecord;
use spec::ErrorCode;

/// At most this many users per bulk call.
pub const BULK_LICENSES_MAX: usize = 500;

/// Assign or withdraw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseAction {
    /// Give the user the licence.
    Assign,
    /// Take it away (their next refresh for a `license_required` client fails).
    Withdraw,
}

/// One user's row of a bulk licence call.
#[derive(Debug)]
pub struct LicenseRow {
    /// The user.
    pub user_id: String,
    /// What was asked.
    pub action: LicenseAction,
    /// Done, or why not.
    pub result: Result<()>,
}

impl<S: Store> TenantAdmin<'_, S> {
    /// Assigns `client_id`'s licence to the `assign` users and withdraws it from the `withdraw`
    /// users, all members of `org_id`. Assigning needs the app enabled for the organization
    /// (403 otherwise); a user who is not a member gets a failed row (404) and nothing changes.
    pub fn bulk_licenses(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        client_id: &str,
        assign: &[String],
        withdraw: &[String],
    ) -> Result<Vec<LicenseRow>> {
        if assign.len() + withdraw.len() > BULK_LICENSES_MAX {
            return Err(err(ErrorCode::InvalidRequest, "at most 500 users per call"));
        }
        let org = self.organization(org_id)?;
        if self.engine.client(self.slug(), client_id)?.is_none() {
            return Err(not_found("unknown client"));
        }
        if !assign.is_empty() && !org.is_enabled(client_id) {
            return Err(err(
                ErrorCode::Forbidden,
                "only apps enabled for the organization can be assigned",
            ));
        }
        let rows = assign
            .iter()
            .map(|u| (u, LicenseAction::Assign))
            .chain(withdraw.iter().map(|u| (u, LicenseAction::Withdraw)));
        Ok(rows
            .map(|(user_id, action)| LicenseRow {
                user_id: user_id.clone(),
                action,
                result: self.license_one(env, &org, client_id, user_id, action),
            })
            .collect())
    }

    fn license_one(
        &self,
        env: &mut Env<'_>,
        org: &OrganizationRecord,
        client_id: &str,
        user_id: &str,
        action: LicenseAction,
    ) -> Result<()> {
        let slug = self.slug().to_string();
        let key = UserRecord::key(&slug, user_id);
        let what = match action {
            LicenseAction::Assign => "assign app licence",
            LicenseAction::Withdraw => "withdraw app licence",
        };
        let subject = format!("users/{user_id}/licenses/{client_id}");
        self.change(env, what, &subject, |tx| {
            if load::<ClientRecord>(tx, &ClientRecord::key(&slug, client_id))?.is_none() {
                return Err(not_found("unknown client"));
            }
            let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
            if !u
                .profile
                .organization_memberships
                .iter()
                .any(|m| m.organization_id == org.id)
            {
                return Err(not_found("the user is not a member of this organization"));
            }
            match action {
                LicenseAction::Assign => u.app_licenses.insert(client_id.into()),
                LicenseAction::Withdraw => u.app_licenses.remove(client_id),
            };
            save(tx, &key, &u)
        })
    }
}
