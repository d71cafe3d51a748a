//! Per-request accounting: every API request's method, path, query, verb, response status, content type
//! and body bytes sent, so tests and the benchmark can count what a client asked for and what it cost.
//!
//! Read it in-process with [`crate::SimHandle::requests`] or over the admin port (`GET /requests`); a
//! watch's byte count grows while its stream is open (`done` turns true when the body ends or the
//! client goes away).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use http::Response;
use http_body_util::BodyExt;

use crate::http::Body;

/// Requests remembered; older ones are forgotten first.
pub const REQUEST_LOG: usize = 50_000;

/// The verb a resource route settled on, carried from the router to the log in response extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verb(pub &'static str);

struct Entry {
    seq: u64,
    at: Instant,
    method: String,
    path: String,
    query: String,
    accept: String,
    accept_encoding: String,
    verb: OnceLock<&'static str>,
    status: AtomicU16,
    content_type: OnceLock<String>,
    bytes: AtomicU64,
    done: AtomicBool,
}

/// One request as the log saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Order of arrival, from 1; survives [`RequestLog::reset`].
    pub seq: u64,
    /// Milliseconds since the simulator started.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    /// The query string as sent (still percent-encoded); empty when there was none.
    pub query: String,
    /// The request's Accept header as sent; empty when there was none.
    pub accept: String,
    /// The request's Accept-Encoding header as sent; empty when there was none. (kube-sim never
    /// compresses; a real server gzips answers over 128 KiB for a client that asks.)
    pub accept_encoding: String,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection; `other` for
    /// discovery and other non-resource paths.
    pub verb: String,
    /// HTTP status of the response (a watch refused inside its stream is still 200).
    pub status: u16,
    pub content_type: String,
    /// `protobuf`, `json` or `other`, from the content type: what the client was answered in.
    pub encoding: &'static str,
    /// Body bytes sent so far (headers and transfer framing not counted).
    pub bytes: u64,
    /// The body has ended (or the client went away).
    pub done: bool,
}

impl RequestRecord {
    /// A watch that asked for the initial state first (a streaming list).
    pub fn is_streaming_list(&self) -> bool {
        self.verb == "watch" && query_flag(&self.query, "sendInitialEvents")
    }
    /// Value of a query parameter, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

fn query_flag(query: &str, name: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == name && (v == "true" || v == "1"))
}

/// The request log of one simulator.
pub struct RequestLog {
    start: Instant,
    next: AtomicU64,
    entries: Mutex<VecDeque<Arc<Entry>>>,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self { start: Instant::now(), next: AtomicU64::new(1), entries: Mutex::new(VecDeque::new()) }
    }
}

/// A request being served: finish it with its response.
pub(crate) struct Pending(Arc<Entry>);

impl RequestLog {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record a request as it arrives.
    pub(crate) fn begin(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        accept: Option<&str>,
        accept_encoding: Option<&str>,
    ) -> Pending {
        let e = Arc::new(Entry {
            seq: self.next.fetch_add(1, Ordering::Relaxed),
            at: Instant::now(),
            method: method.to_string(),
            path: path.to_string(),
            query: query.unwrap_or_default().to_string(),
            accept: accept.unwrap_or_default().to_string(),
            accept_encoding: accept_encoding.unwrap_or_default().to_string(),
            verb: OnceLock::new(),
            status: AtomicU16::new(0),
            content_type: OnceLock::new(),
            bytes: AtomicU64::new(0),
            done: AtomicBool::new(false),
        });
        let mut g = self.lock();
        if g.len() >= REQUEST_LOG {
            g.pop_front();
        }
        g.push_back(e.clone());
        Pending(e)
    }

