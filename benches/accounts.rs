//! Criterion benches of what a signed-in user reads across organizations: their account menu
//! (spec: USR-4) when they belong to 50 of 100,000 organizations.
//!
//! ```sh
//! cargo bench --bench accounts --all-features        # memory, SQLite file, PostgreSQL
//! ```
//!
//! PostgreSQL benches run when `ORGROSTER_TEST_POSTGRES_URL` is set. The SQL stores' 100,000
//! other organizations are copied in SQL from one made through the store (one commit each
//! would take minutes); the 50 of the user's go through the store.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{sync::Arc, time::Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use orgroster::{
    Actor, Capabilities, ChangeSet, DynStore, EmailAddress, Member, MemberId, MemoryStore,
    Organization, OrganizationId, OrganizationWrite, Page, Profile, RecordingMailer, RoleSet,
    Roster, UserId, Write,
};
use tokio::runtime::Runtime;

#[path = "../tests/support/scratch.rs"]
mod scratch;

#[cfg(feature = "postgres")]
#[path = "../tests/support/postgres.rs"]
mod pg;

/// Organizations in the store besides the user's.
const OTHERS: u32 = 100_000;
/// The user's organizations.
const THEIRS: usize = 50;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A new organization with one member, `user`, committed as a command would.
async fn organization_with(store: &DynStore, user: UserId, n: u64) -> OrganizationId {
    let org = Organization {
        id: OrganizationId::new(),
        name: format!("Account {n}").parse().unwrap(),
        licenses: Vec::new(),
        capabilities: Capabilities::default(),
        seat_cap: None,
        created_at: chrono::Utc::now(),
        version: 0,
    };
    let member = Member {
        id: MemberId::new(),
        organization: org.id,
        user,
        email: EmailAddress::parse(format!("u{n}@bench.example")).unwrap(),
        profile: Profile::parse("Bench", "Mark").unwrap(),
        roles: RoleSet::learner(),
        joined_at: org.created_at,
        invitation: None,
        deactivated_at: None,
        version: 0,
    };
    let mut changes = ChangeSet::new(org.id, OrganizationWrite::Put(org.clone()));
    changes.writes.push(Write::PutMember(member));
    store.commit(changes).await.unwrap();
    org.id
}

/// The user's organizations, through the store; returns the user.
async fn theirs(store: &DynStore) -> UserId {
    let user = UserId::new();
    for n in 0..THEIRS {
        organization_with(store, user, n as u64).await;
    }
    user
}

/// Copies organization `template` and its one member `OTHERS` times, each copy with new ids,
/// its own user and its own address.
#[cfg(feature = "sqlite")]
async fn sqlite_copies(store: &orgroster::SqliteStore, template: OrganizationId) {
    use orgroster::sqlx;
    let copies = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {OTHERS}) \
         SELECT i, randomblob(16) AS org FROM n"
    );
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE copies AS {copies}"
    )))
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO orgroster_organizations (id, name, licenses, capabilities, seat_cap, \
         created_at, version) SELECT c.org, o.name || ' ' || c.i, o.licenses, o.capabilities, \
         o.seat_cap, o.created_at, o.version FROM copies AS c, orgroster_organizations AS o \
         WHERE o.id = ?",
    )
    .bind(template.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO orgroster_members (id, organization_id, user_id, email, email_key, \
         first_name, last_name, roles, joined_at, invitation_id, version) SELECT \
         randomblob(16), c.org, randomblob(16), 'other' || c.i || '@bench.example', 'other' || \
         c.i || '@bench.example', m.first_name, m.last_name, m.roles, m.joined_at, NULL, \
         m.version FROM copies AS c, orgroster_members AS m WHERE m.organization_id = ?",
    )
    .bind(template.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("DROP TABLE copies")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
}

