//! Pre-rendered metric text per object, for one resource.
//!
//! The watcher feeds it: an add/update replaces one object's rendering, a delete removes it, and a relist
//! (Init … InitDone) fills a second map beside the live one and swaps it in whole at the end, so no stale
//! object survives a reconnect and no scrape ever sees a half-built set. A scrape takes a [`Snapshot`]
//! (reference-counted pointers to the renderings, copied under a short lock) and streams from it without
//! holding the lock.
//!
//! Renderings are held in [`Compact`] form (family names once per resource, each object's identity once),
//! which stays private to this module and [`crate::compact`], so the watcher and the HTTP side see text.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::compact::{Compact, Cursor};
use crate::family::Rendered;

/// Where an object sorts in the store: by namespace, then name, then uid. Ordering by name keeps
/// scrapes stable and readable; the uid keeps a deleted-and-recreated object distinct.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(Box<str>);

impl ObjectKey {
    pub fn new(namespace: &str, name: &str, uid: &str) -> Self {
        let mut s = String::with_capacity(namespace.len() + name.len() + uid.len() + 2);
        s.push_str(namespace);
        s.push('\0');
        s.push_str(name);
        s.push('\0');
        s.push_str(uid);
        ObjectKey(s.into_boxed_str())
    }
}

type Map = BTreeMap<ObjectKey, Compact>;

/// Family names of a store, by position among the enabled families.
type Names = Arc<[Box<[u8]>]>;

#[derive(Default)]
struct Inner {
    live: Map,
    /// The set being built by a relist in progress.
    building: Option<Map>,
    /// Set by the first completed list; cleared only by [`Store::reset`] (a later relist keeps serving
    /// the old set).
    synced: bool,
    /// Why the list/watch currently fails (e.g. forbidden), for readiness reporting; cleared by success.
    error: Option<String>,
    /// `live` in key order, built by the first scrape after a change and shared by every scrape until
    /// the next one: concurrent scrapes hold one copy of the pointers instead of one each.
    view: Option<Arc<[Compact]>>,
}

/// The objects of one list/watch (one namespace of a resource, or the whole resource).
#[derive(Default)]
pub struct Part {
    inner: Mutex<Inner>,
    names: Names,
}

impl Part {
    fn compact(&self, r: &Rendered) -> Compact {
        Compact::new((0..r.ends.len()).map(|i| r.family(i)), &self.names)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map (every mutation is a single call), so
        // the poison flag carries no information worth failing scrapes for.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A relist starts: collect the new set beside the live one. An unfinished earlier relist is dropped.
    pub fn begin_relist(&self) {
        self.lock().building = Some(Map::new());
    }

    /// An object of the relist in progress. Without one in progress it is an ordinary update.
    pub fn relist_insert(&self, key: ObjectKey, rendered: Rendered) {
        let c = self.compact(&rendered);
        drop(rendered);
        let mut g = self.lock();
        let inner = &mut *g;
        inner.view = None;
        inner.building.as_mut().unwrap_or(&mut inner.live).insert(key, c);
    }

    /// The relist is complete: its set replaces the live one. Returns the number of objects now live.
    pub fn finish_relist(&self) -> usize {
        let mut g = self.lock();
        g.synced = true;
        g.error = None;
        g.view = None;
        if let Some(new) = g.building.take() {
            let old = std::mem::replace(&mut g.live, new);
            let n = g.live.len();
            drop(g);
            // Freeing the old set can take a while for a big resource; do it outside the lock.
            drop(old);
            n
        } else {
            g.live.len()
        }
    }

    /// An object was added or changed.
    pub fn upsert(&self, key: ObjectKey, rendered: Rendered) {
        let rendered = self.compact(&rendered);
        let mut g = self.lock();
        let inner = &mut *g;
        inner.view = None;
        // Events between Init and InitDone do not happen with kube-runtime's watcher; should one arrive,
        // it is newer than anything in the relist, so it goes where it will survive the swap.
        inner.building.as_mut().unwrap_or(&mut inner.live).insert(key, rendered);
    }

    /// An object was deleted (or became unrenderable).
    pub fn remove(&self, key: &ObjectKey) {
        let old = {
            let mut g = self.lock();
            let a = g.live.remove(key);
            let b = g.building.as_mut().and_then(|m| m.remove(key));
            if a.is_some() {
                g.view = None;
            }
            (a, b)
        };
        drop(old);
    }

    /// Records (or, with `None`, clears) the reason the list/watch is failing.
    pub fn set_error(&self, error: Option<String>) {
        self.lock().error = error;
    }

    fn reset(&self) {
        let old = std::mem::take(&mut *self.lock());
        drop(old);
    }

    /// The live objects in key order, shared with other scrapes of the same state.
    fn view(&self) -> Arc<[Compact]> {
        let mut g = self.lock();
        if let Some(v) = &g.view {
            return v.clone();
        }
        let v: Arc<[Compact]> = g.live.values().cloned().collect();
        g.view = Some(v.clone());
        v
    }
}

/// The rendered objects of one resource: one [`Part`] per list/watch (per namespace with
/// `--namespaces`), served in part order, as upstream serves one store per namespace in flag order.
pub struct Store {
    parts: Box<[Part]>,
    names: Names,
}

impl Default for Store {
    fn default() -> Self {
        Store::with_parts(1)
    }
}

impl Store {
    /// A store fed by one list/watch.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store fed by `n` list/watches (at least one), without family names: it holds each object's
    /// lines less their shared prefix, but every line keeps its name (tests and placeholders).
    pub fn with_parts(n: usize) -> Self {
        Self::named(n, &[] as &[&str])
    }

