//! Organization bodies: organizations, app access, memberships, invites with their activation
//! links, and bulk licences.

use super::User;
use engine::admin::organization::OrganizationRecord;
use engine::admin::{Invite, InviteOutcome, InviteStatus, OrganizationPatch};
use poem_openapi::types::Example;
use poem_openapi::Object;

/// An organization inside a tenant.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Organization {
    /// Id (the `organization_id` claim).
    pub id: String,
    /// Name.
    pub name: String,
    /// Apps and whether each is enabled (`organization_app_access`).
    pub app_access: Vec<AppAccess>,
    /// The roles an enabled app may give when it invites (administrators give any); default `member`.
    pub app_roles: Vec<String>,
    /// Created at (seconds).
    pub created_at: u64,
}

impl From<OrganizationRecord> for Organization {
    fn from(o: OrganizationRecord) -> Self {
        Organization {
            id: o.id,
            name: o.name,
            app_access: o
                .app_access
                .into_iter()
                .map(|(client_id, is_enabled)| AppAccess { client_id, is_enabled })
                .collect(),
            app_roles: o.app_roles.into_iter().collect(),
            created_at: o.created_at,
        }
    }
}

impl Example for Organization {
    fn example() -> Self {
        Organization {
            id: "7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f".into(),
            name: "Springfield Elementary".into(),
            app_access: vec![AppAccess {
                client_id: "partners-portal".into(),
                is_enabled: true,
            }],
            app_roles: vec!["member".into()],
            created_at: 1_750_000_000,
        }
    }
}

/// One app's enablement for an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AppAccess {
    /// The app's client id.
    pub client_id: String,
    /// Enabled.
    #[oai(rename = "isEnabled")]
    pub is_enabled: bool,
}

/// An organization's name.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct OrganizationInput {
    /// Name.
    pub name: String,
}

/// A change to an organization: fields left out stay as they are.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct OrganizationUpdate {
    /// New name.
    pub name: Option<String>,
    /// The roles an enabled app may give when it invites (replaces the set; `[]`: apps invite no one).
    pub app_roles: Option<Vec<String>>,
}

impl From<OrganizationUpdate> for OrganizationPatch {
    fn from(u: OrganizationUpdate) -> Self {
        OrganizationPatch {
            name: u.name,
            app_roles: u.app_roles.map(|r| r.into_iter().collect()),
        }
    }
}

impl Example for OrganizationUpdate {
    fn example() -> Self {
        OrganizationUpdate {
            name: None,
            app_roles: Some(vec!["member".into(), "student".into()]),
        }
    }
}

/// Enable or disable an app for an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct AppAccessInput {
    /// Enabled.
    #[oai(rename = "isEnabled")]
    pub is_enabled: bool,
}

/// A role in an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct RoleInput {
    /// e.g. `admin`, `teacher`, `member`.
    pub role: String,
}

/// A member of an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Member {
    /// The user.
    pub user: User,
    /// Role in this organization.
    pub role: String,
}

/// One user to invite (Calimatic seed §8).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct InviteInput {
    /// Email (the username of a new user).
    pub email: String,
    /// Given name.
    #[oai(rename = "firstName")]
    pub first_name: Option<String>,
    /// Family name.
    #[oai(rename = "lastName")]
    pub last_name: Option<String>,
    /// Role (default `member`).
    pub role: Option<String>,
    /// Apps to licence (only the organization's enabled apps are assigned).
    pub applications: Option<Vec<String>>,
}

impl Example for InviteInput {
    fn example() -> Self {
        InviteInput {
            email: "user@example.com".into(),
            first_name: Some("Jane".into()),
            last_name: Some("Smith".into()),
            role: Some("member".into()),
            applications: None,
        }
    }
}

impl From<InviteInput> for Invite {
    fn from(i: InviteInput) -> Self {
        Invite {
            email: i.email,
            first_name: i.first_name,
            last_name: i.last_name,
            role: i.role,
            applications: i.applications,
        }
    }
}

/// The result of one invite.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Invited {
    /// The user's id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// `created` (new user, no password yet), `added` (an existing user of the tenant joined the
    /// organization) or `existing` (an app invited someone already a member: nothing changed).
    pub status: String,
    /// Licences this invite assigned.
    pub licenses: Vec<String>,
    /// For a created user: how their activation link went out.
    pub activation: Option<ActivationBody>,
}

impl Invited {
    /// The answer for `o`, whose activation link (if any) went out as `activation` says.
    pub fn of(o: InviteOutcome, activation: Option<ActivationBody>) -> Self {
        Invited {
            user_id: o.user.id,
            email: o.user.profile.email.unwrap_or_default(),
            status: match o.status {
                InviteStatus::Created => "created",
                InviteStatus::Added => "added",
                InviteStatus::Existing => "existing",
            }
            .into(),
            licenses: o.licenses,
            activation,
        }
    }
}

/// How an activation link (an invited user's way to set a password) went out.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct ActivationBody {
    /// `email`: mailed to the user; `email_failed`: the SMTP server refused or did not answer
    /// (after one such failure the rest of the call's mails are not tried); `link`: no SMTP
    /// configured, `link` is for an administrator to pass on; `pending`: an app
    /// invited and no mail could go out (an administrator issues the link with
    /// `POST /admin/v1/tenants/{tenant}/users/{id}/activation`).
    pub delivery: String,
    /// The link itself: only in an administrator's answer when it was not mailed. Single use.
    pub link: Option<String>,
    /// When the link stops working (seconds).
    pub expires_at: u64,
}