    /// Every request remembered, oldest first.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.lock().iter().map(|e| self.record(e)).collect()
    }

    /// When requests under `prefix` arrived, oldest first.
    pub fn arrivals(&self, prefix: &str) -> Vec<Instant> {
        self.lock().iter().filter(|e| e.path.starts_with(prefix)).map(|e| e.at).collect()
    }

    /// Number of requests remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forget every request seen so far (open watches keep counting into records no longer listed).
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn record(&self, e: &Entry) -> RequestRecord {
        RequestRecord {
            seq: e.seq,
            at_ms: u64::try_from(e.at.duration_since(self.start).as_millis()).unwrap_or(u64::MAX),
            method: e.method.clone(),
            path: e.path.clone(),
            query: e.query.clone(),
            accept: e.accept.clone(),
            accept_encoding: e.accept_encoding.clone(),
            verb: e.verb.get().copied().unwrap_or("other").to_string(),
            status: e.status.load(Ordering::Relaxed),
            content_type: e.content_type.get().cloned().unwrap_or_default(),
            encoding: encoding_of(e.content_type.get().map_or("", String::as_str)),
            bytes: e.bytes.load(Ordering::Relaxed),
            done: e.done.load(Ordering::Relaxed),
        }
    }
}

/// Marks the entry done when the response body is dropped, whether it ended or the client left.
struct DoneOnDrop(Arc<Entry>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::Relaxed);
    }
}

impl Pending {
    /// Note the response's status and content type and count the body bytes as they are sent.
    pub(crate) fn finish(self, resp: Response<Body>) -> Response<Body> {
        let e = self.0;
        let verb = resp.extensions().get::<Verb>().map(|v| v.0).unwrap_or_else(|| default_verb(&e));
        let _ = e.verb.set(verb);
        e.status.store(resp.status().as_u16(), Ordering::Relaxed);
        let ct = resp.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let _ = e.content_type.set(ct.to_string());
        let guard = DoneOnDrop(e);
        resp.map(move |b| {
            b.map_frame(move |f| {
                if let Some(d) = f.data_ref() {
                    guard.0.bytes.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                f
            })
            .boxed()
        })
    }
}

fn encoding_of(content_type: &str) -> &'static str {
    if content_type.starts_with(kwire::MEDIA_TYPE) {
        "protobuf"
    } else if content_type.starts_with("application/json") {
        "json"
    } else {
        "other"
    }
}

/// The verb of a request the resource router did not classify.
fn default_verb(e: &Entry) -> &'static str {
    let resource = e.path.starts_with("/api/") || e.path.starts_with("/apis/");
    match e.method.as_str() {
        "GET" if resource && query_flag(&e.query, "watch") => "watch",
        "GET" if resource => "get",
        "POST" if resource => "create",
        "PUT" if resource => "update",
        "PATCH" if resource => "patch",
        "DELETE" if resource => "delete",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;

    #[tokio::test]
    async fn records_status_type_bytes_and_end() {
        let log = RequestLog::default();
        let p = log.begin("GET", "/api/v1/pods", Some("watch=1&sendInitialEvents=true"), None, None);
        let mut r = Response::new(Full::new(Bytes::from_static(b"0123456789")).boxed());
        r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        let r = p.finish(r);
        let rec = &log.records()[0];
        assert_eq!((rec.verb.as_str(), rec.status, rec.bytes, rec.done), ("watch", 200, 0, false));
        assert!(rec.is_streaming_list());
        assert_eq!(rec.param("sendInitialEvents").as_deref(), Some("true"));
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 10);
        let rec = &log.records()[0];
        assert_eq!(
            (rec.bytes, rec.done, rec.content_type.as_str(), rec.encoding),
            (10, true, "application/json", "json")
        );

        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        r.extensions_mut().insert(Verb("list"));
        drop(log.begin("GET", "/api/v1/pods", None, None, None).finish(r));
        let p = log.begin("GET", "/version", None, None, None);
        drop(p.finish(Response::new(Full::new(Bytes::new()).boxed())));
        let verbs: Vec<String> = log.records().into_iter().map(|r| r.verb).collect();
        assert_eq!(verbs, ["watch", "list", "other"]);
        assert_eq!(log.arrivals("/api/").len(), 2);
        log.reset();
        assert!(log.is_empty());
        assert_eq!(log.begin("GET", "/x", None, None, None).0.seq, 4, "sequence numbers survive a reset");
    }
}
