//! Tests of quotas and the reservation ledger, including a race of many creators.

use std::sync::{Arc, Barrier};

use super::*;
use crate::Role;
use crate::db::temp_db;

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

fn instance(cpu: f64, memory: u64) -> Usage {
    Usage {
        instances: 1,
        cpu,
        memory,
        ..Usage::default()
    }
}

#[test]
fn reserve_release_resize_and_limits() -> Result {
    let (_dir, db) = temp_db();
    let quota = Quota {
        instances: Some(2),
        cpu: Some(1.5),
        memory: Some(1 << 30),
        ..Quota::default()
    };
    let alice = db.create_user("alice", "correct horse", Role::User, quota)?;
    db.reserve(alice.id, "instance:a", &instance(0.5, 512 << 20))?;
    db.reserve(alice.id, "instance:b", &instance(0.5, 256 << 20))?;
    assert_eq!(
        db.usage(alice.id)?,
        Usage {
            instances: 2,
            cpu: 1.0,
            memory: 768 << 20,
            ..Usage::default()
        }
    );
    let err = db
        .reserve(alice.id, "instance:c", &instance(0.1, 1))
        .expect_err("third");
    assert!(
        matches!(
            err,
            QuotaError::Exceeded {
                resource: "instances",
                ..
            }
        ),
        "{err}"
    );
    // Resizing replaces: b may grow to 1.0 cpu (total 1.5) but not to 1.1.
    db.reserve(alice.id, "instance:b", &instance(1.0, 256 << 20))?;
    let err = db
        .reserve(alice.id, "instance:b", &instance(1.1, 256 << 20))
        .expect_err("cpu");
    assert_eq!(
        err.to_string(),
        "quota exceeded: cpu would be 1.6, the limit is 1.5"
    );
    // Sizes read as sizes.
    let err = db
        .reserve(alice.id, "instance:b", &instance(0.5, 1 << 30))
        .expect_err("memory");
    assert_eq!(
        err.to_string(),
        "quota exceeded: memory would be 1.5GiB, the limit is 1GiB"
    );
    assert!(db.release(alice.id, "instance:b")?);
    assert!(!db.release(alice.id, "instance:b")?);
    db.reserve(alice.id, "instance:c", &instance(1.0, 512 << 20))?;
    // A lowered quota does not stop shrinking.
    db.set_quota(
        alice.id,
        Quota {
            cpu: Some(0.5),
            ..quota
        },
    )?;
    db.reserve(alice.id, "instance:c", &instance(0.5, 512 << 20))?;
    assert!(matches!(
        db.reserve(Uuid::new_v4(), "instance:x", &instance(0.1, 1)),
        Err(QuotaError::NoSuchUser)
    ));
    Ok(())
}

#[test]
fn instances_must_give_the_limits_their_quota_caps() {
    let limits = Limits {
        cpu: Some(1.5),
        memory: Some(1 << 30),
        ..Limits::default()
    };
    assert_eq!(Usage::instance(&limits), instance(1.5, 1 << 30));
    assert!(Quota::default().require_limits(&Limits::default()).is_ok());
    let quota = Quota {
        disk: Some(1 << 40),
        ..Quota::default()
    };
    assert_eq!(
        quota.require_limits(&limits).map_err(|e| e.field),
        Err("limits.disk".into())
    );
}

#[test]
fn ports_and_quota_validation() {
    let quota = Quota {
        port_range: Some((10000, 10100)),
        ..Quota::default()
    };
    assert!(quota.check_port(10000).is_ok() && quota.check_port(10100).is_ok());
    assert!(matches!(
        quota.check_port(22),
        Err(QuotaError::PortOutsideRange { port: 22, .. })
    ));
    assert!(Quota::default().check_port(22).is_ok());
    assert_eq!(
        Quota {
            cpu: Some(f64::NAN),
            ..Quota::default()
        }
        .validate()
        .map_err(|e| e.field),
        Err("quota.cpu".into())
    );
    assert!(
        Quota {
            port_range: Some((0, 10)),
            ..Quota::default()
        }
        .validate()
        .is_err()
    );
}

#[test]
fn concurrent_creates_cannot_pass_the_limit() -> Result {
    let (dir, db) = temp_db();
    let quota = Quota {
        instances: Some(5),
        memory: Some(10 << 20),
        ..Quota::default()
    };
    let alice = db.create_user("alice", "correct horse", Role::User, quota)?;
    let shared = Arc::new(db);
    let path = dir.path().join("berth.db");
    let threads = 24;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let barrier = barrier.clone();
            let shared = shared.clone();
            let path = path.clone();
            std::thread::spawn(move || -> std::result::Result<bool, String> {
                // Half share one handle, half race through their own connections.
                let own;
                let db = if i % 2 == 0 {
                    &*shared
                } else {
                    own = AuthDb::open(&path).map_err(|e| e.to_string())?;
                    &own
                };
                barrier.wait();
                match db.reserve(alice.id, &format!("instance:{i}"), &instance(0.1, 1 << 20)) {
                    Ok(()) => Ok(true),
                    Err(QuotaError::Exceeded { .. }) => Ok(false),
                    Err(e) => Err(e.to_string()),
                }
            })
        })
        .collect();
    let mut granted = 0;
    for handle in handles {
        if handle.join().map_err(|_| "thread panicked")?? {
            granted += 1;
        }
    }
    assert_eq!(granted, 5);
    assert_eq!(shared.usage(alice.id)?.instances, 5);
    Ok(())
}

#[test]
fn sums_that_would_overflow_never_fail() -> Result {
    let (_dir, db) = temp_db();
    let unlimited = db.create_user("bob", "correct horse", Role::User, Quota::default())?;
    // Each fits a 64-bit integer, their sum does not: SQLite's SUM failed here (a 500 on
    // every later call of the owner).
    for target in ["instance:a", "instance:b", "instance:c"] {
        db.reserve(unlimited.id, target, &instance(1.0, 1 << 62))?;
    }
    assert_eq!(db.usage(unlimited.id)?.memory, 3 << 62);
    let capped = Quota {
        memory: Some(1 << 40),
        ..Quota::default()
    };
    let carol = db.create_user("carol", "correct horse", Role::User, capped)?;
    db.reserve(carol.id, "instance:a", &instance(1.0, 1 << 30))?;
    let over = db.reserve(carol.id, "instance:b", &instance(1.0, u64::MAX));
    assert!(
        matches!(
            over,
            Err(QuotaError::Exceeded {
                resource: "memory",
                ..
            })
        ),
        "{over:?}"
    );
    assert_eq!(db.usage(carol.id)?.memory, 1 << 30);
    // Absurd quotas are refused by name.
    let absurd = Quota {
        memory: Some(u64::MAX),
        ..Quota::default()
    };
    assert_eq!(
        absurd.validate().map_err(|e| e.field),
        Err("quota.memory".to_owned())
    );
    Ok(())
}
