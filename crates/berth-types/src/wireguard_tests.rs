use super::*;

const KEY_A: &str = "YNqHbfBQKaGvzefSSuufuPmk5WOCzkjZbyL1XZGrNGQ=";
const KEY_B: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

fn good() -> String {
    format!(
        "# laptop\n[Interface]\nPrivateKey = {KEY_A}\nAddress = 10.9.0.2/24, fd00:9::2/64\nDNS = 10.9.0.1\n\n\
         [Peer]\nPublicKey = {KEY_B}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = vpn.example.org:51820\nPersistentKeepalive = 25\n"
    )
}

#[test]
fn a_good_config_parses_and_hides_its_key() {
    let config = WgQuickConfig::parse(&good(), "wireguard").expect("valid");
    assert_eq!(config.addresses, ["10.9.0.2/24", "fd00:9::2/64"]);
    assert_eq!(config.peers, 1);
    assert!(!config.has_hooks);
    assert!(
        !format!("{config:?}").contains(KEY_A),
        "Debug must not show the private key"
    );
    assert_eq!(config.text(), good());
}

#[test]
fn keys_must_be_32_bytes_of_base64() {
    assert!(is_key(KEY_A) && is_key(KEY_B));
    for bad in [
        "",
        "abc",
        &KEY_A[..43],
        &format!("{}==", &KEY_A[..42]),
        &KEY_A.replace('Y', "*"),
    ] {
        assert!(!is_key(bad), "{bad:?}");
    }
}

#[test]
fn every_bad_input_names_its_line() {
    let cases: Vec<(String, &str)> = vec![
        (good().replace(KEY_A, "not-a-key"), "line 3: PrivateKey"),
        (good().replace(KEY_B, "short="), "line 8: PublicKey"),
        (
            good().replace("10.9.0.2/24", "10.9.0.2/33"),
            "line 4: Address",
        ),
        (
            good().replace("0.0.0.0/0", "everything"),
            "line 9: AllowedIPs",
        ),
        (
            good().replace("vpn.example.org:51820", "vpn.example.org"),
            "line 10: Endpoint",
        ),
        (
            good().replace("vpn.example.org:51820", "vpn:0"),
            "line 10: Endpoint",
        ),
        (
            good().replace("PersistentKeepalive = 25", "PersistentKeepalive = soon"),
            "line 11: PersistentKeepalive",
        ),
        (
            good().replace("DNS = 10.9.0.1", "Colour = blue"),
            "line 5: unknown key",
        ),
        (
            good().replace("[Peer]", "[Pier]"),
            "line 7: unknown section",
        ),
        (
            good().replace(&format!("PublicKey = {KEY_B}\n"), ""),
            "a [Peer] has no PublicKey",
        ),
        (
            good().replace(&format!("PrivateKey = {KEY_A}\n"), ""),
            "no PrivateKey",
        ),
        (
            format!(
                "{}PrivateKey = {KEY_A}\n",
                good().replace("[Peer]", "[Interface]")
            ),
            "second [Interface]",
        ),
        (
            "PrivateKey = x\n".to_owned(),
            "line 1: settings before [Interface]",
        ),
        ("".to_owned(), "no [Interface]"),
        (good().replace("DNS = 10.9.0.1", "just words"), "line 5"),
        (
            good().replace("DNS = 10.9.0.1", &format!("PrivateKey = {KEY_A}")),
            "line 5: PrivateKey is given twice",
        ),
    ];
    for (text, want) in cases {
        let err = WgQuickConfig::parse(&text, "wireguard").expect_err(want);
        assert_eq!(err.field, "wireguard");
        assert!(
            err.message.contains(want),
            "{want:?} not in {:?}",
            err.message
        );
        assert!(
            !err.message.contains(KEY_A),
            "errors never echo the private key"
        );
    }
}

#[test]
fn hooks_are_noticed() {
    let text = good().replace("DNS = 10.9.0.1", "PostUp = iptables -A FORWARD -j ACCEPT");
    assert!(WgQuickConfig::parse(&text, "w").expect("valid").has_hooks);
}
