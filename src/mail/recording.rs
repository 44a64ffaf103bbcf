//! Mailers for tests and demos.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicU64, Ordering},
};

use super::{MailError, Mailer, OutgoingEmail};

/// Keeps every mail it is given; clones share the same list.
///
/// `Debug` shows how many mails it holds, not the mails: their bodies hold acceptance links
/// (spec: INV-6).
#[derive(Clone, Default)]
pub struct RecordingMailer(Arc<Mutex<Vec<OutgoingEmail>>>);

impl std::fmt::Debug for RecordingMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sent = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("RecordingMailer")
            .field("sent", &sent)
            .finish()
    }
}

impl RecordingMailer {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every mail sent so far, in order.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes the mails sent so far, leaving the list empty.
    pub fn take(&self) -> Vec<OutgoingEmail> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(email.clone());
        Ok(())
    }
}

/// How a [`FailingMailer`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The first `n` sends fail transiently, then mail goes through.
    TransientFirst(u64),
    /// Every send fails transiently (a server that stays down).
    AlwaysTransient,
    /// Every send fails permanently.
    AlwaysPermanent,
}

/// Fails as configured, and records what it lets through.
#[derive(Debug, Clone)]
pub struct FailingMailer {
    failure: Failure,
    calls: Arc<AtomicU64>,
    delivered: RecordingMailer,
}

impl FailingMailer {
    /// Fails the first `n` sends with a transient error.
    pub fn transient_first(n: u64) -> Self {
        Self::new(Failure::TransientFirst(n))
    }

    /// Fails every send with a transient error.
    pub fn always_transient() -> Self {
        Self::new(Failure::AlwaysTransient)
    }

    /// Fails every send with a permanent error.
    pub fn always_permanent() -> Self {
        Self::new(Failure::AlwaysPermanent)
    }

    /// A mailer failing as `failure` says.
    pub fn new(failure: Failure) -> Self {
        Self {
            failure,
            calls: Arc::default(),
            delivered: RecordingMailer::new(),
        }
    }

    /// The mail that went through.
    pub fn delivered(&self) -> Vec<OutgoingEmail> {
        self.delivered.sent()
    }

    /// How many sends were attempted.
    pub fn attempts(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Mailer for FailingMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.failure {
            Failure::TransientFirst(n) if call < n => Err(MailError::transient(
                "421 service not available (simulated)",
            )),
            Failure::AlwaysTransient => Err(MailError::transient("connection refused (simulated)")),
            Failure::AlwaysPermanent => {
                Err(MailError::permanent("550 mailbox unavailable (simulated)"))
            }
            Failure::TransientFirst(_) => self.delivered.send(email).await,
        }
    }
}
