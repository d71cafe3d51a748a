//! Node and Running-pod watches feeding the [`Inventory`]: node addresses/ports for scraping, labels of
//! nodes and pods for selectors. Only a small projection of each object is kept.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use crate::api::{Inventory, NodeInfo};

pub const METRICS_PATH_ANNOTATION: &str = "metrics.k8s.io/resource-metrics-path";

/// Inventory plus sync flags, shared with the scraper and the API.
#[derive(Default, Debug)]
pub struct Cluster {
    pub inventory: RwLock<Inventory>,
    pub nodes_synced: AtomicBool,
    pub pods_synced: AtomicBool,
}

impl Cluster {
    pub fn synced(&self) -> bool {
        self.nodes_synced.load(Ordering::Acquire) && self.pods_synced.load(Ordering::Acquire)
    }

    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Inventory> {
        match self.inventory.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inventory> {
        match self.inventory.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The parts of a Node metrics-server needs.
pub fn node_info(node: &Node) -> NodeInfo {
    let status = node.status.as_ref();
    NodeInfo {
        labels: node.metadata.labels.clone().unwrap_or_default(),
        addresses: status
            .and_then(|s| s.addresses.as_ref())
            .map(|a| a.iter().map(|a| (a.type_.clone(), a.address.clone())).collect())
            .unwrap_or_default(),
        kubelet_port: status
            .and_then(|s| s.daemon_endpoints.as_ref())
            .and_then(|d| d.kubelet_endpoint.as_ref())
            .map(|e| u16::try_from(e.port).unwrap_or(0))
            .unwrap_or(0),
        metrics_path: node.metadata.annotations.as_ref().and_then(|a| a.get(METRICS_PATH_ANNOTATION)).cloned(),
    }
}

/// Watch all nodes until the stream ends (never, in practice).
pub async fn watch_nodes(client: kube::Client, cluster: Arc<Cluster>) {
    let api: Api<Node> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut events = std::pin::pin!(stream);
    let mut pending: Option<BTreeMap<String, NodeInfo>> = None;
    let mut health = WatchHealth::new("node");
    while let Some(ev) = events.next().await {
        health.saw(&ev);
        match ev {
            Ok(Event::Init) => pending = Some(BTreeMap::new()),
            Ok(Event::InitApply(n)) => {
                if let (Some(p), Some(name)) = (pending.as_mut(), n.metadata.name.clone()) {
                    p.insert(name, node_info(&n));
                }
            }
            Ok(Event::InitDone) => {
                if let Some(p) = pending.take() {
                    tracing::info!(nodes = p.len(), "node relist done");
                    cluster.write().nodes = p;
                }
                cluster.nodes_synced.store(true, Ordering::Release);
            }
            Ok(Event::Apply(n)) => {
                if let Some(name) = n.metadata.name.clone() {
                    cluster.write().nodes.insert(name, node_info(&n));
                }
            }
            Ok(Event::Delete(n)) => {
                if let Some(name) = n.metadata.name.as_deref() {
                    cluster.write().nodes.remove(name);
                }
            }
            Err(_) => {}
        }
    }
}

/// Watch Running pods' metadata (labels only are kept).
pub async fn watch_pods(client: kube::Client, cluster: Arc<Cluster>) {
    let api: Api<PartialObjectMeta<Pod>> = Api::all(client);
    let cfg = watcher::Config::default().fields("status.phase=Running");
    let stream = watcher::watcher(api, cfg).default_backoff();
    let mut events = std::pin::pin!(stream);
    let mut pending: Option<BTreeMap<(String, String), BTreeMap<String, String>>> = None;
    let key = |m: &kube::api::ObjectMeta| Some((m.namespace.clone()?, m.name.clone()?));
    let mut health = WatchHealth::new("pod");
    while let Some(ev) = events.next().await {
        health.saw(&ev);
        match ev {
            Ok(Event::Init) => pending = Some(BTreeMap::new()),
            Ok(Event::InitApply(p)) => {
                if let (Some(map), Some(k)) = (pending.as_mut(), key(&p.metadata)) {
                    map.insert(k, p.metadata.labels.clone().unwrap_or_default());
                }
            }
            Ok(Event::InitDone) => {
                if let Some(map) = pending.take() {
                    tracing::info!(pods = map.len(), "pod relist done");
                    cluster.write().pods = map;
                }
                cluster.pods_synced.store(true, Ordering::Release);
            }
            Ok(Event::Apply(p)) => {
                if let Some(k) = key(&p.metadata) {
                    cluster.write().pods.insert(k, p.metadata.labels.clone().unwrap_or_default());
                }
            }
            Ok(Event::Delete(p)) => {
                if let Some(k) = key(&p.metadata) {
                    cluster.write().pods.remove(&k);
                }
            }
            Err(_) => {}
        }
    }
}

/// Logs a watch's failures once per change (the watcher retries with backoff on its own): one WARN line
/// when it starts failing, with the HTTP code and message or the connection error, one INFO line when
/// it works again. Never a line per retry, never a debug dump.
struct WatchHealth {
    what: &'static str,
    failing: bool,
}

impl WatchHealth {
    fn new(what: &'static str) -> Self {
        WatchHealth { what, failing: false }
    }

    fn saw<T>(&mut self, ev: &Result<T, watcher::Error>) {
        match ev {
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %describe(e), "{} watch failed; retrying with backoff", self.what);
            }
            Ok(_) if self.failing => {
                self.failing = false;
                tracing::info!("{} watch works again", self.what);
            }
            _ => {}
        }
    }
}

/// One line for a watch failure: an API error's HTTP code and message (kube's own text appends a
/// debug dump of the Status), else the error and its causes.
pub fn describe(e: &watcher::Error) -> String {
    let api = |s: &kube::core::Status| format!("HTTP {}: {}", s.code, s.message);
    match e {
        watcher::Error::InitialListFailed(k) | watcher::Error::WatchStartFailed(k) | watcher::Error::WatchFailed(k) => {
            match k {
                kube::Error::Api(s) => api(s),
                other => logging::error_chain(other),
            }
        }
        watcher::Error::WatchError(s) => api(s),
        other => other.to_string(),
    }
}

/// Pick the connect address: the first address of the first preferred type present.
pub fn choose_address<'a>(info: &'a NodeInfo, preferred: &[String]) -> Option<&'a str> {
    preferred.iter().find_map(|t| info.addresses.iter().find(|(ty, _)| ty == t).map(|(_, a)| a.as_str()))
}

