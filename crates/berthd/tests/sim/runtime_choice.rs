//! The `runtime` of `POST /instances` (which OCI runtime an oci guest runs under) refused
//! where it does not apply, before anything is made: on a backend without a choice, a tool
//! the backend does not know, and a routing rule naming one for such a backend (berthd does
//! not start). An instance on a backend without a choice shows no runtime.

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

#[tokio::test]
async fn runtime_is_refused_where_it_does_not_apply() -> TestResult {
    let d = SimDaemon::start_with_env(
        &[],
        &[(
            "BERTH_ROUTING",
            r#"[{pattern = "oc-*", backend = "oci", runtime = "runc"}]"#,
        )],
    )
    .await?;
    let cases = [
        // sim (the default) has no runtime to choose; the message says which backend has.
        (
            json!({"name": "s1", "image": "debian/12", "runtime": "crun"}),
            "oci (crun, runc)",
        ),
        (
            json!({"name": "s1", "image": "debian/12", "backend": "sim", "runtime": "runc"}),
            "no runtime to choose",
        ),
        // A tool oci does not run, named whether or not oci is usable on this host.
        (
            json!({"name": "s1", "image": "debian/12", "backend": "oci", "runtime": "youki"}),
            "crun, runc",
        ),
        (
            json!({"name": "oc-1", "image": "debian/12", "runtime": "kata"}),
            "\"kata\"",
        ),
        // A routed name asked onto another backend keeps no rule's runtime and takes none.
        (
            json!({"name": "oc-2", "image": "debian/12", "backend": "sim", "runtime": "runc"}),
            "backend sim",
        ),
    ];
    for (body, says) in cases {
        let (status, answer) = d.call("POST", "/api/v1/instances", body.clone()).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid", "{answer}");
        assert_eq!(answer["error"]["field"], "runtime", "{body} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body} -> {message}");
    }
    let (_, list) = d.call("GET", "/api/v1/instances", Value::Null).await?;
    assert_eq!(list, json!([]), "bad input created nothing");
    let (_, ops) = d.call("GET", "/api/v1/operations", Value::Null).await?;
    assert_eq!(ops, json!([]), "bad input started no operation");

    // Without one, a sim instance (no choice) has none, also when the rule's pattern
    // matches but it is asked onto sim.
    for name in ["plain", "oc-3"] {
        let body = json!({"name": name, "image": "debian/12", "backend": "sim"});
        let (status, accepted) = d.call("POST", "/api/v1/instances", body).await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        d.wait_success(&accepted).await?;
        let (_, info) = d
            .call("GET", &format!("/api/v1/instances/{name}"), Value::Null)
            .await?;
        assert_eq!(info["backend"], "sim");
        assert!(info.get("runtime").is_none(), "{info}");
    }
    Ok(())
}

#[tokio::test]
async fn a_rule_naming_a_runtime_its_backend_lacks_stops_berthd() -> TestResult {
    for (rule, says) in [
        (
            r#"[{pattern = "x*", backend = "lxc", runtime = "crun"}]"#,
            "no runtime",
        ),
        (
            r#"[{pattern = "x*", backend = "oci", runtime = "youki"}]"#,
            "\"youki\"",
        ),
    ] {
        let started = SimDaemon::start_with_env(&[], &[("BERTH_ROUTING", rule)]).await;
        let Err(e) = started else {
            return Err(format!("berthd started with {rule}").into());
        };
        let e = e.to_string();
        assert!(e.contains("routing[0].runtime") && e.contains(says), "{e}");
    }
    Ok(())
}
