//! The object store: one ordered table per resource type, a global resourceVersion counter, and a
//! bounded event log that watchers replay from. Each object version is serialized exactly once; lists and
//! watch events splice the shared bytes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::error::SimError;
use crate::resources::{self, ResKey, ResourceType};
use crate::selector::{FieldSelector, LabelSelector, extract_fields};

/// First resourceVersion handed out; arbitrary, but clearly not zero.
pub const FIRST_RV: u64 = 1000;

/// One stored version of an object.
#[derive(Debug)]
pub struct Obj {
    /// The object as a real server serializes it alone: `{"kind":…,"apiVersion":…,` then the rest.
    pub bytes: Bytes,
    /// Where the rest starts: `{` + `bytes[item_at..]` is the object as a list item, which the real
    /// server writes without kind and apiVersion.
    pub item_at: usize,
    pub rv: u64,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: Vec<(String, String)>,
    pub fields: Vec<(&'static str, String)>,
    /// The protobuf message of this version, made on its first protobuf answer.
    pub protobuf: std::sync::OnceLock<Bytes>,
}

impl Obj {
    /// The object as an item of a list (no kind, no apiVersion), in two parts to write one after
    /// the other.
    pub fn item_parts(&self) -> (&'static [u8], &[u8]) {
        (b"{", &self.bytes[self.item_at..])
    }
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
    pub fn matches(&self, labels: &LabelSelector, fields: &FieldSelector) -> bool {
        if !labels.is_empty() && !labels.matches(&self.labels) {
            return false;
        }
        fields.is_empty()
            || fields.matches_with(|k| match k {
                "metadata.name" => Some(self.name.as_str()),
                "metadata.namespace" => Some(self.namespace.as_str()),
                _ => self.fields.iter().find(|(f, _)| *f == k).map(|(_, v)| v.as_str()),
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change. Watchers frame the shared object bytes themselves, so no per-event copy is kept.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub res: ResKey,
    pub etype: EventType,
    pub obj: Arc<Obj>,
    pub prev: Option<Arc<Obj>>,
}

/// Live feed of every change in the store.
pub type EventReceiver = broadcast::Receiver<Arc<Event>>;

/// Render `{"type":T,"object":OBJ}\n`.
pub fn event_line(etype: &str, obj: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(obj.len() + 32);
    b.put_slice(b"{\"type\":\"");
    b.put_slice(etype.as_bytes());
    b.put_slice(b"\",\"object\":");
    b.put_slice(obj);
    b.put_slice(b"}\n");
    b.freeze()
}

struct Table {
    rt: Arc<ResourceType>,
    objs: BTreeMap<(String, String), Arc<Obj>>,
}

struct Inner {
    rv: u64,
    tables: HashMap<ResKey, Table>,
    by_kind: HashMap<(String, String), ResKey>,
    events: VecDeque<Arc<Event>>,
    /// Events with rv <= compacted are gone; watches and continues from before it get 410.
    compacted: u64,
    window: usize,
}

/// How much of the caller's metadata a create keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateMode {
    /// As the API server: uid and creationTimestamp are always assigned, status of types with a
    /// status subresource is dropped.
    Api,
    /// Whatever the object carries is kept; what is missing is assigned (uid, creationTimestamp,
    /// generation of objects with a spec).
    Keep,
    /// As a dump gives it: every field kept, only uid and creationTimestamp assigned when missing.
    Fixture,
}

/// Which part of an object an update replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    Main,
    Status,
}

/// What a list keeps: label, field and shard selectors.
#[derive(Clone, Copy)]
pub struct Selection<'a> {
    pub labels: &'a LabelSelector,
    pub fields: &'a FieldSelector,
    pub shard: Option<&'a crate::shard::ShardSelector>,
}

/// A page of a list.
pub struct Page {
    pub items: Vec<Arc<Obj>>,
    pub rv: u64,
    /// Key of the last returned object when more matching objects follow.
    pub next: Option<(String, String)>,
    pub remaining: usize,
}

/// The in-memory object store.
pub struct Store {
    inner: RwLock<Inner>,
    tx: broadcast::Sender<Arc<Event>>,
}

fn now_ts() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random RFC 4122 version-4 UUID.
pub fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    uid_from_bytes(b)
}

