//! `SmtpMailer`: real SMTP through lettre (feature `smtp`; TLS with `smtp-rustls`).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

#[cfg(feature = "smtp-rustls")]
use lettre::transport::smtp::client::TlsParameters;
use lettre::{
    Message,
    address::Envelope,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        Error as SmtpError,
        authentication::{Credentials, DEFAULT_MECHANISMS},
        client::AsyncSmtpConnection,
        extension::ClientId,
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
    /// How long sending one mail may take, from connecting to the server's last reply, before
    /// the send fails (transiently) and its connection is closed.
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

    /// Sets how long sending one mail may take.
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
/// `Message-ID`, and a text and an HTML alternative. A subject or `Message-ID` holding a
/// control character (which only a host's own [`MailTemplates`](super::MailTemplates) could
/// produce) is refused, never passed into a header.
///
/// A send owns its connection from start to end: one that fails, times out or is cancelled
/// (its future dropped) closes the connection instead of returning it to the pool, so the
/// next mail never reads the replies meant for an earlier one. Sends one after another reuse
/// one connection; concurrent sends open one each, and up to
/// [`SmtpConfig::max_connections`] stay open between sends.
///
/// # Examples
/// ```no_run
/// use orgroster::{SmtpConfig, SmtpMailer};
/// let mailer = SmtpMailer::new(SmtpConfig::new("127.0.0.1", 2525, "Learning <no-reply@example.com>"))?;
/// # Ok::<(), orgroster::SmtpConfigError>(())
/// ```
#[derive(Clone)]
pub struct SmtpMailer {
    inner: Arc<Inner>,
}

/// How connections are secured, as resolved from [`SmtpSecurity`].
enum Secured {
    Plain,
    #[cfg(feature = "smtp-rustls")]
    Implicit(TlsParameters),
    #[cfg(feature = "smtp-rustls")]
    StartTls(TlsParameters),
}

/// A connection kept open between sends.
struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

struct Inner {
    host: String,
    port: u16,
    // Only `Secured::Plain` exists without `smtp-rustls`.
    #[cfg_attr(not(feature = "smtp-rustls"), allow(dead_code))]
    tls: Secured,
    credentials: Option<Credentials>,
    timeout: Duration,
    max_idle: usize,
    /// Never held across an await.
    idle: Mutex<Vec<Idle>>,
    from: Mailbox,
    target: String,
}

/// An idle connection older than this is closed rather than reused: servers drop idle
/// clients after a few minutes.
const MAX_IDLE: Duration = Duration::from_secs(60);

impl std::fmt::Debug for SmtpMailer {
    // Credentials live inside; print only where mail goes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.inner.target)
            .field("from", &self.inner.from)
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
            SmtpSecurity::Plain => Secured::Plain,
            #[cfg(feature = "smtp-rustls")]
            security @ (SmtpSecurity::StartTls | SmtpSecurity::Tls) => {
                let params = TlsParameters::new(config.host.clone()).map_err(|source| {
                    SmtpConfigError::Tls {
                        host: config.host.clone(),
                        source,
                    }
                })?;
                if security == SmtpSecurity::Tls {
                    Secured::Implicit(params)
                } else {
                    Secured::StartTls(params)
                }
            }
            #[cfg(not(feature = "smtp-rustls"))]
            SmtpSecurity::StartTls | SmtpSecurity::Tls => {
                return Err(SmtpConfigError::TlsUnavailable);
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                target: format!("{}:{}", config.host, config.port),
                host: config.host,
                port: config.port,
                tls,
                credentials: config
                    .credentials
                    .map(|(user, password)| Credentials::new(user, password)),
                timeout: config.timeout,
                max_idle: usize::try_from(config.max_connections).unwrap_or(usize::MAX),
                idle: Mutex::new(Vec::new()),
                from,
            }),
        })
    }

    fn message(&self, email: &OutgoingEmail) -> Result<Message, MailError> {
        // The default templates cannot produce these; a host's own could (spec: ERR-3).
        for (field, value) in [
            ("subject", &email.subject),
            ("Message-ID", &email.message_id),
        ] {
            if value.chars().any(char::is_control) {
                return Err(MailError::permanent(format!(
                    "the {field} holds a line break or another control character; \
                     mail templates must not put them into headers"
                )));
            }
        }
        let to: Mailbox = email
            .to
            .as_str()
            .parse()
            .map_err(|e| MailError::Permanent {
                reason: format!("invalid recipient {}", email.to),
                source: Some(Box::new(e)),
            })?;
        Message::builder()
            .from(self.inner.from.clone())
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

impl Inner {
    /// One SMTP transaction on a pooled or new connection. The connection is a local of this
    /// future: if the future is dropped half-way, the connection goes with it.
    async fn deliver(&self, envelope: &Envelope, message: &[u8]) -> Result<(), MailError> {
        let mut connection = match self.reusable().await {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        // On an error reply lettre sends QUIT and closes the connection itself.
        connection
            .send(envelope, message)
            .await
            .map_err(|e| self.failure(e))?;
        self.park(connection);
        Ok(())
    }

    /// Classifies what lettre reports: 5xx replies are permanent; 4xx replies, broken
    /// connections and TLS failures are worth a later attempt.
    fn failure(&self, e: SmtpError) -> MailError {
        let target = &self.target;
        if e.is_permanent() {
            MailError::Permanent {
                reason: format!("{target} refused the mail: {e}"),
                source: Some(Box::new(e)),
            }
        } else {
            MailError::Transient {
                reason: format!("{target} is not accepting mail now: {e}"),
                source: Some(Box::new(e)),
            }
        }
    }

    /// An idle connection that still answers `NOOP`, if there is one.
    async fn reusable(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()?;
            if idle.since.elapsed() > MAX_IDLE {
                continue;
            }
            let mut connection = idle.connection;
            if connection.test_connected().await {
                return Some(connection);
            }
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let hello = ClientId::default();
        #[cfg(feature = "smtp-rustls")]
        if let Secured::Implicit(params) = &self.tls {
            // lettre opens implicitly encrypted connections itself (without TCP_NODELAY).
            let connection = AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &hello,
                Some(params.clone()),
                None,
            )
            .await
            .map_err(|e| self.failure(e))?;
            return self.authenticate(connection).await;
        }
        let stream = self.open_stream().await?;
        #[cfg_attr(not(feature = "smtp-rustls"), allow(unused_mut))]
        let mut connection = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
            .await
            .map_err(|e| self.failure(e))?;
        #[cfg(feature = "smtp-rustls")]
        if let Secured::StartTls(params) = &self.tls {
            connection
                .starttls(params.clone(), &hello)
                .await
                .map_err(|e| self.failure(e))?;
        }
        self.authenticate(connection).await
    }

    /// The TCP connection under a plain or STARTTLS session.
    async fn open_stream(&self) -> Result<tokio::net::TcpStream, MailError> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| MailError::Transient {
                reason: format!("{} is not accepting connections now: {e}", self.target),
                source: Some(Box::new(e)),
            })?;
        // lettre writes a message and the `<CRLF>.<CRLF>` that ends it separately: with
        // Nagle's algorithm the second write waits for the server to acknowledge the first,
        // which it delays (40 ms on Linux) — on every mail. Without the option mail is only
        // slower, so a failure to set it is ignored.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    async fn authenticate(
        &self,
        mut connection: AsyncSmtpConnection,
    ) -> Result<AsyncSmtpConnection, MailError> {
        if let Some(credentials) = &self.credentials {
            connection
                .auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(|e| self.failure(e))?;
        }
        Ok(connection)
    }

    /// Keeps a connection that finished its transaction, if there is room.
    fn park(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(Idle {
                connection,
                since: Instant::now(),
            });
        }
        // Otherwise it is dropped here, which closes it.
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = self.message(email)?;
        let inner = &*self.inner;
        let formatted = message.formatted();
        let sending = inner.deliver(message.envelope(), &formatted);
        match tokio::time::timeout(inner.timeout, sending).await {
            Ok(result) => result,
            Err(_) => Err(MailError::transient(format!(
                "{} did not complete the send within {:?}",
                inner.target, inner.timeout
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mail's last line goes out at once instead of waiting for the server's delayed
    /// acknowledgement of the body (40 ms a mail on Linux): the connection has Nagle's
    /// algorithm off. (Checked here rather than by timing deliveries, which a busy machine
    /// would make flaky.)
    #[tokio::test]
    async fn connections_to_the_server_send_without_waiting_for_acknowledgements() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mailer =
            SmtpMailer::new(SmtpConfig::new("127.0.0.1", port, "no-reply@example.com")).unwrap();
        let stream = mailer.inner.open_stream().await.unwrap();
        assert!(stream.nodelay().unwrap());
    }
}
