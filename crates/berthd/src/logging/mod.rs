//! Logging setup: `tracing` to standard error, or to a size-rotated file (`[log] file`),
//! filtered by `BERTH_LOG` (default `info`).

mod rotate;

pub use rotate::RotatingFile;

use crate::config::LogConfig;

/// Logs to standard error (before the configuration is known, or when it names no file).
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Logs where `[log]` says; a file that cannot be opened is reported and standard error used.
pub fn init_with(config: &LogConfig) {
    let Some(path) = config.path() else {
        return init();
    };
    let max_age = std::time::Duration::from_secs(u64::from(config.max_age_days) * 86_400);
    match RotatingFile::open(path, config.max_bytes(), config.keep, max_age) {
        Ok(file) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_ansi(false)
                .with_writer(file)
                .try_init();
        }
        Err(e) => {
            eprintln!(
                "berthd: cannot open the log file {}: {e}; logging to standard error",
                path.display()
            );
            init();
        }
    }
}

fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}
