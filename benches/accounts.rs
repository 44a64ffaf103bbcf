//! Criterion benches of what a signed-in user reads across organizations: their account menu
//! (spec: USR-4) when they belong to 50 of 100,000 organizations, and their inbox (spec:
//! INV-15) when 20 of 1,000,000 pending invitations are addressed to them.
//!
//! ```sh
//! cargo bench --bench accounts --all-features        # memory, SQLite file, PostgreSQL
//! ```
//!
//! PostgreSQL benches run when `ORGROSTER_TEST_POSTGRES_URL` is set. Every store holds
//! 100,000 other organizations, each with one member and 10 pending invitations to addresses
//! of its own. The SQL stores' are copied in SQL from one made through the store (one commit
//! each would take minutes); the user's 50 organizations and 20 invitations go through the
//! store.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use orgroster::{
    Actor, Capabilities, ChangeSet, DynStore, EmailAddress, Invitation, InvitationId,
    InvitationStatus, Member, MemberId, MemoryStore, Organization, OrganizationId,
    OrganizationWrite, Page, Profile, RecordingMailer, Role, RoleSet, Roster, TokenHash, UserId,
    Write,
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
/// Pending invitations in each of the other organizations: 1,000,000 in all.
const INVITED_PER_ORGANIZATION: u32 = 10;
/// The pending invitations addressed to the user, each from an organization of its own.
const INVITED: usize = 20;
/// The user's address, as invited: the inbox matches it regardless of case.
const INVITEE: &str = "Inbox.User@bench.example";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A new organization with one member, `user`, and `invited` pending invitations to
/// addresses of its own, committed as a command would.
async fn organization_with(store: &DynStore, user: UserId, n: u64, invited: u32) -> OrganizationId {
    let org = Organization {
        id: OrganizationId::new(),
        name: format!("Account {n}").parse().unwrap(),
        licenses: Vec::new(),
        capabilities: Capabilities::default(),
        seat_cap: None,
        created_at: Utc::now(),
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
        metadata: None,
        version: 0,
    };
    let mut changes = ChangeSet::new(org.id, OrganizationWrite::Put(org.clone()));
    changes.writes.push(Write::PutMember(member));
    for i in 0..invited {
        let to = EmailAddress::parse(format!("invitee{i}.{n}@bench.example")).unwrap();
        let invitation = invitation(org.id, user, to, org.created_at);
        changes.writes.push(Write::PutInvitation(invitation));
    }
    store.commit(changes).await.unwrap();
    org.id
}

/// A pending invitation to `to`, sent by `by` at `now`.
fn invitation(org: OrganizationId, by: UserId, to: EmailAddress, now: DateTime<Utc>) -> Invitation {
    let id = InvitationId::new();
    // Unique, as ids are: all a stored hash needs here.
    let mut hash = [0u8; 32];
    hash[..16].copy_from_slice(id.as_uuid().as_bytes());
    hash[16..].copy_from_slice(id.as_uuid().as_bytes());
    Invitation {
        id,
        organization: org,
        email: to,
        invitee: None,
        role: Role::Member,
        team: None,
        status: InvitationStatus::Pending,
        token_hash: TokenHash::from_bytes(hash),
        invited_by: by,
        created_at: now,
        sent_at: now,
        expires_at: now + Duration::days(10),
        resend_count: 0,
        closed_at: None,
        closed_by: None,
        lifetime: None,
        metadata: None,
        version: 0,
    }
}

/// The user's pending invitations, through the store, each from a new organization whose
/// one member sent it; returns the user's address.
async fn invited(store: &DynStore) -> EmailAddress {
    let to = EmailAddress::parse(INVITEE).unwrap();
    for n in 0..INVITED {
        let inviter = UserId::new();
        let org = organization_with(store, inviter, 500_000 + n as u64, 0).await;
        let invitation = invitation(org, inviter, to.clone(), Utc::now());
        let org = store.organization(org).await.unwrap().unwrap();
        let mut changes = ChangeSet::new(
            org.id,
            OrganizationWrite::Touch {
                expected_version: org.version,
            },
        );
        changes.writes.push(Write::PutInvitation(invitation));
        store.commit(changes).await.unwrap();
    }
    to
}

