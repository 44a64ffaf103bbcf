//! Every `Error` variant a command can produce, provoked at least once: each is typed, says
//! what to do, and leaves the state exactly as it was (spec: ERR-1, ERR-2).
//!
//! `Conflict` and `Store` are provoked through [`FaultyStore`], a `MemoryStore` whose commits
//! can be made to fail. `Randomness` is not provoked: the service draws tokens from the
//! operating system's CSPRNG through a private `Fresh` implementation that no test can
//! replace, and `getrandom` does not fail on a working OS; the variant's message is still
//! checked below.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Duration;
use orgroster::{
    AcceptOptions, Capabilities, Capability, Clock as _, DynStore, EmailAddress, EntityKind, Error,
    InvitationId, InvitationStatus, OrganizationId, Permission, Role, Roster, Store, StoreError,
    TeamId, UserId,
};

use crate::fixture::{World, actor, assert_actionable, email, newcomer, profile, team_name};
use crate::wrapped_store::{CommitHook, HookedStore};

/// Takes a snapshot, runs `$command`, checks it fails with `$pattern` and a message holding
/// `$words`, and that the snapshot did not change.
macro_rules! fails_unchanged {
    ($world:expr, $command:expr, $pattern:pat, $words:expr) => {{
        let before = $world.snapshot().await;
        let Err(err) = $command.await else {
            panic!("{} should fail", stringify!($command))
        };
        assert!(
            matches!(err, $pattern),
            "{} failed with {err:?}, expected {}",
            stringify!($command),
            stringify!($pattern)
        );
        assert_actionable(&err, $words);
        assert_eq!(
            $world.snapshot().await,
            before,
            "{} changed the state",
            stringify!($command)
        );
        err
    }};
}

#[tokio::test]
async fn a_command_without_the_permission_fails_with_forbidden_naming_it() {
    // spec: ERR-1, ERR-2, ROLE-4
    let w = World::new().await;
    let lee = w.join("lee", Role::Member, None).await;
    fails_unchanged!(
        w,
        w.roster.create_team(&lee, w.org, team_name("Mine")),
        Error::Forbidden {
            permission: Permission::ManageTeams
        },
        &["forbidden", "manage_teams"]
    );
}

#[tokio::test]
async fn inviting_learners_without_the_capability_fails_with_capability_required() {
    // spec: ERR-1, ERR-2, ADM-2
    let w = World::with(Capabilities::default(), true).await;
    fails_unchanged!(
        w,
        w.roster.invite_member(
            &w.founder,
            w.org,
            email("lee@example.com"),
            Role::Member,
            None
        ),
        Error::CapabilityRequired {
            capability: Capability::CoursecloudLegacy
        },
        &["coursecloud_legacy", "contact support"]
    );
}

#[tokio::test]
async fn a_missing_organization_team_member_or_invitation_fails_with_not_found() {
    // spec: ERR-1, ERR-2
    let w = World::new().await;
    fails_unchanged!(
        w,
        w.roster
            .create_team(&w.founder, OrganizationId::new(), team_name("X")),
        Error::NotFound {
            entity: EntityKind::Organization
        },
        &["organization not found"]
    );
    fails_unchanged!(
        w,
        w.roster
            .rename_team(&w.founder, w.org, TeamId::new(), team_name("X")),
        Error::NotFound {
            entity: EntityKind::Team
        },
        &["team not found"]
    );
    fails_unchanged!(
        w,
        w.roster
            .grant_role(&w.founder, w.org, UserId::new(), Role::Manager),
        Error::NotFound {
            entity: EntityKind::Member
        },
        &["member not found"]
    );
    fails_unchanged!(
        w,
        w.roster
            .revoke_invitation(&w.founder, w.org, InvitationId::new()),
        Error::NotFound {
            entity: EntityKind::Invitation
        },
        &["invitation not found"]
    );
    let unknown = orgroster::InvitationToken::from_bytes([7; 32]).expose();
    fails_unchanged!(
        w,
        w.roster.decline_invitation(&unknown),
        Error::NotFound {
            entity: EntityKind::Invitation
        },
        &["invitation not found"]
    );
    // From the inbox: an unknown id, and one of another user's invitation (spec: INV-15).
    let sams = w
        .invite(&actor("sam"), Role::Member, None)
        .await
        .invitation
        .id;
    for id in [InvitationId::new(), sams] {
        fails_unchanged!(
            w,
            w.roster
                .accept_invitation_by_id(&w.founder, id, newcomer("Maya")),
            Error::NotFound {
                entity: EntityKind::Invitation
            },
            &["invitation not found"]
        );
        fails_unchanged!(
            w,
            w.roster.decline_invitation_by_id(&w.founder, id),
            Error::NotFound {
                entity: EntityKind::Invitation
            },
            &["invitation not found"]
        );
    }
}

