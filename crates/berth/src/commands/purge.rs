//! `berth operation purge --before WHEN` and `berth audit purge --before WHEN` (admins): forget
//! ended operations or audit entries older than WHEN. WHEN is an RFC 3339 time, a date
//! (`2026-11-01`, midnight UTC) or an age (`90d`: older than 90 days).

use anyhow::Context as _;
use berth_types::purge::{PurgeRequest, PurgeResult};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use clap::Args;

use super::Context;
use crate::output::{self, Format};

#[derive(Args)]
pub struct PurgeArgs {
    /// Remove what is older than this: an RFC 3339 time (2026-11-01T00:00:00Z), a date
    /// (2026-11-01, midnight UTC) or an age (90d, 12h, 2w).
    #[arg(long, value_name = "WHEN")]
    pub before: String,
}

/// The cut-off `raw` names, `now` being now; the error names `--before`.
pub fn cutoff(raw: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return day
            .and_hms_opt(0, 0, 0)
            .map(|at| at.and_utc())
            .context("--before: not a day");
    }
    let age = berth_types::schedule::parse_duration(raw, "--before").map_err(|_| {
        anyhow::anyhow!(
            "--before: {raw:?} is neither a time (2026-11-01T00:00:00Z), a date (2026-11-01) \
             nor an age (90d, 12h, 2w)"
        )
    })?;
    Ok(now - age)
}

/// Purges `what` (`operations` or `audit`) and prints how many went.
pub async fn run(ctx: &Context, what: &str, args: PurgeArgs) -> anyhow::Result<()> {
    let before = cutoff(&args.before, Utc::now())?;
    let request = PurgeRequest {
        before: before.to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    let result: PurgeResult = ctx.client.post(&format!("/{what}/purge"), &request).await?;
    if ctx.format == Format::Json {
        return output::json(&result);
    }
    let noun = match what {
        "operations" => "ended operation(s)",
        _ => "audit entries",
    };
    println!(
        "removed {} {noun} older than {}",
        result.removed,
        result.before.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_takes_a_time_a_date_or_an_age() -> anyhow::Result<()> {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")?.with_timezone(&Utc);
        let at = |s: &str| cutoff(s, now).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        assert_eq!(at("2026-11-01T01:00:00+01:00")?, "2026-11-01T00:00:00Z");
        assert_eq!(at("2026-11-01")?, "2026-11-01T00:00:00Z");
        assert_eq!(at("90d")?, "2026-09-03T12:00:00Z");
        assert_eq!(at("12h")?, "2026-12-02T00:00:00Z");
        for bad in ["", "yesterday", "2026-13-01", "-5d"] {
            let err = cutoff(bad, now)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with("--before"), "{bad}: {err}");
        }
        Ok(())
    }
}
