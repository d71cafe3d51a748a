//! Pre-rendered metric text of one resource, written by its list/watches and read by scrapes.
//!
//! [`store`] makes one [`Reader`] (shared by every scrape, telemetry and readiness) and one [`Writer`] per
//! part (one list/watch: a namespace of a resource, or the whole resource). A writer is not cloneable:
//! only the task that owns it changes its part, by applying the [`StoreEvent`]s its watcher produces. A
//! relist (`BeginRelist` … `EndRelist`) builds a second set beside the live one and swaps it in whole at
//! the end, so no stale object survives a reconnect and no scrape ever sees a half-built set. A scrape
//! takes a [`Snapshot`] (shared, immutable views of the parts) and streams it without holding any lock.
//!
//! How the text is held (family-major columns, compact per-object changes, folds) is private to this
//! module; the watchers and the HTTP side see text.

mod columns;
mod compact;
mod part;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use self::columns::{View, Walk};
pub use self::part::{Job, Maintenance};
use self::part::{Names, Part};
use crate::family::Rendered;
pub use crate::key::ObjectKey;

/// A change to one part, as a watcher sees it.
#[derive(Debug)]
pub enum StoreEvent {
    /// A full list starts: what follows up to `EndRelist` replaces the part's objects.
    BeginRelist,
    /// An object of the list in progress (an ordinary change if none is in progress).
    Insert(ObjectKey, Rendered),
    /// The list is complete: its objects are now served, and the part counts as synced.
    EndRelist,
    /// An object was added or changed.
    Upsert(ObjectKey, Rendered),
    /// An object was deleted, or can no longer be rendered.
    Remove(ObjectKey),
    /// Why the list/watch is failing now (`None`: it works again), for readiness reporting.
    Failing(Option<String>),
    /// Drop every object and count as not synced (e.g. before relisting under a new shard assignment, so
    /// that nothing another shard owns is served meanwhile).
    Reset,
}

struct Shared {
    parts: Box<[Part]>,
    names: Names,
}

/// A store of `parts` parts (at least one) whose enabled families are named `names` in order (lines
/// are then held without their names; with no names every line keeps its name), running its maintenance
/// on `maintenance`.
pub fn store(names: &[impl AsRef<str>], parts: usize, maintenance: &Maintenance) -> (Reader, Vec<Writer>) {
    let names: Names = names.iter().map(|n| n.as_ref().as_bytes().into()).collect();
    let parts = (0..parts.max(1)).map(|_| Part::new(names.clone(), maintenance.clone())).collect();
    let shared = Arc::new(Shared { parts, names });
    let writers = (0..shared.parts.len()).filter_map(|i| Writer::claim(&shared, i)).collect();
    (Reader { shared }, writers)
}

/// The only handle that changes one part.
pub struct Writer {
    shared: Arc<Shared>,
    index: usize,
}

impl Writer {
    fn claim(shared: &Arc<Shared>, index: usize) -> Option<Writer> {
        let part = shared.parts.get(index)?;
        let free = part.written.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok();
        free.then(|| Writer { shared: shared.clone(), index })
    }

    fn part(&self) -> &Part {
        &self.shared.parts[self.index]
    }

    /// Which part of the store this writes.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Applies one change. Returns the number of objects live after an `EndRelist` (else 0).
    pub fn apply(&mut self, event: StoreEvent) -> usize {
        let part = self.part();
        match event {
            StoreEvent::BeginRelist => part.begin_relist(),
            StoreEvent::Insert(key, r) => part.relist_insert(key, r),
            StoreEvent::EndRelist => return part.finish_relist(),
            StoreEvent::Upsert(key, r) => part.upsert(key, r),
            StoreEvent::Remove(key) => part.remove(&key),
            StoreEvent::Failing(e) => part.set_error(e),
            StoreEvent::Reset => part.reset(),
        }
        0
    }

    /// Drops the objects `keep` rejects and keeps serving the rest (a new shard assignment: what this
    /// shard still owns stays served until the relist under the new assignment replaces it). Returns
    /// how many were dropped.
    pub fn retain(&mut self, keep: &dyn Fn(&ObjectKey) -> bool) -> usize {
        self.part().retain(keep)
    }

    /// Objects this part serves.
    pub fn len(&self) -> usize {
        self.part().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.part().written.store(false, Ordering::Release);
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("part", &self.index).finish()
    }
}

/// Read access to a whole store, for scrapes, readiness and telemetry.
#[derive(Clone)]
pub struct Reader {
    shared: Arc<Shared>,
}

impl Reader {
    /// A new writer for part `index` once the last one is gone (its task ended); `None` while one exists.
    pub fn reclaim(&self, index: usize) -> Option<Writer> {
        Writer::claim(&self.shared, index)
    }

    pub fn part_count(&self) -> usize {
        self.shared.parts.len()
    }

