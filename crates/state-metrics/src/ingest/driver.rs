//! The IO around one [`Watcher`]: it makes the requests the watcher asks for, reads their bodies as they
//! arrive, decodes objects with the collection's [`Render`], and feeds the results back, applying the
//! watcher's store changes to the collection's [`Sink`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use super::batch::{self, Step};
use super::json::{Fed, LineSplitter, ListMeta, ListSplitter, Piece};
use super::machine::{Flow, Input, Output, Request, Watcher};
use super::pb::{self, PbListSplitter};
use super::render::{Decoded, Render};
use super::report::Reporter;
use super::wire::{Failure, Scope, Status};
use crate::textstore::StoreEvent;

/// The longest watch line (one event) or error body taken in: far above etcd's 1.5 MiB object limit.
const MAX_LINE: usize = 64 << 20;
/// The most of a response taken in before what it holds is decoded: enough objects to share between two
/// threads, few enough to keep little in memory.
const BATCH_BYTES: usize = 256 << 10;
/// How long a batch of a list or of initial events waits for the next chunk.
const GATHER: Duration = Duration::from_millis(1);
/// The most of an error body read to find its Status.
const MAX_ERROR_BODY: usize = 64 << 10;

/// An answer with a success status; its body arrives chunk by chunk.
pub struct Response {
    /// Whether the body is protobuf (the server chooses among the types the request accepts).
    pub protobuf: bool,
    pub body: BoxStream<'static, Result<Bytes, Failure>>,
}

/// What a request accepts: protobuf for built-in kinds (preferred, JSON as fallback, as client-go asks
/// for them), JSON for custom resources.
pub const ACCEPT_PROTOBUF: &str = "application/vnd.kubernetes.protobuf, application/json";
pub const ACCEPT_JSON: &str = "application/json";
/// The metadata of a list's objects (`metav1.PartialObjectMetadataList`), as client-go's metadata client
/// asks for it; plain JSON last, so a server that cannot convert sends whole objects.
pub const ACCEPT_METADATA_LIST: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, \
    application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json";
/// The same for a watch, whose events carry one object each (`metav1.PartialObjectMetadata`).
pub const ACCEPT_METADATA: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, \
    application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json";

/// Sends GET requests to the API server. Implementations turn an error status into
/// [`Failure::Status`] (with the Status from the body when there is one) and a connection problem into
/// [`Failure::Unreachable`].
pub trait Transport: Send + Sync + 'static {
    fn get(&self, uri: String, accept: &'static str) -> BoxFuture<'static, Result<Response, Failure>>;
}

/// Whether a Content-Type is Kubernetes protobuf (with or without `;stream=watch`).
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.trim_start().starts_with(kwire::MEDIA_TYPE)
}

/// Where a watcher's store changes go: a text store part, or another consumer of objects.
pub trait Sink: Send {
    /// Applies one change; returns the number of objects after an `EndRelist`.
    fn apply(&mut self, event: StoreEvent) -> usize;
}

impl Sink for crate::textstore::Writer {
    fn apply(&mut self, event: StoreEvent) -> usize {
        crate::textstore::Writer::apply(self, event)
    }
}

/// Bytes received, by kind of request; shared with telemetry.
#[derive(Default, Debug)]
pub struct Received {
    pub streaming_list: AtomicU64,
    pub list: AtomicU64,
    pub watch: AtomicU64,
    pub probe: AtomicU64,
}

impl Received {
    fn counter(&self, kind: &str) -> &AtomicU64 {
        match kind {
            "streaming_list" => &self.streaming_list,
            "list" => &self.list,
            "watch" => &self.watch,
            _ => &self.probe,
        }
    }
}

/// One collection's list/watch: what to ask, how to decode, where results go.
pub struct Pipeline<T: Transport, R: Render, S: Sink> {
    pub scope: Scope,
    pub transport: Arc<T>,
    pub render: Arc<R>,
    pub sink: S,
    pub watcher: Watcher,
    pub reporter: Arc<Reporter>,
    /// The resource's name in logs and telemetry (e.g. `pods`).
    pub resource: Arc<str>,
    /// The resource's telemetry label (e.g. `*v1.Pod`).
    pub type_label: Arc<str>,
    pub received: Arc<Received>,
    pub idle_check: Duration,
}

