//! Two points per series (`last`, `prev`) for every node and container, rebuilt from each scrape batch.
//!
//! The update and read rules follow upstream `pkg/storage` exactly (see ms-scrape.md §6–7); everything
//! here is pure so the rules can be tested with plain numbers.

use std::collections::{HashMap, HashSet};

/// Hash maps keyed by names: keyed hashing (kubelets choose the names) that is faster than std's SipHash.
pub type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;
pub type FastSet<K> = HashSet<K, ahash::RandomState>;
use std::sync::Arc;

/// An interned name (node, namespace, pod or container). Shared between batches so a steady-state scrape
/// allocates no new strings for names it has seen before.
pub type Name = Arc<str>;

/// Nanoseconds since the Unix epoch.
pub type Nanos = i64;

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Upstream `freshContainerMinMetricsResolution`.
const FRESH_CONTAINER_MIN_AGE: Nanos = 10 * NANOS_PER_SEC;

/// One kubelet sample. 32 bytes, `Copy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Point {
    /// Container start time (0 for nodes and unknown).
    pub start: Nanos,
    /// Sample time.
    pub ts: Nanos,
    /// Cumulative CPU in nanocore-seconds.
    pub cpu: u64,
    /// Working set in bytes.
    pub mem: u64,
}

/// What one scrape tick produced.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub nodes: Vec<(Name, Point)>,
    pub pods: Vec<PodBatch>,
}

#[derive(Clone, Debug)]
pub struct PodBatch {
    pub namespace: Name,
    pub name: Name,
    pub containers: Vec<(Name, Point)>,
}

/// A computed usage: what the API returns for one node or container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub timestamp: Nanos,
    pub window: Nanos,
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RateError {
    #[error("unexpected decrease in startTime of node/container")]
    StartTimeDecrease,
    #[error("unexpected decrease in cumulative CPU usage value")]
    CpuDecrease,
    #[error("non-positive window between samples")]
    EmptyWindow,
}

/// Rate between two samples: Δcpu/Δt truncated to whole nanocores; memory is the last working set.
pub fn resource_usage(last: &Point, prev: &Point) -> Result<Usage, RateError> {
    if last.start < prev.start {
        return Err(RateError::StartTimeDecrease);
    }
    if last.cpu < prev.cpu {
        return Err(RateError::CpuDecrease);
    }
    let window = last.ts - prev.ts;
    if window <= 0 {
        return Err(RateError::EmptyWindow);
    }
    let secs = window as f64 / NANOS_PER_SEC as f64;
    let cpu = ((last.cpu - prev.cpu) as f64 / secs) as u64;
    Ok(Usage { timestamp: last.ts, window, cpu_nanocores: cpu, memory_bytes: last.mem })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    last: Point,
    prev: Option<Point>,
}

/// The metrics of one pod as served: containers (name, usage) plus the pod's time info. `time` is `None`
/// when every container failed the rate computation (upstream then encodes a zero time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodUsage {
    pub containers: Vec<(Name, Usage)>,
    pub time: Option<(Nanos, Nanos)>,
}

/// Interns names so repeated scrapes share one allocation per distinct string.
#[derive(Default, Debug)]
pub struct Interner {
    set: FastSet<Name>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Name {
        if let Some(n) = self.set.get(s) {
            return n.clone();
        }
        let n: Name = Arc::from(s);
        self.set.insert(n.clone());
        n
    }

    /// Like [`Interner::intern`] for a name that is already shared: a new name keeps its allocation.
    pub fn intern_shared(&mut self, n: &Name) -> Name {
        if let Some(found) = self.set.get(&**n) {
            return found.clone();
        }
        self.set.insert(n.clone());
        n.clone()
    }