    /// Whether every part has completed a first full list.
    pub fn synced(&self) -> bool {
        self.shared.parts.iter().all(Part::synced)
    }

    /// The distinct errors of parts that are failing right now.
    pub fn errors(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.shared.parts.iter().filter_map(Part::error) {
            if !out.contains(&e) {
                out.push(e);
            }
        }
        out
    }

    /// Number of objects currently served.
    pub fn len(&self) -> usize {
        self.shared.parts.iter().map(Part::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects served right now, part by part, each in key order, detached from later changes.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { views: self.shared.parts.iter().map(Part::view).collect(), names: self.shared.names.clone() }
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
        self.shared.parts.iter().map(Part::held_bytes).sum()
    }
}

/// The renderings of one resource at one instant.
#[derive(Clone, Default)]
pub struct Snapshot {
    views: Vec<Arc<View>>,
    names: Names,
}

/// A scrape's way through a [`Snapshot`]: family after family, each across every part, in order. It can
/// neither skip a family nor go back to one (changed objects are read block after block).
#[derive(Default)]
pub struct Pass {
    family: usize,
    part: usize,
    walks: Vec<Walk>,
}

impl Pass {
    /// The family this pass writes next (position among the enabled families).
    pub fn family(&self) -> usize {
        self.family
    }
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
        Pass { family: 0, part: 0, walks: self.views.iter().map(|v| v.walk()).collect() }
    }