pub fn uid_from_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn random_suffix() -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5).map(|_| ALPHA[rand::random_range(0..ALPHA.len())] as char).collect()
}

fn meta_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, SimError> {
    let o = obj.as_object_mut().ok_or_else(|| SimError::bad_request("object is not a JSON object"))?;
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    m.as_object_mut().ok_or_else(|| SimError::bad_request("metadata is not an object"))
}

fn build_obj(rt: &ResourceType, mut v: Value, rv: u64) -> Result<Arc<Obj>, SimError> {
    let m = meta_mut(&mut v)?;
    m.insert("resourceVersion".into(), Value::String(rv.to_string()));
    let name = m.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let namespace = m.get("namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    let uid = m.get("uid").and_then(Value::as_str).unwrap_or_default().to_string();
    let labels = m
        .get("labels")
        .and_then(Value::as_object)
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("apiVersion");
        o.remove("kind");
    }
    let fields = extract_fields(&rt.kind, &v);
    let rest = serde_json::to_vec(&v).map_err(|e| SimError::internal(e.to_string()))?;
    // Type first, as Go writes TypeMeta before the other fields.
    let mut bytes = Vec::with_capacity(rest.len() + 64);
    bytes.extend_from_slice(b"{\"kind\":");
    serde_json::to_writer(&mut bytes, &rt.kind).map_err(|e| SimError::internal(e.to_string()))?;
    bytes.extend_from_slice(b",\"apiVersion\":");
    serde_json::to_writer(&mut bytes, &rt.api_version()).map_err(|e| SimError::internal(e.to_string()))?;
    let item_at = if rest.len() > 2 {
        bytes.push(b',');
        bytes.len()
    } else {
        bytes.len()
    };
    bytes.extend_from_slice(&rest[1..]);
    Ok(Arc::new(Obj {
        bytes: Bytes::from(bytes),
        item_at,
        rv,
        namespace,
        name,
        uid,
        labels,
        fields,
        protobuf: Default::default(),
    }))
}

impl Store {
    /// An empty store serving the built-in types, keeping `window` events for watch resumption.
    pub fn new(window: usize) -> Self {
        Self::starting_at(window, FIRST_RV)
    }

    /// An empty store whose resourceVersions continue from `rv` (a restored or different cluster).
    pub fn starting_at(window: usize, rv: u64) -> Self {
        Self::serving(window, rv, resources::NEWEST_MINOR, &[])
    }

    /// An empty store serving the built-in types of Kubernetes 1.`minor` and the beta group/versions
    /// `betas` (see [`resources::builtin_for`]), resourceVersions from `rv`.
    pub fn serving(window: usize, rv: u64, minor: u32, betas: &[String]) -> Self {
        let (tx, _) = broadcast::channel(65536);
        let mut inner = Inner {
            rv,
            tables: HashMap::new(),
            by_kind: HashMap::new(),
            events: VecDeque::new(),
            compacted: rv,
            window: window.max(1),
        };
        for rt in resources::builtin_for(minor, betas) {
            inner.register(rt);
        }
        Self { inner: RwLock::new(inner), tx }
    }

    /// Take over everything `other` holds (objects, types, history, resourceVersion), as if another
    /// cluster now answered: no events are sent, and watchers must be cut by the caller.
    pub fn replace_contents(&self, other: Store) {
        let other = other.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        *self.write() = other;
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    // ---- resource types ----

    /// All served resource types.
    pub fn resources(&self) -> Vec<Arc<ResourceType>> {
        let g = self.read();
        let mut v: Vec<_> = g.tables.values().map(|t| t.rt.clone()).collect();
        v.sort_by(|a, b| (&a.group, &a.version, &a.plural).cmp(&(&b.group, &b.version, &b.plural)));
        v
    }

    pub fn resource_by_path(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        let key = format!("{group}/{version}/{plural}");
        self.read().tables.get(key.as_str()).map(|t| t.rt.clone())
    }

    /// Whether any resource of `group/version` is served from the store.
    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.read().tables.values().any(|t| t.rt.group == group && t.rt.version == version)
    }

