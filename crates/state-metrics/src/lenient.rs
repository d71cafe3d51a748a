//! A wrapper that lets one malformed object through the watcher instead of failing the whole LIST page
//! (or watch stream) it arrived in.
//!
//! kube-runtime decodes each LIST page as one `ObjectList<K>`; a single item that does not fit the typed
//! struct (an API server with a newer field shape, a hand-edited object in a simulator, a broken
//! conversion webhook) would make every LIST fail, and the watcher would retry forever without ever
//! exporting anything for that resource. `Lenient<K>` decodes the item as generic JSON first, then tries
//! the typed struct; on failure it keeps just enough metadata for the watcher to go on (resourceVersion)
//! and for us to log which object was skipped and to drop its old series (uid).
//!
//! Before giving up on an object, it is decoded the way Go's decoder would take it ([`decode_like_go`]):
//! Go reads `null` where a value is required as that type's zero value (`conditions: [null]` is one
//! empty condition), and its times reach far beyond the typed structs' (anything after
//! 9999-12-30T22:00:00.999999999Z overflows them): such an object renders like upstream instead of
//! being skipped.

use std::borrow::Cow;
use std::fmt::{self, Debug};
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A typed object, or the metadata of one that did not decode.
#[derive(Clone, Debug)]
pub enum Lenient<K> {
    Ok(K),
    Malformed(Box<Malformed>),
}

/// What is left of an object that failed to decode into its typed struct.
#[derive(Clone, Debug)]
pub struct Malformed {
    pub meta: ObjectMeta,
    pub error: String,
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Lenient<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Asking for serde_json's raw value hands us the object's JSON text without building anything, so a
        // good object is decoded once, straight into its typed struct; only a bad one is parsed a second time
        // as generic JSON to salvage its metadata. Going through `Value` for every object cost about a
        // quarter of the start-up time at 10,000 pods (allocations for every key and string, twice).
        // Deserializers without raw values (serde's buffered content, when a watch event names its "object"
        // before its "type") call `visit_newtype_struct` instead and take the generic path.
        d.deserialize_newtype_struct(RAW_VALUE_TOKEN, LenientVisitor(PhantomData))
    }
}

/// The newtype name by which serde_json recognises a request for the raw text of a value (its
/// `RawValue` uses it; the `raw_value` feature must be on). Should serde_json ever change it, the request
/// reaches `visit_newtype_struct` and every object takes the slower generic path: still correct.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

struct LenientVisitor<K>(PhantomData<K>);

impl<'de, K: DeserializeOwned> Visitor<'de> for LenientVisitor<K> {
    type Value = Lenient<K>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(from_value(Value::deserialize(d)?))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let first = match map.next_key_seed(FirstKey)? {
            None => return Ok(from_value(Value::Object(serde_json::Map::new()))),
            Some(None) => return map.next_value_seed(RawText(PhantomData)),
            Some(Some(key)) => key,
        };
        // A deserializer that answered the raw-value request with the object's own fields.
        let mut object = serde_json::Map::new();
        object.insert(first, map.next_value()?);
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            object.insert(k, v);
        }
        Ok(from_value(Value::Object(object)))
    }
}

/// The first key of a map: `None` when it is serde_json's raw-value marker (compared, not allocated).
struct FirstKey;

impl<'de> DeserializeSeed<'de> for FirstKey {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FirstKey {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok((key != RAW_VALUE_TOKEN).then(|| key.to_owned()))
    }
}

/// The raw JSON text of one object, decoded as it arrives (borrowed from the response when possible).
struct RawText<K>(PhantomData<K>);

impl<'de, K: DeserializeOwned> DeserializeSeed<'de> for RawText<K> {
    type Value = Lenient<K>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K: DeserializeOwned> Visitor<'de> for RawText<K> {
    type Value = Lenient<K>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the raw JSON text of a Kubernetes object")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        #[cfg(test)]
        tests::RAW_DECODES.with(|n| n.set(n.get() + 1));
        match serde_json::from_str::<K>(text) {
            Ok(k) => Ok(Lenient::Ok(k)),
            Err(typed) => match serde_json::from_str::<Value>(text) {
                Ok(value) => Ok(decode_like_go(&value).map_or_else(|| malformed(&value, typed), Lenient::Ok)),
                Err(e) => Err(E::custom(e)),
            },
        }
    }
}

