//! IDs as the API receives them from outside, validated once at the edge.

use serde::{Deserialize, Serialize};

/// A backup ID: Zeebe's are positive Java `long`s, so 1 to `i64::MAX` (the console stores them
/// in SQLite's signed integers too). On the wire it is a bare JSON number; anything outside that
/// range is refused while decoding, before a handler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct BackupId(u64);

/// Why a number or text is not a [`BackupId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupIdError {
    #[error("a backup ID must be a positive integer")]
    NotPositive,
    #[error("a backup ID is at most 9223372036854775807 (a Java long)")]
    TooLarge,
    #[error("`{0}` is not a backup ID: use a positive integer")]
    NotANumber(String),
}

impl BackupId {
    pub const MAX: u64 = i64::MAX as u64;

    pub fn new(id: u64) -> Result<BackupId, BackupIdError> {
        match id {
            0 => Err(BackupIdError::NotPositive),
            id if id > Self::MAX => Err(BackupIdError::TooLarge),
            id => Ok(BackupId(id)),
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for BackupId {
    type Error = BackupIdError;

    fn try_from(id: u64) -> Result<BackupId, BackupIdError> {
        BackupId::new(id)
    }
}

/// For IDs typed as signed numbers (the CLI's `--id`): a negative one is not positive either.
impl TryFrom<i64> for BackupId {
    type Error = BackupIdError;

    fn try_from(id: i64) -> Result<BackupId, BackupIdError> {
        u64::try_from(id)
            .map_err(|_| BackupIdError::NotPositive)
            .and_then(BackupId::new)
    }
}

impl From<BackupId> for u64 {
    fn from(id: BackupId) -> u64 {
        id.0
    }
}

impl std::fmt::Display for BackupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for BackupId {
    type Err = BackupIdError;

    /// Digits only: no sign, no spaces (what a path segment or a form field holds).
    fn from_str(text: &str) -> Result<BackupId, BackupIdError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BackupIdError::NotANumber(text.to_string()));
        }
        // All digits and still no u64: more than 20 digits, far above the maximum.
        let id = text.parse::<u64>().map_err(|_| BackupIdError::TooLarge)?;
        BackupId::new(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_one_to_i64_max() {
        assert_eq!(BackupId::new(0), Err(BackupIdError::NotPositive));
        assert_eq!(BackupId::new(1).map(BackupId::get), Ok(1));
        assert_eq!(
            BackupId::new(i64::MAX as u64).map(BackupId::get),
            Ok(i64::MAX as u64)
        );
        assert_eq!(
            BackupId::new(i64::MAX as u64 + 1),
            Err(BackupIdError::TooLarge)
        );
        assert_eq!(BackupId::new(u64::MAX), Err(BackupIdError::TooLarge));
        assert_eq!(BackupId::try_from(-1_i64), Err(BackupIdError::NotPositive));
        assert_eq!(BackupId::try_from(0_i64), Err(BackupIdError::NotPositive));
        assert_eq!(
            BackupId::try_from(i64::MAX).map(BackupId::get),
            Ok(i64::MAX as u64)
        );
    }

    #[test]
    fn text_is_digits_only() {
        assert_eq!("42".parse::<BackupId>().map(BackupId::get), Ok(42));
        assert_eq!("0".parse::<BackupId>(), Err(BackupIdError::NotPositive));
        for bad in ["", "abc", "-1", "+1", " 1", "1.0", "1e3"] {
            assert_eq!(
                bad.parse::<BackupId>(),
                Err(BackupIdError::NotANumber(bad.to_string())),
                "{bad:?}"
            );
        }
        assert_eq!(
            "9223372036854775808".parse::<BackupId>(),
            Err(BackupIdError::TooLarge)
        );
        assert_eq!(
            "99999999999999999999999".parse::<BackupId>(),
            Err(BackupIdError::TooLarge)
        );
        let id = BackupId::new(1_700_000_000).unwrap();
        assert_eq!(id.to_string().parse::<BackupId>(), Ok(id));
    }

    #[test]
    fn on_the_wire_it_is_a_bare_number_and_bad_ones_do_not_decode() {
        let id = BackupId::new(7).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "7");
        assert_eq!(serde_json::from_str::<BackupId>("7").unwrap(), id);
        for bad in ["0", "-3", "9223372036854775808", "\"7\"", "1.5", "null"] {
            assert!(serde_json::from_str::<BackupId>(bad).is_err(), "{bad}");
        }
        let refused = serde_json::from_str::<BackupId>("0").unwrap_err();
        assert!(refused.to_string().contains("positive"), "{refused}");
    }
}
