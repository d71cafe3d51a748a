//! Simulated kubelets for the nodes the simulator holds.
//!
//! kubelet-sim serves each node's `/metrics/resource` with its own CA and one token. To let clients
//! verify kubelets against the simulator's CA and authenticate with the simulator's tokens, every node
//! gets a small HTTPS front end here (certificate from the simulator's CA, bearer tokens checked
//! against the simulator's users) that forwards to the node's kubelet-sim endpoint. The node's status
//! then points at that front end: InternalIP 127.0.0.1 and `daemonEndpoints.kubeletEndpoint.Port`.
//!
//! A node gets a kubelet when it asks for one with the annotation [`KUBELET_ANNOTATION`] (the
//! synthetic cluster's nodes do), or every node does when the simulator is told so. Other nodes —
//! those of a real cluster's dump — keep their addresses as given. In the every-node mode, nodes whose
//! status already names a loopback InternalIP that is not ours are left alone: someone else (a test
//! with its own kubelet-sim) simulates their kubelets.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use kubelet_sim::{KubeletSim, PodInfo, PodSource};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::{EventType, Store, UpdateKind};

/// The annotation by which a node asks for a simulated kubelet (value `"true"`).
pub const KUBELET_ANNOTATION: &str = "kube-sim.kubestate.dev/simulated-kubelet";

/// How long a forwarded kubelet request may take before the front end gives up.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Running pods of a node, read from the store.
pub struct StorePods {
    store: Arc<Store>,
}

