//! The six `metrics_server_*` families upstream exposes on its own `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

const DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug)]
struct Histogram {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: Vec<f64>) -> Self {
        let n = bounds.len();
        Histogram { bounds, counts: vec![0; n], sum: 0.0, count: 0 }
    }

    fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{}\"}} {c}", go_float(*b));
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", go_float(self.sum));
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Prometheus-style float formatting for the values we emit (integers without a fraction).
fn go_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

#[derive(Debug)]
struct Inner {
    freshness: Histogram,
    last_request: BTreeMap<String, f64>,
    request_duration: BTreeMap<String, Histogram>,
    request_total: [u64; 2],
    tick_duration: Histogram,
    node_points: usize,
    container_points: usize,
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
                freshness: Histogram::new(freshness),
                last_request: BTreeMap::new(),
                request_duration: BTreeMap::new(),
                request_total: [0; 2],
                tick_duration: Histogram::new(tick),
                node_points: 0,
                container_points: 0,
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    pub fn observe_freshness(&self, secs: f64) {
        self.with(|i| i.freshness.observe(secs));
    }

    pub fn kubelet_request(&self, node: &str, start_unix_secs: f64, duration_secs: f64, success: bool) {
        self.with(|i| {
            i.last_request.insert(node.to_string(), start_unix_secs);
            i.request_duration
                .entry(node.to_string())
                .or_insert_with(|| Histogram::new(DEFAULT_BUCKETS.to_vec()))
                .observe(duration_secs);
            i.request_total[usize::from(success)] += 1;
        });
    }

    /// Drop per-node series of nodes that no longer exist (upstream keeps them forever, issue #1114).
    pub fn retain_nodes(&self, keep: impl Fn(&str) -> bool) {
        self.with(|i| {
            i.last_request.retain(|k, _| keep(k));
            i.request_duration.retain(|k, _| keep(k));
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
        self.with(|i| {
            let mut out = String::new();
            out.push_str("# HELP metrics_server_api_metric_freshness_seconds [ALPHA] Freshness of metrics exported\n");
            out.push_str("# TYPE metrics_server_api_metric_freshness_seconds histogram\n");
            i.freshness.render(&mut out, "metrics_server_api_metric_freshness_seconds", "");
            out.push_str("# HELP metrics_server_kubelet_last_request_time_seconds [ALPHA] Time of last request performed to kubelet by metrics-server\n");
            out.push_str("# TYPE metrics_server_kubelet_last_request_time_seconds gauge\n");
            for (n, v) in &i.last_request {
                let _ = writeln!(out, "metrics_server_kubelet_last_request_time_seconds{{node=\"{}\"}} {}", escape(n), go_float(*v));
            }
            out.push_str("# HELP metrics_server_kubelet_request_duration_seconds [ALPHA] Duration of requests to kubelet API in seconds\n");
            out.push_str("# TYPE metrics_server_kubelet_request_duration_seconds histogram\n");
            for (n, h) in &i.request_duration {
                h.render(&mut out, "metrics_server_kubelet_request_duration_seconds", &format!("node=\"{}\"", escape(n)));
            }
            out.push_str("# HELP metrics_server_kubelet_request_total [ALPHA] Number of requests sent to kubelet API\n");
            out.push_str("# TYPE metrics_server_kubelet_request_total counter\n");
            let _ = writeln!(out, "metrics_server_kubelet_request_total{{success=\"false\"}} {}", i.request_total[0]);
            let _ = writeln!(out, "metrics_server_kubelet_request_total{{success=\"true\"}} {}", i.request_total[1]);
            out.push_str("# HELP metrics_server_manager_tick_duration_seconds [ALPHA] The total time spent collecting and storing metrics in seconds.\n");
            out.push_str("# TYPE metrics_server_manager_tick_duration_seconds histogram\n");
            i.tick_duration.render(&mut out, "metrics_server_manager_tick_duration_seconds", "");
            out.push_str("# HELP metrics_server_storage_points [ALPHA] Number of metrics points stored.\n");
            out.push_str("# TYPE metrics_server_storage_points gauge\n");
            let _ = writeln!(out, "metrics_server_storage_points{{type=\"container\"}} {}", i.container_points);
            let _ = writeln!(out, "metrics_server_storage_points{{type=\"node\"}} {}", i.node_points);
            out
        })
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
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
        assert_eq!(families.len(), 6);
        assert!(t.contains("metrics_server_kubelet_request_total{success=\"true\"} 1\n"));
        assert!(t.contains("metrics_server_kubelet_request_total{success=\"false\"} 1\n"));
        assert!(t.contains("metrics_server_kubelet_request_duration_seconds_bucket{node=\"n1\",le=\"0.025\"} 1\n"));
        assert!(t.contains("metrics_server_kubelet_request_duration_seconds_bucket{node=\"n2\",le=\"10\"} 0\n"));
        assert!(t.contains("metrics_server_manager_tick_duration_seconds_bucket{le=\"12.5\"} 1\n"));
        assert!(t.contains("metrics_server_manager_tick_duration_seconds_bucket{le=\"30\"} 1\n"));
        assert!(t.contains("metrics_server_storage_points{type=\"node\"} 3\n"));
        assert!(t.contains("metrics_server_kubelet_last_request_time_seconds{node=\"n2\"} 1001\n"));
        m.retain_nodes(|n| n == "n1");
        assert!(!m.render().contains("node=\"n2\""));
    }
}