    pub fn resource_for(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let g = self.read();
        let key = g.by_kind.get(&(api_version.to_string(), kind.to_string()))?;
        g.tables.get(key).map(|t| t.rt.clone())
    }

    fn rt_or_err(&self, api_version: &str, kind: &str) -> Result<Arc<ResourceType>, SimError> {
        self.resource_for(api_version, kind).ok_or_else(|| SimError::not_found_path().with_details(kind, ""))
    }

    /// Current resourceVersion of the store.
    pub fn current_rv(&self) -> u64 {
        self.read().rv
    }

    /// resourceVersion below which history has been forgotten.
    pub fn compacted_rv(&self) -> u64 {
        self.read().compacted
    }

    /// Forget the event window: any watch or continue from an older version gets 410.
    pub fn expire_events(&self) {
        let mut g = self.write();
        g.events.clear();
        g.compacted = g.rv;
    }

    // ---- public convenience API (JSON values) ----

    pub fn create(&self, obj: Value) -> Result<Value, SimError> {
        let rt = self.rt_for_value(&obj)?;
        self.create_in(&rt, obj, CreateMode::Keep).map(|o| o.value())
    }

    pub fn update(&self, obj: Value) -> Result<Value, SimError> {
        let rt = self.rt_for_value(&obj)?;
        self.update_in(&rt, obj, UpdateKind::Main).map(|o| o.value())
    }

    /// Replace the status of an object (as a PUT on the status subresource).
    pub fn update_status(&self, obj: Value) -> Result<Value, SimError> {
        let rt = self.rt_for_value(&obj)?;
        self.update_in(&rt, obj, UpdateKind::Status).map(|o| o.value())
    }

    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, SimError> {
        let rt = self.rt_or_err(api_version, kind)?;
        self.delete_in(&rt, namespace.unwrap_or_default(), name, None).map(|o| o.value())
    }

