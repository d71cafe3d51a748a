//! Pre-rendered metric text per object, for one resource.
//!
//! The watcher feeds it: an add/update replaces one object's rendering, a delete removes it, and a relist
//! (Init … InitDone) builds a second set beside the live one and swaps it in whole at the end, so no stale
//! object survives a reconnect and no scrape ever sees a half-built set. A scrape takes a [`Snapshot`]
//! (shared, immutable views of the parts) and streams from it without holding any lock.
//!
//! A list lands in family-major [`Columns`] (see `columns.rs` for why); the objects of one arrive in key
//! order as the API server pages them, so they are appended as they come. What changes afterwards, and
//! anything that arrives out of order, is kept per object in [`Compact`] form beside the columns and merged
//! in by the scrape; once those changes reach an eighth of the columns a background thread folds them
//! into new columns, so a long-running watch keeps reading memory sequentially.
//!
//! The stored form stays private to this module, [`crate::compact`] and [`crate::columns`]: the watcher and
//! the HTTP side see text.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::columns::{Columns, View, Walk};
use crate::compact::{self, Compact};
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

    /// Bytes of the key's text.
    pub fn text_len(&self) -> usize {
        self.0.len()
    }
}

/// Family names of a store, by position among the enabled families.
type Names = Arc<[Box<[u8]>]>;

/// Changes on top of columns: key → the object's rendering now, or `None` if it is gone.
type Changes = BTreeMap<ObjectKey, Option<Compact>>;

/// Changes kept beside the columns before they are folded in: an eighth of the objects (a scrape then
/// reads at most one object in nine out of order), and never fewer than this.
const FOLD_AT_LEAST: usize = 256;

fn fold_due(changes: usize, columns: usize) -> bool {
    changes > FOLD_AT_LEAST.max(columns / 8)
}

/// Records that `key` is gone: a deletion mark where the columns hold it, otherwise only its change is
/// dropped (a mark for a key the columns lack would be one more entry to merge for nothing) — unless
/// `columns_may_gain_it`: columns being folded from these changes will hold every key changed now, so
/// only a mark keeps a deleted one from coming back when they are installed.
fn forget(columns: &Columns, changes: &mut Changes, key: &ObjectKey, columns_may_gain_it: bool) {
    if columns_may_gain_it || columns.contains(key) {
        changes.insert(key.clone(), None);
    } else {
        changes.remove(key);
    }
}

/// A set of objects: columns and the changes made since (or that arrived out of order).
#[derive(Default)]
struct Set {
    base: Arc<Columns>,
    changes: Changes,
    /// New columns are being folded from `base` and a copy of `changes`. Until they are installed every
    /// delete leaves a mark, so the fold's result plus the changes left then serve exactly what
    /// `base` plus the changes serve (see [`Set::install`]).
    folding: bool,
}

impl Set {
    fn present(&self, key: &ObjectKey) -> bool {
        match self.changes.get(key) {
            Some(v) => v.is_some(),
            None => self.base.contains(key),
        }
    }

    /// Whether `key` was present before.
    fn upsert(&mut self, key: ObjectKey, c: Compact) -> bool {
        let was = self.present(&key);
        self.changes.insert(key, Some(c));
        was
    }

    /// Whether `key` was present before.
    fn remove(&mut self, key: &ObjectKey) -> bool {
        let was = self.present(key);
        forget(&self.base, &mut self.changes, key, self.folding);
        was
    }

    /// Installs `columns`, folded from `base` and the changes `folded` (as they were when the fold began).
    /// A change that is still the one folded is in the columns now and is dropped; any later change
    /// stays. Deletes made meanwhile all left marks (see `folding`), so no folded object comes back.
    fn install(&mut self, columns: Arc<Columns>, folded: Vec<(ObjectKey, Option<Compact>)>) {
        self.folding = false;
        self.base = columns;
        for (k, v) in folded {
            let same = match (self.changes.get(&k), &v) {
                (Some(Some(now)), Some(then)) => now.same(then),
                (Some(None), None) => true,
                _ => false,
            };
            if same {
                self.changes.remove(&k);
            }
        }
    }