impl<T: Transport, R: Render, S: Sink> Pipeline<T, R, S> {
    /// Lists and watches until the future is dropped.
    pub async fn run(mut self) {
        let mut out = Vec::new();
        loop {
            let req = self.watcher.request(Instant::now());
            match req {
                Request::Wait(d) => {
                    tokio::time::sleep(d).await;
                    self.feed(Input::Waited, &mut out);
                }
                Request::Probe => {
                    let rv = self.probe().await;
                    self.feed(Input::Probed(rv), &mut out);
                }
                Request::StreamingList { ref resource_version } => {
                    let mut params = vec![
                        ("watch", "1"),
                        ("sendInitialEvents", "true"),
                        ("resourceVersionMatch", "NotOlderThan"),
                        ("allowWatchBookmarks", "true"),
                    ];
                    if !resource_version.is_empty() {
                        params.push(("resourceVersion", resource_version));
                    }
                    let timeout = watch_timeout();
                    params.push(("timeoutSeconds", &timeout));
                    let uri = self.scope.uri(&params);
                    self.watch(uri, "streaming_list", &timeout, &mut out).await;
                }
                Request::Watch { ref resource_version } => {
                    let timeout = watch_timeout();
                    let params = [
                        ("watch", "1"),
                        ("allowWatchBookmarks", "true"),
                        ("resourceVersion", resource_version.as_str()),
                        ("timeoutSeconds", timeout.as_str()),
                    ];
                    let uri = self.scope.uri(&params);
                    self.watch(uri, "watch", &timeout, &mut out).await;
                }
                Request::List { ref resource_version, limit, ref continue_token } => {
                    let limit = limit.map(|l| l.to_string());
                    let mut params = Vec::new();
                    if let Some(l) = &limit {
                        params.push(("limit", l.as_str()));
                    }
                    match continue_token {
                        Some(c) => params.push(("continue", c.as_str())),
                        None if !resource_version.is_empty() => {
                            params.push(("resourceVersion", resource_version.as_str()));
                        }
                        None => {}
                    }
                    let uri = self.scope.uri(&params);
                    self.list(uri, &mut out).await;
                }
            }
        }
    }

    /// Feeds one input and carries out what follows from it.
    fn feed(&mut self, input: Input, out: &mut Vec<Output>) -> Flow {
        let flow = self.watcher.on(input, Instant::now(), out);
        for o in out.drain(..) {
            match o {
                Output::Store(ev) => {
                    let end = matches!(ev, StoreEvent::EndRelist);
                    self.sink.apply(ev);
                    if end {
                        // The pages and decoded objects of the list are free now.
                        crate::trim::after_burst();
                    }
                }
                Output::Note(n) => self.reporter.note(&self.resource, &self.scope, n),
            }
        }
        flow
    }

    fn count(&self, kind: &str, ok: bool) {
        self.reporter.request(&self.type_label, kind, ok);
    }

