//! Tests of loading the configuration: defaults, environment overrides, and errors that name
//! the key.

use super::*;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().map_err(|source| ConfigError::Read {
        path: "tmp".into(),
        source,
    })?;
    let path = dir.path().join("berth.toml");
    std::fs::write(&path, text).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    Config::load(
        Some(&path),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn empty_file_gives_defaults() -> Result<(), ConfigError> {
    let config = load("", &[])?;
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/berth"));
    assert_eq!(
        config.image_cache_dir(),
        PathBuf::from("/var/lib/berth/images")
    );
    assert_eq!(config.network.bridge, "berth0");
    Ok(())
}

#[test]
fn env_overrides_nested_keys() -> Result<(), ConfigError> {
    let config = load(
        "data_dir = \"/srv/berth\"\n[network]\nbridge = \"br9\"\n",
        &[
            ("BERTH_NETWORK__BRIDGE", "brx"),
            ("BERTH_TESTING__SIM_BACKEND", "true"),
            ("BERTH_TOKEN", "x"),
        ],
    )?;
    assert_eq!(config.network.bridge, "brx");
    assert!(config.testing.sim_backend);
    assert_eq!(config.data_dir, PathBuf::from("/srv/berth"));
    Ok(())
}

#[test]
fn unknown_keys_are_named() {
    let err = load("[storage]\ndrivr = \"dir\"\n", &[]).expect_err("typo");
    assert!(err.to_string().contains("drivr"), "{err}");
    let err = load("", &[("BERTH_BOGUS", "1")]).expect_err("unknown env key");
    assert!(err.to_string().contains("bogus"), "{err}");
}

#[test]
fn clear_text_on_the_network_is_refused_and_https_needs_a_certificate() {
    let err = load("listen = [\"0.0.0.0:8440\"]", &[]).expect_err("public");
    assert!(err.to_string().contains("listen"), "{err}");
    let err = load("listen = [\"https://0.0.0.0:8443\"]", &[]).expect_err("no cert");
    assert!(err.to_string().contains("tls"), "{err}");
    let config = load(
        "listen = [\"https://0.0.0.0:8443\"]\ntls = \"self-signed\"",
        &[],
    )
    .expect("self-signed");
    assert_eq!(config.tls_source(), Ok(Some(TlsSource::SelfSigned)));
    let err = load("tls = \"maybe\"", &[]).expect_err("unknown tls");
    assert!(err.to_string().contains("tls:"), "{err}");
    let config = load("[auth]\ninitial_admin_password = \"Sekrit-Pass-1\"", &[]).expect("auth");
    assert!(!format!("{config:?}").contains("Sekrit"));
}

#[test]
fn routing_rules_are_read() -> Result<(), ConfigError> {
    let config = load("[[routing]]\npattern = \"ct-*\"\nbackend = \"lxc\"\n", &[])?;
    assert_eq!(config.routing[0].pattern, "ct-*");
    assert_eq!(config.routing[0].backend.as_str(), "lxc");
    assert_eq!(config.default_backend.as_str(), "builtin");
    Ok(())
}

#[test]
fn unknown_backends_and_oci_runtimes_are_named() {
    let err = load("[[routing]]\npattern = \"x\"\nbackend = \"vmware\"\n", &[])
        .expect_err("unknown routing backend");
    assert!(
        err.to_string().contains("routing[0].backend: \"vmware\""),
        "{err}"
    );
    let err = load("default_backend = \"sim\"\n", &[]).expect_err("sim without testing");
    assert!(err.to_string().contains("default_backend"), "{err}");
    let err = load("", &[("BERTH_OCI__RUNTIME", "youki")]).expect_err("unknown runtime");
    assert!(err.to_string().contains("oci.runtime"), "{err}");
    let ok = load("[oci]\nruntime = \"runc\"\n", &[]).expect("runc");
    assert_eq!(ok.oci.runtime, "runc");
}
