//! Interactive sessions on an instance (`GET /instances/{name}/console`): the guest's own
//! console (its getty on /dev/console, shared by every viewer), a root shell, or a given
//! command on a pseudo-terminal inside the guest (one session per viewer).

use berth_runtime::{Runtime, TerminalSession, TerminalSpec};
use berth_types::FieldError;
use berth_types::api::ConsoleQuery;

use super::error::error_chain;
use super::{App, AppError};
use crate::app::Principal;
use crate::app::access::Want;

impl App {
    /// Starts the session `query` asks for; bad parameters are 400s naming the field.
    pub async fn open_console(
        &self,
        caller: &Principal,
        name: &str,
        query: &ConsoleQuery,
    ) -> Result<TerminalSession, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        let not_running = |e: berth_runtime::RuntimeError| match e {
            berth_runtime::RuntimeError::NotRunning(_) => {
                AppError::Conflict(format!("instance {name} is not running; start it first"))
            }
            other @ (berth_runtime::RuntimeError::Unreachable { .. }
            | berth_runtime::RuntimeError::Unsupported { .. }) => {
                AppError::runtime("console", other)
            }
            other => AppError::Unavailable(error_chain(&other)),
        };
        let argv = match query.mode.as_deref().unwrap_or("console") {
            "console" => {
                let runtime = self.runtime(&record.backend)?;
                let session = runtime
                    .attach_console(&record.name)
                    .await
                    .map_err(not_running)?;
                tracing::info!(instance = %record.name, "console viewer attached");
                return Ok(session);
            }
            "shell" => vec!["/bin/bash".to_owned(), "-l".to_owned()],
            "exec" => {
                let raw = query.command.as_deref().ok_or_else(|| {
                    FieldError::new("command", "mode=exec needs command=[\"argv\", …] (JSON)")
                })?;
                let argv: Vec<String> = serde_json::from_str(raw).map_err(|_| {
                    FieldError::new("command", "not a JSON array of strings, e.g. [\"top\"]")
                })?;
                if argv.is_empty() {
                    return Err(FieldError::new("command", "is empty").into());
                }
                argv
            }
            other => {
                return Err(FieldError::new(
                    "mode",
                    format!("{other:?} is not a mode; use console, shell or exec"),
                )
                .into());
            }
        };
        let spec = TerminalSpec {
            argv,
            env: vec![
                (
                    "TERM".into(),
                    query
                        .term
                        .clone()
                        .unwrap_or_else(|| "xterm-256color".into()),
                ),
                ("HOME".into(), "/root".into()),
                ("USER".into(), "root".into()),
                ("LANG".into(), "C.UTF-8".into()),
            ],
            cwd: Some("/root".into()),
            rows: query.rows.unwrap_or(24),
            cols: query.cols.unwrap_or(80),
        };
        let runtime = self.runtime(&record.backend)?;
        let session = runtime
            .open_terminal(&record.name, &spec)
            .await
            .map_err(not_running)?;
        tracing::info!(instance = %record.name, argv = ?spec.argv, "terminal opened");
        Ok(session)
    }
}
