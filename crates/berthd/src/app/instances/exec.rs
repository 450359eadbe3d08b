//! Running a command inside a running instance and returning its exit code and output.

use std::time::Duration;

use berth_runtime::{ExecSpec, Runtime, RuntimeError};
use berth_types::FieldError;
use berth_types::api::{ExecRequest, ExecResponse};

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::{App, AppError};

/// Bytes kept of stdout and of stderr each.
const OUTPUT_CAP: usize = 8 << 20;
const DEFAULT_TIMEOUT: u64 = 60;
const MAX_TIMEOUT: u64 = 24 * 3600;

impl App {
    pub async fn exec_instance(
        &self,
        caller: &Principal,
        name: &str,
        request: ExecRequest,
    ) -> Result<ExecResponse, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        if request.command.is_empty() || request.command[0].is_empty() {
            return Err(FieldError::new(
                "command",
                "give the program and its arguments, e.g. [\"uname\", \"-a\"]",
            )
            .into());
        }
        let timeout = request.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout == 0 || timeout > MAX_TIMEOUT {
            return Err(FieldError::new(
                "timeout",
                format!("{timeout} is out of range; give 1 to {MAX_TIMEOUT} seconds"),
            )
            .into());
        }
        let argv = match request.user.as_deref() {
            None | Some("root") | Some("0") => request.command,
            Some(user) => as_user(user)?.into_iter().chain(request.command).collect(),
        };
        let runtime = self.runtime(&record.backend)?;
        let spec = ExecSpec {
            argv,
            env: request.env,
            cwd: request.cwd,
            stdin: request.stdin.map(String::into_bytes),
            timeout: Duration::from_secs(timeout),
            output_cap: OUTPUT_CAP,
        };
        let result = runtime
            .exec(&record.name, &spec)
            .await
            .map_err(|err| match err {
                RuntimeError::NotRunning(_) => {
                    AppError::Conflict(format!("instance {name} is not running; start it first"))
                }
                RuntimeError::CommandNotFound(cmd) => AppError::Invalid(FieldError::new(
                    "command",
                    format!("{cmd:?} was not found in the instance"),
                )),
                RuntimeError::ExecTimeout(secs) => {
                    AppError::Conflict(format!("the command was killed after {secs} s (timeout)"))
                }
                other => AppError::runtime("exec", other),
            })?;
        Ok(ExecResponse {
            exit_code: result.exit_code,
            stdout: String::from_utf8_lossy(&result.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&result.stderr).into_owned(),
            truncated: result.truncated,
        })
    }
}

/// The prefix that runs a command as `user` inside the guest (util-linux, in every image):
/// `runuser -u NAME --` for a name (with its groups), `setpriv` for a bare uid.
fn as_user(user: &str) -> Result<Vec<String>, FieldError> {
    if let Ok(uid) = user.parse::<u32>() {
        return Ok(vec![
            "setpriv".into(),
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".into(),
            "--".into(),
        ]);
    }
    let valid = user.len() <= 32
        && user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && user
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Err(FieldError::new(
            "user",
            format!("{user:?} is not a user name or uid"),
        ));
    }
    Ok(vec![
        "runuser".into(),
        "-u".into(),
        user.into(),
        "--".into(),
    ])
}