impl Example for ActivationBody {
    fn example() -> Self {
        ActivationBody {
            delivery: "email".into(),
            link: None,
            expires_at: 1_750_604_800,
        }
    }
}

/// Assign an app's licence to some members of an organization and withdraw it from others.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct LicensesInput {
    /// User ids to assign the licence to (the app must be enabled for the organization).
    #[oai(default)]
    pub assign: Vec<String>,
    /// User ids to withdraw it from.
    #[oai(default)]
    pub withdraw: Vec<String>,
}

impl Example for LicensesInput {
    fn example() -> Self {
        LicensesInput {
            assign: vec!["01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into()],
            withdraw: vec![],
        }
    }
}

/// One user's row of a bulk licence call.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LicenseRowBody {
    /// The user.
    pub user_id: String,
    /// `assign` or `withdraw`.
    pub action: String,
    /// Done.
    pub success: bool,
    /// Error code when not done (`not_found`: no such user, or not a member).
    pub error: Option<String>,
    /// Why not.
    pub error_description: Option<String>,
}

/// What a bulk licence call did.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct LicensesReport {
    /// Rows done.
    pub succeeded: u32,
    /// Rows not done.
    pub failed: u32,
    /// Each row, assignments first, in the order given.
    pub results: Vec<LicenseRowBody>,
}

impl From<Vec<engine::admin::LicenseRow>> for LicensesReport {
    fn from(rows: Vec<engine::admin::LicenseRow>) -> Self {
        let results: Vec<LicenseRowBody> = rows
            .into_iter()
            .map(|r| LicenseRowBody {
                user_id: r.user_id,
                action: match r.action {
                    engine::admin::LicenseAction::Assign => "assign",
                    engine::admin::LicenseAction::Withdraw => "withdraw",
                }
                .into(),
                success: r.result.is_ok(),
                error: r.result.as_ref().err().map(|e| e.code().as_str().into()),
                error_description: r.result.as_ref().err().map(|e| e.description().into()),
            })
            .collect();
        let succeeded = results.iter().filter(|r| r.success).count() as u32;
        LicensesReport {
            succeeded,
            failed: results.len() as u32 - succeeded,
            results,
        }
    }
}

impl Example for LicensesReport {
    fn example() -> Self {
        LicensesReport {
            succeeded: 1,
            failed: 0,
            results: vec![LicenseRowBody {
                user_id: "01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into(),
                action: "assign".into(),
                success: true,
                error: None,
                error_description: None,
            }],
        }
    }
}

/// Users to invite.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct BulkInviteInput {
    /// One entry per user.
    pub users: Vec<InviteInput>,
}

/// One row of a bulk invite.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BulkInviteRow {
    /// The row's email.
    pub email: String,
    /// Whether the row was applied (a failed row changed nothing).
    pub success: bool,
    /// The result, when applied.
    #[oai(skip_serializing_if_is_none)]
    pub result: Option<Invited>,
    /// The error code, when not.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
    /// The error detail, when not.
    #[oai(skip_serializing_if_is_none)]
    pub error_description: Option<String>,
}

/// A bulk invite's report.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct BulkInviteReport {
    /// Rows applied.
    pub succeeded: u32,
    /// Rows refused.
    pub failed: u32,
    /// One entry per input row, in order.
    pub results: Vec<BulkInviteRow>,
}

page!(OrganizationPage, Organization, "A page of organizations.");

impl Example for OrganizationInput {
    fn example() -> Self {
        OrganizationInput {
            name: "Springfield Elementary".into(),
        }
    }
}

impl Example for AppAccessInput {
    fn example() -> Self {
        AppAccessInput { is_enabled: true }
    }
}

impl Example for RoleInput {
    fn example() -> Self {
        RoleInput { role: "teacher".into() }
    }
}

impl Example for Member {
    fn example() -> Self {
        Member {
            user: User::example(),
            role: "teacher".into(),
        }
    }
}

impl Example for Invited {
    fn example() -> Self {
        Invited {
            user_id: "01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into(),
            email: "user@example.com".into(),
            status: "created".into(),
            licenses: vec!["partners-portal".into()],
            activation: Some(ActivationBody::example()),
        }
    }
}

impl Example for BulkInviteInput {
    fn example() -> Self {
        BulkInviteInput {
            users: vec![
                InviteInput::example(),
                InviteInput {
                    email: "user2@example.com".into(),
                    first_name: Some("User".into()),
                    last_name: Some("Two".into()),
                    role: Some("member".into()),
                    applications: None,
                },
            ],
        }
    }
}

impl Example for BulkInviteReport {
    fn example() -> Self {
        BulkInviteReport {
            succeeded: 1,
            failed: 1,
            results: vec![
                BulkInviteRow {
                    email: "user@example.com".into(),
                    success: true,
                    result: Some(Invited::example()),
                    error: None,
                    error_description: None,
                },
                BulkInviteRow {
                    email: "broken".into(),
                    success: false,
                    result: None,
                    error: Some("invalid_request".into()),
                    error_description: Some("email is not an email address".into()),
                },
            ],
        }
    }
}
