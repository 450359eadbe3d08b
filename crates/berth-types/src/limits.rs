//! Resource limits of an instance: cpu cores, memory, disk and processes. Every value is
//! bounded twice: by what any machine could hold ([`Limits::validate`], so sums of them cannot
//! overflow), and by what this host holds ([`Limits::fit`], checked where the guest would run).

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
/// The most cores any instance may have.
pub const MAX_CPU: f64 = 1024.0;
/// The most memory any instance may have: 16 TiB.
pub const MAX_MEMORY: u64 = 16 << 40;
/// The largest disk any instance may have: 1 PiB.
pub const MAX_DISK: u64 = 1 << 50;
/// The most processes any instance may have: Linux's own ceiling (`PID_MAX_LIMIT`).
pub const MAX_PROCESSES: u64 = 4 << 20;

/// What this host can give one instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostCapacity {
    /// CPUs online.
    pub cpus: f64,
    /// Physical memory in bytes.
    pub memory: u64,
    /// Size of the storage pool in bytes, when known.
    pub disk: Option<u64>,
    /// `kernel.pid_max`.
    pub processes: u64,
}

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
    #[schema(minimum = 67108864, maximum = 17592186044416_u64)]
    pub memory: Option<u64>,
    /// Root filesystem size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 536870912, maximum = 1125899906842624_u64)]
    pub disk: Option<u64>,
    /// Maximum number of processes (tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 32, maximum = 4194304)]
    pub processes: Option<u64>,
}

impl Limits {
    /// Checks every field against what any machine could hold; the error names the first bad
    /// one as `limits.<field>`.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(cpu) = self.cpu
            && !(cpu.is_finite() && (0.01..=MAX_CPU).contains(&cpu))
        {
            return Err(FieldError::new(
                "limits.cpu",
                format!("{cpu} is out of range; give cores between 0.01 and {MAX_CPU}"),
            ));
        }
        let bounded = [
            ("memory", self.memory, MIN_MEMORY, MAX_MEMORY, true),
            ("disk", self.disk, MIN_DISK, MAX_DISK, true),
            (
                "processes",
                self.processes,
                MIN_PROCESSES,
                MAX_PROCESSES,
                false,
            ),
        ];
        for (field, value, min, max, bytes) in bounded {
            let Some(value) = value else { continue };
            let show = |v: u64| {
                if bytes {
                    format!("{v} bytes ({})", format_bytes(v))
                } else {
                    v.to_string()
                }
            };
            if value < min {
                let why = match field {
                    "memory" => "a systemd guest needs at least",
                    "disk" => "a minimal Debian root filesystem needs at least",
                    _ => "systemd needs at least",
                };
                return Err(FieldError::new(
                    format!("limits.{field}"),
                    format!("{} is too little; {why} {}", show(value), show(min)),
                ));
            }
            if value > max {
                return Err(FieldError::new(
                    format!("limits.{field}"),
                    format!(
                        "{} is more than any instance may have; give at most {}",
                        show(value),
                        show(max)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks every field against what this host can give one instance; the error names the
    /// first that does not fit as `limits.<field>` and says what the host has.
    pub fn fit(&self, host: &HostCapacity) -> Result<(), FieldError> {
        if let Some(cpu) = self.cpu
            && cpu > host.cpus
        {
            return Err(FieldError::new(
                "limits.cpu",
                format!(
                    "{cpu} cores is more than this host has ({}); give at most that",
                    host.cpus
                ),
            ));
        }
        if let Some(memory) = self.memory
            && memory > host.memory
        {
            return Err(FieldError::new(
                "limits.memory",
                format!(
                    "{} is more than this host's memory ({}); give at most that",
                    format_bytes(memory),
                    format_bytes(host.memory)
                ),
            ));
        }
        if let (Some(disk), Some(pool)) = (self.disk, host.disk)
            && disk > pool
        {
            return Err(FieldError::new(
                "limits.disk",
                format!(
                    "{} is more than the whole storage pool ({}); give at most that",
                    format_bytes(disk),
                    format_bytes(pool)
                ),
            ));
        }
        if let Some(processes) = self.processes
            && processes > host.processes
        {
            return Err(FieldError::new(
                "limits.processes",
                format!(
                    "{processes} is more than this host allows at all (kernel.pid_max {}); give at most that",
                    host.processes
                ),
            ));
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
#[path = "limits_tests.rs"]
mod tests;
