//! The invitee's inbox: the pending invitations addressed to the signed-in user's email
//! across every organization (spec: INV-15). They are answered with
//! [`Roster::accept_invitation_by_id`] and [`Roster::decline_invitation_by_id`], under the
//! rules of the link.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Actor, Listing, Roster, listing};
use crate::{
    domain::{
        ids::{InvitationId, OrganizationId},
        role::Role,
        text::{OrganizationName, Profile, TeamName},
    },
    error::Result,
    store::{InboxInvitation, Page},
};

/// One pending invitation in its invitee's inbox (spec: INV-15).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InboxEntry {
    /// The invitation, to accept or decline by id.
    pub invitation: InvitationId,
    /// The organization it invites to.
    pub organization: OrganizationId,
    /// The organization's name.
    pub organization_name: OrganizationName,
    /// The role it grants.
    pub role: Role,
    /// The team it joins, when it still exists.
    pub team: Option<TeamName>,
    /// Who sent it, while they are a member of the organization.
    pub inviter: Option<Profile>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it has expired: it still shows, but can no longer be accepted or declined
    /// until it is resent (spec: INV-2).
    pub expired: bool,
}

impl InboxEntry {
    /// The entry of `row`, its expiry judged at `now`.
    fn at(row: InboxInvitation, now: DateTime<Utc>) -> Self {
        let InboxInvitation {
            invitation,
            organization_name,
            team_name,
            inviter,
        } = row;
        Self {
            expired: invitation.is_expired(now),
            invitation: invitation.id,
            organization: invitation.organization,
            organization_name,
            role: invitation.role,
            team: team_name,
            inviter,
            expires_at: invitation.expires_at,
        }
    }
}

impl Roster {
    /// A page of the actor's inbox: the pending invitations addressed to their email,
    /// compared regardless of case, across every organization, in a stable order (by
    /// invitation id). Expired ones are listed too, flagged (spec: INV-2); accepted,
    /// declined and revoked ones are not. Everyone reads their own inbox; nobody reads
    /// another's (spec: INV-15).
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store).
    pub async fn inbox(&self, actor: &Actor, page: Page) -> Result<Listing<InboxEntry>> {
        let now = self.now();
        let rows = self.store.inbox(&actor.email, page).await?;
        let items = rows
            .into_iter()
            .map(|row| InboxEntry::at(row, now))
            .collect();
        Ok(listing(items, page, |e: &InboxEntry| {
            e.invitation.as_uuid()
        }))
    }
}