    fn len(&self) -> usize {
        let mut n = self.base.len();
        for (k, v) in &self.changes {
            match (self.base.contains(k), v.is_some()) {
                (true, false) => n -= 1,
                (false, true) => n += 1,
                _ => {}
            }
        }
        n
    }
}

#[derive(Default)]
struct Inner {
    live: Set,
    /// Objects served (kept up to date so counting needs no search).
    live_len: usize,
    /// The set a relist in progress is building: appended to columns while keys ascend.
    building: Option<(Columns, Changes)>,
    /// Set by the first completed list; cleared only by [`Store::reset`] (a later relist keeps serving
    /// the old set).
    synced: bool,
    /// Why the list/watch currently fails (e.g. forbidden), for readiness reporting; cleared by success.
    error: Option<String>,
    /// `live` merged, built by the first scrape after a change and shared by every scrape until the next.
    view: Option<Arc<View>>,
    /// The most families any object was given with (stores without names learn it from the objects).
    families: usize,
}

impl Inner {
    fn view(&mut self) -> Arc<View> {
        if let Some(v) = &self.view {
            return v.clone();
        }
        let v = Arc::new(View::new(self.live.base.clone(), self.live.changes.iter(), self.families));
        self.view = Some(v.clone());
        v
    }
}

/// The objects of one list/watch (one namespace of a resource, or the whole resource).
#[derive(Default)]
pub struct Part {
    inner: Arc<Mutex<Inner>>,
    names: Names,
    maintenance: Maintenance,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock leaves a consistent state (every mutation is a single call), so the
    // poison flag carries no information worth failing scrapes for.
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl Part {
    fn compact(&self, r: &Rendered) -> Compact {
        Compact::new(families(r), &self.names)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// A relist starts: collect the new set beside the live one. An unfinished earlier relist is dropped.
    pub fn begin_relist(&self) {
        let old = self.lock().building.replace(Default::default());
        drop(old);
    }

    /// An object of the relist in progress. Without one in progress it is an ordinary update.
    pub fn relist_insert(&self, key: ObjectKey, rendered: Rendered) {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.families = inner.families.max(rendered.ends.len());
        let Some((columns, late)) = &mut inner.building else {
            drop(g);
            return self.upsert(key, rendered);
        };
        if columns.last_key().is_none_or(|k| *k < key) && !late.contains_key(&key) {
            // Encoding under the lock is fine: only this part's own watch and scrapes' short snapshots
            // take it, and a list is not scraped from until it is complete.
            columns.push(key, families(&rendered), &self.names);
        } else {
            late.insert(key, Some(self.compact(&rendered)));
        }
    }

    /// The relist is complete: its set replaces the live one. Returns the number of objects now live.
    pub fn finish_relist(&self) -> usize {
        let mut g = self.lock();
        g.synced = true;
        g.error = None;
        let Some((mut columns, late)) = g.building.take() else {
            return g.live_len;
        };
        columns.shrink();
        let new = Set { base: Arc::new(columns), changes: late, folding: false };
        let old = std::mem::replace(&mut g.live, new);
        g.live_len = g.live.len();
        g.view = None;
        let n = g.live_len;
        self.maybe_fold(&mut g);
        drop(g);
        // Freeing the old set can take a while for a big resource; do it outside the lock.
        drop(old);
        n
    }

    /// An object was added or changed.
    pub fn upsert(&self, key: ObjectKey, rendered: Rendered) {
        let c = self.compact(&rendered);
        let mut g = self.lock();
        let inner = &mut *g;
        inner.families = inner.families.max(rendered.ends.len());
        inner.view = None;
        // Events between Init and InitDone do not happen with kube-runtime's watcher; should one arrive,
        // it is newer than anything in the relist, so it goes where it will survive the swap.
        match &mut inner.building {
            Some((_, late)) => {
                late.insert(key, Some(c));
            }
            None => {
                if !inner.live.upsert(key, c) {
                    inner.live_len += 1;
                }
                self.maybe_fold(inner);
            }
        }
    }

    /// An object was deleted (or became unrenderable).
    pub fn remove(&self, key: &ObjectKey) {
        let mut g = self.lock();
        let inner = &mut *g;
        if let Some((columns, late)) = &mut inner.building {
            forget(columns, late, key, false);
        }
        if inner.live.remove(key) {
            inner.live_len -= 1;
            inner.view = None;
            self.maybe_fold(inner);
        }
    }

    fn maybe_fold(&self, g: &mut Inner) {
        if fold_due(g.live.changes.len(), g.live.base.len()) {
            start_fold(&self.inner, g, &self.maintenance);
        }
    }

    /// Records (or, with `None`, clears) the reason the list/watch is failing.
    pub fn set_error(&self, error: Option<String>) {
        self.lock().error = error;
    }

    fn reset(&self) {
        let old = std::mem::take(&mut *self.lock());
        drop(old);
    }

    /// The live objects, shared with other scrapes of the same state.
    fn view(&self) -> Arc<View> {
        self.lock().view()
    }

    /// Folds the live changes into new columns now, on this thread (tests).
    #[cfg(test)]
    fn fold_now(&self) {
        let mut g = self.lock();
        let view = g.view();
        g.live = Set { base: Arc::new(view.compact()), ..Set::default() };
        g.view = None;
    }

    /// Starts a fold whether or not one is due (tests drive folds with a [`Maintenance::queue`]).
    #[cfg(test)]
    fn start_fold(&self) {
        start_fold(&self.inner, &mut self.lock(), &self.maintenance);
    }
}

/// A unit of store maintenance, run off the thread that changed the store.
pub type Job = Box<dyn FnOnce() + Send>;

/// Where a store runs its maintenance (folding changes into new columns). Built once by whoever builds
/// the stores, so the data structure spawns nothing itself and tests decide when a fold runs.
#[derive(Clone)]
pub struct Maintenance {
    run: Arc<dyn Fn(Job) -> bool + Send + Sync>,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance::threads()
    }
}

impl Maintenance {
    /// Each job on a thread of its own, then free memory handed back to the system (a fold leaves the
    /// old columns free).
    pub fn threads() -> Self {
        Maintenance::new(|job| {
            let run = move || {
                job();
                crate::trim::after_burst();
            };
            std::thread::Builder::new().name("fold".into()).spawn(run).is_ok()
        })
    }