#[tokio::test]
async fn malformed_input_fails_with_invalid() {
    // spec: ERR-1, ERR-2, ERR-3
    let w = World::new().await;
    fails_unchanged!(
        w,
        w.roster
            .invite_members(&w.founder, w.org, " \n , ; \t", Role::Member, None),
        Error::Invalid(_),
        &["invalid input", "pasted addresses"]
    );
    fails_unchanged!(
        w,
        w.roster.preview_invitation("not-a-token", false),
        Error::Invalid(_),
        &["invalid input", "link"]
    );
    fails_unchanged!(
        w,
        w.roster.invite_member(
            &w.founder,
            w.org,
            email("x@example.com"),
            Role::Administrator,
            None
        ),
        Error::Invalid(_),
        &["invalid input", "administrators"]
    );
}

#[tokio::test]
async fn accepting_an_expired_invitation_fails_and_keeps_it_pending() {
    // spec: ERR-1, ERR-2, INV-2
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;
    w.advance(Duration::days(10));
    fails_unchanged!(
        w,
        w.roster
            .accept_invitation(&sam, &invited.token.expose(), newcomer("Sam")),
        Error::InvitationExpired { .. },
        &["expired", "resend"]
    );
    assert_eq!(
        w.invitation(invited.invitation.id).await.status,
        InvitationStatus::Pending
    );
}

#[tokio::test]
async fn revoking_an_invitation_twice_fails_with_invitation_not_pending() {
    // spec: ERR-1, ERR-2, INV-1
    let w = World::new().await;
    let invited = w.invite(&actor("sam"), Role::Member, None).await;
    w.roster
        .revoke_invitation(&w.founder, w.org, invited.invitation.id)
        .await
        .unwrap();
    fails_unchanged!(
        w,
        w.roster
            .revoke_invitation(&w.founder, w.org, invited.invitation.id),
        Error::InvitationNotPending {
            status: InvitationStatus::Revoked
        },
        &["revoked", "new invitation"]
    );
}

#[tokio::test]
async fn accepting_while_signed_in_with_another_address_fails_with_email_mismatch() {
    // spec: ERR-1, ERR-2, INV-6
    let w = World::new().await;
    let invited = w.invite(&actor("sam"), Role::Member, None).await;
    let other = actor("someone.else");
    fails_unchanged!(
        w,
        w.roster
            .accept_invitation(&other, &invited.token.expose(), newcomer("Sam")),
        Error::EmailMismatch,
        &["another email address", "sign in"]
    );
}

#[tokio::test]
async fn accepting_with_an_existing_account_unacknowledged_fails_with_warning_not_acknowledged() {
    // spec: ERR-1, ERR-2, INV-5
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;
    let options = AcceptOptions::new(profile("Sam", "R")).existing_account(false);
    fails_unchanged!(
        w,
        w.roster
            .accept_invitation(&sam, &invited.token.expose(), options),
        Error::WarningNotAcknowledged,
        &["warning", "acknowledged"]
    );
}

#[tokio::test]
async fn granting_supervisor_to_an_administrator_fails_with_roles_not_cumulative() {
    // spec: ERR-1, ERR-2, ROLE-2
    let w = World::new().await;
    fails_unchanged!(
        w,
        w.roster
            .grant_role(&w.founder, w.org, w.founder.user, Role::TeamSupervisor),
        Error::RolesNotCumulative {
            held: Role::Administrator,
            requested: Role::TeamSupervisor
        },
        &["cannot be held together", "revoke"]
    );
}

