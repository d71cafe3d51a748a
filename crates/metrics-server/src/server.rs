//! HTTPS serving: TLS accept, authentication/authorization, health endpoints, own /metrics, the API.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::api;
use crate::api::NodeInfo;
use crate::auth::{Auth, PeerIdentity, User, strip_identity_headers};
use crate::cluster::Cluster;
use crate::negotiate;
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
                // Scraping needs the addresses, port and path; the labels stay behind.
                .map(|(n, i)| {
                    let info = NodeInfo {
                        labels: Default::default(),
                        addresses: i.addresses.clone(),
                        kubelet_port: i.kubelet_port,
                        metrics_path: i.metrics_path.clone(),
                    };
                    (n.clone(), info)
                })
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
        if ok < total {
            // What a failed scrape decoded (a hostile kubelet's flood up to its bound) is freed by now;
            // hand it back instead of keeping the high-water mark.
            memtrim::after_burst();
        }
        {
            let inv = self.cluster.read();
            self.metrics.retain_nodes(|n| inv.nodes.contains_key(n));
            let scraped = |n: &str| inv.nodes.get(n).is_some_and(|i| self.node_selector.matches(&i.labels));
            self.kubelet.pool.retain(scraped);
            if let Ok(mut names) = self.kubelet.names.lock() {
                names.retain(|n, _| scraped(n));
            }
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

type Resp = http::Response<Pieces>;

/// A response body sent as pieces one after another. `/metrics` is the freshly read process families
/// followed by the kept page of the others (megabytes at thousands of nodes), which is sent from where
/// it is kept instead of being copied behind the fresh part on every read.
pub struct Pieces(std::collections::VecDeque<Bytes>);

impl Pieces {
    fn new(pieces: impl IntoIterator<Item = Bytes>) -> Self {
        Pieces(pieces.into_iter().filter(|b| !b.is_empty()).collect())
    }
}

impl From<Bytes> for Pieces {
    fn from(b: Bytes) -> Self {
        Pieces::new([b])
    }
}

impl hyper::body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0.iter().map(|b| b.len() as u64).sum())
    }
}

fn text(status: u16, body: impl Into<Bytes>) -> Resp {
    let mut r = http::Response::new(Pieces::from(body.into()));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert(NOSNIFF.0, http::HeaderValue::from_static(NOSNIFF.1));
    r
}

const NOSNIFF: (&str, &str) = ("x-content-type-options", "nosniff");
/// The apiserver compresses answers of at least this size for clients that take gzip.
pub const GZIP_THRESHOLD: usize = 128 * 1024;

/// An API answer as the apiserver writes it: `nosniff` on serialized objects (not on 401s and raw
/// JSON), gzip for large bodies when the client takes it.
fn from_api(a: api::Response, gzip: bool) -> Resp {
    let raw = a.raw || a.status == 401;
    let (body, compressed) = if gzip && a.body.len() >= GZIP_THRESHOLD {
        match gzip_fast(&a.body) {
            Ok(z) => (z, true),
            Err(e) => {
                tracing::warn!(error = %e, "gzip failed; answering uncompressed");
                (a.body, false)
            }
        }
    } else {
        (a.body, false)
    };
    let mut r = http::Response::new(Pieces::from(Bytes::from(body)));
    *r.status_mut() = http::StatusCode::from_u16(a.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(a.content_type));
    if !raw {
        h.insert(NOSNIFF.0, http::HeaderValue::from_static(NOSNIFF.1));
    }
    if compressed {
        h.insert(http::header::CONTENT_ENCODING, http::HeaderValue::from_static("gzip"));
        h.append(http::header::VARY, http::HeaderValue::from_static("Accept-Encoding"));
    }
    r
}

/// gzip at level 1, the apiserver's level for responses.
fn gzip_fast(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), flate2::Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

/// The connection timers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// How long the TLS handshake may take.
    pub handshake: Duration,
    /// How long a client may take to start and finish a request's headers (Go's `ReadHeaderTimeout` as
    /// the generic apiserver sets it, 32 s); a connection that sends nothing after the handshake is
    /// closed after it.
    pub read_header: Duration,
    /// How long a connection may sit idle between requests (the apiserver's `IdleTimeout`, 90 s), for
    /// HTTP/1 and HTTP/2 alike.
    pub idle: Duration,
    /// How long a connection told to close (idle) may take to finish before it is dropped.
    pub close_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake: Duration::from_secs(10),
            read_header: Duration::from_secs(32),
            idle: Duration::from_secs(90),
            close_grace: Duration::from_secs(5),
        }
    }
}