/// Port: the node-status port when asked for and non-zero, else `--kubelet-port`.
pub fn choose_port(info: &NodeInfo, use_node_status_port: bool, default_port: u16) -> u16 {
    if use_node_status_port && info.kubelet_port != 0 { info.kubelet_port } else { default_port }
}

#[cfg(test)]
mod tests {

    #[test]
    fn watch_failures_are_one_line_without_debug_dumps() {
        let status =
            || Box::new(kube::core::Status { code: 403, message: "nodes is forbidden".into(), ..Default::default() });
        let e = watcher::Error::InitialListFailed(kube::Error::Api(status()));
        assert_eq!(describe(&e), "HTTP 403: nodes is forbidden");
        assert_eq!(describe(&watcher::Error::WatchError(status())), "HTTP 403: nodes is forbidden");
        let mut h = WatchHealth::new("node");
        h.saw::<()>(&Err(e));
        assert!(h.failing);
        h.saw::<()>(&Err(watcher::Error::WatchError(status())));
        assert!(h.failing);
        h.saw(&Ok(()));
        assert!(!h.failing);
    }

    use super::*;

    fn node(json: serde_json::Value) -> Node {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn projection_and_address_choice() {
        let n = node(serde_json::json!({
            "metadata": {"name": "n1", "labels": {"a": "b"},
                         "annotations": {"metrics.k8s.io/resource-metrics-path": "/custom"}},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "n1.local"},
                    {"type": "InternalIP", "address": "10.0.0.1"},
                    {"type": "InternalIP", "address": "10.0.0.2"},
                    {"type": "ExternalIP", "address": "1.2.3.4"}
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 12345}}
            }
        }));
        let info = node_info(&n);
        assert_eq!(info.labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(info.kubelet_port, 12345);
        assert_eq!(info.metrics_path.as_deref(), Some("/custom"));
        let pref = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(choose_address(&info, &pref("InternalIP,ExternalIP,Hostname")), Some("10.0.0.1"));
        assert_eq!(choose_address(&info, &pref("Hostname,InternalDNS,InternalIP")), Some("n1.local"));
        assert_eq!(choose_address(&info, &pref("InternalDNS,ExternalDNS")), None);
        assert_eq!(choose_port(&info, true, 10250), 12345);
        assert_eq!(choose_port(&info, false, 10250), 10250);
        assert_eq!(choose_port(&NodeInfo::default(), true, 10250), 10250);
    }
}
