//! Recording learning activity: good events kept, bad ones refused each with its reason,
//! retries recognised as duplicates (STAT-1); and the periods statistics are asked for, checked
//! however they arrive (STAT-2, ERR-3).

use chrono::Duration;
use orgroster::{ActivityError, Error, Field, Period, Role, StatsScope, ValidationError};

use crate::fixture::{World, actor};

use super::{Completed, Enrolled, at, event, now, progress, time, top, week};

#[tokio::test]
async fn a_strangers_event_that_repeats_an_id_of_the_batch_is_refused_as_a_strangers() {
    // spec: STAT-1 — an event of someone who is not a member is refused as such, even when
    // its id repeats one recorded earlier in the batch (the store only sees the events it
    // is asked to record, so the stranger is checked apart).
    let w = World::new().await;
    let ana = w.join("ana", Role::Member, None).await;
    let stranger = actor("stranger");
    let now = now(&w);
    let batch = vec![
        event("e-1", &ana, "sql-101", Enrolled, now),
        event("e-1", &stranger, "sql-101", Enrolled, now),
        event("e-1", &ana, "sql-101", Completed, now),
    ];
    let receipt = w.roster.record_activity(w.org, &batch).await.unwrap();
    assert_eq!(receipt.recorded, 1);
    let reasons: Vec<(usize, &str, &ActivityError)> = receipt
        .rejected
        .iter()
        .map(|(i, id, e)| (*i, id.as_str(), e))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, "e-1", &ActivityError::UnknownMember),
            (
                2,
                "e-1",
                &ActivityError::DuplicateId {
                    id: "e-1".to_owned()
                }
            ),
        ]
    );
}

#[tokio::test]
async fn a_batch_keeps_its_good_events_and_refuses_each_bad_one_with_its_reason() {
    // spec: STAT-1, ERR-1, ERR-3
    let w = World::new().await;
    let ana = w.join("ana", Role::Member, None).await;
    let stranger = actor("stranger");
    let now = now(&w);
    // Every bad event names a course of its own, so a stored one would show in top courses.
    let batch = vec![
        event("e-1", &ana, "sql-101", Enrolled, now),
        event("e-2", &ana, "bad-course", progress(101), now),
        event("e-3", &ana, "bad-course", time(-5), now),
        event("e-4", &stranger, "bad-course", Enrolled, now),
        event("has space", &ana, "bad-course", Enrolled, now),
        event("e-1", &ana, "bad-course", time(60), now),
        event("e-6", &ana, "sql-101", progress(100), now),
        event("e-7", &ana, "sql-101", time(86_400), now),
        event("e-8", &ana, "bad-course", time(86_401), now),
        event("e-9", &ana, "bad course", Enrolled, now),
        event("e-10", &ana, "bad-course", progress(-1), now),
    ];
    let receipt = w.roster.record_activity(w.org, &batch).await.unwrap();

    assert_eq!(receipt.recorded, 3, "e-1, e-6 and e-7");
    let reasons: Vec<(usize, &str, &ActivityError)> = receipt
        .rejected
        .iter()
        .map(|(i, id, e)| (*i, id.as_str(), e))
        .collect();
    assert_eq!(reasons.len(), 8, "{reasons:?}");
    assert_eq!(
        reasons[0],
        (1, "e-2", &ActivityError::PercentOutOfRange { percent: 101 })
    );
    assert_eq!(
        reasons[1],
        (2, "e-3", &ActivityError::NegativeTime { seconds: -5 })
    );
    assert_eq!(reasons[2], (3, "e-4", &ActivityError::UnknownMember));
    assert!(
        matches!(
            reasons[3],
            (4, "has space", ActivityError::Invalid(e)) if e.field() == Field::ActivityId
        ),
        "{:?}",
        reasons[3]
    );
    assert_eq!(
        reasons[4],
        (
            5,
            "e-1",
            &ActivityError::DuplicateId {
                id: "e-1".to_owned()
            }
        )
    );
    assert_eq!(
        reasons[5],
        (8, "e-8", &ActivityError::TooMuchTime { seconds: 86_401 })
    );
    assert!(
        matches!(
            reasons[6],
            (9, "e-9", ActivityError::Invalid(e)) if e.field() == Field::CourseId
        ),
        "{:?}",
        reasons[6]
    );
    assert_eq!(
        reasons[7],
        (
            10,
            "e-10",
            &ActivityError::PercentOutOfRange { percent: -1 }
        )
    );
    // Each reason is a sentence a host can log or show.
    assert!(reasons[0].2.to_string().contains("101"));
    assert!(reasons[1].2.to_string().contains("negative"));
    assert!(reasons[4].2.to_string().contains("e-1"));

    // Only the good events were stored: nothing of the bad course, nor of the stranger.
    let period = Period::new(now - Duration::days(1), now + Duration::days(1)).unwrap();
    let stats = w
        .roster
        .statistics(&w.founder, w.org, StatsScope::Organization, period)
        .await
        .unwrap();
    assert_eq!(stats.active_learners, 1);
    assert_eq!(stats.enrolments, 1);
    assert_eq!(stats.time_spent_seconds, 86_400);
    assert_eq!(stats.top_courses, top(&[("sql-101", 1)]));
}