fn from_value<K: DeserializeOwned>(value: Value) -> Lenient<K> {
    match K::deserialize(&value) {
        Ok(k) => Lenient::Ok(k),
        Err(e) => decode_like_go(&value).map_or_else(|| malformed(&value, e), Lenient::Ok),
    }
}

/// Re-decodes at most this many times per object while repairing it: each repair fixes one value, and
/// a real object needs a handful. An object that needs more stays malformed.
const MAX_REPAIRS: usize = 64;

/// What stands in for a `null` where a value is required, tried in order until the typed decoder
/// takes one: Go's zero value of a struct, a number, a string, a bool, a list, and a time
/// (`0001-01-01T00:00:00Z`, where `metav1.Time` reads `null`).
const NULL_STAND_INS: [&str; 6] = ["{}", "0", "\"\"", "false", "[]", "\"0001-01-01T00:00:00Z\""];

/// One step of the path to a value inside an object.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `value` decoded as Go's decoder would take it, when the typed decoder refuses it as it is: repairs
/// the value the decoder stopped at and tries again, while that value is one Go reads differently —
///
/// - `null` (anywhere below the object's root) becomes the first of [`NULL_STAND_INS`] the decoder
///   takes: Go's zero value of whatever type stands there;
/// - a struct missing a field that must be present gets the field as `null` (then as above): Go leaves
///   an absent field at its zero value;
/// - a time Go's RFC 3339 parser accepts but that lies beyond [`jiff::Timestamp::MAX`] is stored as
///   [`far_future_marker`] so that [`go_unix_seconds`] still gives its exact Unix seconds.
///
/// `None` when the decoder stops at anything else (a number where a string belongs, …) or after
/// [`MAX_REPAIRS`]: the object is malformed for Go too, or too broken to be worth more work.
fn decode_like_go<K: DeserializeOwned>(value: &Value) -> Option<K> {
    let mut value = value.clone();
    // The stand-in last tried for a null, by its path.
    let mut tried: Vec<(Vec<Step>, usize)> = Vec::new();
    for _ in 0..MAX_REPAIRS {
        let (text, spans) = render_with_spans(&value);
        let err = match serde_json::from_str::<K>(&text) {
            Ok(k) => return Some(k),
            Err(e) => e,
        };
        // The text is one line, so the column is the byte offset where the decoder stopped.
        if err.line() != 1 {
            return None;
        }
        let path = innermost(&spans, err.column())?;
        if path.is_empty() {
            return None;
        }
        let at = lookup(&mut value, &path)?;
        let message = err.to_string();
        if let (Value::Object(fields), Some(missing)) = (&mut *at, missing_field(&message)) {
            fields.insert(missing.to_owned(), Value::Null);
        } else if let Some(entry) = tried.iter_mut().find(|(p, _)| *p == path) {
            entry.1 += 1;
            *at = serde_json::from_str(NULL_STAND_INS.get(entry.1)?).ok()?;
        } else if at.is_null() {
            tried.push((path, 0));
            *at = serde_json::from_str(NULL_STAND_INS[0]).ok()?;
        } else if let Some(secs) = at.as_str().and_then(go_time_beyond_range) {
            *at = Value::String(far_future_marker(secs).to_string());
        } else {
            return None;
        }
    }
    None
}

/// The field named by serde's "missing field `name`" error.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    Some(&rest[..rest.find('`')?])
}

