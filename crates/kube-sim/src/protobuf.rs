//! Protobuf answers (`application/vnd.kubernetes.protobuf`), negotiated as kube-apiserver does.
//!
//! A client that puts protobuf first in `Accept` (client-go sends
//! `application/vnd.kubernetes.protobuf,application/json`) gets built-in kinds as protobuf: lists and
//! single objects in the `k8s\0` envelope, watches as length-prefixed `WatchEvent` frames
//! (`;stream=watch`), error bodies as a protobuf `Status`. Custom resources have no protobuf form:
//! they answer JSON, or `406` with a protobuf Status when only protobuf is accepted. Objects are
//! stored as JSON and transcoded with `kwire`'s schema once per object version (kept beside the
//! JSON, so protobuf-served objects take about 1.7 times the memory). Tables, discovery and the
//! answers to writes (create, update, patch, delete) stay JSON, which client-go reads by the
//! response's content type.
//!
//! [`Encodings::set_json_only`] makes the whole server answer JSON only, as some aggregated API
//! servers do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::error::SimError;
use crate::http::Body;
use crate::resources::ResourceType;
use crate::store::{Obj, Store};

const PROTOBUF: &str = kwire::MEDIA_TYPE;

/// How a response body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

/// The server-wide encoding switch.
#[derive(Debug, Default)]
pub struct Encodings {
    json_only: AtomicBool,
}

impl Encodings {
    /// Answer JSON only, whatever the client prefers (a protobuf-only `Accept` then gets `406`).
    pub fn set_json_only(&self, on: bool) {
        self.json_only.store(on, Ordering::Relaxed);
    }

    pub fn json_only(&self) -> bool {
        self.json_only.load(Ordering::Relaxed)
    }
}

/// The outcome of content negotiation for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Negotiation {
    /// The encoding of the answer; `None` when the client accepts nothing this resource can be
    /// encoded as (answer `406`).
    pub answer: Option<Encoding>,
    /// The encoding of a `Status` body (errors, the `406` itself): every server can write Status as
    /// protobuf unless it answers JSON only.
    pub errors: Encoding,
}

/// The media types an `Accept` header lists, most preferred first: by quality, then specific before
/// wildcard, then in the client's order.
fn accepted(accept: &str) -> Vec<&str> {
    let mut ranges: Vec<(f32, u8, usize, &str)> = Vec::new();
    for (at, part) in accept.split(',').enumerate() {
        let mut params = part.split(';');
        let media = params.next().unwrap_or_default().trim();
        if media.is_empty() {
            continue;
        }
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let wildcards = media.matches('*').count() as u8;
        ranges.push((q, wildcards, at, media));
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    ranges.into_iter().map(|(_, _, _, m)| m).collect()
}

/// The first encoding the client accepts among JSON and (if `protobuf`) protobuf; `None` when it
/// accepts neither. No `Accept` header means JSON.
fn choose(accept: Option<&str>, protobuf: bool) -> Option<Encoding> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Some(Encoding::Json) };
    for media in accepted(accept) {
        match media.to_ascii_lowercase().as_str() {
            "application/vnd.kubernetes.protobuf" if protobuf => return Some(Encoding::Protobuf),
            // YAML is answered as JSON, which every YAML reader parses.
            "application/json" | "application/yaml" | "application/*" | "*/*" => return Some(Encoding::Json),
            _ => {}
        }
    }
    None
}

/// The stored resource type a request path addresses, if any.
fn resource_of(store: &Store, path: &str) -> Option<Arc<ResourceType>> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let plural = match rest {
        ["namespaces", _, plural, ..] if !matches!(*plural, "status" | "finalize") => *plural,
        [plural, ..] => *plural,
        [] => return None,
    };
    store.resource_by_path(group, version, plural)
}

