//! Members and their roles: the four roles, every member a learner (ROLE-1, ROLE-3);
//! Administrator and Team Supervisor never held together, whatever the route (ROLE-2, ROLE-5);
//! administrators as equals (ADM-1, ADM-2) and the last one who stays (ADM-5); access lost at
//! once on removal or demotion (ROLE-4); and what stays a member's own: their profile (USR-1)
//! and their private resources (USR-2).

use orgroster::{
    Actor, Audience, Capability, Error, EventKind, HostAction, InvitationFilter, MemberFilter,
    Page, Permission, Role, UserId,
};

use crate::fixture::{
    World, actor, assert_actionable, email, learners_capability, message, newcomer, profile,
    subject, team_name,
};

#[tokio::test]
async fn there_are_four_roles_every_member_is_a_learner_and_manager_combines_with_the_others() {
    // spec: ROLE-1, ROLE-3
    assert_eq!(
        Role::ALL,
        [
            Role::Administrator,
            Role::Manager,
            Role::TeamSupervisor,
            Role::Member
        ]
    );
    let w = World::new().await;
    let lee = w.join("lee", Role::Member, None).await;
    let mia = w.join("mia", Role::Manager, None).await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
    let sam = w.join("sam", Role::Administrator, None).await;
    assert_eq!(w.roles(lee.user).await, [Role::Member]);
    assert_eq!(w.roles(mia.user).await, [Role::Manager, Role::Member]);
    assert_eq!(
        w.roles(sue.user).await,
        [Role::TeamSupervisor, Role::Member]
    );
    assert_eq!(w.roles(sam.user).await, [Role::Administrator, Role::Member]);

    for who in [&sam, &sue] {
        w.roster
            .grant_role(&w.founder, w.org, who.user, Role::Manager)
            .await
            .unwrap();
    }
    assert_eq!(
        w.roles(sam.user).await,
        [Role::Administrator, Role::Manager, Role::Member]
    );
    assert_eq!(
        w.roles(sue.user).await,
        [Role::Manager, Role::TeamSupervisor, Role::Member]
    );

    let before = w.snapshot().await;
    let err = w
        .roster
        .revoke_role(&w.founder, w.org, lee.user, Role::Member)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LearnerRoleIsPermanent));
    assert_eq!(w.snapshot().await, before);

    // What each role is for.
    w.roster
        .authorize(&mia, w.org, HostAction::ViewOrganizationAnalytics)
        .await
        .unwrap();
    w.roster
        .authorize(&lee, w.org, HostAction::DownloadOwnCertificates)
        .await
        .unwrap();
    for denied in [
        HostAction::ViewOrganizationAnalytics,
        HostAction::ViewReports,
    ] {
        assert!(matches!(
            w.roster.authorize(&lee, w.org, denied).await,
            Err(Error::Forbidden { .. })
        ));
    }
}

#[tokio::test]
async fn administrator_and_team_supervisor_are_never_held_together_and_never_swapped() {
    // spec: ROLE-2
    let w = World::new().await;
    let sam = w.join("sam", Role::Administrator, None).await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
    let before = w.snapshot().await;

    let err = w
        .roster
        .grant_role(&w.founder, w.org, sam.user, Role::TeamSupervisor)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::RolesNotCumulative {
            held: Role::Administrator,
            requested: Role::TeamSupervisor
        }
    ));
    assert_actionable(&err, &["Team Supervisor", "Administrator", "revoke"]);
    let err = w
        .roster
        .grant_role(&w.founder, w.org, sue.user, Role::Administrator)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::RolesNotCumulative {
            held: Role::TeamSupervisor,
            requested: Role::Administrator
        }
    ));
    assert_eq!(w.snapshot().await, before, "never swapped silently");
    assert_eq!(w.roles(sam.user).await, [Role::Administrator, Role::Member]);
    assert_eq!(
        w.roles(sue.user).await,
        [Role::TeamSupervisor, Role::Member]
    );

    // The way through is explicit: revoke, then grant.
    w.roster
        .revoke_role(&w.founder, w.org, sue.user, Role::TeamSupervisor)
        .await
        .unwrap();
    w.roster
        .grant_role(&w.founder, w.org, sue.user, Role::Administrator)
        .await
        .unwrap();
    assert_eq!(w.roles(sue.user).await, [Role::Administrator, Role::Member]);
}

