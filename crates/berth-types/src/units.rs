//! Byte sizes as users write them: `512MiB`, `4GiB`, `10G`, `1048576`.

use crate::FieldError;

/// Parses a byte size. Binary (`KiB`, `MiB`, `GiB`, `TiB`) and decimal (`KB`, `MB`, `GB`, `TB`)
/// suffixes; `K`, `M`, `G`, `T` alone are binary, as in LXD and Proxmox.
pub fn parse_bytes(raw: &str, field: &str) -> Result<u64, FieldError> {
    let text = raw.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        FieldError::new(
            field,
            format!("{raw:?} is not a size; write e.g. 512MiB, 4GiB or a number of bytes"),
        )
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// Formats bytes with a binary suffix, the way the CLI shows them.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("512MiB", "memory").ok(), Some(512 << 20));
        assert_eq!(parse_bytes("4GiB", "disk").ok(), Some(4 << 30));
        assert_eq!(parse_bytes("1G", "disk").ok(), Some(1 << 30));
        assert_eq!(parse_bytes("1GB", "disk").ok(), Some(1_000_000_000));
        assert_eq!(parse_bytes("1.5GiB", "disk").ok(), Some(3 << 29));
        assert_eq!(parse_bytes("1048576", "memory").ok(), Some(1 << 20));
        assert!(parse_bytes("lots", "memory").is_err());
        assert!(parse_bytes("5XB", "memory").is_err());
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(format_bytes(512 << 20), "512MiB");
        assert_eq!(format_bytes(3 << 29), "1.5GiB");
        assert_eq!(format_bytes(10), "10B");
    }
}
