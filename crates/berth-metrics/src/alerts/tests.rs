use super::*;
use berth_types::metrics::{AlertRuleCreate, MetricsPoint};

fn engine(dir: &std::path::Path) -> AlertEngine {
    let conn = crate::db::open(&dir.join("berth.db")).expect("open");
    AlertEngine::new(AlertStore::new(conn))
}

fn sample(cpu: f64) -> InstanceSample {
    InstanceSample {
        name: "web1".into(),
        owner: "alice".into(),
        point: MetricsPoint {
            cpu_percent: Some(cpu),
            ..MetricsPoint::default()
        },
        cpu_limit: Some(2.0),
        cpu_seconds_total: 0.0,
        net: None,
        uptime_seconds: None,
    }
}

#[test]
fn fires_after_the_for_duration_resolves_and_throttles() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let e = engine(dir.path());
    assert!(e.store.seed(&rules::defaults("admin"))?);
    assert!(!e.store.seed(&rules::defaults("admin"))?);
    assert_eq!(e.store.rules()?.len(), 3);
    let admin = |u: &str| u == "admin";
    // 190 % of one core on a 2-core limit = 95 % of the limit: above 90 %.
    let mut fired = Vec::new();
    for t in (0..=300).step_by(10) {
        fired.extend(e.evaluate(1000 + t, &[sample(190.0)], &admin)?);
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].event.time, 1300);
    assert_eq!(fired[0].event.state, AlertState::Firing);
    assert!(fired[0].event.notified);
    assert_eq!(fired[0].event.value, 95.0);
    // Still high: nothing new. Then it drops: resolved, notified (the firing was).
    assert!(e.evaluate(1310, &[sample(190.0)], &admin)?.is_empty());
    let resolved = e.evaluate(1320, &[sample(10.0)], &admin)?;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].event.state, AlertState::Resolved);
    assert!(resolved[0].event.notified);
    // Fires again 10 minutes later: recorded, but throttled (within the hour).
    let mut again = Vec::new();
    for t in (1400..=1700).step_by(10) {
        again.extend(e.evaluate(t, &[sample(190.0)], &admin)?);
    }
    assert_eq!(again.len(), 1);
    assert!(!again[0].event.notified);
    let resolved = e.evaluate(1710, &[sample(10.0)], &admin)?;
    assert!(!resolved[0].event.notified);
    let events = e.store.events(Some("admin"), 10)?;
    assert_eq!(events.len(), 4);
    assert!(events[0].id > events[3].id);
    assert!(e.store.events(Some("alice"), 10)?.is_empty());
    Ok(())
}

#[test]
fn users_rules_see_only_their_instances() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let e = engine(dir.path());
    let body = AlertRuleCreate {
        metric: "cpu_percent".into(),
        threshold: 10.0,
        for_seconds: Some(0),
        ..AlertRuleCreate::default()
    };
    e.store.insert(&rules::create("bob", &body)?, 1)?;
    e.store.insert(&rules::create("alice", &body)?, 2)?;
    let fired = e.evaluate(5, &[sample(50.0)], &|_| false)?;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].rule.owner, "alice");
    Ok(())
}
