//! Where commands that lost a race for an organization wait their turn.
//!
//! Commands are optimistic: they read, decide, and commit with a version check, and when
//! another commit got there first they decide again. Most commands touch their
//! organization's version (seat caps, the last administrator), so under load every command
//! in one organization races every other. Retrying blindly, a command can lose every round
//! to fresh ones: 8 tasks inviting into one organization saw commands give up after 16
//! lost rounds. So a command that lost takes its organization's turnstile, a fair (FIFO)
//! async lock, for its next attempts; and a fresh command that finds others queued there
//! queues behind them instead of overtaking. Within a process, that bounds the rounds a
//! command can lose by the commands ahead of it; across processes, the version checks still
//! decide and the retries remain.
//!
//! `tokio::sync::Mutex` is runtime-agnostic: no tokio runtime is needed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::OwnedMutexGuard;

use crate::domain::ids::OrganizationId;

/// One fair lock per organization, present only while some command holds or awaits it.
#[derive(Debug, Default)]
pub(crate) struct Turnstiles {
    organizations: Mutex<HashMap<OrganizationId, Arc<tokio::sync::Mutex<()>>>>,
}

/// A command's turn at its organization's turnstile; the next in line goes when it drops.
#[derive(Debug)]
pub(crate) struct Turn {
    organization: OrganizationId,
    guard: Option<OwnedMutexGuard<()>>,
    turnstiles: Arc<Turnstiles>,
}

impl Turnstiles {
    /// Whether commands of `organization` hold or await its turnstile.
    pub(crate) fn busy(&self, organization: OrganizationId) -> bool {
        self.organizations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&organization)
    }

    /// Waits for `organization`'s turn, behind every command already waiting.
    pub(crate) async fn wait(self: &Arc<Self>, organization: OrganizationId) -> Turn {
        let lock = Arc::clone(
            self.organizations
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(organization)
                .or_default(),
        );
        // Dropped while waiting (the command was cancelled), the clone of the lock stays in
        // the map until the next `Turn` of the organization ends: harmless, and removed then.
        let guard = lock.lock_owned().await;
        Turn {
            organization,
            guard: Some(guard),
            turnstiles: Arc::clone(self),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut organizations = self
            .turnstiles
            .organizations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map's own reference left: nobody holds or awaits it.
        if organizations
            .get(&self.organization)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            organizations.remove(&self.organization);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    #[test]
    fn a_turnstile_exists_only_while_someone_holds_it() {
        block_on(async {
            let turnstiles = Arc::new(Turnstiles::default());
            let org = OrganizationId::new();
            assert!(!turnstiles.busy(org));
            let turn = turnstiles.wait(org).await;
            assert!(turnstiles.busy(org));
            assert!(!turnstiles.busy(OrganizationId::new()));
            drop(turn);
            assert!(!turnstiles.busy(org));
        });
    }

    #[test]
    fn turns_come_in_the_order_they_were_asked_for() {
        block_on(async {
            let turnstiles = Arc::new(Turnstiles::default());
            let org = OrganizationId::new();
            let order = Arc::new(Mutex::new(Vec::new()));
            let first = turnstiles.wait(org).await;
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async {
                    let mut waiting = Vec::new();
                    for i in 0..5 {
                        let (turnstiles, order) = (Arc::clone(&turnstiles), Arc::clone(&order));
                        waiting.push(tokio::task::spawn_local(async move {
                            let _turn = turnstiles.wait(org).await;
                            order.lock().expect("not poisoned").push(i);
                        }));
                        // Let it queue before the next one.
                        tokio::task::yield_now().await;
                    }
                    drop(first);
                    for w in waiting {
                        w.await.expect("no panic");
                    }
                })
                .await;
            assert_eq!(*order.lock().expect("not poisoned"), vec![0, 1, 2, 3, 4]);
            assert!(!turnstiles.busy(org));
        });
    }
}
