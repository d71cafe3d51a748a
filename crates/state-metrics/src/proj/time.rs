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

    /// Parses RFC 3339 as Go's `time.Parse(time.RFC3339, …)` does (see `gocompat::rfc3339`).
    pub fn parse(s: &str) -> Option<Time> {
        gocompat::rfc3339::parse(s).map(|(seconds, nanos)| Time { seconds, nanos })
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

    /// The text forms themselves are tested in `gocompat::rfc3339`; here, that JSON's times arrive.
    #[test]
    fn json_times_and_go_zero() {
        let t: Time = serde_json::from_str(r#""2026-12-04T19:49:57.482913Z""#).unwrap();
        assert_eq!(t, Time { seconds: 1_796_413_797, nanos: 482_913_000 });
        assert!(Time::parse("0001-01-01T00:00:00Z").unwrap().is_go_zero());
        assert!(serde_json::from_str::<Time>(r#""2023-02-29T00:00:00Z""#).is_err());
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