#[tokio::test]
async fn granting_a_held_role_fails_with_role_already_held() {
    // spec: ERR-1, ERR-2
    let w = World::new().await;
    fails_unchanged!(
        w,
        w.roster
            .grant_role(&w.founder, w.org, w.founder.user, Role::Administrator),
        Error::RoleAlreadyHeld {
            role: Role::Administrator
        },
        &["already holds", "Administrator"]
    );
}

#[tokio::test]
async fn revoking_a_role_not_held_fails_with_role_not_held() {
    // spec: ERR-1, ERR-2
    let w = World::new().await;
    let lee = w.join("lee", Role::Member, None).await;
    fails_unchanged!(
        w,
        w.roster
            .revoke_role(&w.founder, w.org, lee.user, Role::Manager),
        Error::RoleNotHeld {
            role: Role::Manager
        },
        &["does not hold", "Manager"]
    );
}

#[tokio::test]
async fn revoking_the_member_role_fails_with_learner_role_is_permanent() {
    // spec: ERR-1, ERR-2, ROLE-3
    let w = World::new().await;
    let lee = w.join("lee", Role::Member, None).await;
    fails_unchanged!(
        w,
        w.roster
            .revoke_role(&w.founder, w.org, lee.user, Role::Member),
        Error::LearnerRoleIsPermanent,
        &["Member role", "remove the member"]
    );
}

#[tokio::test]
async fn removing_the_last_administrator_fails_with_last_administrator() {
    // spec: ERR-1, ERR-2, ADM-5
    let w = World::new().await;
    fails_unchanged!(
        w,
        w.roster.remove_member(&w.founder, w.org, w.founder.user),
        Error::LastAdministrator,
        &["without an administrator", "first"]
    );
}

#[tokio::test]
async fn inviting_an_administrator_without_a_license_fails_with_no_license() {
    // spec: ERR-1, ERR-2, ORG-3
    let w = World::with(Capabilities::default(), false).await;
    fails_unchanged!(
        w,
        w.roster.invite_administrator(
            &w.founder,
            w.org,
            email("sam@example.com"),
            profile("Sam", "R")
        ),
        Error::NoLicense,
        &["no license", "contact support"]
    );
}

#[tokio::test]
async fn inviting_an_administrator_with_a_legacy_integration_fails_with_legacy_integration() {
    // spec: ERR-1, ERR-2, ORG-2
    let w = World::with(
        Capabilities::default().with(Capability::LegacyIntegration),
        true,
    )
    .await;
    fails_unchanged!(
        w,
        w.roster.invite_administrator(
            &w.founder,
            w.org,
            email("sam@example.com"),
            profile("Sam", "R")
        ),
        Error::LegacyIntegration,
        &["legacy integration", "contact support"]
    );
}

#[tokio::test]
async fn inviting_beyond_the_seat_cap_fails_with_seat_limit_saying_by_how_much() {
    // spec: ERR-1, ERR-2, ORG-4
    let w = World::new().await;
    w.roster.set_seat_cap(w.org, Some(1)).await.unwrap();
    fails_unchanged!(
        w,
        w.roster.invite_member(
            &w.founder,
            w.org,
            email("lee@example.com"),
            Role::Member,
            None
        ),
        Error::SeatLimit { cap: 1, excess: 1 },
        &["seat cap of 1", "by 1"]
    );
}

#[tokio::test]
async fn inviting_a_member_fails_with_already_member() {
    // spec: ERR-1, ERR-2, INV-7
    let w = World::new().await;
    let upper = EmailAddress::parse("FOUNDER@example.com").unwrap();
    fails_unchanged!(
        w,
        w.roster
            .invite_member(&w.founder, w.org, upper, Role::Member, None),
        Error::AlreadyMember,
        &["already a member"]
    );
}

#[tokio::test]
async fn inviting_an_address_with_a_pending_invitation_fails_with_already_invited() {
    // spec: ERR-1, ERR-2, INV-8
    let w = World::new().await;
    w.invite(&actor("sam"), Role::Member, None).await;
    fails_unchanged!(
        w,
        w.roster.invite_member(
            &w.founder,
            w.org,
            email("SAM@example.com"),
            Role::Manager,
            None
        ),
        Error::AlreadyInvited,
        &["pending invitation", "resend"]
    );
}

