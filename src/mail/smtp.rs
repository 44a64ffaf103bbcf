//! `SmtpMailer`: real SMTP through lettre (feature `smtp`; TLS with `smtp-rustls`).

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        PoolConfig,
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

use super::{MailError, Mailer, OutgoingEmail};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// No TLS: for a relay on the same host or a trusted network, and for tests.
    #[default]
    Plain,
    /// Upgrade with STARTTLS, which must succeed (usually port 587). Needs `smtp-rustls`.
    StartTls,
    /// TLS from the first byte (usually port 465). Needs `smtp-rustls`.
    Tls,
}

/// Settings of an [`SmtpMailer`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SmtpConfig {
    /// The server's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, String)>,
    /// How long one SMTP command may take before the send fails (transiently).
    pub timeout: Duration,
    /// The sender, for example `Northwind Learning <no-reply@learning.example>`.
    pub from: String,
    /// Connections kept open between sends.
    pub max_connections: u32,
}

impl SmtpConfig {
    /// Plain SMTP to `host:port`, sending as `from`, with a 30-second timeout.
    pub fn new(host: impl Into<String>, port: u16, from: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            security: SmtpSecurity::Plain,
            credentials: None,
            timeout: Duration::from_secs(30),
            from: from.into(),
            max_connections: 4,
        }
    }

    /// Sets how the connection is secured.
    pub fn with_security(mut self, security: SmtpSecurity) -> Self {
        self.security = security;
        self
    }

    /// Sets the user name and password.
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Sets the command timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how many connections are kept open.
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }
}

/// Why an [`SmtpMailer`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpConfigError {
    /// The sender is not a valid mailbox.
    #[error("the sender `{from}` is not a valid mailbox; use `Name <address@example.com>`")]
    InvalidFrom {
        /// What was given.
        from: String,
    },
    /// TLS was asked for but the crate was built without `smtp-rustls`.
    #[error("TLS needs orgroster's `smtp-rustls` feature")]
    TlsUnavailable,
    /// The TLS settings were refused.
    #[error("the TLS settings for `{host}` were refused")]
    Tls {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

/// Sends mail over SMTP, reusing connections from a small pool.
///
/// Failures are classified for the outbox: connection refused, time-outs and 4xx replies are
/// [`MailError::Transient`] (retried later); 5xx replies and refused recipients are
/// [`MailError::Permanent`] (recorded as failed). Each mail carries the outbox row's stable
/// `Message-ID`, and a text and an HTML alternative.
///
/// # Examples
/// ```no_run
/// use orgroster::mail::{SmtpConfig, SmtpMailer};
/// let mailer = SmtpMailer::new(SmtpConfig::new("127.0.0.1", 2525, "Learning <no-reply@example.com>"))?;
/// # Ok::<(), orgroster::mail::SmtpConfigError>(())
/// ```
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    target: String,
}

impl std::fmt::Debug for SmtpMailer {
    // Credentials live inside the transport; print only where mail goes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.target)
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpMailer {
    /// A mailer for `config`. Connects lazily, on the first send.
    ///
    /// # Errors
    /// [`SmtpConfigError`] for an invalid sender or TLS settings.
    pub fn new(config: SmtpConfig) -> Result<Self, SmtpConfigError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| SmtpConfigError::InvalidFrom {
                from: config.from.clone(),
            })?;
        let tls = match config.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls | SmtpSecurity::Tls => {
                if !cfg!(feature = "smtp-rustls") {
                    return Err(SmtpConfigError::TlsUnavailable);
                }
                let params = TlsParameters::new(config.host.clone()).map_err(|source| {
                    SmtpConfigError::Tls {
                        host: config.host.clone(),
                        source,
                    }
                })?;
                if config.security == SmtpSecurity::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
                .port(config.port)
                .timeout(Some(config.timeout))
                .tls(tls)
                .pool_config(PoolConfig::new().max_size(config.max_connections));
        if let Some((user, password)) = config.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            target: format!("{}:{}", config.host, config.port),
        })
    }

    fn message(&self, email: &OutgoingEmail) -> Result<Message, MailError> {
        let to: Mailbox = email
            .to
            .as_str()
            .parse()
            .map_err(|e| MailError::Permanent {
                reason: format!("invalid recipient {}", email.to),
                source: Some(Box::new(e)),
            })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError::Permanent {
                reason: "the message could not be built".to_owned(),
                source: Some(Box::new(e)),
            })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = self.message(email)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => {
                let reason = format!("{} refused the mail: {e}", self.target);
                Err(MailError::Permanent {
                    reason,
                    source: Some(Box::new(e)),
                })
            }
            Err(e) => {
                // 4xx replies, refused connections, time-outs, broken TLS: try again later.
                let reason = format!("{} is not accepting mail now: {e}", self.target);
                Err(MailError::Transient {
                    reason,
                    source: Some(Box::new(e)),
                })
            }
        }
    }
}
