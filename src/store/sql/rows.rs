//! Rows back into domain values. Each statement returns its columns in a fixed order (the
//! `*_COLUMNS` lists of [`queries`](super::queries)), and a combined read returns several
//! entities side by side: [`Cols`] reads a row from left to right, one entity after another.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::backend::{Row, Value, corrupt};
use crate::domain::{
    email::EmailAddress,
    event::Event,
    ids::{EventId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::{Invitation, InvitationStatus},
    invite_options::{Lifetime, Metadata},
    member::{Member, Membership},
    organization::{Organization, SeatUsage},
    outbox::{OutboxMessage, OutboxStatus},
    role::{Role, RoleSet},
    team::{Team, TeamPage},
    text::{Message, OrganizationName, PersonName, Profile, TeamName},
    token::TokenHash,
    validation::Field,
};
use crate::store::{InboxInvitation, StoreError};

/// Where corrupt data is reported from: the row conversions are the same for every dialect.
const SQL: &str = "sql";

/// Reads the columns of a row from left to right.
#[derive(Debug)]
pub(crate) struct Cols<'r> {
    values: std::slice::Iter<'r, Value>,
}

impl<'r> Cols<'r> {
    /// The columns of `row`, from the first.
    pub(crate) fn of(row: &'r Row) -> Self {
        Self {
            values: row.0.iter(),
        }
    }

    fn next(&mut self) -> Result<&'r Value, StoreError> {
        self.values
            .next()
            .ok_or_else(|| corrupt(SQL, "a row has fewer columns than read"))
    }

    /// Skips `n` columns.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), StoreError> {
        for _ in 0..n {
            self.next()?;
        }
        Ok(())
    }

    /// How many columns are left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.values.len()
    }

    /// Whether the next column is NULL, without reading it.
    pub(crate) fn next_is_null(&self) -> bool {
        matches!(self.values.clone().next(), Some(Value::Null))
    }

    pub(crate) fn opt_uuid(&mut self) -> Result<Option<Uuid>, StoreError> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Uuid(u) => Ok(Some(*u)),
            Value::Bytes(b) => Uuid::from_slice(b).map(Some).map_err(|e| corrupt(SQL, e)),
            Value::Text(t) => Uuid::parse_str(t).map(Some).map_err(|e| corrupt(SQL, e)),
            other => Err(unexpected("an id", other)),
        }
    }

    pub(crate) fn uuid(&mut self) -> Result<Uuid, StoreError> {
        self.opt_uuid()?
            .ok_or_else(|| corrupt(SQL, "an id is NULL"))
    }

    pub(crate) fn opt_int(&mut self) -> Result<Option<i64>, StoreError> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(*i)),
            Value::Bool(b) => Ok(Some(i64::from(*b))),
            other => Err(unexpected("a number", other)),
        }
    }

    pub(crate) fn int(&mut self) -> Result<i64, StoreError> {
        self.opt_int()?
            .ok_or_else(|| corrupt(SQL, "a number is NULL"))
    }

    /// A count: never negative.
    pub(crate) fn count(&mut self) -> Result<u64, StoreError> {
        Ok(u64::try_from(self.opt_int()?.unwrap_or(0)).unwrap_or(0))
    }

    pub(crate) fn bool(&mut self) -> Result<bool, StoreError> {
        match self.next()? {
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            other => Err(unexpected("a truth value", other)),
        }
    }

    pub(crate) fn opt_text(&mut self) -> Result<Option<String>, StoreError> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            other => Err(unexpected("text", other)),
        }
    }

    pub(crate) fn text(&mut self) -> Result<String, StoreError> {
        self.opt_text()?
            .ok_or_else(|| corrupt(SQL, "a text is NULL"))
    }

    fn bytes(&mut self) -> Result<&'r [u8], StoreError> {
        match self.next()? {
            Value::Bytes(b) => Ok(b),
            other => Err(unexpected("bytes", other)),
        }
    }

    pub(crate) fn time(&mut self) -> Result<DateTime<Utc>, StoreError> {
        time(self.int()?)
    }

    pub(crate) fn opt_time(&mut self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.opt_int()?.map(time).transpose()
    }

    fn version(&mut self) -> Result<u64, StoreError> {
        u64::try_from(self.int()?).map_err(|_| corrupt(SQL, "negative version"))
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, StoreError> {
        parsed(serde_json::from_str(&self.text()?))
    }
}

fn unexpected(wanted: &str, got: &Value) -> StoreError {
    corrupt(SQL, format!("expected {wanted}, found {got:?}"))
}

/// Time as stored: microseconds since the Unix epoch.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt(SQL, "timestamp out of range"))
}

