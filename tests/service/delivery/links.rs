//! Invitation links and the mail that carries them: a database copy opens no link (INV-6),
//! and no email with a dead link goes out (INV-13).

use std::sync::Arc;

use chrono::Duration;
use orgroster::{
    Actor, DynStore, InvitationToken, LinkKey, ManualClock, RecordingMailer, Role, Roster,
};

use crate::fixture::{World, actor, licensed_organization, newcomer};

/// The token in the acceptance link of a sent email.
fn link_of(text: &str) -> String {
    text.split_whitespace()
        .find_map(|word| word.rsplit_once("/invitations/").map(|(_, t)| t.to_owned()))
        .expect("an acceptance link")
}

/// The links that `world`'s mailer sent to `who`, oldest first.
fn links_sent_to(world: &World, who: &Actor) -> Vec<String> {
    world
        .mailer
        .sent()
        .iter()
        .filter(|m| m.to == who.email)
        .map(|m| link_of(&m.text))
        .collect()
}

/// Why the first mail of `world`'s organization that was given up failed.
async fn first_failure(world: &World) -> String {
    let failed = world
        .roster
        .failed_mail(&world.founder, world.org, orgroster::Page::first(10))
        .await
        .unwrap();
    failed.items[0].last_error.clone().unwrap_or_default()
}

#[tokio::test]
async fn a_revoked_invitations_queued_email_is_never_sent() {
    // spec: INV-13
    let w = World::new().await;
    let (kept, revoked) = (actor("kept"), actor("revoked"));
    w.invite(&kept, Role::Member, None).await;
    let invitation = w.invite(&revoked, Role::Member, None).await.invitation;
    w.roster
        .revoke_invitation(&w.founder, w.org, invitation.id)
        .await
        .unwrap();
    let report = w.roster.deliver_mail(100).await.unwrap();
    // Withdrawn in the revoking commit: not even claimed, so not given up either.
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");
    assert!(
        links_sent_to(&w, &revoked).is_empty(),
        "a dead link was mailed"
    );
    assert_eq!(links_sent_to(&w, &kept).len(), 1);
}

#[tokio::test]
async fn a_resend_withdraws_the_old_email_and_only_the_new_link_goes_out() {
    // spec: INV-13, INV-3
    let w = World::new().await;
    let who = actor("twice");
    let first = w.invite(&who, Role::Member, None).await;
    w.advance(Duration::hours(1));
    let resent = w
        .roster
        .resend_invitation(&w.founder, w.org, first.invitation.id)
        .await
        .unwrap();
    let report = w.roster.deliver_mail(100).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");
    let links = links_sent_to(&w, &who);
    assert_eq!(
        links,
        vec![resent.token.expose()],
        "only the new link is mailed"
    );
    assert_ne!(links[0], first.token.expose());
    w.roster
        .accept_invitation(&who, &links[0], newcomer("Twice"))
        .await
        .expect("the mailed link works");
}

#[tokio::test]
async fn accepting_or_declining_withdraws_the_invitations_unsent_email() {
    // spec: INV-13
    let w = World::new().await;
    let (joiner, decliner) = (actor("joiner"), actor("decliner"));
    let joined = w.invite(&joiner, Role::Member, None).await;
    let declined = w.invite(&decliner, Role::Member, None).await;
    w.accept(&joiner, &joined.token).await;
    w.roster
        .decline_invitation(&declined.token.expose())
        .await
        .unwrap();
    let report = w.roster.deliver_mail(100).await.unwrap();
    assert_eq!(
        report,
        orgroster::DeliveryReport::default(),
        "nothing left to claim"
    );
    assert!(w.mailer.sent().is_empty());
}

#[tokio::test]
async fn the_mailed_link_is_derived_again_from_the_key_and_another_key_sends_nothing() {
    // spec: INV-6 — the mail's link is derived from the host's key when it is rendered; an
    // instance with another key cannot produce it, and gives the mail up with a reason
    // rather than send a link that would not work.
    let w = World::new().await;
    let who = actor("keyed");
    let created = w.invite(&who, Role::Member, None).await;
    let mailer = RecordingMailer::new();
    let stranger = Roster::builder(
        w.store.clone(),
        mailer.clone(),
        LinkKey::from_bytes([8; 32]),
    )
    .clock(w.clock.clone())
    .build();
    let report = stranger.deliver_mail(100).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    assert!(mailer.sent().is_empty());
    let reason = first_failure(&w).await;
    assert!(reason.contains("link key"), "{reason}");

    // The same invitation resent and delivered by the right key: the link works.
    w.roster
        .resend_invitation(&w.founder, w.org, created.invitation.id)
        .await
        .unwrap();
    assert_eq!(w.roster.deliver_mail(100).await.unwrap().sent, 1);
    let [link] = links_sent_to(&w, &who).try_into().expect("one link");
    InvitationToken::parse(&link).expect("a whole token");
    w.roster
        .accept_invitation(&who, &link, newcomer("Keyed"))
        .await
        .expect("the link works");
}

