//! Secrets read from the environment, kept out of logs and answers.

use std::fmt;

/// A secret read from the environment. It has no `Display`, and its `Debug` is redacted, so it
/// cannot reach a log line or an API response by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
