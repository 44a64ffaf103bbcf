//! Messages from administrators and supervisors, and the host's automated notifications to
//! administrators (spec: MSG-1, MSG-2, ADM-3). Both are queued mail, sent by delivery.

use chrono::{DateTime, Utc};

use super::{Actor, Roster};
#[cfg(doc)]
use crate::error::Error;
use crate::{
    domain::{
        event::EventActor,
        ids::{OrganizationId, TeamId},
        outbox::MailDraft,
        role::Role,
        text::{Message, Subject},
    },
    error::Result,
    policy::{Permission, Scope},
    store::{MemberFilter, Page},
};

/// Whom a message goes to (spec: MSG-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Audience {
    /// Every member of the organization.
    Everyone,
    /// The members of one team.
    Team(TeamId),
}

impl Roster {
    /// Sends a message to every member or to one team's members; supervisors may message the
    /// teams they belong to (spec: MSG-1, MSG-2). Returns how many emails were queued.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn send_message(
        &self,
        actor: &Actor,
        org: OrganizationId,
        audience: Audience,
        subject: Subject,
        body: Message,
    ) -> Result<u64> {
        let (permission, scope, filter) = match audience {
            // A deactivated member receives nothing (spec: MEM-2).
            Audience::Everyone => (
                Permission::MessageEveryone,
                Scope::Organization,
                MemberFilter::default().active(),
            ),
            Audience::Team(team) => (
                Permission::MessageTeam,
                Scope::Team(team),
                MemberFilter::default().in_team(team).active(),
            ),
        };
        let (subject, body) = (&subject, &body);
        self.run(|now| async move {
            let access = self.access(org, actor, permission, scope).await?;
            let team = match audience {
                Audience::Everyone => None,
                Audience::Team(team) => Some(self.target_team(org, team).await?),
            };
            // Recipients are read a page at a time: only their mail is held until the commit.
            let mut draft = MailDraft::message(
                &access.organization,
                &access.member,
                team.as_ref(),
                subject.clone(),
                body.clone(),
            );
            self.addressed(&mut draft, org, filter, now, actor.as_event_actor())
                .await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| draft.finish(ctx)))
        })
        .await
    }

    /// Queues an automated notification to every administrator, for the host's own
    /// automation (for example: a delivered course is scheduled to retire) (spec: ADM-3).
    /// Returns how many emails were queued.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Store`].
    pub async fn notify_administrators(
        &self,
        org: OrganizationId,
        subject: Subject,
        body: Message,
    ) -> Result<u64> {
        let (subject, body) = (&subject, &body);
        self.run(|now| async move {
            let organization = self.organization(org).await?;
            let filter = MemberFilter::default()
                .with_role(Role::Administrator)
                .active();
            let mut draft = MailDraft::notification(&organization, subject.clone(), body.clone());
            self.addressed(&mut draft, org, filter, now, EventActor::System)
                .await?;
            Ok(self.decide(now, EventActor::System, |ctx| draft.finish(ctx)))
        })
        .await
    }

    /// Addresses `draft` to `org`'s members matching `filter`, read a page at a time.
    async fn addressed(
        &self,
        draft: &mut MailDraft,
        org: OrganizationId,
        filter: MemberFilter,
        now: DateTime<Utc>,
        actor: EventActor,
    ) -> Result<()> {
        let mut page = Page::first(Page::MAX_LIMIT);
        loop {
            let rows = self.store.members(org, filter, page).await?;
            self.decide(now, actor.clone(), |ctx| draft.address(ctx, &rows));
            match rows.last() {
                Some(last) if rows.len() >= page.len() => page = Page::after(last.id, page.limit),
                _ => return Ok(()),
            }
        }
    }
}