/// `value` as compact JSON on one line, with the byte range (end inclusive) and path of every value in it.
fn render_with_spans(value: &Value) -> (String, Vec<(usize, usize, Vec<Step>)>) {
    fn walk(v: &Value, path: &mut Vec<Step>, out: &mut String, spans: &mut Vec<(usize, usize, Vec<Step>)>) {
        let start = out.len();
        match v {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    path.push(Step::Index(i));
                    walk(item, path, out, spans);
                    path.pop();
                }
                out.push(']');
            }
            Value::Object(fields) => {
                out.push('{');
                for (i, (k, item)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    path.push(Step::Key(k.clone()));
                    walk(item, path, out, spans);
                    path.pop();
                }
                out.push('}');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
        spans.push((start, out.len(), path.clone()));
    }
    let (mut out, mut spans) = (String::new(), Vec::new());
    walk(value, &mut Vec::new(), &mut out, &mut spans);
    (out, spans)
}

/// The path of the smallest value whose text contains `offset`: the decoder stops right after a scalar
/// it refuses, or on the opening bracket of a list or object it refuses.
fn innermost(spans: &[(usize, usize, Vec<Step>)], offset: usize) -> Option<Vec<Step>> {
    spans
        .iter()
        .filter(|(start, end, _)| (*start..=*end).contains(&offset))
        .min_by_key(|(start, end, _)| end - start)
        .map(|(_, _, path)| path.clone())
}

