//! When scheduled work runs: `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, or a
//! five-field cron expression (`minute hour day-of-month month day-of-week`, with `*`, lists,
//! ranges and `/step`), in UTC; and durations such as `7d` for expiries.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

use crate::FieldError;

/// A parsed schedule: the allowed values of each cron field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Both day fields restricted: cron runs when either matches.
    day_or: bool,
}

fn field_bits(raw: &str, min: u32, max: u32, what: &str) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in raw.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{what} step {step:?} is not a positive number"))?;
                (range, step)
            }
            None => (part, 1),
        };
        let number = |text: &str| -> Result<u32, String> {
            text.parse::<u32>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| format!("{what} {text:?} is not {min}-{max}"))
        };
        let (low, high) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(range)?, max),
                None => (number(range)?, number(range)?),
            },
        };
        if low > high {
            return Err(format!("{what} range {range:?} runs backwards"));
        }
        for value in (low..=high).step_by(step as usize) {
            bits |= 1 << value;
        }
    }
    Ok(bits)
}

impl Schedule {
    /// Parses `raw`; errors name `field` and say what a valid schedule looks like.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let expanded = match raw.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let bad = |why: String| {
            FieldError::new(
                field,
                format!(
                    "{raw:?}: {why}; use @hourly, @daily, @weekly, @monthly or cron \"M H DoM Mon DoW\""
                ),
            )
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = parts.as_slice() else {
            return Err(bad(format!("has {} fields, not 5", parts.len())));
        };
        let weekdays = field_bits(weekday, 0, 7, "day of week").map_err(bad)?;
        Ok(Self {
            minutes: field_bits(minute, 0, 59, "minute").map_err(bad)?,
            hours: field_bits(hour, 0, 23, "hour").map_err(bad)? as u32,
            days: field_bits(day, 1, 31, "day of month").map_err(bad)? as u32,
            months: field_bits(month, 1, 12, "month").map_err(bad)? as u16,
            // 7 is Sunday too.
            weekdays: ((weekdays | (weekdays >> 7)) & 0x7f) as u8,
            day_or: *day != "*" && *weekday != "*",
        })
    }

    fn day_matches(&self, at: DateTime<Utc>) -> bool {
        let dom = self.days & (1 << at.day()) != 0;
        let dow = self.weekdays & (1 << at.weekday().num_days_from_sunday()) != 0;
        if self.day_or { dom || dow } else { dom && dow }
    }

    /// The first minute strictly after `after` that the schedule matches; `None` when none
    /// comes within eight years (`0 0 31 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut at = start;
        let limit = start + Duration::days(366 * 8);
        while at < limit {
            if self.months & (1 << at.month()) == 0 || !self.day_matches(at) {
                let next_day = at.date_naive().succ_opt()?.and_hms_opt(0, 0, 0)?;
                at = Utc.from_utc_datetime(&next_day);
                continue;
            }
            if self.hours & (1 << at.hour()) == 0 {
                at = at.with_minute(0)? + Duration::hours(1);
                continue;
            }
            if self.minutes & (1 << at.minute()) != 0 {
                return Some(at);
            }
            at += Duration::minutes(1);
        }
        None
    }
}

/// Parses `30m`, `12h`, `7d`, `2w` (a number and a unit); errors name `field`.
pub fn parse_duration(raw: &str, field: &str) -> Result<Duration, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            format!("{raw:?} is not a duration; use a number with m, h, d or w, e.g. 7d"),
        )
    };
    let raw = raw.trim();
    // The unit is the last character, whatever its width (`7ç` must not split inside it).
    let split = raw.char_indices().last().map(|(i, _)| i).ok_or_else(bad)?;
    let (number, unit) = raw.split_at(split);
    let number: i64 = number.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let minutes = match unit {
        "m" => 1,
        "h" => 60,
        "d" => 60 * 24,
        "w" => 60 * 24 * 7,
        _ => return Err(bad()),
    };
    number
        .checked_mul(minutes)
        .filter(|m| *m <= 60 * 24 * 366 * 100)
        .map(Duration::minutes)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_wide_characters_are_refused_not_a_panic() {
        for raw in ["ç", "7ç", "çd", "1\u{1F600}", "", " "] {
            assert!(parse_duration(raw, "expires_in").is_err(), "{raw:?}");
        }
        assert_eq!(parse_duration("7d", "x").ok(), Some(Duration::days(7)));
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn next(schedule: &str, after: &str) -> String {
        Schedule::parse(schedule, "s")
            .ok()
            .and_then(|s| s.next_after(at(after)))
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn macros_and_cron_find_the_next_minute() {
        assert_eq!(
            next("@daily", "2026-11-22T08:30:10Z"),
            "2026-11-23T00:00:00+00:00"
        );
        assert_eq!(
            next("@hourly", "2026-11-22T08:00:00Z"),
            "2026-11-22T09:00:00+00:00"
        );
        assert_eq!(
            next("@weekly", "2026-11-22T08:00:00Z"),
            "2026-11-29T00:00:00+00:00"
        );
        assert_eq!(
            next("@monthly", "2026-11-22T08:00:00Z"),
            "2026-12-01T00:00:00+00:00"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-11-22T08:07:00Z"),
            "2026-11-22T08:15:00+00:00"
        );
        assert_eq!(
            next("30 2 * * 1-5", "2026-11-21T03:00:00Z"),
            "2026-11-23T02:30:00+00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00+00:00"
        );
        assert_eq!(
            next("0 12 * * 7", "2026-11-22T13:00:00Z"),
            "2026-11-29T12:00:00+00:00"
        );
        // Both day fields: either matches (the 1st, or any Monday).
        assert_eq!(
            next("0 0 1 * 1", "2026-11-22T00:00:00Z"),
            "2026-11-23T00:00:00+00:00"
        );
        assert_eq!(next("0 0 31 2 *", "2026-01-01T00:00:00Z"), "");
    }

    #[test]
    fn bad_schedules_name_the_field() {
        for raw in [
            "",
            "daily",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@never",
            "a b c d e",
        ] {
            let err = Schedule::parse(raw, "snapshots.schedule").expect_err(raw);
            assert_eq!(err.field, "snapshots.schedule", "{raw}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d", "e").ok(), Some(Duration::days(7)));
        assert_eq!(parse_duration("90m", "e").ok(), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("2w", "e").ok(), Some(Duration::weeks(2)));
        for raw in ["", "d", "0d", "-1d", "7", "7y", "1.5d", "99999999999w"] {
            assert!(parse_duration(raw, "e").is_err(), "{raw}");
        }
    }
}
