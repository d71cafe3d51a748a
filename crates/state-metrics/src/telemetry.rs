//! Self-metrics served on the telemetry port, named as upstream's: list/watch call counters per
//! resource and result, shard gauges, build info, the main `/metrics` latency histogram and process
//! metrics read from `/proc/self`.
//!
//! One family is kubestate's own: `kube_state_metrics_resource_synced{resource="<store name>"}` is 1 once
//! every list/watch of that resource has completed its initial list and 0 while one is pending or failing
//! (for instance forbidden by RBAC), so a least-privilege deployment can alert on what it cannot see.
//! The main port's `/readyz` names the same resources (with the reason, e.g. `secrets (forbidden)`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use exposition::{write_header, write_histogram, write_sample};

/// Upper bounds of the `http_request_duration_seconds` histogram (client_golang's defaults).
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    List,
    Watch,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The telemetry registry of one running instance.
pub struct Telemetry {
    /// (call, resource type label, success) → count.
    calls: Mutex<BTreeMap<(Call, String, bool), u64>>,
    scrape: Mutex<Histogram>,
    /// (shard, total); changes when auto-sharding reconfigures.
    sharding: Mutex<(i32, i32)>,
    /// Stores whose sync state is exported as `kube_state_metrics_resource_synced`.
    stores: Mutex<Vec<(String, crate::textstore::Reader)>>,
    /// Sources of stores that come and go (custom resources), asked at every render.
    dynamic_stores: Mutex<Vec<StoreSource>>,
    /// Families owned by other parts (custom resources), appended to every render.
    extra: Mutex<Vec<ExtraRender>>,
    /// What the list/watch pipelines report, per resource.
    ingest: Mutex<Ingest>,
    /// Server- or client-side sharding, and how often the API server could not shard.
    split: Mutex<SplitState>,
}

/// Which split is in effect (`None`: one shard, or not decided yet), and counts of its changes.
#[derive(Default)]
struct SplitState {
    in_effect: Option<crate::shard::Split>,
    /// reason → times auto mode fell back to client-side sharding.
    fallbacks: BTreeMap<&'static str, u64>,
    /// resource → sharded lists answered whole.
    ignored: BTreeMap<String, u64>,
}

/// Counts of the list/watch pipelines, per resource name.
#[derive(Default)]
struct Ingest {
    /// (resource, how) → initial states obtained that way.
    listed: BTreeMap<(String, &'static str), u64>,
    streaming_refused: BTreeMap<String, u64>,
    history_went_back: BTreeMap<String, u64>,
    /// Whether the API server serves each planned resource (from discovery).
    served: BTreeMap<String, bool>,
    /// Bytes received, per resource (shared counters, summed over the resource's parts).
    received: Vec<(String, Arc<crate::ingest::Received>)>,
}

/// Writes additional telemetry families in the text format.
pub type ExtraRender = Arc<dyn Fn(&mut Vec<u8>) + Send + Sync>;

/// The stores, by resource name, that some part serves right now.
pub type StoreSource = Arc<dyn Fn() -> Vec<(String, crate::textstore::Reader)> + Send + Sync>;

/// The resource label of list/watch calls for objects read as generic JSON (custom resources, CRDs), as
/// upstream's dynamic informers report them.
pub const UNSTRUCTURED: &str = "*unstructured.Unstructured";

impl Telemetry {
    pub fn new(shard: i32, total_shards: i32) -> Self {
        Telemetry {
            calls: Mutex::new(BTreeMap::new()),
            scrape: Mutex::new(Histogram::default()),
            sharding: Mutex::new((shard, total_shards)),
            stores: Mutex::new(Vec::new()),
            dynamic_stores: Mutex::new(Vec::new()),
            extra: Mutex::new(Vec::new()),
            ingest: Mutex::default(),
            split: Mutex::default(),
        }
    }

