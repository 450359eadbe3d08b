//! Tests of TLS material: generation, reuse, file modes and errors naming the file.

use super::*;

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

#[test]
fn self_signed_is_generated_private_and_reused() -> Result {
    let dir = tempfile::tempdir()?;
    let names = vec!["berth.example".to_owned(), "127.0.0.1".to_owned()];
    let first = load_or_generate(dir.path(), &names)?;
    assert_eq!(files::mode(&dir.path().join("tls")), 0o700);
    assert_eq!(files::mode(&first.cert_path), 0o600);
    assert_eq!(files::mode(&first.key_path), 0o600);
    assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
    assert!(
        first
            .fingerprint
            .chars()
            .all(|c| c == ':' || c.is_ascii_hexdigit())
    );
    assert!(!format!("{first:?}").contains("PRIVATE KEY"));
    let second = load_or_generate(dir.path(), &names)?;
    assert_eq!(first.fingerprint, second.fingerprint);
    assert_eq!(first.cert_pem, second.cert_pem);
    // A lost certificate means a new pair.
    std::fs::remove_file(&first.cert_path)?;
    let third = load_or_generate(dir.path(), &[])?;
    assert_ne!(third.fingerprint, first.fingerprint);
    Ok(())
}

#[test]
fn given_pem_files_load_with_errors_naming_the_file() -> Result {
    let dir = tempfile::tempdir()?;
    let one = load_or_generate(&dir.path().join("a"), &[])?;
    let two = load_or_generate(&dir.path().join("b"), &[])?;
    let loaded = load_pem(&one.cert_path, &one.key_path)?;
    assert_eq!(loaded.fingerprint, one.fingerprint);

    let missing = dir.path().join("missing.pem");
    let err = load_pem(&missing, &one.key_path).expect_err("missing");
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello")?;
    let err = load_pem(&garbage, &one.key_path).expect_err("no cert");
    assert!(matches!(err, TlsError::NoCertificate { .. }));
    assert!(err.to_string().contains("garbage.pem"), "{err}");
    let err = load_pem(&one.cert_path, &garbage).expect_err("no key");
    assert!(matches!(err, TlsError::BadKey { .. }));
    assert!(err.to_string().contains("garbage.pem"), "{err}");
    // The certificate file given as key, and a key of another certificate.
    assert!(load_pem(&one.cert_path, &one.cert_path).is_err());
    let err = load_pem(&one.cert_path, &two.key_path).expect_err("mismatch");
    assert!(matches!(err, TlsError::Mismatch { .. }), "{err}");
    Ok(())
}

#[test]
fn fingerprints_are_colon_hex() {
    assert!(fingerprint(b"").starts_with("E3:B0:C4:42"));
}