    fn accept(&self, list: bool) -> &'static str {
        match (self.render.metadata_only(), list) {
            (true, true) => ACCEPT_METADATA_LIST,
            (true, false) => ACCEPT_METADATA,
            _ if self.render.wants_protobuf() => ACCEPT_PROTOBUF,
            _ => ACCEPT_JSON,
        }
    }

    async fn watch(&mut self, uri: String, kind: &'static str, timeout: &str, out: &mut Vec<Output>) {
        let started = Instant::now();
        let asked = Duration::from_secs(timeout.parse().unwrap_or(0));
        let resp = match self.transport.get(uri, self.accept(false)).await {
            Ok(r) => {
                self.count(kind, true);
                r
            }
            Err(f) => {
                self.count(kind, false);
                self.feed(Input::Failed(f), out);
                return;
            }
        };
        let protobuf = resp.protobuf;
        let mut body = resp.body;
        let mut lines = LineSplitter::default();
        let mut frames = kwire::FrameSplitter::default();
        let received = self.received.clone();
        // What the body had next when a batch stopped taking chunks: its end or a failure.
        let mut held: Option<Option<Result<Bytes, Failure>>> = None;
        loop {
            let next = match held.take() {
                Some(n) => Ok(n),
                None => tokio::time::timeout(self.idle_check, body.next()).await,
            };
            let mut chunk = match next {
                Err(_) => {
                    if self.watcher.watching() {
                        let rv = self.probe().await;
                        if self.feed(Input::Probed(rv), out) == Flow::Stop {
                            return;
                        }
                    }
                    continue;
                }
                Ok(None) => {
                    if let Some(rest) = lines.rest()
                        && self.step(batch::json_step(&*self.render, rest), out) == Flow::Stop
                    {
                        return;
                    }
                    // Well before its timeout: the server closed it.
                    let early = started.elapsed() + Duration::from_secs(5) < asked;
                    self.feed(if early { Input::EndedEarly } else { Input::Ended }, out);
                    return;
                }
                Ok(Some(Err(f))) => {
                    self.feed(Input::Failed(f), out);
                    return;
                }
                Ok(Some(Ok(c))) => c,
            };
            // The events of this chunk and of those that have already arrived after it, up to a batch.
            let mut pieces = Vec::new();
            let mut bytes = 0;
            loop {
                received.counter(kind).fetch_add(chunk.len() as u64, Ordering::Relaxed);
                bytes += chunk.len();
                let take = |piece: &[u8]| {
                    pieces.push(batch::piece_of(&chunk, piece));
                    Ok::<(), ()>(())
                };
                let _ = if protobuf { frames.feed(&chunk, take) } else { lines.feed(&chunk, take) };
                if lines.pending().max(frames.pending()) > MAX_LINE {
                    let error = format!("a watch event over {MAX_LINE} bytes");
                    self.feed(Input::Failed(Failure::Undecodable(error)), out);
                    return;
                }
                match next_in_batch(&mut body, bytes, !self.watcher.watching(), &mut held).await {
                    Some(c) => chunk = c,
                    None => break,
                }
            }
            let steps = if protobuf {
                batch::decode_all(&self.render, pieces, batch::pb_step::<R>).await
            } else {
                batch::decode_all(&self.render, pieces, batch::json_step::<R>).await
            };
            for step in steps {
                if self.step(step, out) == Flow::Stop {
                    return;
                }
            }
        }
    }

    /// Feeds one decoded watch event.
    fn step(&mut self, step: Step, out: &mut Vec<Output>) -> Flow {
        match step {
            Step::Feed(input) => self.feed(input, out),
            Step::Garbage(e) => {
                self.garbage(&e);
                Flow::Continue
            }
            Step::Unknown(kind) => {
                tracing::debug!(resource = %self.resource, event = kind, "ignoring a watch event of unknown type");
                Flow::Continue
            }
        }
    }

    fn garbage(&self, error: &str) {
        tracing::warn!(resource = %self.resource, error, "skipping an object whose metadata does not decode");
    }

    async fn list(&mut self, uri: String, out: &mut Vec<Output>) {
        let resp = match self.transport.get(uri, self.accept(true)).await {
            Ok(r) => {
                self.count("list", true);
                r
            }
            Err(f) => {
                self.count("list", false);
                self.feed(Input::Failed(f), out);
                return;
            }
        };
        let protobuf = resp.protobuf;
        let mut body = resp.body;
        let mut json = ListSplitter::new();
        let mut pb = PbListSplitter::default();
        let mut meta = ListMeta::default();
        let mut held = None;
        loop {
            let next = match held.take() {
                Some(n) => n,
                None => body.next().await,
            };
            let mut chunk = match next {
                None => break,
                Some(Err(f)) => {
                    self.feed(Input::Failed(f), out);
                    return;
                }
                Some(Ok(c)) => c,
            };
            // The items of this chunk and of those that have already arrived after it, up to a batch.
            let mut items = Vec::new();
            let mut bytes = 0;
            loop {
                self.received.list.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                bytes += chunk.len();
                let split = if protobuf {
                    pb.feed(&chunk, |raw| {
                        items.push(batch::piece_of(&chunk, raw));
                        Ok::<(), ()>(())
                    })
                    .map_err(|e| match e {
                        pb::Fed::Wire(e) => Some(e.to_string()),
                        pb::Fed::Each(()) => None,
                    })
                } else {
                    json.feed(&chunk, |piece| {
                        match piece {
                            Piece::Metadata(m) => meta = serde_json::from_slice(m).unwrap_or_default(),
                            Piece::Item(raw) => items.push(batch::piece_of(&chunk, raw)),
                        }
                        Ok::<(), ()>(())
                    })
                    .map_err(|e| match e {
                        Fed::Split(e) => Some(e.to_string()),
                        Fed::Each(()) => None,
                    })
                };
                if let Err(Some(e)) = split {
                    self.feed(Input::Failed(Failure::Undecodable(e)), out);
                    return;
                }
                match next_in_batch(&mut body, bytes, true, &mut held).await {
                    Some(c) => chunk = c,
                    None => break,
                }
            }
            let decoded = if protobuf {
                batch::decode_all(&self.render, items, |r: &R, raw: &[u8]| r.protobuf(raw)).await
            } else {
                batch::decode_all(&self.render, items, |r: &R, raw: &[u8]| r.json(raw)).await
            };
            for d in decoded {
                match d {
                    Decoded::Item(item) => {
                        self.feed(Input::Object(item), out);
                    }
                    Decoded::Foreign { .. } => {}
                    Decoded::Garbage(e) => self.garbage(&e),
                }
            }
        }
        let finished = if protobuf {
            pb.finish().map(|()| std::mem::take(&mut pb.meta)).map_err(|e| e.to_string())
        } else {
            json.finish().map(|()| meta).map_err(|e| e.to_string())
        };
        let meta = match finished {
            Ok(m) => m,
            Err(e) => {
                self.feed(Input::Failed(Failure::Undecodable(e)), out);
                return;
            }
        };
        self.check_shard_echo(&meta);
        self.feed(Input::ListEnd { resource_version: meta.resource_version, continue_token: meta.continue_token }, out);
    }

    /// The server's current resourceVersion for this collection, from a list of one object (a consistent
    /// read of a single item: cheap for the API server and etcd). `None` if it could not be had.
    async fn probe(&mut self) -> Option<String> {
        let uri = self.scope.uri(&[("limit", "1")]);
        let meta = one_item_list(self.transport.as_ref(), uri, &self.received.probe).await;
        self.count("list", meta.is_ok());
        meta.ok().map(|m| m.resource_version).filter(|r| !r.is_empty())
    }

    /// A list asked with a shard selector came back without `shardInfo`: the server did not filter it
    /// (the local check still drops other shards' objects).
    fn check_shard_echo(&self, meta: &ListMeta) {
        if !self.scope.shard_selector.is_empty() && meta.shard_selector().is_none() {
            self.reporter.shard_selector_ignored(&self.resource, &self.scope);
        }
    }
}