/// Every token `roster` handed out or mailed in a run of invitations, resends, revokes,
/// acceptances and deliveries on `store`.
#[cfg(feature = "sqlite")]
async fn a_busy_day(roster: &Roster, mailer: &RecordingMailer, clock: &ManualClock) -> Vec<String> {
    let founder = actor("founder");
    let org = licensed_organization(roster, &founder, "Copied", None).await;
    let mut tokens = Vec::new();
    let paste: String = (0..20).map(|i| format!("bulk{i}@example.com\n")).collect();
    let report = roster
        .invite_members(&founder, org, &paste, Role::Member, None)
        .await
        .unwrap();
    for (_, created) in &report.invited {
        tokens.push(created.token.expose());
    }
    let sent = roster.deliver_mail(5).await.unwrap();
    assert_eq!(sent.sent, 5);
    for (i, (_, created)) in report.invited.iter().enumerate().take(8) {
        clock.advance(Duration::minutes(1));
        match i % 4 {
            0 => {
                let again = roster
                    .resend_invitation(&founder, org, created.invitation.id)
                    .await
                    .unwrap();
                tokens.push(again.token.expose());
            }
            1 => {
                roster
                    .revoke_invitation(&founder, org, created.invitation.id)
                    .await
                    .unwrap();
            }
            2 => {
                let who = Actor::new(orgroster::UserId::new(), created.invitation.email.clone());
                roster
                    .accept_invitation(&who, &created.token.expose(), newcomer("Copy"))
                    .await
                    .unwrap();
            }
            _ => {
                roster
                    .decline_invitation(&created.token.expose())
                    .await
                    .unwrap();
            }
        }
    }
    roster.deliver_mail(100).await.unwrap();
    tokens.extend(mailer.sent().iter().map(|m| link_of(&m.text)));
    tokens.sort();
    tokens.dedup();
    tokens
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn no_byte_of_the_sqlite_files_holds_a_link_token() {
    // spec: INV-6 — a copy of the database (its file, write-ahead log and shared memory,
    // free pages included) opens no link: no token is ever written there, neither as the
    // link's text nor as its raw bytes.
    use base64::Engine as _;

    let dir = crate::scratch::ScratchDir::new("links");
    let url = crate::scratch::sqlite_url(&dir.path());
    let store = orgroster::SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mailer = RecordingMailer::new();
    let clock = ManualClock::default();
    let shared: Arc<DynStore> = Arc::new(store.clone());
    let roster = Roster::builder(shared, mailer.clone(), LinkKey::from_bytes([7; 32]))
        .clock(clock.clone())
        .build();
    let tokens = a_busy_day(&roster, &mailer, &clock).await;
    assert!(tokens.len() >= 20, "tokens: {}", tokens.len());

    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert!(
        files.iter().any(|(name, _)| name.ends_with("-wal")),
        "the write-ahead log is scanned while it exists: {:?}",
        files.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    // The scan sees what the store writes: the addresses invited are there in clear.
    assert!(
        files
            .iter()
            .any(|(_, bytes)| bytes.windows(17).any(|w| w == b"bulk7@example.com")),
        "the scan does not see the store's rows"
    );
    for token in &tokens {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap();
        for (name, bytes) in &files {
            let found_text = bytes.windows(token.len()).any(|w| w == token.as_bytes());
            let found_raw = bytes.windows(raw.len()).any(|w| w == raw.as_slice());
            assert!(!found_text && !found_raw, "a link token is in {name}");
        }
    }
    store.close().await;
}

#[tokio::test]
async fn an_invitation_that_expired_before_its_mail_went_out_is_given_up_not_sent() {
    // spec: INV-13, INV-2 — a link that no longer works is not mailed; the failure says what
    // to do.
    let w = World::new().await;
    let who = actor("late");
    w.invite(&who, Role::Member, None).await;
    w.advance(Duration::days(11));
    let report = w.roster.deliver_mail(100).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    assert!(w.mailer.sent().is_empty());
    let reason = first_failure(&w).await;
    assert!(
        reason.contains("expired") && reason.contains("resend"),
        "{reason}"
    );
}
