//! Custom resources and their definitions in the list/watch pipeline: how their objects are rendered,
//! and where the CustomResourceDefinitions go (a cache that tells the runtime what is served).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::sync::watch;

use super::telemetry::CustomTelemetry;
use super::{CompiledResource, Gvkp};
use crate::family::Rendered;
use crate::ingest::Sink;
use crate::ingest::machine::Item;
use crate::ingest::render::{Decoded, Render};
use crate::key::ObjectKey;
use crate::scrape::Headers;
use crate::shard::Shard;
use crate::textstore::StoreEvent;

fn key_of(v: &Value) -> ObjectKey {
    let m = &v["metadata"];
    let s = |f: &str| m[f].as_str().unwrap_or("");
    ObjectKey::new(s("namespace"), s("name"), s("uid"))
}

fn resource_version(v: &Value) -> String {
    v["metadata"]["resourceVersion"].as_str().unwrap_or("").to_owned()
}

/// What one watch task needs: every configured resource bound to this GVK, with its enabled families.
pub(super) struct Bound {
    pub(super) gvk: Gvkp,
    pub(super) parts: Vec<(CompiledResource, Vec<usize>)>,
    pub(super) shard: Shard,
    /// From the CRD's `spec.scope`.
    pub(super) namespaced: bool,
}

impl Bound {
    pub(super) fn headers(&self) -> Headers {
        let mut parts = Vec::new();
        for (r, enabled) in &self.parts {
            let names = r.family_names();
            for &i in enabled {
                let (mut t, mut o) = (Vec::new(), Vec::new());
                r.write_header(i, &mut t, false);
                r.write_header(i, &mut o, true);
                parts.push((names[i].to_owned(), t, o));
            }
        }
        Headers::from_parts(parts)
    }

    /// Every configured resource's rendering of `obj`, one after the other (several config entries may
    /// select the same GVK; their families then share one writer).
    pub(super) fn render(&self, obj: &Value) -> Rendered {
        let mut out = Rendered::default();
        for (r, enabled) in &self.parts {
            out.append(&r.render_enabled(obj, enabled));
        }
        out
    }
}

/// Custom objects: decoded as generic JSON and rendered by every configuration entry bound to their
/// group/version/kind.
pub struct CustomRender {
    pub bound: Arc<Bound>,
}

impl Render for CustomRender {
    fn json(&self, raw: &[u8]) -> Decoded {
        let v: Value = match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return Decoded::Garbage("not an object".into()),
            Err(e) => return Decoded::Garbage(e.to_string()),
        };
        if !self.bound.shard.owns(v["metadata"]["uid"].as_str().unwrap_or("")) {
            return Decoded::Foreign { resource_version: resource_version(&v) };
        }
        Decoded::Item(Item {
            key: key_of(&v),
            resource_version: resource_version(&v),
            rendered: Some(self.bound.render(&v)),
        })
    }
}

/// CustomResourceDefinitions: "rendered" to the JSON of the fields the runtime reads.
pub struct CrdRender;

impl Render for CrdRender {
    fn json(&self, raw: &[u8]) -> Decoded {
        let v: Value = match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return Decoded::Garbage("not an object".into()),
            Err(e) => return Decoded::Garbage(e.to_string()),
        };
        let kept = serde_json::json!({
            "metadata": {"name": v["metadata"]["name"]},
            "spec": {
                "group": v["spec"]["group"],
                "names": {"kind": v["spec"]["names"]["kind"], "plural": v["spec"]["names"]["plural"]},
                "scope": v["spec"]["scope"],
                "versions": v["spec"]["versions"].as_array().map(|vs| vs.iter().map(|x| serde_json::json!({"name": x["name"], "served": x["served"]})).collect::<Vec<_>>()),
            }
        });
        let buf = serde_json::to_vec(&kept).unwrap_or_default();
        let mut r = Rendered { buf, ..Rendered::default() };
        r.end_family();
        Decoded::Item(Item { key: key_of(&v), resource_version: resource_version(&v), rendered: Some(r) })
    }
}

/// The CRDs currently known, by key, with a relist-in-progress set beside them; every change of the
/// live set is published to the runtime.
pub struct CrdSink {
    live: BTreeMap<ObjectKey, Value>,
    building: Option<BTreeMap<ObjectKey, Value>>,
    telemetry: Arc<CustomTelemetry>,
    tx: watch::Sender<Arc<Vec<Value>>>,
    on_synced: Box<dyn Fn() + Send>,
}

impl CrdSink {
    pub fn new(
        telemetry: Arc<CustomTelemetry>,
        tx: watch::Sender<Arc<Vec<Value>>>,
        on_synced: Box<dyn Fn() + Send>,
    ) -> Self {
        CrdSink { live: BTreeMap::new(), building: None, telemetry, tx, on_synced }
    }

    fn count(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn publish(&self) {
        self.telemetry.cache.store(self.live.len() as u64, Ordering::Relaxed);
        let _ = self.tx.send(Arc::new(self.live.values().cloned().collect()));
    }
}

fn crd_value(r: &Rendered) -> Option<Value> {
    serde_json::from_slice(&r.buf).ok()
}

impl Sink for CrdSink {
    fn apply(&mut self, event: StoreEvent) -> usize {
        let tel = self.telemetry.clone();
        match event {
            StoreEvent::BeginRelist => self.building = Some(BTreeMap::new()),
            StoreEvent::Insert(k, r) => {
                if let Some(v) = crd_value(&r) {
                    match &mut self.building {
                        Some(b) => {
                            b.insert(k, v);
                        }
                        None => return self.apply(StoreEvent::Upsert(k, r)),
                    }
                }
            }
            StoreEvent::EndRelist => {
                let new = self.building.take().unwrap_or_default();
                for (k, v) in &new {
                    match self.live.get(k) {
                        None => Self::count(&tel.add),
                        Some(old) if old != v => Self::count(&tel.update),
                        Some(_) => {}
                    }
                }
                for k in self.live.keys() {
                    if !new.contains_key(k) {
                        Self::count(&tel.delete);
                    }
                }
                self.live = new;
                self.publish();
                (self.on_synced)();
                return self.live.len();
            }
            StoreEvent::Upsert(k, r) => {
                if let Some(v) = crd_value(&r) {
                    Self::count(if self.live.contains_key(&k) { &tel.update } else { &tel.add });
                    self.live.insert(k, v);
                    self.publish();
                }
            }
            StoreEvent::Remove(k) => {
                if let Some(b) = &mut self.building {
                    b.remove(&k);
                }
                if self.live.remove(&k).is_some() {
                    Self::count(&tel.delete);
                    self.publish();
                }
            }
            StoreEvent::Failing(_) | StoreEvent::Reset => {}
        }
        0
    }
}
