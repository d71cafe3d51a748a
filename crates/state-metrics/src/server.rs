//! A small HTTP/1.1 server (hyper) with Go `net/http`-style timeouts:
//! * read-header: from the accept (or the end of the TLS handshake) until the first request's headers
//!   are complete, and from the first byte of each later request until its headers are; also bounded
//!   by the read timeout, since requests here carry no body. A connection that never sends a byte is
//!   thus closed at this timeout, as Go's is, rather than held for the idle timeout;
//! * write: from the end of the request headers until the response body is finished — a scrape that
//!   takes longer is cut mid-stream, as upstream's is;
//! * idle: how long a keep-alive connection may wait for its next request.
//!
//! hyper's own header timer starts as soon as the connection waits for a request, which would close
//! keep-alive connections after the (short) header timeout; so each connection is watched by a small
//! state machine instead, fed by the socket reads and by the request/response lifecycle.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

pub type Body = BoxBody<Bytes, io::Error>;
pub type Request = http::Request<Incoming>;
pub type Response = http::Response<Body>;

/// A complete small body.
pub fn full(b: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(b.into()).map_err(|e: Infallible| match e {}).boxed()
}

/// A plain-text response.
pub fn text(status: http::StatusCode, body: impl Into<Bytes>) -> Response {
    let mut r = http::Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// Server timeouts; `None` (or zero) disables one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeouts {
    pub read: Option<Duration>,
    pub read_header: Option<Duration>,
    pub write: Option<Duration>,
    pub idle: Option<Duration>,
}

impl Timeouts {
    pub fn new(read: Duration, read_header: Duration, write: Duration, idle: Duration) -> Self {
        let nz = |d: Duration| (!d.is_zero()).then_some(d);
        Timeouts { read: nz(read), read_header: nz(read_header), write: nz(write), idle: nz(idle) }
    }

    /// Go uses the read timeout where no header timeout is set; with both, the earlier deadline wins.
    fn header(&self) -> Option<Duration> {
        match (self.read_header, self.read) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The telemetry port's. Upstream sets only its 5 s header timeout there, so one request would let a
    /// client hold the connection forever, idle or never reading its answer; the idle and write bounds
    /// are those of the main port's defaults (a telemetry answer takes milliseconds).
    pub fn telemetry() -> Self {
        Timeouts {
            read: None,
            read_header: Some(Duration::from_secs(5)),
            write: Some(Duration::from_secs(60)),
            idle: Some(Duration::from_secs(300)),
        }
    }

    /// Go falls back to the read timeout when no idle timeout is set.
    fn idle(&self) -> Option<Duration> {
        self.idle.or(self.read)
    }
}

/// Binds `host:port`. The wildcard `::` falls back to `0.0.0.0` where IPv6 is unavailable, as Go does.
pub async fn bind(host: &str, port: u16) -> io::Result<TcpListener> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host == "::" {
        return match TcpListener::bind(("::", port)).await {
            Ok(l) => Ok(l),
            Err(_) => TcpListener::bind(("0.0.0.0", port)).await,
        };
    }
    TcpListener::bind((host, port)).await
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for another request on a kept-alive connection since the instant given.
    Idle(Instant),
    /// Reading a request since the instant given: its first bytes, or the start of a new connection.
    Header(Instant),
    /// Serving a request; the response must be done by the deadline (if any).
    Busy(Option<Instant>),
}

struct ConnState {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl ConnState {
    fn set(&self, p: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = p;
        self.changed.notify_one();
    }

