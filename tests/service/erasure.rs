//! Erasing a member's personal data on request (USR-5): the membership ends, a pseudonym
//! takes the member's place everywhere the organization keeps them, the figures keep their
//! counts, and (on SQLite) no byte of the files still holds them.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use orgroster::{
    AcceptOptions, Actor, Audience, DynStore, Error, EventActor, EventKind, FailingMailer,
    InvitationFilter, LinkKey, ManualClock, MemoryStore, OrganizationId, Page, Period,
    RecordingMailer, ReportedActivity, ReportedKind, Role, Roster, Statistics, StatsScope, Store,
    TeamId, UserId,
};

use crate::fixture::{actor, assert_actionable, email, licensed_organization, message, subject};

/// An organization on `store` where Zelda Erasable, an administrator in a team, left traces
/// of every kind: invitations to her (in another case) and from her, events, mail to, from
/// and about her, learning activity and a team stint; and one other learner with activity.
struct Scene {
    roster: Roster,
    store: Arc<DynStore>,
    org: OrganizationId,
    founder: Actor,
    zelda: Actor,
    team: TeamId,
    /// Invited by Zelda, not yet answered: the link must keep working.
    ivan: Actor,
    ivan_link: String,
}

fn roster(store: &Arc<DynStore>, clock: &ManualClock) -> Roster {
    Roster::builder(
        Arc::clone(store),
        RecordingMailer::new(),
        LinkKey::from_bytes([7; 32]),
    )
    .clock(clock.clone())
    .build()
}

fn period(now: DateTime<Utc>) -> Period {
    Period::days_until(now + Duration::days(1), 30).unwrap()
}

impl Scene {
    async fn new(store: Arc<DynStore>) -> Self {
        let clock = ManualClock::default();
        let roster = roster(&store, &clock);
        let founder = actor("founder");
        let org = licensed_organization(&roster, &founder, "Erasure Ltd", None).await;
        let team = roster
            .create_team(&founder, org, "Keepers".parse().unwrap())
            .await
            .unwrap()
            .id;
        // Invited in another case than she signs in with, under the name the inviter typed.
        let zelda = actor("zelda.erasable");
        let invited = roster
            .invite_administrator(
                &founder,
                org,
                email("ZELDA.Erasable@Example.com"),
                crate::fixture::profile("Zelda", "Typed-By-Founder"),
            )
            .await
            .unwrap();
        roster
            .accept_invitation(
                &zelda,
                &invited.token.expose(),
                AcceptOptions::new(crate::fixture::profile("Zelda", "Erasable")),
            )
            .await
            .unwrap();
        roster
            .add_team_member(&founder, org, team, zelda.user)
            .await
            .unwrap();
        let lea = actor("lea");
        let invited = roster
            .invite_member(&founder, org, lea.email.clone(), Role::Member, Some(team))
            .await
            .unwrap();
        roster
            .accept_invitation(
                &lea,
                &invited.token.expose(),
                AcceptOptions::new(crate::fixture::profile("Lea", "Learner")),
            )
            .await
            .unwrap();
        // Mail from her, and about her.
        roster
            .send_message(
                &zelda,
                org,
                Audience::Team(team),
                subject("From the team lead"),
                message("Hello team."),
            )
            .await
            .unwrap();
        // She renames herself since: her message still carries the name she had.
        roster
            .update_profile(&zelda, org, crate::fixture::profile("Zed", "Renamed"))
            .await
            .unwrap();
        roster
            .send_message(
                &founder,
                org,
                Audience::Everyone,
                subject("To all"),
                message("Hello all."),
            )
            .await
            .unwrap();
        // Everything queued so far is given up: failures recorded against her address.
        Roster::builder(
            Arc::clone(&store),
            FailingMailer::always_permanent(),
            LinkKey::from_bytes([7; 32]),
        )
        .clock(clock.clone())
        .build()
        .deliver_mail(100)
        .await
        .unwrap();
        // An invitation from her, still pending, its mail queued.
        let ivan = actor("ivan");
        let from_zelda = roster
            .invite_member(&zelda, org, ivan.email.clone(), Role::Member, None)
            .await
            .unwrap();
        let now = roster.now();
        let activity = |id: &str, user: UserId, kind| ReportedActivity {
            id: id.to_owned(),
            user,
            course: "sql-101".to_owned(),
            kind,
            at: now,
        };
        roster
            .record_activity(
                org,
                &[
                    activity("z1", zelda.user, ReportedKind::Enrolled),
                    activity("z2", zelda.user, ReportedKind::Completed),
                    activity("l1", lea.user, ReportedKind::Enrolled),
                ],
            )
            .await
            .unwrap();
        // Time passes before anything is erased: her time in the team has a length.
        clock.advance(Duration::hours(1));
        Self {
            roster,
            store,
            org,
            founder,
            zelda,
            team,
            ivan,
            ivan_link: from_zelda.token.expose(),
        }
    }

