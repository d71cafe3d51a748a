//! Go's `time.Duration` text forms.
//!
//! Parsing accepts exactly what `time.ParseDuration` accepts: an optional sign, then one or more
//! `<number><unit>` terms (`1h30m`, `1.5s`, `.5m`, `300ms`), units `ns`, `us`, `µs` (U+00B5 or U+03BC),
//! `ms`, `s`, `m`, `h`, and the bare `0`. The result is whole nanoseconds in an `i64`, with Go's
//! truncation of fractions and its overflow limits, so a value that starts upstream starts here too.

use std::time::Duration;

/// Why a duration string was refused. The message names the input, as Go's errors do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?}")]
    Invalid(String),
    #[error("missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit { unit: String, input: String },
    #[error("duration {0:?} is out of range")]
    Overflow(String),
    #[error("negative duration {0:?} is not allowed here")]
    Negative(String),
}

/// 2^63: the magnitude Go's parser accumulates up to (the limit of `-i64::MIN`).
const LIMIT: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// `time.ParseDuration`: the duration in nanoseconds, negative when the input says so.
pub fn parse_duration_nanos(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_owned());
    let overflow = || DurationError::Overflow(input.to_owned());
    let (neg, mut s) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s.starts_with('.') || s.as_bytes()[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for d in s[..int_len].bytes() {
            whole = whole.checked_mul(10).and_then(|w| w.checked_add(u64::from(d - b'0'))).ok_or_else(overflow)?;
            if whole > LIMIT {
                return Err(overflow());
            }
        }
        s = &s[int_len..];
        // Fraction digits count only while they fit; later ones are read and dropped, as Go does.
        let (mut frac, mut scale, mut frac_len) = (0u64, 1f64, 0usize);
        if let Some(after) = s.strip_prefix('.') {
            frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            let mut full = false;
            for d in after[..frac_len].bytes() {
                let next =
                    if full { None } else { frac.checked_mul(10).and_then(|f| f.checked_add(u64::from(d - b'0'))) };
                match next {
                    Some(f) if f <= LIMIT => {
                        frac = f;
                        scale *= 10.0;
                    }
                    _ => full = true,
                }
            }
            s = &after[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(input.to_owned()));
        }
        let unit = unit_nanos(&s[..unit_len])
            .ok_or_else(|| DurationError::UnknownUnit { unit: s[..unit_len].to_owned(), input: input.to_owned() })?;
        s = &s[unit_len..];
        if whole > LIMIT / unit {
            return Err(overflow());
        }
        let mut term = whole * unit;
        if frac > 0 {
            // Go scales the fraction in floating point and truncates.
            term += (frac as f64 * (unit as f64 / scale)) as u64;
            if term > LIMIT {
                return Err(overflow());
            }
        }
        total = total.checked_add(term).filter(|t| *t <= LIMIT).ok_or_else(overflow)?;
    }
    if neg {
        // -2^63 is the one value whose magnitude is LIMIT itself.
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| overflow())
}

/// A duration for a flag or setting that cannot be negative.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let nanos = parse_duration_nanos(input)?;
    let nanos = u64::try_from(nanos).map_err(|_| DurationError::Negative(input.to_owned()))?;
    Ok(Duration::from_nanos(nanos))
}

/// `time.Duration.String()`: `0s`, `1.5µs`, `10ms`, `14.998s`, `1m0s`, `1h2m3.5s`, `-15s`.
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        // Below a second: the largest unit that keeps a non-zero integer part.
        let (unit, div) = match u {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        push_decimal(&mut out, u, div);
        out.push_str(unit);
        return out;
    }
    let secs = u / 1_000_000_000;
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    push_decimal(&mut out, u % 60_000_000_000, 1_000_000_000);
    out.push('s');
    out
}

/// `v / div` with the remainder as a decimal fraction without trailing zeros.
fn push_decimal(out: &mut String, v: u64, div: u64) {
    out.push_str(&(v / div).to_string());
    let frac = v % div;
    if frac != 0 {
        let width = div.ilog10() as usize;
        out.push('.');
        out.push_str(format!("{frac:0width$}").trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn parses_what_go_parses() {
        for (input, want) in [
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("5s", 5 * S),
            ("1m0s", 60 * S),
            ("1h30m", 5400 * S),
            ("1.5h", 5400 * S),
            ("300ms", 300_000_000),
            ("1.5s", 1_500_000_000),
            (".5m", 30 * S),
            ("1.9999999999s", 1_999_999_999),
            ("1.0000000001s", S),
            ("10us", 10_000),
            ("10µs", 10_000),
            ("10μs", 10_000),
            ("1ns", 1),
            ("-1m", -60 * S),
            ("+2h", 7200 * S),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("2562047h47m16.854775807s", i64::MAX),
            // Fraction digits past what fits are dropped, however they would overflow (a fuzzer's find:
            // 1844674407370955161 × 10 + 6 is past u64::MAX); Go gives 11.068046444s.
            ("0.18446744073709551616m", 11_068_046_444),
            ("00000000.000000000000018446744073709551616m", 0),
        ] {
            assert_eq!(parse_duration_nanos(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for input in
            ["", "-", "+", "s", ".", ".s", "1", "1.", "15", "1.5", "1m30", "1sx", "1 s", " 1s", "1s ", "1d", "x1s"]
        {
            assert!(parse_duration_nanos(input).is_err(), "{input:?} should not parse");
        }
        assert_eq!(parse_duration_nanos("15"), Err(DurationError::MissingUnit("15".into())));
        assert_eq!(
            parse_duration_nanos("3d"),
            Err(DurationError::UnknownUnit { unit: "d".into(), input: "3d".into() })
        );
        for input in ["9223372036854775808ns", "2562048h", "99999999999999999999s", "9223372036854775807s"] {
            assert_eq!(parse_duration_nanos(input), Err(DurationError::Overflow(input.into())), "{input}");
        }
    }

    #[test]
    fn unsigned_durations_refuse_a_sign_of_less_than_zero() {
        assert_eq!(parse_duration("1m0s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("-0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("-1s"), Err(DurationError::Negative("-1s".into())));
        assert_eq!(parse_duration("-1s").unwrap_err().to_string(), "negative duration \"-1s\" is not allowed here");
        assert_eq!(parse_duration("1x").unwrap_err().to_string(), "unknown unit \"x\" in duration \"1x\"");
    }

    #[test]
    fn prints_what_go_prints() {
        for (d, want) in [
            (0, "0s"),
            (1, "1ns"),
            (1_000, "1µs"),
            (1_500, "1.5µs"),
            (10_000_000, "10ms"),
            (15 * S, "15s"),
            (14_998_000_000, "14.998s"),
            (60 * S, "1m0s"),
            (90 * S + 500_000_000, "1m30.5s"),
            (3723 * S, "1h2m3s"),
            (3600 * S, "1h0m0s"),
            (-15 * S, "-15s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(format_duration(d), want, "{d}");
        }
    }

    #[test]
    fn printing_and_parsing_round_trip() {
        for d in [1, 999, 1_001, 59 * S, 61 * S + 1, 86_400 * S + 7, -3 * S - 250_000_000] {
            assert_eq!(parse_duration_nanos(&format_duration(d)), Ok(d), "{d}");
        }
    }
}