/// The user's organizations, through the store; returns the user.
async fn theirs(store: &DynStore) -> UserId {
    let user = UserId::new();
    for n in 0..THEIRS {
        organization_with(store, user, n as u64, 0).await;
    }
    user
}

/// Copies organization `template`, its one member and its invitations `OTHERS` times, each
/// copy with new ids, its own user and its own addresses.
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
    sqlx::query(
        "INSERT INTO orgroster_invitations (id, organization_id, email, email_key, \
         invitee_first_name, invitee_last_name, role, team_id, status, token_hash, invited_by, \
         created_at, sent_at, expires_at, resend_count, closed_at, closed_by, version) SELECT \
         randomblob(16), c.org, 'other' || c.i || '.' || t.email, 'other' || c.i || '.' || \
         t.email_key, t.invitee_first_name, t.invitee_last_name, t.role, t.team_id, t.status, \
         randomblob(32), t.invited_by, t.created_at, t.sent_at, t.expires_at, t.resend_count, \
         t.closed_at, t.closed_by, t.version FROM copies AS c, orgroster_invitations AS t WHERE \
         t.organization_id = ?",
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
    sqlx::query(
        "INSERT INTO orgroster_invitations (id, organization_id, email, email_key, \
         invitee_first_name, invitee_last_name, role, team_id, status, token_hash, invited_by, \
         created_at, sent_at, expires_at, resend_count, closed_at, closed_by, version) SELECT \
         gen_random_uuid(), c.org, 'other' || c.i || '.' || t.email, 'other' || c.i || '.' || \
         t.email_key, t.invitee_first_name, t.invitee_last_name, t.role, t.team_id, t.status, \
         sha256(convert_to(c.i || '.' || t.id::text, 'UTF8')), t.invited_by, t.created_at, \
         t.sent_at, t.expires_at, t.resend_count, t.closed_at, t.closed_by, t.version FROM copies \
         AS c, orgroster_invitations AS t WHERE t.organization_id = $1",
    )
    .bind(template.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
}

/// The stores to bench, each holding `OTHERS` organizations of other users, each with
/// `INVITED_PER_ORGANIZATION` pending invitations: name and store.
fn stores(rt: &Runtime, scratch: &scratch::ScratchDir) -> Vec<(&'static str, Arc<DynStore>)> {
    let mut stores: Vec<(&'static str, Arc<DynStore>)> = Vec::new();
    let started = Instant::now();
    let memory: Arc<DynStore> = Arc::new(MemoryStore::new());
    rt.block_on(async {
        for n in 0..OTHERS {
            let user = UserId::new();
            organization_with(
                &*memory,
                user,
                u64::from(n) + 1000,
                INVITED_PER_ORGANIZATION,
            )
            .await;
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
            let template =
                organization_with(&store, UserId::new(), 999, INVITED_PER_ORGANIZATION).await;
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
            let template =
                organization_with(&store, UserId::new(), 999, INVITED_PER_ORGANIZATION).await;
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

/// The account menu: every organization of a user who belongs to 50 of 100,000, in one page;
/// and the inbox: every pending invitation of a user to whom 20 of 1,000,000 are addressed,
/// in one page. One function, so that the stores are filled once.
fn account_reads(c: &mut Criterion) {
    let rt = runtime();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, store) in stores(&rt, &scratch) {
        let user = rt.block_on(theirs(&*store));
        let invitee = rt.block_on(invited(&*store));
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
        // Signed in with the address in another case than it was invited in.
        let email = EmailAddress::parse(invitee.as_str().to_lowercase()).unwrap();
        let reader = Actor::new(UserId::new(), email);
        c.bench_function(&format!("{name}/inbox_20_of_1000000"), |b| {
            b.to_async(&rt).iter(|| async {
                let inbox = roster.inbox(&reader, Page::first(100)).await.unwrap();
                assert_eq!(inbox.items.len(), INVITED);
            });
        });
    }
}

criterion_group!(benches, account_reads);
criterion_main!(benches);