    /// The organization's and the team's figures over the last month, without the count of
    /// current members, which an ended membership leaves by design.
    async fn figures(&self) -> (Statistics, Statistics) {
        let period = period(self.roster.now());
        let without_members = |mut s: Statistics| {
            s.members = 0;
            s
        };
        let org = self
            .roster
            .statistics(&self.founder, self.org, StatsScope::Organization, period)
            .await
            .unwrap();
        let team = self
            .roster
            .statistics(&self.founder, self.org, StatsScope::Team(self.team), period)
            .await
            .unwrap();
        (without_members(org), without_members(team))
    }

    /// Everything the organization's rows say, as text: its invitations, audit trail and
    /// outbox.
    async fn rows_as_text(&self) -> String {
        let all = Page::first(Page::MAX_LIMIT);
        let invitations = self
            .store
            .invitations(self.org, InvitationFilter::default(), all)
            .await
            .unwrap();
        let events = self.store.events(self.org, all).await.unwrap();
        let mail = self.store.outbox(self.org, all).await.unwrap();
        format!("{invitations:?}{events:?}{mail:?}").to_lowercase()
    }
}

/// What must be gone: her address, her names, her user id.
fn traces(zelda: &Actor) -> [String; 4] {
    [
        "zelda".to_owned(),
        "erasable".to_owned(),
        "typed-by-founder".to_owned(),
        zelda.user.to_string(),
    ]
}

async fn erasure_leaves_a_pseudonym_and_the_figures(store: Arc<DynStore>) {
    // spec: USR-5, TEAM-4, INV-6
    let scene = Scene::new(store).await;
    let before = scene.figures().await;
    let text = scene.rows_as_text().await;
    for trace in traces(&scene.zelda) {
        assert!(text.contains(&trace), "the scene leaves {trace} to erase");
    }

    let erased = scene
        .roster
        .erase_member(scene.org, scene.zelda.user)
        .await
        .expect("erasing a member");
    assert_eq!(erased.member.user, scene.zelda.user);
    assert!(erased.pseudonym.email.as_str().ends_with("@erased.invalid"));
    assert_ne!(erased.pseudonym.user, scene.zelda.user);
    assert!(erased.rewritten >= 8, "rewritten: {}", erased.rewritten);

    // The membership ended; nothing of her is left in the organization's rows.
    assert!(
        scene
            .store
            .member(scene.org, scene.zelda.user)
            .await
            .unwrap()
            .is_none()
    );
    let text = scene.rows_as_text().await;
    for trace in traces(&scene.zelda) {
        assert!(!text.contains(&trace), "{trace} is still there: {text}");
    }
    // The figures keep their counts, the organization's and the team's (her stint too).
    assert_eq!(scene.figures().await, before);
    // The audit trail records the erasure under the pseudonym, done by the back office.
    let last = scene
        .store
        .events(scene.org, Page::first(Page::MAX_LIMIT))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(matches!(last.kind, EventKind::MemberErased { user } if user == erased.pseudonym.user));
    assert_eq!(last.actor, EventActor::System);
    // Her invitation still works: its mail stays queued, signed by the pseudonym.
    let mail = scene
        .store
        .outbox(scene.org, Page::first(Page::MAX_LIMIT))
        .await
        .unwrap();
    assert!(mail.iter().any(|m| m.to == scene.ivan.email
        && matches!(&m.content, orgroster::MailContent::Invitation { inviter, .. }
            if *inviter == erased.pseudonym.profile)));
    scene
        .roster
        .accept_invitation(
            &scene.ivan,
            &scene.ivan_link,
            AcceptOptions::new(crate::fixture::profile("Ivan", "Invited")),
        )
        .await
        .expect("an invitation she sent still works");
}

