//! RFC 3339 times as Go reads and writes them for `metav1.Time` (whole seconds, `Z`) and
//! `metav1.MicroTime` (six fractional digits): Unix seconds and nanoseconds, with no typed time in
//! between, so every time Go accepts (years 0000–9999) keeps its exact seconds.

use crate::civil::{civil_from_days, days_from_civil};

/// Parses RFC 3339 as Go's `time.Parse(time.RFC3339, …)` does: `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction (`.` or `,`) of one to nine digits, then `Z` or `±HH:MM`. Returns Unix seconds (rounded
/// towards minus infinity, as Go's `Time.Unix`) and the nanoseconds into that second.
pub fn parse(s: &str) -> Option<(i64, i32)> {
    let b = s.as_bytes();
    let num = |at: usize, len: usize| -> Option<i64> {
        let d = b.get(at..at + len)?;
        d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')))
    };
    let year = num(0, 4)?;
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = &b[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = digits.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')) * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some((seconds, nanos as i32))
}

/// `metav1.Time` text (whole seconds, UTC) or, with `micro`, `metav1.MicroTime` text (six fractional
/// digits). Written digit by digit: metrics-server writes two of these for every object it lists.
pub fn format(seconds: i64, nanos: i32, micro: bool) -> String {
    let (days, sod) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let mut out = String::with_capacity(if micro { 27 } else { 20 });
    // Go writes the year with at least four digits, after a sign when it is negative.
    if y < 0 {
        out.push('-');
    }
    push_digits(&mut out, y.unsigned_abs(), 4);
    for (sep, v) in [('-', mo), ('-', d), ('T', sod / 3600), (':', sod / 60 % 60), (':', sod % 60)] {
        out.push(sep);
        push_digits(&mut out, v as u64, 2);
    }
    if micro {
        out.push('.');
        push_digits(&mut out, (nanos.clamp(0, 999_999_999) / 1000) as u64, 6);
    }
    out.push('Z');
    out
}

/// `v` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, mut v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    while v > 0 {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &c in &buf[at.min(buf.len() - width)..] {
        out.push(char::from(c));
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `0001-01-01T00:00:00Z`, Go's zero `time.Time`.
    const GO_ZERO: i64 = -62_135_596_800;

    #[test]
    fn reads_as_go_reads() {
        for (text, want) in [
            ("1970-01-01T00:00:00Z", (0, 0)),
            ("2026-12-04T19:51:20Z", (1_796_413_880, 0)),
            ("2026-12-04T19:49:57.482913Z", (1_796_413_797, 482_913_000)),
            ("2026-12-04T21:51:20+02:00", (1_796_413_880, 0)),
            ("2026-12-04T20:49:57+01:00", (1_796_413_797, 0)),
            ("0001-01-01T00:00:00Z", (GO_ZERO, 0)),
            ("2024-02-29T00:00:00Z", (1_709_164_800, 0)),
            // Pre-1970 with a fraction: the seconds round down, as Go's Unix() does.
            ("1969-12-31T23:59:59.5Z", (-1, 500_000_000)),
            // Far-future times Go accepts, also past where typed Rust time types stop.
            ("9999-12-30T22:00:01Z", (253_402_207_201, 0)),
            ("9999-12-31T23:59:59Z", (253_402_300_799, 0)),
            ("9999-12-31T23:59:59.999999999Z", (253_402_300_799, 999_999_999)),
            ("9999-12-31T23:59:59,5Z", (253_402_300_799, 500_000_000)),
            ("9999-12-31T23:59:59-12:00", (253_402_343_999, 0)),
            ("9999-12-31T23:59:59-23:59", (253_402_387_139, 0)),
            ("9999-12-31T12:00:00+14:00", (253_402_207_200, 0)),
            ("0000-01-01T00:00:00Z", (-62_167_219_200, 0)),
        ] {
            assert_eq!(parse(text), Some(want), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for text in [
            "",
            "not a time",
            "2026-12-04",
            "2023-02-29T00:00:00Z",
            "9999-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "9999-12-32T00:00:00Z",
            "2026-12-04 19:51:20Z",
            "2026-12-04T24:00:00Z",
            "2026-12-04T19:51:60Z",
            "2026-12-04T19:51:20",
            "2026-12-04T19:51:20z",
            "9999-12-31t23:59:59z",
            "2026-12-04T19:51:20.Z",
            "2026-12-04T19:51:20.1234567890Z",
            "9999-12-31T23:59:59+24:00",
            "10000-01-01T00:00:00Z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn writes_what_it_reads() {
        // `08 fb b3 cc d8 06 10 00` in a captured pods list is 1796413947 s.
        assert_eq!(format(1_796_413_947, 0, false), "2026-12-04T19:52:27Z");
        assert_eq!(format(1_796_413_797, 482_913_000, true), "2026-12-04T19:49:57.482913Z");
        assert_eq!(format(0, 0, false), "1970-01-01T00:00:00Z");
        assert_eq!(format(GO_ZERO, 0, false), "0001-01-01T00:00:00Z");
        assert_eq!(format(253_402_300_799, 0, false), "9999-12-31T23:59:59Z");
        for text in ["2024-02-29T00:00:00Z", "1969-12-31T23:59:59Z", "0000-03-01T00:00:00Z"] {
            let (s, n) = parse(text).unwrap();
            assert_eq!(format(s, n, false), text);
        }
        // Beyond four-digit years, as Go's Format writes them.
        assert_eq!(format(253_402_300_800, 0, false), "10000-01-01T00:00:00Z");
        assert_eq!(format(-62_167_219_201, 0, false), "-0001-12-31T23:59:59Z");
    }

    /// The calendar agrees with chrono's across leap years, century rules and day boundaries.
    #[test]
    fn agrees_with_chrono() {
        let chrono_form =
            |secs: i64| chrono::DateTime::from_timestamp(secs, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut secs: i64 = -2_000_000_000;
        while secs < 9_000_000_000 {
            assert_eq!(format(secs, 0, false), chrono_form(secs), "{secs}");
            assert_eq!(parse(&chrono_form(secs)), Some((secs, 0)), "{secs}");
            secs += 86_399 * 7 + 3_601;
        }
        for secs in [951_782_400, 951_868_799, 4_107_542_400, 4_107_628_799, 9_223_372_035, GO_ZERO] {
            assert_eq!(format(secs, 0, false), chrono_form(secs), "{secs}");
        }
    }
}
