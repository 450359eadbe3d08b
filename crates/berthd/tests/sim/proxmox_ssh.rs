//! Root's password and SSH keys on an existing Proxmox container, through `[proxmox.ssh]`: the
//! real router and app drive the PVE double over HTTPS and a real sshd (loopback, its own host
//! key) whose `pct exec` acts on the double's containers. A node offering another host key gets
//! nothing; without `[proxmox.ssh]` the answer is 501 naming it. Needs root and openssh-server.

use crate::common;
use crate::proxmox::{cluster, daemon_with, launch};

use std::time::Duration;

use axum::http::StatusCode;
use berth_proxmox::double::Double;
use berth_proxmox::double::sshd::SshNode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbl8f6yP2N1PRxGx2D9rG3m0Yb3dO8bS4w3E6iSx0rN t@h";

/// `[proxmox.ssh]` for `node`'s sshd, pinning `host_key` for every node of the cluster.
fn ssh_env(node: &SshNode, host_key: &str) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "BERTH_PROXMOX__SSH__IDENTITY_FILE",
            node.identity().display().to_string(),
        ),
        ("BERTH_PROXMOX__SSH__PORT", node.port().to_string()),
    ];
    for key in [
        "BERTH_PROXMOX__SSH__HOST_KEYS__PVE1",
        "BERTH_PROXMOX__SSH__HOST_KEYS__PVE2",
        "BERTH_PROXMOX__SSH__HOST_KEYS__PVE3",
    ] {
        env.push((key, host_key.to_owned()));
    }
    env
}

async fn web1(pve: &Double, d: &SimDaemon) -> TestResult {
    let op = launch(
        d,
        json!({"name": "web1", "image": "debian/12", "backend": "proxmox", "password": "Correct-Horse-9"}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    assert_eq!(pve.containers()[0].status, "running");
    Ok(())
}

fn hash_of(pve: &Double) -> Option<String> {
    pve.containers()
        .first()
        .and_then(|c| c.root_password_hash.clone())
}

#[tokio::test]
async fn password_and_keys_go_through_pct_exec_over_ssh() -> TestResult {
    let pve = cluster(Duration::from_millis(40)).await;
    let node = SshNode::start(&pve)?;
    let d = daemon_with(&pve, &ssh_env(&node, node.host_key())).await?;
    web1(&pve, &d).await?;

    let secret = "Another-Horse-42";
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/web1/password",
            json!({"password": secret}),
        )
        .await?;
    assert_eq!(
        (status, &body["password"]),
        (StatusCode::OK, &Value::Null),
        "{body}"
    );
    let hash = hash_of(&pve).ok_or("the double's container got no password")?;
    assert!(hash.starts_with("$6$"), "{hash}");
    assert!(
        sha_crypt::sha512_check(secret, &hash).is_ok(),
        "the hash is of the new password"
    );
    let vmid = pve.containers()[0].vmid;
    assert_eq!(node.commands(), [format!("pct exec {vmid} -- chpasswd -e")]);

    // A generated one is returned once and is what the container got.
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/web1/password",
            json!({"generate": true}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let generated = body["password"].as_str().ok_or("no generated password")?;
    let hash = hash_of(&pve).ok_or("no hash")?;
    assert!(sha_crypt::sha512_check(generated, &hash).is_ok());

    let (status, body) = d
        .call(
            "PUT",
            "/api/v1/instances/web1/ssh-keys",
            json!({"ssh_keys": [format!("  {KEY}\n")]}),
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let keys = pve.containers()[0].authorized_keys.clone();
    assert_eq!(keys.as_deref(), Some(format!("{KEY}\n").as_str()));
    let (status, body) = d
        .call(
            "PUT",
            "/api/v1/instances/web1/ssh-keys",
            json!({"ssh_keys": [KEY, "ssh-ed25519 !!!"]}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ssh_keys[1]")),
        "{body}"
    );

    // What crossed the wire: fixed words and the vmid, never a secret.
    let commands = node.commands();
    assert_eq!(commands.len(), 3, "{commands:?}");
    for line in &commands {
        assert!(line.starts_with(&format!("pct exec {vmid} -- ")), "{line}");
        assert!(!line.contains(secret) && !line.contains(generated) && !line.contains('$'));
        assert!(!line.contains("AAAAC3"), "keys go on stdin: {line}");
    }

    // pct exec needs a running container: 409 naming what to do.
    let (status, body) = d
        .call("POST", "/api/v1/instances/web1/stop", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/web1/password",
            json!({"password": secret}),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not running")),
        "{body}"
    );
    assert_eq!(
        node.commands().len(),
        3,
        "nothing sent to a stopped container"
    );
    Ok(())
}

#[tokio::test]
async fn a_node_offering_another_host_key_is_sent_nothing() -> TestResult {
    let pve = cluster(Duration::from_millis(40)).await;
    let node = SshNode::start(&pve)?;
    let pinned = node.other_host_key()?;
    let d = daemon_with(&pve, &ssh_env(&node, &pinned)).await?;
    web1(&pve, &d).await?;
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/web1/password",
            json!({"password": "Another-Horse-42"}),
        )
        .await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("host_keys.pve2") && message.contains("nothing was sent"),
        "{message}"
    );
    assert!(!message.contains("Another-Horse-42"));
    assert_eq!(hash_of(&pve), None, "the container's password is unchanged");
    assert!(
        node.commands().is_empty(),
        "no session ran: {:?}",
        node.commands()
    );
    Ok(())
}

#[tokio::test]
async fn without_proxmox_ssh_it_is_501_naming_it() -> TestResult {
    let pve = cluster(Duration::from_millis(40)).await;
    let d = daemon_with(&pve, &[]).await?;
    web1(&pve, &d).await?;
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/instances/web1/password",
            json!({"password": "Another-Horse-42"}),
        ),
        (
            "PUT",
            "/api/v1/instances/web1/ssh-keys",
            json!({"ssh_keys": [KEY]}),
        ),
    ] {
        let (status, answer) = d.call(method, path, body).await?;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_configured");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("[proxmox.ssh]"), "{message}");
        assert!(!message.contains("root filesystem"), "{message}");
    }
    assert_eq!(hash_of(&pve), None);
    Ok(())
}