/// The body's next chunk for the batch that holds `bytes` so far, if the batch has room and the chunk
/// comes at once; `None` ends the batch (an end or failure of the body that came instead goes to `held`,
/// for after the batch). While a list or the initial events of a streaming list are arriving, "at once"
/// is within [`GATHER`]: the server sends them back to back, but often one event per chunk, and the
/// client's body hands over one chunk at a time; a watch's events are decoded as soon as they are in.
async fn next_in_batch(
    body: &mut BoxStream<'static, Result<Bytes, Failure>>,
    bytes: usize,
    initial: bool,
    held: &mut Option<Option<Result<Bytes, Failure>>>,
) -> Option<Bytes> {
    if bytes >= BATCH_BYTES {
        return None;
    }
    let next = if initial { tokio::time::timeout(GATHER, body.next()).await.ok() } else { body.next().now_or_never() };
    match next? {
        Some(Ok(c)) => Some(c),
        other => {
            *held = Some(other);
            None
        }
    }
}

/// The metadata of the list at `uri` (asked with `limit=1`, in JSON: a few hundred bytes either way);
/// the bytes received are added to `received`.
pub async fn one_item_list<T: Transport + ?Sized>(
    transport: &T,
    uri: String,
    received: &AtomicU64,
) -> Result<ListMeta, Failure> {
    let mut body = transport.get(uri, ACCEPT_JSON).await?.body;
    let mut split = ListSplitter::new();
    let mut meta = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        split
            .feed(&chunk, |p| {
                if let Piece::Metadata(m) = p {
                    meta = serde_json::from_slice::<ListMeta>(m).ok();
                }
                Ok::<(), ()>(())
            })
            .map_err(|_| Failure::Undecodable("a one-item list is not a list".into()))?;
    }
    meta.ok_or_else(|| Failure::Undecodable("a one-item list without its metadata".into()))
}