    /// Jobs handed to `run`, which returns false if it could not take one (the store then carries on
    /// without; it asks again on a later change).
    pub fn new(run: impl Fn(Job) -> bool + Send + Sync + 'static) -> Self {
        Maintenance { run: Arc::new(run) }
    }

    /// Jobs kept in a queue until the caller runs them (tests).
    #[cfg(test)]
    fn queue() -> (Self, Arc<Mutex<Vec<Job>>>) {
        let q: Arc<Mutex<Vec<Job>>> = Arc::default();
        let q2 = q.clone();
        let m = Maintenance::new(move |job| {
            q2.lock().unwrap().push(job);
            true
        });
        (m, q)
    }
}

/// Starts folding the live changes of `inner` (locked as `g`) into new columns unless a fold is already
/// running. The fold works from a view (no lock held); what changes meanwhile stays a change on top of
/// the new columns, to be folded by the next fold, started as soon as this one ends if enough accumulated.
fn start_fold(inner: &Arc<Mutex<Inner>>, g: &mut Inner, maintenance: &Maintenance) {
    if g.live.folding {
        return;
    }
    g.live.folding = true;
    let view = g.view();
    let folded: Vec<(ObjectKey, Option<Compact>)> =
        g.live.changes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let target = inner.clone();
    let m = maintenance.clone();
    let fold = move || {
        let columns = Arc::new(view.compact());
        let mut g = lock(&target);
        // A relist or reset meanwhile replaced the set this was built from: discard.
        if !Arc::ptr_eq(&g.live.base, view.base()) || !g.live.folding {
            return;
        }
        g.live.install(columns, folded);
        g.view = None;
        if fold_due(g.live.changes.len(), g.live.base.len()) {
            start_fold(&target, &mut g, &m);
        }
        drop(g);
        drop(view);
    };
    if !(maintenance.run)(Box::new(fold)) {
        // Nowhere to run it: changes keep being merged by scrapes, only less efficiently; retried on
        // the next change.
        g.live.folding = false;
    }
}

fn families(r: &Rendered) -> impl Iterator<Item = &[u8]> + Clone {
    (0..r.ends.len()).map(|i| r.family(i))
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
        Self::named_with(n, names, &Maintenance::threads())
    }