    fn get(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bytes_arrived(&self) {
        let mut g = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if let Phase::Idle(_) = *g {
            *g = Phase::Header(Instant::now());
            drop(g);
            self.changed.notify_one();
        }
    }
}

/// The socket (plain or TLS), reporting the first bytes of each request to the connection's state.
struct Watched<S> {
    io: S,
    state: Arc<ConnState>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r
            && buf.filled().len() > before
        {
            self.state.bytes_arrived();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A response body that marks the connection idle again once it is finished or dropped.
struct Guarded {
    inner: Body,
    state: Arc<ConnState>,
    done: bool,
}

impl Guarded {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.state.set(Phase::Idle(Instant::now()));
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.finish();
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None | Some(Err(_))) = r {
            self.finish();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `handler` on `listener` until `shutdown` turns true; then stops accepting, lets open
/// requests finish for up to `drain`, and returns.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    timeouts: Timeouts,
    shutdown: watch::Receiver<bool>,
    drain: Duration,
) where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    serve_with(listener, handler, timeouts, shutdown, drain, None).await;
}

/// How long a TLS handshake may take when no header/read timeout bounds it.
const HANDSHAKE_DEFAULT: Duration = Duration::from_secs(10);

/// [`serve`], speaking TLS with `tls` when given (the handshake counts against the header timeout).
pub async fn serve_with<H, F>(
    listener: TcpListener,
    handler: H,
    timeouts: Timeouts,
    shutdown: watch::Receiver<bool>,
    drain: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
) where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut conns = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let handler = handler.clone();
                    let stop = shutdown.clone();
                    let acceptor = acceptor.clone();
                    conns.spawn(async move {
                        let _ = stream.set_nodelay(true);
                        let Some(acceptor) = acceptor else {
                            return serve_conn(stream, peer, handler, timeouts, stop).await;
                        };
                        let limit = timeouts.header().unwrap_or(HANDSHAKE_DEFAULT);
                        match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => serve_conn(tls, peer, handler, timeouts, stop).await,
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
                Err(e) => {
                    // Usually EMFILE; back off a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut stop) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

/// Completes when the shutdown flag turns true (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn serve_conn<S, H, F>(
    stream: S,
    peer: SocketAddr,
    handler: H,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    // Go starts a new connection's header timer at once: a client that sends nothing gets no idle grace.
    let state = Arc::new(ConnState { phase: Mutex::new(Phase::Header(Instant::now())), changed: Notify::new() });
    let io = TokioIo::new(Watched { io: stream, state: state.clone() });
    let svc_state = state.clone();
    let write = timeouts.write;
    let service = hyper::service::service_fn(move |req: Request| {
        let handler = handler.clone();
        let state = svc_state.clone();
        async move {
            state.set(Phase::Busy(write.map(|w| Instant::now() + w)));
            let resp = handler(req).await;
            let (parts, body) = resp.into_parts();
            let body = Guarded { inner: body, state, done: false }.boxed();
            Ok::<_, Infallible>(http::Response::from_parts(parts, body))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut draining = false;
    loop {
        let wake = if draining {
            None
        } else {
            match state.get() {
                Phase::Idle(since) => timeouts.idle().map(|d| since + d),
                Phase::Header(since) => timeouts.header().map(|d| since + d),
                Phase::Busy(deadline) => deadline,
            }
        };
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = state.changed.notified() => {}
            _ = stopped(&mut stop), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = sleep => {
                match state.get() {
                    Phase::Idle(_) => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    Phase::Header(_) => {
                        tracing::debug!(%peer, "request header timeout; closing connection");
                        return;
                    }
                    Phase::Busy(_) => {
                        tracing::warn!(%peer, "write timeout; response cut");
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start(timeouts: Timeouts, slow_body: bool) -> (SocketAddr, watch::Sender<bool>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        let handler = move |req: Request| async move {
            if slow_body && req.uri().path() == "/slow" {
                let s = futures::stream::unfold(0u32, |i| async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    (i < 50).then(|| (Ok::<_, io::Error>(http_body::Frame::data(Bytes::from_static(b"x\n"))), i + 1))
                });
                return http::Response::new(http_body_util::StreamBody::new(s).boxed());
            }
            text(http::StatusCode::OK, format!("path {}", req.uri().path()))
        };
        tokio::spawn(serve(l, handler, timeouts, rx, Duration::from_secs(1)));
        (addr, tx)
    }

    async fn get(stream: &mut TcpStream, path: &str) -> String {
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[tokio::test]
    async fn keep_alive_survives_longer_than_header_timeout() {
        let t = Timeouts {
            read: None,
            read_header: Some(Duration::from_millis(200)),
            write: None,
            idle: Some(Duration::from_secs(5)),
        };
        let (addr, _stop) = start(t, false).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(get(&mut s, "/a").await.ends_with("path /a"));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(get(&mut s, "/b").await.ends_with("path /b"));
    }

    #[tokio::test]
    async fn incomplete_header_is_cut_after_header_timeout() {
        let t = Timeouts { read_header: Some(Duration::from_millis(200)), ..Timeouts::default() };
        let (addr, _stop) = start(t, false).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost").await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.unwrap().unwrap_or(0);
        assert_eq!(n, 0, "connection should be closed without a response");
    }

    #[tokio::test]
    async fn silent_new_connection_is_closed_at_header_timeout() {
        let t = Timeouts {
            read_header: Some(Duration::from_millis(200)),
            idle: Some(Duration::from_secs(60)),
            ..Timeouts::default()
        };
        let (addr, _stop) = start(t, false).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.expect("still open").unwrap_or(0);
        assert_eq!(n, 0);
    }

    /// SECURITY.md states the header bounds: 400 KiB of headers pass; hyper refuses a request once its
    /// buffer holds 408 KiB, checked between reads, so 820 KiB are always refused; 100 headers (Host
    /// and 99 more) pass, 101 do not.
    #[tokio::test]
    async fn request_headers_are_bounded() {
        let (addr, _stop) = start(Timeouts::telemetry(), false).await;
        let big = |size: usize| format!("Authorization: Bearer {}\r\n", "t".repeat(size));
        let many = |n: usize| (0..n).map(|i| format!("X-{i}: a\r\n")).collect::<String>();
        for (extra, status) in
            [(big(400 * 1024), "200"), (big(820 * 1024), "431"), (many(99), "200"), (many(100), "431")]
        {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET /a HTTP/1.1\r\nHost: x\r\n{extra}\r\n").as_bytes()).await.unwrap();
            let mut out = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_buf(&mut out)).await.unwrap();
            let head = String::from_utf8_lossy(&out);
            assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{}: {head}", extra.len());
        }
    }

    #[test]
    fn telemetry_port_bounds_every_wait() {
        let t = Timeouts::telemetry();
        assert_eq!(t.header(), Some(Duration::from_secs(5)));
        assert!(t.idle().is_some() && t.write.is_some());
    }

    #[tokio::test]
    async fn idle_connection_is_closed() {
        let t = Timeouts { idle: Some(Duration::from_millis(200)), ..Timeouts::default() };
        let (addr, _stop) = start(t, false).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(get(&mut s, "/a").await.ends_with("path /a"));
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.unwrap().unwrap_or(0);
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn slow_response_is_cut_at_write_timeout() {
        let t = Timeouts { write: Some(Duration::from_millis(300)), ..Timeouts::default() };
        let (addr, _stop) = start(t, true).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let started = std::time::Instant::now();
        let mut all = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(4), s.read_to_end(&mut all)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        // The body would be 50 lines; the cut leaves only a few.
        let body_lines = String::from_utf8_lossy(&all).matches("x\n").count();
        assert!(body_lines < 10, "{body_lines}");
    }

    #[tokio::test]
    async fn shutdown_stops_accepting() {
        let (addr, stop) = start(Timeouts::default(), false).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(get(&mut s, "/a").await.ends_with("path /a"));
        stop.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[test]
    fn zero_durations_disable_timeouts() {
        let t = Timeouts::new(Duration::ZERO, Duration::from_secs(5), Duration::ZERO, Duration::ZERO);
        assert_eq!(t.header(), Some(Duration::from_secs(5)));
        assert_eq!(t.write, None);
        assert_eq!(t.idle(), None);
        let t = Timeouts::new(Duration::from_secs(2), Duration::from_secs(5), Duration::ZERO, Duration::ZERO);
        assert_eq!(t.header(), Some(Duration::from_secs(2)));
        assert_eq!(t.idle(), Some(Duration::from_secs(2)));
    }
}