#[tokio::test]
async fn adding_a_team_member_twice_fails_with_already_in_team() {
    // spec: ERR-1, ERR-2, TEAM-1
    let w = World::new().await;
    let a = w.team("A").await;
    let lee = w.join("lee", Role::Member, Some(a)).await;
    fails_unchanged!(
        w,
        w.roster.add_team_member(&w.founder, w.org, a, lee.user),
        Error::AlreadyInTeam,
        &["already belongs"]
    );
}

#[tokio::test]
async fn removing_someone_from_a_team_they_are_not_in_fails_with_not_in_team() {
    // spec: ERR-1, ERR-2, TEAM-1
    let w = World::new().await;
    let a = w.team("A").await;
    let lee = w.join("lee", Role::Member, None).await;
    fails_unchanged!(
        w,
        w.roster.remove_team_member(&w.founder, w.org, a, lee.user),
        Error::NotInTeam,
        &["does not belong"]
    );
}

#[tokio::test]
async fn naming_a_team_like_another_regardless_of_case_fails_with_team_name_taken() {
    // spec: ERR-1, ERR-2, TEAM-1
    let w = World::new().await;
    w.team("Sales EMEA").await;
    let b = w.team("Support").await;
    fails_unchanged!(
        w,
        w.roster
            .create_team(&w.founder, w.org, team_name("sales emea")),
        Error::TeamNameTaken,
        &["already exists", "another name"]
    );
    fails_unchanged!(
        w,
        w.roster
            .rename_team(&w.founder, w.org, b, team_name("SALES EMEA")),
        Error::TeamNameTaken,
        &["already exists"]
    );
}

#[tokio::test]
async fn a_store_that_keeps_conflicting_ends_in_conflict_with_nothing_changed() {
    // spec: ERR-1, ERR-2, INV-11
    let w = World::new().await;
    let (roster, faulty) = faulty_roster(&w);
    faulty.fail_commits_with(Fault::Conflict);
    fails_unchanged!(
        w,
        roster.create_team(&w.founder, w.org, team_name("A")),
        Error::Conflict,
        &["concurrently", "nothing was changed", "try again"]
    );
    assert!(
        faulty.commits() > 1,
        "the service decided again after a conflict"
    );
}

#[tokio::test]
async fn a_failing_store_ends_in_store_with_nothing_changed() {
    // spec: ERR-1, ERR-2
    let w = World::new().await;
    let (roster, faulty) = faulty_roster(&w);
    faulty.fail_commits_with(Fault::Backend);
    let err = fails_unchanged!(
        w,
        roster.invite_member(
            &w.founder,
            w.org,
            email("lee@example.com"),
            Role::Member,
            None
        ),
        Error::Store(_),
        &["store failed", "nothing was changed"]
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause is kept"
    );
    faulty.heal();
    roster
        .invite_member(
            &w.founder,
            w.org,
            email("lee@example.com"),
            Role::Member,
            None,
        )
        .await
        .unwrap();
}

#[test]
fn the_randomness_error_says_what_happened_and_what_to_do() {
    // spec: ERR-1 (the variant cannot be provoked: see the module documentation)
    let err = Error::Randomness("entropy source unavailable".into());
    assert_actionable(&err, &["random number generator", "try again"]);
}

/// How [`FaultyStore`] fails its commits.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Every commit meets a concurrent change.
    Conflict,
    /// Every commit fails in the backend.
    Backend,
}

/// A `MemoryStore` whose commits fail on demand; reads always go through.
type FaultyStore = HookedStore<Faults>;

/// The hook of a [`FaultyStore`]: the fault its commits fail with, if any, and how many
/// commits were tried.
#[derive(Default)]
struct Faults {
    fault: Mutex<Option<Fault>>,
    commits: Mutex<u32>,
}