    pub fn get(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let rt = self.resource_for(api_version, kind)?;
        self.get_in(&rt, namespace.unwrap_or_default(), name).map(|o| o.value())
    }

    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(rt) = self.resource_for(api_version, kind) else {
            return Vec::new();
        };
        self.snapshot(&rt, namespace).0.iter().map(|o| o.value()).collect()
    }

    pub fn count(&self, api_version: &str, kind: &str) -> usize {
        let Some(rt) = self.resource_for(api_version, kind) else {
            return 0;
        };
        self.read().tables.get(&rt.key()).map_or(0, |t| t.objs.len())
    }

    fn rt_for_value(&self, obj: &Value) -> Result<Arc<ResourceType>, SimError> {
        let av = obj["apiVersion"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap_or_default();
        if av.is_empty() || kind.is_empty() {
            return Err(SimError::bad_request("Object 'Kind' is missing or 'apiVersion' is missing"));
        }
        self.resource_for(av, kind).ok_or_else(|| SimError::not_found_path().with_details(kind, ""))
    }

    // ---- core operations on a resource type ----

    pub fn get_in(&self, rt: &ResourceType, ns: &str, name: &str) -> Option<Arc<Obj>> {
        let g = self.read();
        let ns = if rt.namespaced { ns } else { "" };
        g.tables.get(&rt.key())?.objs.get(&(ns.to_string(), name.to_string())).cloned()
    }

    /// All objects of a type (optionally in one namespace) and the rv they are consistent with.
    pub fn snapshot(&self, rt: &ResourceType, ns: Option<&str>) -> (Vec<Arc<Obj>>, u64) {
        let g = self.read();
        let Some(t) = g.tables.get(&rt.key()) else {
            return (Vec::new(), g.rv);
        };
        let items = match ns {
            Some(ns) if rt.namespaced => t
                .objs
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, o)| o.clone())
                .collect(),
            _ => t.objs.values().cloned().collect(),
        };
        (items, g.rv)
    }

    /// One page of a filtered list, starting after `after`'s key (whose number says how many items the
    /// earlier pages returned).
    pub fn page(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        after: Option<(&(String, String), usize)>,
        sel: &Selection<'_>,
        limit: usize,
    ) -> Page {
        let Selection { labels, fields, shard } = *sel;
        let (after, seen) = (after.map(|a| a.0), after.map_or(0, |a| a.1));
        let g = self.read();
        let mut page = Page { items: Vec::new(), rv: g.rv, next: None, remaining: 0 };
        let Some(t) = g.tables.get(&rt.key()) else {
            return page;
        };
        let ns = ns.filter(|_| rt.namespaced);
        let start = match (after, ns) {
            (Some(k), _) => std::ops::Bound::Excluded(k.clone()),
            (None, Some(ns)) => std::ops::Bound::Included((ns.to_string(), String::new())),
            (None, None) => std::ops::Bound::Unbounded,
        };
        let unfiltered = labels.is_empty() && fields.is_empty() && shard.is_none();
        let mut iter = t
            .objs
            .range((start, std::ops::Bound::Unbounded))
            .take_while(|((n, _), _)| ns.is_none_or(|ns| ns == n))
            .filter(|(_, o)| o.matches(labels, fields) && shard.is_none_or(|s| s.matches(&o.uid, &o.namespace)));
        for (k, o) in iter.by_ref() {
            page.items.push(o.clone());
            if limit > 0 && page.items.len() >= limit {
                page.next = Some(k.clone());
                break;
            }
        }
        if page.next.is_some() {
            if iter.next().is_none() {
                page.next = None;
            } else if unfiltered && ns.is_none() {
                // Counting what is left page after page made a paginated list quadratic (200 pages of
                // 500 at 100,000 pods took three times an unpaginated one); the earlier pages' count,
                // carried in the continue token, gives it at once.
                page.remaining = t.objs.len().saturating_sub(seen + page.items.len()).max(1);
            } else if unfiltered {
                page.remaining = 1 + iter.count();
            } else {
                page.remaining = 1;
            }
        }
        page
    }

    pub fn create_in(&self, rt: &Arc<ResourceType>, mut obj: Value, mode: CreateMode) -> Result<Arc<Obj>, SimError> {
        let mut g = self.write();
        {
            let m = meta_mut(&mut obj)?;
            let has_name = m.get("name").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
            if !has_name {
                let gen_name = m.get("generateName").and_then(Value::as_str).unwrap_or_default();
                if gen_name.is_empty() {
                    return Err(SimError::invalid(
                        &rt.kind,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
                let name = format!("{gen_name}{}", random_suffix());
                m.insert("name".into(), Value::String(name));
            }
            if !rt.namespaced {
                m.remove("namespace");
            } else if m.get("namespace").and_then(Value::as_str).is_none_or(str::is_empty) {
                m.insert("namespace".into(), Value::String("default".into()));
            }
            if mode == CreateMode::Api || m.get("uid").and_then(Value::as_str).is_none() {
                m.insert("uid".into(), Value::String(new_uid()));
            }
            if mode == CreateMode::Api || m.get("creationTimestamp").and_then(Value::as_str).is_none() {
                m.insert("creationTimestamp".into(), Value::String(now_ts()));
            }
            m.remove("resourceVersion");
            if mode == CreateMode::Api {
                m.remove("deletionTimestamp");
                m.remove("deletionGracePeriodSeconds");
            }
        }
        if obj.get("spec").is_some() {
            let m = meta_mut(&mut obj)?;
            if mode == CreateMode::Api || (mode == CreateMode::Keep && m.get("generation").is_none()) {
                m.insert("generation".into(), json!(1));
            }
        }
        if mode == CreateMode::Api
            && rt.has_status
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        if rt.kind == "Namespace" && mode != CreateMode::Fixture && obj["status"]["phase"].is_null() {
            if !obj["status"].is_object() {
                obj["status"] = json!({});
            }
            obj["status"]["phase"] = json!("Active");
        }
        if rt.kind == "CustomResourceDefinition" && obj["status"]["conditions"].is_null() {
            crd_accept(&mut obj);
        }
        let key = obj_key(rt, &obj);
        let table = g.tables.get(&rt.key()).ok_or_else(SimError::not_found_path)?;
        if table.objs.contains_key(&key) {
            return Err(SimError::already_exists(&rt.plural, &key.1));
        }
        let crd = (rt.kind == "CustomResourceDefinition").then(|| resources::from_crd(&obj));
        let rv = g.rv + 1;
        let o = build_obj(rt, obj, rv)?;
        g.commit(&self.tx, rt, key, EventType::Added, o.clone(), None);
        if let Some(types) = crd {
            for t in types {
                g.register(t);
            }
        }
        Ok(o)
    }

    pub fn update_in(&self, rt: &Arc<ResourceType>, obj: Value, kind: UpdateKind) -> Result<Arc<Obj>, SimError> {
        let key = obj_key(rt, &obj);
        let want_rv = obj["metadata"]["resourceVersion"].as_str().map(str::to_string);
        let mut g = self.write();
        let old = g.get(rt, &key).ok_or_else(|| SimError::not_found(&rt.plural, &key.1))?;
        if let Some(want) = want_rv.filter(|s| !s.is_empty())
            && want != old.rv.to_string()
        {
            return Err(SimError::conflict(&rt.plural, &key.1));
        }
        let new = merge_update(rt, &old.value(), obj, kind)?;
        g.replace(&self.tx, rt, key, old, new)
    }

    /// Read-modify-write under the store lock (used by PATCH).
    pub fn modify_in(
        &self,
        rt: &Arc<ResourceType>,
        ns: &str,
        name: &str,
        kind: UpdateKind,
        f: impl FnOnce(Value) -> Result<Value, SimError>,
    ) -> Result<Arc<Obj>, SimError> {
        let ns = if rt.namespaced { ns } else { "" };
        let key = (ns.to_string(), name.to_string());
        let mut g = self.write();
        let old = g.get(rt, &key).ok_or_else(|| SimError::not_found(&rt.plural, name))?;
        let cur = old.value();
        let mut patched = f(cur.clone())?;
        let want = patched["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
        if !want.is_empty() && want != old.rv.to_string() {
            return Err(SimError::conflict(&rt.plural, name));
        }
        // The object's identity cannot be changed by a patch.
        if let Some(m) = patched.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("name".into(), Value::String(name.to_string()));
            if rt.namespaced {
                m.insert("namespace".into(), Value::String(ns.to_string()));
            }
        }
        let new = merge_update(rt, &cur, patched, kind)?;
        g.replace(&self.tx, rt, key, old, new)
    }

    pub fn delete_in(
        &self,
        rt: &Arc<ResourceType>,
        ns: &str,
        name: &str,
        preconditions: Option<(&str, &str)>,
    ) -> Result<Arc<Obj>, SimError> {
        let ns = if rt.namespaced { ns } else { "" };
        let key = (ns.to_string(), name.to_string());
        let mut g = self.write();
        let old = g.get(rt, &key).ok_or_else(|| SimError::not_found(&rt.plural, name))?;
        let mut v = old.value();
        if let Some((uid, rv)) = preconditions {
            let cur_uid = v["metadata"]["uid"].as_str().unwrap_or_default();
            if (!uid.is_empty() && uid != cur_uid) || (!rv.is_empty() && rv != old.rv.to_string()) {
                return Err(SimError::conflict(&rt.plural, name));
            }
        }
        let has_finalizers = v["metadata"]["finalizers"].as_array().is_some_and(|a| !a.is_empty());
        if has_finalizers {
            // As the real server: mark for deletion and wait for the finalizers to go.
            if v["metadata"]["deletionTimestamp"].is_null() {
                let m = meta_mut(&mut v)?;
                m.insert("deletionTimestamp".into(), Value::String(now_ts()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                return g.replace_raw(&self.tx, rt, key, old, v);
            }
            return Ok(old);
        }
        if rt.kind == "Namespace" {
            g.delete_namespace_contents(&self.tx, name);
        }
        Ok(g.remove(&self.tx, rt, &key, old))
    }

    /// Replace a stored object by `obj` as given (fixtures superseding what a fresh server made):
    /// only the resourceVersion is the store's, and uid/creationTimestamp are kept when missing.
    pub fn replace_in(&self, rt: &Arc<ResourceType>, mut obj: Value) -> Result<Arc<Obj>, SimError> {
        let key = obj_key(rt, &obj);
        let mut g = self.write();
        let old = g.get(rt, &key).ok_or_else(|| SimError::not_found(&rt.plural, &key.1))?;
        let prev = old.value();
        let m = meta_mut(&mut obj)?;
        m.remove("resourceVersion");
        for f in ["uid", "creationTimestamp"] {
            if m.get(f).is_none()
                && let Some(v) = prev["metadata"].get(f)
            {
                m.insert(f.into(), v.clone());
            }
        }
        g.replace_raw(&self.tx, rt, key, old, obj)
    }

    /// Set up a watch: the retained events after `since` plus a live receiver, or 410.
    pub fn watch_from(&self, rt: &ResourceType, since: u64) -> Result<(Vec<Arc<Event>>, EventReceiver), SimError> {
        let g = self.read();
        if since < g.compacted {
            return Err(SimError::expired(format!("too old resource version: {since} ({})", g.compacted)));
        }
        let key = rt.key();
        let backlog = g.events.iter().filter(|e| e.rv > since && e.res == key).cloned().collect();
        let rx = self.tx.subscribe();
        Ok((backlog, rx))
    }

    /// Current objects plus a live receiver, consistent with each other.
    pub fn watch_with_snapshot(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
    ) -> (Vec<Arc<Obj>>, u64, broadcast::Receiver<Arc<Event>>) {
        // Holding the read lock blocks writers, so nothing slips between snapshot and subscribe.
        let g = self.read();
        let rx = self.tx.subscribe();
        let items = g.tables.get(&rt.key()).map_or_else(Vec::new, |t| {
            t.objs
                .iter()
                .filter(|((n, _), _)| ns.is_none_or(|ns| !rt.namespaced || ns == n))
                .map(|(_, o)| o.clone())
                .collect()
        });
        (items, g.rv, rx)
    }
}

fn obj_key(rt: &ResourceType, obj: &Value) -> (String, String) {
    let ns = if rt.namespaced { obj["metadata"]["namespace"].as_str().unwrap_or("default") } else { "" };
    (ns.to_string(), obj["metadata"]["name"].as_str().unwrap_or_default().to_string())
}

/// Combine an incoming object with the stored one as an update of `kind` does.
fn merge_update(rt: &ResourceType, old: &Value, mut new: Value, kind: UpdateKind) -> Result<Value, SimError> {
    if !new.is_object() {
        return Err(SimError::bad_request("object is not a JSON object"));
    }
    match kind {
        UpdateKind::Status => {
            let status = new.get("status").cloned();
            new = old.clone();
            match status {
                Some(s) => new["status"] = s,
                None => {
                    if let Some(o) = new.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
        }
        UpdateKind::Main => {
            if rt.has_status {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            // Fields the server owns.
            let om = &old["metadata"];
            let m = meta_mut(&mut new)?;
            for f in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"] {
                match om.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
            let old_gen = om["generation"].as_i64();
            let gen_now = if old.get("spec") != new.get("spec") {
                old_gen.map(|g| g + 1).or(new.get("spec").map(|_| 1))
            } else {
                old_gen
            };
            let m = meta_mut(&mut new)?;
            match gen_now {
                Some(g) => m.insert("generation".into(), json!(g)),
                None => m.remove("generation"),
            };
        }
    }
    Ok(new)
}

/// Mark a CRD accepted and established, as the apiextensions controller would.
fn crd_accept(obj: &mut Value) {
    let names = obj["spec"]["names"].clone();
    let ts = now_ts();
    obj["status"] = json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": ts},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": ts},
        ],
        "storedVersions": obj["spec"]["versions"].as_array().map(|vs| vs.iter().filter(|v| v["storage"].as_bool() == Some(true)).map(|v| v["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
    });
}

impl Inner {
    fn register(&mut self, rt: ResourceType) {
        let key = rt.key();
        self.by_kind.insert((rt.api_version(), rt.kind.clone()), key.clone());
        self.tables.entry(key).or_insert_with(|| Table { rt: Arc::new(rt), objs: BTreeMap::new() });
    }

    fn unregister(&mut self, types: Vec<ResourceType>) {
        for rt in types {
            let key = rt.key();
            self.tables.remove(&key);
            self.by_kind.remove(&(rt.api_version(), rt.kind.clone()));
        }
    }

    fn get(&self, rt: &ResourceType, key: &(String, String)) -> Option<Arc<Obj>> {
        self.tables.get(&rt.key())?.objs.get(key).cloned()
    }

    fn commit(
        &mut self,
        tx: &broadcast::Sender<Arc<Event>>,
        rt: &ResourceType,
        key: (String, String),
        etype: EventType,
        obj: Arc<Obj>,
        prev: Option<Arc<Obj>>,
    ) {
        self.rv = obj.rv;
        let res = rt.key();
        if let Some(t) = self.tables.get_mut(&res) {
            if etype == EventType::Deleted {
                t.objs.remove(&key);
            } else {
                t.objs.insert(key, obj.clone());
            }
        }
        let ev = Arc::new(Event { rv: obj.rv, res, etype, obj, prev });
        self.events.push_back(ev.clone());
        while self.events.len() > self.window {
            if let Some(e) = self.events.pop_front() {
                self.compacted = e.rv;
            }
        }
        // No receivers is fine.
        let _ = tx.send(ev);
    }

    fn replace(
        &mut self,
        tx: &broadcast::Sender<Arc<Event>>,
        rt: &Arc<ResourceType>,
        key: (String, String),
        old: Arc<Obj>,
        new: Value,
    ) -> Result<Arc<Obj>, SimError> {
        // An object marked for deletion goes once its last finalizer is removed.
        let deleting = !new["metadata"]["deletionTimestamp"].is_null()
            && new["metadata"]["finalizers"].as_array().is_none_or(|a| a.is_empty());
        if deleting {
            let rv = self.rv + 1;
            let o = build_obj(rt, new, rv)?;
            self.commit(tx, rt, key, EventType::Deleted, o.clone(), Some(old));
            return Ok(o);
        }
        self.replace_raw(tx, rt, key, old, new)
    }

    fn replace_raw(
        &mut self,
        tx: &broadcast::Sender<Arc<Event>>,
        rt: &Arc<ResourceType>,
        key: (String, String),
        old: Arc<Obj>,
        new: Value,
    ) -> Result<Arc<Obj>, SimError> {
        let crd = (rt.kind == "CustomResourceDefinition").then(|| resources::from_crd(&new));
        let rv = self.rv + 1;
        let o = build_obj(rt, new, rv)?;
        self.commit(tx, rt, key, EventType::Modified, o.clone(), Some(old));
        if let Some(types) = crd {
            for t in types {
                self.register(t);
            }
        }
        Ok(o)
    }

    /// Delete: the DELETED event carries the object at a fresh resourceVersion.
    fn remove(
        &mut self,
        tx: &broadcast::Sender<Arc<Event>>,
        rt: &ResourceType,
        key: &(String, String),
        old: Arc<Obj>,
    ) -> Arc<Obj> {
        let rv = self.rv + 1;
        let v = old.value();
        let crd = (rt.kind == "CustomResourceDefinition").then(|| resources::from_crd(&v));
        let o = build_obj(rt, v, rv).unwrap_or_else(|_| old.clone());
        self.commit(tx, rt, key.clone(), EventType::Deleted, o.clone(), Some(old));
        if let Some(types) = crd {
            self.unregister(types);
        }
        o
    }

    fn delete_namespace_contents(&mut self, tx: &broadcast::Sender<Arc<Event>>, ns: &str) {
        let mut doomed = Vec::new();
        for t in self.tables.values() {
            if !t.rt.namespaced {
                continue;
            }
            for (k, o) in t.objs.range((ns.to_string(), String::new())..).take_while(|((n, _), _)| n == ns) {
                doomed.push((t.rt.clone(), k.clone(), o.clone()));
            }
        }
        for (rt, k, o) in doomed {
            self.remove(tx, &rt, &k, o);
        }
    }
}