    /// A store fed by `n` list/watches whose enabled families are named `names` in order, so lines are
    /// held without their names.
    pub fn named(n: usize, names: &[impl AsRef<str>]) -> Self {
        let names: Names = names.iter().map(|n| n.as_ref().as_bytes().into()).collect();
        let parts = (0..n.max(1)).map(|_| Part { inner: Mutex::default(), names: names.clone() }).collect();
        Store { parts, names }
    }

    /// Part `i`; out-of-range indexes give the last part.
    pub fn part(&self, i: usize) -> &Part {
        &self.parts[i.min(self.parts.len() - 1)]
    }

    pub fn part_count(&self) -> usize {
        self.parts.len()
    }

    /// [`Part::begin_relist`] of the first part (single-watch stores).
    pub fn begin_relist(&self) {
        self.part(0).begin_relist()
    }

    pub fn relist_insert(&self, key: ObjectKey, rendered: Rendered) {
        self.part(0).relist_insert(key, rendered)
    }

    pub fn finish_relist(&self) -> usize {
        self.part(0).finish_relist()
    }

    pub fn upsert(&self, key: ObjectKey, rendered: Rendered) {
        self.part(0).upsert(key, rendered)
    }

    /// Removes `key` from every part.
    pub fn remove(&self, key: &ObjectKey) {
        for p in &self.parts {
            p.remove(key);
        }
    }

    /// Whether every part has completed a first full list.
    pub fn synced(&self) -> bool {
        self.parts.iter().all(|p| p.lock().synced)
    }

    /// The distinct errors of parts that are failing right now.
    pub fn errors(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.parts {
            if let Some(e) = p.lock().error.clone()
                && !out.contains(&e)
            {
                out.push(e);
            }
        }
        out
    }

    /// Drops everything and marks the store unsynced, e.g. before relisting under a new shard filter,
    /// so that nothing another shard owns is served meanwhile.
    pub fn reset(&self) {
        for p in &self.parts {
            p.reset();
        }
    }

    /// Number of objects currently served.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.lock().live.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects served right now, part by part, each in key order, detached from later changes.
    pub fn snapshot(&self) -> Snapshot {
        let objects = match &*self.parts {
            [one] => one.view(),
            parts => parts.iter().flat_map(|p| p.view().to_vec()).collect(),
        };
        Snapshot { objects, names: self.names.clone() }
    }

    /// Bytes of text the objects served right now render to.
    pub fn rendered_bytes(&self) -> usize {
        self.snapshot().objects.iter().map(|c| c.text_len(&self.names)).sum()
    }

