//! `metav1.Time` and `metav1.MicroTime`: RFC 3339 text in JSON, a `Timestamp{1: seconds, 2: nanos}` in
//! protobuf. Any time with a four-digit year is representable (Go's limit too), so an object with a
//! far-future time decodes like any other.

use std::fmt;

use kwire::{Reader, Value, WireError};
use serde::de::{self, Deserializer, Visitor};

use super::PbField;

/// A point in time: seconds since the Unix epoch and nanoseconds into that second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    pub seconds: i64,
    pub nanos: i32,
}

/// `0001-01-01T00:00:00Z`, Go's zero `time.Time`, in Unix seconds.
pub const GO_ZERO_SECONDS: i64 = -62_135_596_800;

impl Time {
    /// Unix seconds, the sub-second part dropped towards minus infinity (Go's `Time.Unix`).
    pub fn unix(&self) -> i64 {
        self.seconds
    }

    /// Go's zero time (`IsZero`).
    pub fn is_go_zero(&self) -> bool {
        self.seconds == GO_ZERO_SECONDS && self.nanos == 0
    }

    /// Parses RFC 3339 as Go's `time.Parse(time.RFC3339, …)` does: `YYYY-MM-DDTHH:MM:SS`, an optional
    /// fraction of up to nine digits, then `Z` or `±HH:MM`.
    pub fn parse(s: &str) -> Option<Time> {
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
        let days = gocompat::civil::days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
        Some(Time { seconds, nanos: nanos as i32 })
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

impl<'de> serde::Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Time, E> {
                Time::parse(s).ok_or_else(|| E::custom(format!("{s:?} is not an RFC 3339 time")))
            }
        }
        d.deserialize_str(V)
    }
}

/// Protobuf: a `Timestamp` message. An empty one is Go's zero time, which JSON writes as `null` or
/// leaves out: both decode to `None`, so the two encodings of an object agree.
impl PbField for Option<Time> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        let Value::Bytes(b) = v else { return Ok(()) };
        if b.is_empty() {
            return Ok(());
        }
        let mut t = Time::default();
        let mut r = Reader::new(b);
        while let Some(f) = r.next()? {
            match (f.number, f.value) {
                (1, Value::Varint(n)) => t.seconds = n as i64,
                (2, Value::Varint(n)) => t.nanos = n as i64 as i32,
                _ => {}
            }
        }
        *self = Some(t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Option<(i64, i32)> {
        Time::parse(s).map(|t| (t.seconds, t.nanos))
    }

    #[test]
    fn rfc3339_as_go_reads_it() {
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(secs("2026-12-04T19:51:20Z"), Some((1_796_413_880, 0)));
        assert_eq!(secs("2026-12-04T19:49:57.482913Z"), Some((1_796_413_797, 482_913_000)));
        assert_eq!(secs("2026-12-04T21:51:20+02:00"), Some((1_796_413_880, 0)));
        assert_eq!(secs("0001-01-01T00:00:00Z"), Some((GO_ZERO_SECONDS, 0)));
        assert!(Time::parse("0001-01-01T00:00:00Z").unwrap().is_go_zero());
        // Far-future times Go accepts (the largest four-digit year).
        assert_eq!(secs("9999-12-31T23:59:59Z"), Some((253_402_300_799, 0)));
        assert_eq!(secs("2024-02-29T00:00:00Z").map(|s| s.0), Some(1_709_164_800));
        // Pre-1970 with a fraction: seconds round down as Go's Unix() does.
        assert_eq!(secs("1969-12-31T23:59:59.5Z"), Some((-1, 500_000_000)));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-04 19:51:20Z",
            "2026-12-04T24:00:00Z",
            "2026-12-04T19:51:60Z",
            "2026-12-04T19:51:20",
            "2026-12-04T19:51:20z",
            "2026-12-04T19:51:20.Z",
            "2026-12-04T19:51:20.1234567890Z",
            "10000-01-01T00:00:00Z",
            "",
        ] {
            assert_eq!(secs(bad), None, "{bad}");
        }
    }

    /// Every time Go's parser takes has its exact seconds, also past the 9999-12-30T22:00:00Z where
    /// typed Rust time types stop; what Go refuses, this refuses too (the object is then skipped).
    #[test]
    fn the_far_future_as_go_reads_it() {
        for (text, unix) in [
            ("9999-12-30T22:00:01Z", 253_402_207_201),
            ("9999-12-31T23:59:59Z", 253_402_300_799),
            ("9999-12-31T23:59:59.999999999Z", 253_402_300_799),
            ("9999-12-31T23:59:59,5Z", 253_402_300_799),
            ("9999-12-31T23:59:59-12:00", 253_402_343_999),
            ("9999-12-31T23:59:59-23:59", 253_402_387_139),
            ("9999-12-30T22:00:00Z", 253_402_207_200),
            ("9999-12-31T12:00:00+14:00", 253_402_207_200),
            ("0000-01-01T00:00:00Z", -62_167_219_200),
        ] {
            assert_eq!(Time::parse(text).map(|t| t.unix()), Some(unix), "{text}");
        }
        for text in [
            "10000-01-01T00:00:00Z",
            "9999-12-32T00:00:00Z",
            "9999-02-29T00:00:00Z",
            "9999-12-31T24:00:00Z",
            "9999-12-31 23:59:59Z",
            "9999-12-31T23:59:59",
            "9999-12-31T23:59:59+24:00",
            "9999-12-31T23:59:59.Z",
            "9999-12-31t23:59:59z",
            "not a time",
        ] {
            assert_eq!(Time::parse(text), None, "{text}");
        }
    }

    #[test]
    fn protobuf_timestamps_and_empty_ones() {
        let mut w = kwire::Writer::new();
        w.int64(1, 1_796_413_947);
        w.varint(2, 482_913_000);
        let mut t: Option<Time> = None;
        t.merge_value(Value::Bytes(w.as_bytes())).unwrap();
        assert_eq!(t, Some(Time { seconds: 1_796_413_947, nanos: 482_913_000 }));
        let mut z: Option<Time> = None;
        z.merge_value(Value::Bytes(&[])).unwrap();
        assert_eq!(z, None);
    }
}