    fn split(&self) -> std::sync::MutexGuard<'_, SplitState> {
        self.split.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The split now in effect (`None` with one shard, or while undecided or blocked).
    pub fn set_split(&self, split: Option<crate::shard::Split>) {
        self.split().in_effect = split;
    }

    /// Auto mode fell back to client-side sharding: the server `ignored` or `refused` the selector.
    pub fn record_split_fallback(&self, reason: &'static str) {
        *self.split().fallbacks.entry(reason).or_insert(0) += 1;
    }

    /// A sharded list of `resource` was answered whole (without `shardInfo`).
    pub fn record_shard_selector_ignored(&self, resource: &str) {
        *self.split().ignored.entry(resource.to_owned()).or_insert(0) += 1;
    }

    fn render_split(&self, out: &mut Vec<u8>) {
        let g = self.split();
        let name = "kube_state_metrics_shard_mode";
        write_header(
            out,
            name,
            "Where objects are divided among shards: 1 for the mode in effect (server: the API server sends each shard only its objects; client: every shard receives all objects and keeps its own), 0 for both with one shard or while undecided.",
            "gauge",
        );
        for split in [crate::shard::Split::Jump, crate::shard::Split::Range] {
            let v = if g.in_effect == Some(split) { 1.0 } else { 0.0 };
            write_sample(out, name, &[("mode", split.word())], v);
        }
        let name = "kube_state_metrics_shard_mode_fallbacks_total";
        write_header(
            out,
            name,
            "Times --shard-mode=auto fell back to client-side sharding because the API server ignored or refused the shard selector.",
            "counter",
        );
        for reason in ["ignored", "refused"] {
            write_sample(out, name, &[("reason", reason)], g.fallbacks.get(reason).copied().unwrap_or(0) as f64);
        }
        let name = "kube_state_metrics_shard_selector_ignored_total";
        write_header(
            out,
            name,
            "Lists asked with a shard selector that the API server answered whole (without shardInfo), per resource; this shard then dropped other shards' objects itself.",
            "counter",
        );
        for (res, n) in &g.ignored {
            write_sample(out, name, &[("resource", res)], *n as f64);
        }
    }

    fn ingest(&self) -> std::sync::MutexGuard<'_, Ingest> {
        self.ingest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A complete initial state of `resource` was obtained `how`.
    pub fn record_listed(&self, resource: &str, how: crate::ingest::machine::Listed) {
        let how = how.label();
        *self.ingest().listed.entry((resource.to_owned(), how)).or_insert(0) += 1;
    }

    /// The API server refused a streaming list of `resource`.
    pub fn record_streaming_refused(&self, resource: &str) {
        *self.ingest().streaming_refused.entry(resource.to_owned()).or_insert(0) += 1;
    }

    /// The resourceVersions of `resource` went below one already seen.
    pub fn record_history_went_back(&self, resource: &str) {
        *self.ingest().history_went_back.entry(resource.to_owned()).or_insert(0) += 1;
    }

    /// Discovery found that the API server serves `resource` (or does not).
    pub fn set_served(&self, resource: &str, served: bool) {
        self.ingest().served.insert(resource.to_owned(), served);
    }

    /// Exports the bytes `received` counts for `resource` (several parts may share one name).
    pub fn track_received(&self, resource: &str, received: Arc<crate::ingest::Received>) {
        self.ingest().received.push((resource.to_owned(), received));
    }

