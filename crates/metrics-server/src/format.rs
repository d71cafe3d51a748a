//! Wire encodings shared by the API: Go `time.Duration.String()`, `metav1.Time`, and the two
//! quantity forms metrics-server emits.

use crate::storage::Nanos;

/// Go's `time.Duration.String()` of a window (`15s`, `14.998s`, `1m0s`).
pub fn go_duration(d: Nanos) -> String {
    gocompat::format_duration(d)
}

/// `metav1.Time` JSON: RFC 3339, UTC, whole seconds.
pub fn rfc3339(ts: Nanos) -> String {
    let secs = ts.div_euclid(1_000_000_000);
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "1970-01-01T00:00:00Z".to_string(),
    }
}

/// CPU as a DecimalSI quantity of scale −9 in canonical form (`187654321n`, `20u`, `500m`, `12`).
pub fn cpu_nanocores(n: u64) -> String {
    quantity::format_cpu_nanocores(n)
}

/// Memory as a BinarySI quantity (`600`, `12240Ki`, `2Mi`, `1000001`).
pub fn bytes_binary(n: u64) -> String {
    quantity::format_bytes_binary(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_seconds_precision_utc() {
        assert_eq!(rfc3339(1_786_010_401_999_000_000), "2026-08-06T10:00:01Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn cpu_strings() {
        for (n, want) in [
            (0, "0"),
            (187654321, "187654321n"),
            (20000, "20u"),
            (2000000, "2m"),
            (500000000, "500m"),
            (1000000000, "1"),
            (2500000000, "2500m"),
            (12000000000, "12"),
        ] {
            assert_eq!(cpu_nanocores(n), want);
        }
    }

    #[test]
    fn memory_strings() {
        for (n, want) in [
            (600, "600"),
            (12533760, "12240Ki"),
            (1616273408, "1578392Ki"),
            (2097152, "2Mi"),
            (1073741824, "1Gi"),
            (1000001, "1000001"),
        ] {
            assert_eq!(bytes_binary(n), want);
        }
    }
}
