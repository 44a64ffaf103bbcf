//! The CSV reports: one row per team or per member in scope, quoted cells and defused
//! formulas, streamed in pages (STAT-4).

use chrono::Duration;
use orgroster::{
    ChangeSet, EmailAddress, Member, MemberId, OrganizationWrite, Period, ReportedActivity,
    RoleSet, StatsScope, Store, UserId, Write,
};

use crate::fixture::{World, profile};

use super::{Enrolled, School, export, join_named, now, parse_csv};

#[tokio::test]
async fn the_comparison_report_has_one_row_per_team_and_the_organizations_totals() {
    // spec: STAT-4, STAT-3
    let s = School::new().await;
    let comparison =
        s.w.roster
            .compare_teams(&s.w.founder, s.w.org, &[s.red, s.blue], s.period)
            .await
            .unwrap();
    let mut out = Vec::new();
    comparison.write_csv(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "team,invited,members,active learners,enrolments,completions,completion rate %,\
         certificates,hours spent,minutes per active learner,top course\n\
         Red,1,4,3,4,2,50.0,1,1.5,30,sql-101\n\
         Blue,0,2,2,2,1,50.0,0,0.7,20,rust-201\n\
         (organization),1,9,6,7,3,42.9,1,2.3,22,sql-101\n"
    );
    let records = parse_csv(&text);
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.len() == 11));

    // A supervisor's comparison has no organization row.
    let own =
        s.w.roster
            .compare_teams(&s.sue, s.w.org, &[s.red], s.period)
            .await
            .unwrap();
    let mut out = Vec::new();
    own.write_csv(&mut out).unwrap();
    let records = parse_csv(&String::from_utf8(out).unwrap());
    assert_eq!(records.len(), 2);
    assert_eq!(records[1][0], "Red");
}

#[tokio::test]
async fn the_per_member_report_has_a_row_for_every_member_in_scope() {
    // spec: STAT-4, TEAM-4
    let s = School::new().await;
    let (rows, csv) = export(&s.w, &s.w.founder, StatsScope::Organization, s.period)
        .await
        .unwrap();
    assert_eq!(rows, 10);
    let records = parse_csv(&csv);
    assert_eq!(records.len(), 11);
    let row = |email: &str| {
        records
            .iter()
            .find(|r| r[0] == email)
            .unwrap_or_else(|| panic!("{email} is in the report"))
            .join("|")
    };
    assert_eq!(
        row("ben@example.com"),
        "ben@example.com|Joiner Tester|2|1|0|0.50|2026-02-03 10:00"
    );
    assert_eq!(
        row("eve@example.com"),
        "eve@example.com|Joiner Tester|1|0|0|0.28|2026-01-22 11:00"
    );
    assert_eq!(
        row("hal@example.com"),
        "hal@example.com|Joiner Tester|0|0|0|0.00|"
    );
    assert_eq!(
        row("founder@example.com"),
        "founder@example.com|Maya Founder|0|0|0|0.00|"
    );

    // Blue's report: ben and dev, not fay who left before the period.
    let (rows, csv) = export(&s.w, &s.max, StatsScope::Team(s.blue), s.period)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let mut emails: Vec<String> = parse_csv(&csv)[1..].iter().map(|r| r[0].clone()).collect();
    emails.sort();
    assert_eq!(emails, ["ben@example.com", "dev@example.com"]);
    let (_, csv) = export(&s.w, &s.max, StatsScope::Member(s.dev.user), s.period)
        .await
        .unwrap();
    assert_eq!(
        csv.lines().nth(1),
        Some("dev@example.com,Joiner Tester,1,0,0,0.17,2026-02-04 10:00")
    );
}

