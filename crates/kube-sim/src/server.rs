//! HTTP front end: authentication, discovery, and a generic group/version/resource router over the store.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::error::SimError;
use crate::faults::Faults;
use crate::patch::{self, PatchType};
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector, supported_fields};
use crate::store::{CreateMode, Event, EventType, Obj, Store, UpdateKind, event_line};
use crate::table;

pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 20;

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

/// Shared state of a running simulator.
pub struct State {
    pub store: Arc<Store>,
    pub users: HashMap<String, User>,
    pub bookmark_interval: Duration,
    pub hooks: Vec<Arc<dyn RouteHook>>,
    pub server_address: Mutex<String>,
    pub shutdown: CancellationToken,
    /// Run-time fault injection (see [`crate::faults`]).
    pub faults: Arc<Faults>,
    /// Authorization rules; `None` allows every authenticated user.
    pub authz: Option<crate::authz::AuthzRules>,
    pub(crate) aggregator: Option<Arc<crate::aggregation::Aggregator>>,
}

impl State {
    pub fn new(
        store: Arc<Store>,
        users: HashMap<String, User>,
        bookmark_interval: Duration,
        hooks: Vec<Arc<dyn RouteHook>>,
    ) -> Self {
        Self {
            faults: Arc::new(Faults::new(store.clone())),
            store,
            users,
            bookmark_interval,
            hooks,
            server_address: Mutex::new(String::new()),
            shutdown: CancellationToken::new(),
            authz: None,
            aggregator: None,
        }
    }

    /// End every open watch now; new watches are unaffected.
    pub fn cut_watches(&self) {
        self.faults.cut_watches();
    }

    /// The next `times` requests whose path starts with `prefix` fail with `code`.
    pub fn inject_error(&self, prefix: &str, code: u16, times: usize) {
        self.faults.fail_next(times, code, None, prefix);
    }
}

fn fault_error(code: u16) -> SimError {
    match code {
        400 => SimError::bad_request("injected fault"),
        401 => SimError::unauthorized(),
        403 => SimError::forbidden("injected fault"),
        404 => SimError::not_found_path(),
        409 => SimError::new(409, "Conflict", "injected fault"),
        410 => SimError::expired("injected fault"),
        429 => SimError::too_many_requests(),
        503 => SimError::new(503, "ServiceUnavailable", "injected fault"),
        c => SimError::new(c, "InternalError", "injected fault"),
    }
}

/// Parse a kube-apiserver token file: `token,user,uid,"group1,group2"` per line.
pub fn parse_token_file(text: &str) -> Result<HashMap<String, User>, String> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() < 3 {
            return Err(format!("line {}: want at least token,user,uid", i + 1));
        }
        let groups = fields
            .get(3)
            .map(|g| g.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        out.insert(
            fields[0].trim().to_string(),
            User { name: fields[1].trim().to_string(), uid: fields[2].trim().to_string(), groups },
        );
    }
    Ok(out)
}

