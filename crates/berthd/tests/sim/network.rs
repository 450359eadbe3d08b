//! Addresses and port forwards through the API on the `sim` backend: IPAM, forward validation
//! and conflicts, and that forwards go with their instance. The host's bridge and nftables are
//! never touched here (sim instances are not plugged in); tests/network.rs does that for real.

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

#[tokio::test]
async fn instances_get_distinct_addresses_released_on_delete() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("a1").await?;
    d.launch("a2").await?;
    let (_, a1) = d.call("GET", "/api/v1/instances/a1", Value::Null).await?;
    let (_, a2) = d.call("GET", "/api/v1/instances/a2", Value::Null).await?;
    assert_eq!(a1["network"]["ipv4"], "10.88.0.2", "{a1}");
    assert_eq!(a1["network"]["ipv6"], "fd42:88::2");
    assert_eq!(a2["network"]["ipv4"], "10.88.0.3");
    assert_ne!(a1["network"]["mac"], a2["network"]["mac"]);
    assert!(
        a1["network"]["mac"]
            .as_str()
            .is_some_and(|m| m.starts_with("52:54:00:"))
    );

    let (status, body) = d
        .call("DELETE", "/api/v1/instances/a1", json!({"force": true}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    d.launch("a3").await?;
    let (_, a3) = d.call("GET", "/api/v1/instances/a3", Value::Null).await?;
    assert_eq!(
        a3["network"]["ipv4"], "10.88.0.2",
        "a released address is reused"
    );

    let (status, net) = d.call("GET", "/api/v1/network", Value::Null).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(net["bridge"]["ipv4"], "10.88.0.1/20");
    assert_eq!(net["instances"], 2);
    Ok(())
}

#[tokio::test]
async fn forwards_are_validated_and_conflicts_refused() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("web").await?;
    d.launch("db").await?;
    let url = "/api/v1/instances/web/forwards";

    let (status, fwd) = d
        .call(
            "POST",
            url,
            json!({"listen": "127.0.0.1:40222", "port": 22}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{fwd}");
    assert_eq!(fwd["listen"], "127.0.0.1:40222");
    assert_eq!(fwd["protocol"], "tcp");
    let (status, udp) = d
        .call(
            "POST",
            url,
            json!({"listen": "40353", "port": 53, "protocol": "udp"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{udp}");
    assert_eq!(udp["listen"], "0.0.0.0:40353");
    let (status, range) = d
        .call("POST", url, json!({"listen": "40800-40810", "port": 8000}))
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{range}");

    // Every bad input: 400 naming the field, nothing stored.
    let held = std::net::TcpListener::bind("127.0.0.1:0")?;
    let held_port = held.local_addr()?.port();
    let bad = [
        (json!({"listen": "40223", "port": 0}), "port"),
        (json!({"listen": "40223", "port": 70000}), "port"),
        (json!({"listen": "0", "port": 22}), "listen"),
        (json!({"listen": "65536", "port": 22}), "listen"),
        (
            json!({"listen": "40223", "port": 22, "protocol": "sctp"}),
            "protocol",
        ),
        (json!({"listen": "not-an-ip:40223", "port": 22}), "listen"),
        (json!({"listen": "40810-40800", "port": 22}), "listen"),
        (json!({"listen": "40222", "port": 22}), "listen"),
        (json!({"listen": "40805", "port": 80}), "listen"),
        (
            json!({"listen": format!("127.0.0.1:{held_port}"), "port": 22}),
            "listen",
        ),
        (json!({"listen": "40223", "port": 22, "bogus": 1}), "bogus"),
    ];
    for (body, field) in bad {
        let (status, answer) = d.call("POST", url, body.clone()).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    // The clash names the other instance when it is another's forward.
    let (status, answer) = d
        .call(
            "POST",
            "/api/v1/instances/db/forwards",
            json!({"listen": "40222", "port": 5432}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("web")),
        "{answer}"
    );
    drop(held);

    let (status, answer) = d
        .call(
            "POST",
            "/api/v1/instances/ghost/forwards",
            json!({"listen": "40999", "port": 22}),
        )
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    let (_, list) = d.call("GET", url, Value::Null).await?;
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
    let (_, web) = d.call("GET", "/api/v1/instances/web", Value::Null).await?;
    assert_eq!(web["network"]["forwards"], list);

    let id = fwd["id"].as_str().ok_or("no id")?;
    let (status, _) = d
        .call("DELETE", &format!("{url}/{id}"), Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = d
        .call("DELETE", &format!("{url}/{id}"), Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = d
        .call(
            "DELETE",
            &format!(
                "/api/v1/instances/db/forwards/{}",
                udp["id"].as_str().ok_or("id")?
            ),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "another instance's forward");

    // Forwards go with their instance; the port is free again.
    let (status, body) = d
        .call("DELETE", "/api/v1/instances/web", json!({"force": true}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED);
    d.wait_success(&body).await?;
    let (status, answer) = d
        .call(
            "POST",
            "/api/v1/instances/db/forwards",
            json!({"listen": "40353", "port": 53, "protocol": "udp"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    Ok(())
}

#[tokio::test]
async fn subnets_overlapping_the_host_or_invalid_stop_berthd_naming_the_field() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = dir.path().display().to_string();
    let empty = dir.path().join("berth.toml");
    std::fs::write(&empty, "")?;
    let cases = [
        ("BERTH_NETWORK__IPV4", "127.0.0.2/8", "network.ipv4"),
        ("BERTH_NETWORK__IPV4", "10.88.0.1/33", "network.ipv4"),
        ("BERTH_NETWORK__IPV4", "10.88.0.0/24", "network.ipv4"),
        ("BERTH_NETWORK__IPV6", "::1/64", "network.ipv6"),
        ("BERTH_NETWORK__IPV6", "fd42:88::1/121", "network.ipv6"),
        ("BERTH_NETWORK__DNS", "[\"nope\"]", "network.dns[0]"),
        (
            "BERTH_NETWORK__BRIDGE",
            "a-very-long-bridge-name",
            "network.bridge",
        ),
        ("BERTH_NETWORK__TABLE", "bad-table", "network.table"),
    ];
    for (key, value, field) in cases {
        let env = [
            ("BERTH_DATA_DIR", root.clone()),
            ("BERTH_RUNTIME_DIR", format!("{root}/run")),
            ("BERTH_STORAGE__DRIVER", "dir".into()),
            (key, value.to_owned()),
        ];
        let loaded = berthd::config::Config::load(
            Some(&empty),
            env.into_iter().map(|(k, v)| (k.to_owned(), v)),
        );
        let message = match loaded {
            Err(e) => e.to_string(),
            Ok(config) => match berthd::app::App::start(config, Default::default()).await {
                Err(e) => e.to_string(),
                Ok(_) => return Err(format!("{key}={value} was accepted").into()),
            },
        };
        assert!(message.contains(field), "{key}={value}: {message}");
    }
    Ok(())
}

/// Creates `name` as the caller of `token`.
async fn launch_as(d: &SimDaemon, token: &str, name: &str) -> TestResult {
    let (status, body) = d
        .call_as(
            Some(token),
            "POST",
            "/api/v1/instances",
            json!({"name": name, "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    Ok(())
}

#[tokio::test]
async fn ordinary_users_forward_only_what_the_policy_allows_and_shadowing_is_reported() -> TestResult
{
    let d = SimDaemon::start_with_env(
        &[],
        &[
            (
                "BERTH_NETWORK__FORWARD_ADDRESSES",
                "[\"0.0.0.0\", \"127.0.0.1\"]",
            ),
            ("BERTH_NETWORK__MAX_FORWARDS_PER_USER", "3"),
        ],
    )
    .await?;
    let alice = d.user("alice", "Counts-Boats-Daily-5").await?;
    let bob = d.user("bob", "Counts-Boats-Daily-6").await?;
    launch_as(&d, &alice, "alice-vm").await?;
    launch_as(&d, &bob, "bob-vm").await?;
    let url = "/api/v1/instances/alice-vm/forwards";
    let forward = |token: &str, url: &str, body: Value| {
        let token = token.to_owned();
        let url = url.to_owned();
        let d = &d;
        async move { d.call_as(Some(&token), "POST", &url, body).await }
    };

    // A privileged port without a granted range, an address outside the configured set:
    // 400 naming listen and what to do, nothing stored.
    for (body, says) in [
        (json!({"listen": "80", "port": 80}), "privileged"),
        (json!({"listen": "1023-1030", "port": 80}), "privileged"),
        (
            json!({"listen": "[fd42:99::1]:40600", "port": 22}),
            "not an address you may forward from",
        ),
    ] {
        let (status, answer) = forward(&alice, url, body.clone()).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], "listen", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {answer}");
    }
    let (_, list) = d.call_as(Some(&alice), "GET", url, Value::Null).await?;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");

    // A clash with another tenant's forward does not name their instance.
    let (status, answer) = forward(
        &bob,
        "/api/v1/instances/bob-vm/forwards",
        json!({"listen": "40600", "port": 22}),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, answer) = forward(&alice, url, json!({"listen": "40600", "port": 22})).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("bob"), "{answer}");
    assert!(message.contains("another instance"), "{answer}");

    // At most max_forwards_per_user forwards, whatever the quota says.
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    let free = probe.local_addr()?.port();
    drop(probe);
    for listen in [
        format!("127.0.0.1:{free}"),
        "40601".to_owned(),
        "40602".to_owned(),
    ] {
        let (status, answer) = forward(&alice, url, json!({"listen": listen, "port": 22})).await?;
        assert_eq!(status, StatusCode::CREATED, "{listen}: {answer}");
    }
    let (status, answer) = forward(&alice, url, json!({"listen": "40603", "port": 22})).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["field"], "forwards", "{answer}");

    // An admin grants a range: privileged ports inside it are allowed then.
    let (_, me) = d
        .call_as(Some(&alice), "GET", "/api/v1/auth/me", Value::Null)
        .await?;
    let alice_id = me["user"]["id"].as_str().ok_or("id")?;
    let (status, answer) = d
        .call(
            "PATCH",
            &format!("/api/v1/users/{alice_id}"),
            json!({"quota": {"port_range": [80, 40700]}}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = forward(
        &bob,
        "/api/v1/instances/bob-vm/forwards",
        json!({"listen": "80", "port": 80}),
    )
    .await?;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "bob has no range: {answer}"
    );
    let (_, list) = d.call_as(Some(&alice), "GET", url, Value::Null).await?;
    let last = list[2]["id"].as_str().ok_or("id")?;
    let (status, _) = d
        .call_as(
            Some(&alice),
            "DELETE",
            &format!("{url}/{last}"),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = forward(&alice, url, json!({"listen": "80", "port": 80})).await?;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    // A host program that starts listening on a forwarded port afterwards is reported in
    // GET /network, to the forward's owner and admins only.
    let (_, net) = d
        .call_as(Some(&alice), "GET", "/api/v1/network", Value::Null)
        .await?;
    assert_eq!(net["shadowed"], json!([]), "{net}");
    let host_service = std::net::TcpListener::bind(("127.0.0.1", free))?;
    let (_, net) = d
        .call_as(Some(&alice), "GET", "/api/v1/network", Value::Null)
        .await?;
    let shadowed = net["shadowed"].as_array().ok_or("shadowed")?;
    assert_eq!(shadowed.len(), 1, "{net}");
    assert_eq!(shadowed[0]["instance"], "alice-vm");
    assert_eq!(shadowed[0]["listen"], format!("127.0.0.1:{free}"));
    assert_eq!(shadowed[0]["host_listener"], format!("127.0.0.1:{free}"));
    let (_, net) = d
        .call_as(Some(&bob), "GET", "/api/v1/network", Value::Null)
        .await?;
    assert_eq!(
        net["shadowed"],
        json!([]),
        "bob sees none of alice's: {net}"
    );
    let (_, net) = d.call("GET", "/api/v1/network", Value::Null).await?;
    assert_eq!(net["shadowed"].as_array().map(Vec::len), Some(1), "{net}");
    drop(host_service);
    Ok(())
}
