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
use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
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
        let value = Value::deserialize(d)?;
        match K::deserialize(&value) {
            Ok(k) => Ok(Lenient::Ok(k)),
            Err(e) => Ok(Lenient::Malformed(Box::new(Malformed { meta: salvage_meta(&value), error: e.to_string() }))),
        }
    }
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
        let parsed: ObjectList<Lenient<ConfigMap>> = serde_json::from_str(&text).unwrap();
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
        let line = r#"{"type":"MODIFIED","object":{"metadata":{"name":"x","uid":"u","resourceVersion":"9"},"data":5}}"#;
        let ev: kube::core::WatchEvent<Lenient<ConfigMap>> = serde_json::from_str(line).unwrap();
        match ev {
            kube::core::WatchEvent::Modified(Lenient::Malformed(m)) => {
                assert_eq!(
                    kube::Resource::meta(&Lenient::<ConfigMap>::Malformed(m)).resource_version.as_deref(),
                    Some("9")
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