impl StorePods {
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

fn parse_time(v: &Value) -> Option<SystemTime> {
    let s = v.as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// When a pod started. It cannot start before it exists: objects copied from older pods (as churn
/// recreates them) would otherwise claim hours of CPU time at once.
fn pod_start(v: &Value) -> SystemTime {
    let created = parse_time(&v["metadata"]["creationTimestamp"]);
    let started = parse_time(&v["status"]["startTime"]);
    match (started, created) {
        (Some(s), Some(c)) => s.max(c),
        (s, c) => s.or(c).unwrap_or_else(SystemTime::now),
    }
}

impl PodSource for StorePods {
    fn pods_on(&self, node: &str) -> Vec<PodInfo> {
        let Some(rt) = self.store.resource_for("v1", "Pod") else {
            return Vec::new();
        };
        let field = |o: &crate::store::Obj, k: &str| o.fields.iter().find(|(f, _)| *f == k).map(|(_, v)| v.clone());
        let (objs, _) = self.store.snapshot(&rt, None);
        objs.iter()
            .filter(|o| {
                field(o, "spec.nodeName").as_deref() == Some(node)
                    && field(o, "status.phase").as_deref() == Some("Running")
            })
            .map(|o| {
                let v = o.value();
                let containers = v["spec"]["containers"]
                    .as_array()
                    .map(|cs| cs.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let start_time = pod_start(&v);
                PodInfo { namespace: o.namespace.clone(), name: o.name.clone(), containers, start_time }
            })
            .collect()
    }
}

struct FrontEnd {
    port: u16,
    task: JoinHandle<()>,
}

/// The kubelets of one simulator: kubelet-sim behind per-node front ends.
pub(crate) struct Fleet {
    sim: KubeletSim,
    acceptor: tokio_rustls::TlsAcceptor,
    upstream: Arc<rustls::ClientConfig>,
    /// Token kubelet-sim requires; only the front ends know it.
    internal_token: String,
    tokens: HashSet<String>,
    /// Every node gets a kubelet, not only those that ask.
    all_nodes: bool,
    nodes: Mutex<HashMap<String, FrontEnd>>,
}

impl Fleet {
    pub(crate) async fn start(
        store: Arc<Store>,
        pki: &crate::tls::TlsMaterial,
        tokens: HashSet<String>,
        all_nodes: bool,
    ) -> anyhow::Result<Arc<Self>> {
        let internal_token = crate::store::new_uid();
        let sim =
            KubeletSim::start(kubelet_sim::Config::new(Arc::new(StorePods::new(store))).with_token(&internal_token))
                .await?;
        let (cert, key) = pki.issue("kubelet", &["localhost".to_string()], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])?;
        let mut server =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(crate::tls::pem_certs(&cert)?, crate::tls::pem_key(&key)?)?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let upstream = crate::client::client_config(Some(sim.ca_pem()), None)?;
        Ok(Arc::new(Self {
            sim,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            upstream,
            internal_token,
            tokens,
            all_nodes,
            nodes: Mutex::new(HashMap::new()),
        }))
    }

    pub(crate) fn kubelet_sim(&self) -> &KubeletSim {
        &self.sim
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, FrontEnd>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The front-end port of a node, if it has a kubelet.
    pub(crate) fn port(&self, node: &str) -> Option<u16> {
        self.lock().get(node).map(|f| f.port)
    }

    /// Start (or find) the kubelet of `node`; returns the front-end port.
    fn add(self: &Arc<Self>, node: &str) -> anyhow::Result<u16> {
        if let Some(p) = self.port(node) {
            return Ok(p);
        }
        self.sim.add_node(node)?;
        let l = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        l.set_nonblocking(true)?;
        let port = l.local_addr()?.port();
        let listener = tokio::net::TcpListener::from_std(l)?;
        let task = tokio::spawn(self.clone().accept_loop(node.to_string(), listener));
        self.lock().insert(node.to_string(), FrontEnd { port, task });
        Ok(port)
    }

    fn remove(&self, node: &str) {
        if let Some(f) = self.lock().remove(node) {
            f.task.abort();
        }
        self.sim.remove_node(node);
    }

    fn stop_all(&self) {
        let names: Vec<String> = self.lock().keys().cloned().collect();
        for n in names {
            self.remove(&n);
        }
    }

    async fn accept_loop(self: Arc<Self>, node: String, listener: tokio::net::TcpListener) {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let fleet = self.clone();
            let node = node.clone();
            tokio::spawn(async move {
                let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), fleet.acceptor.accept(tcp)).await
                else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req| {
                    let fleet = fleet.clone();
                    let node = node.clone();
                    async move {
                        let r = fleet.forward(&node, req).await;
                        if let Err(e) = &r {
                            tracing::debug!(node = %node, error = %format!("{e:#}"), "kubelet unreachable");
                        }
                        r
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc).await;
            });
        }
    }

    /// Check the caller's token and relay the request to kubelet-sim. An unreachable kubelet (a `Die`
    /// fault) drops the connection, as a dead kubelet would.
    async fn forward(
        &self,
        node: &str,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, anyhow::Error> {
        let authorized = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.tokens.contains(t.trim()));
        if !authorized {
            let mut r = Response::new(Full::new(Bytes::from_static(b"Unauthorized\n")));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            return Ok(r);
        }
        let addr = self.sim.addr(node).ok_or_else(|| anyhow::anyhow!("node {node} has no kubelet"))?;
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
        let up = Request::builder()
            .method(req.method().clone())
            .uri(path.as_str())
            .header(header::HOST, addr.to_string())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.internal_token))
            .body(Full::new(Bytes::new()))?;
        let host = addr.ip().to_string();
        let resp = crate::client::send(
            &host,
            addr.port(),
            crate::client::server_name(&host)?,
            self.upstream.clone(),
            up,
            UPSTREAM_TIMEOUT,
        )
        .await?;
        let (mut parts, body) = resp.into_parts();
        // The body arrives whole; hyper frames what is sent, whatever framing the kubelet used.
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::TRANSFER_ENCODING);
        Ok(Response::from_parts(parts, Full::new(body)))
    }

    /// Give `node` a kubelet and point its status at it, if it asks for one (or every node gets one
    /// and no other simulator owns it).
    fn ensure(self: &Arc<Self>, store: &Store, node: &Value) {
        let Some(name) = node["metadata"]["name"].as_str() else {
            return;
        };
        let asks = node["metadata"]["annotations"][KUBELET_ANNOTATION] == "true";
        if !asks && !self.all_nodes {
            return;
        }
        let internal_ip = node["status"]["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
            .and_then(|a| a["address"].as_str())
            .and_then(|a| a.parse::<IpAddr>().ok());
        let status_port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"].as_u64();
        let ours = self.port(name);
        if ours.is_none() && !asks && internal_ip.is_some_and(|ip| ip.is_loopback()) {
            return;
        }
        let port = match self.add(name) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(node = name, error = %e, "starting simulated kubelet failed");
                return;
            }
        };
        if internal_ip == Some(IpAddr::V4(Ipv4Addr::LOCALHOST)) && status_port == Some(u64::from(port)) {
            return;
        }
        let Some(rt) = store.resource_for("v1", "Node") else {
            return;
        };
        let res = store.modify_in(&rt, "", name, UpdateKind::Status, |mut v| {
            let mut addrs: Vec<Value> = v["status"]["addresses"]
                .as_array()
                .map(|a| a.iter().filter(|a| a["type"] != "InternalIP").cloned().collect())
                .unwrap_or_default();
            addrs.insert(0, json!({"type": "InternalIP", "address": "127.0.0.1"}));
            if !v["status"].is_object() {
                v["status"] = json!({});
            }
            v["status"]["addresses"] = Value::Array(addrs);
            v["status"]["daemonEndpoints"] = json!({"kubeletEndpoint": {"Port": port}});
            Ok(v)
        });
        if let Err(e) = res {
            tracing::debug!(node = name, error = %e, "pointing node at its kubelet failed");
        }
    }

    /// Bring kubelets in line with the current nodes.
    pub(crate) fn sync(self: &Arc<Self>, store: &Store, nodes: &[Arc<crate::store::Obj>]) {
        let names: HashSet<&str> = nodes.iter().map(|o| o.name.as_str()).collect();
        let gone: Vec<String> = self.lock().keys().filter(|n| !names.contains(n.as_str())).cloned().collect();
        for n in gone {
            self.remove(&n);
        }
        for o in nodes {
            self.ensure(store, &o.value());
        }
    }

    /// Follow node events until shutdown; then stop every kubelet.
    pub(crate) async fn watch_nodes(self: Arc<Self>, store: Arc<Store>, stop: CancellationToken) {
        let Some(rt) = store.resource_for("v1", "Node") else {
            return;
        };
        let key = rt.key();
        'resync: loop {
            let (items, _, mut rx) = store.watch_with_snapshot(&rt, None);
            self.sync(&store, &items);
            loop {
                let ev = tokio::select! {
                    _ = stop.cancelled() => break 'resync,
                    ev = rx.recv() => ev,
                };
                match ev {
                    Ok(ev) if ev.res == key => match ev.etype {
                        EventType::Deleted => self.remove(&ev.obj.name),
                        _ => self.ensure(&store, &ev.obj.value()),
                    },
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => continue 'resync,
                    Err(broadcast::error::RecvError::Closed) => break 'resync,
                }
            }
        }
        self.stop_all();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for f in self.nodes.get_mut().unwrap_or_else(|e| e.into_inner()).values() {
            f.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_pods_lists_running_pods_of_a_node() {
        let store = Arc::new(Store::new(100));
        crate::fixtures::ensure_namespace(&store, "default").unwrap();
        for (name, node, phase) in [("a", "n1", "Running"), ("b", "n1", "Pending"), ("c", "n2", "Running")] {
            store
                .create(json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "default"},
                    "spec": {"nodeName": node, "containers": [{"name": "app"}, {"name": "side"}]},
                    "status": {"phase": phase, "startTime": "2026-01-01T00:00:00Z"}}))
                .unwrap();
        }
        let pods = StorePods::new(store).pods_on("n1");
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].name, "a");
        assert_eq!(pods[0].containers, vec!["app".to_string(), "side".to_string()]);
        // The store stamps creation now, which is later than the claimed start.
        assert!(pods[0].start_time > SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600));
    }

    #[test]
    fn pods_start_no_earlier_than_created() {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let v = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"startTime": "2026-01-01T00:00:05Z"}});
        assert_eq!(pod_start(&v), t(1_767_225_605));
        let v = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"startTime": "2025-01-01T00:00:00Z"}});
        assert_eq!(pod_start(&v), t(1_767_225_600));
        let v = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(pod_start(&v), t(1_767_225_600));
    }
}
