//! HTTPS serving: TLS accept, authentication/authorization, health endpoints, own /metrics, the API.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::api;
use crate::auth::{Auth, PeerIdentity, User, strip_identity_headers};
use crate::cluster::Cluster;
use crate::scrape::{KubeletClient, now_nanos, scrape_all};
use crate::selector::LabelSelector;
use crate::selfmetrics::SelfMetrics;
use crate::storage::{Interner, Storage};

/// Everything the server, the scrape loop and the health checks share.
pub struct State {
    pub cluster: Arc<Cluster>,
    pub storage: RwLock<Storage>,
    pub interner: Mutex<Interner>,
    pub metrics: Arc<SelfMetrics>,
    pub auth: Auth,
    pub kubelet: Arc<KubeletClient>,
    pub node_selector: LabelSelector,
    pub resolution: Duration,
    pub last_tick_start: Mutex<Option<Instant>>,
    pub was_ready: AtomicBool,
}

impl State {
    fn storage(&self) -> std::sync::RwLockReadGuard<'_, Storage> {
        match self.storage.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn collection_timely(&self) -> bool {
        let last = match self.last_tick_start.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        last.is_none_or(|t| t.elapsed() <= self.resolution.mul_f64(1.5))
    }

    /// One scrape + store.
    pub async fn tick(&self) {
        let start = Instant::now();
        if let Ok(mut g) = self.last_tick_start.lock() {
            *g = Some(start);
        }
        let nodes: Vec<_> = {
            let inv = self.cluster.read();
            inv.nodes
                .iter()
                .filter(|(_, info)| self.node_selector.matches(&info.labels))
                .map(|(n, i)| (n.clone(), i.clone()))
                .collect()
        };
        let total = nodes.len();
        let (batch, ok) =
            scrape_all(self.kubelet.clone(), nodes, self.metrics.clone(), &self.interner, self.resolution).await;
        let (np, cp, ready) = {
            let mut st = match self.storage.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            st.store(&batch);
            (st.node_points(), st.container_points(), st.ready())
        };
        drop(batch);
        if let Ok(mut i) = self.interner.lock() {
            i.sweep();
        }
        {
            let inv = self.cluster.read();
            self.metrics.retain_nodes(|n| inv.nodes.contains_key(n));
        }
        self.metrics.storage_points(np, cp);
        if self.was_ready.swap(ready, Ordering::AcqRel) != ready {
            tracing::info!(ready, "metric storage readiness changed");
        }
        let took = start.elapsed();
        self.metrics.tick(took.as_secs_f64());
        tracing::debug!(nodes = total, succeeded = ok, ?took, "scrape tick done");
    }
}

/// Run ticks forever: one immediately, then every resolution (missed ticks skipped, like Go's ticker).
pub async fn scrape_loop(state: Arc<State>) {
    let mut iv = tokio::time::interval(state.resolution);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        iv.tick().await;
        state.tick().await;
    }
}

type Resp = http::Response<Full<Bytes>>;

fn text(status: u16, body: String) -> Resp {
    let mut r = http::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert("x-content-type-options", http::HeaderValue::from_static("nosniff"));
    r
}

fn from_api(a: api::Response) -> Resp {
    let mut r = http::Response::new(Full::new(Bytes::from(a.body)));
    *r.status_mut() = http::StatusCode::from_u16(a.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(a.content_type));
    r
}

/// How long a client may take to send a request's headers (Go's `http.Server.ReadHeaderTimeout` as the
/// generic apiserver sets it).
const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(32);

/// Accept TLS connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let identity = state.auth.peer_identity(tls.get_ref().1.peer_certificates());
            let identity = Arc::new(identity);
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                let identity = identity.clone();
                async move { Ok::<_, Infallible>(handle(&state, &identity, req).await) }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // A client that opens a connection and never finishes its request headers would otherwise
            // hold a task and its buffers for good; upstream's apiserver gives up after 32 s as well.
            builder.http1().timer(TokioTimer::new()).header_read_timeout(READ_HEADER_TIMEOUT);
            if let Err(e) = builder.serve_connection(TokioIo::new(tls), svc).await {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        });
    }
}