    /// [`Store::named`], running its maintenance on `maintenance`.
    pub fn named_with(n: usize, names: &[impl AsRef<str>], maintenance: &Maintenance) -> Self {
        let names: Names = names.iter().map(|n| n.as_ref().as_bytes().into()).collect();
        let parts = (0..n.max(1))
            .map(|_| Part { inner: Arc::default(), names: names.clone(), maintenance: maintenance.clone() })
            .collect();
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
        self.parts.iter().map(|p| p.lock().live_len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects served right now, part by part, each in key order, detached from later changes.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { views: self.parts.iter().map(Part::view).collect(), names: self.names.clone() }
    }

    /// Bytes of text the objects served right now render to.
    pub fn rendered_bytes(&self) -> usize {
        let snap = self.snapshot();
        let mut n = 0;
        for view in &snap.views {
            let mut w = view.walk();
            for f in 0..snap.families(view) {
                while let Some(item) = view.next(&mut w, Some(f)) {
                    let (payload, verbatim) = item.block.unwrap_or_default();
                    n += compact::block_text_len(snap.name(f), item.prefix, payload, verbatim);
                }
            }
        }
        n
    }

    /// Bytes the store holds for them (buffers alone, for benchmarks).
    pub fn held_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|p| {
                let g = p.lock();
                let changes: usize =
                    g.live.changes.iter().map(|(k, v)| k.text_len() + v.as_ref().map_or(0, Compact::held_bytes)).sum();
                g.live.base.held_bytes() + changes
            })
            .sum()
    }
}

/// The renderings of one resource at one instant.
#[derive(Clone, Default)]
pub struct Snapshot {
    views: Vec<Arc<View>>,
    names: Names,
}

/// Where a scrape stands in a [`Snapshot`]: the part being written and a walk per part.
#[derive(Default)]
pub struct Pass {
    part: usize,
    walks: Vec<Walk>,
}

