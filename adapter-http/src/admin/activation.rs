//! Sending an activation link: by mail when `--smtp-url` is set, else handed back to an
//! administrator (never to an app), as the answer's `activation` says.

use super::models::ActivationBody;
use crate::mail::Invitation;
use crate::state::Shared;
use engine::activation::ActivationToken;

/// The page where the link's holder sets a password.
pub fn activation_link(state: &Shared, tenant: &str, link: &ActivationToken) -> String {
    format!("{}/activate?token={}", state.engine.issuer(tenant), link.token)
}

/// Mails `link` to `to` (the tenant's name and `organization` in the words) or, without SMTP,
/// returns it to an administrator; reports which. With `mail_down` (an earlier mail of the same
/// call failed) it does not try again: a bulk invite never waits out one timeout per row.
pub async fn send_activation(
    state: &Shared,
    tenant: &str,
    organization: &str,
    to: &str,
    link: &ActivationToken,
    to_admin: bool,
    mail_down: bool,
) -> ActivationBody {
    let url = activation_link(state, tenant, link);
    let valid_days = state.engine.config().activation_ttl.div_ceil(86_400);
    let delivery = match &state.mailer {
        Some(_) if mail_down => "email_failed",
        Some(mailer) => {
            let slug = tenant.to_string();
            let brand = state
                .engine
                .call(move |e, _| e.tenant(&slug).ok().flatten())
                .await
                .map(|t| t.branding.display_name.unwrap_or(t.display_name))
                .unwrap_or_else(|| tenant.to_string());
            let organization = if organization.is_empty() {
                brand.as_str()
            } else {
                organization
            };
            let invitation = Invitation {
                brand_name: &brand,
                organization,
                link: &url,
                valid_days,
            };
            match mailer.send_invitation(to, &invitation).await {
                Ok(()) => "email",
                Err(e) => {
                    tracing::warn!(tenant, error = %e, "invitation mail not delivered");
                    "email_failed"
                }
            }
        }
        None if to_admin => "link",
        None => "pending",
    };
    ActivationBody {
        delivery: delivery.into(),
        link: (to_admin && delivery != "email").then_some(url),
        expires_at: link.expires_at.0,
    }
}
