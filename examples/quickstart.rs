//! The onboarding story of the seeds, end to end, printed as a transcript.
//!
//! The platform opens an organization and invites its first administrator, who joins through
//! the link and finds it in her account menu; she invites a second administrator by name (the
//! email is shown as it would be sent), who accepts; a team is made, learners are invited in
//! bulk from a paste with a bad line and a duplicate, the team page is set up, an invitation
//! expires and still shows as pending, one is resent and one revoked, the audit trail shows
//! who did what, and a few learning events end the story with a short statistics table.
//!
//! Run it with `cargo run --example quickstart`. It keeps its data in an embedded SQLite file
//! under the system temp directory (the path is printed) and makes a new organization on every
//! run. `--database URL` picks another store: `sqlite://path.db`, `sqlite::memory:`, `memory`,
//! or, built with the `postgres` feature, a `postgres://` URL.

#[path = "support/store.rs"]
mod support;

use std::collections::HashMap;

use chrono::Duration;
use orgroster::{
    AcceptOptions, Actor, BackOfficeUser, Capabilities, Capability, Clock, CourseId, EmailAddress,
    EventActor, InvitationFilter, LicenseKind, ManualClock, MemberFilter, Message, Page, Period,
    Profile, RecordingMailer, ReportedActivity, ReportedKind, Role, Roster, Statistics, StatsScope,
    SuggestedCourses, TeamName, TeamPage, UserId,
};

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// One line of the statistics table: a figure drawn from a scope's statistics.
type Figure = fn(&Statistics) -> String;

fn section(clock: &ManualClock, title: &str) {
    clock.advance(Duration::minutes(7));
    println!(
        "\n== {title} {}",
        "=".repeat(70usize.saturating_sub(title.len()))
    );
}