#[async_trait::async_trait]
impl CommitHook for Faults {
    async fn before_commit(&self, _inner: &Arc<DynStore>) -> Result<(), StoreError> {
        *self.commits.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let fault = *self.fault.lock().unwrap_or_else(PoisonError::into_inner);
        match fault {
            None => Ok(()),
            Some(Fault::Conflict) => Err(StoreError::Conflict {
                entity: "organization",
            }),
            Some(Fault::Backend) => Err(StoreError::Backend {
                backend: "faulty",
                source: "disk full (simulated)".into(),
            }),
        }
    }
}

impl FaultyStore {
    fn fail_commits_with(&self, fault: Fault) {
        *self
            .hook()
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(fault);
    }

    fn heal(&self) {
        *self
            .hook()
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn commits(&self) -> u32 {
        *self
            .hook()
            .commits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A roster like `w`'s whose commits go through a [`FaultyStore`] over `w`'s store.
fn faulty_roster(w: &World) -> (Roster, FaultyStore) {
    let faulty = HookedStore::new(Arc::new(w.store.clone()), Faults::default());
    let roster = Roster::builder(
        faulty.clone(),
        w.mailer.clone(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(w.clock.clone())
    .build();
    (roster, faulty)
}

#[tokio::test]
async fn retrying_an_email_that_is_still_queued_fails_with_mail_not_retriable() {
    // spec: ERR-1, ERR-2, MSG-3
    let w = World::new().await;
    w.invite(&actor("queued"), Role::Member, None).await;
    let queued = w
        .store
        .claim_outbox(
            orgroster::ClaimId::new(),
            w.clock.now(),
            Duration::zero(),
            10,
        )
        .await
        .unwrap()
        .pop()
        .expect("the invitation's email, queued");
    fails_unchanged!(
        w,
        w.roster.retry_mail(&w.founder, w.org, queued.id),
        Error::MailNotRetriable { .. },
        &["cannot be retried", "still queued"]
    );
}

#[tokio::test]
async fn a_deactivated_actor_fails_with_deactivated() {
    // spec: MEM-2
    let w = World::new().await;
    let sam = w.join("sam", Role::Administrator, None).await;
    w.roster
        .deactivate_member(&w.founder, w.org, sam.user)
        .await
        .unwrap();
    fails_unchanged!(
        w,
        w.roster.create_team(&sam, w.org, team_name("Night")),
        Error::Deactivated,
        &["deactivated", "reactivate"]
    );
}

#[tokio::test]
async fn deactivating_twice_or_reactivating_an_active_member_fails_typed() {
    // spec: MEM-2
    let w = World::new().await;
    let ann = w.join("ann", Role::Member, None).await;
    fails_unchanged!(
        w,
        w.roster.reactivate_member(&w.founder, w.org, ann.user),
        Error::NotDeactivated,
        &["active", "deactivated"]
    );
    w.roster
        .deactivate_member(&w.founder, w.org, ann.user)
        .await
        .unwrap();
    fails_unchanged!(
        w,
        w.roster.deactivate_member(&w.founder, w.org, ann.user),
        Error::AlreadyDeactivated,
        &["already deactivated", "reactivate"]
    );
}

#[tokio::test]
async fn erasing_a_non_member_or_the_last_administrator_fails_typed() {
    // spec: USR-5, ADM-5
    let w = World::new().await;
    fails_unchanged!(
        w,
        w.roster.erase_member(w.org, actor("stranger").user),
        Error::NotFound {
            entity: EntityKind::Member
        },
        &["not found"]
    );
    fails_unchanged!(
        w,
        w.roster.erase_member(w.org, w.founder.user),
        Error::LastAdministrator,
        &["administrator", "first"]
    );
}

#[tokio::test]
async fn inviting_a_first_administrator_where_there_is_one_fails_with_administrator_exists() {
    // spec: ORG-5
    let w = World::new().await;
    let pat = orgroster::BackOfficeUser::new(UserId::new(), profile("Pat", "Platform"));
    fails_unchanged!(
        w,
        w.roster.invite_first_administrator(
            &pat,
            w.org,
            email("ann@example.com"),
            profile("Ann", "A")
        ),
        Error::AdministratorExists,
        &["already has an administrator", "invite"]
    );
}
