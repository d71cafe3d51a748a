//! Fetching `/metrics/resource` from every kubelet once per tick: jittered start, per-node timeout, a
//! streaming decode of the body. A failing, hung or garbage-speaking kubelet only loses its own node.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use rustls::pki_types::ServerName;
use tokio::task::JoinSet;

use crate::api::NodeInfo;
use crate::cluster::{choose_address, choose_port};
use crate::decode::{DecodeError, Decoder, SeriesOrder};
use crate::http1::{Conn, HttpError, is_request_target};
use crate::selfmetrics::SelfMetrics;
use crate::storage::{Batch, FastSet, Interner, Name, Nanos};

/// Largest body accepted from a kubelet (a 110-pod node sends well under 1 MiB).
pub const MAX_BODY: usize = 32 * 1024 * 1024;
const DEFAULT_PATH: &str = "/metrics/resource";

#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("no address matched types {0:?}")]
    NoAddress(Vec<String>),
    #[error("invalid server name {0:?}")]
    ServerName(String),
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error(
        "TLS handshake with {0}: {1} (see --kubelet-certificate-authority, --kubelet-insecure-tls, --kubelet-preferred-address-types)"
    )]
    Tls(String, std::io::Error),
    #[error("http: {0}")]
    Http(#[from] HttpError),
    #[error("request failed, status: \"{0}\"")]
    Status(String),
    #[error("response body larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("decoding response: {0}")]
    Decode(#[from] DecodeError),
    #[error("timeout to access kubelet")]
    Timeout,
    #[error("building request: the bearer token is not a valid header value")]
    BadToken,
    #[error("building request: invalid metrics path {0:?} (annotation metrics.k8s.io/resource-metrics-path)")]
    BadPath(String),
}

/// Where the bearer token for kubelets comes from.
#[derive(Clone, Debug)]
pub enum TokenSource {
    None,
    Static(String),
    /// Re-read on every tick (projected service-account tokens rotate).
    File(PathBuf),
}

impl TokenSource {
    pub fn current(&self) -> Option<String> {
        match self {
            TokenSource::None => None,
            TokenSource::Static(t) => Some(t.clone()),
            TokenSource::File(p) => match std::fs::read_to_string(p) {
                Ok(t) => Some(t.trim().to_string()),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "cannot read token file");
                    None
                }
            },
        }
    }
}

/// Settings for talking to kubelets.
pub struct KubeletClient {
    /// `None` means plain HTTP (`--deprecated-kubelet-completely-insecure`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub token: TokenSource,
    pub port: u16,
    pub use_node_status_port: bool,
    pub preferred_address_types: Vec<String>,
    pub timeout: Duration,
    /// Each node's kept-alive connection; the scrape loop closes those of nodes it no longer scrapes.
    pub pool: ConnPool,
    /// Per node, the series of its last scrape in the kubelet's order: the next scrape expects them
    /// there and takes their names instead of hashing and allocating them again. Pruned with the pool.
    pub names: Mutex<HashMap<String, SeriesOrder>>,
}