/// What Go's HTTPS server answers to a plain-HTTP request on its TLS port.
pub const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Whether the first five bytes on a TLS port are the start of an HTTP request (Go's test).
fn looks_like_http(first: &[u8]) -> bool {
    matches!(first, b"GET /" | b"HEAD " | b"POST " | b"PUT /" | b"OPTIO")
}

/// Wait until the client's first bytes tell TLS from plain HTTP: `true` for plain HTTP.
async fn plain_http(tcp: &tokio::net::TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; 5];
    loop {
        let n = tcp.peek(&mut buf).await?;
        // A TLS record starts with 0x16 (handshake); anything else needs five bytes to judge.
        if n == 0 || buf[0] == 0x16 {
            return Ok(false);
        }
        if n >= 5 {
            return Ok(looks_like_http(&buf));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Accept TLS connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    limits: Limits,
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
            let handshake = async {
                if plain_http(&tcp).await? {
                    let mut tcp = tcp;
                    use tokio::io::AsyncWriteExt as _;
                    let _ = tcp.write_all(PLAIN_HTTP_ANSWER).await;
                    let _ = tcp.shutdown().await;
                    return Ok(None);
                }
                acceptor.accept(tcp).await.map(Some)
            };
            let tls = match tokio::time::timeout(limits.handshake, handshake).await {
                Ok(Ok(Some(s))) => s,
                Ok(Ok(None)) => return,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            let identity = Arc::new(state.auth.peer_identity(tls.get_ref().1.peer_certificates()));
            let watch = Arc::new(ConnWatch::new(h2, limits));
            let svc = {
                let watch = watch.clone();
                hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    let identity = identity.clone();
                    let watch = watch.clone();
                    async move {
                        let _busy = watch.request();
                        Ok::<_, Infallible>(handle(&state, &identity, req).await)
                    }
                })
            };
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Header and idle timers are kept by `ConnWatch` below: hyper's own header timer would also
            // run while a kept-alive connection waits for its next request.
            builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
            let io = Watched { inner: tls, watch: watch.clone() };
            let conn = builder.serve_connection(TokioIo::new(io), svc);
            let mut conn = std::pin::pin!(conn);
            loop {
                let (deadline, verdict) = watch.next_deadline();
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "connection ended with error");
                        }
                        return;
                    }
                    _ = tokio::time::sleep_until(deadline.into()) => {}
                }
                let (deadline, now_verdict) = watch.next_deadline();
                if now_verdict != verdict || Instant::now() < deadline {
                    continue;
                }
                match verdict {
                    Verdict::Busy => {}
                    Verdict::Slow => {
                        tracing::debug!(%peer, "no complete request within the header timeout; closing");
                        return;
                    }
                    Verdict::Idle => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(limits.close_grace, conn.as_mut()).await;
                        return;
                    }
                }
            }
        });
    }
}

/// What the connection is waiting for, and so which timer applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// A request is being served: no timer.
    Busy,
    /// Waiting for the first bytes after the handshake, or for the rest of an HTTP/1 request's headers.
    Slow,
    /// Between requests.
    Idle,
}

/// Request and read activity of one connection, for its timers.
struct ConnWatch {
    limits: Limits,
    in_flight: std::sync::atomic::AtomicUsize,
    /// HTTP/2: once the client has spoken, only the idle timer applies.
    h2: AtomicBool,
    state: Mutex<WatchState>,
}

struct WatchState {
    /// Set while bytes of a request have arrived but the request has not been dispatched yet (and
    /// from the handshake until the first bytes).
    waiting_since: Option<Instant>,
    last_done: Instant,
    spoke: bool,
}

struct Busy<'a>(&'a ConnWatch);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        let mut s = self.0.lock();
        s.last_done = Instant::now();
    }
}

