//! The host's veto: hooks that run before an invitation or an acceptance is decided and may
//! refuse it with a reason the caller sees (spec: MEM-3). They run outside any database
//! transaction, after the command's reads and before its decision; a command that meets a
//! concurrent change and decides again asks them again.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    task::{Context, Poll},
};

use super::{Actor, Roster};
use crate::{
    domain::{
        email::EmailAddress, invitation::Invitation, organization::Organization, role::Role,
        team::Team,
    },
    error::{Error, Result},
};

/// An invitation about to be decided, as [`Hooks::before_invite`] sees it: one per address,
/// each address of a bulk paste included.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct InviteCheck<'a> {
    /// The organization.
    pub organization: &'a Organization,
    /// Who invites; `None` for the back office inviting a first administrator (ORG-5).
    pub actor: Option<&'a Actor>,
    /// The address invited.
    pub email: &'a EmailAddress,
    /// The role it grants.
    pub role: Role,
    /// The team it joins.
    pub team: Option<&'a Team>,
}

/// An acceptance about to be decided, as [`Hooks::before_accept`] sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AcceptCheck<'a> {
    /// The organization.
    pub organization: &'a Organization,
    /// Who accepts, signed in.
    pub actor: &'a Actor,
    /// The invitation accepted, as stored.
    pub invitation: &'a Invitation,
}

/// A host's refusal, with the reason the caller gets in [`Error::Vetoed`] (or, for one
/// address of a bulk paste, in that line's rejection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veto {
    reason: String,
}

impl Veto {
    /// A refusal saying `reason`, in words the person refused can act on.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// What a host checks before orgroster decides an invitation or an acceptance (spec: MEM-3).
/// Each method answers `Ok(())` by default: a host implements the ones it needs and
/// registers them with [`RosterBuilder::hooks`](super::RosterBuilder::hooks).
///
/// A hook that panics, or does not answer within
/// [`RosterConfig::hook_timeout`](super::RosterConfig::hook_timeout) (with the
/// `runtime-tokio` feature), refuses the command with [`Error::HookFailed`]; nothing
/// changes.
///
/// # Examples
/// Only addresses of the organization's own email domains:
/// ```
/// use orgroster::{Hooks, InviteCheck, Veto};
///
/// #[derive(Debug)]
/// struct OwnDomains(Vec<String>);
///
/// #[async_trait::async_trait]
/// impl Hooks for OwnDomains {
///     async fn before_invite(&self, check: &InviteCheck<'_>) -> Result<(), Veto> {
///         let domain = check.email.key().rsplit('@').next().unwrap_or_default();
///         if self.0.iter().any(|own| own == domain) {
///             Ok(())
///         } else {
///             Err(Veto::new(format!("{domain} is not one of the organization's domains")))
///         }
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Hooks: Send + Sync + std::fmt::Debug + 'static {
    /// Before an invitation to one address is decided.
    ///
    /// # Errors
    /// A [`Veto`] refuses that invitation.
    async fn before_invite(&self, check: &InviteCheck<'_>) -> Result<(), Veto> {
        let _ = check;
        Ok(())
    }

    /// Before an acceptance is decided.
    ///
    /// # Errors
    /// A [`Veto`] refuses it; the invitation stays pending.
    async fn before_accept(&self, check: &AcceptCheck<'_>) -> Result<(), Veto> {
        let _ = check;
        Ok(())
    }
}

/// Hooks shared with the rest of the host, as they are.
#[async_trait::async_trait]
impl<H: Hooks + ?Sized> Hooks for std::sync::Arc<H> {
    async fn before_invite(&self, check: &InviteCheck<'_>) -> Result<(), Veto> {
        (**self).before_invite(check).await
    }

    async fn before_accept(&self, check: &AcceptCheck<'_>) -> Result<(), Veto> {
        (**self).before_accept(check).await
    }
}

/// A hook's future, its panics caught: a host's bug refuses one command, never unwinds
/// through the roster.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// What [`Hooks`] methods return.
type HookFuture<'a> = Pin<Box<dyn Future<Output = std::result::Result<(), Veto>> + Send + 'a>>;

impl Roster {
    /// Asks a hook, within the configured time, its panics caught.
    ///
    /// # Errors
    /// [`Error::Vetoed`] with the host's reason; [`Error::HookFailed`].
    pub(super) async fn ask(&self, hook: HookFuture<'_>) -> Result<()> {
        let answer = CatchUnwind(hook);
        #[cfg(feature = "runtime-tokio")]
        let Ok(answer) = tokio::time::timeout(self.config.hook_timeout, answer).await else {
            return Err(Error::HookFailed {
                reason: "it did not answer in time".to_owned(),
            });
        };
        #[cfg(not(feature = "runtime-tokio"))]
        let answer = answer.await;
        match answer {
            Ok(Ok(())) => Ok(()),
            Ok(Err(veto)) => Err(Error::Vetoed {
                reason: veto.reason,
            }),
            Err(_) => Err(Error::HookFailed {
                reason: "it panicked".to_owned(),
            }),
        }
    }

    /// [`Hooks::before_invite`] for `check`, when the host registered hooks.
    pub(super) async fn vet_invite(&self, check: InviteCheck<'_>) -> Result<()> {
        match &self.hooks {
            Some(hooks) => self.ask(hooks.before_invite(&check)).await,
            None => Ok(()),
        }
    }

    /// [`Hooks::before_accept`] for `check`, when the host registered hooks.
    pub(super) async fn vet_accept(&self, check: AcceptCheck<'_>) -> Result<()> {
        match &self.hooks {
            Some(hooks) => self.ask(hooks.before_accept(&check)).await,
            None => Ok(()),
        }
    }
}
