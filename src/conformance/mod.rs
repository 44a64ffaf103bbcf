//! The store conformance suite: the behaviour every [`Store`](crate::Store) must exhibit.
//!
//! Each case is a public `async fn` taking the store under test as an
//! [`Arc<DynStore>`](std::sync::Arc); the
//! [`store_conformance_tests!`](crate::store_conformance_tests) macro expands to one
//! `#[tokio::test]` per case so a failure is reported by name. Every case creates its own
//! organizations with fresh ids, so cases can share one database and run in parallel.
//!
//! The cases live by theme: `rows` (round trips, versions, atomic commits, the audit trail,
//! deleting and erasing), `listings` (pagination, filters, deactivated members, other
//! organizations' ids), `invitations` (pending uniqueness, tokens, seats, the combined reads,
//! lifetime and metadata), `inbox` (invitations by id, the invitee's inbox), `teams`,
//! `outbox` (claims, leases, withdrawn mail), `concurrency` (races between commits) and
//! `activity` (statistics, team stints).
//!
//! Run it against your own store:
//!
//! ```text
//! // tests/conformance.rs, with orgroster's `conformance` feature enabled
//! mod my_store {
//!     orgroster::store_conformance_tests!(|| async { Some(my_crate::MyStore::new()) });
//! }
//! // A store that leaves something behind gives it to a second closure, run after each
//! // case that passed (here a file to remove):
//! mod my_file_store {
//!     orgroster::store_conformance_tests!(
//!         || async {
//!             let path = my_crate::scratch_path();
//!             Some((my_crate::MyStore::open(&path).await, path))
//!         },
//!         |path: std::path::PathBuf| async move { std::fs::remove_file(path).ok(); }
//!     );
//! }
//! ```
//!
//! Not a stable part of the public API: cases may be added in patch releases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod activity;
mod concurrency;
mod fixtures;
mod inbox;
mod invitations;
mod listings;
mod outbox;
mod rows;
mod teams;

pub use self::{
    activity::*, concurrency::*, inbox::*, invitations::*, listings::*, outbox::*, rows::*,
    teams::*,
};

/// The names of every case, in the order the macro runs them.
#[doc(hidden)]
pub const CASES: &[&str] = &[
    "organization_roundtrip",
    "members_are_unique_per_user_and_email",
    "versions_bump_on_every_write",
    "commit_is_atomic",
    "deleting_an_organization_leaves_nothing_of_it",
    "erasure_rewrites_rows_and_keeps_the_figures",
    "one_pending_invitation_per_email",
    "invitations_are_found_by_current_token_hash",
    "invitations_are_found_by_id_in_any_organization",
    "the_inbox_lists_pending_invitations_across_organizations",
    "seat_usage_counts_members_and_unexpired_invitations",
    "combined_reads_agree_with_single_reads",
    "invitation_lifetime_and_metadata_round_trip",
    "pagination_is_ordered_complete_and_stable",
    "member_filters_and_role_counts",
    "deactivated_members_are_kept_listed_apart_and_take_no_seat",
    "memberships_list_a_users_organizations",
    "teams_and_team_memberships",
    "events_are_kept_in_order",
    "outbox_is_at_least_once",
    "only_the_claim_holding_a_row_settles_it",
    "claims_take_turns_across_organizations",
    "an_invitation_change_withdraws_its_queued_mail",
    "failed_mail_is_queued_again_once",
    "concurrent_claims_never_share_a_row",
    "concurrent_commits_have_one_winner",
    "invitation_race_has_exactly_one_outcome",
    "activity_statistics_match_the_reference",
    "team_figures_count_only_time_in_the_team",
    "stints_never_overlap_whatever_the_clocks",
    "ids_of_another_organization_read_nothing",
];

/// Expands to one `#[tokio::test]` per conformance case. `$make` is an async closure
/// returning `Option<S>` where `S` converts into `Arc<DynStore>`; `None` skips the case
/// (for example when no database URL is configured).
///
/// With a second argument, `$make` returns `Option<(S, T)>` and `$after`, an async closure
/// taking the `T`, runs once the case is over and its store dropped: to remove what the
/// store leaves behind, a database file or a schema. It does not run after a failed case,
/// whose leftovers are then there to look at.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(
            || async { ($make)().await.map(|store| (store, ())) },
            |(): ()| async {}
        );
    };
    ($make:expr, $after:expr) => {
        $crate::store_conformance_tests!(@cases $make, $after,
            organization_roundtrip,
            members_are_unique_per_user_and_email,
            versions_bump_on_every_write,
            commit_is_atomic,
            deleting_an_organization_leaves_nothing_of_it,
            erasure_rewrites_rows_and_keeps_the_figures,
            one_pending_invitation_per_email,
            invitations_are_found_by_current_token_hash,
            invitations_are_found_by_id_in_any_organization,
            the_inbox_lists_pending_invitations_across_organizations,
            seat_usage_counts_members_and_unexpired_invitations,
            combined_reads_agree_with_single_reads,
            invitation_lifetime_and_metadata_round_trip,
            pagination_is_ordered_complete_and_stable,
            member_filters_and_role_counts,
            deactivated_members_are_kept_listed_apart_and_take_no_seat,
            memberships_list_a_users_organizations,
            teams_and_team_memberships,
            events_are_kept_in_order,
            outbox_is_at_least_once,
            only_the_claim_holding_a_row_settles_it,
            claims_take_turns_across_organizations,
            an_invitation_change_withdraws_its_queued_mail,
            failed_mail_is_queued_again_once,
            concurrent_claims_never_share_a_row,
            concurrent_commits_have_one_winner,
            invitation_race_has_exactly_one_outcome,
            activity_statistics_match_the_reference,
            team_figures_count_only_time_in_the_team,
            stints_never_overlap_whatever_the_clocks,
            ids_of_another_organization_read_nothing
        );
    };
    (@cases $make:expr, $after:expr, $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((store, leftovers)) = ($make)().await else {
                    eprintln!("skipping {}: backend not configured", stringify!($name));
                    return;
                };
                let store: ::std::sync::Arc<$crate::DynStore> = ::std::sync::Arc::new(store);
                $crate::conformance::$name(store).await;
                ($after)(leftovers).await;
            }
        )+
        /// The macro runs every case the suite lists, in its order.
        #[test]
        fn macro_covers_every_case() {
            assert_eq!(&[$(stringify!($name)),+][..], $crate::conformance::CASES);
        }
    };
}