fn lookup<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// Unix seconds of `s` when Go's `time.Parse(time.RFC3339, s)` accepts it but it lies after
/// [`jiff::Timestamp::MAX`] (the last day of year 9999, and offsets that push it into year 10000).
fn go_time_beyond_range(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if punctuation.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[month as usize - 1] {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Go takes a fraction after the seconds (with a point or a comma) even where the layout has none.
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hh = [h1, h2].iter().all(|d| d.is_ascii_digit()).then(|| i64::from((h1 - b'0') * 10 + (h2 - b'0')))?;
            let mm = [m1, m2].iter().all(|d| d.is_ascii_digit()).then(|| i64::from((m1 - b'0') * 10 + (m2 - b'0')))?;
            if hh > 23 || mm > 59 {
                return None;
            }
            if *sign == b'-' { -(hh * 3600 + mm * 60) } else { hh * 3600 + mm * 60 }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    (secs > jiff::Timestamp::MAX.as_second()).then_some(secs)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where a time beyond [`jiff::Timestamp::MAX`] is kept: counted up from [`jiff::Timestamp::MIN`], in
/// years (-9999…-9998) that no Kubernetes time can name (Go's RFC 3339 has four-digit years, from 0000).
fn far_future_marker(unix_seconds: i64) -> jiff::Timestamp {
    let beyond = unix_seconds - jiff::Timestamp::MAX.as_second();
    jiff::Timestamp::from_second(jiff::Timestamp::MIN.as_second() + beyond).unwrap_or(jiff::Timestamp::MIN)
}

/// Seconds past [`jiff::Timestamp::MIN`] below which a time is a [`far_future_marker`]: more than
/// any time Go can parse overflows by (about two days), far less than the span to year 0000.
const FAR_FUTURE_SPAN: i64 = 100 * 86_400;

/// Whether `t` stands for a time beyond [`jiff::Timestamp::MAX`] (see [`decode_like_go`]).
pub fn is_far_future(t: &jiff::Timestamp) -> bool {
    t.as_second() - jiff::Timestamp::MIN.as_second() < FAR_FUTURE_SPAN
}

/// Unix seconds of a decoded time, sub-second truncated (Go's `Time.Unix()`), including the times
/// beyond [`jiff::Timestamp::MAX`] that decoding stored as markers.
pub fn go_unix_seconds(t: &jiff::Timestamp) -> i64 {
    let secs = t.as_second() - i64::from(t.subsec_nanosecond() < 0);
    if is_far_future(t) { jiff::Timestamp::MAX.as_second() + (secs - jiff::Timestamp::MIN.as_second()) } else { secs }
}

fn malformed<K>(value: &Value, error: serde_json::Error) -> Lenient<K> {
    Lenient::Malformed(Box::new(Malformed { meta: salvage_meta(value), error: error.to_string() }))
}

/// The object's metadata; when even that does not decode, the few string fields we can find.
fn salvage_meta(value: &Value) -> ObjectMeta {
    let meta = value.get("metadata");
    if let Some(m) = meta
        && let Ok(parsed) = ObjectMeta::deserialize(m)
    {
        return parsed;
    }
    let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_owned);
    ObjectMeta {
        name: field("name"),
        namespace: field("namespace"),
        uid: field("uid"),
        resource_version: field("resourceVersion"),
        ..ObjectMeta::default()
    }
}

impl<K: kube::Resource<DynamicType = ()>> kube::Resource for Lenient<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn api_version(dt: &()) -> Cow<'_, str> {
        K::api_version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn url_path(dt: &(), namespace: Option<&str>) -> String {
        K::url_path(dt, namespace)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Lenient::Ok(k) => k.meta(),
            Lenient::Malformed(m) => &m.meta,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Lenient::Ok(k) => k.meta_mut(),
            Lenient::Malformed(m) => &mut m.meta,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::core::ObjectList;

    thread_local! {
        /// How many objects took the raw-text path on this thread.
        pub(super) static RAW_DECODES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn raw_decodes() -> usize {
        RAW_DECODES.with(std::cell::Cell::get)
    }

    #[test]
    fn good_items_decode_typed() {
        let v = serde_json::json!({"metadata": {"name": "a", "namespace": "ns", "uid": "u1"}, "data": {"k": "v"}});
        let l: Lenient<ConfigMap> = serde_json::from_value(v).unwrap();
        match l {
            Lenient::Ok(cm) => assert_eq!(cm.data.unwrap()["k"], "v"),
            Lenient::Malformed(m) => panic!("unexpected malformed: {}", m.error),
        }
    }

    #[test]
    fn one_bad_item_does_not_fail_the_list() {
        let list = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMapList",
            "metadata": {"resourceVersion": "7"},
            "items": [
                {"metadata": {"name": "good", "namespace": "ns", "uid": "u1"}, "data": {"k": "v"}},
                {"metadata": {"name": "bad", "namespace": "ns", "uid": "u2", "resourceVersion": "5"},
                 "data": {"k": 12}},
                {"metadata": {"name": "worse", "uid": "u3", "labels": "not-a-map"}, "data": []},
            ]
        });
        let text = list.to_string();
        let before = raw_decodes();
        let parsed: ObjectList<Lenient<ConfigMap>> = serde_json::from_str(&text).unwrap();
        // Decoded from their raw text, the way kube's client reads a LIST response.
        assert_eq!(raw_decodes() - before, 3);
        assert_eq!(parsed.items.len(), 3);
        assert!(matches!(parsed.items[0], Lenient::Ok(_)));
        match &parsed.items[1] {
            Lenient::Malformed(m) => {
                assert_eq!(m.meta.name.as_deref(), Some("bad"));
                assert_eq!(m.meta.uid.as_deref(), Some("u2"));
                assert_eq!(m.meta.resource_version.as_deref(), Some("5"));
                assert!(!m.error.is_empty());
            }
            Lenient::Ok(_) => panic!("expected malformed"),
        }
        match &parsed.items[2] {
            // The metadata itself is broken: the string fields are salvaged one by one.
            Lenient::Malformed(m) => {
                assert_eq!(m.meta.name.as_deref(), Some("worse"));
                assert_eq!(m.meta.uid.as_deref(), Some("u3"));
            }
            Lenient::Ok(_) => panic!("expected malformed"),
        }
    }

    #[test]
    fn watch_events_carry_lenient_objects() {
        let good = r#"{"metadata":{"name":"x","uid":"u","resourceVersion":"9"},"data":{"k":"v"}}"#;
        let bad = r#"{"metadata":{"name":"x","uid":"u","resourceVersion":"9"},"data":5}"#;
        for (object, ok) in [(good, true), (bad, false)] {
            // The API server names the type first (serde hands the object over unbuffered, as raw text);
            // the other order makes serde buffer the object, which must decode just the same.
            let type_first = format!(r#"{{"type":"MODIFIED","object":{object}}}"#);
            let object_first = format!(r#"{{"object":{object},"type":"MODIFIED"}}"#);
            for (line, raw) in [(type_first, 1), (object_first, 0)] {
                let before = raw_decodes();
                let ev: kube::core::WatchEvent<Lenient<ConfigMap>> = serde_json::from_str(&line).unwrap();
                assert_eq!(raw_decodes() - before, raw, "{line}");
                let kube::core::WatchEvent::Modified(obj) = ev else { panic!("unexpected {ev:?}") };
                assert_eq!(kube::Resource::meta(&obj).resource_version.as_deref(), Some("9"));
                match obj {
                    Lenient::Ok(cm) => assert!(ok && cm.data.unwrap()["k"] == "v", "{line}"),
                    Lenient::Malformed(m) => assert!(!ok && m.error.contains("invalid type"), "{line}: {}", m.error),
                }
            }
        }
    }

    fn decode<K: DeserializeOwned>(v: serde_json::Value) -> Lenient<K> {
        // Both ways in: raw text (a LIST page) and a generic value (a buffered watch event).
        let from_text: Lenient<K> = serde_json::from_str(&v.to_string()).unwrap();
        let from_value: Lenient<K> = serde_json::from_value(v).unwrap();
        assert_eq!(matches!(from_text, Lenient::Ok(_)), matches!(from_value, Lenient::Ok(_)));
        from_text
    }

    fn ok<K>(l: Lenient<K>) -> K {
        match l {
            Lenient::Ok(k) => k,
            Lenient::Malformed(m) => panic!("malformed: {}", m.error),
        }
    }

    #[test]
    fn times_beyond_year_9999_keep_the_object_and_their_exact_seconds() {
        use k8s_openapi::api::core::v1::Pod;
        let pod = |created: &str| {
            serde_json::json!({"metadata": {"name": "p", "uid": "u", "creationTimestamp": created,
                "annotations": {"until": created}},
                "status": {"startTime": "9999-12-31T23:59:59Z",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}})
        };
        for (text, unix) in [
            // Go's time.Time reaches these; the typed structs stop at 9999-12-30T22:00:00.999999999Z.
            ("9999-12-30T22:00:01Z", 253_402_207_201),
            ("9999-12-31T23:59:59Z", 253_402_300_799),
            ("9999-12-31T23:59:59.999999999Z", 253_402_300_799),
            ("9999-12-31T23:59:59,5Z", 253_402_300_799),
            ("9999-12-31T23:59:59-12:00", 253_402_343_999),
            ("9999-12-31T23:59:59-23:59", 253_402_387_139),
            // Still representable: decoded directly, no repair.
            ("9999-12-30T22:00:00Z", 253_402_207_200),
            ("9999-12-31T12:00:00+14:00", 253_402_207_200),
            ("0000-01-01T00:00:00Z", -62_167_219_200),
        ] {
            let p: Pod = ok(decode(pod(text)));
            let meta = &p.metadata;
            assert_eq!(go_unix_seconds(&meta.creation_timestamp.as_ref().unwrap().0), unix, "{text}");
            // The other far-future time of the object, and everything else, survive as they were.
            let status = p.status.unwrap();
            assert_eq!(go_unix_seconds(&status.start_time.unwrap().0), 253_402_300_799, "{text}");
            assert_eq!(status.conditions.unwrap()[0].type_, "Ready");
            // A string that only looks like a time is left alone.
            assert_eq!(meta.annotations.as_ref().unwrap()["until"], text);
        }
    }

    #[test]
    fn times_go_refuses_too_leave_the_object_malformed() {
        use k8s_openapi::api::core::v1::Pod;
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
            let l: Lenient<Pod> = decode(serde_json::json!({"metadata": {"name": "p", "creationTimestamp": text}}));
            assert!(matches!(l, Lenient::Malformed(_)), "{text}");
        }
    }

    #[test]
    fn a_pod_with_an_invalid_creation_timestamp_does_not_fail_the_list() {
        // Upstream's whole pod LIST fails on this one pod (and keeps failing); we skip the pod alone.
        use k8s_openapi::api::core::v1::Pod;
        let list = r#"{"items":[{"metadata":{"name":"bad","uid":"u1","creationTimestamp":"yesterday"}},
            {"metadata":{"name":"good","uid":"u2","creationTimestamp":"2024-01-01T00:00:00Z"}}]}"#;
        let parsed: ObjectList<Lenient<Pod>> = serde_json::from_str(list).unwrap();
        assert!(matches!(&parsed.items[0], Lenient::Malformed(m) if m.meta.name.as_deref() == Some("bad")));
        assert!(matches!(&parsed.items[1], Lenient::Ok(p) if p.metadata.name.as_deref() == Some("good")));
    }

    #[test]
    fn nulls_read_as_go_zero_values() {
        use k8s_openapi::api::core::v1::{Node, Pod};
        use k8s_openapi::api::policy::v1::PodDisruptionBudget;
        let node: Node = ok(decode(serde_json::json!({"metadata": {"name": "n"},
            "status": {"conditions": [null, {"type": "Ready", "status": "True"}]}})));
        let conditions = node.status.unwrap().conditions.unwrap();
        assert_eq!((conditions[0].type_.as_str(), conditions[0].status.as_str()), ("", ""));
        assert_eq!(conditions[1].type_, "Ready");
        // Strings in lists and maps, and a struct whose required time Go reads as its zero value.
        let pod: Pod = ok(decode(serde_json::json!({"metadata": {"name": "p", "labels": {"a": null, "b": "x"}},
            "spec": {"containers": [{"name": "c", "args": [null, "-v"]}, null]}})));
        assert_eq!(pod.metadata.labels.unwrap()["a"], "");
        let containers = pod.spec.unwrap().containers;
        assert_eq!(containers[0].args.as_deref(), Some(&["".to_owned(), "-v".to_owned()][..]));
        assert_eq!(containers[1].name, "");
        let pdb: PodDisruptionBudget =
            ok(decode(serde_json::json!({"metadata": {"name": "b"}, "status": {"conditions": [null]}})));
        let c = &pdb.status.unwrap().conditions.unwrap()[0];
        assert_eq!(go_unix_seconds(&c.last_transition_time.0), -62_135_596_800);
        // A null where the object itself belongs is no object.
        let list: ObjectList<Lenient<ConfigMap>> = serde_json::from_str(r#"{"items":[null]}"#).unwrap();
        assert!(matches!(list.items[0], Lenient::Malformed(_)));
    }

    #[test]
    fn repairs_are_bounded() {
        use k8s_openapi::api::core::v1::Node;
        let node = |nulls: usize| serde_json::json!({"metadata": {"name": "n"}, "status": {"conditions": vec![serde_json::Value::Null; nulls]}});
        assert_eq!(
            ok::<Node>(decode(node(MAX_REPAIRS - 1))).status.unwrap().conditions.unwrap().len(),
            MAX_REPAIRS - 1
        );
        assert!(matches!(decode::<Node>(node(MAX_REPAIRS + 1)), Lenient::Malformed(_)));
    }

    #[test]
    fn items_that_are_not_objects_are_kept_as_malformed_and_broken_json_fails() {
        // Same as before raw decoding: an item of the wrong JSON type is one malformed object...
        let parsed: ObjectList<Lenient<ConfigMap>> = serde_json::from_str(r#"{"items":[5,"x",{}]}"#).unwrap();
        assert!(matches!(parsed.items[0], Lenient::Malformed(_)));
        assert!(matches!(parsed.items[1], Lenient::Malformed(_)));
        assert!(matches!(parsed.items[2], Lenient::Ok(_)));
        // ...while text that is not JSON fails the page, as it must.
        for text in [r#"{"items":[{"metadata":{"name":"a"},}]}"#, r#"{"items":[{"metadata":]}"#] {
            assert!(serde_json::from_str::<ObjectList<Lenient<ConfigMap>>>(text).is_err(), "{text}");
        }
    }
}
