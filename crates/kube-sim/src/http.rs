//! What every route of the simulator speaks: the response body type, the caller, the request an extra
//! route is handed, and JSON answers as the real server writes them.

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};

use crate::error::SimError;

pub type Body = BoxBody<Bytes, Infallible>;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

/// A request handed to an extra route: everything already read.
pub struct HookRequest {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    /// The query string as sent, for forwarding.
    pub raw_query: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub user: Option<User>,
}

/// Extra routes (aggregated APIs, review endpoints, ...): return `Some` to take the request.
pub trait RouteHook: Send + Sync {
    fn route(&self, req: &HookRequest) -> Option<BoxFuture<'static, Response<Body>>>;
}

pub(crate) fn json_response(code: StatusCode, bytes: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(bytes).boxed());
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A JSON document as the real server sends it: followed by a newline (Go's JSON encoder adds one).
pub(crate) fn json_doc(code: StatusCode, doc: &[u8]) -> Response<Body> {
    let mut b = BytesMut::with_capacity(doc.len() + 1);
    b.put_slice(doc);
    b.put_u8(b'\n');
    json_response(code, b.freeze())
}

pub fn error_response(e: &SimError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_doc(code, &e.status_bytes());
    if let Some(s) = e.retry_after() {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// Decode a query string as Go's `url.ParseQuery` does (`+` is a space); a repeated key keeps its
/// last value.
pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}