impl Snapshot {
    pub fn len(&self) -> usize {
        self.views.iter().map(|v| v.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.views.iter().all(|v| v.is_empty())
    }

    fn name(&self, family: usize) -> &[u8] {
        self.names.get(family).map_or(&b""[..], |n| n)
    }

    /// Families to walk in `view`: the named ones, or for stores without names as many as the objects have.
    fn families(&self, view: &View) -> usize {
        if self.names.is_empty() { view.families() } else { self.names.len() }
    }

    /// A pass for writing this snapshot family by family with [`Snapshot::write_until`].
    pub fn pass(&self) -> Pass {
        Pass { part: 0, walks: self.views.iter().map(|v| v.walk()).collect() }
    }

    /// Appends the lines of family `family` of every object, part by part, until `out` holds at least
    /// `target` bytes. Returns true once the family is complete; the pass is then ready for the next one.
    /// Families must come in order, 0, 1, …, each to completion.
    pub fn write_until(&self, pass: &mut Pass, family: usize, out: &mut Vec<u8>, target: usize) -> bool {
        let name = self.name(family);
        while let (Some(view), Some(walk)) = (self.views.get(pass.part), pass.walks.get_mut(pass.part)) {
            loop {
                if out.len() >= target {
                    return false;
                }
                let Some(item) = view.next(walk, Some(family)) else { break };
                let (payload, verbatim) = item.block.unwrap_or_default();
                compact::write_lines(name, item.prefix, payload, verbatim, out);
            }
            pass.part += 1;
        }
        pass.part = 0;
        true
    }

    /// Appends the lines of family `family` (position among the enabled families) of object `obj`
    /// (counted across parts; tests and tools: this walks the objects before it).
    pub fn write_family(&self, obj: usize, family: usize, out: &mut Vec<u8>) {
        let mut n = 0;
        for view in &self.views {
            let mut w = view.walk();
            // Walk earlier families so changed objects' cursors reach `family`.
            for f in 0..family {
                while view.next(&mut w, Some(f)).is_some() {}
            }
            while let Some(item) = view.next(&mut w, Some(family)) {
                if n == obj {
                    let (payload, verbatim) = item.block.unwrap_or_default();
                    compact::write_lines(self.name(family), item.prefix, payload, verbatim, out);
                    return;
                }
                n += 1;
            }
        }
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

    fn shared(a: &Snapshot, b: &Snapshot) -> bool {
        a.views.len() == b.views.len() && a.views.iter().zip(&b.views).all(|(x, y)| Arc::ptr_eq(x, y))
    }

    /// Every family's text, written the way a scrape writes it (a pass, in chunks of `chunk` bytes).
    fn scrape(s: &Snapshot, families: usize, chunk: usize) -> Vec<String> {
        let mut pass = s.pass();
        (0..families)
            .map(|f| {
                let mut out = Vec::new();
                let mut target = chunk;
                while !s.write_until(&mut pass, f, &mut out, target) {
                    target = out.len() + chunk;
                }
                String::from_utf8(out).unwrap()
            })
            .collect()
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
        assert!(shared(&s1, &s2));
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
            assert!(!shared(&before, &after) || after.is_empty(), "{what}");
            before = after;
        }
        // Removing what is not there changes nothing and keeps the view.
        st.upsert(ObjectKey::new("ns", "e", "5"), r(&["e\n"]));
        let s = st.snapshot();
        st.remove(&ObjectKey::new("ns", "zz", "9"));
        assert!(shared(&s, &st.snapshot()));
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

    fn key(i: usize) -> ObjectKey {
        ObjectKey::new("ns", &format!("o{i:04}"), "u")
    }

    /// Three families per object: two lines sharing the identity, an empty one, one line.
    fn obj(i: usize, version: usize) -> Rendered {
        let id = format!("{{namespace=\"ns\",name=\"o{i:04}\"");
        let a = format!("ka{id},x=\"1\"}} {version}\nka{id},x=\"2\"}} {i}\n");
        let c = format!("kc{id}}} {version}\n");
        r(&[&a, "", &c])
    }

    fn named(n: usize) -> Store {
        Store::named(n, &["ka", "kb", "kc"])
    }

    /// What a store holding objects `live` (index → generation) must serve, family by family.
    fn expected(live: &BTreeMap<usize, usize>) -> Vec<String> {
        let mut fams = vec![String::new(); 3];
        for (&i, &version) in live {
            let o = obj(i, version);
            for (f, text) in fams.iter_mut().enumerate() {
                text.push_str(std::str::from_utf8(o.family(f)).unwrap());
            }
        }
        fams
    }

    #[test]
    fn a_list_in_key_order_lands_in_columns_and_late_objects_are_merged() {
        let st = named(1);
        st.begin_relist();
        // 0..50 in order, then 25..30 again (out of order: updates) and 60, then 55 (out of order: new).
        let mut live: BTreeMap<usize, usize> = BTreeMap::new();
        for i in (0..50).chain(25..30).chain([60, 55]) {
            let version = live.get(&i).map_or(0, |g| g + 1);
            st.relist_insert(key(i), obj(i, version));
            live.insert(i, version);
        }
        assert_eq!(st.finish_relist(), live.len());
        {
            let g = st.part(0).lock();
            assert_eq!(g.live.base.len(), 51, "0..50 and 60 are appended");
            assert_eq!(g.live.changes.len(), 6, "25..30 and 55 came late");
        }
        let s = st.snapshot();
        assert_eq!(s.len(), live.len());
        for chunk in [1, 40, usize::MAX / 2] {
            assert_eq!(scrape(&s, 3, chunk), expected(&live), "chunk {chunk}");
        }
        assert_eq!(st.rendered_bytes(), expected(&live).iter().map(String::len).sum::<usize>());
        // Folding changes nothing served.
        st.part(0).fold_now();
        assert_eq!(st.part(0).lock().live.changes.len(), 0);
        assert_eq!(scrape(&st.snapshot(), 3, 7), expected(&live));
        assert_eq!(st.len(), live.len());
    }

    #[test]
    fn changes_on_columns_serve_exactly_the_live_set() {
        // A deterministic mix of updates, deletes, re-adds and new keys on top of listed columns, checked
        // against a model after every step, with and without folding.
        for fold_every in [0, 7] {
            let st = named(1);
            let mut live: BTreeMap<usize, usize> = BTreeMap::new();
            st.begin_relist();
            for i in (0..200).step_by(2) {
                st.relist_insert(key(i), obj(i, 0));
                live.insert(i, 0);
            }
            st.finish_relist();
            let mut x = 12345u64;
            for step in 0..300 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % 230) as usize;
                if x.is_multiple_of(3) {
                    st.remove(&key(i));
                    live.remove(&i);
                } else {
                    let version = step + 1;
                    st.upsert(key(i), obj(i, version));
                    live.insert(i, version);
                }
                if fold_every > 0 && step.is_multiple_of(fold_every) {
                    st.part(0).fold_now();
                }
                assert_eq!(st.len(), live.len(), "step {step}");
                if step.is_multiple_of(10) {
                    assert_eq!(scrape(&st.snapshot(), 3, 64), expected(&live), "step {step}, fold {fold_every}");
                }
            }
            assert_eq!(scrape(&st.snapshot(), 3, 64), expected(&live));
            assert_eq!(text(&st.snapshot(), 2), expected(&live)[2]);
        }
    }

