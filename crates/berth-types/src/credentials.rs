//! Root credentials as users give them: passwords and OpenSSH public keys, validated.

use base64::Engine;
use rand::Rng;

use crate::FieldError;

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 256;
/// Length of a generated password (alphanumeric: ~119 bits).
const GENERATED_LENGTH: usize = 20;

/// Checks a root password's length and characters (never echoing it back).
pub fn validate_password(password: &str, field: &str) -> Result<(), FieldError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        return Err(FieldError::new(
            field,
            format!("is too short; give at least {MIN_PASSWORD} characters"),
        ));
    }
    if length > MAX_PASSWORD {
        return Err(FieldError::new(
            field,
            format!("is too long; give at most {MAX_PASSWORD} characters"),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "contains a control character (newline, tab, …); leave them out",
        ));
    }
    Ok(())
}

/// A random alphanumeric password.
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..GENERATED_LENGTH)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Checks one `authorized_keys` line: `TYPE BASE64 [comment]`, where the decoded key names the
/// same type. Returns it trimmed.
pub fn validate_ssh_key(key: &str, field: &str) -> Result<String, FieldError> {
    let bad = |why: &str| {
        FieldError::new(
            field,
            format!(
                "is not an OpenSSH public key: {why}; paste a line like 'ssh-ed25519 AAAA… you@host'"
            ),
        )
    };
    let key = key.trim();
    if key.contains(['\n', '\r']) {
        return Err(bad("it has more than one line"));
    }
    let mut parts = key.split_whitespace();
    let kind = parts.next().ok_or_else(|| bad("it is empty"))?;
    if !KEY_TYPES.contains(&kind) {
        return Err(bad(&format!("unknown key type {kind:?}")));
    }
    let blob = parts
        .next()
        .ok_or_else(|| bad("the base64 part is missing"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| bad("the key is not valid base64"))?;
    let named = decoded
        .get(..4)
        .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
        .and_then(|len| decoded.get(4..4 + len));
    if named != Some(kind.as_bytes()) {
        return Err(bad("the key does not match its type"));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbl8f6yP2N1PRxGx2D9rG3m0Yb3dO8bS4w3E6iSx0rN test@host";

    #[test]
    fn passwords_are_checked() {
        assert!(validate_password("S3cure!pass", "password").is_ok());
        assert_eq!(
            validate_password("short", "password")
                .map_err(|e| e.field)
                .err()
                .as_deref(),
            Some("password")
        );
        assert!(validate_password(&"x".repeat(257), "password").is_err());
        assert!(validate_password("with\nnewline", "password").is_err());
        let generated = generate_password();
        assert_eq!(generated.len(), 20);
        assert!(validate_password(&generated, "password").is_ok());
        assert_ne!(generated, generate_password());
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(
            validate_ssh_key(&format!("  {ED25519}\n"), "ssh_keys[0]")
                .ok()
                .as_deref(),
            Some(ED25519)
        );
        for bad in [
            "",
            "ssh-dss AAAA",
            "ssh-ed25519",
            "ssh-ed25519 !!!!",
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGbl8f6yP2N1PRxGx2D9rG3m0Yb3dO8bS4w3E6iSx0rN",
        ] {
            let err = validate_ssh_key(bad, "ssh_keys[0]").expect_err(bad);
            assert_eq!(err.field, "ssh_keys[0]");
        }
        assert!(validate_ssh_key(&format!("{ED25519}\nssh-ed25519 AAAA"), "k").is_err());
    }
}
