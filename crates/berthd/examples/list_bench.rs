//! Benchmark of `GET /api/v1/instances` with many instances: a berthd (sim backend on, its own
//! temp data dir) is filled by writing records straight into its store, then each request is
//! sent through the real router (in-process, as root on the socket: no TCP) and timed from
//! request to the last byte of the body. Prints a table `what | n | p50 | p99 | max` with the
//! load average, date, commit and build profile.
//!
//! Records are on `builtin` (the watched, state-from-memory path: no guest runs, so none is
//! watched) unless the row says `sim` (asked through `observe`, the path proxmox also takes).
//!
//! `cargo run --release -p berthd --example list_bench -- [N,N,…] [ITERATIONS]`
//! (defaults: `1000,10000` and 200 requests per row; 10,000 instances take a fifth of them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use berth_store::{AddressRecord, InstanceRecord};
use berth_types::{BackendName, ImageRef, InstanceName, InstanceState, Limits, MacAddr};
use berthd::api::Transport;
use berthd::app::App;
use berthd::app::failpoint::Failpoints;
use berthd::config::Config;
use http_body_util::BodyExt;
use tower::ServiceExt;

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let sizes: Vec<usize> = match args.next() {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![1000, 10000],
    };
    let iterations: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let mut rows = Vec::new();
    for &n in &sizes {
        let runs = if n >= 5000 {
            (iterations / 5).max(10)
        } else {
            iterations
        };
        rows.extend(bench(n, "builtin", runs).await?);
        rows.extend(bench(n, "sim", runs).await?);
    }
    print_table(&rows);
    Ok(())
}

struct Row {
    what: String,
    n: usize,
    bytes: usize,
    samples: Vec<Duration>,
}

/// A daemon holding `n` instances on `backend`, and the rows measured on it.
async fn bench(n: usize, backend: &str, runs: usize) -> Result<Vec<Row>, Error> {
    let dir = tempfile::tempdir()?;
    let (app, router) = daemon(dir.path()).await?;
    fill(&app, n, backend)?;
    let middle = format!("bench-{:05}", n / 2);
    let mut cases: Vec<(String, String, bool)> = vec![
        (format!("all ({backend})"), String::new(), false),
        (format!("limit=100 ({backend})"), "?limit=100".into(), false),
        (
            format!("limit=100&after=mid ({backend})"),
            format!("?limit=100&after={middle}"),
            false,
        ),
        (
            format!("state=stopped ({backend})"),
            "?state=stopped".into(),
            false,
        ),
        (
            format!("name=bench-001* ({backend})"),
            "?name=bench-001*".into(),
            false,
        ),
    ];
    if backend == "builtin" {
        cases.push(("all, If-None-Match → 304".into(), String::new(), true));
    }
    let mut rows = Vec::new();
    for (what, query, conditional) in cases {
        let path = format!("/api/v1/instances{query}");
        let (_, etag, _) = get(&router, &path, None).await?; // warm-up, and the tag
        let etag = conditional.then_some(etag).flatten();
        let mut samples = Vec::with_capacity(runs);
        let mut bytes = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let (status, _, len) = get(&router, &path, etag.as_deref()).await?;
            samples.push(started.elapsed());
            let want = if conditional {
                StatusCode::NOT_MODIFIED
            } else {
                StatusCode::OK
            };
            if status != want {
                return Err(format!("{what}: {status}").into());
            }
            bytes = len;
        }
        rows.push(Row {
            what,
            n,
            bytes,
            samples,
        });
    }
    drop(app);
    Ok(rows)
}

