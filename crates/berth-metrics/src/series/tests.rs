use super::*;

fn store(dir: &std::path::Path) -> SeriesStore {
    let conn = crate::db::open(&dir.join("berth.db")).expect("open");
    SeriesStore::new(conn, 10)
}

fn cpu(v: f64) -> MetricsPoint {
    MetricsPoint {
        cpu_percent: Some(v),
        memory_bytes: Some(1000.0),
        ..MetricsPoint::default()
    }
}

const T0: i64 = 1_764_615_600; // a multiple of 6 h

#[test]
fn raw_points_and_minute_rollup_avg_and_max() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let s = store(dir.path());
    let name = instance_series("web1");
    // Two minutes: cpu 0..5 then 10..15 (six samples each), then one sample that closes them.
    for i in 0..12 {
        let v = if i < 6 {
            i as f64
        } else {
            10.0 + (i - 6) as f64
        };
        s.record(T0 + i * 10, &[(name.clone(), cpu(v))])?;
    }
    s.record(T0 + 120, &[(name.clone(), cpu(50.0))])?;
    let now = T0 + 125;
    let hour = s.history(&name, Timeframe::Hour, Cf::Avg, now)?;
    assert_eq!(hour.resolution, 10);
    assert_eq!(hour.points.len(), 360);
    let last = hour.points.last().ok_or("no points")?;
    assert_eq!((last.time, last.cpu_percent), (T0 + 120, Some(50.0)));
    assert_eq!(hour.points[hour.points.len() - 14].cpu_percent, None);

    let day = s.history(&name, Timeframe::Day, Cf::Avg, now)?;
    assert_eq!((day.resolution, day.points.len()), (60, 1440));
    let n = day.points.len();
    assert_eq!(day.points[n - 3].cpu_percent, Some(2.5));
    assert_eq!(day.points[n - 2].cpu_percent, Some(12.5));
    assert_eq!(day.points[n - 2].memory_bytes, Some(1000.0));
    // The open minute comes from the accumulator.
    assert_eq!(day.points[n - 1].cpu_percent, Some(50.0));
    let day_max = s.history(&name, Timeframe::Day, Cf::Max, now)?;
    assert_eq!(day_max.points[n - 3].cpu_percent, Some(5.0));
    assert_eq!(day_max.points[n - 2].cpu_percent, Some(15.0));
    // Week and month share the 30-minute tier; the open bucket holds everything so far.
    let week = s.history(&name, Timeframe::Week, Cf::Max, now)?;
    assert_eq!((week.resolution, week.points.len()), (1800, 336));
    assert_eq!(week.points.last().and_then(|p| p.cpu_percent), Some(50.0));
    let year = s.history(&name, Timeframe::Year, Cf::Avg, now)?;
    assert_eq!((year.resolution, year.points.len()), (21_600, 1460));
    let avg = (15.0 + 75.0 + 50.0) / 13.0;
    let got = year
        .points
        .last()
        .and_then(|p| p.cpu_percent)
        .ok_or("no year point")?;
    assert!((got - avg).abs() < 0.001, "{got} vs {avg}");
    Ok(())
}

#[test]
fn open_buckets_survive_a_restart() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let name = instance_series("web1");
    {
        let s = store(dir.path());
        // 3 minutes of cpu 20, all in one 30-minute bucket.
        for i in 0..18 {
            s.record(T0 + i * 10, &[(name.clone(), cpu(20.0))])?;
        }
    }
    let s = store(dir.path());
    s.record(T0 + 180, &[(name.clone(), cpu(80.0))])?;
    let week = s.history(&name, Timeframe::Week, Cf::Avg, T0 + 185)?;
    let got = week
        .points
        .last()
        .and_then(|p| p.cpu_percent)
        .ok_or("no point")?;
    let want = (18.0 * 20.0 + 80.0) / 19.0;
    assert!((got - want).abs() < 0.001, "{got} vs {want}");
    let max = s.history(&name, Timeframe::Year, Cf::Max, T0 + 185)?;
    assert_eq!(max.points.last().and_then(|p| p.cpu_percent), Some(80.0));
    Ok(())
}

#[test]
fn retention_and_forgotten_series() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let s = store(dir.path());
    let a = instance_series("a");
    let b = instance_series("b");
    for i in 0..400 {
        s.record(T0 + i * 10, &[(a.clone(), cpu(1.0)), (b.clone(), cpu(2.0))])?;
    }
    let now = T0 + 4000;
    let deleted = s.prune(now, |name| name != b)?;
    // b entirely (400 raw + 66 minute rows), and a's raw rows older than 1 h + 60 s.
    assert!(deleted > 466, "{deleted}");
    let hist = s.history(&b, Timeframe::Hour, Cf::Avg, now)?;
    assert!(hist.points.iter().all(|p| p.cpu_percent.is_none()));
    let hist = s.history(&a, Timeframe::Day, Cf::Avg, now)?;
    assert_eq!(
        hist.points
            .iter()
            .filter(|p| p.cpu_percent.is_some())
            .count(),
        67
    );
    assert!(s.forget(&a)?);
    assert!(!s.forget(&a)?);
    let hist = s.history(&a, Timeframe::Day, Cf::Avg, now)?;
    assert!(hist.points.iter().all(|p| p.cpu_percent.is_none()));
    // A new series of the same name starts empty.
    s.record(now, &[(a.clone(), cpu(9.0))])?;
    let hist = s.history(&a, Timeframe::Year, Cf::Max, now)?;
    let values: Vec<f64> = hist.points.iter().filter_map(|p| p.cpu_percent).collect();
    assert_eq!(values, [9.0]);
    Ok(())
}

#[test]
fn an_open_bucket_shows_even_when_the_clock_moved_past_it() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    let s = store(dir.path());
    let name = instance_series("web1");
    s.record(T0 + 10, &[(name.clone(), cpu(7.0))])?;
    // Two minutes later with no new sample: the minute is still open, and shown.
    let day = s.history(&name, Timeframe::Day, Cf::Avg, T0 + 130)?;
    let n = day.points.len();
    assert_eq!(day.points[n - 3].time, T0);
    assert_eq!(day.points[n - 3].cpu_percent, Some(7.0));
    Ok(())
}
