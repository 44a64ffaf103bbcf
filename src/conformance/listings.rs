//! Listings: keyset pagination, member filters, and ids that belong to another organization.

use super::fixtures::*;

/// Listings are keyset-paginated by id: ascending, complete, without repeats, and stable
/// when rows are added while paging.
pub async fn pagination_is_ordered_complete_and_stable(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let m = new_member(org.id, email(&format!("p{i}"), org.id));
        ids.push(m.id);
        put(&*store, org.id, vec![Write::PutMember(m)])
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut page = Page::first(10);
    let mut added = false;
    loop {
        let rows = store
            .members(org.id, MemberFilter::default(), page)
            .await
            .unwrap();
        seen.extend(rows.iter().map(|m| m.id));
        if !added {
            let late = new_member(org.id, email("late", org.id));
            ids.push(late.id);
            put(&*store, org.id, vec![Write::PutMember(late)])
                .await
                .unwrap();
            added = true;
        }
        if rows.len() < page.len() {
            break;
        }
        page = Page::after(rows.last().unwrap().id, 10);
    }
    ids.sort();
    assert_eq!(
        seen, ids,
        "every member once, in id order, the late one at the end"
    );
    let none = store
        .members(
            OrganizationId::new(),
            MemberFilter::default(),
            Page::first(5),
        )
        .await;
    assert!(none.unwrap().is_empty());
}

/// Member listings filter by role and by team, exactly; a member's teams are theirs alone.
pub async fn member_filters_and_role_counts(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let team = new_team(org.id, "Filters");
    let mut admin = new_member(org.id, email("admin", org.id));
    admin.roles = RoleSet::learner().grant(Role::Administrator).unwrap();
    let learner = new_member(org.id, email("learner", org.id));
    let writes = vec![
        Write::PutTeam(team.clone()),
        Write::PutMember(admin.clone()),
        Write::PutMember(learner.clone()),
        Write::AddTeamMember {
            team: team.id,
            member: learner.id,
            at: t0(),
        },
    ];
    put(&*store, org.id, writes).await.unwrap();
    let admins = MemberFilter::default().with_role(Role::Administrator);
    let rows = store
        .members(org.id, admins, Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![admin.id]
    );
    let in_team = MemberFilter::default().in_team(team.id);
    let rows = store
        .members(org.id, in_team, Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![learner.id]
    );
    let with_role = |role| MemberFilter::default().with_role(role);
    assert_eq!(
        store
            .members(org.id, with_role(Role::Administrator), Page::first(10))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .members(org.id, with_role(Role::Member), Page::first(10))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store.teams_of(org.id, learner.id).await.unwrap(),
        vec![team.id]
    );
    assert!(
        !store
            .teams_of(org.id, admin.id)
            .await
            .unwrap()
            .contains(&team.id)
    );
}

