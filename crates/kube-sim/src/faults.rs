//! Run-time fault injection: what a flaky API server does to its clients, switched on and off while
//! the simulator runs.
//!
//! Every fault is reachable two ways:
//!
//! * from Rust, through [`crate::SimHandle::faults`] (tests in the same process);
//! * over HTTP, on a separate admin listener (`kubestate sim --admin-address 127.0.0.1:PORT`, or
//!   [`crate::SimHandle::serve_admin`]). It is a separate port so that stopping the API port can be
//!   driven over HTTP too. The admin port has no authentication: bind it to loopback.
//!
//! Admin routes (answers are JSON; every `POST` answers with the state after the change):
//!
//! | route | effect |
//! |---|---|
//! | `GET /faults` | current state: listening, latency, pending errors, counters |
//! | `GET /faults/requests?prefix=/api/v1/pods` | requests seen under a path prefix: count and times (ms since start) |
//! | `POST /faults/cut-watches` | every open watch stream ends now |
//! | `POST /faults/fail?n=3&code=429&retry_after=2&prefix=/api` | the next `n` API requests under `prefix` (default `/`) answer `code` (default 500), with `Retry-After: retry_after` seconds when given |
//! | `POST /faults/latency?ms=200` | every API request waits this long before it is served (watches before their first byte); `ms=0` ends it |
//! | `POST /faults/expire` | forget the event window: every watch resuming from a version seen so far gets 410 Gone |
//! | `POST /faults/stop` | stop accepting connections and drop the open ones (clients see "connection refused") |
//! | `POST /faults/start` | listen again, on the same address |
//! | `POST /faults/clear` | drop pending errors and latency, listen again |
//! | `POST /faults/streaming-lists?enabled=false` | refuse streaming lists as a kube-apiserver on etcd < 3.4.31 does (`enabled=true` serves them again) |
//! | `POST /faults/feature-gates?ShardedListAndWatch=true` | switch the KEP-5866 feature gate: `shardSelector` honoured (see [`crate::shard`]) or ignored |
//! | `GET /requests?prefix=/api/v1/pods&verb=list` | per-request accounting (see [`crate::accounting`]): every request with its method, path, query, verb, status, content type and bytes sent, plus totals |
//! | `POST /requests/reset` | forget the requests seen so far |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::accounting::RequestLog;
use crate::http::Body;
use crate::store::Store;

/// How long stop/start wait for the accept loop to follow.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Failures of fault control.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error(
        "the API listener did not {0} within {SWITCH_TIMEOUT:?} (is the simulator shut down, or the address taken?)"
    )]
    Switch(&'static str),
    #[error("invalid parameter {name}: {value:?}")]
    Param { name: &'static str, value: String },
}

/// A scheduled failure: the next `remaining` requests under `prefix` answer `code`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorFault {
    pub prefix: String,
    pub code: u16,
    pub remaining: usize,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    #[serde(serialize_with = "secs")]
    pub retry_after: Option<Duration>,
}

fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&retry_after_secs(*d)),
        None => s.serialize_none(),
    }
}

pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The fault controls of one simulator. Cheap to share; every method takes `&self`.
pub struct Faults {
    store: Arc<Store>,
    start: Instant,
    cut: Mutex<CancellationToken>,
    /// Cancelled (and replaced) when the API port stops: ends every open connection.
    conns: Mutex<CancellationToken>,
    errors: Mutex<Vec<ErrorFault>>,
    latency_us: AtomicU64,
    /// Whether the API port should listen, and whether it does.
    want_listening: watch::Sender<bool>,
    listening: watch::Sender<bool>,
    /// Every request served (see [`crate::accounting`]).
    pub(crate) log: RequestLog,
    /// Whether streaming lists are served (false: refused as on etcd < 3.4.31).
    streaming_lists: AtomicBool,
    /// The ShardedListAndWatch feature gate.
    sharded: AtomicBool,
    cuts: AtomicU64,
    expiries: AtomicU64,
    injected: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            start: Instant::now(),
            cut: Mutex::new(CancellationToken::new()),
            conns: Mutex::new(CancellationToken::new()),
            errors: Mutex::new(Vec::new()),
            latency_us: AtomicU64::new(0),
            want_listening: watch::Sender::new(true),
            listening: watch::Sender::new(false),
            log: RequestLog::default(),
            streaming_lists: AtomicBool::new(true),
            sharded: AtomicBool::new(false),
            cuts: AtomicU64::new(0),
            expiries: AtomicU64::new(0),
            injected: AtomicU64::new(0),
        }
    }

    /// End every open watch now; new watches are unaffected.
    pub fn cut_watches(&self) {
        let mut g = lock(&self.cut);
        g.cancel();
        *g = CancellationToken::new();
        self.cuts.fetch_add(1, Ordering::Relaxed);
    }

    /// Fires when the watches open now are cut.
    pub(crate) fn cut_token(&self) -> CancellationToken {
        lock(&self.cut).clone()
    }

    /// Fires when the connections open now are dropped by [`Faults::stop_listening`].
    pub(crate) fn conn_token(&self) -> CancellationToken {
        lock(&self.conns).clone()
    }

    /// The next `n` requests whose path starts with `path_prefix` fail with HTTP `code`, with a
    /// `Retry-After` header when `retry_after` is given. Schedules add up; the oldest matching one is
    /// used first.
    pub fn fail_next(&self, n: usize, code: u16, retry_after: Option<Duration>, path_prefix: &str) {
        if n == 0 {
            return;
        }
        lock(&self.errors).push(ErrorFault { prefix: path_prefix.to_string(), code, remaining: n, retry_after });
    }

    /// The scheduled failure for a request to `path`, if any; counts it down.
    pub(crate) fn take_error(&self, path: &str) -> Option<(u16, Option<Duration>)> {
        let mut g = lock(&self.errors);
        let f = g.iter_mut().find(|f| f.remaining > 0 && path.starts_with(&f.prefix))?;
        f.remaining -= 1;
        let out = (f.code, f.retry_after);
        g.retain(|f| f.remaining > 0);
        self.injected.fetch_add(1, Ordering::Relaxed);
        Some(out)
    }

    /// Failures still scheduled.
    pub fn pending_errors(&self) -> Vec<ErrorFault> {
        lock(&self.errors).clone()
    }

    /// Every API request waits `d` before it is served (a watch before its first byte); zero ends it.
    pub fn set_latency(&self, d: Duration) {
        self.latency_us.store(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    /// Forget the event window so that every watch resuming from a resourceVersion handed out so far
    /// gets 410 Gone and must relist.
    ///
    /// Forgetting alone would spare a watcher that is exactly up to date (resuming from the newest
    /// version loses nothing). To expire those too, the store's version is first moved on by creating
    /// and deleting a core/v1 Event in kube-system — a kind the exporters do not watch — so the newest
    /// version anyone holds is behind the compaction point, while a relist returns a version a new
    /// watch can start from (no 410 loop).
    pub fn expire_events(&self) {
        let name = format!("kube-sim-expiry-{}", crate::store::new_uid());
        let marker = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "kube-system"},
            "involvedObject": {"kind": "Namespace", "name": "kube-system", "apiVersion": "v1"},
            "reason": "KubeSimExpiry", "message": "event window expired by fault injection", "type": "Normal"
        });
        match self.store.create(marker) {
            Ok(_) => {
                if let Err(e) = self.store.delete("v1", "Event", Some("kube-system"), &name) {
                    tracing::warn!(error = %e.message, "removing the expiry marker event");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e.message, "creating the expiry marker event; watchers that are up to date keep their watch")
            }
        }
        self.store.expire_events();
        self.expiries.fetch_add(1, Ordering::Relaxed);
    }

    /// Stop accepting API connections and drop every open one (watches included). Returns once the
    /// listening socket is closed, so a client connecting afterwards is refused.
    pub async fn stop_listening(&self) -> Result<(), FaultError> {
        self.want_listening.send_replace(false);
        {
            let mut g = lock(&self.conns);
            g.cancel();
            *g = CancellationToken::new();
        }
        self.cut_watches();
        self.wait_listening(false).await.map_err(|_| FaultError::Switch("stop listening"))
    }

    /// Listen again on the same address. Returns once connections are accepted.
    pub async fn start_listening(&self) -> Result<(), FaultError> {
        self.want_listening.send_replace(true);
        self.wait_listening(true).await.map_err(|_| FaultError::Switch("start listening"))
    }

    /// Whether the API port accepts connections now.
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    async fn wait_listening(&self, want: bool) -> Result<(), ()> {
        let mut rx = self.listening.subscribe();
        match tokio::time::timeout(SWITCH_TIMEOUT, rx.wait_for(|l| *l == want)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(()),
        }
    }

    /// Drop pending errors and latency and listen again: the simulator behaves normally from here.
    pub async fn clear(&self) -> Result<(), FaultError> {
        lock(&self.errors).clear();
        self.set_latency(Duration::ZERO);
        if !self.is_listening() { self.start_listening().await } else { Ok(()) }
    }

    /// When requests whose path starts with `prefix` arrived (oldest first; the last 50,000 requests
    /// of any path are remembered).
    pub fn requests(&self, prefix: &str) -> Vec<Instant> {
        self.log.arrivals(prefix)
    }

    /// Forget the requests seen so far.
    pub fn clear_requests(&self) {
        self.log.reset();
    }

    /// Serve streaming lists (`sendInitialEvents=true`), or refuse them as a kube-apiserver v1.36 on
    /// etcd older than 3.4.31 does: 200, one ERROR event with a 500 Status, end of stream.
    pub fn set_streaming_lists(&self, served: bool) {
        self.streaming_lists.store(served, Ordering::Relaxed);
    }

    pub fn streaming_lists(&self) -> bool {
        self.streaming_lists.load(Ordering::Relaxed)
    }

    /// The `ShardedListAndWatch` feature gate: `shardSelector` honoured, or ignored.
    pub fn set_sharded_list_and_watch(&self, on: bool) {
        self.sharded.store(on, Ordering::Relaxed);
    }

    pub fn sharded_list_and_watch(&self) -> bool {
        self.sharded.load(Ordering::Relaxed)
    }

    /// The current state, as `GET /faults` shows it.
    pub fn state_json(&self) -> Value {
        json!({
            "listening": self.is_listening(),
            "wantListening": *self.want_listening.borrow(),
            "latencyMs": self.latency().as_secs_f64() * 1000.0,
            "errors": self.pending_errors(),
            "watchCuts": self.cuts.load(Ordering::Relaxed),
            "expiries": self.expiries.load(Ordering::Relaxed),
            "injectedErrors": self.injected.load(Ordering::Relaxed),
            "requests": self.log.len(),
            "streamingLists": self.streaming_lists(),
            "featureGates": {"ShardedListAndWatch": self.sharded_list_and_watch()},
        })
    }

    /// Serve API connections from `listener` until `shutdown`, closing and re-binding its address
    /// as [`Faults::stop_listening`] and [`Faults::start_listening`] ask. `on_conn` serves one
    /// accepted connection until it ends or the token it is given fires.
    pub(crate) async fn accept_loop<F>(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
        on_conn: F,
    ) where
        F: Fn(tokio::net::TcpStream, SocketAddr, CancellationToken),
    {
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "listener has no address");
                return;
            }
        };
        let mut want = self.want_listening.subscribe();
        let mut listener = Some(listener);
        self.listening.send_replace(*want.borrow());
        loop {
            match &listener {
                Some(l) => {
                    let accepted = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = want.wait_for(|w| !*w) => None,
                        r = l.accept() => Some(r),
                    };
                    match accepted {
                        None => {
                            listener = None;
                            self.listening.send_replace(false);
                            tracing::info!(%addr, "fault injection: API port closed");
                        }
                        Some(Ok((stream, peer))) => {
                            // Accepted in the instant a stop was asked for: it must not survive the stop.
                            if *want.borrow() {
                                on_conn(stream, peer, self.conn_token());
                            }
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                None => {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = want.wait_for(|w| *w) => {}
                    }
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(l) => {
                            listener = Some(l);
                            self.listening.send_replace(true);
                            tracing::info!(%addr, "fault injection: API port listening again");
                        }
                        Err(e) => {
                            tracing::warn!(%addr, error = %e, "re-binding the API port; retrying");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        }
    }
}

/// One admin request: `(method, path, query)` in, `(status, JSON)` out.
pub async fn admin_route(faults: &Faults, method: &Method, path: &str, query: Option<&str>) -> (StatusCode, Value) {
    let q = crate::http::parse_query(query);
    let post = *method == Method::POST;
    let res: Result<Value, FaultError> = match (path.trim_end_matches('/'), post) {
        ("/faults", false) if *method == Method::GET => Ok(faults.state_json()),
        ("/faults/requests", false) if *method == Method::GET => {
            let prefix = q.get("prefix").map_or("/", String::as_str);
            let times: Vec<u64> = faults
                .requests(prefix)
                .iter()
                .map(|t| u64::try_from(t.duration_since(faults.start).as_millis()).unwrap_or(u64::MAX))
                .collect();
            Ok(json!({"prefix": prefix, "count": times.len(), "timesMs": times}))
        }
        ("/faults/cut-watches", true) => {
            faults.cut_watches();
            Ok(faults.state_json())
        }
        ("/faults/fail", true) => (|| {
            let n = param(&q, "n", 1usize)?;
            let code = param(&q, "code", 500u16)?;
            if !(400..=599).contains(&code) {
                return Err(FaultError::Param { name: "code", value: code.to_string() });
            }
            let retry = q
                .get("retry_after")
                .map(|v| v.parse::<u64>().map_err(|_| FaultError::Param { name: "retry_after", value: v.clone() }))
                .transpose()?
                .map(Duration::from_secs);
            let prefix = q.get("prefix").map_or("/", String::as_str);
            if !prefix.starts_with('/') {
                return Err(FaultError::Param { name: "prefix", value: prefix.to_string() });
            }
            faults.fail_next(n, code, retry, prefix);
            Ok(faults.state_json())
        })(),
        ("/faults/latency", true) => param(&q, "ms", 0u64).map(|ms| {
            faults.set_latency(Duration::from_millis(ms));
            faults.state_json()
        }),
        ("/faults/expire", true) => {
            faults.expire_events();
            Ok(faults.state_json())
        }
        ("/faults/stop", true) => faults.stop_listening().await.map(|()| faults.state_json()),
        ("/faults/start", true) => faults.start_listening().await.map(|()| faults.state_json()),
        ("/faults/clear", true) => faults.clear().await.map(|()| faults.state_json()),
        ("/faults/streaming-lists", true) => param(&q, "enabled", true).map(|on| {
            faults.set_streaming_lists(on);
            faults.state_json()
        }),
        ("/faults/feature-gates", true) => {
            param(&q, "ShardedListAndWatch", faults.sharded_list_and_watch()).map(|on| {
                faults.set_sharded_list_and_watch(on);
                faults.state_json()
            })
        }
        ("/requests", false) if *method == Method::GET => Ok(requests_json(faults, &q)),
        ("/requests/reset", true) => {
            faults.clear_requests();
            Ok(requests_json(faults, &q))
        }
        (
            "/faults"
            | "/faults/requests"
            | "/faults/cut-watches"
            | "/faults/fail"
            | "/faults/latency"
            | "/faults/expire"
            | "/faults/stop"
            | "/faults/start"
            | "/faults/clear"
            | "/faults/streaming-lists"
            | "/faults/feature-gates"
            | "/requests"
            | "/requests/reset",
            _,
        ) => return (StatusCode::METHOD_NOT_ALLOWED, json!({"error": format!("{method} not allowed on {path}")})),
        _ => return (StatusCode::NOT_FOUND, json!({"error": format!("no route {path}; see GET /faults")})),
    };
    match res {
        Ok(v) => (StatusCode::OK, v),
        Err(e @ FaultError::Param { .. }) => (StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, json!({"error": e.to_string()})),
    }
}

/// The request log, filtered by `prefix` (path), `verb` and `method`, with totals.
fn requests_json(faults: &Faults, q: &std::collections::HashMap<String, String>) -> Value {
    let prefix = q.get("prefix").map_or("/", String::as_str);
    let keep = |r: &crate::accounting::RequestRecord| {
        r.path.starts_with(prefix)
            && q.get("verb").is_none_or(|v| *v == r.verb)
            && q.get("method").is_none_or(|m| m.eq_ignore_ascii_case(&r.method))
    };
    let records: Vec<_> = faults.log.records().into_iter().filter(keep).collect();
    let bytes: u64 = records.iter().map(|r| r.bytes).sum();
    json!({"count": records.len(), "bytes": bytes, "requests": records})
}

fn param<T: std::str::FromStr>(
    q: &std::collections::HashMap<String, String>,
    name: &'static str,
    default: T,
) -> Result<T, FaultError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| FaultError::Param { name, value: v.clone() }),
    }
}