#[tokio::test]
async fn erasure_leaves_a_pseudonym_and_the_figures_in_memory() {
    erasure_leaves_a_pseudonym_and_the_figures(Arc::new(MemoryStore::new())).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn erasure_leaves_a_pseudonym_and_the_figures_on_sqlite() {
    let store = orgroster::SqliteStore::in_memory().await.unwrap();
    erasure_leaves_a_pseudonym_and_the_figures(Arc::new(store)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn erasure_leaves_a_pseudonym_and_the_figures_on_postgres() {
    let Some(url) = crate::pg::url() else {
        eprintln!("skipped: set {} to run it", crate::pg::URL_VAR);
        return;
    };
    let schema = crate::pg::fresh_schema(&url).await;
    let store = crate::pg::store(&url, &schema, 4, None).await;
    erasure_leaves_a_pseudonym_and_the_figures(Arc::new(store.clone())).await;
    // Every table of the schema, as PostgreSQL prints its rows.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(tables.len() >= 8, "{tables:?}");
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM {schema}.{table} AS t"
        )))
        .fetch_all(store.pool())
        .await
        .unwrap();
        let text = rows.join("\n").to_lowercase();
        assert!(!text.contains("zelda"), "{table} still holds her: {text}");
        assert!(
            !text.contains("erasable"),
            "{table} still holds her: {text}"
        );
    }
    crate::pg::drop_schema(&url, &schema).await;
}

/// On a database file, no byte of the database, its write-ahead log or its shared memory
/// still holds her address, her names or her user id once she is erased.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn erasure_leaves_no_byte_of_her_in_the_sqlite_files() {
    // spec: USR-5
    let dir = crate::scratch::ScratchDir::new("erasure");
    let url = crate::scratch::sqlite_url(&dir.path());
    let path = url.trim_start_matches("sqlite://").to_owned();
    let store = orgroster::SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let scene = Scene::new(Arc::new(store.clone())).await;
    let user_bytes = *scene.zelda.user.as_uuid().as_bytes();
    let files = || {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| std::fs::read(format!("{path}{suffix}")).ok())
            .map(|bytes| bytes.to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let holds = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        files().iter().any(|f| holds(f, b"zelda.erasable")),
        "the files hold her address before the erasure"
    );

    scene
        .roster
        .erase_member(scene.org, scene.zelda.user)
        .await
        .unwrap();
    let text = scene.user_text();
    for bytes in files() {
        for needle in [
            &b"zelda"[..],
            b"erasable",
            b"typed-by-founder",
            text.as_bytes(),
        ] {
            assert!(
                !holds(&bytes, needle),
                "{} still in the files",
                String::from_utf8_lossy(needle)
            );
        }
        assert!(
            !holds(&bytes, &user_bytes),
            "her user id is still in the files"
        );
    }
    store.close().await;
}

impl Scene {
    /// Her user id as text, lowercased as the files are searched.
    fn user_text(&self) -> String {
        self.zelda.user.to_string().to_lowercase()
    }
}

#[tokio::test]
async fn erasing_a_stranger_or_the_last_administrator_is_refused() {
    // spec: USR-5, ADM-5, ERR-2
    let scene = Scene::new(Arc::new(MemoryStore::new())).await;
    let before = scene.rows_as_text().await;
    let err = scene
        .roster
        .erase_member(scene.org, actor("stranger").user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = scene
        .roster
        .erase_member(OrganizationId::new(), scene.zelda.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    // Zelda is an administrator too: the founder can go, and then she is the last one.
    scene
        .roster
        .erase_member(scene.org, scene.founder.user)
        .await
        .expect("one of two administrators");
    let before_last = scene.rows_as_text().await;
    let err = scene
        .roster
        .erase_member(scene.org, scene.zelda.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastAdministrator), "{err:?}");
    assert_actionable(&err, &["administrator", "first"]);
    assert_eq!(scene.rows_as_text().await, before_last, "nothing changed");
    assert_ne!(before, before_last);
}

#[tokio::test]
async fn erasure_in_one_organization_leaves_the_others() {
    // spec: USR-5, USR-4
    let scene = Scene::new(Arc::new(MemoryStore::new())).await;
    let elsewhere = licensed_organization(&scene.roster, &scene.zelda, "Elsewhere", None).await;
    scene
        .roster
        .erase_member(scene.org, scene.zelda.user)
        .await
        .unwrap();
    let menu = scene
        .roster
        .memberships(&scene.zelda, Page::first(10))
        .await
        .unwrap();
    let orgs: Vec<OrganizationId> = menu.items.iter().map(|m| m.member.organization).collect();
    assert_eq!(orgs, vec![elsewhere]);
    assert_eq!(menu.items[0].member.email, scene.zelda.email);
}
