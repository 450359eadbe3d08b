//! Following a PVE task (UPID) to its end: status and new log lines are polled, each line is
//! handed to the caller with a progress estimate, and a failed task's exit status is the error.

use std::time::Duration;

use super::{Client, ProxmoxError};
use crate::upid::Upid;

/// What the caller hears while a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskProgress {
    /// 0–100, estimated from the log lines PVE writes for this kind of task.
    pub percent: u8,
    /// The newest log line.
    pub line: String,
}

/// Consecutive unanswered polls tolerated before the task is given up as unreachable.
const MISSED_POLLS: u32 = 3;

/// How far a known task log line gets a task (PVE's own wording).
fn milestone(line: &str) -> Option<u8> {
    const MARKS: &[(&str, u8)] = &[
        ("extracting archive", 20),
        ("Total bytes read", 60),
        ("Detected container architecture", 70),
        ("Creating SSH host key", 80),
        ("Setting up", 75),
        ("starting", 50),
        ("stopping", 50),
        ("TASK OK", 100),
    ];
    MARKS
        .iter()
        .find(|(needle, _)| line.contains(needle))
        .map(|(_, p)| *p)
}

impl Client {
    /// Polls `upid` every `interval` until it stops; `Ok` when PVE says `OK` (or warnings).
    pub async fn wait_task(
        &self,
        upid: &Upid,
        interval: Duration,
        mut progress: impl FnMut(TaskProgress),
    ) -> Result<(), ProxmoxError> {
        let mut next_line = 0u64;
        let mut percent = 5u8;
        let mut missed = 0u32;
        loop {
            let status = match self.task_status(upid).await {
                Ok(status) => {
                    missed = 0;
                    status
                }
                Err(err) if err.is_unreachable() && missed + 1 < MISSED_POLLS => {
                    missed += 1;
                    tracing::debug!(task = %upid, error = %err, "task poll unanswered; retrying");
                    tokio::time::sleep(interval).await;
                    continue;
                }
                Err(err) => return Err(err),
            };
            // Read whatever the log gained since the last poll (also after the end).
            if let Ok(lines) = self.task_log(upid, next_line, 500).await {
                for line in lines {
                    next_line = next_line.max(line.n);
                    percent = milestone(&line.t)
                        .unwrap_or(percent.saturating_add(2))
                        .clamp(percent, 99);
                    progress(TaskProgress {
                        percent,
                        line: line.t,
                    });
                }
            }
            if status.status != "running" {
                let exit = status.exitstatus.unwrap_or_else(|| "unknown".into());
                if exit == "OK" || exit.starts_with("WARNINGS") {
                    progress(TaskProgress {
                        percent: 100,
                        line: format!("TASK {exit}"),
                    });
                    return Ok(());
                }
                return Err(ProxmoxError::TaskFailed {
                    upid: upid.to_string(),
                    exitstatus: exit,
                });
            }
            tokio::time::sleep(interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::milestone;

    #[test]
    fn known_lines_map_to_progress() {
        assert_eq!(
            milestone("extracting archive '/var/lib/vz/template/cache/debian-12.tar.zst'"),
            Some(20)
        );
        assert_eq!(milestone("TASK OK"), Some(100));
        assert_eq!(milestone("something else"), None);
    }
}