async fn handle<B>(state: &State, identity: &PeerIdentity, req: http::Request<B>) -> Resp {
    let (mut parts, _body) = req.into_parts();
    if *identity != PeerIdentity::FrontProxy {
        strip_identity_headers(state.auth.request_header.as_ref(), &mut parts.headers);
    }
    let path = parts.uri.path().to_string();
    let query = api::parse_query(parts.uri.query());
    let user = match state.auth.authenticate(identity, &parts.headers).await {
        Ok(u) => u,
        Err(e) => {
            tracing::info!(error = %e, "Unable to authenticate the request");
            return from_api(api::unauthorized());
        }
    };
    if !state.auth.always_allowed(&path) {
        let Some(user) = user.as_ref() else {
            return from_api(api::unauthorized());
        };
        let attrs = api::attributes(&path, &query);
        match state.auth.authorize(user, &attrs).await {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return from_api(api::forbidden(&user.name, &attrs, &reason)),
            Err(e) => {
                tracing::warn!(error = %e, "authorization failed");
                return from_api(api::status(500, "InternalError", &format!("Internal error occurred: {e}"), None));
            }
        }
    }
    if parts.method != http::Method::GET && parts.method != http::Method::HEAD {
        return from_api(api::status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        ));
    }
    route(state, &path, parts.uri.query(), &query, &parts.headers, user.as_ref())
}

fn route(
    state: &State,
    path: &str,
    raw_query: Option<&str>,
    query: &std::collections::BTreeMap<String, String>,
    headers: &http::HeaderMap,
    _user: Option<&User>,
) -> Resp {
    for endpoint in ["healthz", "livez", "readyz"] {
        let base = format!("/{endpoint}");
        if path == base || path.starts_with(&format!("{base}/")) {
            return health(state, endpoint, path[base.len()..].trim_start_matches('/'), raw_query);
        }
    }
    match path {
        "/metrics" => {
            let mut r = text(200, state.metrics.render());
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return r;
        }
        "/version" => {
            let body = serde_json::json!({
                "major": "", "minor": "",
                "gitVersion": concat!("v", env!("CARGO_PKG_VERSION"), "-kubestate"),
                "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)
            });
            return from_api(api::Response {
                status: 200,
                content_type: "application/json",
                body: body.to_string().into_bytes(),
            });
        }
        _ => {}
    }
    if path == "/apis" || path.starts_with("/apis/") {
        let accept = headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let req = api::Request { path, query, table: api::wants_table(accept), now: now_nanos() };
        let now = req.now;
        let metrics = state.metrics.clone();
        let inv = state.cluster.read();
        let st = state.storage();
        let mut observe = |ts: i64| metrics.observe_freshness((now - ts) as f64 / 1e9);
        return from_api(api::handle(&req, &inv, &st, &state.node_selector, &mut observe));
    }
    text(404, "404 page not found\n".to_string())
}

/// The checks of each health endpoint, in upstream order, with their current result.
fn checks(state: &State, endpoint: &str) -> Vec<(&'static str, bool)> {
    let synced = state.cluster.synced();
    let mut c = vec![
        ("ping", true),
        ("log", true),
        ("poststarthook/max-in-flight-filter", true),
        ("poststarthook/storage-object-count-tracker-hook", true),
    ];
    match endpoint {
        "readyz" => {
            c.push(("metric-storage-ready", state.storage().ready()));
            c.push(("metric-informer-sync", synced));
            c.push(("metadata-informer-sync", synced));
            c.push(("shutdown", true));
        }
        "livez" => {
            c.push(("metric-collection-timely", state.collection_timely()));
            c.push(("metadata-informer-sync", synced));
        }
        _ => c.push(("metadata-informer-sync", synced)),
    }
    c
}

fn health(state: &State, endpoint: &str, sub: &str, raw_query: Option<&str>) -> Resp {
    let all = checks(state, endpoint);
    if !sub.is_empty() {
        return match all.iter().find(|(n, _)| *n == sub) {
            Some((_, true)) => text(200, "ok".into()),
            Some((n, false)) => text(500, format!("internal server error: {n} check failed\n")),
            None => text(404, "404 page not found\n".into()),
        };
    }
    let mut verbose = false;
    let mut excluded: Vec<String> = Vec::new();
    for pair in raw_query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "verbose" => verbose = v != "false",
            "exclude" => excluded.push(v.to_string()),
            _ => {}
        }
    }
    let mut out = String::new();
    let mut failed = false;
    for (name, ok) in &all {
        if excluded.iter().any(|e| e == name) {
            out.push_str(&format!("[+]{name} excluded: ok\n"));
            continue;
        }
        if *ok {
            out.push_str(&format!("[+]{name} ok\n"));
        } else {
            failed = true;
            out.push_str(&format!("[-]{name} failed: reason withheld\n"));
        }
    }
    if failed {
        for (name, ok) in &all {
            if !ok && !excluded.iter().any(|e| e == name) {
                tracing::info!(probe = name, "Failed probe");
            }
        }
        out.push_str(&format!("{endpoint} check failed\n"));
        return text(500, out);
    }
    if !verbose {
        return text(200, "ok".into());
    }
    out.push_str(&format!("{endpoint} check passed\n"));
    text(200, out)
}