/// A version as bound: the column is a signed 64-bit integer.
pub(crate) fn version_param(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| corrupt(SQL, "version out of range"))
}

fn parsed<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| corrupt(SQL, e))
}

/// JSON text of a value whose serialization cannot fail (plain data, string keys).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(SQL, e))
}

/// An organization: `ORG_COLUMNS`.
pub(crate) fn organization(c: &mut Cols<'_>) -> Result<Organization, StoreError> {
    Ok(Organization {
        id: OrganizationId::from_uuid(c.uuid()?),
        name: parsed(OrganizationName::parse(c.text()?))?,
        licenses: c.json()?,
        capabilities: c.json()?,
        seat_cap: c
            .opt_int()?
            .map(|cap| u32::try_from(cap).map_err(|_| corrupt(SQL, "seat cap out of range")))
            .transpose()?,
        created_at: c.time()?,
        version: c.version()?,
    })
}

/// A member: `MEMBER_COLUMNS`.
pub(crate) fn member(c: &mut Cols<'_>) -> Result<Member, StoreError> {
    Ok(Member {
        id: MemberId::from_uuid(c.uuid()?),
        organization: OrganizationId::from_uuid(c.uuid()?),
        user: UserId::from_uuid(c.uuid()?),
        email: parsed(EmailAddress::parse(c.text()?))?,
        profile: Profile {
            first_name: parsed(PersonName::parse_as(c.text()?, Field::FirstName))?,
            last_name: parsed(PersonName::parse_as(c.text()?, Field::LastName))?,
        },
        roles: parsed(RoleSet::from_bits(
            u8::try_from(c.int()?).map_err(|_| corrupt(SQL, "roles out of range"))?,
        ))?,
        joined_at: c.time()?,
        invitation: c.opt_uuid()?.map(InvitationId::from_uuid),
        deactivated_at: c.opt_time()?,
        metadata: metadata(c)?,
        version: c.version()?,
    })
}

/// The host's metadata of an invitation or membership (spec: INV-14), or NULL.
fn metadata(c: &mut Cols<'_>) -> Result<Option<Metadata>, StoreError> {
    c.opt_text()?
        .map(|json| parsed(Metadata::parse(&json)))
        .transpose()
}

/// A membership: the organization's name, then `MEMBER_COLUMNS`.
pub(crate) fn membership(c: &mut Cols<'_>) -> Result<Membership, StoreError> {
    let name = parsed(OrganizationName::parse(c.text()?))?;
    Ok(Membership::new(name, member(c)?))
}

/// `MEMBER_COLUMNS` of an outer join: NULLs for no member.
pub(crate) fn opt_member(c: &mut Cols<'_>) -> Result<Option<Member>, StoreError> {
    if c.next_is_null() {
        c.skip(MEMBER_WIDTH)?;
        return Ok(None);
    }
    member(c).map(Some)
}

/// How many columns a member is read from.
const MEMBER_WIDTH: usize = 12;
/// How many columns an invitation is read from.
pub(crate) const INVITATION_WIDTH: usize = 19;
/// How many columns a team is read from.
const TEAM_WIDTH: usize = 7;

/// An invitation: `INVITATION_COLUMNS`.
pub(crate) fn invitation(c: &mut Cols<'_>) -> Result<Invitation, StoreError> {
    let id = InvitationId::from_uuid(c.uuid()?);
    let organization = OrganizationId::from_uuid(c.uuid()?);
    let email = parsed(EmailAddress::parse(c.text()?))?;
    let invitee = match (c.opt_text()?, c.opt_text()?) {
        (Some(first), Some(last)) => Some(parsed(Profile::parse(first, last))?),
        _ => None,
    };
    let role = c.text()?;
    let team = c.opt_uuid()?.map(TeamId::from_uuid);
    let status = c.text()?;
    let hash: [u8; 32] = c
        .bytes()?
        .try_into()
        .map_err(|_| corrupt(SQL, "token hash is not 32 bytes"))?;
    Ok(Invitation {
        id,
        organization,
        email,
        invitee,
        role: Role::from_name(&role).ok_or_else(|| corrupt(SQL, "unknown role"))?,
        team,
        status: InvitationStatus::from_name(&status)
            .ok_or_else(|| corrupt(SQL, "unknown status"))?,
        token_hash: TokenHash::from_bytes(hash),
        invited_by: UserId::from_uuid(c.uuid()?),
        created_at: c.time()?,
        sent_at: c.time()?,
        expires_at: c.time()?,
        resend_count: u32::try_from(c.int()?).map_err(|_| corrupt(SQL, "resend count"))?,
        closed_at: c.opt_time()?,
        closed_by: c.opt_uuid()?.map(UserId::from_uuid),
        lifetime: c
            .opt_int()?
            .map(|seconds| parsed(Lifetime::from_seconds(seconds)))
            .transpose()?,
        metadata: metadata(c)?,
        version: c.version()?,
    })
}

