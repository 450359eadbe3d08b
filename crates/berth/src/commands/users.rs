//! `berth user list | add | set | remove | passwd`: accounts and their quotas (admins), and
//! changing one's own password. Passwords are read from standard input, never argv.

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::Context;
use crate::output::{self, Format};
use crate::prompt;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Every account (admins).
    #[command(alias = "ls")]
    List,
    /// Make an account; its password is read from standard input.
    Add {
        username: String,
        /// Make an admin rather than a user.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Change an account's role, quota or password.
    Set {
        username: String,
        /// `admin` or `user`.
        #[arg(long)]
        role: Option<String>,
        /// Read a new password from standard input (ends the user's sessions).
        #[arg(long)]
        password: bool,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Delete an account (it must own no instances).
    #[command(alias = "rm")]
    Remove { username: String },
    /// Change your own password: the current one, then the new one, from standard input.
    Passwd,
}

/// Quota limits; each replaces the account's current value.
#[derive(Args, Default)]
pub struct QuotaArgs {
    #[arg(long)]
    pub max_instances: Option<u32>,
    /// Total cores over all instances.
    #[arg(long)]
    pub max_cpu: Option<f64>,
    /// Total memory, e.g. `8GiB`.
    #[arg(long)]
    pub max_memory: Option<String>,
    /// Total disk, e.g. `100GiB`.
    #[arg(long)]
    pub max_disk: Option<String>,
    #[arg(long)]
    pub max_snapshots: Option<u32>,
    #[arg(long)]
    pub max_forwards: Option<u32>,
    /// Host ports the user may forward from, `FIRST-LAST`.
    #[arg(long)]
    pub port_range: Option<String>,
}

impl QuotaArgs {
    fn is_empty(&self) -> bool {
        self.max_instances.is_none()
            && self.max_cpu.is_none()
            && self.max_memory.is_none()
            && self.max_disk.is_none()
            && self.max_snapshots.is_none()
            && self.max_forwards.is_none()
            && self.port_range.is_none()
    }

    /// The quota object, starting from `current` (so `set` changes only what is given).
    fn merged(&self, current: &Value) -> anyhow::Result<Value> {
        let mut quota: Map<String, Value> = current.as_object().cloned().unwrap_or_default();
        let mut put = |key: &str, value: Value| {
            quota.insert(key.to_owned(), value);
        };
        if let Some(n) = self.max_instances {
            put("instances", json!(n));
        }
        if let Some(cpu) = self.max_cpu {
            put("cpu", json!(cpu));
        }
        if let Some(text) = &self.max_memory {
            put("memory", json!(size("--max-memory", text)?));
        }
        if let Some(text) = &self.max_disk {
            put("disk", json!(size("--max-disk", text)?));
        }
        if let Some(n) = self.max_snapshots {
            put("snapshots", json!(n));
        }
        if let Some(n) = self.max_forwards {
            put("forwards", json!(n));
        }
        if let Some(text) = &self.port_range {
            let (first, last) = text
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
                .with_context(|| {
                    format!("--port-range {text:?}: give FIRST-LAST, e.g. 20000-20999")
                })?;
            put("port_range", json!([first, last]));
        }
        Ok(Value::Object(quota))
    }
}

fn size(flag: &str, text: &str) -> anyhow::Result<u64> {
    Ok(berth_types::units::parse_bytes(text, flag)?)
}

pub async fn run(ctx: &Context, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::List => {
            let users: Vec<Value> = ctx.client.get("/users").await?;
            if ctx.format == Format::Json {
                return output::json(&users);
            }
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    vec![
                        text(&u["username"]),
                        text(&u["role"]),
                        text(&u["created_at"]),
                        u["quota"].to_string(),
                    ]
                })
                .collect();
            output::table(&["USERNAME", "ROLE", "CREATED", "QUOTA"], &rows);
            Ok(())
        }
        UserCommand::Add {
            username,
            admin,
            quota,
        } => {
            let password = prompt::secret(&format!("Password for {username}"))?;
            let request = json!({
                "username": username,
                "password": password,
                "role": if admin { "admin" } else { "user" },
                "quota": quota.merged(&json!({}))?,
            });
            let user: Value = ctx.client.post("/users", &request).await?;
            done(ctx, &user, &format!("Created {username}"))
        }
        UserCommand::Set {
            username,
            role,
            password,
            quota,
        } => {
            let user = find(ctx, &username).await?;
            let mut request = Map::new();
            if let Some(role) = role {
                request.insert("role".into(), json!(role));
            }
            if !quota.is_empty() {
                request.insert("quota".into(), quota.merged(&user["quota"])?);
            }
            if password {
                let new = prompt::secret(&format!("New password for {username}"))?;
                request.insert("password".into(), json!(new));
            }
            if request.is_empty() {
                bail!("nothing to change: give --role, --password or a quota flag");
            }
            let id = text(&user["id"]);
            let user: Value = ctx
                .client
                .patch(&format!("/users/{id}"), &Value::Object(request))
                .await?;
            done(ctx, &user, &format!("Changed {username}"))
        }
        UserCommand::Remove { username } => {
            let user = find(ctx, &username).await?;
            let _: Value = ctx
                .client
                .delete(&format!("/users/{}", text(&user["id"])), &())
                .await?;
            done(
                ctx,
                &json!({"deleted": username}),
                &format!("Deleted {username}"),
            )
        }
        UserCommand::Passwd => {
            let current = prompt::secret("Current password")?;
            let new = prompt::secret("New password")?;
            let _: Value = ctx
                .client
                .post(
                    "/users/me/password",
                    &json!({"current_password": current, "new_password": new}),
                )
                .await?;
            done(
                ctx,
                &json!({"changed": true}),
                "Password changed; your other sessions have ended",
            )
        }
    }
}

async fn find(ctx: &Context, username: &str) -> anyhow::Result<Value> {
    let users: Vec<Value> = ctx.client.get("/users").await?;
    users
        .into_iter()
        .find(|u| u["username"] == username)
        .with_context(|| format!("no user {username}; `berth user list` shows them"))
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn done(ctx: &Context, value: &Value, message: &str) -> anyhow::Result<()> {
    match ctx.format {
        Format::Json => output::json(value),
        Format::Table => {
            println!("{message}");
            Ok(())
        }
    }
}
