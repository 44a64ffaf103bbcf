//! CSV reports of learning activity (spec: STAT-4).
//!
//! Cells that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab
//! or a carriage return) are prefixed with `'`, so a learner named `=HYPERLINK(…)` cannot
//! run anything in the reader's spreadsheet. Quoting follows RFC 4180 (the `csv` crate).

use std::io::Write;

use crate::domain::activity::{Comparison, MemberActivity, Statistics};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Writing failed (disk full, closed pipe…).
    #[error("the report could not be written")]
    Write(#[from] csv::Error),
    /// Reading what to write failed.
    #[error("the report's data could not be read")]
    Roster(#[from] Box<crate::Error>),
}

/// A cell made safe for spreadsheets.
pub(crate) fn safe_cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

const FIGURES: [&str; 10] = [
    "invited",
    "members",
    "active learners",
    "enrolments",
    "completions",
    "completion rate %",
    "certificates",
    "hours spent",
    "minutes per active learner",
    "top course",
];

fn figures(stats: &Statistics) -> [String; 10] {
    [
        stats.invited.to_string(),
        stats.members.to_string(),
        stats.active_learners.to_string(),
        stats.enrolments.to_string(),
        stats.completions.to_string(),
        stats
            .completion_rate()
            .map_or_else(String::new, |r| format!("{:.1}", r * 100.0)),
        stats.certificates.to_string(),
        format!("{:.1}", stats.time_spent_seconds as f64 / 3600.0),
        stats
            .time_per_active_learner()
            .map_or_else(String::new, |s| (s / 60).to_string()),
        stats
            .top_courses
            .first()
            .map_or_else(String::new, |c| c.course.to_string()),
    ]
}

impl Comparison {
    /// Writes the comparison as CSV: one row per team, then the organization's totals when
    /// present. Cells a spreadsheet would run as formulas are escaped.
    ///
    /// # Errors
    /// [`ReportError::Write`].
    pub fn write_csv<W: Write>(&self, out: W) -> Result<(), ReportError> {
        write_comparison(self, out)
    }
}

fn write_comparison<W: Write>(comparison: &Comparison, out: W) -> Result<(), ReportError> {
    let mut csv = csv::Writer::from_writer(out);
    let mut header = vec!["team"];
    header.extend(FIGURES);
    csv.write_record(&header)?;
    for (_, name, stats) in &comparison.teams {
        let row = figures(stats);
        csv.write_record(
            std::iter::once(safe_cell(name).into_owned())
                .chain(row.iter().map(|c| safe_cell(c).into_owned())),
        )?;
    }
    if let Some(org) = &comparison.organization {
        let row = figures(org);
        csv.write_record(
            std::iter::once("(organization)".to_owned())
                .chain(row.iter().map(|c| safe_cell(c).into_owned())),
        )?;
    }
    csv.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Writes per-member rows as they come: the header first (when `header`), then each row.
/// Used page by page, so a large organization is never held in memory at once.
///
/// # Errors
/// [`ReportError::Write`].
pub(crate) fn write_member_rows<W: Write>(
    rows: &[MemberActivity],
    header: bool,
    out: W,
) -> Result<W, ReportError> {
    let mut csv = csv::Writer::from_writer(out);
    if header {
        csv.write_record([
            "email",
            "name",
            "enrolments",
            "completions",
            "certificates",
            "hours spent",
            "last active (UTC)",
        ])?;
    }
    for row in rows {
        csv.write_record([
            safe_cell(&row.email).as_ref(),
            safe_cell(&row.name).as_ref(),
            &row.enrolments.to_string(),
            &row.completions.to_string(),
            &row.certificates.to_string(),
            &format!("{:.2}", row.time_spent_seconds as f64 / 3600.0),
            &row.last_active
                .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string()),
        ])?;
    }
    csv.into_inner()
        .map_err(|e| ReportError::Write(csv::Error::from(e.into_error())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused_and_others_left_alone() {
        // spec: STAT-4
        for bad in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx"] {
            assert!(safe_cell(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(safe_cell("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(safe_cell(""), "");
    }
}
