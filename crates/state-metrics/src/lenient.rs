//! A wrapper that lets one malformed object through the watcher instead of failing the whole LIST page
//! (or watch stream) it arrived in.
//!
//! kube-runtime decodes each LIST page as one `ObjectList<K>`; a single item that does not fit the typed
//! struct (an API server with a newer field shape, a hand-edited object in a simulator, a broken
//! conversion webhook) would make every LIST fail, and the watcher would retry forever without ever
//! exporting anything for that resource. `Lenient<K>` decodes the item as generic JSON first, then tries
//! the typed struct; on failure it keeps just enough metadata for the watcher to go on (resourceVersion)
//! and for us to log which object was skipped and to drop its old series (uid).

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
                Ok(value) => Ok(malformed(&value, typed)),
                Err(e) => Err(E::custom(e)),
            },
        }
    }
}

fn from_value<K: DeserializeOwned>(value: Value) -> Lenient<K> {
    match K::deserialize(&value) {
        Ok(k) => Lenient::Ok(k),
        Err(e) => malformed(&value, e),
    }
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
