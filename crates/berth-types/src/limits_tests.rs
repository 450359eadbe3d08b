//! Tests of instance limits: bounds by name, the host's capacity, merging.

use super::*;

#[test]
fn zero_memory_is_refused_by_name() {
    let limits = Limits {
        memory: Some(0),
        ..Limits::default()
    };
    assert_eq!(
        limits.validate().expect_err("0 bytes").field,
        "limits.memory"
    );
}

#[test]
fn fractions_of_cpu_are_fine() {
    assert!(
        Limits {
            cpu: Some(1.5),
            ..Limits::default()
        }
        .validate()
        .is_ok()
    );
    assert!(
        Limits {
            cpu: Some(0.0),
            ..Limits::default()
        }
        .validate()
        .is_err()
    );
    assert!(
        Limits {
            cpu: Some(f64::NAN),
            ..Limits::default()
        }
        .validate()
        .is_err()
    );
}

#[test]
fn every_field_is_bounded_above_and_below_by_name() {
    let one = |limits: Limits| limits.validate().map_err(|e| e.field);
    let d = Limits::default();
    for (limits, field) in [
        (
            Limits {
                memory: Some(u64::MAX),
                ..d
            },
            "limits.memory",
        ),
        (
            Limits {
                memory: Some(MAX_MEMORY + 1),
                ..d
            },
            "limits.memory",
        ),
        (
            Limits {
                disk: Some(u64::MAX),
                ..d
            },
            "limits.disk",
        ),
        (Limits { disk: Some(1), ..d }, "limits.disk"),
        (
            Limits {
                processes: Some(u64::MAX),
                ..d
            },
            "limits.processes",
        ),
        (
            Limits {
                processes: Some(1),
                ..d
            },
            "limits.processes",
        ),
        (
            Limits {
                cpu: Some(f64::INFINITY),
                ..d
            },
            "limits.cpu",
        ),
        (
            Limits {
                cpu: Some(1e308),
                ..d
            },
            "limits.cpu",
        ),
        (
            Limits {
                cpu: Some(-1.0),
                ..d
            },
            "limits.cpu",
        ),
    ] {
        assert_eq!(one(limits), Err(field.to_owned()), "{limits:?}");
    }
    let most = Limits {
        cpu: Some(MAX_CPU),
        memory: Some(MAX_MEMORY),
        disk: Some(MAX_DISK),
        processes: Some(MAX_PROCESSES),
    };
    assert_eq!(one(most), Ok(()));
    // A million instances at the most of everything still sum without overflow.
    assert!(MAX_DISK.checked_mul(1 << 13).is_some());
}

#[test]
fn what_the_host_cannot_hold_is_refused_by_name() {
    let host = HostCapacity {
        cpus: 2.0,
        memory: 24 << 30,
        disk: Some(100 << 30),
        processes: 4_194_304,
    };
    let d = Limits::default();
    let fit = |limits: Limits| limits.fit(&host).map_err(|e| e.field);
    assert_eq!(
        fit(Limits {
            cpu: Some(2.5),
            ..d
        }),
        Err("limits.cpu".into())
    );
    assert_eq!(
        fit(Limits {
            memory: Some(25 << 30),
            ..d
        }),
        Err("limits.memory".into())
    );
    assert_eq!(
        fit(Limits {
            disk: Some(101 << 30),
            ..d
        }),
        Err("limits.disk".into())
    );
    assert_eq!(
        fit(Limits {
            processes: Some(4_194_305),
            ..d
        }),
        Err("limits.processes".into())
    );
    assert_eq!(
        fit(Limits {
            cpu: Some(2.0),
            memory: Some(24 << 30),
            disk: Some(100 << 30),
            processes: Some(1000)
        }),
        Ok(())
    );
    let unknown_pool = HostCapacity { disk: None, ..host };
    assert!(
        Limits {
            disk: Some(MAX_DISK),
            ..d
        }
        .fit(&unknown_pool)
        .is_ok()
    );
}

#[test]
fn merge_keeps_unpatched_fields() {
    let base = Limits {
        cpu: Some(1.0),
        memory: Some(1 << 30),
        ..Limits::default()
    };
    let merged = base.merged(&Limits {
        memory: Some(2 << 30),
        ..Limits::default()
    });
    assert_eq!(merged.cpu, Some(1.0));
    assert_eq!(merged.memory, Some(2 << 30));
}