/// One kubelet endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub node: String,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl KubeletClient {
    pub fn target(&self, node: &str, info: &NodeInfo) -> Result<Target, ScrapeError> {
        let host = choose_address(info, &self.preferred_address_types)
            .ok_or_else(|| ScrapeError::NoAddress(self.preferred_address_types.clone()))?;
        Ok(Target {
            node: node.to_string(),
            host: host.to_string(),
            port: choose_port(info, self.use_node_status_port, self.port),
            path: info.metrics_path.clone().unwrap_or_else(|| DEFAULT_PATH.to_string()),
        })
    }

    /// GET the target and decode it; no timeout here (the caller owns it). A kept-alive connection of
    /// the node's previous scrape is reused; if it fails before an answer (the kubelet closed it while
    /// idle), one new connection is tried, as Go's transport retries an idempotent request.
    /// `token` is the `Authorization` value of this tick ([`bearer`]).
    pub async fn fetch(&self, t: &Target, token: Option<&HeaderValue>) -> Result<Batch, ScrapeError> {
        if let Some(p) = self.pool.take(&t.node, t) {
            match self.get(p, t, token).await {
                Err(Retry::Fresh(_)) => {}
                Err(Retry::No(e)) => return Err(e),
                Ok(b) => return Ok(b),
            }
        }
        let p = self.connect(t).await?;
        self.get(p, t, token).await.map_err(Retry::into_inner)
    }

    async fn connect(&self, t: &Target) -> Result<Pooled, ScrapeError> {
        let authority =
            if t.host.contains(':') { format!("[{}]:{}", t.host, t.port) } else { format!("{}:{}", t.host, t.port) };
        if !is_request_target(&t.path) {
            return Err(ScrapeError::BadPath(t.path.clone()));
        }
        let to = (t.host.clone(), t.port, t.path.clone());
        let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| ScrapeError::Connect(authority.to_string(), e))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some(cfg) => {
                let name = ServerName::try_from(t.host.clone()).map_err(|_| ScrapeError::ServerName(t.host.clone()))?;
                let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ScrapeError::Tls(authority.clone(), e))?;
                Ok(Pooled { to, conn: Conn::new(tls, &t.path, &authority, USER_AGENT) })
            }
            None => Ok(Pooled { to, conn: Conn::new(tcp, &t.path, &authority, USER_AGENT) }),
        }
    }

    async fn get(&self, mut p: Pooled, t: &Target, token: Option<&HeaderValue>) -> Result<Batch, Retry> {
        // Samples without their own timestamp get the time just before sending.
        let request_time = now_nanos();
        let mut resp = match p.conn.get(token.map(HeaderValue::as_bytes)).await {
            Ok(r) => r,
            Err(e @ HttpError::Unanswered(_)) => return Err(Retry::Fresh(e.into())),
            Err(e) => return Err(Retry::No(e.into())),
        };
        if resp.status != 200 {
            return Err(Retry::No(ScrapeError::Status(format!("{} {}", resp.status, resp.reason))));
        }
        let expected = lock(&self.names).remove(&t.node).unwrap_or_default();
        // Names of series the last scrape did not have (a new pod) are shared within this response.
        let mut interner = Interner::default();
        let mut dec = Decoder::expecting(&mut interner, request_time, expected);
        let mut total = 0usize;
        while let Some(chunk) = resp.chunk().await.map_err(|e| Retry::No(e.into()))? {
            total += chunk.len();
            if total > MAX_BODY {
                return Err(Retry::No(ScrapeError::TooLarge));
            }
            dec.feed(chunk).map_err(|e| Retry::No(e.into()))?;
        }
        let reusable = resp.reusable();
        let node: Name = Arc::from(t.node.as_str());
        let (batch, order) = dec.finish_with_order(&node).map_err(|e| Retry::No(e.into()))?;
        // Keep only this scrape's series, so pods that left the node let their names go.
        lock(&self.names).insert(t.node.clone(), order);
        // The whole body was read and the kubelet keeps the connection: it can serve the next scrape.
        if reusable {
            self.pool.put(&t.node, p);
        }
        Ok(batch)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A failed request, and whether a fresh connection may repeat it.
enum Retry {
    /// Failed before any answer on a possibly stale connection.
    Fresh(ScrapeError),
    No(ScrapeError),
}

impl Retry {
    fn into_inner(self) -> ScrapeError {
        match self {
            Retry::Fresh(e) | Retry::No(e) => e,
        }
    }
}

const USER_AGENT: &str = concat!("metrics-server/", env!("CARGO_PKG_VERSION"), " (kubestate)");

/// The `Authorization` value for a bearer token, built once per tick and shared by every request.
pub fn bearer(token: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(format!("Bearer {token}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// Kept-alive connections to kubelets, one per node, reused by that node's next scrape as Go's HTTP
/// transport reuses them: a new TLS handshake for every node on every tick costs more CPU than the
/// scrape itself.
#[derive(Default)]
pub struct ConnPool {
    idle: Mutex<HashMap<String, Pooled>>,
}

struct Pooled {
    /// Host, port and path the connection's requests go to.
    to: (String, u16, String),
    conn: Conn,
}

impl ConnPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pooled>> {
        lock(&self.idle)
    }

    /// The node's idle connection if it goes where `t` does; a node that moved gets a new one.
    fn take(&self, node: &str, t: &Target) -> Option<Pooled> {
        let mut p = self.lock().remove(node)?;
        let (host, port, path) = &p.to;
        (*host == t.host && *port == t.port && *path == t.path && p.conn.is_idle_and_open()).then_some(p)
    }

    fn put(&self, node: &str, p: Pooled) {
        self.lock().insert(node.to_string(), p);
    }

    /// Close the connections of nodes no longer scraped.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|node, _| keep(node));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn now_nanos() -> Nanos {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as Nanos).unwrap_or(0)
}

/// Upstream's stagger: a random delay in `[0, min(8 ms × nodes, 4 s))`.
pub fn max_jitter(nodes: usize) -> Duration {
    Duration::from_millis((8 * nodes as u64).min(4000))
}

/// Scrape every node once. Returns the merged batch (names interned into `interner`) and the number of
/// nodes that answered. The whole call is bounded by `deadline`.
pub async fn scrape_all(
    client: Arc<KubeletClient>,
    nodes: Vec<(String, NodeInfo)>,
    metrics: Arc<SelfMetrics>,
    interner: &Mutex<Interner>,
    deadline: Duration,
) -> (Batch, usize) {
    let started = Instant::now();
    let jitter = max_jitter(nodes.len());
    // `Some(None)`: a token that cannot be a header value fails every request, as in Go's transport.
    let token: Option<Option<HeaderValue>> = client.token.current().map(|t| bearer(&t));
    let mut set = JoinSet::new();
    for (name, info) in nodes {
        let client = client.clone();
        let metrics = metrics.clone();
        let token = token.clone();
        set.spawn(async move {
            if !jitter.is_zero() {
                let ms = rand::random_range(0..jitter.as_millis() as u64);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            // Like upstream, every node counts as a kubelet request, one without a usable address too
            // (a failed one); its duration and time are taken when it ends.
            let t0 = Instant::now();
            let target = client.target(&name, &info);
            let r = match &target {
                Ok(_) if matches!(token, Some(None)) => Err(ScrapeError::BadToken),
                Ok(t) => {
                    match tokio::time::timeout(client.timeout, client.fetch(t, token.as_ref().and_then(Option::as_ref)))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(ScrapeError::Timeout),
                    }
                }
                Err(_) => Err(ScrapeError::NoAddress(client.preferred_address_types.clone())),
            };
            let end_wall = (now_nanos() / 1_000_000_000) as f64;
            metrics.kubelet_request(&name, end_wall, t0.elapsed().as_secs_f64(), r.is_ok());
            let address = target.as_ref().map(|t| t.host.as_str()).unwrap_or("");
            match r {
                Ok(b) => {
                    tracing::trace!(node = %name, pods = b.pods.len(), "scraped node");
                    Some(b)
                }
                Err(ScrapeError::Timeout) => {
                    tracing::warn!(node = %name, address, "Failed to scrape node, timeout to access kubelet");
                    None
                }
                Err(e) => {
                    tracing::warn!(node = %name, address, error = %e, "Failed to scrape node");
                    None
                }
            }
        });
    }
    let mut parts = Vec::new();
    let until = tokio::time::Instant::from_std(started + deadline);
    loop {
        match tokio::time::timeout_at(until, set.join_next()).await {
            Ok(Some(Ok(Some(b)))) => parts.push(b),
            Ok(Some(Ok(None))) | Ok(Some(Err(_))) => {}
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(remaining = set.len(), "scrape tick deadline reached, abandoning slow nodes");
                set.abort_all();
                break;
            }
        }
    }
    let ok = parts.len();
    (merge(parts, interner), ok)
}

/// Merge per-node batches, dropping duplicate pods (same key from two nodes), and move every name into
/// the long-lived interner so storage shares one allocation per distinct name.
pub fn merge(parts: Vec<Batch>, interner: &Mutex<Interner>) -> Batch {
    let mut g = match interner.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let pods: usize = parts.iter().map(|p| p.pods.len()).sum();
    let mut out = Batch { nodes: Vec::with_capacity(parts.len()), pods: Vec::with_capacity(pods) };
    let mut seen_nodes = FastSet::with_capacity_and_hasher(parts.len(), Default::default());
    let mut seen_pods = FastSet::with_capacity_and_hasher(pods, Default::default());
    for part in parts {
        for (n, p) in part.nodes {
            let n = g.intern_shared(&n);
            if seen_nodes.insert(n.clone()) {
                out.nodes.push((n, p));
            } else {
                tracing::info!(node = %n, "Dropping duplicate node metrics");
            }
        }
        for mut pod in part.pods {
            pod.namespace = g.intern_shared(&pod.namespace);
            pod.name = g.intern_shared(&pod.name);
            if !seen_pods.insert((pod.namespace.clone(), pod.name.clone())) {
                tracing::info!(namespace = %pod.namespace, pod = %pod.name, "Dropping duplicate pod metrics");
                continue;
            }
            for (c, _) in pod.containers.iter_mut() {
                *c = g.intern_shared(c);
            }
            out.pods.push(pod);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::storage::{PodBatch, Point};

    #[test]
    fn jitter_is_capped() {
        assert_eq!(max_jitter(1), Duration::from_millis(8));
        assert_eq!(max_jitter(100), Duration::from_millis(800));
        assert_eq!(max_jitter(5000), Duration::from_secs(4));
    }

    #[test]
    fn merge_drops_duplicate_pods_and_interns() {
        let pod = |node: &str| Batch {
            nodes: vec![(Arc::from(node), Point::default())],
            pods: vec![PodBatch {
                namespace: Arc::from("ns"),
                name: Arc::from("p"),
                containers: vec![(Arc::from("c"), Point { cpu: node.len() as u64, ..Point::default() })],
            }],
        };
        let interner = Mutex::new(Interner::default());
        let b = merge(vec![pod("a"), pod("bb")], &interner);
        assert_eq!(b.nodes.len(), 2);
        assert_eq!(b.pods.len(), 1);
        assert_eq!(b.pods[0].containers[0].1.cpu, 1, "first one wins");
        // ns, p, c, a, bb
        assert_eq!(interner.lock().unwrap().len(), 5);
    }

    const BODY: &str = "node_cpu_usage_seconds_total 10 1000\nnode_memory_working_set_bytes 20 1000\n\
        container_cpu_usage_seconds_total{container=\"c\",namespace=\"ns\",pod=\"p\"} 1 1000\n\
        container_memory_working_set_bytes{container=\"c\",namespace=\"ns\",pod=\"p\"} 2 1000\n";

    /// What a raw kubelet does with the n-th request (from 0) it reads over all its connections.
    #[derive(Clone, Copy, PartialEq)]
    pub(crate) enum Then {
        Answer,
        /// Answer with `Connection: close` and close, as a kubelet that keeps no idle connections.
        AnswerAndClose,
        /// Close the connection without a byte of answer, as a kubelet closing an idle connection just
        /// as the request arrives.
        Close,
        /// Keep the connection open and never answer.
        Hang,
    }

    /// A plain-HTTP kubelet speaking HTTP/1.1 by hand, so a test decides what each request gets.
    /// Returns its port and the number of connections it accepted.
    pub(crate) async fn scripted_kubelet(script: Vec<Then>) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let (script, requests) = (script.clone(), requests.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match tcp.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.clear();
                        let n = requests.fetch_add(1, Ordering::SeqCst);
                        match script.get(n).copied().unwrap_or(Then::Answer) {
                            then @ (Then::Answer | Then::AnswerAndClose) => {
                                let close = if then == Then::AnswerAndClose { "Connection: close\r\n" } else { "" };
                                let head = format!("HTTP/1.1 200 OK\r\n{close}Content-Length: {}\r\n\r\n", BODY.len());
                                if tcp.write_all(head.as_bytes()).await.is_err()
                                    || tcp.write_all(BODY.as_bytes()).await.is_err()
                                    || then == Then::AnswerAndClose
                                {
                                    return;
                                }
                            }
                            Then::Close => return,
                            Then::Hang => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        (port, accepted)
    }

    pub(crate) fn plain_client(timeout: Duration) -> KubeletClient {
        KubeletClient {
            tls: None,
            token: TokenSource::None,
            port: 10250,
            use_node_status_port: true,
            preferred_address_types: vec!["InternalIP".into()],
            timeout,
            pool: ConnPool::default(),
            names: Default::default(),
        }
    }

    fn local_target(node: &str, port: u16) -> Target {
        Target { node: node.into(), host: "127.0.0.1".into(), port, path: "/metrics/resource".into() }
    }

    #[tokio::test]
    async fn kubelet_connections_are_kept_alive_and_replaced_when_closed() {
        use std::sync::atomic::Ordering;
        let client = plain_client(Duration::from_secs(5));
        // A kubelet that answers `Connection: close` gets a new connection per scrape, and none is kept.
        for (step, connections, kept) in [(Then::Answer, 1, 1), (Then::AnswerAndClose, 3, 0)] {
            let (port, accepted) = scripted_kubelet(vec![step; 3]).await;
            let t = local_target("n1", port);
            let mut first_pod_name: Option<Name> = None;
            for _ in 0..3 {
                let b = client.fetch(&t, None).await.unwrap();
                assert_eq!(b.nodes.len(), 1);
                // A node's names are allocated once and found again by its next scrapes.
                let name = b.pods[0].name.clone();
                if let Some(first) = &first_pod_name {
                    assert!(Arc::ptr_eq(first, &name), "pod name allocated again");
                }
                first_pod_name.get_or_insert(name);
            }
            assert_eq!((accepted.load(Ordering::SeqCst), client.pool.len()), (connections, kept));
            client.pool.retain(|n| n != "n1");
            assert!(client.pool.is_empty());
        }
    }

    #[tokio::test]
    async fn a_request_a_kubelet_closed_under_it_is_repeated_once_on_a_new_connection() {
        use std::sync::atomic::Ordering;
        let client = plain_client(Duration::from_secs(5));
        // The second request arrives on the kept-alive connection, which the kubelet closes unanswered.
        let (port, accepted) = scripted_kubelet(vec![Then::Answer, Then::Close]).await;
        let t = local_target("n1", port);
        client.fetch(&t, None).await.unwrap();
        assert_eq!(client.pool.len(), 1, "the answered connection is kept");
        let b = client.fetch(&t, None).await.expect("repeated on a fresh connection");
        assert_eq!(b.nodes.len(), 1);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);

        // A fresh connection that fails is not repeated: one retry, then the node's scrape fails.
        let (port, accepted) = scripted_kubelet(vec![Then::Answer, Then::Close, Then::Close, Then::Answer]).await;
        let t = local_target("n2", port);
        client.fetch(&t, None).await.unwrap();
        let err = client.fetch(&t, None).await.expect_err("both connections closed unanswered");
        assert!(matches!(err, ScrapeError::Http(_)), "{err}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "more than one retry");
        // The failed connection is not pooled; the next tick connects anew and is answered.
        client.fetch(&t, None).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_metrics_path_that_would_break_the_request_line_is_refused_before_connecting() {
        use std::sync::atomic::Ordering;
        let client = plain_client(Duration::from_secs(5));
        let (port, accepted) = scripted_kubelet(vec![]).await;
        let t = Target { path: "/metrics\r\nX-Injected: 1".into(), ..local_target("n1", port) };
        let err = client.fetch(&t, None).await.expect_err("an unusable path");
        assert!(matches!(err, ScrapeError::BadPath(_)), "{err}");
        assert!(err.to_string().contains("resource-metrics-path"), "{err}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_node_that_moved_is_scraped_on_a_connection_to_its_new_address() {
        use std::sync::atomic::Ordering;
        let client = plain_client(Duration::from_secs(5));
        let (old, old_accepted) = scripted_kubelet(vec![]).await;
        let (new, new_accepted) = scripted_kubelet(vec![]).await;
        client.fetch(&local_target("n1", old), None).await.unwrap();
        client.fetch(&local_target("n1", new), None).await.unwrap();
        client.fetch(&local_target("n1", new), None).await.unwrap();
        assert_eq!((old_accepted.load(Ordering::SeqCst), new_accepted.load(Ordering::SeqCst)), (1, 1));
        assert_eq!(client.pool.len(), 1, "the old address's connection is not kept beside the new one");
    }

    #[tokio::test]
    async fn a_token_that_cannot_be_a_header_fails_every_node_with_one_clear_error() {
        let v = bearer("abc").unwrap();
        assert_eq!((v.to_str().unwrap(), v.is_sensitive()), ("Bearer abc", true));
        assert!(bearer("two\nlines").is_none());
        let (port, accepted) = scripted_kubelet(vec![]).await;
        let client = Arc::new(KubeletClient {
            token: TokenSource::Static("two\nlines".into()),
            ..plain_client(Duration::from_secs(5))
        });
        let metrics = Arc::new(SelfMetrics::new(15.0));
        let info = NodeInfo {
            addresses: vec![("InternalIP".into(), "127.0.0.1".into())],
            kubelet_port: port,
            ..Default::default()
        };
        let interner = Mutex::new(Interner::default());
        let (batch, ok) =
            scrape_all(client, vec![("n1".into(), info)], metrics.clone(), &interner, Duration::from_secs(5)).await;
        assert_eq!((batch.nodes.len(), ok), (0, 0));
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing is sent without the token");
        assert!(metrics.render().contains("metrics_server_kubelet_request_total{success=\"false\"} 1\n"));
        assert!(ScrapeError::BadToken.to_string().contains("bearer token"));
    }

    #[tokio::test]
    async fn a_hung_kubelet_costs_only_its_own_node_and_its_connection() {
        let client = Arc::new(plain_client(Duration::from_millis(300)));
        let metrics = Arc::new(SelfMetrics::new(15.0));
        let interner = Mutex::new(Interner::default());
        let (good, _) = scripted_kubelet(vec![]).await;
        // Answers the first scrape, so its connection is pooled, then hangs on it.
        let (hung, _) = scripted_kubelet(vec![Then::Answer, Then::Hang]).await;
        let node = |port: u16| NodeInfo {
            addresses: vec![("InternalIP".into(), "127.0.0.1".into())],
            kubelet_port: port,
            ..Default::default()
        };
        let nodes = vec![("good".to_string(), node(good)), ("hung".to_string(), node(hung))];
        let (batch, ok) =
            scrape_all(client.clone(), nodes.clone(), metrics.clone(), &interner, Duration::from_secs(10)).await;
        assert_eq!((ok, batch.nodes.len(), client.pool.len()), (2, 2, 2));
        let started = Instant::now();
        let (batch, ok) = scrape_all(client.clone(), nodes, metrics.clone(), &interner, Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(2), "the tick waited for the hung kubelet");
        assert_eq!(ok, 1);
        assert_eq!(batch.nodes.iter().map(|(n, _)| &**n).collect::<Vec<_>>(), ["good"]);
        // The timed-out connection is dropped, not kept for the next tick.
        assert_eq!(client.pool.len(), 1);
        assert!(metrics.render().contains("metrics_server_kubelet_request_total{success=\"false\"} 1\n"));
    }

    #[tokio::test]
    async fn a_node_without_a_matching_address_is_a_failed_request() {
        let client = Arc::new(KubeletClient {
            tls: None,
            token: TokenSource::None,
            port: 10250,
            use_node_status_port: false,
            preferred_address_types: vec!["InternalIP".into()],
            timeout: Duration::from_secs(1),
            pool: ConnPool::default(),
            names: Default::default(),
        });
        let info = NodeInfo { addresses: vec![("Hostname".into(), "n1.local".into())], ..Default::default() };
        let metrics = Arc::new(SelfMetrics::new(15.0));
        let interner = Mutex::new(Interner::default());
        let (batch, ok) =
            scrape_all(client, vec![("n1".into(), info)], metrics.clone(), &interner, Duration::from_secs(5)).await;
        assert_eq!((batch.nodes.len(), ok), (0, 0));
        let text = metrics.render();
        assert!(text.contains("metrics_server_kubelet_request_total{success=\"false\"} 1\n"), "{text}");
        assert!(text.contains("metrics_server_kubelet_request_duration_seconds_count{node=\"n1\"} 1\n"));
        assert!(text.contains("metrics_server_kubelet_last_request_time_seconds{node=\"n1\"} "));
    }

    #[test]
    fn target_uses_annotation_path_and_brackets_nothing_by_itself() {
        let client = KubeletClient {
            tls: None,
            token: TokenSource::None,
            port: 10250,
            use_node_status_port: true,
            preferred_address_types: vec!["InternalIP".into()],
            timeout: Duration::from_secs(1),
            pool: ConnPool::default(),
            names: Default::default(),
        };
        let info = NodeInfo {
            addresses: vec![("InternalIP".into(), "10.1.1.1".into())],
            kubelet_port: 4000,
            metrics_path: Some("/x".into()),
            ..Default::default()
        };
        let t = client.target("n", &info).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("10.1.1.1", 4000, "/x"));
        assert!(matches!(client.target("n", &NodeInfo::default()), Err(ScrapeError::NoAddress(_))));
    }
}
