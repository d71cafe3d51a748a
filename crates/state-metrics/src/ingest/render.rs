//! From an object's bytes to what the store keeps: its key, resourceVersion and rendered text.
//!
//! [`Render`] is the only thing built-in and custom resources do differently in the pipeline: a built-in
//! resource decodes into its projection (from protobuf or JSON) and runs its family table; a custom
//! resource decodes into generic JSON and runs its configuration.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Deserialize;

use super::machine::Item;
use crate::family::{Ctx, Form, Rendered, render};
use crate::key::ObjectKey;
use crate::proj::Object;
use crate::resources::Resource;
use crate::shard::Shard;

/// What became of one object.
#[derive(Debug)]
pub enum Decoded {
    Item(Item),
    /// Another shard's object (its resourceVersion still counts as progress).
    Foreign {
        resource_version: String,
    },
    /// Not even its metadata could be read; skipped with a log line.
    Garbage(String),
}

/// Turns objects of one collection into store items.
pub trait Render: Send + Sync + 'static {
    /// Decodes and renders one object from its JSON text.
    fn json(&self, raw: &[u8]) -> Decoded;

    /// Whether to ask the API server for protobuf (built-in kinds with a projection).
    fn wants_protobuf(&self) -> bool {
        false
    }

    /// Whether to ask for the objects' metadata only (see `Resource::METADATA_ONLY`).
    fn metadata_only(&self) -> bool {
        false
    }

    /// Decodes and renders one object from its protobuf encoding (out of its envelope).
    fn protobuf(&self, _raw: &[u8]) -> Decoded {
        Decoded::Garbage("this collection is not read as protobuf".into())
    }
}

/// The metadata every object has, read without decoding the rest.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Metadata<'a> {
    #[serde(borrow)]
    metadata: MetaFields<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct MetaFields<'a> {
    #[serde(borrow)]
    namespace: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    uid: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    resource_version: std::borrow::Cow<'a, str>,
}

/// The key and resourceVersion of an object (enough for a DELETED event).
pub fn key_of_json(raw: &[u8]) -> Result<(ObjectKey, String), String> {
    let m: Metadata = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let m = m.metadata;
    Ok((ObjectKey::new(&m.namespace, &m.name, &m.uid), m.resource_version.into_owned()))
}

/// A built-in resource: decoded into its projection (from protobuf or JSON), rendered by its family
/// table.
pub struct Typed<R: Resource> {
    pub enabled: Arc<[usize]>,
    pub ctx: Arc<Ctx>,
    /// Objects outside this shard are dropped (client-side sharding).
    pub shard: Shard,
    pub _resource: PhantomData<fn() -> R>,
}

impl<R: Resource> Typed<R> {
    pub fn new(enabled: Arc<[usize]>, ctx: Arc<Ctx>, shard: Shard) -> Self {
        Typed { enabled, ctx, shard, _resource: PhantomData }
    }

    fn item(&self, o: R::Obj) -> Decoded {
        let meta = o.meta();
        if !self.shard.owns(meta.uid.as_deref().unwrap_or("")) {
            return Decoded::Foreign {
                resource_version: meta.resource_version.as_deref().unwrap_or_default().to_owned(),
            };
        }
        let key = ObjectKey::new(
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
            meta.uid.as_deref().unwrap_or(""),
        );
        let resource_version = meta.resource_version.as_deref().unwrap_or_default().to_owned();
        let rendered = guarded(R::NAME, &key, || {
            render(&o, &R::IDENTITY.labels(&o), R::families(), &self.enabled, &self.ctx, Form::Store)
        });
        Decoded::Item(Item { key, resource_version, rendered })
    }

    /// An object whose fields do not decode: when its metadata can still be read it is kept by its key
    /// without a rendering (so its old series go) and logged; otherwise it is garbage.
    fn undecodable(&self, key: Option<(ObjectKey, String)>, error: String) -> Decoded {
        let Some((key, resource_version)) = key else { return Decoded::Garbage(error) };
        if !self.shard.owns(key.uid()) {
            return Decoded::Foreign { resource_version };
        }
        log_skipped(R::NAME, &key, &error);
        Decoded::Item(Item { key, resource_version, rendered: None })
    }
}

impl<R: Resource> Render for Typed<R> {
    fn json(&self, raw: &[u8]) -> Decoded {
        if raw.trim_ascii_start().first() != Some(&b'{') {
            return Decoded::Garbage("not a JSON object".into());
        }
        match serde_json::from_slice::<R::Obj>(raw) {
            Ok(o) => self.item(o),
            Err(e) => self.undecodable(key_of_json(raw).ok(), e.to_string()),
        }
    }

    fn wants_protobuf(&self) -> bool {
        true
    }

    fn metadata_only(&self) -> bool {
        R::METADATA_ONLY
    }

