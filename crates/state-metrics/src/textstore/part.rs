//! One part of a text store: the objects of one list/watch, as columns plus the changes made since.
//!
//! A list lands in family-major [`Columns`] (see `columns.rs` for why); the objects of one arrive in key
//! order as the API server sends them, so they are appended as they come. What changes afterwards, and
//! anything that arrives out of order, is kept per object in [`Compact`] form beside the columns and merged
//! in by the scrape; once those changes reach an eighth of the columns a fold (run on the store's
//! [`Maintenance`]) builds new columns from them, so a long-running watch keeps reading memory sequentially.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::columns::{Columns, View};
use super::compact::Compact;
use crate::family::Rendered;
use crate::key::ObjectKey;

/// Family names of a store, by position among the enabled families.
pub(super) type Names = Arc<[Box<[u8]>]>;

/// Changes on top of columns: key → the object's rendering now, or `None` if it is gone.
type Changes = BTreeMap<ObjectKey, Option<Compact>>;

/// Changes kept beside the columns before they are folded in: an eighth of the objects (a scrape then
/// reads at most one object in nine out of order), and never fewer than this.
pub(super) const FOLD_AT_LEAST: usize = 256;

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
pub(super) struct Set {
    pub(super) base: Arc<Columns>,
    pub(super) changes: Changes,
    /// New columns are being folded from `base` and a copy of `changes`. Until they are installed every
    /// delete leaves a mark, so the fold's result plus the changes left then serve exactly what
    /// `base` plus the changes serve (see [`Set::install`]).
    pub(super) folding: bool,
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
pub(super) struct Inner {
    pub(super) live: Set,
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
pub(super) struct Part {
    inner: Arc<Mutex<Inner>>,
    names: Names,
    maintenance: Maintenance,
    /// A [`super::Writer`] for this part exists (there is at most one).
    pub(super) written: std::sync::atomic::AtomicBool,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock leaves a consistent state (every mutation is a single call), so the
    // poison flag carries no information worth failing scrapes for.
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl Part {
    pub(super) fn new(names: Names, maintenance: Maintenance) -> Self {
        Part { inner: Arc::default(), names, maintenance, written: false.into() }
    }

    fn compact(&self, r: &Rendered) -> Compact {
        Compact::of(r, &self.names)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    pub(super) fn synced(&self) -> bool {
        self.lock().synced
    }

    pub(super) fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// Objects served.
    pub(super) fn len(&self) -> usize {
        self.lock().live_len
    }

    /// Bytes held for the live objects (buffers alone, for benchmarks).
    pub(super) fn held_bytes(&self) -> usize {
        let g = self.lock();
        let changes: usize =
            g.live.changes.iter().map(|(k, v)| k.text_len() + v.as_ref().map_or(0, Compact::held_bytes)).sum();
        g.live.base.held_bytes() + changes
    }

    /// A relist starts: collect the new set beside the live one. An unfinished earlier relist is dropped.
    pub(super) fn begin_relist(&self) {
        let old = self.lock().building.replace(Default::default());
        drop(old);
    }

    /// An object of the relist in progress. Without one in progress it is an ordinary update.
    pub(super) fn relist_insert(&self, key: ObjectKey, rendered: Rendered) {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.families = inner.families.max(rendered.family_count());
        let Some((columns, late)) = &mut inner.building else {
            drop(g);
            return self.upsert(key, rendered);
        };
        if columns.last_key().is_none_or(|k| *k < key) && !late.contains_key(&key) {
            // Encoding under the lock is fine: only this part's own watch and scrapes' short snapshots
            // take it, and a list is not scraped from until it is complete.
            columns.push(key, &rendered, &self.names);
        } else {
            late.insert(key, Some(self.compact(&rendered)));
        }
    }

    /// The relist is complete: its set replaces the live one. Returns the number of objects now live.
    pub(super) fn finish_relist(&self) -> usize {
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
    pub(super) fn upsert(&self, key: ObjectKey, rendered: Rendered) {
        let c = self.compact(&rendered);
        let mut g = self.lock();
        let inner = &mut *g;
        inner.families = inner.families.max(rendered.family_count());
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
    pub(super) fn remove(&self, key: &ObjectKey) {
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
    pub(super) fn set_error(&self, error: Option<String>) {
        self.lock().error = error;
    }

    /// Drops every live object `keep` rejects (and any relist left unfinished); the part stays synced.
    /// Returns how many were dropped.
    pub(super) fn retain(&self, keep: &dyn Fn(&ObjectKey) -> bool) -> usize {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.building = None;
        let changed = inner.live.changes.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k);
        let unchanged = inner.live.base.keys().iter().filter(|k| !inner.live.changes.contains_key(*k));
        let doomed: Vec<ObjectKey> = changed.chain(unchanged).filter(|k| !keep(k)).cloned().collect();
        for k in &doomed {
            if inner.live.remove(k) {
                inner.live_len -= 1;
            }
        }
        if !doomed.is_empty() {
            inner.view = None;
            self.maybe_fold(inner);
        }
        doomed.len()
    }

    pub(super) fn reset(&self) {
        let old = std::mem::take(&mut *self.lock());
        drop(old);
    }

    /// The live objects, shared with other scrapes of the same state.
    pub(super) fn view(&self) -> Arc<View> {
        self.lock().view()
    }

    /// Folds the live changes into new columns now, on this thread (tests).
    #[cfg(test)]
    pub(super) fn fold_now(&self) {
        let mut g = self.lock();
        let view = g.view();
        g.live = Set { base: Arc::new(view.compact()), ..Set::default() };
        g.view = None;
    }

    /// Starts a fold whether or not one is due (tests drive folds with a [`Maintenance::queue`]).
    #[cfg(test)]
    pub(super) fn start_fold(&self) {
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
    pub(super) fn queue() -> (Self, Arc<Mutex<Vec<Job>>>) {
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
