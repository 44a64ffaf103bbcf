//! The host's veto over invitations and acceptances (MEM-3): a hook sees what is about to be
//! decided and may refuse it with a reason the caller gets; a hook that fails refuses the
//! command; nothing changes when a hook refuses.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use orgroster::{
    AcceptCheck, BulkLineError, Error, Hooks, InviteCheck, LinkKey, Role, Roster, RosterConfig,
    Veto,
};

use crate::fixture::{World, actor, assert_actionable, email, newcomer};

/// Only addresses of the organization's own domains may be invited, and only someone who
/// signs in from one of them may accept; every check is recorded.
#[derive(Debug, Default)]
struct OwnDomains {
    seen: Mutex<Vec<String>>,
}

fn domain_of(address: &str) -> &str {
    address.rsplit('@').next().unwrap_or_default()
}

#[async_trait::async_trait]
impl Hooks for OwnDomains {
    async fn before_invite(&self, check: &InviteCheck<'_>) -> Result<(), Veto> {
        self.seen.lock().unwrap().push(format!(
            "invite {} as {} into {:?} by {:?} in {}",
            check.email,
            check.role,
            check.team.map(|t| t.name.as_str().to_owned()),
            check.actor.map(|a| a.email.to_string()),
            check.organization.name,
        ));
        match domain_of(check.email.key()) {
            "example.com" => Ok(()),
            other => Err(Veto::new(format!(
                "{other} is not one of the organization's domains"
            ))),
        }
    }

    async fn before_accept(&self, check: &AcceptCheck<'_>) -> Result<(), Veto> {
        self.seen.lock().unwrap().push(format!(
            "accept {} by {}",
            check.invitation.email, check.actor.email
        ));
        if check.actor.email.key().starts_with("blocked") {
            return Err(Veto::new("this account is blocked by the organization"));
        }
        Ok(())
    }
}

/// A world whose roster asks `hooks`.
fn with_hooks(w: &World, hooks: impl Hooks) -> Roster {
    Roster::builder(
        w.store.clone(),
        w.mailer.clone(),
        LinkKey::from_bytes([7; 32]),
    )
    .clock(w.clock.clone())
    .config(RosterConfig::default().with_hook_timeout(Duration::from_millis(200)))
    .hooks(hooks)
    .build()
}

#[tokio::test]
async fn a_hook_refuses_an_invitation_outside_the_organizations_domains() {
    // spec: MEM-3, ERR-2
    let w = World::new().await;
    let hooks = Arc::new(OwnDomains::default());
    let roster = with_hooks(&w, Arc::clone(&hooks));
    let team = w.team("Ops").await;
    let before = w.snapshot().await;
    let err = roster
        .invite_member(
            &w.founder,
            w.org,
            email("eve@rival.example"),
            Role::Member,
            Some(team),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Vetoed { reason } if reason.contains("rival.example")),
        "{err:?}"
    );
    assert_actionable(&err, &["policy", "rival.example"]);
    assert_eq!(w.snapshot().await, before, "nothing changed");
    let seen = hooks.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            "invite eve@rival.example as Member into Some(\"Ops\") by Some(\"founder@example.com\") in Northwind Learning"
                .to_owned()
        ]
    );
    roster
        .invite_member(
            &w.founder,
            w.org,
            email("ann@example.com"),
            Role::Member,
            None,
        )
        .await
        .expect("an address of the organization's domain");
}

#[tokio::test]
async fn in_a_paste_a_refused_address_is_that_lines_rejection() {
    // spec: MEM-3, INV-7
    let w = World::new().await;
    let roster = with_hooks(&w, OwnDomains::default());
    let report = roster
        .invite_members(
            &w.founder,
            w.org,
            "ann@example.com\neve@rival.example\nbob@example.com",
            Role::Member,
            None,
        )
        .await
        .unwrap();
    let invited: Vec<usize> = report.invited.iter().map(|(line, _)| *line).collect();
    assert_eq!(invited, vec![1, 3]);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 2);
    assert!(
        matches!(&report.rejected[0].reason, BulkLineError::Vetoed { reason } if reason.contains("rival.example")),
        "{:?}",
        report.rejected[0]
    );
}

#[tokio::test]
async fn a_hook_refuses_an_acceptance_and_the_invitation_stays_pending() {
    // spec: MEM-3, INV-1
    let w = World::new().await;
    let roster = with_hooks(&w, OwnDomains::default());
    let blocked = actor("blocked.user");
    let sent = roster
        .invite_member(&w.founder, w.org, blocked.email.clone(), Role::Member, None)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = roster
        .accept_invitation(&blocked, &sent.token.expose(), newcomer("Blocked"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Vetoed { .. }), "{err:?}");
    assert_eq!(w.snapshot().await, before, "still pending, nothing changed");
    let err = roster
        .accept_invitation_by_id(&blocked, sent.invitation.id, newcomer("Blocked"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Vetoed { .. }),
        "from the inbox too: {err:?}"
    );
}

#[derive(Debug)]
struct Broken {
    sleep: bool,
}

#[async_trait::async_trait]
impl Hooks for Broken {
    async fn before_invite(&self, _: &InviteCheck<'_>) -> Result<(), Veto> {
        if self.sleep {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        } else {
            panic!("the host's hook has a bug")
        }
    }
}

#[tokio::test]
async fn a_hook_that_panics_or_hangs_refuses_the_command_and_changes_nothing() {
    // spec: MEM-3, ERR-2
    let w = World::new().await;
    for sleep in [false, true] {
        let roster = with_hooks(&w, Broken { sleep });
        let before = w.snapshot().await;
        let err = roster
            .invite_member(
                &w.founder,
                w.org,
                email("ann@example.com"),
                Role::Member,
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HookFailed { .. }), "{err:?}");
        assert_eq!(err.code(), "hook_failed");
        assert_eq!(w.snapshot().await, before, "nothing changed");
        let err = roster
            .invite_members(&w.founder, w.org, "bob@example.com", Role::Member, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HookFailed { .. }), "{err:?}");
        assert_eq!(w.snapshot().await, before, "nothing changed");
    }
}
