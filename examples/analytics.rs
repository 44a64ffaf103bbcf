//! Learning analytics on a seeded organization, printed as a transcript (spec: STAT-1..4).
//!
//! Northwind Learning has five teams and about a hundred learners (a few of them in two
//! teams), who enrol, make progress, spend time, complete courses and earn certificates over
//! eight weeks: a few thousand events, generated from a fixed seed so every run prints the
//! same figures. The host reports them in batches (a retried batch is not counted twice),
//! then the transcript shows the organization's statistics, the teams side by side, one
//! team's weekly series, who may see what, and the two CSV reports it writes.
//!
//! Run it with `cargo run --example analytics`. It keeps its data in an embedded SQLite file
//! under the system temp directory (the path is printed) and makes a new organization on every
//! run; the CSV files go to the same directory. `--database URL` picks another store:
//! `sqlite://path.db`, `sqlite::memory:`, `memory`, or, built with the `postgres` feature, a
//! `postgres://` URL.

#[path = "support/store.rs"]
mod support;

use std::{fs::File, io::BufWriter, path::Path};

use chrono::{DateTime, Duration, TimeZone, Utc};
use orgroster::{
    AcceptOptions, Actor, Capabilities, Capability, Comparison, CourseId, EmailAddress,
    LicenseKind, ManualClock, OrganizationId, Period, Profile, RecordingMailer, ReportedActivity,
    ReportedKind, Role, Roster, Statistics, StatsScope, TeamId, TeamName, UserId,
};

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The teams, each with the courses its learners favour.
const TEAMS: [(&str, &[&str]); 5] = [
    (
        "Data Platform",
        &["sql-fundamentals", "python-for-data", "dashboards-101"],
    ),
    ("Sales", &["negotiation-basics", "customer-empathy"]),
    ("Support", &["customer-empathy", "dashboards-101"]),
    ("Security", &["cloud-security", "python-for-data"]),
    ("Leadership", &["leadership-101", "negotiation-basics"]),
];

/// Courses anyone may pick.
const CATALOGUE: [&str; 8] = [
    "sql-fundamentals",
    "python-for-data",
    "dashboards-101",
    "negotiation-basics",
    "customer-empathy",
    "cloud-security",
    "leadership-101",
    "rust-intro",
];

const FIRST: [&str; 20] = [
    "Ana", "Ben", "Chloe", "Dev", "Eve", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kemi", "Liam",
    "Mona", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST: [&str; 10] = [
    "Lima", "Adeyemi", "Martin", "Patel", "Novak", "Haddad", "Kim", "Berg", "Costa", "Osei",
];

/// A tiny deterministic generator (SplitMix64), so every run prints the same figures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn section(title: &str) {
    println!(
        "\n== {title} {}",
        "=".repeat(70usize.saturating_sub(title.len()))
    );
}