#[tokio::test]
async fn no_invitation_can_make_a_supervisor_an_administrator_too() {
    // spec: ROLE-5, ROLE-2
    let w = World::new().await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
    let mia = w.join("mia", Role::Manager, None).await;
    let before = w.snapshot().await;

    let err = w
        .roster
        .invite_administrator(&w.founder, w.org, sue.email.clone(), profile("Sue", "S"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyMember), "{err:?}");
    for role_path in [
        w.roster
            .invite_member(
                &w.founder,
                w.org,
                email("x@example.com"),
                Role::Administrator,
                None,
            )
            .await
            .map(drop),
        w.roster
            .invite_members(
                &w.founder,
                w.org,
                "x@example.com",
                Role::Administrator,
                None,
            )
            .await
            .map(drop),
    ] {
        assert!(matches!(role_path, Err(Error::Invalid(_))), "{role_path:?}");
    }
    assert_eq!(w.snapshot().await, before);

    // Invited under another address that she then signs in with.
    let sue_elsewhere = Actor::new(sue.user, email("sue.other@example.com"));
    let invited = w
        .roster
        .invite_administrator(
            &w.founder,
            w.org,
            sue_elsewhere.email.clone(),
            profile("Sue", "S"),
        )
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation(&sue_elsewhere, &invited.token.expose(), newcomer("Sue"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyMember), "{err:?}");
    assert_eq!(w.snapshot().await, before);
    assert_eq!(
        w.roles(sue.user).await,
        [Role::TeamSupervisor, Role::Member]
    );

    // Only administrators grant roles.
    for granter in [&mia, &sue] {
        let err = w
            .roster
            .grant_role(granter, w.org, sue.user, Role::Manager)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Forbidden {
                permission: Permission::ManageRoles
            }
        ));
    }
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn every_administrator_has_the_same_permissions_including_adding_administrators() {
    // spec: ADM-1, ADM-2
    let w = World::with(learners_capability().with(Capability::PayPerUse), true).await;
    let sam = w.join("sam", Role::Administrator, None).await;
    // An invited administrator adds another administrator, who accepts.
    let kim = actor("kim");
    let invited = w
        .roster
        .invite_administrator(&sam, w.org, kim.email.clone(), profile("Kim", "Lee"))
        .await
        .unwrap();
    w.accept(&kim, &invited.token).await;
    let sales = w.team("Sales").await;

    for (i, admin) in [&w.founder, &sam, &kim].into_iter().enumerate() {
        for action in [
            HostAction::DownloadCourse,
            HostAction::DeliverCourse,
            HostAction::ViewReports,
            HostAction::DownloadReports,
            HostAction::PurchaseWithCard {
                card_owner: admin.user,
            },
            HostAction::CreatePayPerUseLicense,
            HostAction::ViewOrganizationAnalytics,
            HostAction::ViewTeamAnalytics(sales),
        ] {
            w.roster
                .authorize(admin, w.org, action)
                .await
                .unwrap_or_else(|e| panic!("{} {action:?}: {e}", admin.email));
        }
        let r = &w.roster;
        r.administrator_team(admin, w.org).await.unwrap();
        r.invitations(admin, w.org, InvitationFilter::default(), Page::default())
            .await
            .unwrap();
        r.members(admin, w.org, MemberFilter::default(), Page::default())
            .await
            .unwrap();
        r.audit_trail(admin, w.org, Page::default()).await.unwrap();
        r.seat_usage(admin, w.org).await.unwrap();
        r.invite_member(
            admin,
            w.org,
            email(&format!("learner{i}@example.com")),
            Role::Member,
            Some(sales),
        )
        .await
        .unwrap();
        r.invite_administrator(
            admin,
            w.org,
            email(&format!("admin{i}@example.com")),
            profile("New", "Admin"),
        )
        .await
        .unwrap();
        r.create_team(admin, w.org, team_name(&format!("Team {i}")))
            .await
            .unwrap();
        r.send_message(
            admin,
            w.org,
            Audience::Everyone,
            subject("Hello"),
            message("Hi all"),
        )
        .await
        .unwrap();
    }
    // The founder has nothing more than the others: an invited administrator may remove them.
    w.roster
        .remove_member(&kim, w.org, w.founder.user)
        .await
        .unwrap();
    assert!(w.member(w.founder.user).await.is_none());
}