fn json_response(code: StatusCode, bytes: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(bytes).boxed());
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn value_response(code: StatusCode, v: &Value) -> Response<Body> {
    json_response(code, Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
}

pub fn error_response(e: &SimError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    value_response(code, &e.to_status())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(x) => {
                        out.push(x);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Serve one request.
pub async fn handle(st: Arc<State>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query());
    let raw_query = parts.uri.query().map(str::to_string);
    st.faults.record(&path);
    let latency = st.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let public = matches!(path.as_str(), "/version" | "/healthz" | "/livez" | "/readyz");
    let user = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| crate::review::authenticated(&st.users, t));
    if user.is_none() && !public {
        return error_response(&SimError::unauthorized());
    }
    if let Some((code, retry_after)) = st.faults.take_error(&path) {
        let mut r = error_response(&fault_error(code));
        if let Some(d) = retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::faults::retry_after_secs(d)));
        }
        return r;
    }
    let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(&SimError::bad_request(format!("reading body: {e}"))),
    };
    if let Some(u) = &user {
        let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
        let attrs = crate::authz::attributes(&parts.method, &path, watch);
        if !crate::authz::decide(st.authz.as_ref(), u, &attrs) {
            let mut e = SimError::forbidden(crate::authz::forbidden_message(&u.name, &attrs));
            if let crate::authz::Attributes::Resource { resource, name, .. } = &attrs {
                e = e.with_details(resource, name);
            }
            return error_response(&e);
        }
    }
    let hreq = HookRequest { method: parts.method, path, query, raw_query, headers: parts.headers, body, user };
    for h in &st.hooks {
        if let Some(fut) = h.route(&hreq) {
            return fut.await;
        }
    }
    match route(&st, &hreq).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn route(st: &Arc<State>, req: &HookRequest) -> Result<Response<Body>, SimError> {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Ok(value_response(StatusCode::OK, &version())),
        ["healthz"] | ["livez"] | ["readyz"] => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"ok")).boxed());
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            Ok(r)
        }
        ["api"] => {
            let addr = st.server_address.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Ok(value_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]}),
            ))
        }
        ["apis"] => Ok(value_response(StatusCode::OK, &group_list(&st.store))),
        ["apis", group] => {
            let gl = group_list(&st.store);
            let g = gl["groups"]
                .as_array()
                .and_then(|gs| gs.iter().find(|g| g["name"] == *group).cloned())
                .ok_or_else(SimError::not_found_path)?;
            let mut g = g;
            g["kind"] = json!("APIGroup");
            g["apiVersion"] = json!("v1");
            Ok(value_response(StatusCode::OK, &g))
        }
        ["openapi", "v3"] => Ok(value_response(StatusCode::OK, &openapi_root(&st.store))),
        ["openapi", "v3", "api", "v1"] => openapi_gv(&st.store, "", "v1"),
        ["openapi", "v3", "apis", group, version] => {
            if let Some(fut) = st.aggregator.as_ref().and_then(|a| a.openapi_v3(&st.store, group, version)) {
                return Ok(fut.await);
            }
            openapi_gv(&st.store, group, version)
        }
        ["apis", "authentication.k8s.io", "v1", "tokenreviews"] if req.method == Method::POST => {
            let v = crate::review::token_review(&st.users, &req.body)?;
            Ok(value_response(StatusCode::CREATED, &v))
        }
        ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"] if req.method == Method::POST => {
            let v = crate::review::subject_access_review(st.authz.as_ref(), &req.body)?;
            Ok(value_response(StatusCode::CREATED, &v))
        }
        ["apis", group, version, ..] if st.aggregator.is_some() && !st.store.has_group_version(group, version) => {
            let agg = st.aggregator.as_ref().ok_or_else(SimError::not_found_path)?;
            match agg.route(&st.store, req, group, version) {
                Some(fut) => Ok(fut.await),
                None => resource_route(st, req, group, version, &segs[3..]).await,
            }
        }
        ["api", "v1", rest @ ..] => resource_route(st, req, "", "v1", rest).await,
        ["apis", group, version, rest @ ..] => resource_route(st, req, group, version, rest).await,
        _ => Err(SimError::not_found_path()),
    }
}

/// Root of the OpenAPI v3 discovery: one document per group/version.
fn openapi_root(store: &Store) -> Value {
    let mut paths = serde_json::Map::new();
    for rt in store.resources() {
        let p = if rt.group.is_empty() {
            format!("api/{}", rt.version)
        } else {
            format!("apis/{}/{}", rt.group, rt.version)
        };
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", store.current_rv())}));
    }
    for p in crate::aggregation::openapi_v3_paths(store) {
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}")}));
    }
    json!({"paths": paths})
}

