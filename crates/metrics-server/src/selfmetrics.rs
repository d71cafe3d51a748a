//! The six `metrics_server_*` families upstream exposes on its own `/metrics`, after the `process_*`
//! families of its process collector.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use hyper::body::Bytes;

use exposition::{Buckets, write_header, write_sample, write_sample_after};

const DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug)]
struct Histogram {
    bounds: Arc<Buckets>,
    /// Cumulative: `counts[i]` counts observations up to `bounds[i]`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Bucket bounds shared by every per-node histogram, their `le` labels formatted once.
fn default_buckets() -> Arc<Buckets> {
    static DEFAULT: OnceLock<Arc<Buckets>> = OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(Buckets::new(DEFAULT_BUCKETS.to_vec()))).clone()
}

impl Histogram {
    fn new(bounds: Arc<Buckets>) -> Self {
        let n = bounds.bounds().len();
        Histogram { bounds, counts: vec![0; n], sum: 0.0, count: 0 }
    }

    fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.bounds().iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut Vec<u8>, name: &str, labels: &[(&str, &str)]) {
        exposition::write_histogram_buckets(out, name, labels, &self.bounds, &self.counts, self.sum, self.count);
    }
}

/// The two per-node families of one node.
#[derive(Debug)]
struct NodeSeries {
    /// `node="<name>"`, escaped once: every render writes it on 16 lines per node.
    labels: Vec<u8>,
    last_request: f64,
    duration: Histogram,
}

const DURATION_BUCKET: &str = "metrics_server_kubelet_request_duration_seconds_bucket";
const DURATION_SUM: &str = "metrics_server_kubelet_request_duration_seconds_sum";
const DURATION_COUNT: &str = "metrics_server_kubelet_request_duration_seconds_count";

impl NodeSeries {
    fn new(node: &str, bounds: Arc<Buckets>) -> NodeSeries {
        let mut labels = Vec::with_capacity(node.len() + 8);
        exposition::write_label_pairs(&mut labels, [("node", node)]);
        NodeSeries { labels, last_request: 0.0, duration: Histogram::new(bounds) }
    }

    /// The node's `metrics_server_kubelet_request_duration_seconds` series, as
    /// [`exposition::write_histogram_buckets`] writes them, after the node label written once.
    fn render_duration(&self, out: &mut Vec<u8>, le: &[String]) {
        let h = &self.duration;
        for (le, n) in le.iter().zip(&h.counts) {
            write_sample_after(out, DURATION_BUCKET, &self.labels, [("le", le.as_str())], *n as f64);
        }
        write_sample_after(out, DURATION_BUCKET, &self.labels, [("le", "+Inf")], h.count as f64);
        write_sample_after(out, DURATION_SUM, &self.labels, [], h.sum);
        write_sample_after(out, DURATION_COUNT, &self.labels, [], h.count as f64);
    }
}

/// The `le` label values of [`DEFAULT_BUCKETS`].
fn default_le() -> &'static [String] {
    static LE: OnceLock<Vec<String>> = OnceLock::new();
    LE.get_or_init(|| {
        DEFAULT_BUCKETS
            .iter()
            .map(|b| {
                let mut t = Vec::new();
                exposition::write_float(&mut t, *b);
                String::from_utf8(t).unwrap_or_default()
            })
            .collect()
    })
}

#[derive(Debug)]
struct Inner {
    freshness: Histogram,
    /// By node name, in the order the families list them.
    nodes: BTreeMap<String, NodeSeries>,
    request_total: [u64; 2],
    tick_duration: Histogram,
    node_points: usize,
    container_points: usize,
    /// The six families as last rendered, until the next change: a scrape tick changes them in a
    /// burst of a few seconds, and between bursts every read of `/metrics` serves the same text.
    page: Option<Bytes>,
    /// How many times the families were rendered (tests).
    renders: usize,
}

/// Self-metrics registry.
#[derive(Debug)]
pub struct SelfMetrics {
    inner: Mutex<Inner>,
}

