//! Wire encodings shared by the API: Go `time.Duration.String()`, `metav1.Time`, and the two
//! quantity forms metrics-server emits.

use crate::storage::Nanos;

/// Go's `time.Duration.String()`: `15s`, `14.998s`, `1m0s`, `1h2m3.5s`, `10ms`, `1µs`, `0s`.
pub fn go_duration(d: Nanos) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000_000_000 {
        // Sub-second: the largest unit that keeps a non-zero integer part.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        push_frac(&mut out, u, div);
        out.push_str(unit);
        return out;
    }
    let total_secs = u / 1_000_000_000;
    let h = total_secs / 3600;
    let m = (total_secs / 60) % 60;
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    push_frac(&mut out, u % 60_000_000_000, 1_000_000_000);
    out.push('s');
    out
}

fn push_frac(out: &mut String, v: u64, div: u64) {
    let int = v / div;
    let frac = v % div;
    out.push_str(&int.to_string());
    if frac != 0 {
        let width = div.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
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
    fn durations_like_go() {
        let s = 1_000_000_000;
        for (d, want) in [
            (0, "0s"),
            (15 * s, "15s"),
            (14_998_000_000, "14.998s"),
            (15_012_000_000, "15.012s"),
            (60 * s, "1m0s"),
            (90 * s + 500_000_000, "1m30.5s"),
            (3600 * s + 2 * 60 * s + 3 * s, "1h2m3s"),
            (10_000_000, "10ms"),
            (1_000, "1µs"),
            (2_000, "2µs"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (-15 * s, "-15s"),
        ] {
            assert_eq!(go_duration(d), want);
        }
    }

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