/// A minimal OpenAPI v3 document for a group/version. It declares, per kind, a PATCH operation that
/// accepts `fieldValidation`, which is what kubectl checks before letting the server validate fields
/// (we accept any field), and no schemas, so kubectl computes patches from its built-in types.
fn openapi_gv(store: &Store, group: &str, version: &str) -> Result<Response<Body>, SimError> {
    let mut paths = serde_json::Map::new();
    for rt in store.resources().iter().filter(|r| r.group == group && r.version == version) {
        let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let path = if rt.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
        } else {
            format!("{prefix}/{}/{{name}}", rt.plural)
        };
        paths.insert(
            path,
            json!({"patch": {
                "operationId": format!("patch{}", rt.kind),
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                "parameters": [
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean"}}
                ],
                "responses": {"200": {"description": "OK"}}
            }}),
        );
    }
    if paths.is_empty() {
        return Err(SimError::not_found_path());
    }
    Ok(value_response(
        StatusCode::OK,
        &json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.0"}, "paths": paths, "components": {"schemas": {}}}),
    ))
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "36", "gitVersion": "v1.36.0-kube-sim", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn group_list(store: &Store) -> Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for rt in store.resources() {
        if rt.group.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| *g == rt.group) {
            Some((_, vs)) => {
                if !vs.contains(&rt.version) {
                    vs.push(rt.version.clone());
                }
            }
            None => groups.push((rt.group.clone(), vec![rt.version.clone()])),
        }
    }
    for (g, vs) in crate::aggregation::aggregated_groups(store) {
        match groups.iter_mut().find(|(name, _)| *name == g) {
            Some((_, have)) => {
                for v in vs {
                    if !have.contains(&v) {
                        have.push(v);
                    }
                }
            }
            None => groups.push((g, vs)),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, mut vs)| {
            // Highest stability first: v2 > v1 > v1beta1 > v1alpha1.
            vs.sort_by_key(|v| version_rank(v));
            vs.reverse();
            let versions: Vec<Value> =
                vs.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0].clone()})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn version_rank(v: &str) -> (u32, u32, u32) {
    let rest = v.trim_start_matches('v');
    let num_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let major: u32 = rest[..num_end].parse().unwrap_or(0);
    let tail = &rest[num_end..];
    let (stab, minor) = if let Some(m) = tail.strip_prefix("beta") {
        (1, m.parse().unwrap_or(0))
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (0, m.parse().unwrap_or(0))
    } else {
        (2, 0)
    };
    (stab, major, minor)
}

