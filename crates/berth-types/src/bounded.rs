//! Bounded numbers in request bodies: deserializers that refuse a value past its maximum while
//! the body is read, so the error names the field (`timeout: 99999 is more than 3600`) and no
//! handler ever sees an impossible value.

use serde::{Deserialize, Deserializer};

/// An optional whole number no larger than `MAX`.
pub fn opt_u64_at_most<'de, D, const MAX: u64>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<u64>::deserialize(deserializer)? {
        Some(value) if value > MAX => Err(serde::de::Error::custom(format!(
            "{value} is more than {MAX}; give 0 to {MAX}"
        ))),
        other => Ok(other),
    }
}

/// An optional whole number no larger than `MAX` (32-bit fields).
pub fn opt_u32_at_most<'de, D, const MAX: u32>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<u32>::deserialize(deserializer)? {
        Some(value) if value > MAX => Err(serde::de::Error::custom(format!(
            "{value} is more than {MAX}; give 0 to {MAX}"
        ))),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::opt_u64_at_most::<_, 3600>")]
        timeout: Option<u64>,
    }

    #[test]
    fn values_past_the_maximum_are_refused_while_reading() {
        let ok: Body = serde_json::from_str(r#"{"timeout": 3600}"#).expect("at the maximum");
        assert_eq!(ok.timeout, Some(3600));
        let none: Body = serde_json::from_str("{}").expect("absent");
        assert_eq!(none.timeout, None);
        let err = serde_json::from_str::<Body>(r#"{"timeout": 18446744073709551615}"#)
            .expect_err("too long");
        assert!(err.to_string().contains("more than 3600"), "{err}");
    }
}
