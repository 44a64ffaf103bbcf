//! The authorization matrix: every command and host action, for every kind of actor, written
//! out literally from the spec (ROLE-1, ROLE-4, ADM-2, TEAM-3, USR-1, USR-2, MEM-1, MEM-2,
//! MSG-3, ORG-5) and never computed from the policy code. Each cell runs in a fresh world, so
//! one allowed command cannot change what another cell sees.

use orgroster::{
    Actor, Audience, Capabilities, Capability, Error, FailingMailer, HostAction, InvitationFilter,
    InvitationId, MemberFilter, Message, OutboxId, OutboxMessage, Page, Permission, Role, Store,
    Subject, SuggestedCourses, TeamId, TeamPage, UserId,
};

use crate::fixture::{World, actor, all_pages, email, profile, team_name};

/// What a cell expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The command succeeds.
    Allow,
    /// The command fails with `Forbidden` naming the row's permission and changes nothing.
    Deny,
}

use Expect::{Allow, Deny};

/// The columns, in order.
const ACTORS: [&str; 8] = [
    "administrator",
    "manager",
    "supervisor of A",
    "member of A",
    "administrator+manager",
    "supervisor of A+manager",
    "non-member",
    "member removed a moment ago",
];

/// Rows: the command, the permission a refusal names, and one cell per actor of [`ACTORS`]:
/// administrator, manager, supervisor of A, member of A, administrator+manager,
/// supervisor of A+manager, non-member, removed member.
#[rustfmt::skip]
const TABLE: &[(&str, Permission, [Expect; 8])] = &[
    // Invitations (spec: ADM-2: learners with coursecloud_legacy; ROLE-1: administrators).
    ("invite_member",             Permission::InviteLearners,        [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("invite_members",            Permission::InviteLearners,        [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("invite_administrator",      Permission::ManageAdministrators,  [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("resend_invitation",         Permission::ManageInvitations,     [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("revoke_invitation",         Permission::ManageInvitations,     [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("invitations",               Permission::ManageInvitations,     [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("administrator_team",        Permission::ManageAdministrators,  [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    // Members and roles (spec: ROLE-1, ROLE-5, TEAM-3, TEAM-4).
    ("members",                   Permission::ViewMembers,           [Allow, Allow, Deny,  Deny,  Allow, Allow, Deny, Deny]),
    ("members of team A",         Permission::ViewTeam,              [Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    ("members of team B",         Permission::ViewTeam,              [Allow, Allow, Deny,  Deny,  Allow, Allow, Deny, Deny]),
    ("grant_role",                Permission::ManageRoles,           [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("revoke_role",               Permission::ManageRoles,           [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("remove_member",             Permission::ManageMembers,         [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    // Deactivation (spec: MEM-2).
    ("deactivate_member",         Permission::ManageMembers,         [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("reactivate_member",         Permission::ManageMembers,         [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("seat_usage",                Permission::ManageMembers,         [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    // Profiles (spec: USR-1).
    ("update_profile (own)",      Permission::UpdateOwnProfile,      [Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    // Leaving (spec: MEM-1): every member, on their own.
    ("leave_organization",        Permission::LeaveOrganization,     [Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    ("rename_organization",       Permission::RenameOrganization,    [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("organization_for",          Permission::ViewOrganization,      [Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    ("teams",                     Permission::ViewOrganization,      [Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    // Teams and team pages (spec: TEAM-1, TEAM-3).
    ("create_team",               Permission::ManageTeams,           [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("rename_team",               Permission::ManageTeams,           [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("delete_team",               Permission::ManageTeams,           [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("add_team_member A",         Permission::ManageTeamMembers,     [Allow, Deny,  Allow, Deny,  Allow, Allow, Deny, Deny]),
    ("add_team_member B",         Permission::ManageTeamMembers,     [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("remove_team_member A",      Permission::ManageTeamMembers,     [Allow, Deny,  Allow, Deny,  Allow, Allow, Deny, Deny]),
    ("remove_team_member B",      Permission::ManageTeamMembers,     [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("set_team_page A",           Permission::EditTeamPage,          [Allow, Deny,  Allow, Deny,  Allow, Allow, Deny, Deny]),
    ("set_team_page B",           Permission::EditTeamPage,          [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("team A",                    Permission::ViewTeam,              [Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    ("team B",                    Permission::ViewTeam,              [Allow, Allow, Deny,  Deny,  Allow, Allow, Deny, Deny]),
    // Messages (spec: MSG-1).
    ("send_message Everyone",     Permission::MessageEveryone,       [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("send_message Team(A)",      Permission::MessageTeam,           [Allow, Deny,  Allow, Deny,  Allow, Allow, Deny, Deny]),
    ("send_message Team(B)",      Permission::MessageTeam,           [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    // History and mail (spec: INV-12, MSG-2).
    ("audit_trail",               Permission::ViewAuditTrail,        [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("failed_mail",               Permission::ViewAuditTrail,        [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("retry_mail",                Permission::RetryMail,             [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    // Host actions (spec: ADM-2, USR-2, ROLE-1, STAT-2).
    ("DownloadCourse",            Permission::DownloadCourses,       [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("DeliverCourse",             Permission::DeliverCourses,        [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("ViewReports",               Permission::ViewReports,           [Allow, Allow, Deny,  Deny,  Allow, Allow, Deny, Deny]),
    ("DownloadReports",           Permission::DownloadReports,       [Allow, Allow, Deny,  Deny,  Allow, Allow, Deny, Deny]),
    ("PurchaseWithCard (own)",    Permission::PurchaseWithCard,      [Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("PurchaseWithCard (other)",  Permission::PurchaseWithCard,      [Deny,  Deny,  Deny,  Deny,  Deny,  Deny,  Deny, Deny]),
    ("CreatePayPerUseLicense",    Permission::CreatePayPerUseLicense,[Allow, Deny,  Deny,  Deny,  Allow, Deny,  Deny, Deny]),
    ("OpenList (own)",            Permission::AccessPersonalResource,[Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    ("OpenList (other)",          Permission::AccessPersonalResource,[Deny,  Deny,  Deny,  Deny,  Deny,  Deny,  Deny, Deny]),
    ("ViewCredentials (own)",     Permission::AccessPersonalResource,[Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
    ("ViewCredentials (other)",   Permission::AccessPersonalResource,[Deny,  Deny,  Deny,  Deny,  Deny,  Deny,  Deny, Deny]),
    ("ViewOrganizationAnalytics", Permission::ViewOrganizationAnalytics, [Allow, Allow, Deny, Deny, Allow, Allow, Deny, Deny]),
    ("ViewTeamAnalytics(A)",      Permission::ViewTeamAnalytics,     [Allow, Allow, Allow, Deny,  Allow, Allow, Deny, Deny]),
    ("ViewTeamAnalytics(B)",      Permission::ViewTeamAnalytics,     [Allow, Allow, Deny,  Deny,  Allow, Allow, Deny, Deny]),
    ("DownloadOwnCertificates",   Permission::DownloadOwnCertificates, [Allow, Allow, Allow, Allow, Allow, Allow, Deny, Deny]),
];

/// A world with one actor of each column, two teams and the targets commands act on.
struct Cast {
    world: World,
    actors: [Actor; 8],
    a: TeamId,
    b: TeamId,
    /// A plain member in no team: added to teams, granted Manager, removed.
    outsider: UserId,
    /// A manager in teams A and B: taken out of teams, loses Manager.
    insider: UserId,
    /// A pending learner invitation: resent, revoked.
    pending: InvitationId,
    /// The pending invitation's email, given up: retried.
    failed: OutboxId,
    /// A learner an administrator deactivated: reactivated.
    dormant: UserId,
    /// An administrator who also holds Manager, deactivated: refused everything (MEM-2).
    deactivated: Actor,
}

impl Cast {
    async fn new() -> Self {
        let world = World::with(
            Capabilities::default()
                .with(Capability::CoursecloudLegacy)
                .with(Capability::PayPerUse),
            true,
        )
        .await;
        let w = &world;
        let a = w.team("A").await;
        let b = w.team("B").await;
        let administrator = w.join("administrator", Role::Administrator, None).await;
        let manager = w.join("manager", Role::Manager, None).await;
        let supervisor = w.join("supervisor", Role::TeamSupervisor, Some(a)).await;
        let member = w.join("member", Role::Member, Some(a)).await;
        let admin_manager = w
            .join_with_manager("admin.manager", Role::Administrator, None)
            .await;
        let supervisor_manager = w
            .join_with_manager("supervisor.manager", Role::TeamSupervisor, Some(a))
            .await;
        let non_member = actor("stranger");
        let removed = w.join("removed", Role::Administrator, None).await;
        w.put_in_team(a, removed.user).await;
        w.roster
            .remove_member(&w.founder, w.org, removed.user)
            .await
            .expect("removing a member");
        let outsider = w.join("outsider", Role::Member, None).await.user;
        let insider = w.join("insider", Role::Manager, Some(a)).await.user;
        w.put_in_team(b, insider).await;
        let dormant = w.join("dormant", Role::Member, Some(a)).await.user;
        let deactivated = w
            .join_with_manager("deactivated", Role::Administrator, None)
            .await;
        for user in [dormant, deactivated.user] {
            w.roster
                .deactivate_member(&w.founder, w.org, user)
                .await
                .expect("deactivating a member");
        }
        let pending = w.invite(&actor("pending"), Role::Member, None).await;
        // Every queued email given up by a mail server that refuses them for good.
        w.deliver_through(FailingMailer::always_permanent()).await;
        let failed = all_pages(
            |page| w.store.failed_outbox(w.org, page),
            |m: &OutboxMessage| m.id.as_uuid(),
        )
        .await
        .into_iter()
        .find(|m| m.invitation() == Some(pending.invitation.id))
        .expect("the pending invitation's email, given up")
        .id;
        Self {
            actors: [
                administrator,
                manager,
                supervisor,
                member,
                admin_manager,
                supervisor_manager,
                non_member,
                removed,
            ],
            a,
            b,
            outsider,
            insider,
            pending: pending.invitation.id,
            failed,
            dormant,
            deactivated,
            world,
        }
    }

    /// Runs `command` as `who`, keeping only whether it worked.
    async fn run(&self, command: &str, who: &Actor) -> Result<(), Error> {
        let w = &self.world;
        let (r, o) = (&w.roster, w.org);
        let (a, b) = (self.a, self.b);
        let team = |t| MemberFilter::default().in_team(t);
        let page = || TeamPage {
            message: Some(Message::parse("Welcome").expect("a valid message")),
            suggested_courses: SuggestedCourses::parse(["rust-101", "sql-201"])
                .expect("valid courses"),
        };
        let subject = || Subject::parse("Hello").expect("a valid subject");
        let body = || Message::parse("Hello team").expect("a valid message");
        let host = |action| r.authorize(who, o, action);
        let other = w.founder.user;
        match command {
            "invite_member" => r
                .invite_member(who, o, email("new@example.com"), Role::Member, Some(a))
                .await
                .map(drop),
            "invite_members" => r
                .invite_members(
                    who,
                    o,
                    "new1@example.com, new2@example.com",
                    Role::Member,
                    None,
                )
                .await
                .map(drop),
            "invite_administrator" => r
                .invite_administrator(who, o, email("new.admin@example.com"), profile("N", "A"))
                .await
                .map(drop),
            "resend_invitation" => r.resend_invitation(who, o, self.pending).await.map(drop),
            "revoke_invitation" => r.revoke_invitation(who, o, self.pending).await.map(drop),
            "invitations" => r
                .invitations(who, o, InvitationFilter::default(), Page::default())
                .await
                .map(drop),
            "administrator_team" => r.administrator_team(who, o).await.map(drop),
            "members" => r
                .members(who, o, MemberFilter::default(), Page::default())
                .await
                .map(drop),
            "members of team A" => r.members(who, o, team(a), Page::default()).await.map(drop),
            "members of team B" => r.members(who, o, team(b), Page::default()).await.map(drop),
            "grant_role" => r
                .grant_role(who, o, self.outsider, Role::Manager)
                .await
                .map(drop),
            "revoke_role" => r
                .revoke_role(who, o, self.insider, Role::Manager)
                .await
                .map(drop),
            "remove_member" => r.remove_member(who, o, self.outsider).await.map(drop),
            "deactivate_member" => r.deactivate_member(who, o, self.outsider).await.map(drop),
            "reactivate_member" => r.reactivate_member(who, o, self.dormant).await.map(drop),
            "seat_usage" => r.seat_usage(who, o).await.map(drop),
            "update_profile (own)" => r
                .update_profile(who, o, profile("Renamed", "Self"))
                .await
                .map(drop),
            "leave_organization" => r.leave_organization(who, o).await.map(drop),
            "rename_organization" => r
                .rename_organization(who, o, "Renamed".parse().expect("a valid name"))
                .await
                .map(drop),
            "organization_for" => r.organization_for(who, o).await.map(drop),
            "teams" => r.teams(who, o, Page::first(10)).await.map(drop),
            "create_team" => r.create_team(who, o, team_name("C")).await.map(drop),
            "rename_team" => r.rename_team(who, o, b, team_name("Bee")).await.map(drop),
            "delete_team" => r.delete_team(who, o, b).await.map(drop),
            "add_team_member A" => r.add_team_member(who, o, a, self.outsider).await,
            "add_team_member B" => r.add_team_member(who, o, b, self.outsider).await,
            "remove_team_member A" => r.remove_team_member(who, o, a, self.insider).await,
            "remove_team_member B" => r.remove_team_member(who, o, b, self.insider).await,
            "set_team_page A" => r.set_team_page(who, o, a, page()).await.map(drop),
            "set_team_page B" => r.set_team_page(who, o, b, page()).await.map(drop),
            "team A" => r.team(who, o, a).await.map(drop),
            "team B" => r.team(who, o, b).await.map(drop),
            "send_message Everyone" => r
                .send_message(who, o, Audience::Everyone, subject(), body())
                .await
                .map(drop),
            "send_message Team(A)" => r
                .send_message(who, o, Audience::Team(a), subject(), body())
                .await
                .map(drop),
            "send_message Team(B)" => r
                .send_message(who, o, Audience::Team(b), subject(), body())
                .await
                .map(drop),
            "audit_trail" => r.audit_trail(who, o, Page::default()).await.map(drop),
            "failed_mail" => r.failed_mail(who, o, Page::default()).await.map(drop),
            "retry_mail" => r.retry_mail(who, o, self.failed).await.map(drop),
            "DownloadCourse" => host(HostAction::DownloadCourse).await,
            "DeliverCourse" => host(HostAction::DeliverCourse).await,
            "ViewReports" => host(HostAction::ViewReports).await,
            "DownloadReports" => host(HostAction::DownloadReports).await,
            "PurchaseWithCard (own)" => {
                host(HostAction::PurchaseWithCard {
                    card_owner: who.user,
                })
                .await
            }
            "PurchaseWithCard (other)" => {
                host(HostAction::PurchaseWithCard { card_owner: other }).await
            }
            "CreatePayPerUseLicense" => host(HostAction::CreatePayPerUseLicense).await,
            "OpenList (own)" => host(HostAction::OpenList { owner: who.user }).await,
            "OpenList (other)" => host(HostAction::OpenList { owner: other }).await,
            "ViewCredentials (own)" => host(HostAction::ViewCredentials { owner: who.user }).await,
            "ViewCredentials (other)" => host(HostAction::ViewCredentials { owner: other }).await,
            "ViewOrganizationAnalytics" => host(HostAction::ViewOrganizationAnalytics).await,
            "ViewTeamAnalytics(A)" => host(HostAction::ViewTeamAnalytics(a)).await,
            "ViewTeamAnalytics(B)" => host(HostAction::ViewTeamAnalytics(b)).await,
            "DownloadOwnCertificates" => host(HostAction::DownloadOwnCertificates).await,
            other => panic!("the matrix names an unknown command {other:?}"),
        }
    }
}

#[tokio::test]
async fn every_command_and_host_action_allows_exactly_the_actors_the_spec_names() {
    // spec: ROLE-1, ROLE-4, ADM-2, TEAM-3, USR-1, USR-2
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (command, permission, row) in TABLE {
        for (column, expect) in row.iter().enumerate() {
            cells += 1;
            let cast = Cast::new().await;
            let who = &cast.actors[column];
            let before = cast.world.snapshot().await;
            let result = cast.run(command, who).await;
            let cell = format!("{command} × {} (expected {expect:?})", ACTORS[column]);
            match (expect, result) {
                (Allow, Ok(())) => {}
                (Allow, Err(e)) => mismatches.push(format!("{cell}: refused with {e:?}")),
                (Deny, Ok(())) => mismatches.push(format!("{cell}: allowed")),
                (Deny, Err(Error::Forbidden { permission: named })) => {
                    if named != *permission {
                        mismatches.push(format!(
                            "{cell}: Forbidden names {named:?}, expected {permission:?}"
                        ));
                    }
                    let after = cast.world.snapshot().await;
                    if after != before {
                        mismatches.push(format!("{cell}: refused but the state changed"));
                    }
                }
                (Deny, Err(e)) => {
                    mismatches.push(format!("{cell}: expected Forbidden, got {e:?}"));
                }
            }
        }
    }
    assert_eq!(cells, TABLE.len() * ACTORS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ from the spec:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn a_deactivated_member_is_refused_every_command_and_host_action() {
    // spec: MEM-2, ROLE-4 — an administrator and manager, who may otherwise do everything.
    let mut mismatches = Vec::new();
    for (command, _, _) in TABLE {
        let cast = Cast::new().await;
        let before = cast.world.snapshot().await;
        match cast.run(command, &cast.deactivated).await {
            Err(Error::Deactivated) => {
                if cast.world.snapshot().await != before {
                    mismatches.push(format!("{command}: refused but the state changed"));
                }
            }
            other => mismatches.push(format!("{command}: expected Deactivated, got {other:?}")),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_matrix_names_every_command_once() {
    // spec: ROLE-4
    let mut names: Vec<&str> = TABLE.iter().map(|(name, _, _)| *name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a command is listed twice");
}
