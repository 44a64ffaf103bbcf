//! The SQL store, written once: [`SqlStore`] implements [`Store`] over a small private
//! [`Backend`] (run a read, run a transaction), which `SqliteStore` and `PostgresStore`
//! implement for their drivers in `store/sqlite.rs` and `store/postgres.rs`.
//!
//! - [`backend`]: the backend trait, owned arguments and rows, driver errors.
//! - [`queries`]: the SQL both dialects share, and the shape of what each writes its own way.
//! - [`plan`]: a change set as the statements that apply it.
//! - [`rows`]: rows back into domain values.

pub(crate) mod backend;
pub(crate) mod plan;
pub(crate) mod queries;
pub(crate) mod rows;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use self::{
    backend::{Arg, Backend, Row, Statement, Transaction, corrupt},
    plan::{BATCH_ROWS, Step, insert_rows},
    queries::{
        ACTIVITIES_ONCE, ACTIVITY_INSERT_COLUMNS, APPLIED_MIGRATIONS, DELETE_ORG, DELETE_ORG_ROWS,
        EVENTS_PAGE, FAILED_OUTBOX_PAGE, INBOX_PAGE, INSERT_ACTIVITIES, INVITATIONS_PAGE,
        LINK_CONTEXT, LINK_CONTEXT_BY_ID, MEMBERS_PAGE, MEMBERSHIPS_PAGE, MIGRATIONS_TABLE,
        ORG_WITH_MEMBER, ORGANIZATION_STATISTICS, OUTBOX_PAGE, RECORD_MIGRATION, SEAT_USAGE,
        SELECT_INVITATION, SELECT_MEMBER, SELECT_ORG, SELECT_OUTBOX, SELECT_TEAM, SETTLE_FAILED,
        SETTLE_RELEASED, SETTLE_RETRY, SETTLE_SENT, ScopeStatements, TEAM_MEMBERS_PAGE, TEAMS_OF,
        TEAMS_PAGE,
    },
    rows::{Cols, all, micros, time, to_json},
};
use super::{
    InboxInvitation, InvitationContext, InvitationFilter, InvitationLookup, InvitationTargets,
    LinkContext, MemberFilter, Page, Recorded, Store, StoreError, lease_end,
};
use crate::domain::{
    activity::{
        Activity, CourseCount, MemberActivity, Period, Statistics, StatsScope, Tally, WeekStats,
    },
    changes::ChangeSet,
    email::EmailAddress,
    event::Event,
    ids::{ClaimId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::Invitation,
    member::{Member, Membership},
    organization::{Organization, SeatUsage},
    outbox::{OutboxMessage, Settlement, in_turns},
    team::Team,
    text::CourseId,
};

/// The SQL store over the backend `B`: `SqliteStore` and `PostgresStore` are this store
/// over their drivers.
#[derive(Debug, Clone)]
pub struct SqlStore<B> {
    backend: B,
}

impl<B> SqlStore<B> {
    /// The store over `backend`.
    pub(crate) fn from_backend(backend: B) -> Self {
        Self { backend }
    }

    /// The backend.
    pub(crate) fn backend(&self) -> &B {
        &self.backend
    }
}

/// Runs a commit's `steps` in one transaction of `backend`, step by step, and rolls it back
/// at the first step whose check fails: how a [`Backend`] commits unless it has a faster way.
pub(crate) async fn commit_in_transaction<B: Backend>(
    backend: &B,
    steps: Vec<Step>,
) -> Result<(), StoreError> {
    let mut tx = backend.begin().await?;
    for step in steps {
        let affected = if step.reads {
            tx.fetch(step.statement).await?.len() as u64
        } else {
            tx.execute(step.statement).await?
        };
        if let Some(expect) = step.expect
            && affected != expect.rows()
        {
            // Dropped, the transaction rolls back: nothing of the commit stays.
            return Err(expect.error());
        }
    }
    tx.commit().await
}

/// Runs one read.
async fn read<B: Backend>(
    backend: &B,
    sql: &'static str,
    args: Vec<Arg>,
) -> Result<Vec<Row>, StoreError> {
    backend.read(Statement::new(sql, args)).await
}

/// Runs one read of at most one row, read by `read`.
async fn read_one<B: Backend, T>(
    backend: &B,
    sql: &'static str,
    args: Vec<Arg>,
    read_row: impl Fn(&mut Cols<'_>) -> Result<T, StoreError> + Send,
) -> Result<Option<T>, StoreError> {
    let rows = read(backend, sql, args).await?;
    rows.first().map(|r| read_row(&mut Cols::of(r))).transpose()
}

/// Applies the dialect's migrations that have not run yet, in order, each in its own
/// transaction under the dialect's lock, so that running them twice, or from two
/// processes at once, is safe. An applied migration whose text changed since is an error.
pub(crate) async fn apply_migrations<B: Backend>(backend: &B) -> Result<(), StoreError> {
    for (version, description, sql) in B::SQL.migrations {
        let mut tx = backend.begin().await?;
        if let Some(lock) = B::SQL.migration_lock {
            tx.execute(Statement::new(lock, Vec::new())).await?;
        }
        tx.execute(Statement::new(MIGRATIONS_TABLE, Vec::new()))
            .await?;
        let applied = tx
            .fetch(Statement::new(APPLIED_MIGRATIONS, Vec::new()))
            .await?;
        let mut done = false;
        for row in &applied {
            let mut c = Cols::of(row);
            let (v, sum) = (c.int()?, c.text()?);
            if v == *version {
                if sum != checksum(sql) {
                    return Err(corrupt(
                        B::NAME,
                        format!(
                            "migration {version} ({description}) was changed after it was applied"
                        ),
                    ));
                }
                done = true;
            }
        }
        if !done {
            tx.execute_script(sql).await?;
            let record = vec![
                Arg::Int(*version),
                Arg::Text((*description).to_owned()),
                Arg::Text(checksum(sql)),
                Arg::Int(Utc::now().timestamp_micros()),
            ];
            tx.execute(Statement::new(RECORD_MIGRATION, record)).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// The statistics of one scope (spec: STAT-2, TEAM-4): three statements on one
/// connection.
async fn scope_statistics<B: Backend>(
    backend: &B,
    org: OrganizationId,
    scope: StatsScope,
    period: Period,
) -> Result<Statistics, StoreError> {
    let (statements, id): (ScopeStatements, _) = match scope {
        StatsScope::Organization => (ORGANIZATION_STATISTICS, None),
        StatsScope::Team(team) => (B::SQL.team_statistics, Some(team.as_uuid())),
        StatsScope::Member(user) => (B::SQL.member_statistics, Some(user.as_uuid())),
    };
    let mut args = vec![
        Arg::Uuid(org.as_uuid()),
        Arg::Int(micros(period.from())),
        Arg::Int(micros(period.to())),
    ];
    args.extend(id.map(Arg::Uuid));
    let read = [statements.totals, statements.courses, statements.weeks]
        .map(|sql| Statement::new(sql, args.clone()));
    let results = backend.read_all(read.into()).await?;
    let [totals, courses, weeks] = <[Vec<Row>; 3]>::try_from(results)
        .map_err(|_| corrupt(B::NAME, "statistics read fewer results than statements"))?;
    let mut stats = Tally::default().finish(period, 0, 0);
    if let Some(row) = totals.first() {
        let mut c = Cols::of(row);
        stats.active_learners = c.count()?;
        stats.enrolments = c.count()?;
        stats.completions = c.count()?;
        stats.certificates = c.count()?;
        stats.time_spent_seconds = c.count()?;
        stats.members = c.count()?;
        stats.invited = c.count()?;
    }
    for row in &courses {
        let mut c = Cols::of(row);
        stats.top_courses.push(course_count(&mut c)?);
    }
    for row in &weeks {
        stats.weekly.push(week_stats(&mut Cols::of(row))?);
    }
    top_courses(&mut stats);
    Ok(stats)
}

/// The statistics of several teams, in the order given, in one pass over the period's
/// events (spec: STAT-3, TEAM-4).
async fn teams_statistics<B: Backend>(
    backend: &B,
    org: OrganizationId,
    teams: &[TeamId],
    period: Period,
) -> Result<Vec<Statistics>, StoreError> {
    let ids: Vec<String> = teams
        .iter()
        .map(|t| t.as_uuid().simple().to_string())
        .collect();
    let args = vec![
        Arg::Uuid(org.as_uuid()),
        Arg::Int(micros(period.from())),
        Arg::Int(micros(period.to())),
        Arg::Text(to_json(&ids)?),
    ];
    // A team asked for twice is computed once, at its first position, and copied.
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for (i, t) in teams.iter().enumerate() {
        index.entry(t.as_uuid()).or_insert(i);
    }
    let mut stats: Vec<Statistics> = teams
        .iter()
        .map(|_| Tally::default().finish(period, 0, 0))
        .collect();
    let sql = B::SQL.teams_statistics;
    let read = [sql.totals, sql.members, sql.invited, sql.courses, sql.weeks]
        .map(|sql| Statement::new(sql, args.clone()));
    let results = backend.read_all(read.into()).await?;
    let [totals, members, invited, courses, weeks] = <[Vec<Row>; 5]>::try_from(results)
        .map_err(|_| corrupt(B::NAME, "statistics read fewer results than statements"))?;
    // Each row leads with its team; a team not asked for (none should be) is skipped.
    let mut slot =
        |row: &Row,
         fill: &mut dyn FnMut(&mut Statistics, &mut Cols<'_>) -> Result<(), StoreError>|
         -> Result<(), StoreError> {
            let mut c = Cols::of(row);
            let team = c.uuid()?;
            if let Some(i) = index.get(&team) {
                fill(&mut stats[*i], &mut c)?;
            }
            Ok(())
        };
    for row in &totals {
        slot(row, &mut |s, c| {
            s.active_learners = c.count()?;
            s.enrolments = c.count()?;
            s.completions = c.count()?;
            s.certificates = c.count()?;
            s.time_spent_seconds = c.count()?;
            Ok(())
        })?;
    }
    for row in &members {
        slot(row, &mut |s, c| {
            s.members = c.count()?;
            Ok(())
        })?;
    }
    for row in &invited {
        slot(row, &mut |s, c| {
            s.invited = c.count()?;
            Ok(())
        })?;
    }
    for row in &courses {
        slot(row, &mut |s, c| {
            s.top_courses.push(course_count(c)?);
            Ok(())
        })?;
    }
    for row in &weeks {
        slot(row, &mut |s, c| {
            s.weekly.push(week_stats(c)?);
            Ok(())
        })?;
    }
    for s in &mut stats {
        top_courses(s);
        s.weekly.sort_by_key(|w| w.week);
    }
    for (i, t) in teams.iter().enumerate() {
        match index.get(&t.as_uuid()) {
            Some(first) if *first != i => stats[i] = stats[*first].clone(),
            _ => {}
        }
    }
    Ok(stats)
}

/// A course and its learners.
fn course_count(c: &mut Cols<'_>) -> Result<CourseCount, StoreError> {
    Ok(CourseCount {
        course: CourseId::parse(c.text()?).map_err(|e| corrupt("sql", e))?,
        learners: c.count()?,
    })
}

/// A week's figures: week, learners, completions, seconds.
fn week_stats(c: &mut Cols<'_>) -> Result<WeekStats, StoreError> {
    Ok(WeekStats {
        week: week_start(c.int()?)?,
        active_learners: c.count()?,
        completions: c.count()?,
        time_spent_seconds: c.count()?,
    })
}

/// Keeps the top courses in the order and number of the reference tally: most learners
/// first, then by name, byte by byte.
fn top_courses(stats: &mut Statistics) {
    stats.top_courses.sort_by(|a, b| {
        b.learners
            .cmp(&a.learners)
            .then_with(|| a.course.cmp(&b.course))
    });
    stats.top_courses.truncate(Statistics::TOP_COURSES);
}

/// The Monday that starts week `w`, counted from Monday 1970-01-05 00:00 UTC.
fn week_start(w: i64) -> Result<DateTime<Utc>, StoreError> {
    time(
        w.saturating_mul(604_800_000_000)
            .saturating_add(345_600_000_000),
    )
}

/// The SHA-256 of a migration's SQL, to notice a migration edited after it was applied.
fn checksum(sql: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Email keys as they travel in a JSON list.
fn email_keys(emails: &[EmailAddress]) -> Result<String, StoreError> {
    let keys: Vec<&str> = emails.iter().map(EmailAddress::key).collect();
    to_json(&keys)
}

/// The page's starting point as bound: the nil id sorts before every id.
fn after(page: Page) -> Arg {
    Arg::Uuid(page.after.unwrap_or(Uuid::nil()))
}

/// The page's length as bound.
fn limit(page: Page) -> Arg {
    Arg::Int(i64::try_from(page.len()).unwrap_or(i64::MAX))
}

#[async_trait::async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        read_one(
            &self.backend,
            SELECT_ORG,
            vec![Arg::Uuid(id.as_uuid())],
            rows::organization,
        )
        .await
    }

    async fn organization_with_member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<(Organization, Option<Member>)>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), Arg::Uuid(user.as_uuid())];
        read_one(&self.backend, ORG_WITH_MEMBER, args, |c| {
            Ok((rows::organization(c)?, rows::opt_member(c)?))
        })
        .await
    }

    async fn member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<Member>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), Arg::Uuid(user.as_uuid())];
        read_one(&self.backend, SELECT_MEMBER, args, rows::member).await
    }

    async fn memberships(&self, user: UserId, page: Page) -> Result<Vec<Membership>, StoreError> {
        let args = vec![Arg::Uuid(user.as_uuid()), after(page), limit(page)];
        let rows = read(&self.backend, MEMBERSHIPS_PAGE, args).await?;
        all(&rows, rows::membership)
    }

    async fn members(
        &self,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Vec<Member>, StoreError> {
        let role = Arg::Int(filter.role.map_or(0, |r| i64::from(r.bit())));
        let status = Arg::Int(match filter.deactivated {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        let rows = match filter.team {
            Some(team) => {
                let args = vec![
                    Arg::Uuid(team.as_uuid()),
                    Arg::Uuid(org.as_uuid()),
                    after(page),
                    role,
                    limit(page),
                    status,
                ];
                read(&self.backend, TEAM_MEMBERS_PAGE, args).await?
            }
            None => {
                let args = vec![
                    Arg::Uuid(org.as_uuid()),
                    after(page),
                    role,
                    limit(page),
                    status,
                ];
                read(&self.backend, MEMBERS_PAGE, args).await?
            }
        };
        all(&rows, rows::member)
    }

    async fn teams_of(
        &self,
        org: OrganizationId,
        member: MemberId,
    ) -> Result<Vec<TeamId>, StoreError> {
        let args = vec![Arg::Uuid(member.as_uuid()), Arg::Uuid(org.as_uuid())];
        let rows = read(&self.backend, TEAMS_OF, args).await?;
        all(&rows, |c| c.uuid().map(TeamId::from_uuid))
    }

    async fn invitation(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), Arg::Uuid(id.as_uuid())];
        read_one(&self.backend, SELECT_INVITATION, args, rows::invitation).await
    }

    async fn invitations(
        &self,
        org: OrganizationId,
        filter: InvitationFilter,
        page: Page,
    ) -> Result<Vec<Invitation>, StoreError> {
        let args = vec![
            Arg::Uuid(org.as_uuid()),
            after(page),
            Arg::OptText(filter.status.map(|s| s.as_str().to_owned())),
            Arg::OptText(filter.role.map(|r| r.as_str().to_owned())),
            limit(page),
        ];
        let rows = read(&self.backend, INVITATIONS_PAGE, args).await?;
        all(&rows, rows::invitation)
    }

    async fn seat_usage(
        &self,
        org: OrganizationId,
        now: DateTime<Utc>,
    ) -> Result<SeatUsage, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), Arg::Int(micros(now))];
        let seats = read_one(&self.backend, SEAT_USAGE, args, rows::seats).await?;
        Ok(seats.unwrap_or_default())
    }

    async fn invitation_context(
        &self,
        org: OrganizationId,
        user: UserId,
        emails: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> Result<Option<InvitationContext>, StoreError> {
        let args = vec![
            Arg::Uuid(org.as_uuid()),
            Arg::Text(email_keys(emails)?),
            Arg::Int(micros(now)),
            Arg::Uuid(user.as_uuid()),
        ];
        let rows = read(&self.backend, B::SQL.invitation_context, args).await?;
        // Every row leads with the organization and membership; none: no organization.
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut c = Cols::of(first);
        let organization = rows::organization(&mut c)?;
        let member = rows::opt_member(&mut c)?;
        let leading = first.0.len() - c.remaining();
        let capped = organization.seats_counted_at(now).is_some();
        let mut targets = InvitationTargets::default();
        for row in &rows {
            let mut c = Cols::of(row);
            c.skip(leading)?;
            let key = c.opt_text()?;
            let is_member = c.bool()?;
            let pending = rows::opt_invitation(&mut c)?;
            let seats = rows::seats(&mut c)?;
            if capped {
                targets.seats = Some(seats);
            }
            let Some(key) = key else { continue };
            if is_member {
                targets.member_emails.push(key);
            }
            targets.pending.extend(pending);
        }
        Ok(Some(InvitationContext {
            organization,
            member,
            targets,
        }))
    }

    async fn link_context(
        &self,
        lookup: InvitationLookup,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkContext>, StoreError> {
        let (sql, named) = match lookup {
            InvitationLookup::TokenHash(hash) => {
                (LINK_CONTEXT, Arg::Bytes(hash.as_bytes().to_vec()))
            }
            InvitationLookup::Id(id) => (LINK_CONTEXT_BY_ID, Arg::Uuid(id.as_uuid())),
        };
        let args = vec![
            named,
            Arg::OptUuid(user.map(|u| u.as_uuid())),
            Arg::Int(micros(now)),
        ];
        read_one(&self.backend, sql, args, |c| {
            let invitation = rows::invitation(c)?;
            let organization = rows::organization(c)?;
            let member = rows::opt_member(c)?;
            let seats = rows::seats(c)?;
            let team = rows::opt_team(c)?;
            Ok(LinkContext {
                invitation,
                seats: organization.seats_counted_at(now).map(|_| seats),
                organization,
                member,
                team,
            })
        })
        .await
    }

    async fn inbox(
        &self,
        email: &EmailAddress,
        page: Page,
    ) -> Result<Vec<InboxInvitation>, StoreError> {
        let args = vec![Arg::Text(email.key().to_owned()), after(page), limit(page)];
        let rows = read(&self.backend, INBOX_PAGE, args).await?;
        all(&rows, rows::inbox_invitation)
    }

    async fn team(&self, org: OrganizationId, id: TeamId) -> Result<Option<Team>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), Arg::Uuid(id.as_uuid())];
        read_one(&self.backend, SELECT_TEAM, args, rows::team).await
    }

    async fn teams(&self, org: OrganizationId, page: Page) -> Result<Vec<Team>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), after(page), limit(page)];
        let rows = read(&self.backend, TEAMS_PAGE, args).await?;
        all(&rows, rows::team)
    }

    async fn events(&self, org: OrganizationId, page: Page) -> Result<Vec<Event>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), after(page), limit(page)];
        let rows = read(&self.backend, EVENTS_PAGE, args).await?;
        all(&rows, rows::event)
    }

    async fn commit(&self, changes: ChangeSet) -> Result<(), StoreError> {
        let steps = plan::plan(&changes, B::NUMBERED_PARAMS)?;
        self.backend.commit(&changes, steps).await
    }

    async fn claim_outbox(
        &self,
        claim: ClaimId,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let args = vec![
            Arg::Int(micros(lease_end(now, lease))),
            Arg::Int(micros(now)),
            Arg::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
            Arg::Uuid(claim.as_uuid()),
        ];
        let mut tx = self.backend.begin().await?;
        let rows = tx.fetch(Statement::new(B::SQL.claim_outbox, args)).await?;
        tx.commit().await?;
        let claimed = all(&rows, rows::outbox)?;
        // `RETURNING` keeps no order: the claim's order is restored here.
        Ok(in_turns(claimed, |m| (m.organization, m.due_at, m.id)))
    }

    async fn settle_outbox(
        &self,
        claim: ClaimId,
        id: OutboxId,
        settlement: Settlement,
    ) -> Result<bool, StoreError> {
        let mut args = vec![Arg::Uuid(id.as_uuid()), Arg::Uuid(claim.as_uuid())];
        let sql = match settlement {
            Settlement::Sent => SETTLE_SENT,
            Settlement::Retry { not_before, error } => {
                args.extend([Arg::Int(micros(not_before)), Arg::Text(error)]);
                SETTLE_RETRY
            }
            Settlement::Failed { error } => {
                args.push(Arg::Text(error));
                SETTLE_FAILED
            }
            Settlement::Released => SETTLE_RELEASED,
        };
        let mut tx = self.backend.begin().await?;
        let settled = tx.execute(Statement::new(sql, args)).await?;
        tx.commit().await?;
        Ok(settled == 1)
    }

    async fn delete_organization(&self, org: OrganizationId) -> Result<bool, StoreError> {
        let mut tx = self.backend.begin().await?;
        for sql in DELETE_ORG_ROWS {
            tx.execute(Statement::new(sql, vec![Arg::Uuid(org.as_uuid())]))
                .await?;
        }
        let deleted = tx
            .execute(Statement::new(DELETE_ORG, vec![Arg::Uuid(org.as_uuid())]))
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    async fn outbox_message(
        &self,
        org: OrganizationId,
        id: OutboxId,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), Arg::Uuid(id.as_uuid())];
        read_one(&self.backend, SELECT_OUTBOX, args, rows::outbox).await
    }

    async fn outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), after(page), limit(page)];
        let rows = read(&self.backend, OUTBOX_PAGE, args).await?;
        all(&rows, rows::outbox)
    }

    async fn failed_outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let args = vec![Arg::Uuid(org.as_uuid()), after(page), limit(page)];
        let rows = read(&self.backend, FAILED_OUTBOX_PAGE, args).await?;
        all(&rows, rows::outbox)
    }

    async fn record_activities(
        &self,
        org: OrganizationId,
        activities: &[Activity],
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.backend.begin().await?;
        // Checked in the transaction that records: see `Dialect::users_not_members`.
        let users: HashSet<UserId> = activities.iter().map(|a| a.user).collect();
        if !users.is_empty() {
            let hex: Vec<String> = users
                .iter()
                .map(|u| u.as_uuid().simple().to_string())
                .collect();
            let args = vec![Arg::Uuid(org.as_uuid()), Arg::Text(to_json(&hex)?)];
            let rows = tx
                .fetch(Statement::new(B::SQL.users_not_members, args))
                .await?;
            if !rows.is_empty() {
                let mut strangers = all(&rows, |c| c.uuid().map(UserId::from_uuid))?;
                strangers.sort_unstable();
                return Ok(Recorded::NotMembers(strangers));
            }
        }
        let mut inserted = HashSet::new();
        for chunk in activities.chunks(BATCH_ROWS) {
            let mut sql = insert_rows(
                INSERT_ACTIVITIES,
                ACTIVITY_INSERT_COLUMNS,
                chunk.len(),
                B::NUMBERED_PARAMS,
            );
            sql.push_str(ACTIVITIES_ONCE);
            let mut args = Vec::with_capacity(chunk.len() * ACTIVITY_INSERT_COLUMNS);
            for a in chunk {
                args.extend([
                    Arg::Uuid(org.as_uuid()),
                    Arg::Text(a.id.as_str().to_owned()),
                    Arg::Uuid(a.user.as_uuid()),
                    Arg::Text(a.course.as_str().to_owned()),
                    Arg::Text(a.kind.name().to_owned()),
                    Arg::Int(i64::from(a.kind.value())),
                    Arg::Int(micros(a.at)),
                ]);
            }
            let mut statement = Statement::new(sql, args);
            // Full chunks share one statement, prepared once per connection.
            statement.persistent = chunk.len() == BATCH_ROWS;
            for row in tx.fetch(statement).await? {
                inserted.insert(Cols::of(&row).text()?);
            }
        }
        tx.commit().await?;
        Ok(Recorded::New(
            activities
                .iter()
                .map(|a| inserted.contains(a.id.as_str()))
                .collect(),
        ))
    }

    async fn statistics(
        &self,
        org: OrganizationId,
        scopes: &[StatsScope],
        period: Period,
    ) -> Result<Vec<Statistics>, StoreError> {
        // Several teams in one pass; a single team, and the other scopes, one by one.
        let teams: Vec<TeamId> = scopes
            .iter()
            .filter_map(|s| match s {
                StatsScope::Team(team) => Some(*team),
                StatsScope::Organization | StatsScope::Member(_) => None,
            })
            .collect();
        let mut of_teams = match teams.len() {
            0 | 1 => Vec::new(),
            _ => teams_statistics(&self.backend, org, &teams, period).await?,
        }
        .into_iter();
        let mut all = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let batched = match scope {
                StatsScope::Team(_) => of_teams.next(),
                StatsScope::Organization | StatsScope::Member(_) => None,
            };
            all.push(match batched {
                Some(stats) => stats,
                None => scope_statistics(&self.backend, org, *scope, period).await?,
            });
        }
        Ok(all)
    }

    async fn member_activity(
        &self,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
        page: Page,
    ) -> Result<Vec<MemberActivity>, StoreError> {
        let statements = B::SQL.member_activity;
        let (sql, id) = match scope {
            StatsScope::Organization => (statements.organization, None),
            StatsScope::Team(team) => (statements.team, Some(team.as_uuid())),
            StatsScope::Member(user) => (statements.member, Some(user.as_uuid())),
        };
        let mut args = vec![
            Arg::Uuid(org.as_uuid()),
            Arg::Int(micros(period.from())),
            Arg::Int(micros(period.to())),
            after(page),
            limit(page),
        ];
        args.extend(id.map(Arg::Uuid));
        let results = self
            .backend
            .read_all(vec![Statement::new(sql, args)])
            .await?;
        let rows = results.into_iter().next().unwrap_or_default();
        all(&rows, |c| {
            let member = MemberId::from_uuid(c.uuid()?);
            let user = UserId::from_uuid(c.uuid()?);
            let email = c.text()?;
            let (first, last) = (c.text()?, c.text()?);
            Ok(MemberActivity {
                member,
                user,
                email,
                name: format!("{first} {last}"),
                enrolments: c.count()?,
                completions: c.count()?,
                certificates: c.count()?,
                time_spent_seconds: c.count()?,
                last_active: c.opt_time()?,
            })
        })
    }
}