#[tokio::test]
async fn the_last_administrator_can_be_neither_removed_nor_demoted() {
    // spec: ADM-5
    let w = World::new().await;
    let before = w.snapshot().await;
    let me = w.founder.user;
    for result in [
        w.roster
            .remove_member(&w.founder, w.org, me)
            .await
            .map(drop),
        w.roster
            .revoke_role(&w.founder, w.org, me, Role::Administrator)
            .await
            .map(drop),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::LastAdministrator), "{err:?}");
        assert_actionable(&err, &["without an administrator", "first"]);
    }
    assert_eq!(w.snapshot().await, before);

    let sam = w.join("sam", Role::Administrator, None).await;
    w.roster
        .revoke_role(&sam, w.org, me, Role::Administrator)
        .await
        .unwrap();
    let before = w.snapshot().await;
    for result in [
        w.roster
            .remove_member(&sam, w.org, sam.user)
            .await
            .map(drop),
        w.roster
            .revoke_role(&sam, w.org, sam.user, Role::Administrator)
            .await
            .map(drop),
    ] {
        assert!(
            matches!(result, Err(Error::LastAdministrator)),
            "{result:?}"
        );
    }
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn a_removed_or_demoted_member_loses_access_at_once() {
    // spec: ROLE-4
    let w = World::new().await;
    let a = w.team("A").await;
    let sam = w.join("sam", Role::Administrator, None).await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(a)).await;
    let lee = w.join("lee", Role::Member, None).await;
    w.roster
        .invite_member(&sam, w.org, email("one@example.com"), Role::Member, None)
        .await
        .unwrap();
    w.roster
        .add_team_member(&sue, w.org, a, lee.user)
        .await
        .unwrap();

    // Demoted: the very next command is refused.
    w.roster
        .revoke_role(&w.founder, w.org, sam.user, Role::Administrator)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .invite_member(&sam, w.org, email("two@example.com"), Role::Member, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::InviteLearners
        }
    ));
    assert_actionable(&err, &["invite_learners"]);
    assert_eq!(w.snapshot().await, before);

    // Taken out of the team: no longer manages it.
    w.roster
        .remove_team_member(&w.founder, w.org, a, sue.user)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .remove_team_member(&sue, w.org, a, lee.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    assert_eq!(w.snapshot().await, before);

    // Removed: nothing at all, not even their own profile.
    w.roster
        .remove_member(&w.founder, w.org, sam.user)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .update_profile(&sam, w.org, profile("Sam", "Gone"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    for action in [
        HostAction::DownloadOwnCertificates,
        HostAction::OpenList { owner: sam.user },
    ] {
        assert!(matches!(
            w.roster.authorize(&sam, w.org, action).await,
            Err(Error::Forbidden { .. })
        ));
    }
    assert!(matches!(
        w.roster.teams(&sam, w.org, Page::default()).await,
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn a_member_updates_their_own_profile_and_nobody_can_rename_someone_else() {
    // spec: USR-1
    let w = World::new().await;
    let ada = w.join("ada", Role::Member, None).await;
    let ada_before = w.member(ada.user).await.unwrap().profile;

    let updated = w
        .roster
        .update_profile(&w.founder, w.org, profile("Maya", "Okafor"))
        .await
        .unwrap();
    assert_eq!(updated.user, w.founder.user);
    assert_eq!(
        w.member(w.founder.user).await.unwrap().profile,
        profile("Maya", "Okafor")
    );
    // The command has no target: an administrator renaming "someone" renames themselves only.
    assert_eq!(w.member(ada.user).await.unwrap().profile, ada_before);

    w.roster
        .update_profile(&ada, w.org, profile("Ada", "Lovelace"))
        .await
        .unwrap();
    assert_eq!(
        w.member(ada.user).await.unwrap().profile,
        profile("Ada", "Lovelace")
    );
    assert_eq!(
        w.member(w.founder.user).await.unwrap().profile,
        profile("Maya", "Okafor")
    );

    // Another account signed in with Ada's address is not Ada.
    let impostor = Actor::new(UserId::new(), ada.email.clone());
    let before = w.snapshot().await;
    let err = w
        .roster
        .update_profile(&impostor, w.org, profile("Evil", "Twin"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::UpdateOwnProfile
        }
    ));
    assert_eq!(w.snapshot().await, before);
    let renamed: Vec<UserId> = w
        .events()
        .await
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ProfileUpdated { user } => Some(user),
            _ => None,
        })
        .collect();
    assert_eq!(renamed, [w.founder.user, ada.user]);
}

#[tokio::test]
async fn joining_the_administrator_team_never_opens_another_members_private_resources() {
    // spec: USR-2, ADM-2
    let w = World::new().await;
    let sam = w.join("sam", Role::Administrator, None).await;
    for (me, other) in [(&sam, &w.founder), (&w.founder, &sam)] {
        for (action, permission) in [
            (
                HostAction::OpenList { owner: other.user },
                Permission::AccessPersonalResource,
            ),
            (
                HostAction::PurchaseWithCard {
                    card_owner: other.user,
                },
                Permission::PurchaseWithCard,
            ),
            (
                HostAction::ViewCredentials { owner: other.user },
                Permission::AccessPersonalResource,
            ),
        ] {
            let err = w.roster.authorize(me, w.org, action).await.unwrap_err();
            assert!(
                matches!(err, Error::Forbidden { permission: p } if p == permission),
                "{action:?}: {err:?}"
            );
        }
        for own in [
            HostAction::OpenList { owner: me.user },
            HostAction::PurchaseWithCard {
                card_owner: me.user,
            },
            HostAction::ViewCredentials { owner: me.user },
        ] {
            w.roster.authorize(me, w.org, own).await.unwrap();
        }
    }
}