/// A real server decodes a built-in kind's body into its Go type before it stores anything, so a field of
/// the wrong type is refused at the write (400), not left for whoever reads the object as protobuf.
/// Custom resources take any JSON.
pub(crate) fn check_decodable(rt: &ResourceType, v: &serde_json::Value) -> Result<(), SimError> {
    // As `has_protobuf`: custom resources (not `strategic`) and kinds the schema lacks take any JSON.
    if !rt.strategic {
        return Ok(());
    }
    let Some(msg) = kwire::schema::for_kind(&rt.api_version(), &rt.kind) else { return Ok(()) };
    kwire::json::encode_lenient(msg.name, v).map(|_| ()).map_err(|e| {
        let version = rt.api_version();
        let version = version.rsplit('/').next().unwrap_or_default();
        SimError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {e}",
            kind = rt.kind
        ))
    })
}

/// Whether objects of `rt` can be answered as protobuf: built-in kinds the schema knows.
fn has_protobuf(rt: &ResourceType) -> bool {
    rt.strategic && kwire::schema::for_kind(&rt.api_version(), &rt.kind).is_some()
}

/// `json_only`: the simulator answers JSON alone (as some aggregated servers do).
pub(crate) fn negotiate(json_only: bool, store: &Store, headers: &HeaderMap, path: &str) -> Negotiation {
    let accept = headers.get(header::ACCEPT).and_then(|h| h.to_str().ok());
    let errors = choose(accept, !json_only).unwrap_or(Encoding::Json);
    let answer = match resource_of(store, path) {
        Some(rt) => choose(accept, !json_only && has_protobuf(&rt)),
        // Discovery and other non-resource paths answer JSON.
        None => Some(Encoding::Json),
    };
    Negotiation { answer, errors }
}

fn response(code: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The `Status` of an error as Go writes it in protobuf: an empty ListMeta, status, message and
/// reason always (reason empty when there is none), details when set, code.
fn status_message(e: &SimError) -> Vec<u8> {
    let mut w = kwire::Writer::with_capacity(e.message.len() + 64);
    w.message(1, &kwire::ListMeta::default().encode());
    w.string(2, "Failure");
    w.string(3, &e.message);
    w.string(4, e.reason);
    if let Some(d) = &e.details {
        let mut dw = kwire::Writer::new();
        dw.string(1, &d.name);
        dw.string(2, &d.group);
        dw.string(3, &d.kind);
        for c in &d.causes {
            let mut cw = kwire::Writer::new();
            cw.string(1, &c.reason);
            cw.string(2, &c.message);
            cw.string(3, c.field.as_deref().unwrap_or_default());
            dw.message(4, cw.as_bytes());
        }
        dw.int64(5, d.retry_after.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX)));
        dw.empty(6);
        w.message(5, dw.as_bytes());
    }
    w.int64(6, i64::from(e.code));
    w.into_bytes()
}

fn status_body(e: &SimError) -> Vec<u8> {
    kwire::seal("v1", "Status", &status_message(e))
}

