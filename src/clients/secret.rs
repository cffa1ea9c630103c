//! A bearer token that never shows itself in logs, events, status or error messages.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A service token. `Debug` and `Display` print `***`; only [`SecretToken::expose`] reveals it,
/// and the clients call that solely to build the `Authorization` header (which reqwest marks
/// sensitive).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(Arc<str>);

impl SecretToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::from(token.into()))
    }

    /// The raw token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for SecretToken {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for SecretToken {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// Lets clap parse `--token` / env values straight into a `SecretToken`.
impl FromStr for SecretToken {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_reveal_the_token() {
        let t = SecretToken::new("super-secret-value");
        assert_eq!(format!("{t:?}"), "SecretToken(***)");
        assert_eq!(format!("{t}"), "***");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: SecretToken,
        }
        assert!(!format!("{:?}", Holder { token: t.clone() }).contains("super-secret"));
        assert_eq!(t.expose(), "super-secret-value");
    }
}