/// As [`sqlite_copies`], on PostgreSQL.
#[cfg(feature = "postgres")]
async fn postgres_copies(store: &orgroster::PostgresStore, template: OrganizationId) {
    use orgroster::sqlx;
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query(
        "CREATE TEMP TABLE copies ON COMMIT DROP AS SELECT i, gen_random_uuid() AS org FROM \
         generate_series(1, $1) AS i",
    )
    .bind(i64::from(OTHERS))
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO orgroster_organizations (id, name, licenses, capabilities, seat_cap, \
         created_at, version) SELECT c.org, o.name || ' ' || c.i, o.licenses, o.capabilities, \
         o.seat_cap, o.created_at, o.version FROM copies AS c, orgroster_organizations AS o \
         WHERE o.id = $1",
    )
    .bind(template.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO orgroster_members (id, organization_id, user_id, email, email_key, \
         first_name, last_name, roles, joined_at, invitation_id, version) SELECT \
         gen_random_uuid(), c.org, gen_random_uuid(), 'other' || c.i || '@bench.example', \
         'other' || c.i || '@bench.example', m.first_name, m.last_name, m.roles, m.joined_at, \
         NULL, m.version FROM copies AS c, orgroster_members AS m WHERE m.organization_id = $1",
    )
    .bind(template.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
}

/// The stores to bench, each holding `OTHERS` organizations of other users and the user's
/// `THEIRS`: name, store and the user.
fn stores(rt: &Runtime, scratch: &scratch::ScratchDir) -> Vec<(&'static str, Arc<DynStore>)> {
    let mut stores: Vec<(&'static str, Arc<DynStore>)> = Vec::new();
    let started = Instant::now();
    let memory: Arc<DynStore> = Arc::new(MemoryStore::new());
    rt.block_on(async {
        for n in 0..OTHERS {
            organization_with(&*memory, UserId::new(), u64::from(n) + 1000).await;
        }
    });
    eprintln!("memory: {OTHERS} organizations in {:?}", started.elapsed());
    stores.push(("memory", memory));
    #[cfg(feature = "sqlite")]
    {
        let started = Instant::now();
        let store = rt.block_on(async {
            let store = orgroster::SqliteStore::connect(&scratch::sqlite_url(&scratch.path()))
                .await
                .unwrap();
            store.migrate().await.unwrap();
            let template = organization_with(&store, UserId::new(), 999).await;
            sqlite_copies(&store, template).await;
            store
        });
        eprintln!(
            "sqlite_file: {OTHERS} organizations in {:?}",
            started.elapsed()
        );
        stores.push(("sqlite_file", Arc::new(store)));
    }
    #[cfg(feature = "postgres")]
    if let Some(url) = pg::url() {
        let started = Instant::now();
        let store = rt.block_on(async {
            let schema = pg::fresh_schema(&url).await;
            eprintln!("postgres: schema {schema}");
            let store = orgroster::PostgresStore::connect_with(pg::options(&url, &schema))
                .await
                .unwrap();
            let template = organization_with(&store, UserId::new(), 999).await;
            postgres_copies(&store, template).await;
            store
        });
        eprintln!(
            "postgres: {OTHERS} organizations in {:?}",
            started.elapsed()
        );
        stores.push(("postgres", Arc::new(store)));
    }
    let _ = scratch;
    stores
}

/// The account menu: every organization of a user who belongs to 50 of 100,000, in one page.
fn account_menu(c: &mut Criterion) {
    let rt = runtime();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, store) in stores(&rt, &scratch) {
        let user = rt.block_on(theirs(&*store));
        let roster = Roster::builder(
            Arc::clone(&store),
            RecordingMailer::new(),
            orgroster::LinkKey::from_bytes([7; 32]),
        )
        .build();
        let actor = Actor::new(user, EmailAddress::parse("menu@bench.example").unwrap());
        c.bench_function(&format!("{name}/memberships_50_of_100000"), |b| {
            b.to_async(&rt).iter(|| async {
                let menu = roster.memberships(&actor, Page::first(100)).await.unwrap();
                assert_eq!(menu.items.len(), THEIRS);
            });
        });
    }
}

criterion_group!(benches, account_menu);
criterion_main!(benches);