const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let mut resources = Vec::new();
    for rt in store.resources().iter().filter(|r| r.group == group && r.version == version) {
        let mut r = json!({
            "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind, "verbs": VERBS,
        });
        if !rt.short_names.is_empty() {
            r["shortNames"] = json!(rt.short_names);
        }
        if matches!(
            rt.kind.as_str(),
            "Pod"
                | "Service"
                | "ReplicationController"
                | "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "Job"
                | "CronJob"
                | "HorizontalPodAutoscaler"
        ) {
            r["categories"] = json!(["all"]);
        }
        resources.push(r);
        if rt.has_status {
            resources.push(json!({"name": format!("{}/status", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["get", "patch", "update"]}));
        }
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

/// Which object or collection a path addresses.
struct Target {
    rt: Arc<ResourceType>,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_target(store: &Store, group: &str, version: &str, rest: &[&str]) -> Result<Target, SimError> {
    let (ns, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some(ns.to_string()), [&[*plural][..], tail].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Err(SimError::not_found_path()),
    };
    let rt = store.resource_by_path(group, version, plural).ok_or_else(SimError::not_found_path)?;
    if ns.is_some() && !rt.namespaced {
        return Err(SimError::not_found_path());
    }
    if let Some(s) = &sub
        && (s != "status" || !rt.has_status)
    {
        return Err(SimError::not_found_path());
    }
    Ok(Target { rt, ns, name, sub })
}

async fn resource_route(
    st: &Arc<State>,
    req: &HookRequest,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, SimError> {
    if rest.is_empty() {
        let rl = resource_list(&st.store, group, version).ok_or_else(SimError::not_found_path)?;
        return Ok(value_response(StatusCode::OK, &rl));
    }
    let t = parse_target(&st.store, group, version, rest)?;
    let q = &req.query;
    let wants_table =
        req.headers.get(header::ACCEPT).and_then(|h| h.to_str().ok()).is_some_and(|a| a.contains("as=Table"));
    // Refuse rather than persist what the caller meant as a dry run.
    if req.method != Method::GET && q.get("dryRun").is_some_and(|d| !d.is_empty()) {
        return Err(SimError::bad_request("dryRun is not supported by kube-sim"));
    }
    match (&req.method, &t.name) {
        (&Method::GET, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
            let fields =
                FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str), supported_fields(&t.rt.kind))?;
            if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
                return Ok(watch(st, &t, labels, fields, q, wants_table));
            }
            list(st, &t, &labels, &fields, q, wants_table)
        }
        (&Method::POST, None) => create(st, &t, &req.body),
        (&Method::DELETE, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
            let fields =
                FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str), supported_fields(&t.rt.kind))?;
            let page = st.store.page(&t.rt, t.ns.as_deref(), None, &labels, &fields, 0);
            let mut deleted = Vec::new();
            for o in page.items {
                if let Ok(d) = st.store.delete_in(&t.rt, &o.namespace, &o.name, None) {
                    deleted.push(d);
                }
            }
            Ok(list_body(&t.rt, &deleted, st.store.current_rv(), None, 0))
        }
        (_, None) => Err(SimError::method_not_allowed(
            "the server does not allow this method on the requested resource".to_string(),
        )),
        (&Method::GET, Some(name)) => {
            let o = st
                .store
                .get_in(&t.rt, t.ns.as_deref().unwrap_or_default(), name)
                .ok_or_else(|| SimError::not_found(&t.rt.plural, name))?;
            if wants_table {
                return Ok(value_response(StatusCode::OK, &table::table(&t.rt, &[o.value()], o.rv, None)));
            }
            Ok(json_response(StatusCode::OK, o.bytes.clone()))
        }
        (&Method::PUT, Some(name)) => {
            let mut v = parse_body(&req.body)?;
            fill_identity(&t, &mut v, name)?;
            let kind = if t.sub.is_some() { UpdateKind::Status } else { UpdateKind::Main };
            let o = st.store.update_in(&t.rt, v, kind)?;
            Ok(json_response(StatusCode::OK, o.bytes.clone()))
        }
        (&Method::PATCH, Some(name)) => patch_object(st, &t, name, req),
        (&Method::DELETE, Some(name)) => {
            if t.sub.is_some() {
                return Err(SimError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            let opts: Value = if req.body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&req.body).unwrap_or(Value::Null)
            };
            let pre = &opts["preconditions"];
            let pre = (pre.is_object()).then(|| {
                (pre["uid"].as_str().unwrap_or_default(), pre["resourceVersion"].as_str().unwrap_or_default())
            });
            let o = st.store.delete_in(&t.rt, t.ns.as_deref().unwrap_or_default(), name, pre)?;
            Ok(json_response(StatusCode::OK, o.bytes.clone()))
        }
        _ => Err(SimError::method_not_allowed("the server does not allow this method on the requested resource")),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, SimError> {
    // Protobuf bodies start with the "k8s\0" magic; we only speak JSON and YAML.
    if body.starts_with(b"k8s\0") {
        return Err(SimError::unsupported_media(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        ));
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body).map_err(|_| SimError::bad_request("body is not UTF-8"))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| SimError::bad_request(format!("couldn't get version/kind; json parse error: {e}")))
}