async fn admin_handle(faults: Arc<Faults>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let (status, v) = admin_route(&faults, req.method(), req.uri().path(), req.uri().query()).await;
    let mut r = Response::new(Full::new(Bytes::from(serde_json::to_vec(&v).unwrap_or_default())).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Serve the admin routes (plain HTTP) from `listener` until `shutdown`.
pub async fn serve_admin(faults: Arc<Faults>, listener: tokio::net::TcpListener, shutdown: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let faults = faults.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let faults = faults.clone();
                async move { Ok::<_, Infallible>(admin_handle(faults, req).await) }
            });
            let conn =
                hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            tokio::select! {
                r = conn => if let Err(e) = r { tracing::debug!(%peer, error = %e, "admin connection ended with error") },
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults() -> Faults {
        Faults::new(Arc::new(Store::new(100)))
    }

    #[test]
    fn errors_count_down_by_prefix_in_order() {
        let f = faults();
        f.fail_next(2, 503, Some(Duration::from_millis(1500)), "/api/v1/pods");
        f.fail_next(1, 429, None, "/api");
        f.fail_next(0, 500, None, "/");
        assert_eq!(f.pending_errors().len(), 2);
        assert_eq!(f.take_error("/healthz"), None);
        assert_eq!(f.take_error("/api/v1/pods"), Some((503, Some(Duration::from_millis(1500)))));
        assert_eq!(f.take_error("/api/v1/configmaps"), Some((429, None)));
        assert_eq!(f.take_error("/api/v1/configmaps"), None);
        assert_eq!(f.take_error("/api/v1/pods"), Some((503, Some(Duration::from_millis(1500)))));
        assert_eq!(f.take_error("/api/v1/pods"), None);
        assert!(f.pending_errors().is_empty());
        assert_eq!(f.state_json()["injectedErrors"], 3);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn expiry_moves_the_compaction_point_past_every_handed_out_version() {
        let f = faults();
        let before = f.store.current_rv();
        f.expire_events();
        assert!(f.store.compacted_rv() > before, "{} <= {before}", f.store.compacted_rv());
        assert_eq!(f.store.compacted_rv(), f.store.current_rv());
        assert!(f.store.list("v1", "Event", Some("kube-system")).is_empty(), "marker event left behind");
    }

    #[test]
    fn request_log_filters_by_prefix_and_is_bounded() {
        use crate::accounting::REQUEST_LOG;
        let f = faults();
        let record = |p: &str| drop(f.log.begin("GET", p, None, None, None));
        record("/api/v1/pods");
        record("/apis/apps/v1/deployments");
        record("/api/v1/pods");
        assert_eq!(f.requests("/api/v1/pods").len(), 2);
        assert_eq!(f.requests("/").len(), 3);
        for _ in 0..REQUEST_LOG {
            record("/x");
        }
        assert_eq!(f.requests("/").len(), REQUEST_LOG);
        assert!(f.requests("/api").is_empty());
        f.clear_requests();
        assert!(f.requests("/").is_empty());
    }

    /// One HTTP/1.1 request over a fresh connection: (status, headers and body as text).
    async fn http(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            crate::DEFAULT_TOKEN
        );
        s.write_all(req.as_bytes()).await?;
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .map_err(std::io::Error::other)??;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        Ok((status, text))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admin_endpoint_drives_the_api_port_over_http() {
        let cfg = crate::SimConfig { tls: false, kubelets: false, ..Default::default() };
        let mut sim = crate::start(cfg).await.unwrap();
        let api = sim.addr();
        let admin = sim.serve_admin(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let (s, body) = http(admin, "GET", "/faults").await.unwrap();
        assert!(s == 200 && body.contains("\"listening\":true"), "{body}");

        // Errors with Retry-After, counted down, for one prefix only.
        let (s, body) =
            http(admin, "POST", "/faults/fail?n=2&code=429&retry_after=2&prefix=/api/v1/configmaps").await.unwrap();
        assert_eq!(s, 200, "{body}");
        for _ in 0..2 {
            let (s, body) = http(api, "GET", "/api/v1/configmaps").await.unwrap();
            assert_eq!(s, 429, "{body}");
            assert!(body.to_ascii_lowercase().contains("retry-after: 2\r\n"), "{body}");
        }
        assert_eq!(http(api, "GET", "/api/v1/configmaps").await.unwrap().0, 200);
        let (_, body) = http(admin, "GET", "/faults/requests?prefix=/api/v1/configmaps").await.unwrap();
        assert!(body.contains("\"count\":3"), "{body}");

        // Latency applies to every API request.
        http(admin, "POST", "/faults/latency?ms=300").await.unwrap();
        let t = Instant::now();
        assert_eq!(http(api, "GET", "/api/v1/namespaces").await.unwrap().0, 200);
        assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
        http(admin, "POST", "/faults/latency?ms=0").await.unwrap();

        // A watch ends when watches are cut.
        let watch = tokio::spawn(http(api, "GET", "/api/v1/configmaps?watch=true"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!watch.is_finished());
        http(admin, "POST", "/faults/cut-watches").await.unwrap();
        let (s, _) = tokio::time::timeout(Duration::from_secs(5), watch).await.unwrap().unwrap().unwrap();
        assert_eq!(s, 200);

        // After expiry, resuming from the newest version handed out is 410 Gone.
        let rv = sim.store().current_rv();
        http(admin, "POST", "/faults/expire").await.unwrap();
        let (s, body) = http(api, "GET", &format!("/api/v1/configmaps?watch=true&resourceVersion={rv}")).await.unwrap();
        assert!(s == 200 && body.contains("\"type\":\"ERROR\"") && body.contains("\"code\":410"), "{body}");

        // Stop: open connections drop, new ones are refused; start: the same address serves again.
        let held = tokio::spawn(http(api, "GET", "/api/v1/secrets?watch=true"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (s, body) = http(admin, "POST", "/faults/stop").await.unwrap();
        assert!(s == 200 && body.contains("\"listening\":false"), "{body}");
        let _ = tokio::time::timeout(Duration::from_secs(5), held).await.expect("open watch dropped on stop");
        let refused = http(api, "GET", "/version").await;
        assert!(refused.is_err(), "{refused:?}");
        let (s, body) = http(admin, "POST", "/faults/start").await.unwrap();
        assert!(s == 200 && body.contains("\"listening\":true"), "{body}");
        assert_eq!(http(api, "GET", "/version").await.unwrap().0, 200);
        assert_eq!(sim.addr(), api);

        // The Rust API sees the same state.
        assert!(sim.faults().is_listening());
        // One explicit cut, one by the stop.
        assert_eq!(sim.faults().state_json()["watchCuts"].as_u64(), Some(2));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn admin_routes_validate_and_change_state() {
        let f = faults();
        let post = Method::POST;
        let (s, v) = admin_route(&f, &post, "/faults/fail", Some("n=3&code=429&retry_after=2&prefix=/api")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["errors"], json!([{"prefix": "/api", "code": 429, "remaining": 3, "retry_after": 2}]));
        let (s, v) = admin_route(&f, &post, "/faults/latency", Some("ms=250")).await;
        assert_eq!((s, v["latencyMs"].as_f64()), (StatusCode::OK, Some(250.0)));
        assert_eq!(f.latency(), Duration::from_millis(250));
        for bad in ["n=x", "code=200", "code=429&retry_after=-1", "prefix=api"] {
            let (s, v) = admin_route(&f, &post, "/faults/fail", Some(bad)).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        }
        assert_eq!(admin_route(&f, &Method::GET, "/faults/fail", None).await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(admin_route(&f, &post, "/faults", None).await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(admin_route(&f, &post, "/nope", None).await.0, StatusCode::NOT_FOUND);
        let (s, v) = admin_route(&f, &post, "/faults/cut-watches", None).await;
        assert_eq!((s, &v["watchCuts"]), (StatusCode::OK, &json!(1)));
        let (s, v) = admin_route(&f, &post, "/faults/latency", Some("ms=0")).await;
        assert_eq!((s, v["latencyMs"].as_f64()), (StatusCode::OK, Some(0.0)));
        let (s, v) = admin_route(&f, &post, "/faults/expire", None).await;
        assert_eq!((s, &v["expiries"]), (StatusCode::OK, &json!(1)));
    }
}
