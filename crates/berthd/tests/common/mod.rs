//! Shared test helpers: an in-process daemon on the sim backend, called through its router.

#![allow(dead_code, reason = "each test file uses a different part")]

pub mod fake_image;
pub mod ops;
pub mod process;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use berthd::api::Transport;
use berthd::app::App;
use berthd::app::failpoint::Failpoints;
use berthd::config::Config;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A loopback TCP client.
pub fn tcp() -> Transport {
    Transport::Tcp {
        peer: "127.0.0.1:40000".parse().expect("address"),
        tls: false,
    }
}

/// The first admin's password in sim daemons.
pub const ADMIN_PASSWORD: &str = "Harbour-Master-77";

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A daemon's router served on a loopback TCP port (for WebSocket clients), until dropped.
pub struct Served {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct SimDaemon {
    pub app: Arc<App>,
    router: axum::Router,
    config: Config,
    dir: tempfile::TempDir,
}

impl SimDaemon {
    /// A daemon in a fresh temp data dir, `sim` the default backend, with these failpoints.
    pub async fn start(failpoints: &[(String, &str)]) -> Result<Self, Box<dyn std::error::Error>> {
        Self::start_with(failpoints, &[]).await
    }

    /// Like `start_with`, for `&str` values.
    pub async fn start_with_env(
        failpoints: &[(String, &str)],
        extra_env: &[(&str, &str)],
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let owned: Vec<(&str, String)> = extra_env
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        Self::start_with(failpoints, &owned).await
    }