    /// Forget names nobody else holds any more (a deleted pod's names), so churn does not grow memory.
    pub fn sweep(&mut self) {
        self.set.retain(|n| Arc::strong_count(n) > 1);
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// Node and pod stores.
#[derive(Debug)]
pub struct Storage {
    resolution: Nanos,
    nodes: FastMap<Name, Slot>,
    /// namespace → pod → containers. Nested so lookups by `&str` need no allocation.
    pods: FastMap<Name, FastMap<Name, PodSlots>>,
    /// Counts stores; a pod whose `seen` is not the current one was not in the last batch.
    generation: u64,
}

/// A pod's containers, and the store that last saw it.
#[derive(Debug)]
struct PodSlots {
    seen: u64,
    containers: Vec<(Name, Slot)>,
}

impl Storage {
    pub fn new(resolution: std::time::Duration) -> Self {
        Storage {
            resolution: resolution.as_nanos().min(i64::MAX as u128) as Nanos,
            nodes: FastMap::default(),
            pods: FastMap::default(),
            generation: 0,
        }
    }

    /// Replace the state with `batch`: keys absent from the batch disappear.
    pub fn store(&mut self, batch: &Batch) {
        let mut nodes = FastMap::with_capacity_and_hasher(batch.nodes.len(), Default::default());
        for (name, new) in &batch.nodes {
            let prev = match self.nodes.get(name) {
                Some(old) => advance(old, new),
                None => None,
            };
            nodes.insert(name.clone(), Slot { last: *new, prev });
        }
        self.nodes = nodes;

        // Pods are updated in place and the ones the batch lacks swept after: rebuilding the maps every
        // tick allocated and freed a map entry and a vector per pod (143,000 of each at 5,000 nodes).
        self.generation += 1;
        let seen = self.generation;
        for pod in &batch.pods {
            let pods = match self.pods.get_mut(&*pod.namespace) {
                Some(m) => m,
                None => self.pods.entry(pod.namespace.clone()).or_default(),
            };
            match pods.get_mut(&*pod.name) {
                Some(slots) => {
                    slots.seen = seen;
                    update(self.resolution, &mut slots.containers, &pod.containers);
                }
                None => {
                    let mut containers = Vec::new();
                    update(self.resolution, &mut containers, &pod.containers);
                    pods.insert(pod.name.clone(), PodSlots { seen, containers });
                }
            }
        }
        self.pods.retain(|_, pods| {
            pods.retain(|_, p| p.seen == seen);
            !pods.is_empty()
        });
    }

    /// Upstream readiness: at least one node and one container have a baseline.
    pub fn ready(&self) -> bool {
        self.nodes.values().any(|s| s.prev.is_some()) && self.containers().any(|(_, s)| s.prev.is_some())
    }

    /// `metrics_server_storage_points{type="node"}`.
    pub fn node_points(&self) -> usize {
        self.nodes.values().filter(|s| s.prev.is_some()).count()
    }

    /// `metrics_server_storage_points{type="container"}`.
    pub fn container_points(&self) -> usize {
        self.containers().filter(|(_, s)| s.prev.is_some()).count()
    }

    /// Usage of one node, if it has both points and the rate is computable.
    pub fn node(&self, name: &str) -> Option<Usage> {
        let slot = self.nodes.get(name)?;
        let prev = slot.prev.as_ref()?;
        match resource_usage(&slot.last, prev) {
            Ok(u) => Some(u),
            Err(e) => {
                tracing::debug!(node = name, error = %e, "Skipping node usage metric");
                None
            }
        }
    }

    /// Usage of one pod. `None` when the pod has no baseline or any container lacks one.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodUsage> {
        let containers = self.pod_slots(namespace, name)?;
        if containers.is_empty() || containers.iter().any(|(_, s)| s.prev.is_none()) {
            return None;
        }
        let mut out = Vec::with_capacity(containers.len());
        let mut time: Option<(Nanos, Nanos)> = None;
        for (cname, slot) in containers {
            let Some(prev) = slot.prev.as_ref() else { continue };
            match resource_usage(&slot.last, prev) {
                Ok(u) => {
                    if time.is_none_or(|(ts, _)| u.timestamp < ts) {
                        time = Some((u.timestamp, u.window));
                    }
                    out.push((cname.clone(), u));
                }
                Err(e) => {
                    tracing::debug!(namespace, pod = name, container = %cname, error = %e,
                        "Skipping container usage metric");
                }
            }
        }
        Some(PodUsage { containers: out, time })
    }

    fn pod_slots(&self, namespace: &str, name: &str) -> Option<&Vec<(Name, Slot)>> {
        self.pods.get(namespace)?.get(name).map(|p| &p.containers)
    }

    fn containers(&self) -> impl Iterator<Item = &(Name, Slot)> {
        self.pods.values().flat_map(|m| m.values()).flat_map(|p| p.containers.iter())
    }

    /// Names of all nodes in the last batch.
    pub fn node_names(&self) -> impl Iterator<Item = &Name> {
        self.nodes.keys()
    }

    /// All (namespace, pod) keys in the last batch.
    pub fn pod_keys(&self) -> impl Iterator<Item = (&Name, &Name)> {
        self.pods.iter().flat_map(|(ns, m)| m.keys().map(move |p| (ns, p)))
    }
}

/// Baseline rule shared by nodes and running containers.
fn advance(old: &Slot, new: &Point) -> Option<Point> {
    if new.ts > old.last.ts {
        Some(old.last)
    } else if let Some(p) = old.prev.filter(|p| p.ts < new.ts) {
        Some(p)
    } else {
        tracing::debug!("new metrics point is older than stored previous, drop previous");
        None
    }
}

/// A pod's container slots after a scrape of `new`: in place when the containers are those of the last
/// scrape in the same order.
fn update(resolution: Nanos, slots: &mut Vec<(Name, Slot)>, new: &[(Name, Point)]) {
    // Names are shared between scrapes: the pointer usually settles it.
    let same = |a: &Name, b: &Name| Arc::ptr_eq(a, b) || a == b;
    if slots.len() == new.len() && slots.iter().zip(new).all(|((a, _), (b, _))| same(a, b)) {
        for ((_, slot), (_, p)) in slots.iter_mut().zip(new) {
            *slot = Slot { prev: container_prev(resolution, Some(slot), p), last: *p };
        }
        return;
    }
    let rebuilt = new
        .iter()
        .map(|(name, p)| {
            let old = slots.iter().find(|(n, _)| same(n, name)).map(|(_, s)| s);
            (name.clone(), Slot { prev: container_prev(resolution, old, p), last: *p })
        })
        .collect();
    *slots = rebuilt;
}

fn container_prev(resolution: Nanos, old: Option<&Slot>, new: &Point) -> Option<Point> {
    let age = new.ts - new.start;
    if new.start < new.ts && (FRESH_CONTAINER_MIN_AGE..resolution).contains(&age) {
        // A container younger than one resolution gets a rate since its start.
        return Some(Point { start: new.start, ts: new.start, cpu: 0, mem: new.mem });
    }
    match old {
        Some(old) if new.start < old.last.ts => advance(old, new),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NANOS_PER_SEC;

    fn n(s: &str) -> Name {
        Arc::from(s)
    }

    fn pt(start_s: i64, ts_s: i64, cpu: u64, mem: u64) -> Point {
        Point { start: start_s * S, ts: ts_s * S, cpu, mem }
    }

    fn node_batch(points: &[(&str, Point)]) -> Batch {
        Batch { nodes: points.iter().map(|(k, p)| (n(k), *p)).collect(), pods: vec![] }
    }

    fn pod_batch(ns: &str, pod: &str, cs: &[(&str, Point)]) -> Batch {
        Batch {
            nodes: vec![],
            pods: vec![PodBatch {
                namespace: n(ns),
                name: n(pod),
                containers: cs.iter().map(|(k, p)| (n(k), *p)).collect(),
            }],
        }
    }

    fn storage() -> Storage {
        Storage::new(std::time::Duration::from_secs(60))
    }

    #[test]
    fn node_needs_two_points() {
        let mut st = storage();
        st.store(&node_batch(&[("n1", pt(0, 120, 10 * S as u64, 3 << 20))]));
        assert_eq!(st.node("n1"), None);
        st.store(&node_batch(&[("n1", pt(0, 130, 20 * S as u64, 2 << 20))]));
        let u = st.node("n1").unwrap();
        assert_eq!(u.cpu_nanocores, 1_000_000_000);
        assert_eq!(u.memory_bytes, 2 << 20);
        assert_eq!(u.timestamp, 130 * S);
        assert_eq!(u.window, 10 * S);
        assert_eq!(st.node_points(), 1);
    }

    #[test]
    fn worked_example_pod_basic() {
        // prev cpu 1e9 @ 120 s, last cpu 6e9 @ 125 s ⇒ 1 core, window 5 s.
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("c", pt(0, 120, 1_000_000_000, 100))]));
        st.store(&pod_batch("ns", "p", &[("c", pt(0, 125, 6_000_000_000, 200))]));
        let pu = st.pod("ns", "p").unwrap();
        assert_eq!(pu.containers.len(), 1);
        let u = pu.containers[0].1;
        assert_eq!(u.cpu_nanocores, 1_000_000_000);
        assert_eq!(u.window, 5 * S);
        assert_eq!(u.memory_bytes, 200);
        assert_eq!(pu.time, Some((125 * S, 5 * S)));
    }

    #[test]
    fn cpu_truncates_to_whole_nanocores() {
        // 1 nanocore-second over 3 s = 0.333… ⇒ 0; 10 over 3 s ⇒ 3.
        let last = pt(0, 3, 10, 1);
        let prev = pt(0, 0, 0, 1);
        assert_eq!(resource_usage(&last, &prev).unwrap().cpu_nanocores, 3);
        let last = pt(0, 3, 1, 1);
        assert_eq!(resource_usage(&last, &prev).unwrap().cpu_nanocores, 0);
        // upstream types_test: 20000 nanocores over a 10 ms window.
        let prev = Point { start: 0, ts: 0, cpu: 0, mem: 0 };
        let last = Point { start: 0, ts: 10_000_000, cpu: 200, mem: 0 };
        assert_eq!(resource_usage(&last, &prev).unwrap().cpu_nanocores, 20_000);
    }

    #[test]
    fn rate_errors() {
        assert_eq!(resource_usage(&pt(5, 20, 10, 1), &pt(10, 10, 5, 1)), Err(RateError::StartTimeDecrease));
        assert_eq!(resource_usage(&pt(0, 20, 4, 1), &pt(0, 10, 5, 1)), Err(RateError::CpuDecrease));
    }

    #[test]
    fn repeated_identical_point_from_empty_gives_nothing() {
        let mut st = storage();
        let b = node_batch(&[("n1", pt(0, 100, 5, 5))]);
        st.store(&b);
        st.store(&b);
        assert_eq!(st.node("n1"), None);
        assert!(!st.ready());
    }

    #[test]
    fn repeated_point_keeps_prev_and_old_window() {
        let mut st = storage();
        st.store(&node_batch(&[("n1", pt(0, 100, 0, 5))]));
        st.store(&node_batch(&[("n1", pt(0, 110, 10 * S as u64, 5))]));
        // Same sample again: last replaced, prev kept.
        st.store(&node_batch(&[("n1", pt(0, 110, 10 * S as u64, 7))]));
        let u = st.node("n1").unwrap();
        assert_eq!(u.window, 10 * S);
        assert_eq!(u.cpu_nanocores, 1_000_000_000);
        assert_eq!(u.memory_bytes, 7);
    }

    #[test]
    fn out_of_order_between_prev_and_last_keeps_prev() {
        let mut st = storage();
        st.store(&node_batch(&[("n1", pt(0, 100, 0, 5))]));
        st.store(&node_batch(&[("n1", pt(0, 120, 20 * S as u64, 5))]));
        // prev(100) < new(110) < last(120): prev stays, new becomes last.
        st.store(&node_batch(&[("n1", pt(0, 110, 5 * S as u64, 5))]));
        let u = st.node("n1").unwrap();
        assert_eq!(u.timestamp, 110 * S);
        assert_eq!(u.window, 10 * S);
        assert_eq!(u.cpu_nanocores, 500_000_000);
    }

    #[test]
    fn point_older_than_prev_drops_prev() {
        let mut st = storage();
        st.store(&node_batch(&[("n1", pt(0, 100, 0, 5))]));
        st.store(&node_batch(&[("n1", pt(0, 120, 20, 5))]));
        st.store(&node_batch(&[("n1", pt(0, 90, 5, 5))]));
        assert_eq!(st.node("n1"), None);
        assert_eq!(st.node_points(), 0);
    }

    #[test]
    fn absent_from_batch_disappears() {
        let mut st = storage();
        st.store(&node_batch(&[("n1", pt(0, 100, 0, 5)), ("n2", pt(0, 100, 0, 5))]));
        st.store(&node_batch(&[("n1", pt(0, 110, 10, 5)), ("n2", pt(0, 110, 10, 5))]));
        assert!(st.node("n2").is_some());
        st.store(&node_batch(&[("n1", pt(0, 120, 20, 5))]));
        assert!(st.node("n2").is_none());
        // After a failed scrape the node needs two more successful ones.
        st.store(&node_batch(&[("n1", pt(0, 130, 30, 5)), ("n2", pt(0, 130, 30, 5))]));
        assert!(st.node("n2").is_none());
        st.store(&node_batch(&[("n1", pt(0, 140, 40, 5)), ("n2", pt(0, 140, 40, 5))]));
        assert!(st.node("n2").is_some());
        st.store(&Batch::default());
        assert!(st.node("n1").is_none());
    }

    #[test]
    fn pods_absent_from_a_batch_disappear_and_changed_containers_keep_their_points() {
        let mut st = storage();
        let two = |ts: i64| {
            let mut b = pod_batch("ns", "a", &[("c", pt(0, ts, ts as u64, 1))]);
            b.pods.extend(pod_batch("ns", "b", &[("c", pt(0, ts, ts as u64, 1))]).pods);
            b
        };
        st.store(&two(100));
        st.store(&two(110));
        assert!(st.pod("ns", "b").is_some());
        st.store(&pod_batch("ns", "a", &[("c", pt(0, 120, 120, 1))]));
        assert!(st.pod("ns", "b").is_none());
        assert_eq!(st.pod_keys().count(), 1);
        // Back after a missed scrape: two more points are needed.
        st.store(&two(130));
        assert!(st.pod("ns", "b").is_none());
        st.store(&two(140));
        assert!(st.pod("ns", "b").is_some());
        // A container added in front: the old one keeps its point, the new one has none yet, so the pod
        // is left out until it has.
        st.store(&pod_batch("ns", "a", &[("d", pt(0, 150, 1, 1)), ("c", pt(0, 150, 150, 1))]));
        assert!(st.pod("ns", "a").is_none());
        assert_eq!(st.container_points(), 1);
        st.store(&pod_batch("ns", "a", &[("d", pt(0, 160, 11, 1)), ("c", pt(0, 160, 160, 1))]));
        let names: Vec<_> = st.pod("ns", "a").unwrap().containers.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, ["d", "c"]);
        st.store(&Batch::default());
        assert_eq!(st.pod_keys().count(), 0);
    }

    #[test]
    fn node_cpu_going_backwards_is_omitted() {
        let mut st = storage();
        st.store(&node_batch(&[("n1", pt(0, 100, 50, 5))]));
        st.store(&node_batch(&[("n1", pt(0, 110, 40, 5))]));
        assert_eq!(st.node("n1"), None);
        // Still counted as a stored point (upstream counts prevs, not servable rates).
        assert_eq!(st.node_points(), 1);
        st.store(&node_batch(&[("n1", pt(0, 120, 60, 5))]));
        assert_eq!(st.node("n1").unwrap().cpu_nanocores, 2);
    }

    #[test]
    fn zero_start_time_works() {
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("c", pt(0, 100, 0, 1))]));
        st.store(&pod_batch("ns", "p", &[("c", pt(0, 110, 10, 1))]));
        assert_eq!(st.pod("ns", "p").unwrap().containers[0].1.cpu_nanocores, 1);
    }

    #[test]
    fn container_restart_has_no_prev() {
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("c", pt(10, 100, 50 * S as u64, 1))]));
        st.store(&pod_batch("ns", "p", &[("c", pt(10, 160, 60 * S as u64, 1))]));
        assert!(st.pod("ns", "p").is_some());
        // Restarted at 200 (after the stored ts 160), long ago relative to resolution 60s ⇒ no prev.
        st.store(&pod_batch("ns", "p", &[("c", pt(200, 300, S as u64, 1))]));
        assert!(st.pod("ns", "p").is_none());
        st.store(&pod_batch("ns", "p", &[("c", pt(200, 360, 61 * S as u64, 1))]));
        let u = st.pod("ns", "p").unwrap().containers[0].1;
        assert_eq!(u.cpu_nanocores, 1_000_000_000);
        assert_eq!(u.window, 60 * S);
    }

    #[test]
    fn restarted_container_within_resolution_uses_start_time() {
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("c", pt(10, 100, 50, 1))]));
        // Restart at 150, sampled at 170: 20 s old ∈ [10 s, 60 s) ⇒ rate since start.
        st.store(&pod_batch("ns", "p", &[("c", pt(150, 170, 10 * S as u64, 9))]));
        let pu = st.pod("ns", "p").unwrap();
        let u = pu.containers[0].1;
        assert_eq!(u.window, 20 * S);
        assert_eq!(u.cpu_nanocores, 500_000_000);
        assert_eq!(u.memory_bytes, 9);
    }

    #[test]
    fn fresh_container_served_after_one_batch() {
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("c", pt(100, 110, 2 * S as u64, 4))]));
        let pu = st.pod("ns", "p").unwrap();
        assert_eq!(pu.containers[0].1.cpu_nanocores, 200_000_000);
        assert_eq!(pu.time, Some((110 * S, 10 * S)));
        assert!(!st.ready(), "nodes still need two points");
        st.store(&Batch { nodes: vec![(n("n"), pt(0, 1, 1, 1))], pods: vec![] });
        assert_eq!(st.container_points(), 0);
    }

    #[test]
    fn too_young_or_too_old_or_future_start_not_fresh() {
        for p in [
            pt(100, 109, 5, 4), // 9 s old: below the 10 s floor
            pt(100, 220, 5, 4), // 120 s old: older than the resolution
            pt(100, 100, 5, 4), // started at the sample time
            pt(130, 100, 5, 4), // start after timestamp
        ] {
            let mut st = storage();
            st.store(&pod_batch("ns", "p", &[("c", p)]));
            assert!(st.pod("ns", "p").is_none(), "{p:?}");
        }
    }

    #[test]
    fn partial_pod_left_out() {
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("a", pt(0, 100, 0, 1))]));
        // A sidecar appears in the second batch: it has no baseline, so the pod is hidden.
        st.store(&pod_batch("ns", "p", &[("a", pt(0, 110, 10, 1)), ("b", pt(0, 110, 10, 1))]));
        assert!(st.pod("ns", "p").is_none());
        assert_eq!(st.container_points(), 1);
        st.store(&pod_batch("ns", "p", &[("a", pt(0, 120, 20, 1)), ("b", pt(0, 120, 20, 1))]));
        assert_eq!(st.pod("ns", "p").unwrap().containers.len(), 2);
    }

    #[test]
    fn pod_time_is_of_earliest_container() {
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("a", pt(0, 100, 0, 1)), ("b", pt(0, 101, 0, 1))]));
        st.store(&pod_batch("ns", "p", &[("a", pt(0, 115, 15, 1)), ("b", pt(0, 112, 22, 1))]));
        let pu = st.pod("ns", "p").unwrap();
        assert_eq!(pu.time, Some((112 * S, 11 * S)));
    }

    #[test]
    fn pod_with_decreasing_cpu_returned_without_containers() {
        let mut st = storage();
        st.store(&pod_batch("ns", "p", &[("c", pt(0, 100, 50, 1))]));
        st.store(&pod_batch("ns", "p", &[("c", pt(0, 110, 40, 1))]));
        let pu = st.pod("ns", "p").unwrap();
        assert!(pu.containers.is_empty());
        assert_eq!(pu.time, None);
    }

    #[test]
    fn ready_needs_nodes_and_pods() {
        let mut st = storage();
        let b1 = Batch {
            nodes: vec![(n("n"), pt(0, 100, 1, 1))],
            pods: pod_batch("ns", "p", &[("c", pt(0, 100, 1, 1))]).pods,
        };
        let b2 = Batch {
            nodes: vec![(n("n"), pt(0, 110, 2, 1))],
            pods: pod_batch("ns", "p", &[("c", pt(0, 110, 2, 1))]).pods,
        };
        st.store(&b1);
        assert!(!st.ready());
        st.store(&Batch { nodes: b2.nodes.clone(), pods: vec![] });
        assert!(!st.ready(), "nodes only");
        let mut st = storage();
        st.store(&b1);
        st.store(&Batch { nodes: vec![], pods: b2.pods.clone() });
        assert!(!st.ready(), "pods only");
        let mut st = storage();
        st.store(&b1);
        st.store(&b2);
        assert!(st.ready());
        assert_eq!(st.node_points(), 1);
        assert_eq!(st.container_points(), 1);
    }

    #[test]
    fn full_scale_cluster_round_trip() {
        // 5,000 nodes × 30 pods × 2 containers, names shared through the interner.
        let mut interner = Interner::default();
        let mut batch = |ts: i64| {
            let mut b = Batch::default();
            for node in 0..5_000 {
                b.nodes.push((interner.intern(&format!("node-{node}")), pt(0, ts, ts as u64 * 2, 1 << 30)));
                for pod in 0..30 {
                    b.pods.push(PodBatch {
                        namespace: interner.intern("default"),
                        name: interner.intern(&format!("pod-{node}-{pod}")),
                        containers: ["app", "sidecar"]
                            .iter()
                            .map(|c| (interner.intern(c), pt(0, ts, ts as u64, 1 << 20)))
                            .collect(),
                    });
                }
            }
            b
        };
        let (b1, b2) = (batch(100), batch(115));
        let mut st = Storage::new(std::time::Duration::from_secs(15));
        st.store(&b1);
        st.store(&b2);
        assert!(st.ready());
        assert_eq!(st.node_points(), 5_000);
        assert_eq!(st.container_points(), 300_000);
        assert_eq!(st.pod("default", "pod-4999-29").unwrap().containers.len(), 2);
        assert_eq!(st.node("node-17").unwrap().cpu_nanocores, 2);
        assert_eq!(interner.len(), 5_000 + 150_000 + 3);
    }

    #[test]
    fn points_stay_compact() {
        // The per-container footprint is what bounds memory at 5,000 nodes × 30 pods.
        assert_eq!(std::mem::size_of::<Point>(), 32);
        assert!(std::mem::size_of::<(Name, Slot)>() <= 96);
    }

    #[test]
    fn interner_shares_and_sweeps() {
        let mut i = Interner::default();
        let a = i.intern("x");
        let b = i.intern("x");
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b));
        let _keep = i.intern("y");
        i.sweep();
        assert_eq!(i.len(), 1);
    }
}