/// Check and fill apiVersion, kind, name and namespace of a body against the URL.
fn fill_identity(t: &Target, v: &mut Value, name: &str) -> Result<(), SimError> {
    let o = v.as_object_mut().ok_or_else(|| SimError::bad_request("body must be a JSON object"))?;
    let av = t.rt.api_version();
    if let Some(k) = o.get("kind").and_then(Value::as_str)
        && k != t.rt.kind
    {
        return Err(SimError::bad_request(format!(
            "the kind \"{k}\" in the body does not match the resource \"{}\"",
            t.rt.plural
        )));
    }
    o.insert("kind".into(), json!(t.rt.kind));
    o.insert("apiVersion".into(), json!(av));
    let meta = o.entry("metadata").or_insert_with(|| json!({}));
    let body_name = meta["name"].as_str().unwrap_or_default().to_string();
    if !name.is_empty() {
        if !body_name.is_empty() && body_name != name {
            return Err(SimError::bad_request("the name of the object does not match the name on the URL"));
        }
        meta["name"] = json!(name);
    }
    if let Some(ns) = &t.ns {
        if let Some(bns) = meta["namespace"].as_str()
            && !bns.is_empty()
            && bns != ns
        {
            return Err(SimError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta["namespace"] = json!(ns);
    }
    Ok(())
}

fn create(st: &Arc<State>, t: &Target, body: &[u8]) -> Result<Response<Body>, SimError> {
    let mut v = parse_body(body)?;
    fill_identity(t, &mut v, "")?;
    if t.rt.namespaced {
        let ns = t.ns.clone().unwrap_or_else(|| "default".to_string());
        let nsrt = st.store.resource_for("v1", "Namespace").ok_or_else(SimError::not_found_path)?;
        match st.store.get_in(&nsrt, "", &ns) {
            None => return Err(SimError::not_found("namespaces", &ns)),
            Some(n) if n.value()["metadata"]["deletionTimestamp"].is_string() => {
                return Err(SimError::forbidden(format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                )));
            }
            Some(_) => {}
        }
    }
    let o = st.store.create_in(&t.rt, v, CreateMode::Api)?;
    Ok(json_response(StatusCode::CREATED, o.bytes.clone()))
}

fn patch_object(st: &Arc<State>, t: &Target, name: &str, req: &HookRequest) -> Result<Response<Body>, SimError> {
    let ct = req.headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let pt = PatchType::from_content_type(ct)
        .ok_or_else(|| SimError::unsupported_media(format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {ct:?}")))?;
    if pt == PatchType::Strategic && !t.rt.strategic {
        return Err(SimError::unsupported_media(
            "strategic merge patch is not supported for custom resources; use a JSON merge patch",
        ));
    }
    let p = parse_body(&req.body)?;
    let ns = t.ns.clone().unwrap_or_default();
    let kind = if t.sub.is_some() { UpdateKind::Status } else { UpdateKind::Main };
    if pt == PatchType::Apply && st.store.get_in(&t.rt, &ns, name).is_none() {
        // Server-side apply creates what does not exist yet.
        let mut v = p;
        fill_identity(t, &mut v, name)?;
        let o = st.store.create_in(&t.rt, v, CreateMode::Api)?;
        return Ok(json_response(StatusCode::CREATED, o.bytes.clone()));
    }
    let o = st.store.modify_in(&t.rt, &ns, name, kind, |cur| patch::apply(cur, pt, &p))?;
    Ok(json_response(StatusCode::OK, o.bytes.clone()))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    ns: String,
    name: String,
    /// Items the earlier pages returned.
    #[serde(default)]
    seen: usize,
}

fn list_body(rt: &ResourceType, items: &[Arc<Obj>], rv: u64, cont: Option<&str>, remaining: usize) -> Response<Body> {
    let size: usize = items.iter().map(|o| o.bytes.len() + 1).sum();
    let mut b = BytesMut::with_capacity(size + 256);
    b.put_slice(
        format!(
            "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{rv}\"",
            rt.list_kind(),
            rt.api_version()
        )
        .as_bytes(),
    );
    if let Some(c) = cont {
        b.put_slice(format!(",\"continue\":\"{c}\"").as_bytes());
        if remaining > 0 {
            b.put_slice(format!(",\"remainingItemCount\":{remaining}").as_bytes());
        }
    }
    b.put_slice(b"},\"items\":[");
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            b.put_u8(b',');
        }
        b.put_slice(&o.bytes);
    }
    b.put_slice(b"]}");
    json_response(StatusCode::OK, b.freeze())
}

fn list(
    st: &Arc<State>,
    t: &Target,
    labels: &LabelSelector,
    fields: &FieldSelector,
    q: &HashMap<String, String>,
    wants_table: bool,
) -> Result<Response<Body>, SimError> {
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut after = None;
    let mut list_rv = None;
    let mut seen = 0;
    if let Some(c) = q.get("continue").filter(|c| !c.is_empty()) {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .map_err(|_| SimError::bad_request("invalid continue token"))?;
        let tok: ContinueToken =
            serde_json::from_slice(&raw).map_err(|_| SimError::bad_request("invalid continue token"))?;
        if tok.rv < st.store.compacted_rv() {
            return Err(SimError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ));
        }
        list_rv = Some(tok.rv);
        seen = tok.seen;
        after = Some((tok.ns, tok.name));
    } else if let Some(rv) = q.get("resourceVersion").filter(|r| !r.is_empty() && *r != "0") {
        let rv: u64 = rv.parse().map_err(|_| SimError::bad_request(format!("invalid resource version: {rv}")))?;
        let exact = q.get("resourceVersionMatch").is_some_and(|m| m == "Exact");
        if rv < st.store.compacted_rv() && (exact || limit > 0) {
            return Err(SimError::expired(format!("too old resource version: {rv} ({})", st.store.compacted_rv())));
        }
        if rv > st.store.current_rv() {
            return Err(SimError::new(
                504,
                "Timeout",
                format!("Too large resource version: {rv}, current: {}", st.store.current_rv()),
            ));
        }
    }
    let page = st.store.page(&t.rt, t.ns.as_deref(), after.as_ref().map(|a| (a, seen)), labels, fields, limit);
    let rv = list_rv.unwrap_or(page.rv);
    let seen = seen + page.items.len();
    let cont = page.next.map(|(ns, name)| {
        let tok = serde_json::to_vec(&ContinueToken { rv, ns, name, seen }).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tok)
    });
    if wants_table {
        let objs: Vec<Value> = page.items.iter().map(|o| o.value()).collect();
        return Ok(value_response(StatusCode::OK, &table::table(&t.rt, &objs, rv, cont.as_deref())));
    }
    Ok(list_body(&t.rt, &page.items, rv, cont.as_deref(), page.remaining))
}

