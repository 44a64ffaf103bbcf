//! The domain rules orgroster enforces, each with the id that tests cite (`// spec: INV-3`).
//!
//! Every rule below has a stable id: ids are never renumbered or reused, so a citation stays
//! valid as rules are added. A rule marked *(design)* covers ground the source material (two
//! vendors' help-centre articles on team administration) was silent on; it states what a
//! careful product does. Tests name the rule they prove in a comment such as `// spec: INV-3`,
//! so `grep -rn "spec: INV-3" tests src` finds the proof of a rule. Where a rule is enforced
//! by one particular type or function, its name is given in backticks.
//!
//! # Vocabulary
//!
//! - **Organization** — a customer account. It holds licenses and capabilities.
//! - **User** — a person's account, owned by the host service. orgroster never stores
//!   passwords and never authenticates anyone. A user is identified by a `UserId` and a
//!   verified email address.
//! - **Member** — a user's membership in one organization, with its roles and teams.
//! - **Administrator team** — the set of an organization's administrators (what one of the
//!   source articles calls the "Team"). It is not one of the teams of learners below.
//! - **Team** — a group of learners (a department, a site, an interest, a seniority level, a
//!   project…), with its own team page.
//! - **Invitation** — a single-use offer, sent by email, to join an organization with a given
//!   role and, optionally, a team.
//! - **Actor** — the authenticated user on whose behalf a command runs.
//!
//! # Organizations (ORG)
//!
//! ### ORG-1 — Organizations hold licenses and capabilities
//!
//! An organization has a name, a set of licenses and a set of capabilities. A license is a
//! subscription plan, an individually purchased course, or a pay-per-use license. The
//! capabilities are `legacy_integration`, `coursecloud_legacy` and `pay_per_use`.
//!
//! ### ORG-2 — Legacy integrations have no administrator team
//!
//! An organization with the `legacy_integration` capability has none of the
//! administrator-team features. Every administrator-team command on it fails with a typed
//! error that says so, and nothing changes.
//!
//! ### ORG-3 — A second administrator needs a license
//!
//! The first administrator beyond the organization's creator can only be added once the
//! organization holds at least one license. Until then the command fails with a typed error
//! telling the caller to contact support.
//!
//! ### ORG-4 — Seat caps count pending invitations
//!
//! *(design)* An organization may cap its number of seats. Members and pending, unexpired
//! invitations both occupy a seat. The cap is checked atomically when inviting and again when
//! accepting; a command that would exceed it fails and states by how many seats.
//!
//! ### ORG-5 — An organization's life: provisioning, renaming, deleting
//!
//! *(design)* The platform's back office can open an organization with no member
//! (`Roster::provision_organization`) and invite its first administrator
//! (`Roster::invite_first_administrator`, signed by a `BackOfficeUser`), who accepts
//! through the ordinary link; once the organization has an active administrator, they
//! invite the others (`Error::AdministratorExists`). Administrators can rename their
//! organization (`Roster::rename_organization`); mail queued afterwards and every listing
//! carry the new name, and the audit trail records both names. The platform's back office
//! can delete an organization with all its data (`Roster::delete_organization`): afterwards
//! no store holds any row of it.
//!
//! # Users, profiles and private resources (USR)
//!
//! ### USR-1 — Only the owner edits a profile
//!
//! A profile has a first name and a last name, and only the profile's owner can change them:
//! an administrator cannot rename someone else.
//!
//! ### USR-2 — Private resources stay private
//!
//! Joining an administrator team never grants access to another member's Lists, to a payment
//! card saved only on another member's profile, or to anyone's login credentials.
//!
//! ### USR-3 — What an existing account brings along
//!
//! A user who already has an account keeps their Lists when joining an organization.
//! Licenses, course-completion history and integrations tied to the original account do not
//! follow them.
//!
//! ### USR-4 — A user's organizations
//!
//! *(design)* A signed-in user sees every organization they belong to, with its name and
//! their roles: the account menu from which an administrator enters the administrator area
//! (`Roster::memberships`, one indexed read on every store), and whether each membership is
//! active or deactivated (MEM-2).
//!
//! ### USR-5 — Erasure
//!
//! *(design)* On request, the back office erases a member's personal data from one
//! organization (`Roster::erase_member`): the membership ends as a removal does, and a
//! pseudonym (a fresh user id, an address in the reserved `.invalid` domain, a placeholder
//! name) takes their user id, email and names in the organization's invitations, audit trail,
//! outbox (a mail server's replies included), learning activity and team stints, so its
//! figures keep their counts. Their unsent messages are withdrawn, and what was committed
//! while the erasure read is rewritten after it. The last active administrator cannot be
//! erased (ADM-5). SQLite overwrites what it deletes and
//! empties its write-ahead log after an erasure, so no byte of the files keeps them once no
//! reader holds an older snapshot.
//!
//! # Membership lifecycle (MEM)
//!
//! ### MEM-1 — Leaving
//!
//! *(design)* A member can leave an organization on their own (`Roster::leave_organization`):
//! their team memberships end, the audit trail records it, and they can be invited again. The
//! last administrator cannot leave (ADM-5).
//!
//! ### MEM-2 — Deactivation
//!
//! *(design)* An administrator can deactivate a member (`Roster::deactivate_member`): at
//! once every command and query of the organization refuses them (`Error::Deactivated`,
//! ROLE-4; their own account menu and inbox still answer), messages and notifications leave
//! them out (those queued and unsent are withdrawn, and their failed mail cannot be
//! retried), and their seat is free; their roles, teams and history are kept, and listings
//! show them as `Deactivated` (`MemberFilter::deactivated` lists them).
//! `Roster::reactivate_member` gives everything back, within the seat cap (ORG-4). The last
//! active administrator cannot be deactivated, removed, demoted, or leave (ADM-5).
//!
//! ### MEM-3 — The host reacts, and can veto
//!
//! *(design)* The host can veto an invitation (each address of a bulk paste on its own) or an
//! acceptance before it is decided, with a reason the caller sees: `Hooks`, registered with
//! `RosterBuilder::hooks`, answering `Veto` (`Error::Vetoed`, or the line's
//! `BulkLineError::Vetoed`). Hooks run outside any transaction; one that panics or does not
//! answer within `RosterConfig::hook_timeout` refuses the command (`Error::HookFailed`).
//! The change feed of this rule is not built yet.
//!
//! # Administrators (ADM)
//!
//! ### ADM-1 — Administrators are equals
//!
//! All administrators of an organization have the same permissions, including the permission
//! to add more administrators.
//!
//! ### ADM-2 — What administrators may do
//!
//! An administrator may:
//!
//! - add administrators;
//! - make purchases with a payment card saved on their own profile;
//! - download courses, or deliver them to an integrated learning platform;
//! - view and download activity reports;
//! - receive the organization's automated notifications;
//! - invite learners, only when the organization has the `coursecloud_legacy` capability;
//! - create pay-per-use licenses, only when the organization has the `pay_per_use` capability;
//! - manage members, roles, invitations and teams.
//!
//! ### ADM-3 — Every administrator is notified
//!
//! Every administrator receives the organization's automated notifications, for example that
//! a delivered course is scheduled to retire.
//!
//! ### ADM-4 — Inviting an administrator
//!
//! Inviting an administrator takes an email address, a first name and a last name, and all
//! three are validated.
//!
//! ### ADM-5 — The last administrator stays
//!
//! *(design)* The last administrator of an organization can be neither removed nor demoted.
//!
//! # Invitations (INV)
//!
//! ### INV-1 — Invitation states
//!
//! An invitation starts out `Pending` and moves to at most one of three final states:
//! `Accepted`, where the invitee becomes an `Active` member; `Declined`, where the entry
//! leaves the listing; and `Revoked`, where the entry leaves the listing and its link stops
//! working. Nothing leaves a final state. The transitions are those of `Invitation`
//! (INV-1 to INV-4).
//!
//! ### INV-2 — Invitations expire
//!
//! An invitation expires ten days after it was sent; the period is a setting whose default is
//! ten days. An expired invitation can be neither accepted nor declined. It still appears in
//! listings as `Pending`, with an `expired` flag beside it.
//!
//! ### INV-3 — Resending
//!
//! Resending works on any pending invitation, expired or not. It sends a new invitation with a
//! new acceptance link and a fresh expiry. *(design)* The previous link stops working.
//!
//! ### INV-4 — Revoking
//!
//! Only a pending invitation can be revoked, and a revoked invitation can never be accepted.
//! Inviting the same address again later works as usual.
//!
//! ### INV-5 — Existing accounts acknowledge a warning
//!
//! An invitee who already has an account is shown a warning before they can accept, saying
//! what does not follow them (USR-3). Acceptance requires that the warning was acknowledged.
//!
//! ### INV-6 — Links are secret and single-use
//!
//! *(design)* An acceptance link cannot be guessed: its token is an HMAC-SHA-256 under a
//! 256-bit key drawn from a cryptographically secure random generator. It works only once, and only its hash is
//! stored. The accepting user must be signed in with the invited email address, compared
//! case-insensitively. `InvitationToken` is the secret, shown once; `TokenHash` is what is
//! stored. Nothing written to a store (tables, outbox, journal or write-ahead log, free
//! pages) lets someone holding a copy of the database open a link: a link's token is derived
//! from the host's `LinkKey`, which never enters the database, and derived again when its
//! email is rendered.
//!
//! ### INV-7 — Roles, teams and bulk invitations
//!
//! An invitation carries the role to grant and, optionally, the team to join. A bulk
//! invitation takes many addresses pasted at once, separated by commas, semicolons, spaces or
//! new lines, together with one role and one team. Every valid address gets its own
//! invitation. Every entry that fails is reported with its reason (malformed, duplicated
//! within the paste, already a member, already invited, or over the seat cap), and the other
//! invitations still go out. The bulk paste parser does the splitting and reporting.
//!
//! ### INV-8 — One pending invitation per address
//!
//! *(design)* An organization has at most one pending invitation per email address.
//! `Store::commit` enforces this itself.
//!
//! ### INV-9 — Sending is never lost
//!
//! *(design)* An invitation and its email are recorded together, and the email is delivered
//! at least once, even when the mail server is down at the moment the invitation is created.
//! The outbox provides this: the email is written in the same commit as the invitation and
//! delivered afterwards.
//!
//! ### INV-10 — Previewing changes nothing
//!
//! *(design)* Looking at an invitation by its token never changes it, because mail scanners
//! open links. Accepting and declining are explicit commands.
//!
//! ### INV-11 — Accepting is race-safe
//!
//! *(design)* Of any number of concurrent accepts, declines, revokes and resends of one
//! invitation, exactly one wins. A user is never a member of the same organization twice;
//! `Store::commit` enforces this itself, not only a check made before writing.
//!
//! ### INV-12 — History is kept apart from the listing
//!
//! *(design)* Declined, revoked, superseded and accepted invitations leave the live listing
//! but remain in the organization's audit trail, which records who did what, and when.
//!
//! ### INV-13 — No email with a dead link
//!
//! *(design)* An email whose link is dead is never sent: accepting, declining, revoking or
//! resending an invitation withdraws its queued, unsent emails in the same commit, and
//! delivery checks the link against the invitation just before rendering it. What no
//! library can undo is a mail already handed to the transport when the invitation changes.
//!
//! ### INV-14 — An invitation's own lifetime and metadata
//!
//! *(design)* An invitation may carry its own lifetime, from 1 hour to 30 days (`Lifetime`;
//! the roster's setting otherwise), which every resend keeps, and a host-defined JSON object
//! of at most 4 KiB (`Metadata`), which the membership it creates keeps (`Member::metadata`).
//! `invite_member_with`, `invite_administrator_with` and `invite_members_with` (for the whole
//! paste) take them as `InviteOptions`; a lifetime out of range or metadata too large or not
//! an object is refused as invalid input before anything runs.
//!
//! ### INV-15 — The invitee's inbox
//!
//! *(design)* A signed-in user sees the pending invitations addressed to their email,
//! compared case-insensitively, across every organization: each with its organization's name,
//! the role, the team, who sent it and when it expires. Expired ones are still listed,
//! flagged (INV-2); accepted, declined and revoked ones are not. The user can accept or
//! decline one from there by its id, under exactly the rules of the link: the invited
//! address, the existing-account warning (INV-5), the seat cap (ORG-4), expiry (INV-2) and
//! ROLE-2. As no link is held, the invitation must be addressed to the user's email: an id
//! of someone else's invitation is answered as an unknown one, and reveals nothing.
//! `Roster::inbox` lists it; `Roster::accept_invitation_by_id` and
//! `Roster::decline_invitation_by_id` answer from it.
//!
//! # Roles (ROLE)
//!
//! ### ROLE-1 — Four roles
//!
//! There are four roles:
//!
//! - **Administrator** manages members, roles, invitations and teams.
//! - **Manager** sees the analytics of the organization and of every team.
//! - **Team Supervisor** adds organization members to the teams they supervise and removes
//!   them, sees those teams' analytics, configures those teams' pages and suggests content.
//! - **Member** is a premium learner attached to teams, who downloads their own certificates
//!   and sees nobody else's activity.
//!
//! ### ROLE-2 — Administrator and Team Supervisor exclude each other
//!
//! Administrator and Team Supervisor are not cumulative: no member ever holds both. Granting
//! one to a member who holds the other fails with a typed error; the roles are never swapped
//! silently. `RoleSet` cannot represent the combination.
//!
//! ### ROLE-3 — Every member is a learner
//!
//! *(design)* Every member holds the Member role. Manager may be held together with
//! Administrator or with Team Supervisor.
//!
//! ### ROLE-4 — Permission comes first
//!
//! *(design)* Every command first checks the actor's permission, against the membership as it
//! is stored at that moment, so a removed or demoted member loses access at once. A command
//! that is not allowed fails with a typed `Forbidden` error naming the missing permission.
//! The check is made in one place, `policy`.
//!
//! ### ROLE-5 — Only administrators grant roles
//!
//! *(design)* Only administrators grant or remove roles, and no path grants a role without
//! going through ROLE-2, invitation acceptance included.
//!
//! # Teams and team pages (TEAM)
//!
//! ### TEAM-1 — Administrators manage teams
//!
//! Administrators create, rename and delete teams and put members in them. A member may
//! belong to several teams.
//!
//! ### TEAM-2 — Team pages
//!
//! A team page holds a message shown on the team's home page and an ordered list of suggested
//! courses. Course ids are opaque strings owned by the host's catalogue.
//!
//! ### TEAM-3 — Supervisors manage their own teams
//!
//! A Team Supervisor manages only the teams they supervise: they add and remove members (who
//! must already belong to the organization), edit the team page and suggest courses.
//!
//! ### TEAM-4 — Team data is isolated
//!
//! A query scoped to a team sees only the data of that team's members, and of each member
//! only what happened while they belonged to the team (and within the period asked for).
//! Adding someone to a team for a moment shows nothing of their activity outside that
//! moment.
//!
//! # Analytics (STAT)
//!
//! ### STAT-1 — The host records activity
//!
//! The host records learning activity per member: courses started, progress, courses
//! completed, certificates earned and time spent.
//!
//! ### STAT-2 — Who sees which statistics
//!
//! Administrators and Managers see statistics for the whole organization and for each team.
//! Team Supervisors see those of their own teams only. Members see only their own.
//!
//! ### STAT-3 — Comparing teams
//!
//! The statistics of several teams can be compared side by side over the same period.
//!
//! ### STAT-4 — Exporting reports
//!
//! Activity reports can be exported as CSV by anyone allowed to see them.
//!
//! # Messages and notifications (MSG)
//!
//! ### MSG-1 — Messages to members
//!
//! Administrators can send a message to all members or to one team. *(design)* Team
//! Supervisors can send messages to the teams they supervise.
//!
//! ### MSG-2 — All mail goes through the Mailer
//!
//! Every outgoing email (invitations, messages and notifications) goes through the `Mailer`
//! port, by way of the outbox. Delivery is retried and never silently dropped.
//!
//! ### MSG-3 — Delivery is fair and exact
//!
//! *(design)* Two delivery workers never both send one email, however long a pass takes:
//! only the claim that holds a row records what became of it, and a pass starts an email
//! only while enough of its lease is left. One organization's large broadcast does not hold
//! back another organization's mail for more than one pass. An administrator can retry an
//! email that failed for good (`Roster::retry_mail`): it is queued again, the reason it
//! failed kept in the audit trail; an invitation's email whose link no longer works (the
//! invitation answered, revoked, resent or expired) cannot be retried.
//!
//! # Errors and input (ERR)
//!
//! ### ERR-1 — Typed errors, no panics
//!
//! Every failure is a typed error with a clear message, and no command panics, whatever its
//! input.
//!
//! ### ERR-2 — A failed command changes nothing
//!
//! A failed command leaves everything as it was, in every storage adapter. `Store::commit`
//! applies a change set entirely or not at all.
//!
//! ### ERR-3 — Inputs are bounded and validated
//!
//! Every input is bounded and validated: email addresses (to the lengths set by RFC 5321),
//! names, messages, team names and course ids.
