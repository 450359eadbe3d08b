//! Alert email over SMTP (lettre): plain, STARTTLS or implicit TLS, with optional login.

use std::time::Duration;

use berth_types::FieldError;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as Protection, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain text (a relay on loopback or a trusted network).
    None,
    /// Plain, upgraded with STARTTLS (port 587); refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The checked `[alerts.smtp]` settings.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    /// Username and password.
    pub credentials: Option<(String, String)>,
    pub from: String,
    /// PEM certificates trusted besides the public roots (a private CA or a self-signed relay).
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|c| &c.0))
            .field("from", &self.from)
            .field("ca_pem", &self.ca_pem.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("building the message: {0}")]
    Message(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// Parses one address; the error names `field`.
pub fn mailbox(raw: &str, field: &str) -> Result<Mailbox, FieldError> {
    raw.parse()
        .map_err(|e| FieldError::new(field, format!("{raw:?} is not an email address ({e})")))
}

impl SmtpSettings {
    /// Errors name the settings key (`from`, `host`).
    pub fn check(&self) -> Result<(), FieldError> {
        mailbox(&self.from, "from")?;
        if self.host.is_empty() {
            return Err(FieldError::new("host", "empty"));
        }
        if self.tls != Tls::None {
            self.tls_parameters()
                .map_err(|e| FieldError::new("ca_file", format!("not usable: {e}")))?;
        }
        Ok(())
    }

    /// The server name to verify and the roots to trust: the public (webpki) roots, plus
    /// `ca_pem`'s certificates.
    fn tls_parameters(&self) -> Result<TlsParameters, EmailError> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.ca_pem {
            builder = builder.add_root_certificate(Certificate::from_pem(pem)?);
        }
        Ok(builder.build_rustls()?)
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host);
        let builder = match self.tls {
            Tls::None => builder,
            Tls::StartTls => builder.tls(Protection::Required(self.tls_parameters()?)),
            Tls::Tls => builder.tls(Protection::Wrapper(self.tls_parameters()?)),
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(15)));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }

    /// Sends one plain-text message to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), EmailError> {
        let message = Message::builder()
            .from(mailbox(&self.from, "from").map_err(EmailError::Invalid)?)
            .to(mailbox(to, "email").map_err(EmailError::Invalid)?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        self.transport()?.send(message).await?;
        Ok(())
    }
}
