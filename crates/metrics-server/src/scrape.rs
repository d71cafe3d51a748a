//! Fetching `/metrics/resource` from every kubelet once per tick: jittered start, per-node timeout, a
//! streaming decode of the body. A failing, hung or garbage-speaking kubelet only loses its own node.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;

use crate::api::NodeInfo;
use crate::cluster::{choose_address, choose_port};
use crate::decode::{DecodeError, Decoder};
use crate::selfmetrics::SelfMetrics;
use crate::storage::{Batch, Interner, Name, Nanos};

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
    Http(#[from] hyper::Error),
    #[error("building request: {0}")]
    Request(#[from] http::Error),
    #[error("request failed, status: \"{0}\"")]
    Status(String),
    #[error("response body larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("decoding response: {0}")]
    Decode(#[from] DecodeError),
    #[error("timeout to access kubelet")]
    Timeout,
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

    /// GET the target and decode it; no timeout here (the caller owns it).
    pub async fn fetch(&self, t: &Target, token: Option<&str>) -> Result<Batch, ScrapeError> {
        let authority =
            if t.host.contains(':') { format!("[{}]:{}", t.host, t.port) } else { format!("{}:{}", t.host, t.port) };
        let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| ScrapeError::Connect(authority.clone(), e))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some(cfg) => {
                let name = ServerName::try_from(t.host.clone()).map_err(|_| ScrapeError::ServerName(t.host.clone()))?;
                let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ScrapeError::Tls(authority.clone(), e))?;
                get(tls, "https", &authority, t, token).await
            }
            None => get(tcp, "http", &authority, t, token).await,
        }
    }
}

async fn get<IO>(io: IO, scheme: &str, authority: &str, t: &Target, token: Option<&str>) -> Result<Batch, ScrapeError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = http::Request::get(format!("{scheme}://{authority}{}", t.path))
        .header(http::header::HOST, authority)
        .header(http::header::USER_AGENT, concat!("metrics-server/", env!("CARGO_PKG_VERSION"), " (kubestate)"));
    if let Some(tok) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {tok}"));
    }
    // Samples without their own timestamp get the time just before sending.
    let request_time = now_nanos();
    let resp = sender.send_request(req.body(Empty::<Bytes>::new())?).await?;
    if resp.status() != http::StatusCode::OK {
        conn.abort();
        let s = resp.status();
        return Err(ScrapeError::Status(format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))));
    }
    let mut body = resp.into_body();
    let mut interner = Interner::default();
    let mut dec = Decoder::new(&mut interner, request_time);
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(chunk) = frame.data_ref() {
            total += chunk.len();
            if total > MAX_BODY {
                conn.abort();
                return Err(ScrapeError::TooLarge);
            }
            dec.feed(chunk)?;
        }
    }
    let node: Name = Arc::from(t.node.as_str());
    let batch = dec.finish(&node)?;
    conn.abort();
    Ok(batch)
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
    let token = client.token.current();
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
                Ok(t) => match tokio::time::timeout(client.timeout, client.fetch(t, token.as_deref())).await {
                    Ok(r) => r,
                    Err(_) => Err(ScrapeError::Timeout),
                },
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
    let mut out = Batch::default();
    let mut seen_nodes = HashSet::new();
    let mut seen_pods = HashSet::new();
    for part in parts {
        for (n, p) in part.nodes {
            let n = g.intern(&n);
            if seen_nodes.insert(n.clone()) {
                out.nodes.push((n, p));
            } else {
                tracing::info!(node = %n, "Dropping duplicate node metrics");
            }
        }
        for mut pod in part.pods {
            pod.namespace = g.intern(&pod.namespace);
            pod.name = g.intern(&pod.name);
            if !seen_pods.insert((pod.namespace.clone(), pod.name.clone())) {
                tracing::info!(namespace = %pod.namespace, pod = %pod.name, "Dropping duplicate pod metrics");
                continue;
            }
            for (c, _) in pod.containers.iter_mut() {
                *c = g.intern(c);
            }
            out.pods.push(pod);
        }
    }
    out
}

#[cfg(test)]
mod tests {
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

    #[tokio::test]
    async fn a_node_without_a_matching_address_is_a_failed_request() {
        let client = Arc::new(KubeletClient {
            tls: None,
            token: TokenSource::None,
            port: 10250,
            use_node_status_port: false,
            preferred_address_types: vec!["InternalIP".into()],
            timeout: Duration::from_secs(1),
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
