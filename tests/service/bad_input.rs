//! Hostile and malformed input: commands that take raw text, the parsers of every newtype,
//! and organization ids that name nothing. Whatever the input, the result is `Ok` or a typed
//! error, never a panic, and a failure changes nothing (spec: ERR-1, ERR-2, ERR-3).

use std::collections::HashSet;

use orgroster::{
    Capabilities, CourseId, EmailAddress, EntityKind, Error, HostAction, InvitationFilter,
    InvitationId, InvitationToken, LicenseId, LicenseKind, MemberFilter, Message, OrganizationId,
    OrganizationName, Page, PersonName, Role, Subject, TeamName, TeamPage,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use tokio::runtime::Runtime;
use uuid::Uuid;

use crate::fixture::{World, actor, email, newcomer, profile, team_name};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A world with a team, a member in it and a live invitation, so that hostile input meets
/// real state.
async fn populated() -> (World, orgroster::TeamId, InvitationId) {
    let w = World::new().await;
    let team = w.team("Sales").await;
    w.join("lee", Role::Member, Some(team)).await;
    let pending = w.invite(&actor("pending"), Role::Member, Some(team)).await;
    (w, team, pending.invitation.id)
}

/// Text that tries every trick: control characters, look-alikes, bidi overrides, invisible
/// characters, quotes and angle brackets, arbitrary Unicode.
fn tricky_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}@[a-z]{1,8}\\.(com|org|example)",
        Just(",".to_owned()),
        Just(";".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\t".to_owned()),
        "[\\x00-\\x1f\\x7f]{1,3}",
        // Cyrillic "а" in place of the Latin one.
        Just("\u{430}dmin@example.com".to_owned()),
        // Fullwidth commercial at.
        Just("user\u{FF20}example.com".to_owned()),
        // Right-to-left override and isolate.
        Just("\u{202E}moc.elpmaxe@resu".to_owned()),
        Just("us\u{2066}er@example.com\u{2069}".to_owned()),
        // Zero-width space and byte-order mark.
        Just("us\u{200B}er@exa\u{FEFF}mple.com".to_owned()),
        Just("\"Doe, Jane\" <jane@example.com>".to_owned()),
        Just("Bob <bob@example.com> Ann <ann@example.com>".to_owned()),
        Just("<unclosed@example.com".to_owned()),
        Just("\"".to_owned()),
        Just("a@b".to_owned()),
        Just("@example.com".to_owned()),
        Just("x@[192.0.2.1]".to_owned()),
        any::<String>(),
    ]
}

/// A paste: a few tricky fragments, or something very large built cheaply.
fn paste() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(tricky_fragment(), 0..40).prop_map(|parts| parts.concat()),
        1 => (0usize..6_000_000).prop_map(|n| "a".repeat(n)),
        1 => (0usize..30_000).prop_map(|n| "dup@example.com\n".repeat(n)),
        1 => (0usize..600_000).prop_map(|n| ", ".repeat(n)),
        1 => (0usize..400_000).prop_map(|n| "\u{202E}".repeat(n)),
    ]
}

/// Token text of any length and alphabet, and well-formed tokens that match nothing.
fn token_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,64}",
        "[A-Za-z0-9_-]{43}",
        "[A-Za-z0-9+/=]{43}",
        any::<[u8; 32]>().prop_map(|b| InvitationToken::from_bytes(b).expose()),
        (0usize..3_000_000).prop_map(|n| "A".repeat(n)),
        Just(String::new()),
        Just("\u{0}".repeat(43)),
        Just("é".repeat(43)),
    ]
}

/// Any text at all for the parsers, from empty to a few megabytes.
fn raw_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(tricky_fragment(), 0..12).prop_map(|parts| parts.concat()),
        2 => any::<String>(),
        1 => (0usize..4_000_000).prop_map(|n| " ".repeat(n)),
        1 => (0usize..300).prop_map(|n| "é".repeat(n)),
        1 => (0usize..20_000).prop_map(|n| "ab\r\n".repeat(n)),
    ]
}

/// Whether `token` is a well-formed link for a token that was never issued.
fn well_formed(token: &str) -> bool {
    InvitationToken::parse(token).is_ok()
}