#[tokio::test]
async fn report_cells_are_quoted_and_formulas_are_defused() {
    // spec: STAT-4, ERR-3
    let w = World::new().await;
    let names = ["Sales, \"EMEA\"", "=cmd", "+1", "-1", "@x", "=SUM(A1,B1)"];
    let mut teams = Vec::new();
    for name in names {
        teams.push(w.team(name).await);
    }
    let now = now(&w);
    let period = Period::new(now - Duration::days(7), now + Duration::days(1)).unwrap();
    let comparison = w
        .roster
        .compare_teams(&w.founder, w.org, &teams, period)
        .await
        .unwrap();
    let mut out = Vec::new();
    comparison.write_csv(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[1..7],
        [
            "\"Sales, \"\"EMEA\"\"\",0,0,0,0,0,,0,0.0,,",
            "'=cmd,0,0,0,0,0,,0,0.0,,",
            "'+1,0,0,0,0,0,,0,0.0,,",
            "'-1,0,0,0,0,0,,0,0.0,,",
            "'@x,0,0,0,0,0,,0,0.0,,",
            "\"'=SUM(A1,B1)\",0,0,0,0,0,,0,0.0,,",
        ]
    );
    // Read back, the names are whole again (with the defusing quote).
    let records = parse_csv(&text);
    let read: Vec<&str> = records[1..7].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        read,
        [
            "Sales, \"EMEA\"",
            "'=cmd",
            "'+1",
            "'-1",
            "'@x",
            "'=SUM(A1,B1)"
        ]
    );

    // Learners' names go through the same cells.
    for (i, first) in ["=cmd", "+1", "-1", "@x", "Ada, \"the\""]
        .iter()
        .enumerate()
    {
        join_named(&w, &format!("p{i}"), first, "Tester").await;
    }
    let (_, csv) = export(&w, &w.founder, StatsScope::Organization, period)
        .await
        .unwrap();
    let mut names: Vec<String> = parse_csv(&csv)[1..].iter().map(|r| r[1].clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "'+1 Tester",
            "'-1 Tester",
            "'=cmd Tester",
            "'@x Tester",
            "Ada, \"the\" Tester",
            "Maya Founder"
        ]
    );
    assert!(csv.contains("\"Ada, \"\"the\"\" Tester\""), "{csv}");
}

/// A writer that notes how many lines it had taken at each flush: the export flushes once per
/// page it writes.
#[derive(Default)]
struct PageCounter {
    text: Vec<u8>,
    lines_at_flush: Vec<usize>,
}

impl std::io::Write for PageCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let lines = self.text.iter().filter(|b| **b == b'\n').count();
        self.lines_at_flush.push(lines);
        Ok(())
    }
}

#[tokio::test]
async fn exporting_1200_members_streams_them_in_pages_of_500() {
    // spec: STAT-4
    let w = World::new().await;
    // 1,199 members written straight to the store (the founder is the 1,200th).
    let organization = w.store.organization(w.org).await.unwrap().unwrap();
    let mut changes = ChangeSet::new(
        w.org,
        OrganizationWrite::Touch {
            expected_version: organization.version,
        },
    );
    let mut some = Vec::new();
    for n in 0..1199 {
        let member = Member {
            id: MemberId::new(),
            organization: w.org,
            user: UserId::new(),
            email: EmailAddress::parse(format!("m{n}@example.com")).unwrap(),
            profile: profile("Many", "Member"),
            roles: RoleSet::learner(),
            joined_at: organization.created_at,
            invitation: None,
            deactivated_at: None,
            metadata: None,
            version: 0,
        };
        if n % 100 == 0 {
            some.push(member.user);
        }
        changes.writes.push(Write::PutMember(member));
    }
    w.store.commit(changes).await.unwrap();
    let now = now(&w);
    let events: Vec<ReportedActivity> = some
        .iter()
        .enumerate()
        .map(|(i, user)| ReportedActivity {
            id: format!("bulk-{i}"),
            user: *user,
            course: "sql-101".to_owned(),
            kind: Enrolled,
            at: now,
        })
        .collect();
    let receipt = w.roster.record_activity(w.org, &events).await.unwrap();
    assert_eq!(receipt.recorded, 12);

    let period = Period::days_until(now + Duration::days(1), 30).unwrap();
    let mut out = PageCounter::default();
    let rows = w
        .roster
        .export_member_activity(
            &w.founder,
            w.org,
            StatsScope::Organization,
            period,
            &mut out,
        )
        .await
        .unwrap();
    assert_eq!(rows, 1200);
    // Three pages: the header and 500 rows, 500 more, the last 200.
    assert_eq!(out.lines_at_flush, [501, 1001, 1201]);
    let text = String::from_utf8(out.text).unwrap();
    let records = parse_csv(&text);
    assert_eq!(records.len(), 1201);
    assert_eq!(records[0][0], "email");
    let mut emails: Vec<&str> = records[1..].iter().map(|r| r[0].as_str()).collect();
    emails.sort_unstable();
    emails.dedup();
    assert_eq!(emails.len(), 1200, "no member twice, none left out");
    let enrolled: u64 = records[1..]
        .iter()
        .map(|r| r[2].parse::<u64>().unwrap())
        .sum();
    assert_eq!(enrolled, 12);
}

#[tokio::test]
async fn the_report_of_a_team_without_members_is_its_header_alone() {
    // spec: STAT-4
    let w = World::new().await;
    let empty = w.team("Empty").await;
    let period = Period::days_until(now(&w), 30).unwrap();
    let (rows, csv) = export(&w, &w.founder, StatsScope::Team(empty), period)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(
        csv,
        "email,name,enrolments,completions,certificates,hours spent,last active (UTC)\n"
    );
}