/// The per-watch filter: namespace, label and field selectors.
struct Filter {
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, o: &Obj) -> bool {
        self.ns.as_ref().is_none_or(|ns| *ns == o.namespace) && o.matches(&self.labels, &self.fields)
    }

    /// What this watcher sees of an event, if anything.
    fn view<'a>(&self, ev: &'a Event) -> Option<(&'static str, &'a Obj)> {
        let now = self.matches(&ev.obj);
        let before = ev.prev.as_ref().is_some_and(|p| self.matches(p));
        match ev.etype {
            EventType::Added => now.then_some(("ADDED", &*ev.obj)),
            EventType::Deleted => (now || before).then_some(("DELETED", &*ev.obj)),
            EventType::Modified => match (before, now) {
                (true, true) => Some(("MODIFIED", &*ev.obj)),
                (false, true) => Some(("ADDED", &*ev.obj)),
                (true, false) => Some(("DELETED", &*ev.obj)),
                (false, false) => None,
            },
        }
    }
}

struct WatchCtx {
    rt: Arc<ResourceType>,
    table: bool,
    tx: mpsc::Sender<Bytes>,
}

impl WatchCtx {
    /// Send one event; plain JSON events go out as three frames around the shared object bytes.
    async fn send_obj(&self, etype: &'static str, o: &Obj) -> bool {
        if self.table {
            let t = table::table(&self.rt, &[o.value()], o.rv, None);
            return self.tx.send(event_line(etype, &serde_json::to_vec(&t).unwrap_or_default())).await.is_ok();
        }
        let prefix = match etype {
            "ADDED" => Bytes::from_static(b"{\"type\":\"ADDED\",\"object\":"),
            "MODIFIED" => Bytes::from_static(b"{\"type\":\"MODIFIED\",\"object\":"),
            _ => Bytes::from_static(b"{\"type\":\"DELETED\",\"object\":"),
        };
        self.tx.send(prefix).await.is_ok()
            && self.tx.send(o.bytes.clone()).await.is_ok()
            && self.tx.send(Bytes::from_static(b"}\n")).await.is_ok()
    }

    async fn send_bookmark(&self, rv: u64, initial_end: bool) -> bool {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta});
        self.tx.send(event_line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())).await.is_ok()
    }

    async fn send_error(&self, e: &SimError) {
        let _ = self.tx.send(event_line("ERROR", &serde_json::to_vec(&e.to_status()).unwrap_or_default())).await;
    }
}

