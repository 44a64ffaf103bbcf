//! Teams: unique names, memberships, and what goes with a deleted team or member.

use super::fixtures::*;

/// Team names are unique per organization regardless of case; team memberships are unique
/// and go away with their team or their member.
pub async fn teams_and_team_memberships(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let sales = new_team(org.id, "Sales");
    let m = new_member(org.id, email("team", org.id));
    let writes = vec![
        Write::PutTeam(sales.clone()),
        Write::PutMember(m.clone()),
        Write::AddTeamMember {
            team: sales.id,
            member: m.id,
            at: t0(),
        },
    ];
    put(&*store, org.id, writes).await.unwrap();
    assert_eq!(
        store.team(org.id, sales.id).await.unwrap().unwrap().name,
        sales.name
    );
    let twin = new_team(org.id, "SALES");
    let dup = put(&*store, org.id, vec![Write::PutTeam(twin)]).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Duplicate {
                constraint: constraint::UNIQUE_TEAM_NAME
            })
        ),
        "{dup:?}"
    );
    let again = put(
        &*store,
        org.id,
        vec![Write::AddTeamMember {
            team: sales.id,
            member: m.id,
            at: t0(),
        }],
    )
    .await;
    assert!(
        matches!(
            again,
            Err(StoreError::Duplicate {
                constraint: constraint::ONE_TEAM_MEMBERSHIP
            })
        ),
        "{again:?}"
    );
    let ghost = put(
        &*store,
        org.id,
        vec![Write::AddTeamMember {
            team: TeamId::new(),
            member: m.id,
            at: t0(),
        }],
    )
    .await;
    assert!(ghost.is_err(), "a membership needs an existing team");
    // A member the same commit inserts (an acceptance into a team), into a team that does
    // not exist: the whole commit fails, the member is not written either.
    let newcomer = new_member(org.id, email("newcomer", org.id));
    let lost = put(
        &*store,
        org.id,
        vec![
            Write::PutMember(newcomer.clone()),
            Write::AddTeamMember {
                team: TeamId::new(),
                member: newcomer.id,
                at: t0(),
            },
        ],
    )
    .await;
    assert!(matches!(lost, Err(StoreError::Missing { .. })), "{lost:?}");
    assert!(
        store.member(org.id, newcomer.user).await.unwrap().is_none(),
        "the member of a failed commit was written"
    );
    // The same name is free in another organization.
    let other = stored_org(&*store).await;
    put(
        &*store,
        other.id,
        vec![Write::PutTeam(new_team(other.id, "Sales"))],
    )
    .await
    .unwrap();

    let support = new_team(org.id, "Support");
    put(
        &*store,
        org.id,
        vec![
            Write::PutTeam(support.clone()),
            Write::AddTeamMember {
                team: support.id,
                member: m.id,
                at: t0(),
            },
        ],
    )
    .await
    .unwrap();
    // A rename onto another team's name, in any case, is refused as well; onto its own name
    // in another case it is not (spec: TEAM-1).
    let mut renamed = store.team(org.id, support.id).await.unwrap().unwrap();
    renamed.name = TeamName::parse("sALES").unwrap();
    let dup = put(&*store, org.id, vec![Write::PutTeam(renamed.clone())]).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Duplicate {
                constraint: constraint::UNIQUE_TEAM_NAME
            })
        ),
        "{dup:?}"
    );
    renamed.name = TeamName::parse("SUPPORT").unwrap();
    put(&*store, org.id, vec![Write::PutTeam(renamed)])
        .await
        .unwrap();
    let stored_sales = store.team(org.id, sales.id).await.unwrap().unwrap();
    put(
        &*store,
        org.id,
        vec![Write::DeleteTeam {
            team: sales.id,
            expected_version: stored_sales.version,
            at: t0(),
        }],
    )
    .await
    .unwrap();
    assert!(store.team(org.id, sales.id).await.unwrap().is_none());
    assert_eq!(
        store.teams_of(org.id, m.id).await.unwrap(),
        vec![support.id]
    );
    let stored_m = store.member(org.id, m.user).await.unwrap().unwrap();
    put(
        &*store,
        org.id,
        vec![Write::DeleteMember {
            member: m.id,
            expected_version: stored_m.version,
            at: t0(),
        }],
    )
    .await
    .unwrap();
    assert!(store.member(org.id, m.user).await.unwrap().is_none());
    let in_support = MemberFilter::default().in_team(support.id);
    assert!(
        store
            .members(org.id, in_support, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    let teams = store.teams(org.id, Page::first(10)).await.unwrap();
    assert_eq!(
        teams.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![support.id]
    );
}