    /// Like `start`, with more `BERTH_*` settings (`("BERTH_PROXMOX__URL", …)`); `{dir}` in a
    /// value is the data dir.
    pub async fn start_with(
        failpoints: &[(String, &str)],
        extra_env: &[(&str, String)],
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().display().to_string();
        let env = vec![
            ("BERTH_DATA_DIR", root.clone()),
            ("BERTH_RUNTIME_DIR", format!("{root}/run")),
            ("BERTH_SOCKET", format!("{root}/run/berth.sock")),
            ("BERTH_DEFAULT_BACKEND", "sim".into()),
            ("BERTH_TESTING__SIM_BACKEND", "true".into()),
            ("BERTH_STORAGE__DRIVER", "dir".into()),
            ("BERTH_AUTH__INITIAL_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
        ];
        let extra = extra_env
            .iter()
            .map(|(k, v)| (*k, v.replace("{dir}", &root)));
        let env: Vec<(&str, String)> = env.into_iter().chain(extra).collect();
        let empty = dir.path().join("berth.toml");
        std::fs::write(&empty, "")?;
        // The sim backend's instances are real trees on the dir driver, cloned from these.
        fake_image::fake_images(&dir.path().join("images"))?;
        let config = Config::load(
            Some(&empty),
            env.into_iter().map(|(k, v)| (k.to_owned(), v)),
        )?;
        let spec: Vec<String> = failpoints.iter().map(|(p, a)| format!("{p}={a}")).collect();
        let app = App::start(config.clone(), Failpoints::parse(&spec.join(",")))
            .await
            .map_err(|e| e.to_string())?;
        let router = berthd::api::router(app.clone());
        Ok(Self {
            app,
            router,
            config,
            dir,
        })
    }

    /// A new daemon on the same data dir, as after a restart. The sim backend forgets its
    /// guests, as a host reboot would.
    pub async fn restart(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        self.app = App::start(self.config.clone(), Failpoints::default())
            .await
            .map_err(|e| e.to_string())?;
        self.router = berthd::api::router(self.app.clone());
        Ok(())
    }

    /// Serves this daemon on `127.0.0.1:<free port>` with berthd's own connection handling.
    pub async fn serve_tcp(&self) -> Result<Served, Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = self.router.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, peer)) = listener.accept().await {
                let transport = Transport::Tcp { peer, tls: false };
                connections.spawn(berthd::server::serve_connection(
                    stream,
                    transport,
                    router.clone(),
                ));
            }
        });
        Ok(Served { addr, task })
    }

    /// Creates user `name` with `password` and logs in; the access token.
    pub async fn user(
        &self,
        name: &str,
        password: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/users",
                serde_json::json!({"username": name, "password": password}),
            )
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.login(name, password).await
    }

    /// Logs `name` in; the access token.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let (status, body) = self
            .call_as(
                None,
                "POST",
                "/api/v1/auth/login",
                serde_json::json!({"username": name, "password": password}),
            )
            .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        Ok(body["access_token"]
            .as_str()
            .ok_or("no access token")?
            .to_owned())
    }

    pub fn runtime_dir(&self) -> &Path {
        &self.config.runtime_dir
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// One request as root on the unix socket (an admin); the answer's status and JSON body
    /// (`null` when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
        let socket = Transport::Socket {
            uid: 0,
            admitted: true,
        };
        let (status, _, json) = self.request(socket, &[], method, path, body).await?;
        Ok((status, json))
    }

    /// One request over loopback TCP with `Authorization: Bearer <bearer>` (none when `None`).
    pub async fn call_as(
        &self,
        bearer: Option<&str>,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
        let auth = bearer.map(|b| ("authorization".to_owned(), format!("Bearer {b}")));
        let headers: Vec<(String, String)> = auth.into_iter().collect();
        let (status, _, json) = self.request(tcp(), &headers, method, path, body).await?;
        Ok((status, json))
    }

    /// One request with any transport and headers; status, headers and JSON body.
    pub async fn request(
        &self,
        transport: Transport,
        headers: &[(String, String)],
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, axum::http::HeaderMap, Value), Box<dyn std::error::Error>> {
        let content_length = if body.is_null() {
            0
        } else {
            body.to_string().len()
        };
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("content-length", content_length.to_string());
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut request = builder.body(body)?;
        request.extensions_mut().insert(transport);
        let response = self.router.clone().oneshot(request).await?;
        let response_headers = response.headers().clone();
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, response_headers, json))
    }

    /// One request as root on the unix socket with a raw body of `content_type`.
    pub async fn raw_request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("content-length", body.len().to_string())
            .body(Body::from(body))?;
        request.extensions_mut().insert(Transport::Socket {
            uid: 0,
            admitted: true,
        });
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Creates `name` from debian/12 on the sim backend and waits for it.
    pub async fn launch(&self, name: &str) -> TestResult {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/instances",
                serde_json::json!({"name": name, "image": "debian/12"}),
            )
            .await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        self.wait_success(&body).await?;
        Ok(())
    }

    /// Waits for the operation in a 202 answer to end; returns it.
    pub async fn wait(&self, accepted: &Value) -> Result<Value, Box<dyn std::error::Error>> {
        let id = accepted["operation"]["id"]
            .as_str()
            .ok_or("no operation in answer")?;
        for _ in 0..600 {
            let (_, op) = self
                .call("GET", &format!("/api/v1/operations/{id}"), Value::Null)
                .await?;
            if ["success", "failure", "cancelled"].contains(&op["status"].as_str().unwrap_or("")) {
                return Ok(op);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!("operation {id} did not end").into())
    }

    pub async fn wait_success(
        &self,
        accepted: &Value,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        let op = self.wait(accepted).await?;
        if op["status"] != "success" {
            return Err(format!("operation failed: {op}").into());
        }
        Ok(op)
    }
}

impl ops::Api for SimDaemon {
    async fn json(
        &self,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, Value), ops::Error> {
        self.call(method, path, body).await
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Value), ops::Error> {
        self.raw_request(method, path, content_type, body).await
    }

    fn data(&self) -> &Path {
        self.data_dir()
    }
}

/// A concrete path for a route template, naming things that do not exist.
pub fn concrete_path(template: &str) -> String {
    template
        .replace("{name}", "nosuch")
        .replace("{id}", "00000000-0000-4000-8000-00000000dead")
        .replace("{snap}", "nosnap")
        .replace("{*alias}", "debian/99")
        .replace("{alias}", "debian/99")
}