    /// Bytes the store holds for them (buffers alone, for benchmarks).
    pub fn held_bytes(&self) -> usize {
        self.snapshot().objects.iter().map(|c| c.held_bytes()).sum()
    }
}

/// The renderings of one resource at one instant.
#[derive(Clone, Default)]
pub struct Snapshot {
    objects: Arc<[Compact]>,
    names: Names,
}

impl Snapshot {
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn name(&self, family: usize) -> &[u8] {
        self.names.get(family).map_or(&b""[..], |n| n)
    }

    /// A cursor for walking this snapshot family by family with [`Snapshot::write_next`].
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.objects.len())
    }

    /// Appends the lines of family `family` of object `obj`, which must be the family after the one
    /// `cursor` last wrote for that object (a scrape's order: every object's family 0, then family 1…).
    pub fn write_next(&self, cursor: &mut Cursor, obj: usize, family: usize, out: &mut Vec<u8>) {
        self.objects[obj].write_next(cursor, obj, self.name(family), out);
    }

    /// Touches the coming bytes of objects `objs` (see [`Compact::touch`]) so their cache misses overlap.
    pub fn touch_ahead(&self, cursor: &Cursor, objs: std::ops::Range<usize>) {
        let end = objs.end.min(self.objects.len());
        let folded = (objs.start.min(end)..end).fold(0u8, |acc, o| acc ^ self.objects[o].touch(cursor, o));
        std::hint::black_box(folded);
    }

    /// Appends the lines of family `family` (position among the enabled families) of object `obj`.
    pub fn write_family(&self, obj: usize, family: usize, out: &mut Vec<u8>) {
        self.objects[obj].write_family(family, self.name(family), out);
    }

    /// The lines of family `family` of object `obj`, as a new buffer (tests and tools).
    pub fn family(&self, obj: usize, family: usize) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_family(obj, family, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(fams: &[&str]) -> Rendered {
        let mut out = Rendered::default();
        for f in fams {
            out.buf.extend_from_slice(f.as_bytes());
            out.ends.push(out.buf.len() as u32);
        }
        out
    }

    fn text(s: &Snapshot, fam: usize) -> String {
        let mut out = Vec::new();
        (0..s.len()).for_each(|i| s.write_family(i, fam, &mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn upsert_and_remove() {
        let st = Store::new();
        st.upsert(ObjectKey::new("ns", "b", "2"), r(&["b0\n", "b1\n"]));
        st.upsert(ObjectKey::new("ns", "a", "1"), r(&["a0\n", ""]));
        let s = st.snapshot();
        assert_eq!(text(&s, 0), "a0\nb0\n");
        assert_eq!(text(&s, 1), "b1\n");
        st.upsert(ObjectKey::new("ns", "a", "1"), r(&["A0\n", "A1\n"]));
        st.remove(&ObjectKey::new("ns", "b", "2"));
        let s2 = st.snapshot();
        assert_eq!(text(&s2, 0), "A0\n");
        assert_eq!(text(&s2, 1), "A1\n");
        // The earlier snapshot is unaffected by later changes.
        assert_eq!(text(&s, 0), "a0\nb0\n");
    }

    #[test]
    fn unchanged_stores_share_one_view_and_every_change_renews_it() {
        let st = Store::new();
        st.upsert(ObjectKey::new("ns", "a", "1"), r(&["a\n"]));
        let (s1, s2) = (st.snapshot(), st.snapshot());
        assert!(Arc::ptr_eq(&s1.objects, &s2.objects));
        let changes: [(&str, &dyn Fn()); 5] = [
            ("upsert", &|| st.upsert(ObjectKey::new("ns", "b", "2"), r(&["b\n"]))),
            ("remove", &|| st.remove(&ObjectKey::new("ns", "b", "2"))),
            ("insert without relist", &|| st.relist_insert(ObjectKey::new("ns", "c", "3"), r(&["c\n"]))),
            ("relist", &|| {
                st.begin_relist();
                st.relist_insert(ObjectKey::new("ns", "d", "4"), r(&["d\n"]));
                st.finish_relist();
            }),
            ("reset", &|| st.reset()),
        ];
        let mut want = ["a\n", "a\nb\n", "a\n", "a\nc\n", "d\n", ""].into_iter();
        let mut before = st.snapshot();
        assert_eq!(text(&before, 0), want.next().unwrap());
        for (what, change) in changes {
            change();
            let after = st.snapshot();
            assert_eq!(text(&after, 0), want.next().unwrap(), "after {what}");
            assert!(!Arc::ptr_eq(&before.objects, &after.objects) || after.is_empty(), "{what}");
            before = after;
        }
        // Removing what is not there changes nothing and keeps the view.
        st.upsert(ObjectKey::new("ns", "e", "5"), r(&["e\n"]));
        let s = st.snapshot();
        st.remove(&ObjectKey::new("ns", "zz", "9"));
        assert!(Arc::ptr_eq(&s.objects, &st.snapshot().objects));
    }

    #[test]
    fn relist_swaps_whole_set_at_the_end() {
        let st = Store::new();
        assert!(!st.synced());
        st.begin_relist();
        st.relist_insert(ObjectKey::new("", "a", "1"), r(&["a\n"]));
        // Nothing is served until the list completes.
        assert!(st.snapshot().is_empty());
        assert!(!st.synced());
        assert_eq!(st.finish_relist(), 1);
        assert!(st.synced());

        st.upsert(ObjectKey::new("", "b", "2"), r(&["b\n"]));
        st.begin_relist();
        st.relist_insert(ObjectKey::new("", "c", "3"), r(&["c\n"]));
        // While the relist runs the old set is still served whole.
        assert_eq!(text(&st.snapshot(), 0), "a\nb\n");
        st.finish_relist();
        // a and b were deleted while we were disconnected: gone.
        assert_eq!(text(&st.snapshot(), 0), "c\n");
        assert!(st.synced());
    }

    #[test]
    fn restarted_relist_drops_partial_set() {
        let st = Store::new();
        st.begin_relist();
        st.relist_insert(ObjectKey::new("", "a", "1"), r(&["a\n"]));
        st.begin_relist();
        st.relist_insert(ObjectKey::new("", "b", "2"), r(&["b\n"]));
        st.finish_relist();
        assert_eq!(text(&st.snapshot(), 0), "b\n");
    }

    #[test]
    fn remove_during_relist_reaches_both_sets() {
        let st = Store::new();
        st.upsert(ObjectKey::new("", "a", "1"), r(&["a\n"]));
        st.begin_relist();
        st.relist_insert(ObjectKey::new("", "a", "1"), r(&["a\n"]));
        st.remove(&ObjectKey::new("", "a", "1"));
        assert!(st.snapshot().is_empty());
        st.finish_relist();
        assert!(st.snapshot().is_empty());
    }

    #[test]
    fn parts_are_served_in_part_order_and_reset_clears_everything() {
        let st = Store::with_parts(2);
        assert_eq!(st.part_count(), 2);
        st.part(1).begin_relist();
        st.part(1).relist_insert(ObjectKey::new("b", "x", "1"), r(&["bx\n"]));
        st.part(1).finish_relist();
        // One part listed, the other not: not synced yet, but what is listed is served.
        assert!(!st.synced());
        st.part(0).set_error(Some("forbidden".into()));
        assert_eq!(st.errors(), vec!["forbidden".to_owned()]);
        st.part(0).begin_relist();
        st.part(0).relist_insert(ObjectKey::new("z", "y", "2"), r(&["zy\n"]));
        st.part(0).finish_relist();
        assert!(st.synced());
        assert!(st.errors().is_empty());
        // Part 0 (the first namespace given) comes first even though "z" sorts after "b".
        assert_eq!(text(&st.snapshot(), 0), "zy\nbx\n");
        assert_eq!(st.len(), 2);
        st.remove(&ObjectKey::new("b", "x", "1"));
        assert_eq!(text(&st.snapshot(), 0), "zy\n");
        st.reset();
        assert!(!st.synced());
        assert!(st.is_empty());
    }

    #[test]
    fn keys_order_by_namespace_then_name() {
        let st = Store::new();
        st.upsert(ObjectKey::new("a-b", "x", "1"), r(&["ab\n"]));
        st.upsert(ObjectKey::new("a", "z", "2"), r(&["az\n"]));
        st.upsert(ObjectKey::new("a", "y", "3"), r(&["ay\n"]));
        assert_eq!(text(&st.snapshot(), 0), "ay\naz\nab\n");
        assert_eq!(st.len(), 3);
        assert_eq!(st.rendered_bytes(), 9);
    }
}
