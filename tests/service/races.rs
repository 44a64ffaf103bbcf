//! Races end in a decision, never in a store error (spec: ERR-1, ROLE-4, INV-11, TEAM-4,
//! MEM-2, USR-5).
//!
//! [`Interleaved`] runs another command's commit between a command's reads and its own
//! commit, deterministically, on every store.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
};

use chrono::Duration;
use orgroster::{
    Actor, ChangeSet, Clock, DynStore, Error, ManualClock, MemoryStore, OrganizationId,
    OrganizationWrite, Page, Period, Permission, RecordingMailer, ReportedActivity, ReportedKind,
    Role, Roster, StatsScope, Store, StoreError, Team, TeamId, TeamPage, UserId, Write,
};

use crate::fixture::{actor, licensed_organization, newcomer, team_name};
use crate::wrapped_store::{CommitHook, HookedStore};

/// What a concurrent command commits, given the store beneath.
type Interjection =
    Box<dyn FnOnce(Arc<DynStore>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A store whose next commit first runs an interjection on the store beneath: what a
/// concurrent command would commit between the reads of the command under test and its
/// commit.
type Interleaved = HookedStore<NextInterjection>;

/// The hook of an [`Interleaved`] store: the interjection to run before the next commit.
#[derive(Default)]
struct NextInterjection(Mutex<Option<Interjection>>);

#[async_trait::async_trait]
impl CommitHook for NextInterjection {
    async fn before_commit(&self, inner: &Arc<DynStore>) -> Result<(), StoreError> {
        let interjection = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(interjection) = interjection {
            interjection(Arc::clone(inner)).await;
        }
        Ok(())
    }
}

impl Interleaved {
    /// Runs `hook` before the next commit, once.
    fn before_next_commit<F, Fut>(&self, hook: F)
    where
        F: FnOnce(Arc<DynStore>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self.hook().0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Box::new(move |store| Box::pin(hook(store))));
    }

    fn armed(&self) -> bool {
        self.hook()
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

/// A roster on `store` through [`Interleaved`], and a licensed organization in it.
struct Race {
    roster: Roster,
    store: Interleaved,
    clock: ManualClock,
    org: OrganizationId,
    founder: Actor,
}

impl Race {
    async fn new(store: Arc<DynStore>) -> Self {
        let store = HookedStore::new(store, NextInterjection::default());
        let clock = ManualClock::default();
        let roster = Roster::builder(
            store.clone(),
            RecordingMailer::new(),
            orgroster::LinkKey::from_bytes([7; 32]),
        )
        .clock(clock.clone())
        .build();
        let founder = actor("founder");
        let org = licensed_organization(&roster, &founder, "Racing", None).await;
        Self {
            roster,
            store,
            clock,
            org,
            founder,
        }
    }

    /// A new member with `role` (and Member), in `team` when given.
    async fn join(&self, local: &str, role: Role, team: Option<TeamId>) -> Actor {
        let who = actor(local);
        let invited = if role == Role::Administrator {
            self.roster
                .invite_administrator(
                    &self.founder,
                    self.org,
                    who.email.clone(),
                    crate::fixture::profile("Second", "Administrator"),
                )
                .await
        } else {
            self.roster
                .invite_member(&self.founder, self.org, who.email.clone(), role, team)
                .await
        }
        .expect("inviting");
        self.roster
            .accept_invitation(&who, &invited.token.expose(), newcomer("Joiner"))
            .await
            .expect("accepting");
        who
    }

    /// A new team, as stored.
    async fn team(&self, name: &str) -> Team {
        let id = self
            .roster
            .create_team(&self.founder, self.org, team_name(name))
            .await
            .expect("creating a team")
            .id;
        self.store
            .team(self.org, id)
            .await
            .expect("reading the team")
            .expect("the team exists")
    }

    async fn teams(&self) -> Vec<Team> {
        self.store
            .teams(self.org, Page::first(100))
            .await
            .expect("reading teams")
    }
}

async fn sqlite() -> Arc<DynStore> {
    Arc::new(
        orgroster::SqliteStore::in_memory()
            .await
            .expect("SQLite in memory"),
    )
}

/// Runs `case` on a fresh PostgreSQL schema, when the server is configured.
#[cfg(feature = "postgres")]
async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<DynStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = crate::pg::url() else {
        eprintln!("skipped: set {} to run it", crate::pg::URL_VAR);
        return;
    };
    let schema = crate::pg::fresh_schema(&url).await;
    case(Arc::new(crate::pg::store(&url, &schema, 4, None).await)).await;
    crate::pg::drop_schema(&url, &schema).await;
}

// ----- an acceptance racing the deletion of its team -------------------------------------

/// The team an invitation names is deleted after the acceptance read it and before it
/// commits. The deletion is committed as the store sees it on PostgreSQL when the two
/// commits overlap: the organization's version still as the acceptance read it, the team
/// gone (its foreign key, or the existence check, refuses the membership). The invitee
/// joins without the team, and no stint stays open for it.
async fn acceptance_racing_the_deletion_of_its_team(store: Arc<DynStore>) {
    // spec: INV-11, TEAM-4, ERR-1
    let race = Race::new(store).await;
    let team = race.team("Doomed").await;
    let sam = actor("sam");
    let invited = race
        .roster
        .invite_member(
            &race.founder,
            race.org,
            sam.email.clone(),
            Role::Member,
            Some(team.id),
        )
        .await
        .unwrap();
    let (org, at) = (race.org, race.clock.now());
    race.store.before_next_commit(move |store| async move {
        let mut deletion = ChangeSet::new(org, OrganizationWrite::Untouched);
        deletion.writes.push(Write::DeleteTeam {
            team: team.id,
            expected_version: team.version,
            at,
        });
        store.commit(deletion).await.expect("deleting the team");
    });
    let accepted = race
        .roster
        .accept_invitation(&sam, &invited.token.expose(), newcomer("Sam"))
        .await
        .expect("the acceptance is decided again, never a store error");
    assert!(
        !race.store.armed(),
        "the deletion ran between read and commit"
    );
    assert!(race.teams().await.is_empty());
    assert!(
        race.store
            .teams_of(race.org, accepted.member.id)
            .await
            .unwrap()
            .is_empty(),
        "joined without the team"
    );
    // An open stint would count the member's later activity for the deleted team.
    race.clock.advance(Duration::days(1));
    let receipt = race
        .roster
        .record_activity(
            race.org,
            &[ReportedActivity {
                id: "after-the-deletion".to_owned(),
                user: sam.user,
                course: "sql-101".to_owned(),
                kind: ReportedKind::Enrolled,
                at: race.clock.now(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(receipt.recorded, 1);
    let period = Period::new(at - Duration::days(1), at + Duration::days(7)).unwrap();
    // Read as a comparison reads it: beside another team, with the organization's totals.
    let scopes = [
        StatsScope::Team(team.id),
        StatsScope::Team(TeamId::new()),
        StatsScope::Organization,
    ];
    let stats = race
        .store
        .statistics(race.org, &scopes, period)
        .await
        .unwrap();
    assert_eq!(
        stats[0].active_learners, 0,
        "no stint open for a deleted team"
    );
    assert_eq!(stats[2].active_learners, 1, "the activity was recorded");
}

#[tokio::test]
async fn an_acceptance_racing_the_deletion_of_its_team_joins_without_it_in_memory() {
    acceptance_racing_the_deletion_of_its_team(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn an_acceptance_racing_the_deletion_of_its_team_joins_without_it_on_sqlite() {
    acceptance_racing_the_deletion_of_its_team(sqlite().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn an_acceptance_racing_the_deletion_of_its_team_joins_without_it_on_postgres() {
    on_postgres(acceptance_racing_the_deletion_of_its_team).await;
}

// ----- commands racing the demotion or removal of their actor ----------------------------

/// Each team command by an administrator, with the administrator demoted (or removed)
/// after the command read their membership and before it commits: it is decided again and
/// refused, and nothing of it is written.
async fn team_commands_racing_the_demotion_of_their_actor(store: Arc<DynStore>) {
    // spec: ROLE-4, ERR-2
    let race = Race::new(store).await;
    let team = race.team("Kept").await;
    let forbidden = |result: Result<Team, Error>, what: &str| match result {
        Err(Error::Forbidden {
            permission: Permission::ManageTeams | Permission::EditTeamPage,
        }) => {}
        other => panic!("{what}: expected Forbidden, got {other:?}"),
    };
    let page = TeamPage {
        message: Some("Changed".parse().unwrap()),
        ..TeamPage::default()
    };
    for (n, command) in ["create", "rename", "set page", "delete"]
        .iter()
        .enumerate()
    {
        let ada = race
            .join(&format!("ada{n}"), Role::Administrator, None)
            .await;
        let (founder, org, user) = (race.founder.clone(), race.org, ada.user);
        let other = race.roster.clone();
        let remove = n % 2 == 1;
        race.store.before_next_commit(move |_| async move {
            if remove {
                other.remove_member(&founder, org, user).await.unwrap();
            } else {
                other
                    .revoke_role(&founder, org, user, Role::Administrator)
                    .await
                    .unwrap();
            }
        });
        let result = match *command {
            "create" => {
                race.roster
                    .create_team(&ada, race.org, team_name("Sneaked in"))
                    .await
            }
            "rename" => {
                race.roster
                    .rename_team(&ada, race.org, team.id, team_name("Renamed"))
                    .await
            }
            "set page" => {
                race.roster
                    .set_team_page(&ada, race.org, team.id, page.clone())
                    .await
            }
            _ => race.roster.delete_team(&ada, race.org, team.id).await,
        };
        assert!(!race.store.armed(), "{command}: the demotion ran first");
        forbidden(result, command);
        assert_eq!(race.teams().await, vec![team.clone()], "{command} wrote");
    }
}

/// A supervisor sets their team's page while being taken out of the team.
async fn a_team_page_racing_the_removal_of_its_supervisor(store: Arc<DynStore>) {
    // spec: ROLE-4, TEAM-3, ERR-2
    let race = Race::new(store).await;
    let team = race.team("Supervised").await;
    let sue = race.join("sue", Role::TeamSupervisor, Some(team.id)).await;
    let (founder, org, user, other) = (
        race.founder.clone(),
        race.org,
        sue.user,
        race.roster.clone(),
    );
    race.store.before_next_commit(move |_| async move {
        other
            .remove_team_member(&founder, org, team.id, user)
            .await
            .unwrap();
    });
    let page = TeamPage {
        message: Some("Mine no more".parse().unwrap()),
        ..TeamPage::default()
    };
    let result = race
        .roster
        .set_team_page(&sue, race.org, team.id, page)
        .await;
    assert!(!race.store.armed());
    assert!(
        matches!(
            result,
            Err(Error::Forbidden {
                permission: Permission::EditTeamPage
            })
        ),
        "{result:?}"
    );
    assert_eq!(race.teams().await, vec![team]);
}

/// An administrator's message to everyone, with the administrator removed after the
/// command read their membership and before it commits: refused, and no mail queued.
async fn a_message_racing_the_removal_of_its_sender(store: Arc<DynStore>) {
    // spec: ROLE-4, MSG-1, ERR-2
    let race = Race::new(store).await;
    race.join("reader", Role::Member, None).await;
    let ada = race.join("ada-sender", Role::Administrator, None).await;
    let (founder, org, user, other) = (
        race.founder.clone(),
        race.org,
        ada.user,
        race.roster.clone(),
    );
    race.store.before_next_commit(move |_| async move {
        other.remove_member(&founder, org, user).await.unwrap();
    });
    let result = race
        .roster
        .send_message(
            &ada,
            race.org,
            orgroster::Audience::Everyone,
            "Farewell".parse().unwrap(),
            "Sent after I left".parse().unwrap(),
        )
        .await;
    assert!(!race.store.armed());
    assert!(matches!(result, Err(Error::Forbidden { .. })), "{result:?}");
    let events = race
        .roster
        .audit_trail(&race.founder, race.org, Page::first(Page::MAX_LIMIT))
        .await
        .unwrap()
        .items;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, orgroster::EventKind::MessageSent { .. })),
        "the message was committed"
    );
}

/// Two administrators deactivate each other at once: the second decision read both as
/// active, but the first commit changed the organization under it, so it is decided again
/// and refused, its actor deactivated. One active administrator always stays.
async fn two_administrators_deactivating_each_other(store: Arc<DynStore>) {
    // spec: MEM-2, ADM-5, ROLE-4
    let race = Race::new(store).await;
    let ada = race.join("ada-admin", Role::Administrator, None).await;
    let (founder, org, user, other) = (
        race.founder.clone(),
        race.org,
        ada.user,
        race.roster.clone(),
    );
    race.store.before_next_commit(move |_| async move {
        other.deactivate_member(&founder, org, user).await.unwrap();
    });
    let result = race
        .roster
        .deactivate_member(&ada, race.org, race.founder.user)
        .await;
    assert!(!race.store.armed());
    assert!(matches!(result, Err(Error::Deactivated)), "{result:?}");
    let founder = race
        .store
        .member(race.org, race.founder.user)
        .await
        .unwrap()
        .expect("the founder is a member");
    assert!(founder.is_active(), "the first decision stands");
    let ada = race
        .store
        .member(race.org, ada.user)
        .await
        .unwrap()
        .unwrap();
    assert!(!ada.is_active());
}

/// A member invites someone after the erasure read the organization and before it commits:
/// the invitation (without a seat cap, it does not bump the organization's version) commits
/// first, naming them as its inviter. The erasure still lands, then finds and rewrites it.
async fn an_erasure_racing_a_command_of_its_member(store: Arc<DynStore>) {
    // spec: USR-5
    let race = Race::new(store).await;
    let zed = race.join("zed-erased", Role::Administrator, None).await;
    let (org, other, inviter) = (race.org, race.roster.clone(), zed.clone());
    race.store.before_next_commit(move |_| async move {
        other
            .invite_member(&inviter, org, actor("late").email, Role::Member, None)
            .await
            .unwrap();
    });
    let erased = race.roster.erase_member(race.org, zed.user).await.unwrap();
    assert!(!race.store.armed());
    let all = Page::first(Page::MAX_LIMIT);
    let invitations = race
        .store
        .invitations(race.org, orgroster::InvitationFilter::default(), all)
        .await
        .unwrap();
    let late = invitations
        .iter()
        .find(|i| i.email == actor("late").email)
        .expect("the late invitation");
    assert_eq!(
        late.invited_by, erased.pseudonym.user,
        "rewritten after the erasure"
    );
    let events = race.store.events(race.org, all).await.unwrap();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.actor, orgroster::EventActor::User { user } if user == zed.user)),
        "an event still names them"
    );
    let mail = race.store.outbox(race.org, all).await.unwrap();
    assert!(
        !format!("{mail:?}").contains("Joiner"),
        "a mail still carries their name"
    );
}

#[tokio::test]
async fn team_commands_racing_the_demotion_of_their_actor_are_refused_in_memory() {
    let store: Arc<DynStore> = Arc::new(MemoryStore::new());
    team_commands_racing_the_demotion_of_their_actor(store.clone()).await;
    a_team_page_racing_the_removal_of_its_supervisor(store.clone()).await;
    a_message_racing_the_removal_of_its_sender(store.clone()).await;
    two_administrators_deactivating_each_other(store.clone()).await;
    an_erasure_racing_a_command_of_its_member(store).await;
}

#[tokio::test]
async fn team_commands_racing_the_demotion_of_their_actor_are_refused_on_sqlite() {
    let store = sqlite().await;
    team_commands_racing_the_demotion_of_their_actor(store.clone()).await;
    a_team_page_racing_the_removal_of_its_supervisor(store.clone()).await;
    a_message_racing_the_removal_of_its_sender(store.clone()).await;
    two_administrators_deactivating_each_other(store.clone()).await;
    an_erasure_racing_a_command_of_its_member(store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn team_commands_racing_the_demotion_of_their_actor_are_refused_on_postgres() {
    on_postgres(|store| async move {
        team_commands_racing_the_demotion_of_their_actor(store.clone()).await;
        a_team_page_racing_the_removal_of_its_supervisor(store.clone()).await;
        a_message_racing_the_removal_of_its_sender(store.clone()).await;
        two_administrators_deactivating_each_other(store.clone()).await;
        an_erasure_racing_a_command_of_its_member(store).await;
    })
    .await;
}

/// On PostgreSQL the two commits can truly overlap: an acceptance holds the team's row
/// (its membership's foreign key) and has opened a stint, uncommitted, when the deletion
/// of the team starts. The deletion waits for it, and then closes that stint too.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_deleted_while_a_membership_into_it_commits_keeps_no_open_stint_on_postgres() {
    // spec: TEAM-4, INV-11
    use orgroster::sqlx;
    let Some(url) = crate::pg::url() else {
        eprintln!("skipped: set {} to run it", crate::pg::URL_VAR);
        return;
    };
    let schema = crate::pg::fresh_schema(&url).await;
    let app = format!("races_{}", uuid::Uuid::now_v7().simple());
    let store: Arc<DynStore> = Arc::new(crate::pg::store(&url, &schema, 2, Some(&app)).await);
    let race = Race::new(store).await;
    let team = race.team("Overlapped").await;
    // The acceptance's part, by hand: what its foreign key check locks, and its stint.
    let side = crate::pg::store(&url, &schema, 1, None).await;
    let mut acceptance = side.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM orgroster_teams WHERE id = $1 FOR KEY SHARE")
        .bind(team.id.as_uuid())
        .fetch_one(&mut *acceptance)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO orgroster_team_stints (organization_id, team_id, user_id, joined_at, \
         left_at) VALUES ($1, $2, $3, 0, NULL)",
    )
    .bind(race.org.as_uuid())
    .bind(team.id.as_uuid())
    .bind(UserId::new().as_uuid())
    .execute(&mut *acceptance)
    .await
    .unwrap();
    let deletion = tokio::spawn({
        let (roster, founder, org) = (race.roster.clone(), race.founder.clone(), race.org);
        async move { roster.delete_team(&founder, org, team.id).await }
    });
    let admin = crate::pg::admin(&url).await;
    while crate::pg::waiting_for_lock(&admin, &app).await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    acceptance.commit().await.unwrap();
    deletion.await.unwrap().expect("the team is deleted");
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orgroster_team_stints WHERE team_id = $1 AND left_at IS NULL",
    )
    .bind(team.id.as_uuid())
    .fetch_one(side.pool())
    .await
    .unwrap();
    assert_eq!(open, 0, "no stint stays open for a deleted team");
    admin.close().await;
    side.pool().close().await;
    crate::pg::drop_schema(&url, &schema).await;
}
