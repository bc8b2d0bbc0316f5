//! Outgoing mail: the invitation with its activation link, over SMTP (lettre). Configured by
//! `--smtp-url` (`smtp://host:port` plain, `smtp://host:port?tls=required` STARTTLS,
//! `smtps://host:port` implicit TLS, credentials as `smtp://user:pass@host`) and `--smtp-from`.
//! Without it no mail is sent, and an administrator's invite answer carries the link instead.

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long one delivery may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// An SMTP relay and the sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// What an invitation mail says, per tenant.
pub struct Invitation<'a> {
    /// The tenant's display name (its branding).
    pub brand_name: &'a str,
    /// The organization the user was invited into.
    pub organization: &'a str,
    /// Where to set the password.
    pub link: &'a str,
    /// How many days the link stays usable.
    pub valid_days: u64,
}

impl Mailer {
    /// A mailer for `url` sending as `from`; a bad URL or address is a start-up error.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("--smtp-url: {e}"))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from.parse().map_err(|e| format!("--smtp-from: {e}"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends `invitation` to `to`; the error says why it was not delivered.
    pub async fn send_invitation(&self, to: &str, invitation: &Invitation<'_>) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let from = Mailbox::new(Some(invitation.brand_name.to_string()), self.from.email.clone());
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(format!(
                "You are invited to {} on {}",
                invitation.organization, invitation.brand_name
            ))
            .header(ContentType::TEXT_PLAIN)
            .body(invitation_text(invitation))
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message))
            .await
            .map_err(|_| "the SMTP server did not answer in time".to_string())?
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The plain-text body of an invitation.
fn invitation_text(i: &Invitation<'_>) -> String {
    format!(
        "Hello,\n\nYou have been invited to {org} on {brand}.\n\n\
         Choose your password here to activate your account (the link works once, for {days} days):\n\n\
         {link}\n\n\
         If you did not expect this invitation, ignore this message.\n\n-- {brand}\n",
        org = i.organization,
        brand = i.brand_name,
        days = i.valid_days,
        link = i.link,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_at_start_and_the_text_carries_the_link() {
        assert!(Mailer::new("ftp://mail.example", "a@b.example").is_err());
        assert!(Mailer::new("smtp://127.0.0.1:2525", "not an address").is_err());
        assert!(Mailer::new("smtp://127.0.0.1:2525", "Acme <no-reply@acme.example>").is_ok());
        let text = invitation_text(&Invitation {
            brand_name: "Acme",
            organization: "Springfield",
            link: "https://id.example/acme/activate?token=u.s",
            valid_days: 7,
        });
        assert!(text.contains("https://id.example/acme/activate?token=u.s") && text.contains("Springfield on Acme"));
    }
}