#[test]
fn previewing_any_token_text_returns_a_typed_result_and_changes_nothing() {
    // spec: ERR-1, ERR-2, ERR-3, INV-10
    let rt = runtime();
    let (w, _, _) = rt.block_on(populated());
    let before = rt.block_on(w.snapshot());
    proptest!(ProptestConfig::with_cases(64), |(token in token_text())| {
        let result = rt.block_on(w.roster.preview_invitation(&token, true));
        match result {
            Ok(_) => prop_assert!(false, "a token nobody issued was found"),
            Err(Error::NotFound { entity: EntityKind::Invitation }) => {
                prop_assert!(well_formed(&token));
            }
            Err(Error::Invalid(e)) => prop_assert!(!well_formed(&token), "{e}"),
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
        prop_assert_eq!(&rt.block_on(w.snapshot()), &before);
    });
}

#[test]
fn accepting_any_token_text_returns_a_typed_error_and_changes_nothing() {
    // spec: ERR-1, ERR-2, ERR-3, INV-6
    let rt = runtime();
    let (w, _, _) = rt.block_on(populated());
    let before = rt.block_on(w.snapshot());
    let who = actor("pending");
    proptest!(ProptestConfig::with_cases(64), |(token in token_text())| {
        let result = rt.block_on(w.roster.accept_invitation(&who, &token, newcomer("P")));
        match result {
            Err(Error::NotFound { entity: EntityKind::Invitation }) => {
                prop_assert!(well_formed(&token));
            }
            Err(Error::Invalid(_)) => prop_assert!(!well_formed(&token)),
            other => prop_assert!(false, "unexpected {:?}", other.map(|a| a.member.id)),
        }
        prop_assert_eq!(&rt.block_on(w.snapshot()), &before);
    });
}

#[test]
fn declining_any_token_text_returns_a_typed_error_and_changes_nothing() {
    // spec: ERR-1, ERR-2, ERR-3
    let rt = runtime();
    let (w, _, _) = rt.block_on(populated());
    let before = rt.block_on(w.snapshot());
    proptest!(ProptestConfig::with_cases(64), |(token in token_text())| {
        let result = rt.block_on(w.roster.decline_invitation(&token));
        match result {
            Err(Error::NotFound { entity: EntityKind::Invitation }) => {
                prop_assert!(well_formed(&token));
            }
            Err(Error::Invalid(_)) => prop_assert!(!well_formed(&token)),
            other => prop_assert!(false, "unexpected {:?}", other.map(|i| i.id)),
        }
        prop_assert_eq!(&rt.block_on(w.snapshot()), &before);
    });
}

#[test]
fn inviting_from_any_paste_invites_only_clean_addresses_or_fails_without_a_trace() {
    // spec: ERR-1, ERR-2, ERR-3, INV-7
    let rt = runtime();
    let (w, team, _) = rt.block_on(populated());
    proptest!(ProptestConfig::with_cases(64), |(text in paste())| {
        let before = rt.block_on(w.snapshot());
        let result = rt.block_on(w.roster.invite_members(
            &w.founder,
            w.org,
            &text,
            Role::Member,
            Some(team),
        ));
        match result {
            Ok(report) => {
                prop_assert!(!report.invited.is_empty() || !report.rejected.is_empty());
                let mut seen = HashSet::new();
                for (line, created) in &report.invited {
                    let address = created.invitation.email.as_str();
                    prop_assert!(*line >= 1);
                    prop_assert!(address.is_ascii(), "{address:?}");
                    prop_assert!(address.len() <= 254);
                    prop_assert!(!address.chars().any(|c| c.is_control() || c.is_whitespace()));
                    prop_assert!(seen.insert(created.invitation.email.key().to_owned()));
                    prop_assert_eq!(created.invitation.team, Some(team));
                    prop_assert_eq!(created.invitation.role, Role::Member);
                }
                for rejected in &report.rejected {
                    prop_assert!(rejected.line >= 1);
                    prop_assert!(rejected.text.chars().count() <= 320);
                    prop_assert!(!rejected.reason.to_string().is_empty());
                }
                let after = rt.block_on(w.snapshot());
                prop_assert_eq!(
                    after.invitations.len(),
                    before.invitations.len() + report.invited.len()
                );
                prop_assert_eq!(&after.members, &before.members);
            }
            Err(Error::Invalid(e)) => {
                prop_assert!(!e.to_string().is_empty());
                prop_assert_eq!(&rt.block_on(w.snapshot()), &before);
            }
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    });
}

#[test]
fn every_newtype_parses_any_text_into_a_bounded_clean_value_or_a_typed_error() {
    // spec: ERR-1, ERR-3
    fn clean(text: &str, multiline: bool) -> bool {
        !text.is_empty()
            && text.trim() == text
            && !text
                .chars()
                .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
            && !text.contains(['\u{200B}', '\u{202E}', '\u{2066}', '\u{FEFF}'])
    }
    proptest!(ProptestConfig::with_cases(64), |(text in raw_text())| {
        if let Ok(address) = EmailAddress::parse(&text) {
            let s = address.as_str();
            prop_assert!(s.is_ascii() && s.len() <= 254 && clean(s, false), "{s:?}");
            prop_assert!(!s.contains(char::is_whitespace), "{s:?}");
            prop_assert_eq!(address.key(), s.to_ascii_lowercase());
            prop_assert_eq!(EmailAddress::parse(s).ok(), Some(address.clone()));
        }
        if let Ok(name) = PersonName::parse(&text) {
            prop_assert!(name.as_str().chars().count() <= PersonName::MAX_CHARS);
            prop_assert!(clean(name.as_str(), false), "{name:?}");
            prop_assert_eq!(PersonName::parse(name.as_str()).ok(), Some(name.clone()));
        }
        if let Ok(name) = OrganizationName::parse(&text) {
            prop_assert!(name.as_str().chars().count() <= OrganizationName::MAX_CHARS);
            prop_assert!(clean(name.as_str(), false), "{name:?}");
        }
        if let Ok(name) = TeamName::parse(&text) {
            prop_assert!(name.as_str().chars().count() <= TeamName::MAX_CHARS);
            prop_assert!(clean(name.as_str(), false), "{name:?}");
            prop_assert_eq!(TeamName::parse(name.as_str()).ok(), Some(name.clone()));
        }
        if let Ok(subject) = Subject::parse(&text) {
            prop_assert!(subject.as_str().chars().count() <= Subject::MAX_CHARS);
            prop_assert!(clean(subject.as_str(), false), "{subject:?}");
            prop_assert!(!subject.as_str().contains(['\r', '\n']));
        }
        if let Ok(message) = Message::parse(&text) {
            prop_assert!(message.as_str().chars().count() <= Message::MAX_CHARS);
            prop_assert!(clean(message.as_str(), true), "{message:?}");
            prop_assert!(!message.as_str().contains('\r'));
        }
        if let Ok(course) = CourseId::parse(&text) {
            prop_assert!(course.as_str().len() <= CourseId::MAX_CHARS);
            prop_assert!(course.as_str().chars().all(|c| c.is_ascii_graphic()), "{course:?}");
        }
        // Every failure is a typed ValidationError with a message a person can act on.
        let errors = [
            EmailAddress::parse(&text).err(),
            PersonName::parse(&text).err(),
            OrganizationName::parse(&text).err(),
            TeamName::parse(&text).err(),
            Subject::parse(&text).err(),
            Message::parse(&text).err(),
            CourseId::parse(&text).err(),
        ];
        for e in errors.into_iter().flatten() {
            prop_assert!(e.to_string().len() > 10, "{e:?}");
        }
    });
}

/// Runs command number `index` of the organization-scoped commands against `org`, with
/// every other argument valid in the world's own organization.
async fn run_in_organization(
    w: &World,
    org: OrganizationId,
    index: usize,
    team: orgroster::TeamId,
    invitation: InvitationId,
) -> Result<(), Error> {
    let (r, f) = (&w.roster, &w.founder);
    let lee = actor("lee").user;
    let subject = || Subject::parse("Hello").expect("a valid subject");
    let body = || Message::parse("Hello").expect("a valid message");
    match index {
        0 => r
            .invite_member(f, org, email("x@example.com"), Role::Member, None)
            .await
            .map(drop),
        1 => r
            .invite_members(f, org, "x@example.com", Role::Member, None)
            .await
            .map(drop),
        2 => r
            .invite_administrator(f, org, email("x@example.com"), profile("X", "Y"))
            .await
            .map(drop),
        3 => r.resend_invitation(f, org, invitation).await.map(drop),
        4 => r.revoke_invitation(f, org, invitation).await.map(drop),
        5 => r
            .invitations(f, org, InvitationFilter::default(), Page::default())
            .await
            .map(drop),
        6 => r.administrator_team(f, org).await.map(drop),
        7 => r
            .members(f, org, MemberFilter::default(), Page::default())
            .await
            .map(drop),
        8 => r.member(f, org, f.user).await.map(drop),
        9 => r.grant_role(f, org, lee, Role::Manager).await.map(drop),
        10 => r.revoke_role(f, org, lee, Role::Manager).await.map(drop),
        11 => r.remove_member(f, org, lee).await.map(drop),
        12 => r.create_team(f, org, team_name("New")).await.map(drop),
        13 => r
            .rename_team(f, org, team, team_name("New"))
            .await
            .map(drop),
        14 => r.delete_team(f, org, team).await.map(drop),
        15 => r.add_team_member(f, org, team, f.user).await,
        16 => r.remove_team_member(f, org, team, f.user).await,
        17 => r
            .set_team_page(f, org, team, TeamPage::default())
            .await
            .map(drop),
        18 => r.team(f, org, team).await.map(drop),
        19 => r.teams(f, org, Page::default()).await.map(drop),
        20 => r
            .send_message(f, org, orgroster::Audience::Everyone, subject(), body())
            .await
            .map(drop),
        21 => r
            .notify_administrators(org, subject(), body())
            .await
            .map(drop),
        22 => r.audit_trail(f, org, Page::default()).await.map(drop),
        23 => r.failed_mail(f, org, Page::default()).await.map(drop),
        24 => r.seat_usage(f, org).await.map(drop),
        25 => r.authorize(f, org, HostAction::DownloadCourse).await,
        26 => r.update_profile(f, org, profile("X", "Y")).await.map(drop),
        27 => r.organization_for(f, org).await.map(drop),
        28 => r.add_license(org, LicenseKind::PayPerUse).await.map(drop),
        29 => r.remove_license(org, LicenseId::new()).await.map(drop),
        30 => r
            .set_capabilities(org, Capabilities::default())
            .await
            .map(drop),
        31 => r.set_seat_cap(org, Some(1)).await.map(drop),
        _ => unreachable!("only {ORGANIZATION_COMMANDS} commands"),
    }
}

/// How many commands [`run_in_organization`] knows.
const ORGANIZATION_COMMANDS: usize = 32;

#[tokio::test]
async fn every_command_on_an_organization_that_does_not_exist_fails_with_not_found() {
    // spec: ERR-1, ERR-2
    let (w, team, invitation) = populated().await;
    let before = w.snapshot().await;
    for index in 0..ORGANIZATION_COMMANDS {
        let nowhere = OrganizationId::new();
        let err = run_in_organization(&w, nowhere, index, team, invitation)
            .await
            .expect_err("no such organization");
        assert!(
            matches!(
                err,
                Error::NotFound {
                    entity: EntityKind::Organization
                }
            ),
            "command {index}: {err:?}"
        );
        assert!(w.store_has_no(nowhere).await, "command {index} created it");
    }
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn ids_from_another_organization_in_the_same_store_are_not_found_in_this_one() {
    // spec: ERR-1, ERR-2, TEAM-4
    let (w, _, _) = populated().await;
    let rival = actor("rival");
    let theirs = w
        .roster
        .create_organization(&rival, "Rival Corp".parse().unwrap(), profile("Riv", "Al"))
        .await
        .unwrap()
        .organization
        .id;
    w.roster
        .set_capabilities(theirs, crate::fixture::learners_capability())
        .await
        .unwrap();
    let their_team = w
        .roster
        .create_team(&rival, theirs, team_name("Theirs"))
        .await
        .unwrap()
        .id;
    let their_invitation = w
        .roster
        .invite_member(&rival, theirs, email("x@example.com"), Role::Member, None)
        .await
        .unwrap()
        .invitation
        .id;
    let before = w.snapshot().await;
    let before_theirs = w.snapshot_of(theirs).await;
    for result in [
        w.roster
            .rename_team(&w.founder, w.org, their_team, team_name("Mine"))
            .await
            .map(drop),
        w.roster.team(&w.founder, w.org, their_team).await.map(drop),
        w.roster
            .invite_member(
                &w.founder,
                w.org,
                email("y@example.com"),
                Role::Member,
                Some(their_team),
            )
            .await
            .map(drop),
        w.roster
            .revoke_invitation(&w.founder, w.org, their_invitation)
            .await
            .map(drop),
        w.roster
            .grant_role(&w.founder, w.org, rival.user, Role::Manager)
            .await
            .map(drop),
    ] {
        assert!(matches!(result, Err(Error::NotFound { .. })), "{result:?}");
    }
    // Their own administrator is a stranger here.
    let err = w
        .roster
        .members(&rival, w.org, MemberFilter::default(), Page::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    assert_eq!(w.snapshot().await, before);
    assert_eq!(w.snapshot_of(theirs).await, before_theirs);
}

#[test]
fn commands_on_random_organization_ids_fail_with_not_found_and_change_nothing() {
    // spec: ERR-1, ERR-2
    let rt = runtime();
    let (w, team, invitation) = rt.block_on(populated());
    let before = rt.block_on(w.snapshot());
    proptest!(
        ProptestConfig::with_cases(64),
        |(raw in any::<u128>(), index in 0..ORGANIZATION_COMMANDS)| {
            let org = OrganizationId::from_uuid(Uuid::from_u128(raw));
            prop_assume!(org != w.org);
            let result = rt.block_on(run_in_organization(&w, org, index, team, invitation));
            prop_assert!(
                matches!(result, Err(Error::NotFound { entity: EntityKind::Organization })),
                "command {}: {:?}",
                index,
                result
            );
            prop_assert_eq!(&rt.block_on(w.snapshot()), &before);
        }
    );
}

impl World {
    /// Whether the store holds no organization `org`.
    async fn store_has_no(&self, org: OrganizationId) -> bool {
        orgroster::Store::organization(&self.store, org)
            .await
            .expect("the memory store never fails")
            .is_none()
    }
}

// ----- dates and durations (spec: ERR-1) ---------------------------------------------------

/// Numbers from the whole `i64` range, with the edges and the range of real dates well
/// represented.
fn wide() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -400_000_000_000_i64..400_000_000_000,
        -1_000_000_i64..1_000_000,
        Just(i64::MAX),
        Just(i64::MIN),
        Just(200_000_000),
        Just(-200_000_000),
        Just(END_SECONDS),
        Just(END_SECONDS - 1),
    ]
}

/// The first instant past the dates a host may pass, 10000-01-01T00:00:00Z, in seconds since
/// the Unix epoch (spec: ERR-3: the years 1970 to 9999), written out here rather than read
/// from the crate, so the tests check the crate against the rule.
const END_SECONDS: i64 = 253_402_300_800;

/// Whether `at` falls in the years 1970 to 9999.
fn in_range(at: chrono::DateTime<chrono::Utc>) -> bool {
    (0..END_SECONDS).contains(&at.timestamp())
}

/// `at`, or the nearest instant of the years 1970 to 9999.
fn clamp(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let latest = chrono::DateTime::from_timestamp(END_SECONDS - 1, 999_999_999).expect("in range");
    at.clamp(chrono::DateTime::UNIX_EPOCH, latest)
}

/// A time from seconds since the epoch, when `chrono` can hold it (a host cannot pass one
/// it cannot).
fn time(seconds: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(seconds, 0)
}

#[test]
fn periods_from_any_numbers_are_checked_without_panicking() {
    // spec: ERR-1, ERR-3, STAT-2
    use orgroster::Period;
    proptest!(ProptestConfig::with_cases(2048), |(end in wide(), start in wide(), days in wide())| {
        let Some(end) = time(end) else { return Ok(()) };
        match Period::days_until(end, days) {
            Ok(p) => {
                prop_assert!(in_range(p.from()) && in_range(p.to()));
                prop_assert!((1..=Period::MAX_DAYS).contains(&days));
            }
            Err(e) => prop_assert!(e.field() == orgroster::Field::Period),
        }
        if let Some(start) = time(start) {
            match Period::new(start, end) {
                Ok(p) => prop_assert!(in_range(p.from()) && in_range(p.to()) && start < end),
                Err(e) => prop_assert!(e.field() == orgroster::Field::Period),
            }
        }
    });
}

/// `record_activity` with any time: recorded when it falls in the years 1970 to 9999,
/// refused with its typed reason otherwise and nothing recorded; statistics around it
/// never panic.
fn record_activity_at_any_time(w: &Dated, rt: &Runtime, cases: u32) {
    use orgroster::{
        ActivityError, Field, Period, ReportedActivity, ReportedKind, StatsScope, ValidationError,
    };
    let period = |at| {
        let at = clamp(at);
        let from = clamp(at - chrono::Duration::days(8));
        let to = clamp(at + chrono::Duration::days(8));
        Period::new(from, to).expect("a period around any time in range")
    };
    let count = |at| {
        rt.block_on(
            w.roster
                .statistics(&w.founder, w.org, StatsScope::Organization, period(at)),
        )
        .expect("statistics never fail")
        .time_spent_seconds
    };
    proptest!(ProptestConfig::with_cases(cases), |(seconds in wide())| {
        let Some(at) = time(seconds) else { return Ok(()) };
        let before = count(at);
        let event = ReportedActivity {
            id: format!("at-{}", Uuid::now_v7().simple()),
            user: w.founder.user,
            course: "sql-101".to_owned(),
            kind: ReportedKind::TimeSpent { seconds: 60 },
            at,
        };
        let receipt = rt
            .block_on(w.roster.record_activity(w.org, std::slice::from_ref(&event)))
            .expect("a batch is always answered");
        let after = count(at);
        if in_range(at) {
            prop_assert_eq!(receipt.recorded, 1);
            prop_assert_eq!(after, before + 60);
        } else {
            prop_assert_eq!(receipt.recorded, 0);
            prop_assert_eq!(
                &receipt.rejected[0].2,
                &ActivityError::Invalid(ValidationError::OutOfRange { field: Field::ActivityTime })
            );
            prop_assert_eq!(after, before, "nothing recorded");
        }
        prop_assert!(seconds < END_SECONDS || !in_range(at));
    });
}

/// A roster and an organization whose founder reports activity.
struct Dated {
    roster: orgroster::Roster,
    founder: orgroster::Actor,
    org: OrganizationId,
}

impl Dated {
    async fn on(store: impl orgroster::Store) -> Self {
        let roster = orgroster::Roster::builder(
            store,
            orgroster::RecordingMailer::new(),
            orgroster::LinkKey::from_bytes([7; 32]),
        )
        .build();
        let founder = actor("founder");
        let org = crate::fixture::licensed_organization(&roster, &founder, "Dates", None).await;
        Self {
            roster,
            founder,
            org,
        }
    }
}

#[test]
fn activity_at_any_time_is_recorded_or_refused_without_panicking_in_memory() {
    // spec: ERR-1, ERR-2, ERR-3, STAT-1
    let rt = runtime();
    let w = rt.block_on(Dated::on(orgroster::MemoryStore::new()));
    record_activity_at_any_time(&w, &rt, 512);
}

#[cfg(feature = "sqlite")]
#[test]
fn activity_at_any_time_is_recorded_or_refused_without_panicking_on_sqlite() {
    // spec: ERR-1, ERR-2, ERR-3, STAT-1
    let rt = runtime();
    let store = rt
        .block_on(orgroster::SqliteStore::in_memory())
        .expect("SQLite in memory");
    let w = rt.block_on(Dated::on(store));
    record_activity_at_any_time(&w, &rt, 48);
}
