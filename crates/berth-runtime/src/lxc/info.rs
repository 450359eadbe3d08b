//! Reading LXC's tools' answers: `lxc-info` states, the message of a failed tool, the errors
//! of LXC's log.

use std::path::Path;

use crate::{ExecResult, RuntimeStatus};

/// `lxc-start: exited 1: <its last stderr line>`.
pub(super) fn tool_message(tool: &str, out: &ExecResult) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    format!("{tool} exited {}: {}", out.exit_code, last.trim())
}

/// Parses `lxc-info -s -p` output: `State: RUNNING` and `PID: 123`.
pub(super) fn parse_info(text: &str) -> RuntimeStatus {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_owned())
    };
    let pid = field("PID:").and_then(|p| p.parse().ok());
    match (field("State:").as_deref(), pid) {
        (Some("RUNNING"), Some(pid)) => RuntimeStatus::Running { pid },
        (Some("FROZEN" | "FREEZING"), Some(pid)) => RuntimeStatus::Frozen { pid },
        _ => RuntimeStatus::Stopped,
    }
}

/// The last lines of LXC's log, for a failed start.
pub(super) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    let tail: Vec<&str> = errors.iter().rev().take(3).rev().copied().collect();
    tail.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_output_maps_to_status() {
        assert_eq!(
            parse_info("State:          RUNNING\nPID:            42\n"),
            RuntimeStatus::Running { pid: 42 }
        );
        assert_eq!(
            parse_info("State:          FROZEN\nPID:            42\n"),
            RuntimeStatus::Frozen { pid: 42 }
        );
        assert_eq!(
            parse_info("State:          STOPPED\n"),
            RuntimeStatus::Stopped
        );
    }
}
