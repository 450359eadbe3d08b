//! `berth login URL`, `berth logout [URL]`, `berth whoami`: an API token for a remote berthd,
//! made from a username and password and saved (0600) with the remote's pinned certificate.

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};

use super::Context;
use crate::client::{Client, parse_remote};
use crate::output::{self, Format};
use crate::remotes::{self, Remotes, SavedRemote};
use crate::{prompt, tls};

#[derive(Args)]
pub struct LoginArgs {
    /// `https://HOST:PORT` (or `http://127.0.0.1:PORT`).
    pub url: String,
    /// The account; asked for on a terminal when omitted.
    #[arg(long, short)]
    pub username: Option<String>,
    /// The SHA-256 fingerprint of berthd's certificate (berthd logs it at start), `AB:CD:…`;
    /// without it berth shows the one presented and asks.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// The saved token may only read.
    #[arg(long)]
    pub read_only: bool,
    /// When the saved token stops working, e.g. `90d`.
    #[arg(long)]
    pub expires_in: Option<String>,
    /// Save the remote without making it the default.
    #[arg(long)]
    pub no_default: bool,
}

pub async fn login(ctx: &Context, args: LoginArgs) -> anyhow::Result<()> {
    let url = remotes::key(&args.url);
    let (authority, https) = parse_remote(&url)?;
    let fingerprint = if https {
        Some(pin(&authority, args.fingerprint.as_deref()).await?)
    } else {
        None
    };
    let username = match args.username {
        Some(username) => username,
        None => match prompt::ask("Username:")? {
            Some(username) => username,
            None => bail!("--username: give the account to log in as"),
        },
    };
    let password = prompt::secret(&format!("Password for {username}"))?;
    let anonymous = Client::remote(authority.clone(), fingerprint.clone(), None);
    let session: Value = anonymous
        .post(
            "/auth/login",
            &json!({"username": username, "password": password}),
        )
        .await?;
    let access = session["access_token"]
        .as_str()
        .context("berthd's login answer has no access_token")?
        .to_owned();
    let signed_in = Client::remote(authority, fingerprint.clone(), Some(access));
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "host".to_owned());
    let name = format!(
        "berth-cli@{host}-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    let mut request =
        json!({"name": name, "scope": if args.read_only { "read_only" } else { "full" }});
    if let Some(expires_in) = &args.expires_in {
        request["expires_in"] = json!(expires_in);
    }
    let created: Value = signed_in.post("/tokens", &request).await?;
    // The session was only needed to make the token.
    let _: Result<Value, _> = signed_in.post("/auth/logout", &json!({})).await;
    let token = created["secret"]
        .as_str()
        .context("berthd's token answer has no secret")?
        .to_owned();
    let mut saved = Remotes::load()?;
    saved.remotes.insert(
        url.clone(),
        SavedRemote {
            token,
            token_id: created["token"]["id"].as_str().map(str::to_owned),
            fingerprint,
            username: Some(username.clone()),
        },
    );
    if !args.no_default {
        saved.default = Some(url.clone());
    }
    let path = saved.save()?;
    match ctx.format {
        Format::Json => output::json(&json!({"remote": url, "username": username,
            "token_name": name, "saved": path, "default": !args.no_default})),
        Format::Table => {
            println!(
                "Logged in to {url} as {username}; token {name} saved in {}",
                path.display()
            );
            Ok(())
        }
    }
}

/// The fingerprint to pin: the one given, if the server presents it; else the presented one,
/// once the user confirms it on a terminal.
async fn pin(authority: &str, given: Option<&str>) -> anyhow::Result<String> {
    let presented = tls::probe(authority).await?;
    match given {
        Some(text) => {
            let expected = tls::normalise(text).context(
                "--fingerprint: give the SHA-256 fingerprint berthd logs, 32 bytes as AB:CD:…",
            )?;
            if expected != presented {
                bail!(
                    "--fingerprint: berthd at {authority} presents {presented}, not {expected}; \
                     refusing to log in (check berthd's log line \"TLS certificate\")"
                );
            }
            Ok(expected)
        }
        None => {
            let question = format!(
                "berthd at {authority} presents a certificate with SHA-256 fingerprint\n  {presented}\n\
                 Does it match berthd's log line \"TLS certificate\"? [y/N]"
            );
            match prompt::ask(&question)? {
                Some(answer)
                    if answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes") =>
                {
                    Ok(presented)
                }
                Some(_) => bail!("not logged in: the certificate was not accepted"),
                None => bail!(
                    "berthd at {authority} presents certificate {presented}; check it against \
                     berthd's log and pass it with --fingerprint"
                ),
            }
        }
    }
}

#[derive(Args)]
pub struct LogoutArgs {
    /// The remote to forget (default: the default remote).
    pub url: Option<String>,
}

/// Revokes the saved token (when berthd can be reached) and forgets the remote.
pub async fn logout(ctx: &Context, args: LogoutArgs) -> anyhow::Result<()> {
    let mut saved = Remotes::load()?;
    let Some(url) = args.url.map(|u| remotes::key(&u)).or(saved.default.clone()) else {
        bail!("no remote is saved; `berth login URL` saves one");
    };
    let Some(entry) = saved.remotes.remove(&url) else {
        bail!("{url} is not a saved remote; `berth login {url}` saves it");
    };
    let mut revoked = false;
    if let Some(id) = &entry.token_id {
        let (authority, _) = parse_remote(&url)?;
        let client = Client::remote(
            authority,
            entry.fingerprint.clone(),
            Some(entry.token.clone()),
        );
        let answer: anyhow::Result<Value> = client.delete(&format!("/tokens/{id}"), &()).await;
        revoked = answer.is_ok();
        if let Err(e) = answer {
            eprintln!("berth: the token could not be revoked ({e:#}); forgetting it anyway");
        }
    }
    if saved.default.as_deref() == Some(url.as_str()) {
        saved.default = None;
    }
    saved.save()?;
    match ctx.format {
        Format::Json => output::json(&json!({"remote": url, "revoked": revoked})),
        Format::Table => {
            println!("Logged out of {url}");
            Ok(())
        }
    }
}

/// `GET /auth/me`: who the daemon takes the caller for, and their usage against quota.
pub async fn whoami(ctx: &Context) -> anyhow::Result<()> {
    let me: Value = ctx.client.get("/auth/me").await?;
    if ctx.format == Format::Json {
        return output::json(&me);
    }
    let user = &me["user"];
    println!(
        "{} ({}), {} access",
        user["username"].as_str().unwrap_or("?"),
        user["role"].as_str().unwrap_or("?"),
        me["scope"].as_str().unwrap_or("?")
    );
    let quota = &user["quota"];
    let usage = &me["usage"];
    let rows: Vec<Vec<String>> = [
        "instances",
        "cpu",
        "memory",
        "disk",
        "snapshots",
        "forwards",
    ]
    .iter()
    .map(|key| {
        vec![
            (*key).to_owned(),
            usage[*key].to_string(),
            quota
                .get(*key)
                .map_or("unlimited".to_owned(), Value::to_string),
        ]
    })
    .collect();
    output::table(&["RESOURCE", "USED", "QUOTA"], &rows);
    Ok(())
}
