//! The cluster overview on the main port's `/`: the state kube-state-metrics already holds, at a glance.
//!
//! Everything comes from the stores `/metrics` reads (no list or watch of its own): the few families the
//! overview needs ([`model::FAMILIES`]) are read object by object without decoding the others, folded
//! into an [`Overview`](model::Overview), and kept for [`FRESH`] so that any number of open pages costs
//! one fold every few seconds. Usage comes from metrics.k8s.io through the API server, with the process's
//! own identity (never the viewer's), at most every [`USAGE_FRESH`]; `--overview-usage=false` turns it off.
//!
//! Served as HTML at `/` (`?fragment=main` gives only the part the page refreshes) and as JSON at
//! `/overview.json` (documented in docs/overview.md), behind the same protections as `/metrics`.

pub mod model;
pub mod page;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use self::model::{Builder, Overview, Resources, Usage};
use crate::scrape::Served;

/// How long a computed overview is served before it is computed again.
pub const FRESH: Duration = Duration::from_secs(2);
/// How long usage read from metrics.k8s.io is reused (metrics-server's own resolution is 15 s or more).
pub const USAGE_FRESH: Duration = Duration::from_secs(15);
/// How long one read of metrics.k8s.io may take.
const USAGE_TIMEOUT: Duration = Duration::from_secs(3);

/// The overview's shared state: the last overview and the last usage read.
pub struct OverviewState {
    client: Option<kube::Client>,
    last: Mutex<Option<(Instant, Arc<Overview>)>>,
    usage: tokio::sync::Mutex<Option<(Instant, UsageRead)>>,
}

/// Usage as read from metrics.k8s.io, or why it could not be.
type UsageRead = Result<Arc<Usage>, String>;

impl OverviewState {
    /// `client` reads usage; `None` when `--overview-usage=false`.
    pub fn new(client: Option<kube::Client>) -> Self {
        OverviewState { client, last: Mutex::new(None), usage: tokio::sync::Mutex::new(None) }
    }

    /// The current overview (computed again when older than [`FRESH`]).
    pub async fn current(&self, served: &[Served]) -> Arc<Overview> {
        if let Some((at, o)) = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < FRESH
        {
            return o.clone();
        }
        let usage = self.usage().await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        // The fold reads every pod's and container's series (0.08-0.10 CPU s at 10,000 pods): on a thread of
        // its own, not on a runtime worker where scrapes and watches would wait behind it.
        let served = served.to_vec();
        let fold = move || compute(&served, now, usage.as_deref().map_err(String::as_str));
        let o = match tokio::task::spawn_blocking(fold).await {
            Ok(o) => Arc::new(o),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        // The fold's maps are gone again: hand their memory back rather than let the page grow RSS.
        crate::trim::after_burst();
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), o.clone()));
        o
    }

    async fn usage(&self) -> Result<Arc<Usage>, String> {
        let Some(client) = &self.client else { return Err("off (--overview-usage=false)".to_owned()) };
        let mut g = self.usage.lock().await;
        if let Some((at, u)) = g.as_ref()
            && at.elapsed() < USAGE_FRESH
        {
            return u.clone();
        }
        let read = match tokio::time::timeout(USAGE_TIMEOUT, read_usage(client)).await {
            Ok(r) => r.map(Arc::new),
            Err(_) => Err(format!("not available: no answer within {}s", USAGE_TIMEOUT.as_secs())),
        };
        if let Err(e) = &read {
            tracing::debug!(error = %e, "overview: metrics.k8s.io not read");
        }
        *g = Some((Instant::now(), read.clone()));
        read
    }
}

/// Folds what the stores hold now into an overview.
pub fn compute(served: &[Served], now: f64, usage: Result<&Usage, &str>) -> Overview {
    let mut b = Builder::default();
    for (resource, families) in model::FAMILIES {
        let Some(s) = served.iter().find(|s| s.name == *resource) else { continue };
        let wanted: Vec<usize> = s
            .headers
            .names()
            .iter()
            .enumerate()
            .filter(|(_, n)| families.contains(&n.as_str()))
            .map(|(i, _)| i)
            .collect();
        s.store.snapshot().for_each_block(&wanted, |_, text| b.feed_text(text));
    }
    b.finish(now, usage)
}

async fn read_usage(client: &kube::Client) -> Result<Usage, String> {
    let get = |path: &'static str| async move {
        let req = http::Request::get(path).body(Vec::new()).map_err(|e| e.to_string())?;
        client.request_text(req).await.map_err(|e| format!("not available: {}", logging::error_chain(&e)))
    };
    let (nodes, pods) =
        futures::join!(get("/apis/metrics.k8s.io/v1beta1/nodes"), get("/apis/metrics.k8s.io/v1beta1/pods"));
    parse_usage(&nodes?, &pods?)
}

