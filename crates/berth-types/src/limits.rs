//! Resource limits of an instance: cpu cores, memory, disk and processes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;
use crate::units::format_bytes;

/// Smallest memory limit a systemd guest boots in.
pub const MIN_MEMORY: u64 = 64 << 20;
/// Smallest disk limit that holds a minimal Debian root filesystem.
pub const MIN_DISK: u64 = 512 << 20;
/// Fewest processes a systemd guest needs to boot.
pub const MIN_PROCESSES: u64 = 32;

/// Limits; an absent field means "no limit".
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU cores; fractions allowed (1.5 = one and a half cores of time per period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.01, maximum = 1024)]
    pub cpu: Option<f64>,
    /// Memory in bytes (RAM; swap is capped to the same amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 67108864)]
    pub memory: Option<u64>,
    /// Root filesystem size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 536870912)]
    pub disk: Option<u64>,
    /// Maximum number of processes (tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 32)]
    pub processes: Option<u64>,
}

impl Limits {
    /// Checks every field; the error names the first bad one as `limits.<field>`.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(cpu) = self.cpu
            && !(cpu.is_finite() && (0.01..=1024.0).contains(&cpu))
        {
            {
                return Err(FieldError::new(
                    "limits.cpu",
                    format!("{cpu} is out of range; give cores between 0.01 and 1024"),
                ));
            }
        }
        if let Some(memory) = self.memory
            && memory < MIN_MEMORY
        {
            {
                return Err(FieldError::new(
                    "limits.memory",
                    format!(
                        "{} is too little; give at least {}",
                        format_bytes(memory),
                        format_bytes(MIN_MEMORY)
                    ),
                ));
            }
        }
        if let Some(disk) = self.disk
            && disk < MIN_DISK
        {
            {
                return Err(FieldError::new(
                    "limits.disk",
                    format!(
                        "{} is too little; give at least {}",
                        format_bytes(disk),
                        format_bytes(MIN_DISK)
                    ),
                ));
            }
        }
        if let Some(processes) = self.processes
            && processes < MIN_PROCESSES
        {
            {
                return Err(FieldError::new(
                    "limits.processes",
                    format!(
                        "{processes} is too few for systemd to boot; give at least {MIN_PROCESSES}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `self` with every field present in `patch` replaced.
    pub fn merged(&self, patch: &Limits) -> Limits {
        Limits {
            cpu: patch.cpu.or(self.cpu),
            memory: patch.memory.or(self.memory),
            disk: patch.disk.or(self.disk),
            processes: patch.processes.or(self.processes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_memory_is_refused_by_name() {
        let limits = Limits {
            memory: Some(0),
            ..Limits::default()
        };
        let err = limits.validate().expect_err("0 bytes");
        assert_eq!(err.field, "limits.memory");
        assert_eq!(err.message, "0B is too little; give at least 64MiB");
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
}