    fn protobuf(&self, raw: &[u8]) -> Decoded {
        match <R::Obj as crate::proj::Message>::decode(raw) {
            Ok(o) => self.item(o),
            Err(e) => self.undecodable(super::pb::key_of_pb(raw).ok(), e.to_string()),
        }
    }
}

/// Renders one object. A generator that panics on some unexpected shape must not end the resource's
/// watch (that would freeze all its series): the object is logged and treated as unrenderable.
fn guarded(resource: &str, key: &ObjectKey, render: impl FnOnce() -> Rendered) -> Option<Rendered> {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(render));
    if r.is_err() {
        log_skipped(resource, key, "a metric generator panicked on this object");
    }
    r.ok()
}

fn log_skipped(resource: &str, key: &ObjectKey, error: &str) {
    tracing::warn!(
        resource,
        namespace = key.namespace(),
        name = key.name(),
        error,
        "skipping object that does not decode"
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::family::{Family, MetricType, Samples, Stability};
    use crate::proj::ObjectMeta;
    use crate::resources::Identity;
    use crate::{message, object};

    message! {
        /// A ConfigMap with its data, for a family that reads more than metadata.
        pub struct Cm {
            1 => metadata: ObjectMeta,
            2 => data: Option<BTreeMap<crate::proj::Str, crate::proj::Str>>,
        }
    }
    object!(Cm);

    struct Cms;
    fn count(c: &Cm, _: &Ctx, s: &mut Samples<'_>) {
        assert!(c.metadata.name.as_deref() != Some("boom"), "generator bug");
        s.push(&[], c.data.as_ref().map_or(0, |d| d.len()) as f64);
    }
    static FAMS: &[Family<Cm>] = &[Family {
        name: "t_keys",
        help: "h",
        kind: MetricType::Gauge,
        stability: Stability::Alpha,
        deprecated_since: None,
        opt_in: false,
        generate: count,
    }];
    impl Resource for Cms {
        type Obj = Cm;
        type Api = k8s_openapi::api::core::v1::ConfigMap;
        const NAME: &'static str = "configmaps";
        const IDENTITY: Identity<Cm> = Identity::cluster("configmap");
        fn families() -> &'static [Family<Cm>] {
            FAMS
        }
    }

    fn typed(shard: Shard) -> Typed<Cms> {
        Typed::new(Arc::from(vec![0]), Arc::new(Ctx::default()), shard)
    }

    fn text(d: Decoded) -> String {
        match d {
            Decoded::Item(Item { rendered: Some(r), .. }) => String::from_utf8(r.to_text(&["t_keys"])).unwrap(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn objects_render_and_odd_ones_lose_only_themselves() {
        let t = typed(Shard::default());
        let ok = br#"{"metadata":{"name":"a","namespace":"n","uid":"u1","resourceVersion":"5"},"data":{"k":"v"}}"#;
        match t.json(ok) {
            Decoded::Item(i) => {
                assert_eq!((i.key, i.resource_version.as_str()), (ObjectKey::new("n", "a", "u1"), "5"));
                let text = i.rendered.unwrap().to_text(&["t_keys"]);
                assert_eq!(String::from_utf8(text).unwrap(), "t_keys{configmap=\"a\"} 1\n");
            }
            other => panic!("{other:?}"),
        }
        // A field of the wrong shape: the object is known (so its old series can go) but not rendered.
        let bad = br#"{"metadata":{"name":"b","uid":"u2","resourceVersion":"6"},"data":7}"#;
        assert!(matches!(t.json(bad), Decoded::Item(Item { rendered: None, .. })));
        // The same in protobuf (a data key that is not UTF-8).
        match t.protobuf(&bad_data_pb()) {
            Decoded::Item(Item { key, resource_version, rendered: None }) => {
                assert_eq!((key, resource_version.as_str()), (ObjectKey::new("", "b", "u2"), "6"))
            }
            other => panic!("{other:?}"),
        }
        // A generator that panics on this object.
        let boom = br#"{"metadata":{"name":"boom","uid":"u3","resourceVersion":"7"}}"#;
        assert!(matches!(t.json(boom), Decoded::Item(Item { rendered: None, .. })));
        assert!(matches!(t.json(b"[1,2]"), Decoded::Garbage(_)));
        assert_eq!(text(t.json(br#"{"metadata":{"name":"c","uid":"u4"}}"#)), "t_keys{configmap=\"c\"} 0\n");
    }

    #[test]
    fn other_shards_objects_are_foreign() {
        let uids: Vec<String> = (0..40).map(|i| format!("uid-{i}")).collect();
        // Server-side splitting checks the range here too: a server that ignored the selector must not
        // make a shard keep another's objects. Protobuf objects are told apart by the same uid.
        for split in [crate::shard::Split::Jump, crate::shard::Split::Range] {
            let mut owners = vec![0; uids.len()];
            for index in 0..3 {
                let t = typed(Shard::new(index, 3).with_split(split));
                for (i, u) in uids.iter().enumerate() {
                    let raw = format!(r#"{{"metadata":{{"name":"{u}","uid":"{u}","resourceVersion":"9"}}}}"#);
                    let mut meta = kwire::Writer::new();
                    meta.string(1, u);
                    meta.string(5, u);
                    meta.string(6, "9");
                    let mut pb = kwire::Writer::new();
                    pb.message(1, meta.as_bytes());
                    match (t.json(raw.as_bytes()), t.protobuf(pb.as_bytes())) {
                        (Decoded::Item(_), Decoded::Item(_)) => owners[i] += 1,
                        (Decoded::Foreign { resource_version: a }, Decoded::Foreign { resource_version: b }) => {
                            assert_eq!((a.as_str(), b.as_str()), ("9", "9"))
                        }
                        other => panic!("{other:?}"),
                    }
                }
            }
            assert!(owners.iter().all(|&n| n == 1), "{split:?}: each object in exactly one shard: {owners:?}");
        }
    }

    #[test]
    fn projections_render_the_same_from_json_and_protobuf() {
        use crate::resources::configmap::ConfigMaps;
        let t = Typed::<ConfigMaps>::new(Arc::from(vec![2, 3]), Arc::new(Ctx::default()), Shard::default());
        let json = br#"{"metadata":{"name":"a","namespace":"n","uid":"u1","resourceVersion":"5","creationTimestamp":"2024-01-01T00:00:00Z"},"data":{"k":"v"}}"#;
        let mut ts = kwire::Writer::new();
        ts.int64(1, 1_704_067_200);
        ts.varint(2, 0);
        let mut meta = kwire::Writer::new();
        meta.string(1, "a");
        meta.string(3, "n");
        meta.string(5, "u1");
        meta.string(6, "5");
        meta.message(8, ts.as_bytes());
        let mut cm = kwire::Writer::new();
        cm.message(1, meta.as_bytes());
        let text = |d: Decoded| match d {
            Decoded::Item(i) => {
                let names = [2, 3].map(|f| ConfigMaps::families()[f].name);
                (i.key, i.resource_version, String::from_utf8(i.rendered.unwrap().to_text(&names)).unwrap())
            }
            other => panic!("{other:?}"),
        };
        let (j, p) = (text(t.json(json)), text(t.protobuf(cm.as_bytes())));
        assert_eq!(j, p);
        assert_eq!(
            j.2,
            "kube_configmap_info{namespace=\"n\",configmap=\"a\"} 1\nkube_configmap_created{namespace=\"n\",configmap=\"a\"} 1.7040672e+09\n"
        );
        assert!(t.wants_protobuf());
        // A field of the wrong shape: known by its metadata, not rendered.
        let bad = br#"{"metadata":{"name":"b","uid":"u2","resourceVersion":"6","creationTimestamp":"not a time"}}"#;
        assert!(matches!(t.json(bad), Decoded::Item(Item { rendered: None, .. })));
        assert!(matches!(t.protobuf(&[0x0a, 0x05]), Decoded::Garbage(_)));
        // Malformed only where no family of the resource reads (configmaps read metadata alone): the
        // projection never decodes that field, so the object renders, from either encoding.
        let odd_json = br#"{"metadata":{"name":"b","uid":"u2","resourceVersion":"6"},"data":7}"#;
        assert_eq!(text(t.json(odd_json)).2, "kube_configmap_info{namespace=\"\",configmap=\"b\"} 1\n");
        assert_eq!(text(t.protobuf(&bad_data_pb())).2, "kube_configmap_info{namespace=\"\",configmap=\"b\"} 1\n");
    }

    /// A ConfigMap `b` (uid `u2`, resourceVersion 6) whose data has a key that is not UTF-8.
    fn bad_data_pb() -> Vec<u8> {
        let mut meta = kwire::Writer::new();
        meta.string(1, "b");
        meta.string(5, "u2");
        meta.string(6, "6");
        let mut entry = kwire::Writer::new();
        entry.bytes(1, b"\xff");
        entry.string(2, "v");
        let mut cm = kwire::Writer::new();
        cm.message(1, meta.as_bytes());
        cm.message(2, entry.as_bytes());
        cm.into_bytes()
    }

    #[test]
    fn keys_of_deleted_objects_come_from_metadata_alone() {
        let (k, rv) = key_of_json(
            br#"{"kind":"Pod","metadata":{"uid":"u","name":"p","namespace":"n","resourceVersion":"12"},"spec":7}"#,
        )
        .unwrap();
        assert_eq!((k, rv.as_str()), (ObjectKey::new("n", "p", "u"), "12"));
        assert!(key_of_json(b"nope").is_err());
    }
}