/// Monday 2026-01-05, 00:00 UTC: the first day of the eight weeks.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// One learner of the seeded organization.
struct Learner {
    actor: Actor,
    name: String,
    /// Index into `TEAMS` of the team they belong to first.
    team: usize,
    /// How keen they are, from 1 (rarely shows up) to 5.
    keen: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Res {
    let store = support::open_store("orgroster-analytics.db").await?;
    let clock = ManualClock::new(start() + Duration::hours(9));
    let roster = Roster::builder(store, RecordingMailer::new(), support::link_key()?)
        .clock(clock.clone())
        .build();
    let mut rng = Rng(2026);

    section("1. A seeded organization");
    let maya = Actor::new(
        UserId::new(),
        EmailAddress::parse("maya.okafor@northwind.example")?,
    );
    let org = roster
        .create_organization(
            &maya,
            "Northwind Learning".parse()?,
            Profile::parse("Maya", "Okafor")?,
        )
        .await?
        .organization
        .id;
    roster
        .add_license(
            org,
            LicenseKind::Subscription {
                plan: CourseId::parse("plus-annual")?,
            },
        )
        .await?;
    roster
        .set_capabilities(
            org,
            Capabilities::default().with(Capability::CoursecloudLegacy),
        )
        .await?;
    let mut teams: Vec<TeamId> = Vec::new();
    for (name, _) in TEAMS {
        teams.push(
            roster
                .create_team(&maya, org, TeamName::parse(name)?)
                .await?
                .id,
        );
    }
    let learners = seed_members(&roster, &maya, org, &teams, &mut rng).await?;
    let in_two = learners.iter().filter(|l| l.keen == 5).count();
    println!(
        "Maya Okafor's organization has {} teams and {} learners ({} of them in two teams),\n\
         all invited in bulk per team and accepted on Monday, January 5.",
        teams.len(),
        learners.len(),
        in_two
    );

    section("2. The host reports learning events (STAT-1)");
    let events = generate_events(&learners, &mut rng);
    let mut recorded = 0;
    for batch in events.chunks(500) {
        recorded += roster.record_activity(org, batch).await?.recorded;
    }
    println!(
        "{} events over eight weeks, sent in batches of 500: {recorded} recorded.",
        events.len()
    );
    let retry = roster.record_activity(org, &events[..500]).await?;
    println!(
        "The first batch is sent again after a time-out: {} recorded, {} refused as duplicates.",
        retry.recorded,
        retry.rejected.len()
    );
    let ana = &learners[0];
    let bad = [
        ReportedActivity {
            id: "late-1".to_owned(),
            user: ana.actor.user,
            course: "sql-fundamentals".to_owned(),
            kind: ReportedKind::Progress { percent: 130 },
            at: start() + Duration::days(20),
        },
        ReportedActivity {
            id: "late-2".to_owned(),
            user: UserId::new(),
            course: "sql-fundamentals".to_owned(),
            kind: ReportedKind::Enrolled,
            at: start() + Duration::days(20),
        },
        ReportedActivity {
            id: "late-3".to_owned(),
            user: ana.actor.user,
            course: "sql-fundamentals".to_owned(),
            kind: ReportedKind::TimeSpent { seconds: 900 },
            at: start() + Duration::days(20),
        },
    ];
    let receipt = roster.record_activity(org, &bad).await?;
    println!(
        "A batch of three with two bad events: {} recorded; refused:",
        receipt.recorded
    );
    for (index, id, reason) in &receipt.rejected {
        println!("  event {index} ({id}): {reason}");
    }

    clock.set(start() + Duration::weeks(8) + Duration::hours(9));
    let period = Period::new(start(), start() + Duration::weeks(8))?;

    section("3. The organization over eight weeks (STAT-2)");
    let stats = roster
        .statistics(&maya, org, StatsScope::Organization, period)
        .await?;
    print_summary(&stats);

    section("4. Teams side by side (STAT-3)");
    let comparison = roster.compare_teams(&maya, org, &teams, period).await?;
    print_comparison(&comparison);
    println!("A learner in two teams counts in both rows and once in the organization's.");

    section("5. Data Platform, week by week");
    let data = roster
        .statistics(&maya, org, StatsScope::Team(teams[0]), period)
        .await?;
    print_weeks(&data);

    section("6. Who sees what (STAT-2, TEAM-4)");
    let supervisor = &learners[1];
    roster
        .grant_role(&maya, org, supervisor.actor.user, Role::TeamSupervisor)
        .await?;
    let own = roster
        .statistics(
            &supervisor.actor,
            org,
            StatsScope::Team(teams[supervisor.team]),
            period,
        )
        .await?;
    println!(
        "{}, now supervising {}, sees it: {} active learners.",
        supervisor.name, TEAMS[supervisor.team].0, own.active_learners
    );
    for scope in [StatsScope::Team(teams[4]), StatsScope::Organization] {
        if let Err(e) = roster
            .statistics(&supervisor.actor, org, scope, period)
            .await
        {
            println!(
                "{} asks for {}: {e}",
                supervisor.name,
                describe(scope, &teams)
            );
        }
    }
    let mine = roster
        .statistics(&ana.actor, org, StatsScope::Member(ana.actor.user), period)
        .await?;
    println!(
        "{} sees her own figures: {} enrolments, {} completions, {} certificates.",
        ana.name, mine.enrolments, mine.completions, mine.certificates
    );
    if let Err(e) = roster
        .statistics(&ana.actor, org, StatsScope::Team(teams[ana.team]), period)
        .await
    {
        println!("{} asks for her team's: {e}", ana.name);
    }

    section("7. Reports (STAT-4)");
    let dir = std::env::temp_dir();
    let comparison_csv = dir.join("analytics-comparison.csv");
    comparison.write_csv(BufWriter::new(File::create(&comparison_csv)?))?;
    let members_csv = dir.join("analytics-members.csv");
    let rows = roster
        .export_member_activity(
            &maya,
            org,
            StatsScope::Organization,
            period,
            BufWriter::new(File::create(&members_csv)?),
        )
        .await?;
    show_file(&comparison_csv, "the comparison", 3)?;
    show_file(
        &members_csv,
        &format!("{rows} members, written page by page"),
        4,
    )?;
    Ok(())
}

/// Invites the learners in bulk, team by team, and has them all accept; every learner keen
/// enough (5) also joins the next team.
async fn seed_members(
    roster: &Roster,
    maya: &Actor,
    org: OrganizationId,
    teams: &[TeamId],
    rng: &mut Rng,
) -> Res<Vec<Learner>> {
    let mut learners = Vec::new();
    for (t, team) in teams.iter().enumerate() {
        let size = 16 + rng.below(8) as usize;
        let people: Vec<(String, String)> = (0..size)
            .map(|i| {
                let n = learners.len() + i;
                (
                    FIRST[n % FIRST.len()].to_owned(),
                    LAST[(n / FIRST.len() + n) % LAST.len()].to_owned(),
                )
            })
            .collect();
        let paste: String = people
            .iter()
            .enumerate()
            .map(|(i, (first, last))| {
                format!(
                    "{}.{}{}@northwind.example\n",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    learners.len() + i
                )
            })
            .collect();
        let report = roster
            .invite_members(maya, org, &paste, Role::Member, Some(*team))
            .await?;
        for ((_, created), (first, last)) in report.invited.iter().zip(people) {
            let actor = Actor::new(UserId::new(), created.invitation.email.clone());
            let profile = Profile::parse(&first, &last)?;
            roster
                .accept_invitation(&actor, &created.token.expose(), AcceptOptions::new(profile))
                .await?;
            learners.push(Learner {
                actor,
                name: format!("{first} {last}"),
                team: t,
                keen: 1 + rng.below(5),
            });
        }
    }
    for learner in learners.iter().filter(|l| l.keen == 5) {
        let next = teams[(learner.team + 1) % teams.len()];
        roster
            .add_team_member(maya, org, next, learner.actor.user)
            .await?;
    }
    Ok(learners)
}

/// Each learner enrols in a few courses (mostly their team's favourites) and works on them
/// for a while: progress, time spent, and for the keen ones a completion and a certificate.
fn generate_events(learners: &[Learner], rng: &mut Rng) -> Vec<ReportedActivity> {
    let mut events = Vec::new();
    let eight_weeks = 8 * 7 * 24;
    for learner in learners {
        // Half of the least keen never start anything.
        if learner.keen == 1 && rng.chance(50) {
            continue;
        }
        let favourites = TEAMS[learner.team].1;
        let courses = 1 + rng.below(learner.keen.min(3));
        for c in 0..courses {
            let course = if rng.chance(75) {
                rng.pick(favourites)
            } else {
                rng.pick(&CATALOGUE)
            };
            // Hours after the start of the eight weeks, from 10:00 on the first day.
            let mut hour = 10 + rng.below(eight_weeks / 2);
            let push = |events: &mut Vec<ReportedActivity>, kind, hour: u64| {
                events.push(ReportedActivity {
                    id: format!("{}-{c}-{}", learner.actor.user, events.len()),
                    user: learner.actor.user,
                    course: course.to_owned(),
                    kind,
                    at: start() + Duration::hours(hour as i64),
                });
            };
            push(&mut events, ReportedKind::Enrolled, hour);
            let sessions = learner.keen * 3 + rng.below(6);
            let mut percent = 0;
            for _ in 0..sessions {
                hour += 6 + rng.below(30 * (6 - learner.keen));
                if hour >= eight_weeks {
                    break;
                }
                push(
                    &mut events,
                    ReportedKind::TimeSpent {
                        seconds: 300 + rng.below(2700) as i64,
                    },
                    hour,
                );
                percent = (percent + 5 + rng.below(10) as i64).min(100);
                push(&mut events, ReportedKind::Progress { percent }, hour);
            }
            if percent >= 60 && hour + 1 < eight_weeks && rng.chance(20 * learner.keen) {
                push(&mut events, ReportedKind::Completed, hour + 1);
                if rng.chance(70) {
                    push(&mut events, ReportedKind::CertificateEarned, hour + 1);
                }
            }
        }
    }
    events
}

fn hours(seconds: u64) -> String {
    format!("{:.1}", seconds as f64 / 3600.0)
}

fn rate(stats: &Statistics) -> String {
    stats
        .completion_rate()
        .map_or_else(|| "-".to_owned(), |r| format!("{:.1}", r * 100.0))
}

fn print_summary(stats: &Statistics) {
    let row = |label: &str, value: String| println!("  {label:<34} {value:>8}");
    row(
        "members at the end of the period",
        stats.members.to_string(),
    );
    row("invitations sent in the period", stats.invited.to_string());
    row(
        "learners active in the period",
        stats.active_learners.to_string(),
    );
    row("enrolments", stats.enrolments.to_string());
    row("completions", stats.completions.to_string());
    row("completion rate %", rate(stats));
    row("certificates earned", stats.certificates.to_string());
    row("hours spent", hours(stats.time_spent_seconds));
    row(
        "hours per active learner",
        stats
            .time_per_active_learner()
            .map_or_else(|| "-".to_owned(), hours),
    );
    println!("  most followed courses:");
    for course in &stats.top_courses {
        println!(
            "    {:<30} {:>3} learners",
            course.course.as_str(),
            course.learners
        );
    }
}

fn print_comparison(comparison: &Comparison) {
    println!(
        "  {:<15} {:>7} {:>6} {:>10} {:>11} {:>12} {:>12} {:>6}  top course",
        "team",
        "members",
        "active",
        "enrolments",
        "completions",
        "completion %",
        "certificates",
        "hours"
    );
    let line = |name: &str, s: &Statistics| {
        println!(
            "  {:<15} {:>7} {:>6} {:>10} {:>11} {:>12} {:>12} {:>6}  {}",
            name,
            s.members,
            s.active_learners,
            s.enrolments,
            s.completions,
            rate(s),
            s.certificates,
            hours(s.time_spent_seconds),
            s.top_courses.first().map_or("-", |c| c.course.as_str())
        );
    };
    for (_, name, stats) in &comparison.teams {
        line(name, stats);
    }
    if let Some(org) = &comparison.organization {
        println!("  {}", "-".repeat(100));
        line("(organization)", org);
    }
}

fn print_weeks(stats: &Statistics) {
    println!(
        "  {:<12} {:>6} {:>11} {:>6}",
        "week of", "active", "completions", "hours"
    );
    for week in &stats.weekly {
        // One mark per two hours.
        let bar = "#".repeat((week.time_spent_seconds / 7200) as usize);
        println!(
            "  {:<12} {:>6} {:>11} {:>6}  {bar}",
            week.week.format("%a %b %d").to_string(),
            week.active_learners,
            week.completions,
            hours(week.time_spent_seconds)
        );
    }
}

fn describe(scope: StatsScope, teams: &[TeamId]) -> String {
    match scope {
        StatsScope::Organization => "the organization's figures".to_owned(),
        StatsScope::Team(team) => {
            let name = teams
                .iter()
                .position(|t| *t == team)
                .map_or("another team", |i| TEAMS[i].0);
            format!("{name}'s figures")
        }
        StatsScope::Member(_) => "someone's figures".to_owned(),
        _ => "other figures".to_owned(),
    }
}

fn show_file(path: &Path, what: &str, lines: usize) -> Res {
    let text = std::fs::read_to_string(path)?;
    println!("\n{} ({what}):", path.display());
    for line in text.lines().take(lines) {
        println!("  {line}");
    }
    println!("  … {} lines in all", text.lines().count());
    Ok(())
}