    fn render_ingest(&self, out: &mut Vec<u8>) {
        use std::sync::atomic::Ordering::Relaxed;
        let g = self.ingest();
        let name = "kube_state_metrics_initial_lists_total";
        write_header(
            out,
            name,
            "Complete initial states obtained per resource, by where they came from (streaming list, watch cache, consistent read, list at the last resourceVersion).",
            "counter",
        );
        for ((res, how), n) in &g.listed {
            write_sample(out, name, &[("resource", res), ("source", how)], *n as f64);
        }
        let name = "kube_state_metrics_streaming_list_refusals_total";
        write_header(
            out,
            name,
            "Streaming lists the API server refused, per resource; lists are then read from its watch cache.",
            "counter",
        );
        for (res, n) in &g.streaming_refused {
            write_sample(out, name, &[("resource", res)], *n as f64);
        }
        let name = "kube_state_metrics_resource_served";
        write_header(
            out,
            name,
            "Whether the API server serves the resource (1); a resource it does not serve (0) is not listed until it does.",
            "gauge",
        );
        for (res, served) in &g.served {
            write_sample(out, name, &[("resource", res)], if *served { 1.0 } else { 0.0 });
        }
        let name = "kube_state_metrics_resource_version_regressions_total";
        write_header(
            out,
            name,
            "Times the API server's resourceVersions went below ones already seen (etcd restore, another cluster at the same address), each followed by a relist.",
            "counter",
        );
        for (res, n) in &g.history_went_back {
            write_sample(out, name, &[("resource", res)], *n as f64);
        }
        let name = "kube_state_metrics_received_bytes_total";
        write_header(
            out,
            name,
            "Bytes of list and watch responses received from the API server, per resource and kind of request.",
            "counter",
        );
        let mut sums: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for (res, r) in &g.received {
            for (kind, c) in
                [("streaming_list", &r.streaming_list), ("list", &r.list), ("watch", &r.watch), ("probe", &r.probe)]
            {
                *sums.entry((res.as_str(), kind)).or_insert(0) += c.load(Relaxed);
            }
        }
        for ((res, kind), n) in sums {
            write_sample(out, name, &[("resource", res), ("request", kind)], n as f64);
        }
    }

    /// Registers families rendered after the built-in ones.
    pub fn add_extra(&self, f: ExtraRender) {
        self.extra.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    }

    /// Auto-sharding moved this instance to another shard (or the shard count changed).
    pub fn set_sharding(&self, shard: i32, total_shards: i32) {
        *self.sharding.lock().unwrap_or_else(|e| e.into_inner()) = (shard, total_shards);
    }

    pub fn sharding(&self) -> (i32, i32) {
        *self.sharding.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Exports whether `store` (resource `name`) has completed its lists.
    pub fn track_store(&self, name: &str, store: crate::textstore::Reader) {
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).push((name.to_owned(), store));
    }

    /// Exports the sync state of whatever stores `source` returns at each render.
    pub fn track_dynamic_stores(&self, source: StoreSource) {
        self.dynamic_stores.lock().unwrap_or_else(|e| e.into_inner()).push(source);
    }

    /// Exports the list and watch counters of `resource` from the start, at zero, so that a resource
    /// served by streaming lists alone still shows its (empty) list counts.
    pub fn register_calls(&self, resource: &str) {
        let mut g = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        for call in [Call::List, Call::Watch] {
            for ok in [true, false] {
                g.entry((call, resource.to_owned(), ok)).or_insert(0);
            }
        }
    }

    pub fn record_call(&self, call: Call, resource: &str, success: bool) {
        let mut g = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        *g.entry((call, resource.to_owned(), success)).or_insert(0) += 1;
    }

    /// The count recorded so far for one series (tests and diagnostics).
    pub fn calls(&self, call: Call, resource: &str, success: bool) -> u64 {
        let g = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        g.get(&(call, resource.to_owned(), success)).copied().unwrap_or(0)
    }

    pub fn observe_scrape(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let mut h = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The text exposition of every telemetry family.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        self.render_calls(&mut out);
        render_build_info(&mut out);
        write_header(
            &mut out,
            "kube_state_metrics_shard_ordinal",
            "Current sharding ordinal/index of this instance",
            "gauge",
        );
        let (shard, total_shards) = self.sharding();
        write_sample(
            &mut out,
            "kube_state_metrics_shard_ordinal",
            &[("shard_ordinal", &shard.to_string())],
            shard.into(),
        );
        write_header(
            &mut out,
            "kube_state_metrics_total_shards",
            "Number of total shards this instance is aware of",
            "gauge",
        );
        write_sample(&mut out, "kube_state_metrics_total_shards", &[], total_shards.into());
        self.render_split(&mut out);
        self.render_synced(&mut out);
        self.render_ingest(&mut out);
        self.render_histogram(&mut out);
        selfproc::render(&mut out, &selfproc::ProcessStats::read());
        for f in self.extra.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            f(&mut out);
        }
        out
    }