/// A deactivated member keeps their row, roles and teams, read back with the time of their
/// deactivation by every read; member listings filter on it, in the organization and in a
/// team; and the seats in use count active members only, in
/// [`Store::seat_usage`](crate::Store::seat_usage) and in the combined reads under a seat
/// cap (spec: MEM-2, ORG-4).
pub async fn deactivated_members_are_kept_listed_apart_and_take_no_seat(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let team = new_team(org.id, "Dormant");
    let active = new_member(org.id, email("active", org.id));
    let mut dormant = new_member(org.id, email("dormant", org.id));
    dormant.roles = RoleSet::learner().grant(Role::Manager).unwrap();
    dormant.deactivated_at = Some(t0() + Duration::microseconds(1_234_567));
    let writes = vec![
        Write::PutTeam(team.clone()),
        Write::PutMember(active.clone()),
        Write::PutMember(dormant.clone()),
        Write::AddTeamMember {
            team: team.id,
            member: active.id,
            at: t0(),
        },
        Write::AddTeamMember {
            team: team.id,
            member: dormant.id,
            at: t0(),
        },
    ];
    put(&*store, org.id, writes).await.unwrap();
    let stored = store.member(org.id, dormant.user).await.unwrap().unwrap();
    assert_eq!(
        stored.deactivated_at, dormant.deactivated_at,
        "exact to the microsecond"
    );
    assert_eq!(stored.roles, dormant.roles);
    let (_, read) = store
        .organization_with_member(org.id, dormant.user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.unwrap().deactivated_at, dormant.deactivated_at);
    let menu = store
        .memberships(dormant.user, Page::first(10))
        .await
        .unwrap();
    assert_eq!(menu[0].member.deactivated_at, dormant.deactivated_at);

    let ids = |filter: MemberFilter| {
        let store = Arc::clone(&store);
        async move {
            let rows = store
                .members(org.id, filter, Page::first(10))
                .await
                .unwrap();
            rows.iter().map(|m| m.id).collect::<Vec<_>>()
        }
    };
    let mut both = vec![active.id, dormant.id];
    both.sort();
    assert_eq!(ids(MemberFilter::default()).await, both);
    assert_eq!(ids(MemberFilter::default().active()).await, vec![active.id]);
    assert_eq!(
        ids(MemberFilter::default().deactivated()).await,
        vec![dormant.id]
    );
    let in_team = MemberFilter::default().in_team(team.id);
    assert_eq!(ids(in_team).await, both);
    assert_eq!(ids(in_team.active()).await, vec![active.id]);
    assert_eq!(ids(in_team.deactivated()).await, vec![dormant.id]);
    let managers = MemberFilter::default().with_role(Role::Manager);
    assert_eq!(ids(managers.active()).await, Vec::<MemberId>::new());
    assert_eq!(ids(managers.deactivated()).await, vec![dormant.id]);
    assert_eq!(
        store.teams_of(org.id, dormant.id).await.unwrap(),
        vec![team.id],
        "their teams are kept"
    );

    assert_eq!(store.seat_usage(org.id, t0()).await.unwrap().members, 1);

    // Their queued messages are withdrawn; an invitation's mail and others' mail stay.
    let invitation = new_invitation(org.id, dormant.email.clone(), t0());
    let to_them = mail(org.id, dormant.email.clone(), t0());
    let link = invitation_mail(&invitation, t0());
    let to_other = mail(org.id, active.email.clone(), t0());
    let mut c = changes(
        &reload(&*store, org.id).await,
        vec![Write::PutInvitation(invitation)],
    );
    c.outbox = vec![to_them, link.clone(), to_other.clone()];
    store.commit(c).await.unwrap();
    let to = dormant.email.clone();
    put(&*store, org.id, vec![Write::WithdrawMailTo { to }])
        .await
        .unwrap();
    let mut left: Vec<OutboxId> = store
        .outbox(org.id, Page::first(10))
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    left.sort();
    let mut expected = vec![link.id, to_other.id];
    expected.sort();
    assert_eq!(left, expected);

    let mut capped = reload(&*store, org.id).await;
    capped.seat_cap = Some(10);
    store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(capped)))
        .await
        .unwrap();
    let context = store
        .invitation_context(org.id, active.user, &[email("new", org.id)], t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.targets.seats.map(|s| s.members), Some(1));

    // Reactivated, the member takes a seat again.
    let mut back = stored;
    back.deactivated_at = None;
    put(&*store, org.id, vec![Write::PutMember(back)])
        .await
        .unwrap();
    assert_eq!(store.seat_usage(org.id, t0()).await.unwrap().members, 2);
    assert_eq!(
        ids(MemberFilter::default().deactivated()).await,
        Vec::<MemberId>::new()
    );
}