async fn daemon(dir: &std::path::Path) -> Result<(Arc<App>, axum::Router), Error> {
    let root = dir.display().to_string();
    let env = [
        ("BERTH_DATA_DIR", root.clone()),
        ("BERTH_RUNTIME_DIR", format!("{root}/run")),
        ("BERTH_SOCKET", format!("{root}/run/berth.sock")),
        ("BERTH_DEFAULT_BACKEND", "sim".into()),
        ("BERTH_TESTING__SIM_BACKEND", "true".into()),
        ("BERTH_STORAGE__DRIVER", "dir".into()),
        (
            "BERTH_AUTH__INITIAL_ADMIN_PASSWORD",
            "Bench-Harbour-77".into(),
        ),
        ("BERTH_SECURITY__LXCFS", "false".into()),
        ("BERTH_HOST__RAISE_LIMITS", "false".into()),
        // The rarest collector tick (it may find the fake running guests stopped).
        ("BERTH_METRICS__INTERVAL", "60s".into()),
    ];
    let empty = dir.join("berth.toml");
    std::fs::write(&empty, "")?;
    let config = Config::load(
        Some(&empty),
        env.into_iter().map(|(k, v)| (k.to_owned(), v)),
    )?;
    let app = App::start(config, Failpoints::default())
        .await
        .map_err(|e| e.to_string())?;
    let router = berthd::api::router(app.clone());
    Ok((app, router))
}

/// `n` instances named `bench-00000`…, a quarter stopped, each with addresses.
fn fill(app: &App, n: usize, backend: &str) -> Result<(), Error> {
    let backend = BackendName::parse(backend)?;
    let image = ImageRef::parse("debian/12")?;
    for i in 0..n {
        let name = InstanceName::parse(&format!("bench-{i:05}"))?;
        let state = if i % 4 == 0 {
            InstanceState::Stopped
        } else {
            InstanceState::Running
        };
        app.store.insert_instance(&InstanceRecord {
            id: uuid::Uuid::new_v4(),
            name: name.clone(),
            owner: "admin".into(),
            backend: backend.clone(),
            runtime: None,
            image: image.into(),
            state,
            autostart: false,
            limits: Limits::default(),
            node: "local".into(),
            rootfs: None,
            created_at: chrono::Utc::now(),
            privileged: false,
            nesting: false,
        })?;
        let [_, _, hi, lo] = (i as u32 + 2).to_be_bytes();
        app.store.assign_addresses(
            &name,
            &AddressRecord {
                ipv4: std::net::Ipv4Addr::new(10, 88, hi, lo),
                ipv6: None,
                mac: MacAddr::new([0x52, 0x54, 0, 0, hi, lo]),
            },
        )?;
    }
    Ok(())
}

/// One GET as root on the socket: status, ETag, body length.
async fn get(
    router: &axum::Router,
    path: &str,
    if_none_match: Option<&str>,
) -> Result<(StatusCode, Option<String>, usize), Error> {
    let mut builder = Request::builder().method("GET").uri(path);
    if let Some(tag) = if_none_match {
        builder = builder.header("if-none-match", tag);
    }
    let mut request = builder.body(Body::empty())?;
    request.extensions_mut().insert(Transport::Socket {
        uid: 0,
        admitted: true,
    });
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, etag, body.len()))
}

fn print_table(rows: &[Row]) {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let date = std::process::Command::new("date")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "GET /api/v1/instances — {date}, commit {commit}, {profile} build, {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| {:<34} | {:>6} | {:>5} | {:>9} | {:>9} | {:>9} | {:>9} |",
        "what", "n", "runs", "body", "p50", "p99", "max"
    );
    println!(
        "|{:-<36}|{:->8}|{:->7}|{:->11}|{:->11}|{:->11}|{:->11}|",
        "", "", "", "", "", "", ""
    );
    for row in rows {
        let mut s = row.samples.clone();
        s.sort();
        let at = |q: f64| s[((s.len() as f64 * q).ceil() as usize).clamp(1, s.len()) - 1];
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        println!(
            "| {:<34} | {:>6} | {:>5} | {:>6} kB | {:>9} | {:>9} | {:>9} |",
            row.what,
            row.n,
            s.len(),
            row.bytes / 1000,
            ms(at(0.5)),
            ms(at(0.99)),
            ms(s[s.len() - 1])
        );
    }
}
