//! A password that never prints itself: `Debug` and `Display` show `***`.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;

/// A secret string (the cluster password). Formatting it prints `***`; use [`Secret::expose`]
/// only where the real value must be written (a rendered config, an AUTH command).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value. Never pass it to a logger or a progress line.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Accepts a string, or an integer written without quotes (`password: 12345678`), taken as
/// its decimal text.
struct SecretVisitor;

impl Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a password string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
        Ok(Secret::new(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
        Ok(Secret::new(v.to_string()))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_hides_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn unquoted_numbers_are_passwords_too() {
        let s: Secret = serde_yaml::from_str("12345678").unwrap();
        assert_eq!(s.expose(), "12345678");
        let s: Secret = serde_yaml::from_str("\"1234567a\"").unwrap();
        assert_eq!(s.expose(), "1234567a");
        assert!(serde_yaml::from_str::<Secret>("[a]").is_err());
    }
}
