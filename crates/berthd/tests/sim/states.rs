//! Commands and terminals need a running guest: through the real router on the sim backend,
//! exec and the console on a suspended or stopped instance answer 409 naming the state and
//! what to do, and nothing runs.

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};
use tokio_tungstenite::client_async;
use tokio_tungstenite::tungstenite;

async fn power(d: &SimDaemon, name: &str, verb: &str) -> TestResult {
    let (status, body) = d
        .call(
            "POST",
            &format!("/api/v1/instances/{name}/{verb}"),
            json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{verb}: {body}");
    d.wait_success(&body).await?;
    Ok(())
}

#[tokio::test]
async fn exec_and_consoles_on_a_guest_that_is_not_running_are_409_naming_its_state() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let served = d.serve_tcp().await?;
    let admin = d.login("admin", common::ADMIN_PASSWORD).await?;
    d.launch("web").await?;
    for (verb, state, todo) in [
        ("suspend", "suspended", "resume it first"),
        ("stop", "stopped", "start it first"),
    ] {
        if verb == "stop" {
            power(&d, "web", "resume").await?;
        }
        power(&d, "web", verb).await?;
        let (status, body) = d
            .call(
                "POST",
                "/api/v1/instances/web/exec",
                json!({"command": ["echo", "hi"]}),
            )
            .await?;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(state) && message.contains(todo),
            "{message}"
        );
        for mode in ["shell", "console"] {
            let stream = tokio::net::TcpStream::connect(served.addr).await?;
            let mut request =
                tungstenite::client::IntoClientRequest::into_client_request(format!(
                    "ws://{}/api/v1/instances/web/console?mode={mode}",
                    served.addr
                ))?;
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {admin}").parse()?);
            match client_async(request, stream).await {
                Err(tungstenite::Error::Http(response)) => {
                    assert_eq!(response.status().as_u16(), 409, "{mode} on {state}");
                    let body: Value =
                        serde_json::from_slice(response.body().as_deref().unwrap_or_default())?;
                    assert!(
                        body["error"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains(state)),
                        "{body}"
                    );
                }
                other => {
                    return Err(format!("{mode} on a {state} guest: {:?}", other.is_ok()).into());
                }
            }
        }
    }
    Ok(())
}
