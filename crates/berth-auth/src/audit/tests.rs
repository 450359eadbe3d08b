//! Tests of the audit log: redaction, paging, filters, retention and the size bounds.

use serde_json::json;

use super::*;
use crate::db::temp_db;

#[test]
fn nested_secrets_are_redacted() {
    let params = json!({
        "name": "web1",
        "password": "hunter22",
        "Root_Password": "x",
        "limits": {"cpu": 1},
        "wireguard": {"private_key": "k", "peers": [{"preshared_key": "p", "endpoint": "e"}]},
        "proxmox": {"token_secret": "s", "token_id": "berth@pve!x"},
        "auth": {"token": "t", "refresh_token": "r", "secret": {"deep": 1}},
    });
    let redacted = redact(&params);
    let text = redacted.to_string();
    for secret in [
        "hunter22", "\"k\"", "\"p\"", "\"s\"", "\"t\"", "\"r\"", "deep",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(redacted["wireguard"]["peers"][0]["endpoint"], "e");
    assert_eq!(redacted["wireguard"]["peers"][0]["preshared_key"], REDACTED);
    assert_eq!(redacted["proxmox"]["token_id"], "berth@pve!x");
    assert_eq!(redacted["Root_Password"], REDACTED);
    assert_eq!(redacted["limits"], json!({"cpu": 1}));
    let create = json!({"name": "vpn", "wireguard": "[Interface]\nPrivateKey = k\n"});
    assert_eq!(redact(&create)["wireguard"], REDACTED);
    let uplink = json!({"mode": "wireguard", "config": "[Interface]\nPrivateKey = k\n"});
    assert_eq!(redact(&uplink)["config"], REDACTED);
    assert_eq!(redact(&uplink)["mode"], "wireguard");
}

#[test]
fn append_list_page_filter_and_prune() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, db) = temp_db();
    let alice = Uuid::new_v4();
    let client = ClientInfo {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("curl/8".into()),
    };
    for i in 0..5 {
        db.append_audit(&NewAuditEntry {
            actor: if i % 2 == 0 { "alice" } else { "admin" },
            user_id: (i % 2 == 0).then_some(alice),
            action: "instance.create",
            target: &format!("web{i}"),
            params: &json!({"password": "hunter22", "n": i}),
            client: &client,
            result: "success",
        })?;
    }
    let all = db.audit(&AuditFilter::default())?;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].target, "web4");
    assert_eq!(all[0].params, json!({"password": REDACTED, "n": 4}));
    assert_eq!(all[0].ip.as_deref(), Some("192.0.2.7"));
    let own = db.audit(&AuditFilter {
        user_id: Some(alice),
        ..AuditFilter::default()
    })?;
    assert_eq!(
        own.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
        ["web4", "web2", "web0"]
    );
    let by_actor = db.audit(&AuditFilter {
        actor: Some("admin".into()),
        ..AuditFilter::default()
    })?;
    assert_eq!(by_actor.len(), 2);
    let page = db.audit(&AuditFilter {
        limit: 2,
        ..AuditFilter::default()
    })?;
    let next = db.audit(&AuditFilter {
        limit: 2,
        before: page.last().map(|e| e.id),
        ..AuditFilter::default()
    })?;
    assert_eq!(
        next.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
        ["web2", "web1"]
    );
    assert_eq!(db.prune_audit(Utc::now() - chrono::Duration::days(1))?, 0);
    assert_eq!(
        db.prune_audit(Utc::now() + chrono::Duration::seconds(1))?,
        5
    );
    assert!(db.audit(&AuditFilter::default())?.is_empty());
    Ok(())
}

fn entry<'a>(params: &'a Value, client: &'a ClientInfo, target: &'a str) -> NewAuditEntry<'a> {
    NewAuditEntry {
        actor: "alice",
        user_id: None,
        action: "instance.create",
        target,
        params,
        client,
        result: "success",
    }
}

#[test]
fn every_stored_field_is_bounded() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, db) = temp_db();
    let huge = "x".repeat(1 << 20);
    let client = ClientInfo {
        ip: Some(huge.clone()),
        user_agent: Some(huge.clone()),
    };
    let params = json!({
        "name": huge,
        "many": (0..10_000).collect::<Vec<_>>(),
        "password": "hunter22",
    });
    db.append_audit(&NewAuditEntry {
        actor: &huge,
        action: &huge,
        result: &huge,
        ..entry(&params, &client, &huge)
    })?;
    let stored = &db.audit(&AuditFilter::default())?[0];
    assert!(stored.params.to_string().len() <= MAX_PARAMS_BYTES);
    assert_eq!(stored.params["password"], REDACTED);
    assert!(
        stored.params["name"]
            .as_str()
            .is_some_and(|n| n.len() <= 256)
    );
    for text in [
        &stored.actor,
        &stored.action,
        &stored.target,
        &stored.result,
        stored.ip.as_deref().unwrap_or_default(),
        stored.user_agent.as_deref().unwrap_or_default(),
    ] {
        assert!(text.len() <= 512, "{} bytes stored", text.len());
    }
    // Parameters too big even when shrunk become a summary.
    let wide: serde_json::Map<String, Value> = (0..5000)
        .map(|i| (format!("key{i}"), Value::from(i)))
        .collect();
    let summary: Value = serde_json::from_str(&capped(&Value::Object(wide)))?;
    assert_eq!(summary["truncated"], true);
    assert_eq!(summary["keys"].as_array().map(Vec::len), Some(32));
    Ok(())
}

#[test]
fn caps_drop_the_oldest_entries_and_count_them() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, db) = temp_db();
    db.set_audit_bounds(AuditBounds {
        max_entries: 40,
        max_bytes: 16 << 10,
    });
    let client = ClientInfo::default();
    let params = json!({"note": "y".repeat(400)});
    for i in 0..300 {
        db.append_audit(&entry(&params, &client, &format!("web{i}")))?;
    }
    db.enforce_audit_bounds()?;
    let kept = db.audit(&AuditFilter {
        limit: MAX_PAGE,
        ..AuditFilter::default()
    })?;
    let bytes: usize = kept
        .iter()
        .map(|e| e.params.to_string().len() + e.target.len() + 80)
        .sum();
    assert!(kept.len() <= 40, "{} entries kept", kept.len());
    assert!(bytes <= 16 << 10, "{bytes} bytes kept");
    // The newest survive, the oldest went first, and the counter knows how many.
    assert_eq!(kept[0].target, "web299");
    let oldest = kept.last().map(|e| e.target.clone()).unwrap_or_default();
    assert_eq!(oldest, format!("web{}", 300 - kept.len()));
    assert_eq!(db.audit_dropped()?, 300 - kept.len() as u64);
    Ok(())
}
