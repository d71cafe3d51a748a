//! Wire encodings shared by the API: Go `time.Duration.String()`, `metav1.Time`, and the two
//! quantity forms metrics-server emits.

use crate::storage::Nanos;

/// Go's `time.Duration.String()` of a window (`15s`, `14.998s`, `1m0s`).
pub fn go_duration(d: Nanos) -> String {
    gocompat::format_duration(d)
}

/// `metav1.Time` JSON: RFC 3339, UTC, whole seconds.
pub fn rfc3339(ts: Nanos) -> String {
    gocompat::rfc3339::format(ts.div_euclid(1_000_000_000), 0, false)
}

/// CPU as a DecimalSI quantity of scale −9 in canonical form (`187654321n`, `20u`, `500m`, `12`).
/// Every container of every listed pod has one: the integer path below gives the quantity crate's
/// answer without its arbitrary-precision arithmetic, which stays for values it cannot take.
pub fn cpu_nanocores(n: u64) -> String {
    decimal_si(n, -9).unwrap_or_else(|| quantity::format_cpu_nanocores(n))
}

/// Memory as a BinarySI quantity (`600`, `12240Ki`, `2Mi`, `1000001`); below 1024 Go prints it as
/// DecimalSI (`1000` → `1k`).
pub fn bytes_binary(n: u64) -> String {
    if n < 1024 {
        return decimal_si(n, 0).unwrap_or_else(|| quantity::format_bytes_binary(n));
    }
    if n > i64::MAX as u64 {
        return quantity::format_bytes_binary(n);
    }
    let (mut m, mut e) = (n, 0usize);
    while m % 1024 == 0 && e < 6 {
        m /= 1024;
        e += 1;
    }
    format!("{m}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][e])
}

/// Go's canonical DecimalSI form of `n`×10^`scale` for an int64 `n`: trailing zeros move into the
/// exponent, which then drops to a multiple of three. `None` where Go would leave int64 arithmetic.
fn decimal_si(n: u64, scale: i32) -> Option<String> {
    if n == 0 {
        return Some("0".to_string());
    }
    if n > i64::MAX as u64 {
        return None;
    }
    let (mut m, mut e) = (n, scale);
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    let m = match e.rem_euclid(3) {
        0 => m,
        1 => {
            e -= 1;
            m.checked_mul(10)?
        }
        _ => {
            e -= 2;
            m.checked_mul(100)?
        }
    };
    if m > i64::MAX as u64 {
        return None;
    }
    let suffix = match e {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    };
    Some(format!("{m}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_seconds_precision_utc() {
        assert_eq!(rfc3339(1_786_010_401_999_000_000), "2026-08-06T10:00:01Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
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
    fn integer_paths_agree_with_the_quantity_crate() {
        let mut values: Vec<u64> = (0..5000).collect();
        for p in 0..64 {
            let v = 1u64 << p;
            values.extend([v, v - 1, v + 1, v.saturating_mul(3)]);
        }
        let mut pow10 = 1u64;
        for _ in 0..19 {
            values.extend([pow10, pow10 * 7, pow10.saturating_mul(25), pow10 + 1]);
            pow10 *= 10;
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 64));
        }
        values.extend([
            i64::MAX as u64,
            i64::MAX as u64 + 1,
            u64::MAX,
            1_000_000_000_000_000_000,
            922_337_203_685_477_580,
        ]);
        for v in values {
            assert_eq!(cpu_nanocores(v), quantity::format_cpu_nanocores(v), "cpu {v}");
            assert_eq!(bytes_binary(v), quantity::format_bytes_binary(v), "memory {v}");
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
