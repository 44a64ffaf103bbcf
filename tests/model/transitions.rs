//! The transitions of the state machine — the commands a case runs — and the strategies that
//! generate them from the reference model's state.

use orgroster::Role;
use proptest::{prelude::*, sample::Index};
use proptest_state_machine::ReferenceStateMachine;

use crate::{Case, JUNK, SEPARATORS, TEAMS, USERS, cased, model::Model};

/// Which of the links sent to a user is used.
#[derive(Debug, Clone)]
pub(crate) enum Link {
    /// The most recent one.
    Latest,
    /// Any one ever sent, possibly superseded by a resend (spec: INV-3).
    Any(Index),
    /// One superseded by a resend, when there is one (spec: INV-3).
    Superseded(Index),
}

/// One entry of a bulk paste.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    User(usize, Case),
    Junk(usize),
}

#[derive(Debug, Clone)]
pub(crate) enum Transition {
    InviteMember {
        actor: usize,
        user: usize,
        case: Case,
        role: Role,
        team: Option<usize>,
    },
    InviteAdministrator {
        actor: usize,
        user: usize,
        case: Case,
    },
    BulkInvite {
        actor: usize,
        /// Each entry with the separator that follows it.
        entries: Vec<(Entry, &'static str)>,
        role: Role,
        team: Option<usize>,
    },
    /// `user`'s link, opened by `signer` (usually `user`) signed in with `case`.
    Accept {
        user: usize,
        link: Link,
        signer: usize,
        case: Case,
        existing_account: bool,
        acknowledged: bool,
    },
    Decline {
        user: usize,
        link: Link,
    },
    /// Resends `user`'s most recent invitation.
    Resend {
        actor: usize,
        user: usize,
    },
    /// Revokes `user`'s most recent invitation.
    Revoke {
        actor: usize,
        user: usize,
    },
    AdvanceClock {
        days: i64,
    },
    GrantRole {
        actor: usize,
        user: usize,
        role: Role,
    },
    RevokeRole {
        actor: usize,
        user: usize,
        role: Role,
    },
    RemoveMember {
        actor: usize,
        user: usize,
    },
    AddToTeam {
        actor: usize,
        user: usize,
        team: usize,
    },
    RemoveFromTeam {
        actor: usize,
        user: usize,
        team: usize,
    },
    /// Back office changes the cap, possibly below the seats in use (spec: ORG-4).
    SetSeatCap {
        cap: Option<u32>,
    },
    /// Spec: MEM-2.
    Deactivate {
        actor: usize,
        user: usize,
    },
    /// Spec: MEM-2.
    Reactivate {
        actor: usize,
        user: usize,
    },
    /// `user` leaves on their own (spec: MEM-1).
    Leave {
        user: usize,
    },
}

/// The paste text and, per entry, its line and text (spec: INV-7: lines are reported).
pub(crate) fn paste(entries: &[(Entry, &'static str)]) -> (String, Vec<(usize, String)>) {
    let mut text = String::new();
    let mut line = 1;
    let mut located = Vec::new();
    for (entry, separator) in entries {
        let entry_text = match entry {
            Entry::User(user, case) => cased(*user, *case),
            Entry::Junk(junk) => JUNK[*junk].to_owned(),
        };
        text.push_str(&entry_text);
        text.push_str(separator);
        located.push((line, entry_text));
        line += separator.matches('\n').count();
    }
    (text, located)
}

// ----- strategies ----------------------------------------------------------------------------

pub(crate) fn case() -> BoxedStrategy<Case> {
    prop_oneof![
        Just(Case::Lower),
        Just(Case::Upper),
        Just(Case::Title),
        Just(Case::LoudDomain),
    ]
    .boxed()
}

pub(crate) fn any_user() -> BoxedStrategy<usize> {
    (0..USERS).boxed()
}

/// One of the nonempty `groups`, by weight, and sometimes anyone.
pub(crate) fn pick(groups: Vec<(u32, Vec<usize>)>) -> BoxedStrategy<usize> {
    let mut arms = vec![(1, any_user())];
    for (weight, people) in groups {
        if !people.is_empty() {
            arms.push((weight, prop::sample::select(people).boxed()));
        }
    }
    prop::strategy::Union::new_weighted(arms).boxed()
}

pub(crate) fn invited_role() -> BoxedStrategy<Role> {
    prop_oneof![
        6 => Just(Role::Member),
        4 => Just(Role::Manager),
        4 => Just(Role::TeamSupervisor),
        1 => Just(Role::Administrator),
    ]
    .boxed()
}

pub(crate) fn any_role() -> BoxedStrategy<Role> {
    prop::sample::select(Role::ALL.to_vec()).boxed()
}

pub(crate) fn granted_role() -> BoxedStrategy<Role> {
    prop_oneof![
        2 => Just(Role::Administrator),
        2 => Just(Role::Manager),
        3 => Just(Role::TeamSupervisor),
        1 => Just(Role::Member),
    ]
    .boxed()
}

pub(crate) fn team() -> BoxedStrategy<usize> {
    prop_oneof![6 => 0..TEAMS, 1 => Just(TEAMS)].boxed()
}

pub(crate) fn team_option() -> BoxedStrategy<Option<usize>> {
    prop_oneof![3 => Just(None), 3 => (0..TEAMS).prop_map(Some), 1 => Just(Some(TEAMS))].boxed()
}

pub(crate) fn link() -> BoxedStrategy<Link> {
    prop_oneof![4 => Just(Link::Latest), 1 => any::<Index>().prop_map(Link::Any)].boxed()
}

pub(crate) fn entries() -> BoxedStrategy<Vec<(Entry, &'static str)>> {
    let entry = prop_oneof![
        5 => (any_user(), case()).prop_map(|(u, c)| Entry::User(u, c)),
        1 => (0..JUNK.len()).prop_map(Entry::Junk),
    ];
    prop::collection::vec((entry, prop::sample::select(SEPARATORS.to_vec())), 0..8).boxed()
}

/// The reference state machine: generates transitions from the model's state and applies
/// them to the model.
pub(crate) struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::new()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Transition> {
        // Actors are usually administrators, sometimes anyone (ROLE-4: Forbidden); team
        // commands also often come from supervisors (TEAM-3).
        let admins = state.with_role(Role::Administrator);
        let supervisors = state.with_role(Role::TeamSupervisor);
        let admin = pick(vec![(6, admins.clone())]);
        let team_actor = pick(vec![(3, admins), (4, supervisors)]);
        let pending: Vec<usize> = (0..USERS)
            .filter(|u| state.pending_of(*u).is_some())
            .collect();
        let newcomers: Vec<usize> = (0..USERS)
            .filter(|u| !state.members.contains_key(u) && state.pending_of(*u).is_none())
            .collect();
        let resent: Vec<usize> = state
            .links
            .iter()
            .filter(|(_, links)| links.len() > 1)
            .map(|(u, _)| *u)
            .collect();
        let invitee = pick(vec![(2, newcomers)]);
        // Answering and managing invitations mostly once some are pending.
        let live = if pending.is_empty() { 1 } else { 4 };
        let holder = pick(vec![
            (6, pending),
            (2, state.links.keys().copied().collect()),
        ]);
        let member = pick(vec![(4, state.members.keys().copied().collect())]);
        let deactivated: Vec<usize> = state
            .members
            .iter()
            .filter(|(_, m)| m.deactivated)
            .map(|(u, _)| *u)
            .collect();

        let accept = |holder: BoxedStrategy<usize>, link: BoxedStrategy<Link>| {
            (
                holder,
                link,
                prop::option::weighted(0.15, any_user()),
                case(),
                any::<bool>(),
                prop::bool::weighted(0.8),
            )
                .prop_map(
                    |(user, link, other, case, existing_account, acknowledged)| {
                        Transition::Accept {
                            user,
                            link,
                            signer: other.unwrap_or(user),
                            case,
                            existing_account,
                            acknowledged,
                        }
                    },
                )
                .boxed()
        };
        let mut arms: Vec<(u32, BoxedStrategy<Transition>)> = vec![
            (
                6,
                (
                    admin.clone(),
                    invitee.clone(),
                    case(),
                    invited_role(),
                    team_option(),
                )
                    .prop_map(|(actor, user, case, role, team)| Transition::InviteMember {
                        actor,
                        user,
                        case,
                        role,
                        team,
                    })
                    .boxed(),
            ),
            (
                2,
                (admin.clone(), invitee, case())
                    .prop_map(|(actor, user, case)| Transition::InviteAdministrator {
                        actor,
                        user,
                        case,
                    })
                    .boxed(),
            ),
            (
                3,
                (admin.clone(), entries(), invited_role(), team_option())
                    .prop_map(|(actor, entries, role, team)| Transition::BulkInvite {
                        actor,
                        entries,
                        role,
                        team,
                    })
                    .boxed(),
            ),
            (3 * live, accept(holder.clone(), link())),
            (
                live,
                (holder.clone(), link())
                    .prop_map(|(user, link)| Transition::Decline { user, link })
                    .boxed(),
            ),
            (
                live,
                (admin.clone(), holder.clone())
                    .prop_map(|(actor, user)| Transition::Resend { actor, user })
                    .boxed(),
            ),
            (
                live,
                (admin.clone(), holder)
                    .prop_map(|(actor, user)| Transition::Revoke { actor, user })
                    .boxed(),
            ),
            (
                3,
                (0..=12_i64)
                    .prop_map(|days| Transition::AdvanceClock { days })
                    .boxed(),
            ),
            (
                4,
                (admin.clone(), member.clone(), granted_role())
                    .prop_map(|(actor, user, role)| Transition::GrantRole { actor, user, role })
                    .boxed(),
            ),
            (
                3,
                (admin.clone(), member.clone(), any_role())
                    .prop_map(|(actor, user, role)| Transition::RevokeRole { actor, user, role })
                    .boxed(),
            ),
            (
                2,
                (admin.clone(), member.clone())
                    .prop_map(|(actor, user)| Transition::RemoveMember { actor, user })
                    .boxed(),
            ),
            (
                2,
                (admin.clone(), member.clone())
                    .prop_map(|(actor, user)| Transition::Deactivate { actor, user })
                    .boxed(),
            ),
            (
                2,
                (admin, pick(vec![(4, deactivated)]))
                    .prop_map(|(actor, user)| Transition::Reactivate { actor, user })
                    .boxed(),
            ),
            (
                1,
                member
                    .clone()
                    .prop_map(|user| Transition::Leave { user })
                    .boxed(),
            ),
            (
                4,
                (team_actor.clone(), member.clone(), team())
                    .prop_map(|(actor, user, team)| Transition::AddToTeam { actor, user, team })
                    .boxed(),
            ),
            (
                2,
                (team_actor, member, team())
                    .prop_map(|(actor, user, team)| Transition::RemoveFromTeam {
                        actor,
                        user,
                        team,
                    })
                    .boxed(),
            ),
            (
                1,
                prop::option::weighted(0.8, 2..=7_u32)
                    .prop_map(|cap| Transition::SetSeatCap { cap })
                    .boxed(),
            ),
        ];
        if !resent.is_empty() {
            // spec: INV-3 — a link superseded by a resend no longer works.
            let superseded = any::<Index>().prop_map(Link::Superseded).boxed();
            arms.push((2, accept(prop::sample::select(resent).boxed(), superseded)));
        }
        prop::strategy::Union::new_weighted(arms).boxed()
    }

    fn apply(mut state: Model, transition: &Transition) -> Model {
        state.expected = state.step(transition);
        state
    }
}