impl SelfMetrics {
    pub fn new(resolution_secs: f64) -> Self {
        let freshness: Vec<f64> = (0..20).map(|i| 1.364f64.powi(i)).collect();
        let mut tick = DEFAULT_BUCKETS.to_vec();
        if resolution_secs > 10.0 {
            let r = resolution_secs;
            tick.extend([10.0 + (r - 10.0) / 2.0, r, 1.5 * r, 2.0 * r]);
        }
        SelfMetrics {
            inner: Mutex::new(Inner {
                freshness: Histogram::new(Arc::new(Buckets::new(freshness))),
                nodes: BTreeMap::new(),
                request_total: [0; 2],
                tick_duration: Histogram::new(Arc::new(Buckets::new(tick))),
                node_points: 0,
                container_points: 0,
                page: None,
                renders: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A change: the rendered page is stale.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = self.lock();
        g.page = None;
        f(&mut g)
    }

    pub fn observe_freshness(&self, secs: f64) {
        self.with(|i| i.freshness.observe(secs));
    }

    /// One kubelet request that ended at `end_unix_secs` (whole seconds, as upstream records it).
    pub fn kubelet_request(&self, node: &str, end_unix_secs: f64, duration_secs: f64, success: bool) {
        self.with(|i| {
            // Known nodes (every tick after the first) are updated in place, without a new key.
            if !i.nodes.contains_key(node) {
                i.nodes.insert(node.to_string(), NodeSeries::new(node, default_buckets()));
            }
            if let Some(series) = i.nodes.get_mut(node) {
                series.last_request = end_unix_secs;
                series.duration.observe(duration_secs);
            }
            i.request_total[usize::from(success)] += 1;
        });
    }

    /// Drop per-node series of nodes that no longer exist (upstream keeps them forever, issue #1114).
    pub fn retain_nodes(&self, keep: impl Fn(&str) -> bool) {
        self.with(|i| {
            i.nodes.retain(|k, _| keep(k));
        });
    }

    pub fn tick(&self, secs: f64) {
        self.with(|i| i.tick_duration.observe(secs));
    }

    pub fn storage_points(&self, nodes: usize, containers: usize) {
        self.with(|i| {
            i.node_points = nodes;
            i.container_points = containers;
        });
    }

    pub fn render(&self) -> String {
        String::from_utf8(self.render_bytes()).unwrap_or_default()
    }

    /// The page in one piece: every byte is written by the exposition writer (ASCII and the UTF-8 of
    /// label values), so it is not checked again.
    pub fn render_bytes(&self) -> Vec<u8> {
        self.page().concat()
    }

    /// The page as served: the process families read now, then the kept page of the others.
    pub fn page(&self) -> [Bytes; 2] {
        let mut process = Vec::new();
        selfproc::render(&mut process, &selfproc::ProcessStats::read());
        [Bytes::from(process), self.own_page()]
    }

    /// The six families, rendered again only after a change.
    fn own_page(&self) -> Bytes {
        let mut g = self.lock();
        if let Some(page) = &g.page {
            return page.clone();
        }
        let mut out = Vec::new();
        Self::render_own(&g, &mut out);
        let page = Bytes::from(out);
        g.page = Some(page.clone());
        g.renders += 1;
        page
    }

    fn render_own(i: &Inner, out: &mut Vec<u8>) {
        {
            out.reserve(4096 + i.nodes.keys().map(|n| 16 * (n.len() + 70)).sum::<usize>());
            let name = "metrics_server_api_metric_freshness_seconds";
            write_header(out, name, "[ALPHA] Freshness of metrics exported", "histogram");
            i.freshness.render(out, name, &[]);
            let name = "metrics_server_kubelet_last_request_time_seconds";
            write_header(out, name, "[ALPHA] Time of last request performed to kubelet by metrics-server", "gauge");
            for s in i.nodes.values() {
                write_sample_after(out, name, &s.labels, [], s.last_request);
            }
            let name = "metrics_server_kubelet_request_duration_seconds";
            write_header(out, name, "[ALPHA] Duration of requests to kubelet API in seconds", "histogram");
            let le = default_le();
            for s in i.nodes.values() {
                s.render_duration(out, le);
            }
            let name = "metrics_server_kubelet_request_total";
            write_header(out, name, "[ALPHA] Number of requests sent to kubelet API", "counter");
            write_sample(out, name, &[("success", "false")], i.request_total[0] as f64);
            write_sample(out, name, &[("success", "true")], i.request_total[1] as f64);
            let name = "metrics_server_manager_tick_duration_seconds";
            write_header(
                out,
                name,
                "[ALPHA] The total time spent collecting and storing metrics in seconds.",
                "histogram",
            );
            i.tick_duration.render(out, name, &[]);
            let name = "metrics_server_storage_points";
            write_header(out, name, "[ALPHA] Number of metrics points stored.", "gauge");
            write_sample(out, name, &[("type", "container")], i.container_points as f64);
            write_sample(out, name, &[("type", "node")], i.node_points as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_six_families_with_values() {
        let m = SelfMetrics::new(15.0);
        m.kubelet_request("n1", 1000.0, 0.02, true);
        m.kubelet_request("n2", 1001.0, 20.0, false);
        m.tick(1.0);
        m.storage_points(3, 7);
        m.observe_freshness(2.0);
        let t = m.render();
        let families: Vec<&str> = t.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
        let own = families.iter().filter(|f| f.starts_with("metrics_server_")).count();
        assert_eq!(own, 6);
        assert!(families.first().unwrap().starts_with("process_cpu_seconds_total"), "process families come first");
        assert!(t.contains("metrics_server_kubelet_request_total{success=\"true\"} 1\n"));
        assert!(t.contains("metrics_server_kubelet_request_total{success=\"false\"} 1\n"));
        assert!(t.contains("metrics_server_kubelet_request_duration_seconds_bucket{node=\"n1\",le=\"0.025\"} 1\n"));
        assert!(t.contains("metrics_server_kubelet_request_duration_seconds_bucket{node=\"n2\",le=\"10\"} 0\n"));
        assert!(t.contains("metrics_server_manager_tick_duration_seconds_bucket{le=\"12.5\"} 1\n"));
        assert!(t.contains("metrics_server_manager_tick_duration_seconds_bucket{le=\"30\"} 1\n"));
        assert!(t.contains("metrics_server_storage_points{type=\"node\"} 3\n"));
        assert!(t.contains("metrics_server_kubelet_last_request_time_seconds{node=\"n2\"} 1001\n"));
        // Values as Go's text format prints them: shortest form, exponent from a million up.
        m.kubelet_request("n3", 1_786_010_401.0, 0.0123, true);
        let t = m.render();
        assert!(t.contains("metrics_server_kubelet_last_request_time_seconds{node=\"n3\"} 1.786010401e+09\n"), "{t}");
        assert!(t.contains("metrics_server_kubelet_request_duration_seconds_sum{node=\"n3\"} 0.0123\n"));
        assert!(t.contains("metrics_server_kubelet_request_duration_seconds_bucket{node=\"n3\",le=\"+Inf\"} 1\n"));
        // The whole page passes the strict line checker of the shared exposition writer.
        exposition::parse_text(&t).unwrap();
        m.retain_nodes(|n| n == "n1");
        assert!(!m.render().contains("node=\"n2\""));
    }

    #[test]
    fn families_are_rendered_again_only_after_a_change() {
        let m = SelfMetrics::new(15.0);
        let renders = || m.lock().renders;
        m.kubelet_request("n1", 1000.0, 0.02, true);
        let first = m.render_bytes();
        let again = m.render_bytes();
        assert_eq!(renders(), 1, "an unchanged page was rendered again");
        // Only the process families may differ between the two reads.
        let own = |b: &[u8]| {
            let t = String::from_utf8(b.to_vec()).unwrap();
            t[t.find("# HELP metrics_server_").unwrap()..].to_string()
        };
        assert_eq!(own(&first), own(&again));
        // Each kind of change shows on the next read.
        type Check<'a> = &'a dyn Fn(&str) -> bool;
        let changes: [(&dyn Fn(), Check); 5] = [
            (&|| m.kubelet_request("n2", 1001.0, 0.5, false), &|t| {
                t.contains("metrics_server_kubelet_request_total{success=\"false\"} 1\n")
            }),
            (&|| m.tick(2.0), &|t| t.contains("metrics_server_manager_tick_duration_seconds_count 1\n")),
            (&|| m.storage_points(4, 9), &|t| t.contains("metrics_server_storage_points{type=\"container\"} 9\n")),
            (&|| m.observe_freshness(3.0), &|t| t.contains("metrics_server_api_metric_freshness_seconds_count 1\n")),
            (&|| m.retain_nodes(|n| n == "n2"), &|t| !t.contains("node=\"n1\"")),
        ];
        for (n, (change, shows)) in changes.iter().enumerate() {
            assert!(!shows(&m.render()), "change {n} shows before it is made");
            change();
            let t = m.render();
            assert!(shows(&t), "change {n}: {t}");
            assert_eq!(renders(), n + 2);
        }
    }
}
