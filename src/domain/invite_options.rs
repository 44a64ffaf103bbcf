//! What a host may attach to an invitation: its own lifetime, and a metadata object the
//! membership it creates keeps (spec: INV-14).

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::validation::{Field, ValidationError};

/// How long one invitation's link works: from 1 hour to 30 days (spec: INV-14). Without
/// one, the roster's setting applies (spec: INV-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Lifetime(Duration);

impl Lifetime {
    /// The shortest lifetime.
    pub const MIN: Duration = Duration::hours(1);
    /// The longest lifetime.
    pub const MAX: Duration = Duration::days(30);

    /// `duration` in whole seconds (as it is stored: a fraction is dropped), when it is from
    /// 1 hour to 30 days.
    ///
    /// # Errors
    /// [`ValidationError::Malformed`] for [`Field::Lifetime`] otherwise.
    pub fn new(duration: Duration) -> Result<Self, ValidationError> {
        let duration = Duration::seconds(duration.num_seconds());
        if (Self::MIN..=Self::MAX).contains(&duration) {
            Ok(Self(duration))
        } else {
            Err(ValidationError::Malformed {
                field: Field::Lifetime,
                reason: "an invitation's lifetime is from 1 hour to 30 days",
            })
        }
    }

    /// A lifetime stored as whole seconds.
    ///
    /// # Errors
    /// As [`Lifetime::new`].
    pub fn from_seconds(seconds: i64) -> Result<Self, ValidationError> {
        Self::new(Duration::seconds(seconds))
    }

    /// The duration.
    pub fn duration(self) -> Duration {
        self.0
    }

    /// The duration in whole seconds, as it is stored.
    pub fn seconds(self) -> i64 {
        self.0.num_seconds()
    }
}

/// A host-defined JSON object of at most [`Metadata::MAX_BYTES`] bytes, carried from an
/// invitation to the membership it creates (spec: INV-14): the host's own keys (a cost
/// center, a cohort, a CRM id), which orgroster stores and never reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

impl Metadata {
    /// The largest object, in bytes of compact JSON.
    pub const MAX_BYTES: usize = 4096;

    /// `value`, when it is a JSON object of at most [`Metadata::MAX_BYTES`] bytes.
    ///
    /// # Errors
    /// [`ValidationError::Malformed`] when it is not an object, [`ValidationError::TooLong`]
    /// when it is larger, both for [`Field::Metadata`].
    pub fn new(value: serde_json::Value) -> Result<Self, ValidationError> {
        let serde_json::Value::Object(object) = value else {
            return Err(ValidationError::Malformed {
                field: Field::Metadata,
                reason: "metadata must be a JSON object",
            });
        };
        let len = serde_json::Value::Object(object.clone()).to_string().len();
        if len > Self::MAX_BYTES {
            return Err(ValidationError::TooLong {
                field: Field::Metadata,
                len,
                max: Self::MAX_BYTES,
            });
        }
        Ok(Self(object))
    }

    /// Parses `json` as [`Metadata::new`] checks it.
    ///
    /// # Errors
    /// [`ValidationError::Malformed`] when it is not JSON or not an object;
    /// [`ValidationError::TooLong`].
    pub fn parse(json: &str) -> Result<Self, ValidationError> {
        let value = serde_json::from_str(json).map_err(|_| ValidationError::Malformed {
            field: Field::Metadata,
            reason: "metadata must be valid JSON",
        })?;
        Self::new(value)
    }

    /// The object.
    pub fn as_object(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.get(key)
    }

    /// The compact JSON text, as it is stored.
    pub fn to_json(&self) -> String {
        serde_json::Value::Object(self.0.clone()).to_string()
    }
}

impl TryFrom<i64> for Lifetime {
    type Error = ValidationError;

    fn try_from(seconds: i64) -> Result<Self, Self::Error> {
        Self::from_seconds(seconds)
    }
}

impl From<Lifetime> for i64 {
    fn from(lifetime: Lifetime) -> Self {
        lifetime.seconds()
    }
}

impl TryFrom<serde_json::Value> for Metadata {
    type Error = ValidationError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Metadata> for serde_json::Value {
    fn from(metadata: Metadata) -> Self {
        Self::Object(metadata.0)
    }
}

/// The options of one invitation, or of every invitation of one paste (spec: INV-14).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InviteOptions {
    /// The link's lifetime; the roster's setting when `None`.
    pub lifetime: Option<Lifetime>,
    /// What the membership the invitation creates keeps.
    pub metadata: Option<Metadata>,
}

impl InviteOptions {
    /// Links that work for `lifetime`.
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// `metadata`, kept by the membership.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_run_from_an_hour_to_thirty_days() {
        // spec: INV-14
        assert!(Lifetime::new(Duration::hours(1)).is_ok());
        assert!(Lifetime::new(Duration::days(30)).is_ok());
        for out in [
            Duration::minutes(59),
            Duration::days(30) + Duration::seconds(1),
            Duration::zero(),
            Duration::hours(-2),
        ] {
            let err = Lifetime::new(out).unwrap_err();
            assert_eq!(err.field(), Field::Lifetime, "{out}");
        }
        assert_eq!(Lifetime::from_seconds(7200).unwrap().seconds(), 7200);
        let fraction = Lifetime::new(Duration::milliseconds(7_200_500)).unwrap();
        assert_eq!(
            fraction.duration(),
            Duration::seconds(7200),
            "whole seconds"
        );
    }

    #[test]
    fn metadata_is_an_object_of_at_most_four_kibibytes() {
        // spec: INV-14
        let ok = Metadata::parse(r#"{"cohort":"2027-spring","seats":[1,2]}"#).unwrap();
        assert_eq!(ok.get("cohort"), Some(&serde_json::json!("2027-spring")));
        assert_eq!(Metadata::parse(&ok.to_json()).unwrap(), ok);
        for not_an_object in ["[1,2]", "\"text\"", "42", "null", "{", ""] {
            let err = Metadata::parse(not_an_object).unwrap_err();
            assert!(
                matches!(
                    err,
                    ValidationError::Malformed {
                        field: Field::Metadata,
                        ..
                    }
                ),
                "{not_an_object}: {err:?}"
            );
        }
        // The limit counts the compact JSON: exactly 4096 bytes passes, one more does not.
        let pad = Metadata::MAX_BYTES - r#"{"k":""}"#.len();
        let at_limit = serde_json::json!({ "k": "x".repeat(pad) });
        assert!(Metadata::new(at_limit).is_ok());
        let over = serde_json::json!({ "k": "x".repeat(pad + 1) });
        assert!(matches!(
            Metadata::new(over),
            Err(ValidationError::TooLong {
                len: 4097,
                max: 4096,
                ..
            })
        ));
        // Deserializing checks the same rules.
        assert!(serde_json::from_str::<Metadata>("[1]").is_err());
    }
}
