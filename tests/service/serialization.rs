//! What a host sends on to its clients serializes, with stable snake_case names, and never
//! carries a secret; a listing's cursor is an opaque string that round-trips (issue: host
//! integration).

use orgroster::{
    Field, InvitationFilter, MemberFilter, Page, ReportedActivity, ReportedKind, Role,
    ValidationError,
};

use crate::fixture::{World, actor, newcomer};

#[tokio::test]
async fn results_serialize_and_no_token_is_ever_in_them() {
    // spec: INV-6 — a token travels only in its email.
    let w = World::new().await;
    let ann = actor("ann");
    let single = w.invite(&ann, Role::Member, None).await;
    let bulk = w
        .roster
        .invite_members(
            &w.founder,
            w.org,
            "bob@example.com, not-an-address, BOB@example.com",
            Role::Member,
            None,
        )
        .await
        .unwrap();
    let accepted = w
        .roster
        .accept_invitation(&ann, &single.token.expose(), newcomer("Ann"))
        .await
        .unwrap();
    let tokens = [single.token.expose(), bulk.invited[0].1.token.expose()];

    let single_json = serde_json::to_value(&single).unwrap();
    assert_eq!(single_json["invitation"]["email"], "ann@example.com");
    let bulk_json = serde_json::to_value(&bulk).unwrap();
    assert_eq!(bulk_json["rejected"][0]["reason"]["code"], "invalid_input");
    assert_eq!(
        bulk_json["rejected"][1]["reason"]["code"],
        "duplicate_in_paste"
    );
    assert!(
        bulk_json["rejected"][1]["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1")
    );
    let accepted_json = serde_json::to_value(&accepted).unwrap();
    assert_eq!(accepted_json["member"]["user"], ann.user.to_string());
    let invitations = w
        .roster
        .invitations(
            &w.founder,
            w.org,
            InvitationFilter::default(),
            Page::first(10),
        )
        .await
        .unwrap();
    let receipt = w
        .roster
        .record_activity(
            w.org,
            &[ReportedActivity {
                id: "e1".to_owned(),
                user: actor("stranger").user,
                course: "sql-101".to_owned(),
                kind: ReportedKind::Enrolled,
                at: w.roster.now(),
            }],
        )
        .await
        .unwrap();
    let receipt_json = serde_json::to_value(&receipt).unwrap();
    assert_eq!(receipt_json["rejected"][0][2]["code"], "unknown_member");

    let everything = [
        single_json,
        bulk_json,
        accepted_json,
        serde_json::to_value(&invitations).unwrap(),
        receipt_json,
    ]
    .map(|v| v.to_string());
    for (text, token) in everything
        .iter()
        .flat_map(|t| tokens.iter().map(move |k| (t, k)))
    {
        assert!(!text.contains(token.as_str()), "a token in {text}");
    }
}

#[tokio::test]
async fn a_listings_cursor_is_an_opaque_string_that_round_trips() {
    // spec: ERR-3 — a cursor is parsed, and a bad one is a typed error.
    let w = World::new().await;
    for n in 0..5 {
        w.join(&format!("m{n}"), Role::Member, None).await;
    }
    let first = w
        .roster
        .members(&w.founder, w.org, MemberFilter::default(), Page::first(2))
        .await
        .unwrap();
    let json = serde_json::to_value(&first).unwrap();
    let cursor = json["next"].as_str().expect("the next page, as a string");
    assert!(
        cursor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "URL-safe: {cursor}"
    );
    let next: Page = serde_json::from_value(json["next"].clone()).unwrap();
    assert_eq!(Some(next), first.next);
    assert_eq!(Page::from_cursor(cursor).unwrap(), next);
    let second = w
        .roster
        .members(&w.founder, w.org, MemberFilter::default(), next)
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);
    assert!(second.items[0].id > first.items[1].id, "the page after");
    assert_eq!(
        Page::from_cursor(&Page::first(7).cursor()).unwrap(),
        Page::first(7)
    );

    for bad in [
        "",
        "not a cursor",
        "AgAAAAI",
        "AQAAAAA",
        &format!("{cursor}x"),
        "_-_-",
    ] {
        let err = Page::from_cursor(bad).unwrap_err();
        assert!(
            matches!(
                err,
                ValidationError::Malformed {
                    field: Field::Cursor,
                    ..
                }
            ),
            "{bad:?}: {err:?}"
        );
        assert!(serde_json::from_value::<Page>(serde_json::json!(bad)).is_err());
    }
}