/// `NodeMetricsList` and `PodMetricsList` (JSON) into usage per node and per pod (containers summed).
pub fn parse_usage(nodes: &str, pods: &str) -> Result<Usage, String> {
    #[derive(serde::Deserialize)]
    #[serde(bound = "T: serde::de::DeserializeOwned")]
    struct List<T> {
        #[serde(default = "Vec::new")]
        items: Vec<T>,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        name: String,
        #[serde(default)]
        namespace: String,
    }
    #[derive(serde::Deserialize)]
    struct NodeItem {
        metadata: Meta,
        #[serde(default)]
        usage: std::collections::BTreeMap<String, String>,
    }
    #[derive(serde::Deserialize)]
    struct Container {
        #[serde(default)]
        usage: std::collections::BTreeMap<String, String>,
    }
    #[derive(serde::Deserialize)]
    struct PodItem {
        metadata: Meta,
        #[serde(default)]
        containers: Vec<Container>,
    }
    fn resources(u: &std::collections::BTreeMap<String, String>) -> Resources {
        let q = |k: &str| u.get(k).and_then(|v| quantity::Quantity::parse(v).ok()).map_or(0.0, |q| q.to_f64());
        Resources { cpu: q("cpu"), memory: q("memory") }
    }
    let nodes: List<NodeItem> = serde_json::from_str(nodes).map_err(|e| format!("not available: nodes: {e}"))?;
    let pods: List<PodItem> = serde_json::from_str(pods).map_err(|e| format!("not available: pods: {e}"))?;
    let mut u = Usage::default();
    for n in nodes.items {
        u.nodes.insert(n.metadata.name, resources(&n.usage));
    }
    for p in pods.items {
        let mut sum = Resources::default();
        for c in &p.containers {
            let r = resources(&c.usage);
            sum.cpu += r.cpu;
            sum.memory += r.memory;
        }
        u.pods.insert((p.metadata.namespace, p.metadata.name), sum);
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::Headers;
    use crate::textstore::{self, Maintenance, StoreEvent};

    #[test]
    fn usage_documents_parse_and_sum_containers() {
        let nodes =
            r#"{"kind":"NodeMetricsList","items":[{"metadata":{"name":"n1"},"usage":{"cpu":"250m","memory":"1Gi"}}]}"#;
        let pods = r#"{"items":[{"metadata":{"name":"p","namespace":"a"},"containers":[{"name":"x","usage":{"cpu":"100m","memory":"10Mi"}},{"name":"y","usage":{"cpu":"50m","memory":"6Mi"}}]}]}"#;
        let u = parse_usage(nodes, pods).unwrap();
        assert_eq!(u.nodes["n1"], Resources { cpu: 0.25, memory: 1024.0 * 1024.0 * 1024.0 });
        let p = u.pods[&("a".to_owned(), "p".to_owned())];
        assert!((p.cpu - 0.15).abs() < 1e-9 && p.memory == 16.0 * 1024.0 * 1024.0, "{p:?}");
        assert!(parse_usage("<html>", pods).unwrap_err().starts_with("not available: nodes"));
    }

    #[test]
    fn computed_from_the_store_reading_only_its_families() {
        let names = ["kube_pod_info", "kube_pod_status_phase", "kube_pod_labels"];
        let (reader, mut writers) = textstore::store(&names, 1, &Maintenance::threads());
        let w = &mut writers[0];
        w.apply(StoreEvent::BeginRelist);
        for (i, phase) in ["Running", "Pending"].iter().enumerate() {
            let key = crate::key::ObjectKey::new("a", &format!("p{i}"), &i.to_string());
            let rendered = crate::family::Rendered::of_text([
                format!("kube_pod_info{{namespace=\"a\",pod=\"p{i}\",node=\"n\"}} 1\n"),
                format!("kube_pod_status_phase{{namespace=\"a\",pod=\"p{i}\",phase=\"{phase}\"}} 1\n"),
                format!("kube_pod_labels{{namespace=\"a\",pod=\"p{i}\"}} 1\n"),
            ]);
            w.apply(StoreEvent::Insert(key, rendered));
        }
        w.apply(StoreEvent::EndRelist);
        let served = [Served {
            name: "pods".into(),
            headers: std::sync::Arc::new(Headers::from_parts(
                names.iter().map(|n| ((*n).to_owned(), Vec::new(), Vec::new())).collect(),
            )),
            store: reader,
        }];
        let o = compute(&served, 0.0, Err("off"));
        assert_eq!((o.totals.pods, o.totals.phases.running, o.totals.phases.pending), (2, 1, 1));
        assert!(o.missing_families.contains(&"kube_node_info".to_owned()));
    }
}
