//! Instance names: DNS labels, validated once at the edge and carried as a type afterwards.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A valid instance name: 1–63 chars of `[a-z0-9-]`, no leading or trailing `-`, not all digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceName(String);

impl InstanceName {
    /// Validates `raw` as an instance name, naming `field` in the error.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let err = |why: &str| {
            FieldError::new(
                field,
                format!(
                    "{raw:?} is not a valid name: {why}; use 1-63 lowercase letters, digits and '-', \
                     not starting or ending with '-', not all digits"
                ),
            )
        };
        if raw.is_empty() {
            return Err(err("it is empty"));
        }
        if raw.len() > 63 {
            return Err(err("it is longer than 63 characters"));
        }
        if let Some(c) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(err(&format!("{c:?} is not allowed")));
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err(err("it starts or ends with '-'"));
        }
        if raw.chars().all(|c| c.is_ascii_digit()) {
            return Err(err("it is all digits"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_field(raw, "name")
    }

    /// A readable random name such as `brave-otter-42`.
    pub fn generate() -> Self {
        const ADJECTIVES: &[&str] = &[
            "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lively",
            "merry", "nimble", "proud", "quiet", "rapid", "sunny", "tidy", "vivid", "witty",
            "bold", "crisp",
        ];
        const ANIMALS: &[&str] = &[
            "otter", "falcon", "badger", "heron", "lynx", "marten", "osprey", "panda", "raven",
            "seal", "tapir", "walrus", "yak", "zebra", "bison", "crane", "dingo", "ferret",
            "gecko", "ibis",
        ];
        let mut rng = rand::rng();
        let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
        let animal = ANIMALS[rng.random_range(0..ANIMALS.len())];
        let number: u16 = rng.random_range(10..100);
        Self(format!("{adjective}-{animal}-{number}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InstanceName {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<InstanceName> for String {
    fn from(value: InstanceName) -> Self {
        value.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for InstanceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whether `name` matches `glob` (`berth list web-*`, `GET /instances?name=`): `*` any run of
/// characters (none included), `?` exactly one. One backtrack point (the last `*`): linear in
/// practice.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let (glob, name): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    let (mut g, mut n, mut star, mut mark) = (0, 0, None, 0);
    while n < name.len() {
        if g < glob.len() && (glob[g] == '?' || glob[g] == name[n]) {
            g += 1;
            n += 1;
        } else if g < glob.len() && glob[g] == '*' {
            star = Some(g);
            mark = n;
            g += 1;
        } else if let Some(s) = star {
            g = s + 1;
            mark += 1;
            n = mark;
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["web1", "a", "brave-otter-42", "1a", &"a".repeat(63)] {
            assert!(InstanceName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names_naming_the_field() {
        for bad in [
            "-abc",
            "abc-",
            "1234",
            "foo.bar",
            "a_b_c",
            &"a".repeat(64),
            "../x",
            "",
            "Web1",
        ] {
            let err = InstanceName::parse(bad).expect_err(bad);
            assert_eq!(err.field, "name");
        }
    }

    #[test]
    fn generated_names_are_valid() {
        for _ in 0..100 {
            let name = InstanceName::generate();
            assert!(InstanceName::parse(name.as_str()).is_ok(), "{name}");
        }
    }

    #[test]
    fn globs_match_like_a_shell() {
        use super::glob_matches;
        assert!(glob_matches("web-*", "web-1"));
        assert!(glob_matches("web-*", "web-"));
        assert!(glob_matches("w?b-*", "wab-x"));
        assert!(glob_matches("web-1", "web-1"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("web-1", "web-10"));
        assert!(!glob_matches("web-*", "db-1"));
        assert!(!glob_matches("w?b", "wb"));
    }
}