fn person(first: &str, last: &str, email: &str) -> Res<(Actor, Profile)> {
    Ok((
        Actor::new(UserId::new(), EmailAddress::parse(email)?),
        Profile::parse(first, last)?,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Res {
    let store = support::open_store("orgroster-quickstart.db").await?;
    let mailer = RecordingMailer::new();
    let clock = ManualClock::default();
    let roster = Roster::builder(store.clone(), mailer.clone(), support::link_key()?)
        .clock(clock.clone())
        .build();

    section(&clock, "1. The platform opens an organization (ORG-5)");
    let pat = BackOfficeUser::new(UserId::new(), Profile::parse("Pat", "Lindqvist")?);
    let organization = roster
        .provision_organization("Northwind Learning".parse()?)
        .await?;
    let org = organization.id;
    println!(
        "The platform's team opens \"{}\" for its new customer: no member yet.",
        organization.name
    );
    let (maya, maya_profile) = person("Maya", "Okafor", "maya.okafor@northwind.example")?;
    match roster
        .invite_first_administrator(&pat, org, maya.email.clone(), maya_profile.clone())
        .await
    {
        Err(e) => println!(
            "Inviting its first administrator before any license is refused (ORG-3):\n  {e}"
        ),
        Ok(_) => println!("(unexpected: the invitation went through)"),
    }
    let plan = CourseId::parse("plus-annual")?;
    roster
        .add_license(org, LicenseKind::Subscription { plan })
        .await?;
    roster
        .set_capabilities(
            org,
            Capabilities::default().with(Capability::CoursecloudLegacy),
        )
        .await?;
    println!("The platform adds a subscription license and enables learner invitations.");

    section(&clock, "2. The first administrator joins (ORG-5, USR-4)");
    let first = roster
        .invite_first_administrator(&pat, org, maya.email.clone(), maya_profile.clone())
        .await?;
    roster.deliver_mail(100).await?;
    for mail in mailer.take() {
        println!(
            "--- email to {} --- Subject: {}\n{}",
            mail.to,
            mail.subject,
            mail.text.trim_end()
        );
    }
    let joined = roster
        .accept_invitation(
            &maya,
            &first.token.expose(),
            AcceptOptions::new(maya_profile),
        )
        .await?;
    println!(
        "\nMaya follows the link, creates her account and joins with roles [{}].",
        joined.member.roles
    );
    println!("Her account menu, under her initials, lists her organizations:");
    for membership in roster.memberships(&maya, Page::first(10)).await?.items {
        let area = if membership.member.is_administrator() {
            "the administrator area"
        } else {
            "the learner area"
        };
        println!(
            "  {:<24} [{}] {} -> {area}",
            membership.organization_name.as_str(),
            membership.member.roles,
            membership.member.status()
        );
    }

    section(&clock, "3. Inviting an administrator by name (ADM-4)");
    let (sam, sam_profile) = person("Sam", "Reyes", "Sam.Reyes@northwind.example")?;
    let invite = roster
        .invite_administrator(&maya, org, sam.email.clone(), sam_profile.clone())
        .await?;
    println!(
        "Invitation for {} is Pending until {}.",
        invite.invitation.email,
        invite.invitation.expires_at.format("%Y-%m-%d")
    );
    roster.deliver_mail(100).await?;
    for mail in mailer.take() {
        println!(
            "\n--- email to {} --- Subject: {}\n{}",
            mail.to,
            mail.subject,
            mail.text.trim_end()
        );
    }

    section(&clock, "4. Sam accepts");
    // Sam signs in with the same address in another case: addresses compare case-insensitively.
    let sam_signed_in = Actor::new(
        sam.user,
        EmailAddress::parse("sam.reyes@NORTHWIND.example")?,
    );
    let link = invite.token.expose();
    let preview = roster.preview_invitation(&link, true).await?;
    println!(
        "Sam opens the link: join {} as {} (expired: {}).",
        preview.organization, preview.role, preview.expired
    );
    if let Some(warning) = preview.existing_account_warning {
        println!("Sam already has an account and sees: \"{warning}\"");
    }
    let options = AcceptOptions::new(sam_profile.clone()).existing_account(false);
    if let Err(e) = roster
        .accept_invitation(&sam_signed_in, &link, options.clone())
        .await
    {
        println!("Accepting without acknowledging: {e}");
    }
    let options = options.existing_account(true);
    let accepted = roster
        .accept_invitation(&sam_signed_in, &link, options)
        .await?;
    println!(
        "Sam acknowledges and accepts: now a member with roles [{}].",
        accepted.member.roles
    );
    for entry in roster.administrator_team(&maya, org).await? {
        println!(
            "  administrator team: {:<34} {}",
            entry.email.to_string(),
            entry.status
        );
    }

    section(&clock, "5. A team and its page (TEAM-1, TEAM-2)");
    let data = roster
        .create_team(&sam, org, TeamName::parse("Data Platform")?)
        .await?;
    let page = TeamPage {
        message: Some(Message::parse(
            "Welcome! Start with the SQL course this month.",
        )?),
        suggested_courses: SuggestedCourses::parse([
            "sql-fundamentals",
            "python-for-data",
            "dashboards-101",
        ])?,
    };
    let data = roster.set_team_page(&sam, org, data.id, page).await?;
    println!(
        "Team \"{}\" created; its page says: {}",
        data.name,
        data.page.message.as_ref().map_or("", |m| m.as_str())
    );
    let courses: Vec<&str> = data
        .page
        .suggested_courses
        .as_slice()
        .iter()
        .map(|c| c.as_str())
        .collect();
    println!("Suggested courses, in order: {}", courses.join(", "));

    section(&clock, "6. Learners invited in bulk (INV-7)");
    let paste = "ana@northwind.example, ben@northwind.example; chloe@northwind.example\n\
                 dev@northwind\n\
                 \"Eve Martin\" <eve@northwind.example>\n\
                 BEN@northwind.example";
    println!("Pasted text:\n{paste}\n");
    let report = roster
        .invite_members(&sam, org, paste, Role::Member, Some(data.id))
        .await?;
    let mut lines: Vec<(usize, String)> = report
        .invited
        .iter()
        .map(|(line, c)| (*line, format!("invited {}", c.invitation.email)))
        .chain(
            report
                .rejected
                .iter()
                .map(|r| (r.line, format!("NOT invited {:?}: {}", r.text, r.reason))),
        )
        .collect();
    lines.sort_by_key(|(line, _)| *line);
    for (line, text) in lines {
        println!("  line {line}: {text}");
    }
    let tokens: Vec<(String, String)> = report
        .invited
        .iter()
        .map(|(_, c)| (c.invitation.email.to_string(), c.token.expose()))
        .collect();
    roster.deliver_mail(100).await?;
    println!(
        "{} invitation emails delivered through the outbox.",
        mailer.take().len()
    );

    let (ana, ana_profile) = person("Ana", "Lima", "ana@northwind.example")?;
    let ana_link = tokens
        .iter()
        .find(|(e, _)| e == "ana@northwind.example")
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let options = AcceptOptions::new(ana_profile);
    roster.accept_invitation(&ana, &ana_link, options).await?;
    let in_team = roster
        .members(
            &sam,
            org,
            MemberFilter::default().in_team(data.id),
            Page::first(50),
        )
        .await?;
    println!(
        "Ana accepts and joins the team; team members: {}",
        in_team
            .items
            .iter()
            .map(|m| m.email.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    section(&clock, "7. Eleven days later (INV-2)");
    clock.advance(Duration::days(11));
    let pending = roster
        .invitations(&sam, org, InvitationFilter::pending(), Page::first(50))
        .await?;
    for view in &pending.items {
        println!(
            "  {:<26} Pending{}",
            view.invitation.email.to_string(),
            if view.expired { " (expired)" } else { "" }
        );
    }
    let ben_link = tokens
        .iter()
        .find(|(e, _)| e == "ben@northwind.example")
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let (ben, ben_profile) = person("Ben", "Adeyemi", "ben@northwind.example")?;
    let options = AcceptOptions::new(ben_profile.clone());
    if let Err(e) = roster
        .accept_invitation(&ben, &ben_link, options.clone())
        .await
    {
        println!("Ben tries his old link: {e}");
    }

    section(&clock, "8. Resend and revoke (INV-3, INV-4)");
    let ben_invitation = pending
        .items
        .iter()
        .find(|v| v.invitation.email.key() == "ben@northwind.example")
        .map(|v| v.invitation.id);
    let chloe_invitation = pending
        .items
        .iter()
        .find(|v| v.invitation.email.key() == "chloe@northwind.example")
        .map(|v| v.invitation.id);
    if let (Some(ben_id), Some(chloe_id)) = (ben_invitation, chloe_invitation) {
        let resent = roster.resend_invitation(&sam, org, ben_id).await?;
        println!(
            "Resent to Ben: new link, valid until {}.",
            resent.invitation.expires_at.format("%Y-%m-%d")
        );
        roster
            .accept_invitation(&ben, &resent.token.expose(), options)
            .await?;
        println!("Ben accepts with the new link.");
        roster.revoke_invitation(&sam, org, chloe_id).await?;
        println!("Chloe's invitation is revoked; her link no longer works.");
    }
    roster.deliver_mail(100).await?;
    mailer.take();
    let pending = roster
        .invitations(&sam, org, InvitationFilter::pending(), Page::first(50))
        .await?;
    println!(
        "Still pending: {}",
        pending
            .items
            .iter()
            .map(|v| format!(
                "{}{}",
                v.invitation.email,
                if v.expired { " (expired)" } else { "" }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );

    section(&clock, "9. The audit trail (INV-12)");
    let names: HashMap<UserId, &str> = [
        (maya.user, "Maya"),
        (sam.user, "Sam"),
        (ana.user, "Ana"),
        (ben.user, "Ben"),
    ]
    .into();
    let trail = roster.audit_trail(&maya, org, Page::first(100)).await?;
    for event in &trail.items {
        let who = match &event.actor {
            EventActor::User { user } => names.get(user).copied().unwrap_or("someone"),
            EventActor::Invitee { .. } => "the invitee",
            _ => "platform",
        };
        println!(
            "  {}  {who:<8} {}",
            event.at.format("%b %d %H:%M"),
            describe(&event.kind)
        );
    }
    section(&clock, "10. Learning activity (STAT-1, STAT-2)");
    clock.advance(Duration::days(3));
    let now = clock.now();
    let ago = |hours: i64| now - Duration::hours(hours);
    let event = |id: &str, who: &Actor, course: &str, kind, at| ReportedActivity {
        id: id.to_owned(),
        user: who.user,
        course: course.to_owned(),
        kind,
        at,
    };
    let activity = [
        event(
            "qs-1",
            &ana,
            "sql-fundamentals",
            ReportedKind::Enrolled,
            ago(250),
        ),
        event(
            "qs-2",
            &ana,
            "sql-fundamentals",
            ReportedKind::TimeSpent { seconds: 2700 },
            ago(249),
        ),
        event(
            "qs-3",
            &ana,
            "sql-fundamentals",
            ReportedKind::Progress { percent: 60 },
            ago(249),
        ),
        event(
            "qs-4",
            &ana,
            "sql-fundamentals",
            ReportedKind::TimeSpent { seconds: 1800 },
            ago(30),
        ),
        event(
            "qs-5",
            &ana,
            "sql-fundamentals",
            ReportedKind::Completed,
            ago(29),
        ),
        event(
            "qs-6",
            &ana,
            "sql-fundamentals",
            ReportedKind::CertificateEarned,
            ago(29),
        ),
        event(
            "qs-7",
            &ben,
            "sql-fundamentals",
            ReportedKind::Enrolled,
            ago(50),
        ),
        event(
            "qs-8",
            &ben,
            "sql-fundamentals",
            ReportedKind::TimeSpent { seconds: 1200 },
            ago(49),
        ),
        event(
            "qs-9",
            &ben,
            "python-for-data",
            ReportedKind::Enrolled,
            ago(2),
        ),
    ];
    let receipt = roster.record_activity(org, &activity).await?;
    println!(
        "The learning platform reports {} events for Ana and Ben: {} recorded.",
        activity.len(),
        receipt.recorded
    );
    let retry = roster.record_activity(org, &activity).await?;
    println!(
        "It retries the same batch: {} recorded, {} refused as already counted.",
        retry.recorded,
        retry.rejected.len()
    );
    let last_30_days = Period::days_until(now, 30)?;
    let whole = roster
        .statistics(&maya, org, StatsScope::Organization, last_30_days)
        .await?;
    let team = roster
        .statistics(&maya, org, StatsScope::Team(data.id), last_30_days)
        .await?;
    println!(
        "\n{:<22} {:>17} {:>17}",
        "Last 30 days", "organization", "Data Platform"
    );
    let rows: [(&str, Figure); 8] = [
        ("members", |s| s.members.to_string()),
        ("active learners", |s| s.active_learners.to_string()),
        ("enrolments", |s| s.enrolments.to_string()),
        ("completions", |s| s.completions.to_string()),
        ("completion rate", |s| {
            s.completion_rate()
                .map_or_else(|| "-".to_owned(), |r| format!("{:.0}%", r * 100.0))
        }),
        ("certificates", |s| s.certificates.to_string()),
        ("hours spent", |s| {
            format!("{:.1}", s.time_spent_seconds as f64 / 3600.0)
        }),
        ("top course", |s| {
            s.top_courses
                .first()
                .map_or_else(|| "-".to_owned(), |c| c.course.to_string())
        }),
    ];
    for (label, figure) in rows {
        println!("  {label:<20} {:>17} {:>17}", figure(&whole), figure(&team));
    }

    println!(
        "\nDone: {} members, {} events.",
        roster
            .members(&maya, org, MemberFilter::default(), Page::first(100))
            .await?
            .items
            .len(),
        trail.items.len()
    );
    Ok(())
}

fn describe(kind: &orgroster::EventKind) -> String {
    use orgroster::EventKind as K;
    match kind {
        K::OrganizationCreated { name, .. } => format!("organization \"{name}\" created"),
        K::OrganizationProvisioned { name } => format!("organization \"{name}\" opened"),
        K::LicenseAdded { kind, .. } => format!("license added: {kind}"),
        K::CapabilitiesChanged { .. } => "capabilities changed".to_owned(),
        K::InvitationSent { email, role, .. } => format!("invited {email} as {role}"),
        K::InvitationResent { email, .. } => format!("invitation resent to {email}"),
        K::InvitationAccepted { email, .. } => format!("{email} accepted"),
        K::InvitationDeclined { email, .. } => format!("{email} declined"),
        K::InvitationRevoked { email, .. } => format!("invitation for {email} revoked"),
        K::TeamCreated { name, .. } => format!("team \"{name}\" created"),
        K::TeamPageUpdated { .. } => "team page updated".to_owned(),
        K::TeamMemberAdded { .. } => "member added to a team".to_owned(),
        other => format!("{other:?}"),
    }
}