#[tokio::test]
async fn a_retried_batch_is_refused_as_duplicates_and_changes_no_figure() {
    // spec: STAT-1, ERR-2
    let w = World::new().await;
    let ana = w.join("ana", Role::Member, None).await;
    let now = now(&w);
    let batch = vec![
        event("r-1", &ana, "sql-101", Enrolled, now),
        event("r-2", &ana, "sql-101", time(1200), now),
        event("r-3", &ana, "sql-101", Completed, now),
    ];
    let first = w.roster.record_activity(w.org, &batch).await.unwrap();
    assert_eq!((first.recorded, first.rejected.len()), (3, 0));
    let period = Period::new(now - Duration::days(1), now + Duration::days(1)).unwrap();
    let stats = || {
        w.roster
            .statistics(&w.founder, w.org, StatsScope::Organization, period)
    };
    let before = stats().await.unwrap();
    assert_eq!(
        (
            before.enrolments,
            before.completions,
            before.time_spent_seconds
        ),
        (1, 1, 1200)
    );

    let retry = w.roster.record_activity(w.org, &batch).await.unwrap();
    assert_eq!(retry.recorded, 0);
    assert_eq!(
        retry.rejected,
        vec![
            (
                0,
                "r-1".to_owned(),
                ActivityError::DuplicateId {
                    id: "r-1".to_owned()
                }
            ),
            (
                1,
                "r-2".to_owned(),
                ActivityError::DuplicateId {
                    id: "r-2".to_owned()
                }
            ),
            (
                2,
                "r-3".to_owned(),
                ActivityError::DuplicateId {
                    id: "r-3".to_owned()
                }
            ),
        ]
    );
    // An old id on a different event is still the same event: not counted.
    let reused = w
        .roster
        .record_activity(w.org, &[event("r-2", &ana, "sql-101", time(9999), now)])
        .await
        .unwrap();
    assert_eq!(reused.recorded, 0);
    assert_eq!(stats().await.unwrap(), before);
}

#[tokio::test]
async fn recording_for_an_unknown_organization_is_not_found() {
    // spec: STAT-1, ERR-1
    let w = World::new().await;
    let ana = w.join("ana", Role::Member, None).await;
    let err = w
        .roster
        .record_activity(
            orgroster::OrganizationId::new(),
            &[event("x-1", &ana, "sql-101", Enrolled, now(&w))],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn periods_out_of_order_or_over_ten_years_are_typed_validation_errors() {
    // spec: STAT-2, ERR-3
    let start = at(1, 12, 0, 0);
    assert!(matches!(
        Period::new(start, start - Duration::days(1)),
        Err(ValidationError::Malformed {
            field: Field::Period,
            ..
        })
    ));
    assert!(matches!(
        Period::new(start, start),
        Err(ValidationError::Malformed {
            field: Field::Period,
            ..
        })
    ));
    assert_eq!(
        Period::new(start, start + Duration::days(3654)),
        Err(ValidationError::TooLong {
            field: Field::Period,
            len: 3654,
            max: 3653
        })
    );
    assert_eq!(
        Period::days_until(start, 3654).unwrap_err().field(),
        Field::Period
    );
    let ten_years = Period::new(start, start + Duration::days(3653)).unwrap();
    assert_eq!(
        (ten_years.from(), ten_years.to()),
        (start, start + Duration::days(3653))
    );
    // The error converts into the roster's own error, as every invalid input does.
    let err: Error = Period::new(start, start).unwrap_err().into();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

#[test]
fn a_period_read_from_json_is_checked_like_any_other() {
    // spec: ERR-1, ERR-3 — a period deserialized in reverse would otherwise reach the stores.
    let good = serde_json::json!({ "from": "2026-01-12T00:00:00Z", "to": "2026-02-09T00:00:00Z" });
    let period: Period = serde_json::from_value(good).unwrap();
    assert_eq!(period, Period::new(week(1, 12), week(2, 9)).unwrap());
    let reversed =
        serde_json::json!({ "from": "2026-02-09T00:00:00Z", "to": "2026-01-12T00:00:00Z" });
    assert!(serde_json::from_value::<Period>(reversed).is_err());
    let too_long =
        serde_json::json!({ "from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z" });
    assert!(serde_json::from_value::<Period>(too_long).is_err());
}
