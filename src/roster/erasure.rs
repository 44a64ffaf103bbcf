//! Erasing a member's personal data from an organization on request (spec: USR-5).

use std::future::Future;

use uuid::Uuid;

use super::Roster;
use crate::{
    domain::{
        erasure::{self, Erased, Mentions, Person},
        event::EventActor,
        ids::{OrganizationId, UserId},
    },
    error::{Error, Result},
    store::{InvitationFilter, Page, StoreError},
};

impl Roster {
    /// Back office: erases `user`'s personal data from `org` on their request (spec: USR-5).
    /// Their membership ends as a removal does (their teams go, their time in teams closes),
    /// and their user id, email and name are replaced by a pseudonym in the organization's
    /// invitations, audit trail, outbox, learning activity and team stints, so its figures
    /// keep their counts. The audit trail records the erasure under the pseudonym. Their
    /// memberships of other organizations are untouched.
    ///
    /// # Errors
    /// [`Error::NotFound`] (no such organization, or `user` is not a member of it),
    /// [`Error::LastAdministrator`] (appoint another administrator first, ADM-5),
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn erase_member(&self, org: OrganizationId, user: UserId) -> Result<Erased> {
        let mut erased = self
            .run(|now| async move {
                let organization = self.organization(org).await?;
                let member = self.target_member(org, user).await?;
                let administrators = self.administrators(org).await?;
                let mentions = self.mentions(org, &Person::of(&member)).await?;
                Ok(self.decide(now, EventActor::System, |ctx| {
                    erasure::erase(ctx, &organization, member, administrators, mentions)
                })?)
            })
            .await?;
        // What was committed while the erasure read, by a command of theirs it then made
        // stale or by a delivery pass, is rewritten too, until nothing names them. Once they
        // are no member, nothing new can: this ends at once in practice.
        let person = Person::of(&erased.member);
        let pseudonym = &erased.pseudonym;
        for _ in 0..=self.config.conflict_retries {
            let mentions = self.mentions(org, &person).await?;
            if mentions.is_empty() {
                return Ok(erased);
            }
            let person = &person;
            erased.rewritten += self
                .run(|_| async move {
                    let organization = self.organization(org).await?;
                    let mentions = self.mentions(org, person).await?;
                    Ok(erasure::rewrite(&organization, person, pseudonym, mentions))
                })
                .await?;
        }
        Err(Error::Conflict)
    }

    /// Every invitation, event and email of `org` that names `person`, read a page at a
    /// time: only those are kept.
    async fn mentions(&self, org: OrganizationId, person: &Person) -> Result<Mentions> {
        let store = &self.store;
        let invitations = matching(
            |page| store.invitations(org, InvitationFilter::default(), page),
            |i| i.id.as_uuid(),
            |i| person.in_invitation(i),
        )
        .await?;
        let events = matching(
            |page| store.events(org, page),
            |e| e.id.as_uuid(),
            |e| person.in_event(e),
        )
        .await?;
        let sent = erasure::sent_by(person, &invitations);
        let mail = matching(
            |page| store.outbox(org, page),
            |m| m.id.as_uuid(),
            |m| person.in_mail(m, &sent),
        )
        .await?;
        Ok(Mentions::new(invitations, events, mail))
    }
}

/// The rows of every page `fetch` reads, in order, that `keep` keeps.
async fn matching<T, F, Fut>(
    fetch: F,
    id: impl Fn(&T) -> Uuid,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<T>>
where
    F: Fn(Page) -> Fut,
    Fut: Future<Output = std::result::Result<Vec<T>, StoreError>>,
{
    let mut kept = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = fetch(page).await?;
        let next = (rows.len() >= page.len())
            .then(|| rows.last().map(|row| Page::after(id(row), page.limit)))
            .flatten();
        kept.extend(rows.into_iter().filter(|row| keep(row)));
        match next {
            Some(next) => page = next,
            None => return Ok(kept),
        }
    }
}