    /// Not an upstream family: 1 once every list/watch of the resource has completed its list, 0 while
    /// one is pending or failing (e.g. forbidden by RBAC).
    fn render_synced(&self, out: &mut Vec<u8>) {
        let mut g = self.stores.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for source in self.dynamic_stores.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            g.extend(source());
        }
        if g.is_empty() {
            return;
        }
        write_header(
            out,
            "kube_state_metrics_resource_synced",
            "Whether every list/watch of the resource has completed its initial list (1) or not (0).",
            "gauge",
        );
        for (name, store) in g.iter() {
            let v = if store.synced() { 1.0 } else { 0.0 };
            write_sample(out, "kube_state_metrics_resource_synced", &[("resource", name)], v);
        }
    }

    fn render_calls(&self, out: &mut Vec<u8>) {
        let g = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        for (call, name, help) in [
            (Call::List, "kube_state_metrics_list_total", "Number of total resource list in kube-state-metrics"),
            (Call::Watch, "kube_state_metrics_watch_total", "Number of total resource watches in kube-state-metrics"),
        ] {
            write_header(out, name, help, "counter");
            for ((c, res, ok), n) in g.iter() {
                if *c == call {
                    let result = if *ok { "success" } else { "error" };
                    write_sample(out, name, &[("resource", res), ("result", result)], *n as f64);
                }
            }
        }
    }

    fn render_histogram(&self, out: &mut Vec<u8>) {
        let h = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        let name = "http_request_duration_seconds";
        write_header(out, name, "A histogram of requests for kube-state-metrics metrics handler.", "histogram");
        let buckets = BUCKETS.iter().copied().zip(h.counts.iter().copied());
        write_histogram(out, name, &[("handler", "metrics"), ("method", "get")], buckets, h.sum, h.count);
    }
}