/// An error answer in the negotiated encoding.
pub(crate) fn error_response(e: &SimError, enc: Encoding) -> Response<Body> {
    if enc == Encoding::Json {
        return crate::http::error_response(e);
    }
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = response(code, PROTOBUF, status_body(e));
    if let Some(s) = e.retry_after() {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// The `406` for a client that accepts only what this resource cannot be encoded as.
pub(crate) fn not_acceptable(json_only: bool, enc: Encoding) -> Response<Body> {
    let types = if json_only {
        "application/json, application/yaml"
    } else {
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    };
    let e = SimError::new(406, "NotAcceptable", format!("only the following media types are accepted: {types}"));
    error_response(&e, enc)
}

/// The object's own protobuf message (no envelope), transcoded from its JSON once per version.
fn encoded(rt: &ResourceType, o: &Obj) -> Result<Bytes, SimError> {
    if let Some(b) = o.protobuf.get() {
        return Ok(b.clone());
    }
    let msg = kwire::schema::for_kind(&rt.api_version(), &rt.kind)
        .ok_or_else(|| SimError::internal(format!("no protobuf encoding for {}", rt.kind)))?;
    let value: serde_json::Value =
        serde_json::from_slice(&o.bytes).map_err(|e| SimError::internal(format!("stored object: {e}")))?;
    let b = Bytes::from(kwire::json::encode_lenient(msg.name, &value).map_err(|e| {
        SimError::internal(format!("{} {}/{} cannot be encoded as protobuf: {e}", rt.kind, o.namespace, o.name))
    })?);
    let _ = o.protobuf.set(b.clone());
    Ok(b)
}

/// A list answer: the `<Kind>List` in its envelope, items as their cached messages.
pub(crate) fn list_response(
    rt: &ResourceType,
    items: &[Arc<Obj>],
    rv: u64,
    cont: Option<&str>,
    remaining: usize,
    shard: Option<&str>,
    metadata: bool,
) -> Result<Response<Body>, SimError> {
    let encoded: Vec<Bytes> = items.iter().map(|o| message(rt, o, metadata)).collect::<Result<_, _>>()?;
    let rv = rv.to_string();
    let meta = kwire::ListMeta {
        resource_version: &rv,
        continue_token: cont.unwrap_or_default(),
        remaining_item_count: (cont.is_some() && remaining > 0).then(|| i64::try_from(remaining).unwrap_or(i64::MAX)),
        shard_selector: shard,
    };
    let (api_version, kind) = if metadata {
        (crate::metadata::API_VERSION.to_owned(), crate::metadata::LIST_KIND.to_owned())
    } else {
        (rt.api_version(), rt.list_kind())
    };
    let body = kwire::list_body(&api_version, &kind, &meta, encoded.iter().map(|b| &b[..]));
    Ok(response(StatusCode::OK, PROTOBUF, body))
}

/// A single object answer in its envelope.
pub(crate) fn object_response(rt: &ResourceType, o: &Obj, metadata: bool) -> Result<Response<Body>, SimError> {
    Ok(response(StatusCode::OK, PROTOBUF, sealed(rt, o, metadata)?))
}

/// An object's message: the object itself, or (`metadata`) its `PartialObjectMetadata`.
fn message(rt: &ResourceType, o: &Obj, metadata: bool) -> Result<Bytes, SimError> {
    let full = encoded(rt, o)?;
    if metadata { crate::metadata::protobuf_object(&full).map(Bytes::from) } else { Ok(full) }
}

/// The envelope's api version and kind for one object of `rt`.
fn type_of(rt: &ResourceType, metadata: bool) -> (String, String) {
    if metadata {
        (crate::metadata::API_VERSION.to_owned(), crate::metadata::KIND.to_owned())
    } else {
        (rt.api_version(), rt.kind.clone())
    }
}

fn sealed(rt: &ResourceType, o: &Obj, metadata: bool) -> Result<Vec<u8>, SimError> {
    let (api_version, kind) = type_of(rt, metadata);
    Ok(kwire::seal(&api_version, &kind, &message(rt, o, metadata)?))
}

/// The watch frame of an event about `o`.
pub(crate) fn event_frame(rt: &ResourceType, etype: &str, o: &Obj, metadata: bool) -> Result<Bytes, SimError> {
    Ok(Bytes::from(kwire::watch_frame(etype, &sealed(rt, o, metadata)?)))
}

/// What the real server writes after the metadata of a bookmark object: the non-pointer parts of an
/// empty object of the kind, as Go serializes them (captured byte for byte for these kinds; other
/// kinds' bookmarks carry metadata only, as ConfigMap's do).
fn bookmark_tail(kind: &str) -> &'static [u8] {
    match kind {
        "Pod" => b"\x12\x1c\x1a\x00\x32\x00\x42\x00\x4a\x00\x52\x00\x58\x00\x60\x00\x68\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x1a\x13\x0a\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x4a\x00\x5a\x00\x72\x00\x88\x01\x00",
        "Node" => b"\x12\x08\x0a\x00\x12\x00\x1a\x00\x20\x00\x1a\x1e\x1a\x00\x32\x04\x0a\x02\x08\x00\x3a\x14\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x3a\x00\x42\x00\x4a\x00\x52\x00",
        "Deployment" => b"\x12\x3c\x08\x00\x1a\x30\x0a\x10\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x1c\x1a\x00\x32\x00\x42\x00\x4a\x00\x52\x00\x58\x00\x60\x00\x68\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x22\x02\x0a\x00\x28\x00\x38\x00\x1a\x0c\x08\x00\x10\x00\x18\x00\x20\x00\x28\x00\x38\x00",
        _ => b"",
    }
}

/// A BOOKMARK frame at `rv`; `initial_end` adds the `k8s.io/initial-events-end` annotation that ends
/// the initial events of a streaming list.
pub(crate) fn bookmark_frame(rt: &ResourceType, rv: u64, initial_end: bool, metadata: bool) -> Bytes {
    // ObjectMeta as Go writes an empty one: the strings and generation always, an empty
    // creationTimestamp, then the annotation map entry.
    let mut meta = kwire::Writer::new();
    for field in 1..=5 {
        meta.empty(field);
    }
    meta.string(6, &rv.to_string());
    meta.int64(7, 0);
    meta.empty(8);
    if initial_end {
        let mut entry = kwire::Writer::new();
        entry.string(1, "k8s.io/initial-events-end");
        entry.string(2, "true");
        meta.message(12, entry.as_bytes());
    }
    let mut obj = kwire::Writer::new();
    obj.message(1, meta.as_bytes());
    if !metadata {
        obj.raw_bytes(bookmark_tail(&rt.kind));
    }
    let (api_version, kind) = type_of(rt, metadata);
    let object = kwire::seal(&api_version, &kind, obj.as_bytes());
    Bytes::from(kwire::watch_frame("BOOKMARK", &object))
}

/// An ERROR frame carrying the error's Status (a watch that cannot go on, e.g. 410 Gone).
pub(crate) fn error_frame(e: &SimError) -> Bytes {
    Bytes::from(kwire::watch_frame("ERROR", &status_body(e)))
}

/// A refused streaming list in protobuf: `200`, then one ERROR event with the 500 Status a
/// kube-apiserver on etcd older than 3.4.31 sends.
pub(crate) fn refused_watch() -> Response<Body> {
    let e = SimError::internal(
        "a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled",
    );
    response(StatusCode::OK, kwire::STREAM_MEDIA_TYPE, error_frame(&e).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real server's bytes, kept with kwire's test data.
    fn capture(name: &str) -> Vec<u8> {
        let p = format!("{}/../kwire/tests/wire/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn frames(body: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        kwire::FrameSplitter::default()
            .feed(body, |f| -> Result<(), ()> {
                let mut whole = u32::try_from(f.len()).unwrap().to_be_bytes().to_vec();
                whole.extend_from_slice(f);
                out.push(whole);
                Ok(())
            })
            .unwrap();
        out
    }

    fn rt(kind: &str) -> Arc<ResourceType> {
        let store = Store::new(10);
        let av = if kind == "Deployment" { "apps/v1" } else { "v1" };
        store.resource_for(av, kind).unwrap()
    }

    #[test]
    fn accept_headers_negotiate_as_kube_apiserver_does() {
        use Encoding::*;
        let pb_json = "application/vnd.kubernetes.protobuf,application/json";
        assert_eq!(choose(Some(pb_json), true), Some(Protobuf));
        assert_eq!(choose(Some(pb_json), false), Some(Json));
        assert_eq!(choose(Some("application/vnd.kubernetes.protobuf"), false), None);
        assert_eq!(choose(Some("application/vnd.kubernetes.protobuf;stream=watch"), true), Some(Protobuf));
        assert_eq!(choose(Some("application/json, application/vnd.kubernetes.protobuf"), true), Some(Json));
        assert_eq!(choose(Some("application/json;q=0.5, application/vnd.kubernetes.protobuf"), true), Some(Protobuf));
        assert_eq!(choose(Some("application/vnd.kubernetes.protobuf;q=0, */*"), true), Some(Json));
        assert_eq!(choose(Some("*/*, application/vnd.kubernetes.protobuf"), true), Some(Protobuf));
        assert_eq!(choose(None, true), Some(Json));
        assert_eq!(choose(Some("text/html"), true), None);
    }

    #[test]
    fn paths_resolve_to_their_resource_types() {
        let store = Store::new(10);
        let kind = |p: &str| resource_of(&store, p).map(|rt| rt.kind.clone());
        assert_eq!(kind("/api/v1/pods").as_deref(), Some("Pod"));
        assert_eq!(kind("/api/v1/namespaces/shop/pods/x").as_deref(), Some("Pod"));
        assert_eq!(kind("/api/v1/namespaces/shop").as_deref(), Some("Namespace"));
        assert_eq!(kind("/api/v1/namespaces/shop/status").as_deref(), Some("Namespace"));
        assert_eq!(kind("/apis/apps/v1/namespaces/shop/deployments").as_deref(), Some("Deployment"));
        assert_eq!(kind("/apis/apps/v1"), None);
        assert_eq!(kind("/version"), None);
        assert!(has_protobuf(&rt("Pod")));
    }

    #[test]
    fn error_statuses_are_the_servers_bytes() {
        for (e, file) in [
            (SimError::not_found("pods", "does-not-exist"), "error-404-notfound.pb"),
            (SimError::unauthorized(), "error-401-unauthorized.pb"),
            (SimError::rv_too_large(999_999_999, 428), "error-504-rv-too-large.pb"),
            (
                SimError::new(
                    500,
                    "",
                    "invalid shard selector: hexStart: invalid hex character \"z\" in \"0x00000000000000zz\"",
                ),
                "error-500-shard-bad-hex.pb",
            ),
            (
                SimError::new(
                    406,
                    "NotAcceptable",
                    "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
                ),
                "error-406-cr-protobuf.pb",
            ),
        ] {
            assert!(status_body(&e) == capture(file), "{file}");
        }
    }

    #[test]
    fn watch_errors_refusals_and_bookmarks_are_the_servers_bytes() {
        let expired = SimError::expired("too old resource version: 400 (474)");
        assert!(error_frame(&expired).to_vec() == capture("pods.watch-410-expired.pb"));
        let refused = futures::executor::block_on(refused_watch().into_body().collect()).unwrap().to_bytes();
        assert!(refused.to_vec() == capture("pods.watchlist-refused.pb"));

        // The last frame of each stream is a bookmark; the streaming lists' fifth is the
        // initial-events-end bookmark.
        let rv_of = |frame: &[u8]| -> u64 {
            let ev = kwire::json::decode_watch_event(&frame[4..]).unwrap();
            ev["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
        };
        for (kind, file) in
            [("Pod", "pods.watch.pb"), ("Node", "nodes.watch.pb"), ("Deployment", "deployments.watch.pb")]
        {
            let last = frames(&capture(file)).pop().unwrap();
            assert!(bookmark_frame(&rt(kind), rv_of(&last), false, false).to_vec() == last, "{file}");
        }
        for (kind, file) in [("Pod", "pods.watchlist.pb"), ("ConfigMap", "configmaps.watchlist.pb")] {
            let end = &frames(&capture(file))[if kind == "Pod" { 4 } else { 6 }];
            assert!(&bookmark_frame(&rt(kind), rv_of(end), true, false).to_vec() == end, "{file}");
        }
    }
}