impl ConnWatch {
    fn new(h2: bool, limits: Limits) -> Self {
        let now = Instant::now();
        ConnWatch {
            limits,
            in_flight: Default::default(),
            h2: AtomicBool::new(h2),
            state: Mutex::new(WatchState { waiting_since: Some(now), last_done: now, spoke: false }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn request(&self) -> Busy<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.lock().waiting_since = None;
        Busy(self)
    }

    /// Bytes arrived from the client.
    fn read(&self, first: &[u8]) {
        let mut s = self.lock();
        if !s.spoke {
            s.spoke = true;
            // Without ALPN, the HTTP/2 preface tells.
            if first.starts_with(b"PRI ") || first == b"P" || first == b"PR" || first == b"PRI" {
                self.h2.store(true, Ordering::Release);
            }
            if self.h2.load(Ordering::Acquire) {
                s.waiting_since = None;
                s.last_done = Instant::now();
            }
            return;
        }
        if !self.h2.load(Ordering::Acquire) && s.waiting_since.is_none() && self.in_flight.load(Ordering::Acquire) == 0
        {
            s.waiting_since = Some(Instant::now());
        }
    }

    fn next_deadline(&self) -> (Instant, Verdict) {
        let now = Instant::now();
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return (now + Duration::from_secs(1), Verdict::Busy);
        }
        let s = self.lock();
        match s.waiting_since {
            Some(t) => (t + self.limits.read_header, Verdict::Slow),
            None => (s.last_done + self.limits.idle, Verdict::Idle),
        }
    }
}

/// The TLS stream, reporting reads to the connection's [`ConnWatch`].
struct Watched<IO> {
    inner: IO,
    watch: Arc<ConnWatch>,
}

impl<IO: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, std::task::Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let got = &buf.filled()[before..];
            self.watch.read(&got[..got.len().min(4)]);
        }
        r
    }
}

impl<IO: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A random request id for the `Audit-Id` header, in UUID form as the apiserver's.
fn audit_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("{}-{}-4{}-{}-{}", h(0..4), h(4..6), &h(6..8)[1..], h(8..10), h(10..16))
}

async fn handle<B>(state: &State, identity: &PeerIdentity, req: http::Request<B>) -> Resp {
    let (mut parts, _body) = req.into_parts();
    let mut resp = respond(state, identity, &mut parts).await;
    let h = resp.headers_mut();
    h.insert("audit-id", http::HeaderValue::from_str(&audit_id()).unwrap_or(http::HeaderValue::from_static("")));
    h.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache, private"));
    resp
}