    /// Appends the lines of the pass's current family of every object, part by part, until `out` holds at
    /// least `target` bytes. Returns true once that family is complete; the pass has then moved on to
    /// the next family.
    pub fn write_until(&self, pass: &mut Pass, out: &mut Vec<u8>, target: usize) -> bool {
        let family = pass.family;
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
        pass.family += 1;
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

    /// Calls `f(family, lines)` with each object's lines of every family in `wanted` (positions among
    /// the enabled families), object by object through a reused buffer, skipping the other families
    /// without decoding them: a reader of a few families (the overview page) never holds more than one
    /// object's text.
    pub fn for_each_block(&self, wanted: &[usize], mut f: impl FnMut(usize, &[u8])) {
        let Some(&last) = wanted.iter().max() else { return };
        let mut buf = Vec::new();
        for view in &self.views {
            let mut w = view.walk();
            for family in 0..=last {
                let keep = wanted.contains(&family);
                while let Some(item) = view.next(&mut w, Some(family)) {
                    if keep {
                        buf.clear();
                        let (payload, verbatim) = item.block.unwrap_or_default();
                        compact::write_lines(self.name(family), item.prefix, payload, verbatim, &mut buf);
                        f(family, &buf);
                    }
                }
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
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::part::FOLD_AT_LEAST;
    use super::*;

    /// A store with its writers, driven the way a watcher drives it (single-part helpers use part 0).
    struct St {
        reader: Reader,
        writers: Mutex<Vec<Writer>>,
    }

    impl St {
        fn apply(&self, part: usize, ev: StoreEvent) -> usize {
            self.writers.lock().unwrap()[part].apply(ev)
        }
        fn begin_relist(&self) {
            self.apply(0, StoreEvent::BeginRelist);
        }
        fn relist_insert(&self, k: ObjectKey, r: Rendered) {
            self.apply(0, StoreEvent::Insert(k, r));
        }
        fn finish_relist(&self) -> usize {
            self.apply(0, StoreEvent::EndRelist)
        }
        fn upsert(&self, k: ObjectKey, r: Rendered) {
            self.apply(0, StoreEvent::Upsert(k, r));
        }
        fn remove(&self, k: &ObjectKey) {
            for p in 0..self.reader.part_count() {
                self.apply(p, StoreEvent::Remove(k.clone()));
            }
        }
        fn reset(&self) {
            for p in 0..self.reader.part_count() {
                self.apply(p, StoreEvent::Reset);
            }
        }
        /// The part itself (tests look at how it holds its objects).
        fn part(&self, i: usize) -> &Part {
            &self.reader.shared.parts[i]
        }
        fn snapshot(&self) -> Snapshot {
            self.reader.snapshot()
        }
        fn synced(&self) -> bool {
            self.reader.synced()
        }
        fn len(&self) -> usize {
            self.reader.len()
        }
        fn rendered_bytes(&self) -> usize {
            self.reader.rendered_bytes()
        }
    }

    fn make(names: &[&str], parts: usize, m: &Maintenance) -> St {
        let (reader, writers) = store(names, parts, m);
        St { reader, writers: Mutex::new(writers) }
    }

    fn unnamed(parts: usize) -> St {
        make(&[], parts, &Maintenance::threads())
    }

    fn r(fams: &[&str]) -> Rendered {
        Rendered::of_text(fams)
    }

    fn shared(a: &Snapshot, b: &Snapshot) -> bool {
        a.views.len() == b.views.len() && a.views.iter().zip(&b.views).all(|(x, y)| Arc::ptr_eq(x, y))
    }

    /// Every family's text, written the way a scrape writes it (a pass, in chunks of `chunk` bytes).
    fn scrape(s: &Snapshot, families: usize, chunk: usize) -> Vec<String> {
        let mut pass = s.pass();
        (0..families)
            .map(|f| {
                assert_eq!(pass.family(), f);
                let mut out = Vec::new();
                let mut target = chunk;
                while !s.write_until(&mut pass, &mut out, target) {
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
        let st = unnamed(1);
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
        let st = unnamed(1);
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
        let st = unnamed(1);
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
        let st = unnamed(1);
        st.begin_relist();
        st.relist_insert(ObjectKey::new("", "a", "1"), r(&["a\n"]));
        st.begin_relist();
        st.relist_insert(ObjectKey::new("", "b", "2"), r(&["b\n"]));
        st.finish_relist();
        assert_eq!(text(&st.snapshot(), 0), "b\n");
    }

    #[test]
    fn remove_during_relist_reaches_both_sets() {
        let st = unnamed(1);
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
        let st = unnamed(2);
        assert_eq!(st.reader.part_count(), 2);
        st.apply(1, StoreEvent::BeginRelist);
        st.apply(1, StoreEvent::Insert(ObjectKey::new("b", "x", "1"), r(&["bx\n"])));
        st.apply(1, StoreEvent::EndRelist);
        // One part listed, the other not: not synced yet, but what is listed is served.
        assert!(!st.synced());
        st.apply(0, StoreEvent::Failing(Some("forbidden".into())));
        assert_eq!(st.reader.errors(), vec!["forbidden".to_owned()]);
        st.apply(0, StoreEvent::BeginRelist);
        st.apply(0, StoreEvent::Insert(ObjectKey::new("z", "y", "2"), r(&["zy\n"])));
        st.apply(0, StoreEvent::EndRelist);
        assert!(st.synced());
        assert!(st.reader.errors().is_empty());
        // Part 0 (the first namespace given) comes first even though "z" sorts after "b".
        assert_eq!(text(&st.snapshot(), 0), "zy\nbx\n");
        assert_eq!(st.len(), 2);
        st.remove(&ObjectKey::new("b", "x", "1"));
        assert_eq!(text(&st.snapshot(), 0), "zy\n");
        st.reset();
        assert!(!st.synced());
        assert!(st.reader.is_empty());
    }

    #[test]
    fn keys_order_by_namespace_then_name() {
        let st = unnamed(1);
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

    fn named(n: usize) -> St {
        make(&["ka", "kb", "kc"], n, &Maintenance::threads())
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

    /// Lists objects `0..n` (generation 0) into part 0; returns the model of what is served.
    fn listed(st: &St, n: usize) -> BTreeMap<usize, usize> {
        st.begin_relist();
        for i in 0..n {
            st.relist_insert(key(i), obj(i, 0));
        }
        st.finish_relist();
        (0..n).map(|i| (i, 0)).collect()
    }

    #[test]
    fn retain_keeps_serving_what_is_still_owned_from_columns_and_changes() {
        let st = named(1);
        let mut live = listed(&st, 100);
        // Changes on top of the columns: an update, a delete, a new key.
        st.upsert(key(4), obj(4, 1));
        live.insert(4, 1);
        st.remove(&key(9));
        live.remove(&9);
        st.upsert(key(150), obj(150, 0));
        live.insert(150, 0);
        // An unfinished relist (a watch stopped mid-list) is dropped, not swapped in later.
        st.begin_relist();
        st.relist_insert(key(6), obj(6, 9));
        let keep = |k: &ObjectKey| k.name().trim_start_matches('o').parse::<usize>().unwrap() % 3 == 0;
        let before = live.len();
        live.retain(|i, _| i % 3 == 0);
        let dropped = st.writers.lock().unwrap()[0].retain(&keep);
        assert_eq!(dropped, before - live.len());
        assert!(st.synced(), "what is still owned stays served");
        assert_eq!(st.len(), live.len());
        assert_eq!(scrape(&st.snapshot(), 3, 64), expected(&live));
        // The next relist builds from nothing, as usual.
        st.begin_relist();
        st.relist_insert(key(3), obj(3, 5));
        assert_eq!(st.finish_relist(), 1);
        assert_eq!(scrape(&st.snapshot(), 3, 64), expected(&BTreeMap::from([(3, 5)])));
    }

    #[test]
    fn many_changes_are_folded_in_the_background_without_losing_later_ones() {
        let st = Arc::new(named(1));
        let mut live = listed(&st, 1000);
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
        let st = make(&["ka", "kb", "kc"], 1, &m);
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
            let st = make(&["ka", "kb", "kc"], 1, &m);
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
        let st = unnamed(1);
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
