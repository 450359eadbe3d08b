//! A Proxmox VE test double: an HTTPS server on 127.0.0.1 with a self-signed certificate that
//! answers the endpoints Berth uses from an in-memory cluster, checks every request against the
//! real PVE API schema (PVE's 400 `{"errors":{…},"data":null}` for unknown parameters, wrong
//! types, bad patterns), runs tasks that take time and write logs, and injects faults (down,
//! hanging, slow, expired token, failing task, offline node). `sshd::SshNode` adds the nodes'
//! SSH side: a real sshd whose `pct exec` acts on the double's containers.

mod console;
mod exec;
mod guest;
mod handlers;
mod lxc;
mod request;
pub mod sshd;
pub mod state;
mod tasks;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::schema::Schema;
use state::Cluster;
pub use state::{Container, Faults, NodeSpec};

/// How to set the double up.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    pub nodes: Vec<NodeSpec>,
    pub token_id: String,
    pub token_secret: String,
    /// How long each task runs.
    pub task_time: Duration,
}

impl Default for DoubleConfig {
    fn default() -> Self {
        Self {
            nodes: vec![NodeSpec::new("pve1", 16, 2)],
            token_id: "berth@pve!test".into(),
            token_secret: "5f2c1a8e-1111-4c3b-9d2e-0123456789ab".into(),
            task_time: Duration::from_millis(150),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DoubleError {
    #[error("PVE double: {0}")]
    Schema(#[from] crate::schema::SchemaError),
    #[error("PVE double: certificate: {0}")]
    Cert(String),
    #[error("PVE double: binding 127.0.0.1: {0}")]
    Bind(std::io::Error),
}

/// What the handlers share.
pub(crate) struct Shared {
    pub schema: Schema,
    pub cluster: Mutex<Cluster>,
    pub faults: Faults,
    pub token_id: String,
    pub token_secret: String,
}

impl Shared {
    pub fn cluster(&self) -> std::sync::MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running double; stops when dropped.
pub struct Double {
    addr: SocketAddr,
    fingerprint: String,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Double {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Double {
    /// Starts on 127.0.0.1 with a fresh port and certificate.
    pub async fn start(config: DoubleConfig) -> Result<Self, DoubleError> {
        Self::start_on(config, "127.0.0.1:0").await
    }

    pub async fn start_on(config: DoubleConfig, listen: &str) -> Result<Self, DoubleError> {
        let schema = Schema::bundled()?;
        let (server_config, der) = self_signed()?;
        let fingerprint =
            crate::client::tls::format_fingerprint(&crate::client::tls::fingerprint_of(&der));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(DoubleError::Bind)?;
        let addr = listener.local_addr().map_err(DoubleError::Bind)?;
        let faults = Faults::default();
        faults
            .task_ms
            .store(config.task_time.as_millis() as u64, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            schema,
            cluster: Mutex::new(Cluster::new(config.nodes)),
            faults,
            token_id: config.token_id,
            token_secret: config.token_secret,
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
        let accept = tokio::spawn(accept_loop(listener, acceptor, shared.clone()));
        Ok(Self {
            addr,
            fingerprint,
            shared,
            accept,
        })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }
    /// SHA-256 of the certificate, `AB:CD:…`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
    pub fn token_id(&self) -> &str {
        &self.shared.token_id
    }
    pub fn token_secret(&self) -> &str {
        &self.shared.token_secret
    }
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }
    /// PVE stops answering (new connections are dropped) or answers again.
    pub fn set_down(&self, down: bool) {
        self.shared.faults.down.store(down, Ordering::SeqCst);
    }
    /// PVE hangs: connections are accepted and never answered (nor closed) while on.
    pub fn set_hang(&self, hang: bool) {
        self.shared.faults.hang.store(hang, Ordering::SeqCst);
    }
    pub fn set_slow(&self, delay: Duration) {
        self.shared
            .faults
            .slow_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
    pub fn set_token_expired(&self, expired: bool) {
        self.shared
            .faults
            .token_expired
            .store(expired, Ordering::SeqCst);
    }
    pub fn fail_next_task(&self, message: &str) {
        *self
            .shared
            .faults
            .fail_next_task
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(message.to_owned());
    }
    pub fn set_node_online(&self, node: &str, online: bool) {
        let mut cluster = self.shared.cluster();
        if let Some(n) = cluster.nodes.iter_mut().find(|n| n.name == node) {
            n.online = online;
        }
    }
    /// The containers as the double holds them.
    pub fn containers(&self) -> Vec<Container> {
        self.shared.cluster().containers.values().cloned().collect()
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        if shared.faults.down.load(Ordering::SeqCst) {
            drop(tcp);
            continue;
        }
        if shared.faults.hang.load(Ordering::SeqCst) {
            let shared = shared.clone();
            tokio::spawn(async move {
                let _held = tcp;
                while shared.faults.hang.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
            continue;
        }
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades()
                .await;
        });
    }
}

/// An answer: status, PVE's reason phrase, JSON body.
pub(crate) struct Answer {
    pub status: u16,
    pub reason: String,
    pub body: Value,
}

impl Answer {
    pub fn data(data: Value) -> Self {
        Self {
            status: 200,
            reason: "OK".into(),
            body: json!({ "data": data }),
        }
    }
    /// PVE's shape for a failed call: the message in the status line and in `message`.
    pub fn error(status: u16, message: &str) -> Self {
        Self {
            status,
            reason: message.trim_end().to_owned(),
            body: json!({ "data": null, "message": format!("{}\n", message.trim_end()) }),
        }
    }
    pub(crate) fn params(errors: BTreeMap<String, String>) -> Self {
        Self {
            status: 400,
            reason: "Parameter verification failed.".into(),
            body: json!({ "data": null, "errors": errors,
                          "message": "Parameter verification failed.\n" }),
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(delay) = shared.faults.slow() {
        tokio::time::sleep(delay).await;
    }
    let answer = if console::is_upgrade(&req) {
        if !authorised(&shared, &req) {
            Answer::error(401, "authentication failure")
        } else {
            match console::upgrade(&shared, req) {
                Ok(response) => return response,
                Err(answer) => answer,
            }
        }
    } else {
        route(&shared, req).await
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.body.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(answer.reason.replace('\n', " ")) {
        response.extensions_mut().insert(reason);
    }
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Answer {
    if !authorised(shared, &req) {
        return Answer::error(401, "authentication failure");
    }
    let method = req.method().as_str().to_owned();
    if method == "POST" && req.uri().path() == "/double/pct" {
        let query = req.uri().query().unwrap_or_default().to_owned();
        let Ok(body) = req.into_body().collect().await else {
            return Answer::error(400, "reading the request body failed");
        };
        return exec::pct(shared, &query, &body.to_bytes());
    }
    let Some(path) = req
        .uri()
        .path()
        .strip_prefix("/api2/json")
        .map(str::to_owned)
    else {
        return Answer::error(501, &format!("Unexpected path {}", req.uri().path()));
    };
    let mut params: BTreeMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if matches!(method.as_str(), "POST" | "PUT") {
        let Ok(body) = req.into_body().collect().await else {
            return Answer::error(400, "reading the request body failed");
        };
        params.extend(form_urlencoded::parse(&body.to_bytes()).into_owned());
    }
    let (endpoint, vars) = match shared.schema.find(&method, &path) {
        Ok(found) => found,
        Err(_) => return Answer::error(501, &format!("Method '{method} {path}' not implemented")),
    };
    let mut all = params.clone();
    all.extend(vars.clone());
    if let Err(errors) = shared.schema.validate(endpoint, &all) {
        return Answer::params(errors);
    }
    let template = endpoint.path.clone();
    handlers::dispatch(shared, &method, &template, &vars, &params)
}

fn authorised(shared: &Shared, req: &Request<Incoming>) -> bool {
    if shared.faults.token_expired.load(Ordering::SeqCst) {
        return false;
    }
    let Some(value) = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let expected = format!("PVEAPIToken={}={}", shared.token_id, shared.token_secret);
    value == expected
}

fn self_signed() -> Result<(Arc<rustls::ServerConfig>, Vec<u8>), DoubleError> {
    let cert_err = |e: &dyn std::fmt::Display| DoubleError::Cert(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(|e| cert_err(&e))?;
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| cert_err(&e))?;
    let cert = params.self_signed(&key).map_err(|e| cert_err(&e))?;
    let der = cert.der().to_vec();
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| cert_err(&e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| cert_err(&e))?
    .with_no_client_auth()
    .with_single_cert(vec![der.clone().into()], key_der)
    .map_err(|e| cert_err(&e))?;
    Ok((Arc::new(config), der))
}
