//! Account passwords: the policy (length, no common or trivial ones, not the username) and
//! argon2id hashing in PHC string form.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use berth_types::FieldError;

pub use berth_types::credentials::{MAX_PASSWORD, MIN_PASSWORD};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing the password failed: {0}")]
    Hash(argon2::password_hash::Error),
}

/// The field password errors name.
const FIELD: &str = "password";

/// The most common passwords of at least 8 characters (lower-cased), from public breach lists.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "87654321",
    "987654321",
    "11223344",
    "12341234",
    "12344321",
    "11112222",
    "qwertyui",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "1qaz2wsx",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "q1w2e3r4",
    "zaq12wsx",
    "asdfghjk",
    "asdfghjkl",
    "zxcvbnm1",
    "abcdefgh",
    "abcd1234",
    "abc12345",
    "a1b2c3d4",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "dragon12",
    "master12",
    "monkey123",
    "shadow12",
    "michael1",
    "computer",
    "internet",
    "changeme",
    "changeme1",
    "default1",
    "administrator",
    "admin123",
    "admin1234",
    "adminadmin",
    "rootroot",
    "root1234",
    "toor1234",
    "berth123",
    "berthberth",
    "secret12",
    "secret123",
    "mypassword",
    "newpassword",
    "testtest",
    "test1234",
    "test12345",
    "guest123",
    "qwer1234",
    "1234qwer",
    "pass1234",
    "access14",
    "jennifer",
    "jordan23",
    "00000000",
];

/// Checks a new account password: 8–256 characters, no control characters, not one of the
/// most common, not one repeated character, not the username. Errors name `password` and never
/// echo the password.
pub fn validate_password(password: &str, username: &str) -> Result<(), FieldError> {
    berth_types::credentials::validate_password(password, FIELD)?;
    let lower = password.to_lowercase();
    let weak = |why: &str| {
        Err(FieldError::new(
            FIELD,
            format!("is too easy to guess ({why}); choose a longer, less common one"),
        ))
    };
    if COMMON.contains(&lower.as_str()) {
        return weak("it is on the list of the most common ones");
    }
    let mut chars = lower.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return weak("it repeats one character");
    }
    let username = username.to_lowercase();
    if !username.is_empty()
        && (lower == username || (username.chars().count() >= 4 && lower.contains(&username)))
    {
        return weak("it contains the username");
    }
    Ok(())
}

/// argon2id with the OWASP-recommended cost (19 MiB, 2 passes); unit tests use a cheap cost.
fn argon2() -> Argon2<'static> {
    let params = if cfg!(test) {
        Params::new(1024, 1, 1, None)
    } else {
        Params::new(19 * 1024, 2, 1, None)
    };
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        params.unwrap_or_default(),
    )
}

/// The argon2id PHC string (`$argon2id$v=19$m=…`) of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hash)?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hash)
}

/// True if `password` matches the PHC string `hash` (compared in constant time by argon2).
/// A malformed stored hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            burn_verification(password);
            false
        }
    }
}

/// Spends one argon2 verification, as checking a real user's password would, so that an
/// unknown username takes as long to refuse as a wrong password.
pub(crate) fn burn_verification(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash_password("berth-dummy-password-for-timing").unwrap_or_else(|_| String::new())
    });
    if let Ok(parsed) = PasswordHash::new(dummy) {
        let _ = argon2().verify_password(password.as_bytes(), &parsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rejects_weak_and_overlong_passwords() {
        assert!(validate_password("correct horse battery", "alice").is_ok());
        for bad in [
            "shrt",
            "password",
            "PassWord",
            "12345678",
            "aaaaaaaaaa",
            "alicealice",
            "my-alice-pw",
            "tab\there!",
        ] {
            let err = validate_password(bad, "alice").expect_err(bad);
            assert_eq!(err.field, "password");
            assert!(!err.message.contains(bad), "{bad} echoed: {}", err.message);
        }
        let long = "x1".repeat(129);
        assert!(validate_password(&long, "bob").is_err());
        assert!(validate_password(&"x1".repeat(128), "bob").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() -> Result<(), PasswordError> {
        let one = hash_password("correct horse")?;
        let two = hash_password("correct horse")?;
        assert!(one.starts_with("$argon2id$v=19$"));
        assert_ne!(one, two);
        assert!(verify_password(&one, "correct horse"));
        assert!(!verify_password(&one, "correct horsf"));
        assert!(!verify_password("not a hash", "correct horse"));
        burn_verification("anything");
        Ok(())
    }
}