/// client-go's watch timeout: random in [5, 10) minutes, so watches of many clients do not end together.
fn watch_timeout() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (300 + u64::from(nanos) % 300).to_string()
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error answer and makes a Failure of it.
pub async fn error_failure(code: u16, protobuf: bool, mut body: BoxStream<'static, Result<Bytes, Failure>>) -> Failure {
    let mut text = Vec::new();
    while let Some(Ok(c)) = body.next().await {
        text.extend_from_slice(&c[..c.len().min(MAX_ERROR_BODY - text.len().min(MAX_ERROR_BODY))]);
        if text.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    let decoded =
        if protobuf { kwire::open(&text).ok().and_then(|e| pb::status(e.raw).ok()) } else { Status::from_json(&text) };
    let status = decoded.filter(|s| s.code != 0).unwrap_or_else(|| Status::bare(code, &text));
    Failure::Status(Status { code, ..status })
}

/// The transport of a running instance: kube's client (authentication, TLS, timeouts, and the counting
/// of requests by the caller).
pub struct KubeTransport {
    pub client: kube::Client,
}

impl Transport for KubeTransport {
    fn get(&self, uri: String, accept: &'static str) -> BoxFuture<'static, Result<Response, Failure>> {
        let client = self.client.clone();
        Box::pin(async move {
            let req = http::Request::get(uri)
                .header(http::header::ACCEPT, accept)
                .body(kube::client::Body::empty())
                .map_err(|e| Failure::Undecodable(e.to_string()))?;
            let resp = client.send(req).await.map_err(|e| Failure::Unreachable(describe(&e)))?;
            let status = resp.status();
            let protobuf =
                resp.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_protobuf);
            let body: BoxStream<'static, Result<Bytes, Failure>> = http_body_util::BodyStream::new(resp.into_body())
                .filter_map(|f| async move {
                    match f {
                        Ok(frame) => frame.into_data().ok().map(Ok),
                        Err(e) => Some(Err(Failure::Unreachable(logging::error_chain(&e)))),
                    }
                })
                .boxed();
            if status.is_success() {
                Ok(Response { protobuf, body })
            } else {
                Err(error_failure(status.as_u16(), protobuf, body).await)
            }
        })
    }
}

/// A client error for a log line: kube's wrapper of transport errors says nothing the causes do not.
fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Service(inner) => logging::error_chain(inner.as_ref()),
        other => logging::error_chain(other),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::family::Ctx;
    use crate::ingest::machine::Config;
    use crate::ingest::render::Typed;
    use crate::resources::configmap::ConfigMaps;
    use crate::telemetry::Telemetry;

    /// Answers each request with the next canned response; a response of `None` is a body that never
    /// ends (a quiet watch). Records the URIs asked.
    #[derive(Default)]
    struct Canned {
        answers: Mutex<VecDeque<Option<&'static str>>>,
        asked: Mutex<Vec<String>>,
    }

    impl Transport for Canned {
        fn get(&self, uri: String, _accept: &'static str) -> BoxFuture<'static, Result<Response, Failure>> {
            self.asked.lock().unwrap().push(uri);
            let next = self.answers.lock().unwrap().pop_front();
            Box::pin(async move {
                let body: BoxStream<'static, Result<Bytes, Failure>> = match next {
                    Some(Some(text)) => futures::stream::iter([Ok(Bytes::from_static(text.as_bytes()))]).boxed(),
                    Some(None) => futures::stream::pending().boxed(),
                    None => return Err(Failure::Unreachable("no more answers".into())),
                };
                Ok(Response { protobuf: false, body })
            })
        }
    }

    #[derive(Default, Clone)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl Sink for Log {
        fn apply(&mut self, event: StoreEvent) -> usize {
            let line = match event {
                StoreEvent::BeginRelist => "begin".to_owned(),
                StoreEvent::Insert(k, _) => format!("insert {}", k.name()),
                StoreEvent::EndRelist => "end".to_owned(),
                StoreEvent::Upsert(k, _) => format!("upsert {}", k.name()),
                StoreEvent::Remove(k) => format!("remove {}", k.name()),
                StoreEvent::Failing(e) => format!("failing {e:?}"),
                StoreEvent::Reset => "reset".to_owned(),
            };
            self.0.lock().unwrap().push(line);
            0
        }
    }

    fn cm(name: &str, rv: u32) -> String {
        format!(
            r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{name}","namespace":"n","uid":"{name}","resourceVersion":"{rv}"}}}}}}"#
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_watch_is_checked_and_a_server_that_went_back_is_listed_again() {
        // Stream at 500, then silence; the check finds the server at 40; the new stream is read.
        let first: &'static str = Box::leak(
            format!(
                "{}\n{}\n{}\n",
                cm("a", 400),
                cm("b", 450),
                r#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"500","annotations":{"k8s.io/initial-events-end":"true"}}}}"#
            )
            .into_boxed_str(),
        );
        let second: &'static str = Box::leak(
            format!(
                "{}\n{}\n",
                cm("c", 30),
                r#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"40","annotations":{"k8s.io/initial-events-end":"true"}}}}"#
            )
            .into_boxed_str(),
        );
        let transport = Arc::new(Canned::default());
        // A stream that stays open after its initial events: the first answer's text, then nothing.
        transport.answers.lock().unwrap().extend([
            Some(first),
            // The stream ended early: the server is checked (it is ahead: fine) before watching again.
            Some(r#"{"metadata":{"resourceVersion":"600"},"items":[]}"#),
            None,
            Some(r#"{"metadata":{"resourceVersion":"40"},"items":[]}"#),
            Some(second),
            None,
        ]);
        let log = Log::default();
        let telemetry = Arc::new(Telemetry::new(0, 1));
        let pipeline = Pipeline {
            scope: Scope { path: "/api/v1/configmaps".into(), ..Scope::default() },
            transport: transport.clone(),
            render: Arc::new(Typed::<ConfigMaps>::new(
                Arc::from(vec![0]),
                Arc::new(Ctx::default()),
                Default::default(),
            )),
            sink: log.clone(),
            watcher: Watcher::new(Config::default(), Box::new(kube::runtime::watcher::DefaultBackoff::default())),
            reporter: Arc::new(Reporter::new(telemetry, "https://test")),
            resource: Arc::from("configmaps"),
            type_label: Arc::from("*v1.ConfigMap"),
            received: Arc::new(Received::default()),
            idle_check: Duration::from_secs(90),
        };
        let task = tokio::spawn(pipeline.run());
        // The first stream ends early (its text is all there is); the watch resumes at 500 and stays
        // quiet until the check after 90 s.
        tokio::time::sleep(Duration::from_secs(200)).await;
        task.abort();
        let asked = transport.asked.lock().unwrap().clone();
        assert!(asked[0].contains("sendInitialEvents=true"), "{asked:?}");
        assert_eq!(asked[1], "/api/v1/configmaps?limit=1", "{asked:?}");
        assert!(asked[2].contains("watch=1") && asked[2].contains("resourceVersion=500"), "{asked:?}");
        assert_eq!(asked[3], "/api/v1/configmaps?limit=1", "{asked:?}");
        assert!(asked[4].contains("sendInitialEvents=true") && !asked[4].contains("resourceVersion="), "{asked:?}");
        assert_eq!(log.0.lock().unwrap().clone(), ["begin", "insert a", "insert b", "end", "begin", "insert c", "end"],);
    }
}