    #[test]
    fn many_changes_are_folded_in_the_background_without_losing_later_ones() {
        let st = Arc::new(named(1));
        let mut live: BTreeMap<usize, usize> = BTreeMap::new();
        st.begin_relist();
        for i in 0..1000 {
            st.relist_insert(key(i), obj(i, 0));
            live.insert(i, 0);
        }
        st.finish_relist();
        // Past the threshold (256 changes here) a fold starts; changes keep coming while it runs.
        for round in 1..=3 {
            for i in (0..1000).step_by(3) {
                st.upsert(key(i), obj(i, round));
                live.insert(i, round);
            }
            st.remove(&key(round));
            live.remove(&round);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while st.part(0).lock().live.folding && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let g = st.part(0).lock();
        assert!(!g.live.folding, "the fold finished");
        assert!(g.live.changes.len() <= FOLD_AT_LEAST, "{} changes left unfolded", g.live.changes.len());
        assert!(g.live.base.len() > 900);
        drop(g);
        assert_eq!(scrape(&st.snapshot(), 3, 1000), expected(&live));
        assert_eq!(st.len(), live.len());
    }

    /// Runs the queued maintenance jobs, oldest first.
    fn run_jobs(q: &Mutex<Vec<Job>>) {
        let jobs: Vec<Job> = std::mem::take(&mut *q.lock().unwrap());
        jobs.into_iter().for_each(|job| job());
    }

    #[test]
    fn a_key_added_after_the_last_fold_and_deleted_while_one_runs_stays_deleted() {
        let (m, q) = Maintenance::queue();
        let st = Store::named_with(1, &["ka", "kb", "kc"], &m);
        let mut live: BTreeMap<usize, usize> = BTreeMap::new();
        st.begin_relist();
        for i in 0..100 {
            st.relist_insert(key(i), obj(i, 0));
            live.insert(i, 0);
        }
        st.finish_relist();
        // New keys (never in any columns) become changes; a fold starts from them.
        for i in 100..110 {
            st.upsert(key(i), obj(i, 1));
            live.insert(i, 1);
        }
        st.part(0).start_fold();
        // While it runs, some of those new keys are deleted and listed ones change.
        for i in [101, 104, 109] {
            st.remove(&key(i));
            live.remove(&i);
        }
        st.upsert(key(3), obj(3, 2));
        live.insert(3, 2);
        run_jobs(&q);
        assert_eq!(scrape(&st.snapshot(), 3, 64), expected(&live));
        assert_eq!(st.len(), live.len());
        // And once more folded, nothing changes.
        st.part(0).start_fold();
        run_jobs(&q);
        assert_eq!(scrape(&st.snapshot(), 3, 64), expected(&live));
        assert_eq!(st.part(0).lock().live.changes.len(), 0, "marks of deleted keys are folded away too");
    }

    /// A model-based check of the store under every interleaving of changes, folds started and finished
    /// at arbitrary points, relists and deletes of keys no columns ever held: after every step the store
    /// serves exactly the model.
    #[test]
    fn folds_interleaved_with_changes_and_relists_serve_exactly_the_model() {
        for seed in 1..=40u64 {
            let (m, q) = Maintenance::queue();
            let st = Store::named_with(1, &["ka", "kb", "kc"], &m);
            let mut live: BTreeMap<usize, usize> = BTreeMap::new();
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut rnd = |n: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % n) as usize
            };
            for step in 0..400 {
                let version = step + 1;
                match rnd(100) {
                    // Updates and new keys, deletes of any key (listed, folded or never folded).
                    0..=39 => {
                        let i = rnd(120);
                        st.upsert(key(i), obj(i, version));
                        live.insert(i, version);
                    }
                    40..=69 => {
                        let i = rnd(120);
                        st.remove(&key(i));
                        live.remove(&i);
                    }
                    70..=81 => st.part(0).start_fold(),
                    82..=93 => run_jobs(&q),
                    // A relist of what is live now, in key order with some late arrivals; events
                    // between the relist's objects go where they survive the swap.
                    _ => {
                        st.begin_relist();
                        let keys: Vec<(usize, usize)> = live.iter().map(|(&k, &v)| (k, v)).collect();
                        let late = rnd(5);
                        for (n, &(i, v)) in keys.iter().enumerate() {
                            if n % 7 != late {
                                st.relist_insert(key(i), obj(i, v));
                            }
                        }
                        for (n, &(i, v)) in keys.iter().enumerate() {
                            if n % 7 == late {
                                st.relist_insert(key(i), obj(i, v));
                            }
                        }
                        if rnd(2) == 0 {
                            run_jobs(&q);
                        }
                        st.finish_relist();
                    }
                }
                assert_eq!(st.len(), live.len(), "seed {seed} step {step}");
                assert_eq!(scrape(&st.snapshot(), 3, 97), expected(&live), "seed {seed} step {step}");
            }
            run_jobs(&q);
            assert_eq!(scrape(&st.snapshot(), 3, 97), expected(&live), "seed {seed} at the end");
        }
    }

    #[test]
    fn stores_without_names_learn_their_families_from_the_objects() {
        let st = Store::new();
        st.begin_relist();
        st.relist_insert(key(1), r(&["a1\n"]));
        st.relist_insert(key(2), r(&["a2\n", "b2\n"]));
        st.finish_relist();
        st.upsert(key(3), r(&["a3\n", "b3\n", "c3\n"]));
        let s = st.snapshot();
        assert_eq!(scrape(&s, 3, 4), ["a1\na2\na3\n", "b2\nb3\n", "c3\n"]);
        st.part(0).fold_now();
        assert_eq!(scrape(&st.snapshot(), 3, 4), ["a1\na2\na3\n", "b2\nb3\n", "c3\n"]);
        assert_eq!(st.rendered_bytes(), 18);
    }
}