fn render_build_info(out: &mut Vec<u8>) {
    let name = "kube_state_metrics_build_info";
    write_header(
        out,
        name,
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which kube_state_metrics was built, and the goos and goarch for the build.",
        "gauge",
    );
    write_sample(
        out,
        name,
        &[
            ("branch", option_env!("KUBESTATE_BRANCH").unwrap_or("")),
            ("client_go_version", "kube-rs v5"),
            ("goarch", std::env::consts::ARCH),
            ("goos", std::env::consts::OS),
            ("goversion", option_env!("KUBESTATE_RUSTC_VERSION").unwrap_or("rust")),
            ("revision", option_env!("KUBESTATE_REVISION").unwrap_or("unknown")),
            ("tags", "unknown"),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        1.0,
    );
}

/// Unix time now, in seconds (for callers that stamp telemetry).
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_telemetry_parses_and_counts() {
        let t = Telemetry::new(0, 1);
        t.record_call(Call::List, "*v1.Pod", true);
        t.record_call(Call::List, "*v1.Pod", true);
        t.record_call(Call::Watch, "*v1.Pod", false);
        t.observe_scrape(Duration::from_millis(30));
        let text = String::from_utf8(t.render()).unwrap();
        let samples = exposition::parse_text(&text).unwrap();
        let find = |name: &str, labels: &[(&str, &str)]| {
            samples
                .iter()
                .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
                .map(|s| s.value)
        };
        assert_eq!(find("kube_state_metrics_list_total", &[("resource", "*v1.Pod"), ("result", "success")]), Some(2.0));
        assert_eq!(find("kube_state_metrics_watch_total", &[("resource", "*v1.Pod"), ("result", "error")]), Some(1.0));
        assert_eq!(find("kube_state_metrics_shard_ordinal", &[("shard_ordinal", "0")]), Some(0.0));
        assert_eq!(find("kube_state_metrics_total_shards", &[]), Some(1.0));
        assert_eq!(find("kube_state_metrics_resource_synced", &[]), None);
        assert_eq!(find("kube_state_metrics_shard_mode", &[("mode", "client")]), Some(0.0));
        assert_eq!(find("kube_state_metrics_shard_mode", &[("mode", "server")]), Some(0.0));
        assert_eq!(find("kube_state_metrics_shard_mode_fallbacks_total", &[("reason", "ignored")]), Some(0.0));
        t.set_sharding(2, 5);
        t.set_split(Some(crate::shard::Split::Jump));
        t.record_split_fallback("ignored");
        t.record_shard_selector_ignored("pods");
        use crate::textstore::{Maintenance, StoreEvent, store};
        let listed = || {
            let (reader, mut writers) = store(&[] as &[&str], 1, &Maintenance::threads());
            writers[0].apply(StoreEvent::EndRelist);
            reader
        };
        t.track_store("pods", listed());
        t.track_store("secrets", store(&[] as &[&str], 1, &Maintenance::threads()).0);
        let custom = listed();
        t.track_dynamic_stores(Arc::new(move || vec![("example.com/v1, Resource=widgets".to_owned(), custom.clone())]));
        let text = String::from_utf8(t.render()).unwrap();
        let samples = exposition::parse_text(&text).unwrap();
        let find = |name: &str, labels: &[(&str, &str)]| {
            samples
                .iter()
                .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
                .map(|s| s.value)
        };
        assert_eq!(find("kube_state_metrics_shard_ordinal", &[("shard_ordinal", "2")]), Some(2.0));
        assert_eq!(find("kube_state_metrics_total_shards", &[]), Some(5.0));
        assert_eq!(find("kube_state_metrics_shard_mode", &[("mode", "client")]), Some(1.0));
        assert_eq!(find("kube_state_metrics_shard_mode", &[("mode", "server")]), Some(0.0));
        assert_eq!(find("kube_state_metrics_shard_mode_fallbacks_total", &[("reason", "ignored")]), Some(1.0));
        assert_eq!(find("kube_state_metrics_shard_mode_fallbacks_total", &[("reason", "refused")]), Some(0.0));
        assert_eq!(find("kube_state_metrics_shard_selector_ignored_total", &[("resource", "pods")]), Some(1.0));
        assert_eq!(find("kube_state_metrics_resource_synced", &[("resource", "pods")]), Some(1.0));
        assert_eq!(find("kube_state_metrics_resource_synced", &[("resource", "secrets")]), Some(0.0));
        assert_eq!(
            find("kube_state_metrics_resource_synced", &[("resource", "example.com/v1, Resource=widgets")]),
            Some(1.0)
        );
        assert_eq!(find("kube_state_metrics_build_info", &[]), Some(1.0));
        assert_eq!(find("http_request_duration_seconds_bucket", &[("le", "0.025")]), Some(0.0));
        assert_eq!(find("http_request_duration_seconds_bucket", &[("le", "0.05")]), Some(1.0));
        assert_eq!(find("http_request_duration_seconds_count", &[]), Some(1.0));
        if cfg!(target_os = "linux") {
            assert!(find("process_resident_memory_bytes", &[]).unwrap() > 0.0);
            assert!(find("process_open_fds", &[]).unwrap() > 0.0);
            // Go's process collector of upstream's client_golang has these too.
            assert!(find("process_network_receive_bytes_total", &[]).is_some());
            assert!(find("process_virtual_memory_max_bytes", &[]).is_some());
            let start = find("process_start_time_seconds", &[]).unwrap();
            assert!((start - unix_now()).abs() < 86400.0 * 365.0, "{start}");
        }
    }
}
