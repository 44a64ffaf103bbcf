//! Many commands racing in one organization: each may have to decide again, none may give
//! up. Every invitation touches its organization's version (spec: ORG-4), so 8 tasks
//! inviting into one organization conflict on nearly every commit; commands that lost a
//! race queue per organization instead of retrying blindly.

use std::sync::Arc;

use orgroster::{DynStore, MemoryStore, RecordingMailer, Role, Roster};

use crate::fixture::{actor, licensed_organization, newcomer};

/// Runs `tasks` tasks each inviting and accepting `rounds` learners into one organization of
/// a roster on `store`; every command must succeed.
async fn race(store: Arc<DynStore>, tasks: usize, rounds: usize) {
    let roster = Roster::builder(
        store,
        RecordingMailer::new(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .build();
    let founder = actor("founder");
    let org = licensed_organization(&roster, &founder, "Contended", None).await;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (roster, founder) = (roster.clone(), founder.clone());
        handles.push(tokio::spawn(async move {
            for r in 0..rounds {
                let learner = actor(&format!("t{t}r{r}"));
                let invited = roster
                    .invite_member(&founder, org, learner.email.clone(), Role::Member, None)
                    .await
                    .unwrap_or_else(|e| panic!("task {t} round {r}: invite: {e:?}"));
                roster
                    .accept_invitation(&learner, &invited.token.expose(), newcomer("Racer"))
                    .await
                    .unwrap_or_else(|e| panic!("task {t} round {r}: accept: {e:?}"));
            }
        }));
    }
    for h in handles {
        h.await.expect("no task panicked");
    }
    let seats = roster.seat_usage(&founder, org).await.expect("seats");
    assert_eq!(seats.members, 1 + (tasks * rounds) as u64);
    assert_eq!(seats.pending_invitations, 0);
}

/// spec: ERR-1, ORG-4 — no command fails with `Conflict` while it keeps losing races to
/// others of the same process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_in_one_organization_all_succeed_in_memory() {
    race(Arc::new(MemoryStore::new()), 8, 100).await;
}

/// The same on SQLite, whose writers queue anyway, and on PostgreSQL, where commits of
/// one organization run in parallel and conflict.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_in_one_organization_all_succeed_on_sqlite() {
    let store = orgroster::SqliteStore::in_memory().await.expect("SQLite");
    race(Arc::new(store), 8, 25).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_in_one_organization_all_succeed_on_postgres() {
    let Some(url) = crate::pg::url() else {
        eprintln!("skipped: set {} to run it", crate::pg::URL_VAR);
        return;
    };
    let schema = crate::pg::fresh_schema(&url).await;
    let store = crate::pg::store(&url, &schema, 8, None).await;
    race(Arc::new(store), 8, 25).await;
    crate::pg::drop_schema(&url, &schema).await;
}