fn watch(
    st: &Arc<State>,
    t: &Target,
    labels: LabelSelector,
    fields: FieldSelector,
    q: &HashMap<String, String>,
    wants_table: bool,
) -> Response<Body> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(768);
    let filter = Filter { ns: t.ns.clone().filter(|_| t.rt.namespaced), labels, fields };
    let ctx = WatchCtx { rt: t.rt.clone(), table: wants_table, tx };
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true" || v == "1");
    let initial = q.get("sendInitialEvents").is_some_and(|v| v == "true" || v == "1");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let store = st.store.clone();
    let cut = st.faults.cut_token();
    let shutdown = st.shutdown.clone();
    let interval = st.bookmark_interval;
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        tokio::select! {
            _ = run_watch(store, ctx, filter, bookmarks, initial, rv_param, interval) => {}
            _ = &mut deadline => {}
            _ = cut.cancelled() => {}
            _ = shutdown.cancelled() => {}
        }
    });
    let stream =
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(|b| Ok::<_, Infallible>(Frame::data(b)))));
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

async fn run_watch(
    store: Arc<Store>,
    ctx: WatchCtx,
    filter: Filter,
    bookmarks: bool,
    initial: bool,
    rv_param: String,
    interval: Duration,
) {
    let mut last_rv;
    let mut rx: broadcast::Receiver<Arc<Event>>;
    if initial || rv_param.is_empty() || rv_param == "0" {
        let (items, rv, r) = store.watch_with_snapshot(&ctx.rt, filter.ns.as_deref());
        rx = r;
        last_rv = rv;
        for o in items.iter().filter(|o| filter.matches(o)) {
            if !ctx.send_obj("ADDED", o).await {
                return;
            }
        }
        if initial && bookmarks && !ctx.send_bookmark(rv, true).await {
            return;
        }
    } else {
        let Ok(since) = rv_param.parse::<u64>() else {
            ctx.send_error(&SimError::bad_request(format!("invalid resource version: {rv_param}"))).await;
            return;
        };
        match store.watch_from(&ctx.rt, since) {
            Err(e) => {
                ctx.send_error(&e).await;
                return;
            }
            Ok((backlog, r)) => {
                rx = r;
                last_rv = since;
                for ev in backlog {
                    last_rv = last_rv.max(ev.rv);
                    if let Some((ty, o)) = filter.view(&ev)
                        && !ctx.send_obj(ty, o).await
                    {
                        return;
                    }
                }
            }
        }
    }
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(ev) => {
                    if ev.rv <= last_rv {
                        continue;
                    }
                    last_rv = ev.rv;
                    if ev.res != ctx.rt.key() {
                        continue;
                    }
                    if let Some((ty, o)) = filter.view(&ev)
                        && !ctx.send_obj(ty, o).await {
                            return;
                        }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, resource = %ctx.rt.plural, "watcher fell behind; ending it with 410");
                    ctx.send_error(&SimError::expired(format!("watcher fell behind by {n} events"))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                if bookmarks && !ctx.send_bookmark(last_rv, false).await {
                    return;
                }
            }
            _ = ctx.tx.closed() => return,
        }
    }
}

/// Accept connections until shutdown; each connection is served on its own task. Fault injection may
/// close the port, drop the open connections and re-bind the same address later.
pub async fn serve(st: Arc<State>, listener: tokio::net::TcpListener, tls: Option<Arc<rustls::ServerConfig>>) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let shutdown = st.shutdown.clone();
    let faults = st.faults.clone();
    faults
        .accept_loop(listener, shutdown, move |stream, peer, dropped| {
            let _ = stream.set_nodelay(true);
            let st = st.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let shutdown = st.shutdown.clone();
                let svc = hyper::service::service_fn(move |req| {
                    let st = st.clone();
                    async move { Ok::<_, Infallible>(handle(st, req).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                let res = match acceptor {
                    Some(acc) => match acc.accept(stream).await {
                        Ok(tls) => {
                            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
                            tokio::select! {
                                r = conn => r,
                                _ = shutdown.cancelled() => Ok(()),
                                _ = dropped.cancelled() => Ok(()),
                            }
                        }
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            Ok(())
                        }
                    },
                    None => {
                        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                        tokio::select! {
                            r = conn => r,
                            _ = shutdown.cancelled() => Ok(()),
                            _ = dropped.cancelled() => Ok(()),
                        }
                    }
                };
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "connection ended with error");
                }
            });
        })
        .await;
}