/// Reads given an id that belongs to another organization find nothing: a team, a member, an
/// invitation of organization B read with organization A's id, even for a user who is a
/// member of both, with activity in both (spec: ERR-1, TEAM-4).
pub async fn ids_of_another_organization_read_nothing(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope, Tally};
    let (a, b) = (stored_org(&*store).await, stored_org(&*store).await);
    let both = UserId::new();
    let in_a = Member {
        user: both,
        ..new_member(a.id, email("both", a.id))
    };
    let in_b = Member {
        user: both,
        ..new_member(b.id, email("both", b.id))
    };
    let only_b = new_member(b.id, email("only", b.id));
    let team_a = new_team(a.id, "Alpha");
    let team_b = new_team(b.id, "Beta");
    let invitation_b = new_invitation(b.id, email("inv", b.id), t0());
    put(
        &*store,
        a.id,
        vec![
            Write::PutTeam(team_a.clone()),
            Write::PutMember(in_a.clone()),
        ],
    )
    .await
    .unwrap();
    put(
        &*store,
        b.id,
        vec![
            Write::PutTeam(team_b.clone()),
            Write::PutMember(in_b.clone()),
            Write::PutMember(only_b.clone()),
            Write::PutInvitation(invitation_b.clone()),
        ],
    )
    .await
    .unwrap();
    let join = |team: &Team, m: &Member| Write::AddTeamMember {
        team: team.id,
        member: m.id,
        at: t0() - Duration::days(1),
    };
    put(&*store, a.id, vec![join(&team_a, &in_a)])
        .await
        .unwrap();
    put(
        &*store,
        b.id,
        vec![join(&team_b, &in_b), join(&team_b, &only_b)],
    )
    .await
    .unwrap();
    let activity = |org: &Organization, n: u32| Activity {
        id: crate::domain::text::ActivityId::parse(format!("{}-f{n}", org.id)).unwrap(),
        organization: org.id,
        user: both,
        course: crate::CourseId::parse("sql-101").unwrap(),
        kind: ActivityKind::Enrolled,
        at: t0() + Duration::hours(i64::from(n)),
    };
    store
        .record_activities(a.id, &[activity(&a, 1), activity(&a, 2)])
        .await
        .unwrap();
    store
        .record_activities(b.id, &[activity(&b, 3)])
        .await
        .unwrap();
    let period = Period::new(t0(), t0() + Duration::days(1)).unwrap();
    let nothing = Tally::default().finish(period, 0, 0);
    let before = reload(&*store, a.id).await;

    assert_eq!(store.team(a.id, team_b.id).await.unwrap(), None);
    assert_eq!(store.member(a.id, only_b.user).await.unwrap(), None);
    assert_eq!(
        store
            .record_activities(a.id, &[learning(a.id, only_b.user, 9)])
            .await
            .unwrap(),
        Recorded::NotMembers(vec![only_b.user])
    );
    assert!(
        targets_of(&*store, a.id, std::slice::from_ref(&only_b.email))
            .await
            .member_emails
            .is_empty()
    );
    assert_eq!(store.invitation(a.id, invitation_b.id).await.unwrap(), None);
    assert!(store.teams_of(a.id, in_b.id).await.unwrap().is_empty());
    for member in [in_a.id, in_b.id] {
        assert!(
            !store
                .teams_of(a.id, member)
                .await
                .unwrap()
                .contains(&team_b.id)
        );
    }
    let filter = MemberFilter::default().in_team(team_b.id);
    assert!(
        store
            .members(a.id, filter, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        stats_of(&*store, a.id, StatsScope::Team(team_b.id), period).await,
        nothing,
        "B's team shows nothing of A's activity"
    );
    let own_team = StatsScope::Team(team_a.id);
    let side_by_side = store
        .statistics(a.id, &[StatsScope::Team(team_b.id), own_team], period)
        .await
        .unwrap();
    assert_eq!(side_by_side[0], nothing.clone());
    assert!(
        store
            .member_activity(a.id, StatsScope::Team(team_b.id), period, Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "B's team lists none of A's members"
    );
    assert_eq!(
        stats_of(&*store, a.id, StatsScope::Member(only_b.user), period).await,
        nothing
    );
    // The same reads with A's own ids see A's data.
    let own = stats_of(&*store, a.id, own_team, period).await;
    assert_eq!((own.members, own.enrolments), (1, 2));
    assert_eq!(side_by_side[1], own);
    // Writing B's team into A is refused, and changes nothing.
    assert!(
        put(&*store, a.id, vec![join(&team_b, &in_a)])
            .await
            .is_err()
    );
    assert_eq!(reload(&*store, a.id).await, before);
    assert!(
        !store
            .teams_of(b.id, in_a.id)
            .await
            .unwrap()
            .contains(&team_b.id)
    );
}

/// A user's organizations (spec: USR-4): every organization they belong to and no other, each
/// with its name and their membership, in organization-id order, page by page, without the
/// organization they were removed from; a commit that fails lists nothing new.
pub async fn memberships_list_a_users_organizations(store: Arc<DynStore>) {
    let user = UserId::new();
    let mut expected = Vec::new();
    for i in 0..5 {
        let mut org = new_org();
        org.name = OrganizationName::parse(format!("Account {i}")).unwrap();
        store
            .commit(ChangeSet::new(org.id, OrganizationWrite::Put(org.clone())))
            .await
            .unwrap();
        // Someone else in every organization: not theirs to list.
        let other = new_member(org.id, email("other", org.id));
        put(&*store, org.id, vec![Write::PutMember(other)])
            .await
            .unwrap();
        if i == 2 {
            continue;
        }
        let mut member = new_member(org.id, email("menu", org.id));
        member.user = user;
        if i == 1 {
            member.roles = RoleSet::learner().grant(Role::Administrator).unwrap();
        }
        put(&*store, org.id, vec![Write::PutMember(member.clone())])
            .await
            .unwrap();
        expected.push((org.id, org.name.clone(), member.id, member.roles));
    }
    expected.sort_by_key(|(org, ..)| *org);
    let listed = |rows: &[crate::domain::member::Membership]| {
        rows.iter()
            .map(|m| {
                (
                    m.member.organization,
                    m.organization_name.clone(),
                    m.member.id,
                    m.member.roles,
                )
            })
            .collect::<Vec<_>>()
    };
    let all = store.memberships(user, Page::first(10)).await.unwrap();
    assert_eq!(
        listed(&all),
        expected,
        "every organization of theirs, in id order"
    );
    assert!(
        all.iter()
            .all(|m| m.member.user == user && m.member.version == 1)
    );
    let first = store.memberships(user, Page::first(3)).await.unwrap();
    let rest = store
        .memberships(user, Page::after(first[2].member.organization, 3))
        .await
        .unwrap();
    assert_eq!(listed(&first), expected[..3]);
    assert_eq!(listed(&rest), expected[3..], "the page after the third");

    // Removed from one: it leaves their list. A failed commit adds nothing.
    let (gone, ..) = expected.remove(0);
    let member = store.member(gone, user).await.unwrap().unwrap();
    put(
        &*store,
        gone,
        vec![Write::DeleteMember {
            member: member.id,
            expected_version: member.version,
            at: t0(),
        }],
    )
    .await
    .unwrap();
    let mut failed = new_org();
    failed.name = OrganizationName::parse("Never Stored").unwrap();
    let mut joined = new_member(failed.id, email("menu", failed.id));
    joined.user = user;
    let mut changes = ChangeSet::new(failed.id, OrganizationWrite::Put(failed.clone()));
    changes.writes = vec![
        Write::PutMember(joined.clone()),
        Write::PutMember(Member {
            id: MemberId::new(),
            ..joined
        }),
    ];
    assert!(store.commit(changes).await.is_err(), "one user twice");
    let after = store.memberships(user, Page::first(10)).await.unwrap();
    assert_eq!(listed(&after), expected);
    assert!(
        store
            .memberships(UserId::new(), Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}