/// A pending invitation of an inbox: `INVITATION_COLUMNS`, then its organization's name, its
/// team's name (NULL for none) and its inviter's first and last names (NULLs for none).
pub(crate) fn inbox_invitation(c: &mut Cols<'_>) -> Result<InboxInvitation, StoreError> {
    let invitation = invitation(c)?;
    let organization_name = parsed(OrganizationName::parse(c.text()?))?;
    let team_name = c
        .opt_text()?
        .map(|name| parsed(TeamName::parse(name)))
        .transpose()?;
    let inviter = match (c.opt_text()?, c.opt_text()?) {
        (Some(first), Some(last)) => Some(parsed(Profile::parse(first, last))?),
        _ => None,
    };
    Ok(InboxInvitation {
        invitation,
        organization_name,
        team_name,
        inviter,
    })
}

/// `INVITATION_COLUMNS` of an outer join: NULLs for none.
pub(crate) fn opt_invitation(c: &mut Cols<'_>) -> Result<Option<Invitation>, StoreError> {
    if c.next_is_null() {
        c.skip(INVITATION_WIDTH)?;
        return Ok(None);
    }
    invitation(c).map(Some)
}

/// A team: `TEAM_COLUMNS`.
pub(crate) fn team(c: &mut Cols<'_>) -> Result<Team, StoreError> {
    Ok(Team {
        id: TeamId::from_uuid(c.uuid()?),
        organization: OrganizationId::from_uuid(c.uuid()?),
        name: parsed(TeamName::parse(c.text()?))?,
        page: TeamPage {
            message: c
                .opt_text()?
                .map(|m| parsed(Message::parse(m)))
                .transpose()?,
            suggested_courses: c.json()?,
        },
        created_at: c.time()?,
        version: c.version()?,
    })
}

/// `TEAM_COLUMNS` of an outer join: NULLs for none.
pub(crate) fn opt_team(c: &mut Cols<'_>) -> Result<Option<Team>, StoreError> {
    if c.next_is_null() {
        c.skip(TEAM_WIDTH)?;
        return Ok(None);
    }
    team(c).map(Some)
}

/// An audit event: `EVENT_COLUMNS`.
pub(crate) fn event(c: &mut Cols<'_>) -> Result<Event, StoreError> {
    Ok(Event {
        id: EventId::from_uuid(c.uuid()?),
        organization: OrganizationId::from_uuid(c.uuid()?),
        at: c.time()?,
        actor: c.json()?,
        kind: c.json()?,
    })
}

/// An outbox message: `OUTBOX_COLUMNS`.
pub(crate) fn outbox(c: &mut Cols<'_>) -> Result<OutboxMessage, StoreError> {
    let id = OutboxId::from_uuid(c.uuid()?);
    let organization = OrganizationId::from_uuid(c.uuid()?);
    let to = parsed(EmailAddress::parse(c.text()?))?;
    let content = c.json()?;
    let status = match c.text()?.as_str() {
        "pending" => OutboxStatus::Pending,
        "sent" => OutboxStatus::Sent,
        "failed" => OutboxStatus::Failed,
        _ => return Err(corrupt(SQL, "unknown outbox status")),
    };
    Ok(OutboxMessage {
        id,
        organization,
        to,
        content,
        status,
        attempts: u32::try_from(c.int()?).map_err(|_| corrupt(SQL, "attempts"))?,
        created_at: c.time()?,
        due_at: c.time()?,
        lease_until: c.opt_time()?,
        last_error: c.opt_text()?,
    })
}

/// The seats in use: two counts, members and pending invitations.
pub(crate) fn seats(c: &mut Cols<'_>) -> Result<SeatUsage, StoreError> {
    Ok(SeatUsage {
        members: c.count()?,
        pending_invitations: c.count()?,
    })
}

/// An outbox status as stored.
pub(crate) fn status_name(status: OutboxStatus) -> &'static str {
    match status {
        OutboxStatus::Pending => "pending",
        OutboxStatus::Sent => "sent",
        OutboxStatus::Failed => "failed",
    }
}

/// Every row of `rows` read by `read`.
pub(crate) fn all<T>(
    rows: &[Row],
    read: impl Fn(&mut Cols<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(|r| read(&mut Cols::of(r))).collect()
}