fn header(headers: &http::HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn respond(state: &State, identity: &PeerIdentity, parts: &mut http::request::Parts) -> Resp {
    if *identity != PeerIdentity::FrontProxy {
        strip_identity_headers(state.auth.request_header.as_ref(), &mut parts.headers);
    }
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query();
    let query = api::parse_query(raw_query);
    let accept = header(&parts.headers, http::header::ACCEPT);
    let pretty = negotiate::pretty_requested(raw_query, header(&parts.headers, http::header::USER_AGENT));
    let gzip = negotiate::accepts_gzip(header(&parts.headers, http::header::ACCEPT_ENCODING));
    // Statuses are written in whatever plain encoding the client takes.
    let err_out = negotiate::negotiate(accept, false).map(|o| negotiate::Output { pretty: o.pretty || pretty, ..o });
    let fail = |s: crate::wire::Status| from_api(api::error(err_out, &s), gzip);
    let user = match state.auth.authenticate(identity, &parts.headers).await {
        Ok(Some(u)) => u,
        Ok(None) if state.auth.anonymous => User::anonymous(),
        Ok(None) => return fail(api::unauthorized()),
        Err(e) => {
            tracing::info!(error = %e, "Unable to authenticate the request");
            return fail(api::unauthorized());
        }
    };
    if !state.auth.always_allowed(&path) {
        let attrs = api::attributes(&parts.method, &path, &query);
        match state.auth.authorize(&user, &attrs).await {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return fail(api::forbidden(&user.name, &attrs, &reason)),
            Err(e) => {
                tracing::warn!(error = %e, "authorization failed");
                return fail(crate::wire::Status::failure(
                    500,
                    "InternalError",
                    format!("Internal error occurred: {e}"),
                    None,
                ));
            }
        }
    }
    if parts.method != http::Method::GET && parts.method != http::Method::HEAD {
        return fail(api::method_not_allowed());
    }
    let if_none_match = header(&parts.headers, http::header::IF_NONE_MATCH);
    route(state, &path, raw_query, &query, accept, pretty, gzip, if_none_match)
}

#[allow(clippy::too_many_arguments)]
fn route(
    state: &State,
    path: &str,
    raw_query: Option<&str>,
    query: &std::collections::BTreeMap<String, String>,
    accept: Option<&str>,
    pretty: bool,
    gzip: bool,
    if_none_match: Option<&str>,
) -> Resp {
    for endpoint in ["healthz", "livez", "readyz"] {
        let base = format!("/{endpoint}");
        if path == base || path.starts_with(&format!("{base}/")) {
            return health(state, endpoint, path[base.len()..].trim_start_matches('/'), raw_query);
        }
    }
    match path {
        "/metrics" => {
            let mut r = text(200, Bytes::new());
            *r.body_mut() = Pieces::new(state.metrics.page());
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return r;
        }
        "/version" => {
            // Written as Go's raw indented JSON, without a trailing newline.
            let body = serde_json::to_vec_pretty(&serde_json::json!({
                "major": "", "minor": "",
                "gitVersion": concat!("v", env!("CARGO_PKG_VERSION"), "-kubestate"),
                "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "", "compiler": "rustc",
                "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)
            }))
            .unwrap_or_default();
            let mut r = http::Response::new(Pieces::from(Bytes::from(body)));
            r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            return r;
        }
        _ => {}
    }
    if let Some((r, etag)) = crate::openapi::serve(path, if_none_match) {
        let mut resp = from_api(r, gzip);
        if let Some(e) = etag.and_then(|e| http::HeaderValue::from_str(&e).ok()) {
            resp.headers_mut().insert(http::header::ETAG, e);
        }
        return resp;
    }
    if path == "/apis" || path.starts_with("/apis/") {
        let req = api::Request { path, query, accept, pretty, now: now_nanos() };
        let now = req.now;
        let metrics = state.metrics.clone();
        let inv = state.cluster.read();
        let st = state.storage();
        let mut observe = |ts: i64| metrics.observe_freshness((now - ts) as f64 / 1e9);
        return from_api(api::handle(&req, &inv, &st, &state.node_selector, &mut observe), gzip);
    }
    text(404, "404 page not found\n")
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
            Some((_, true)) => text(200, "ok"),
            Some((n, false)) => text(500, format!("internal server error: {n} check failed\n")),
            None => text(404, "404 page not found\n"),
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
        return text(200, "ok");
    }
    out.push_str(&format!("{endpoint} check passed\n"));
    text(200, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::TokenSource;
    use http_body_util::{BodyExt, Empty};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn state(anonymous: bool) -> Arc<State> {
        state_with(
            anonymous,
            KubeletClient {
                tls: None,
                token: TokenSource::None,
                port: 10250,
                use_node_status_port: false,
                preferred_address_types: vec![],
                timeout: Duration::from_secs(1),
                pool: Default::default(),
                names: Default::default(),
            },
            LabelSelector::default(),
        )
    }

    fn state_with(anonymous: bool, kubelet: KubeletClient, node_selector: LabelSelector) -> Arc<State> {
        let auth = Auth::new(
            None,
            None,
            None,
            None,
            vec!["/healthz".into()],
            anonymous,
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        );
        let cluster = Arc::new(Cluster::default());
        cluster.nodes_synced.store(true, Ordering::Release);
        cluster.pods_synced.store(true, Ordering::Release);
        Arc::new(State {
            cluster,
            storage: RwLock::new(Storage::new(Duration::from_secs(15))),
            interner: Mutex::new(Interner::default()),
            metrics: Arc::new(SelfMetrics::new(15.0)),
            auth,
            kubelet: Arc::new(kubelet),
            node_selector,
            resolution: Duration::from_secs(15),
            last_tick_start: Mutex::new(None),
            was_ready: AtomicBool::new(false),
        })
    }

    #[tokio::test]
    async fn metrics_page_is_sent_in_pieces_with_its_exact_length() {
        use hyper::body::Body;
        let st = state(false);
        st.metrics.kubelet_request("n1", 1.0, 0.5, true);
        let r = route(&st, "/metrics", None, &Default::default(), None, false, false, None);
        assert_eq!(r.status(), 200);
        let hint = r.body().size_hint().exact().expect("an exact length, so it is sent with Content-Length");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(hint, body.len() as u64);
        let text = std::str::from_utf8(&body).unwrap();
        // The fresh process families, then the kept page of the others.
        let (process, own) =
            (text.find("process_open_fds ").unwrap(), text.find("metrics_server_kubelet_request_total").unwrap());
        assert!(process < own, "{text}");
        assert!(text.contains("metrics_server_kubelet_request_duration_seconds_count{node=\"n1\"} 1\n"), "{text}");
        assert!(text.ends_with('\n'));
        // Empty pieces are not sent as empty frames.
        assert_eq!(Pieces::new([Bytes::new(), Bytes::from_static(b"x")]).0.len(), 1);
    }

    /// A server on a free port with short timers; dropped with the returned sender.
    async fn start(limits: Limits, anonymous: bool) -> (u16, tokio::sync::oneshot::Sender<()>) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let resolver = crate::tls::ReloadingCert::new(vec![cert.cert.der().clone()], key).unwrap();
        let mut cfg = crate::tls::server_builder(None, &[]).unwrap().with_no_client_auth().with_cert_resolver(resolver);
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(serve(listener, Arc::new(cfg), state(anonymous), limits, async move {
            let _ = rx.await;
        }));
        (port, tx)
    }

    async fn tls(port: u16, alpn: &[u8]) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let mut cfg = (*crate::tls::kubelet_client_config(crate::tls::KubeletVerify::Insecure, None).unwrap()).clone();
        cfg.alpn_protocols = vec![alpn.to_vec()];
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.unwrap()
    }

    fn limits(read_header_ms: u64, idle_ms: u64) -> Limits {
        Limits {
            read_header: Duration::from_millis(read_header_ms),
            idle: Duration::from_millis(idle_ms),
            ..Limits::default()
        }
    }

    /// How long until the server closes `s` (reading and discarding), up to `limit`.
    async fn closed_after<S: tokio::io::AsyncRead + Unpin>(s: &mut S, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let mut sink = vec![0u8; 4096];
        loop {
            match tokio::time::timeout(limit.saturating_sub(start.elapsed()), s.read(&mut sink)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
                Ok(Ok(_)) => {}
                Err(_) => return None,
            }
        }
    }

    #[tokio::test]
    async fn plain_http_on_the_tls_port_gets_gos_400() {
        let (port, _stop) = start(Limits::default(), true).await;
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got)).await.unwrap().unwrap();
        assert_eq!(got, PLAIN_HTTP_ANSWER);
        assert!(looks_like_http(b"OPTIO") && looks_like_http(b"PUT /") && !looks_like_http(b"\x16\x03\x01\x02\x00"));
    }

    #[tokio::test]
    async fn silent_or_slow_clients_are_closed_after_the_header_timeout() {
        let (port, _stop) = start(limits(400, 5_000), true).await;
        // Nothing at all after the handshake (the HTTP/1-or-2 detection read).
        let mut silent = tls(port, b"http/1.1").await;
        let t = closed_after(&mut silent, Duration::from_secs(4)).await.expect("silent connection left open");
        assert!(t >= Duration::from_millis(300), "closed after {t:?}");
        // Also when HTTP/2 was agreed by ALPN and no preface follows.
        let mut silent_h2 = tls(port, b"h2").await;
        assert!(closed_after(&mut silent_h2, Duration::from_secs(4)).await.is_some());
        // Headers started but never finished.
        let mut slow = tls(port, b"http/1.1").await;
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Partial: ").await.unwrap();
        slow.flush().await.unwrap();
        assert!(closed_after(&mut slow, Duration::from_secs(4)).await.is_some());
    }

    #[tokio::test]
    async fn kept_alive_connections_get_the_idle_timeout_not_the_header_one() {
        let (port, _stop) = start(limits(300, 1_500), true).await;
        let io = TokioIo::new(tls(port, b"http/1.1").await);
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let conn = tokio::spawn(conn);
        let get = || http::Request::get("/healthz").header("host", "x").body(Empty::<Bytes>::new()).unwrap();
        let r = send.send_request(get()).await.unwrap();
        assert_eq!(r.status(), 200);
        r.into_body().collect().await.unwrap();
        // Longer than the header timeout, shorter than the idle one: still usable.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let r = send.send_request(get()).await.expect("idle connection closed before the idle timeout");
        assert_eq!(r.status(), 200);
        r.into_body().collect().await.unwrap();
        let start = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), conn)
            .await
            .expect("idle connection never closed")
            .unwrap()
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(1_200), "closed after {:?}", start.elapsed());
    }

    #[tokio::test]
    async fn idle_http2_connections_are_closed() {
        let (port, _stop) = start(limits(300, 1_000), true).await;
        let io = TokioIo::new(tls(port, b"h2").await);
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
        let conn = tokio::spawn(conn);
        let r = send.send_request(http::Request::get("https://x/healthz").body(Empty::<Bytes>::new()).unwrap()).await;
        assert_eq!(r.unwrap().status(), 200);
        let start = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), conn)
            .await
            .expect("idle h2 connection never closed")
            .unwrap()
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(800), "closed after {:?}", start.elapsed());
    }

    async fn get(port: u16, path: &str) -> http::Response<Bytes> {
        let io = TokioIo::new(tls(port, b"http/1.1").await);
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let req = http::Request::get(path).header("host", "x").body(Empty::<Bytes>::new()).unwrap();
        let (parts, body) = send.send_request(req).await.unwrap().into_parts();
        http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
    }

    #[tokio::test]
    async fn anonymous_requests_are_authorized_like_any_user() {
        let (port, _stop) = start(Limits::default(), true).await;
        let r = get(port, "/healthz").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-cache, private");
        assert_eq!(r.headers()["audit-id"].len(), 36);
        // No authorizer here: system:anonymous is denied with a 403, not refused with a 401.
        let r = get(port, "/apis/metrics.k8s.io/v1beta1/nodes").await;
        assert_eq!(r.status(), 403);
        assert!(
            String::from_utf8_lossy(r.body())
                .contains("User \\\"system:anonymous\\\" cannot list resource \\\"nodes\\\"")
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");

        let (port, _stop) = start(Limits::default(), false).await;
        for path in ["/healthz", "/apis/metrics.k8s.io/v1beta1/nodes", "/version"] {
            let r = get(port, path).await;
            assert_eq!(r.status(), 401, "{path}");
            assert_eq!(
                r.body().as_ref(),
                b"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n"
            );
            assert!(r.headers().get("x-content-type-options").is_none(), "the apiserver's 401 has no nosniff");
            assert_eq!(r.headers()["cache-control"], "no-cache, private");
        }
    }

    #[tokio::test]
    async fn ticks_forget_the_connections_and_names_of_nodes_no_longer_scraped() {
        use crate::scrape::tests::{plain_client, scripted_kubelet};
        let st = state_with(false, plain_client(Duration::from_secs(2)), LabelSelector::parse("scrape!=no").unwrap());
        let mut ports = Vec::new();
        for _ in 0..3 {
            ports.push(scripted_kubelet(vec![]).await.0);
        }
        let node = |port: u16| NodeInfo {
            addresses: vec![("InternalIP".into(), "127.0.0.1".into())],
            kubelet_port: port,
            ..Default::default()
        };
        {
            let mut inv = st.cluster.inventory.write().unwrap();
            for (name, port) in ["a", "b", "c"].into_iter().zip(&ports) {
                inv.nodes.insert(name.to_string(), node(*port));
            }
        }
        let kept = |st: &State| {
            let mut pooled: Vec<String> = ["a", "b", "c"]
                .into_iter()
                .filter(|n| st.kubelet.names.lock().unwrap().contains_key(*n))
                .map(String::from)
                .collect();
            pooled.push(st.kubelet.pool.len().to_string());
            pooled
        };
        st.tick().await;
        assert_eq!(kept(&st), ["a", "b", "c", "3"]);
        // A deleted node, and one the --node-selector no longer picks, keep nothing.
        {
            let mut inv = st.cluster.inventory.write().unwrap();
            inv.nodes.remove("b");
            inv.nodes.get_mut("c").unwrap().labels.insert("scrape".into(), "no".into());
        }
        st.tick().await;
        assert_eq!(kept(&st), ["a", "1"]);
    }

    #[test]
    fn audit_ids_look_like_uuids() {
        let id = audit_id();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert!(id.as_bytes()[14] == b'4');
        assert_ne!(audit_id(), id);
    }
}
