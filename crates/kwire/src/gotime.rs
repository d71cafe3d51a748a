//! Times and durations as Go's Kubernetes types write them in JSON: `metav1.Time` (RFC 3339, whole
//! seconds, UTC), `metav1.MicroTime` (6 fractional digits) and `time.Duration` text (`1h2m3.5s`).

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `metav1.Time` text (whole seconds, UTC) or `metav1.MicroTime` text (6 fractional digits).
pub fn format_time(seconds: i64, nanos: i32, micro: bool) -> String {
    let (days, rem) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if micro {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z", nanos.max(0) / 1000)
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

/// RFC 3339 text as (Unix seconds, nanoseconds).
pub fn parse_time(s: &str) -> Option<(i64, i32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let digits = &s[start..at];
        if digits.is_empty() {
            return None;
        }
        for (i, c) in digits.bytes().take(9).enumerate() {
            nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
        }
    }
    let offset = match &s[at..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && tz.as_bytes()[3] == b':' => {
            let (oh, om) = (num(at + 1..at + 3)?, num(at + 4..at + 6)?);
            let off = oh * 3600 + om * 60;
            if tz.starts_with('-') { -off } else { off }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some((secs, nanos as i32))
}

/// A duration in nanoseconds as Go's `time.Duration.String` writes it (`1h2m3.5s`, `300ms`).
pub fn format_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let mut u = d.unsigned_abs();
    // Digits are pushed back to front, as Go builds the text.
    let mut rev = String::new();
    let frac = |rev: &mut String, v: u64, prec: u32| -> u64 {
        let mut v = v;
        let mut printed = false;
        for _ in 0..prec {
            let digit = v % 10;
            printed = printed || digit != 0;
            if printed {
                rev.push(char::from(b'0' + digit as u8));
            }
            v /= 10;
        }
        if printed {
            rev.push('.');
        }
        v
    };
    let int = |rev: &mut String, v: u64| {
        rev.extend(v.to_string().chars().rev());
    };
    if u < 1_000_000_000 {
        let (unit, prec) = if u < 1_000 {
            ("sn", 0)
        } else if u < 1_000_000 {
            ("s\u{b5}", 3)
        } else {
            ("sm", 6)
        };
        rev.push_str(unit);
        u = frac(&mut rev, u, prec);
        int(&mut rev, u);
    } else {
        rev.push('s');
        u = frac(&mut rev, u, 9);
        int(&mut rev, u % 60);
        u /= 60;
        if u > 0 {
            rev.push('m');
            int(&mut rev, u % 60);
            u /= 60;
            if u > 0 {
                rev.push('h');
                int(&mut rev, u);
            }
        }
    }
    if d < 0 {
        rev.push('-');
    }
    rev.chars().rev().collect()
}

/// Go duration text (`1h2m3.5s`, `-1.5ms`, `0`) in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_end);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let e = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(e)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
        let mut part = whole.checked_mul(scale)?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(18)];
            let f: i128 = digits.parse().ok()?;
            part += f * scale / 10i128.pow(digits.len() as u32);
        }
        total = total.checked_add(part)?;
        rest = next;
    }
    let total = if neg { -total } else { total };
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_match_the_captured_encodings() {
        // `08 fb b3 cc d8 06 10 00` in pods.list.pb is 1796413947 s.
        assert_eq!(format_time(1_796_413_947, 0, false), "2026-12-04T19:52:27Z");
        assert_eq!(parse_time("2026-12-04T19:52:27Z"), Some((1_796_413_947, 0)));
        assert_eq!(format_time(1_796_413_797, 482_913_000, true), "2026-12-04T19:49:57.482913Z");
        assert_eq!(parse_time("2026-12-04T19:49:57.482913Z"), Some((1_796_413_797, 482_913_000)));
        assert_eq!(parse_time("2026-12-04T20:49:57+01:00"), Some((1_796_413_797, 0)));
        assert_eq!(format_time(0, 0, false), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(-62_135_596_800, 0, false), "0001-01-01T00:00:00Z");
        assert_eq!(
            parse_time("2024-02-29T00:00:00Z").map(|t| format_time(t.0, 0, false)).as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        for bad in ["", "2026-12-04", "2026-13-04T00:00:00Z", "2026-12-04T19:52:27", "2026-12-04T19:52:27.Z"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_read_and_write_as_go_does() {
        for (ns, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5\u{b5}s"),
            (300_000_000, "300ms"),
            (1_000_000_000, "1s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-1_500_000, "-1.5ms"),
        ] {
            assert_eq!(format_duration(ns), text);
            assert_eq!(parse_duration(text), Some(ns), "{text}");
        }
        assert_eq!(parse_duration("2h45m"), Some(9_900_000_000_000));
        assert_eq!(parse_duration("1.5us"), Some(1_500));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("1d"), None);
    }
}
