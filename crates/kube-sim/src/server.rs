//! HTTP front end: authentication, discovery, and a generic group/version/resource router over the store.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::error::SimError;
use crate::faults::Faults;
use crate::http::{Body, HookRequest, RouteHook, User, json_doc, json_response, parse_query};
use crate::patch::{self, PatchType};
use crate::protobuf::Encoding;
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector, supported_fields};
use crate::shard::ShardSelector;
use crate::store::{CreateMode, Event, EventType, Obj, Selection, Store, UpdateKind, event_line};
use crate::table;

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 20;

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
    /// How long a read at a resourceVersion the store has not reached waits for it (the watch cache
    /// waits 3 s) before it answers 504.
    pub rv_wait: Duration,
    /// The Kubernetes minor version `/version` reports.
    pub kubernetes_minor: u32,
    /// The beta group/versions served besides the defaults (`--runtime-config`).
    pub runtime_config: Vec<String>,
    pub(crate) aggregator: Option<Arc<crate::aggregation::Aggregator>>,
    /// Protobuf answers on or off (see [`crate::protobuf`]).
    pub encodings: crate::protobuf::Encodings,
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
            rv_wait: Duration::from_secs(3),
            kubernetes_minor: crate::resources::NEWEST_MINOR,
            runtime_config: Vec::new(),
            aggregator: None,
            encodings: Default::default(),
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

fn value_response(code: StatusCode, v: &Value) -> Response<Body> {
    json_doc(code, &serde_json::to_vec(v).unwrap_or_default())
}

/// Serve one request, accounted in the request log.
pub async fn handle(st: Arc<State>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let header_of = |name| req.headers().get(name).and_then(|h: &HeaderValue| h.to_str().ok());
    let (accept, encoding) = (header_of(header::ACCEPT), header_of(header::ACCEPT_ENCODING));
    let pending = st.faults.log.begin(req.method().as_str(), req.uri().path(), req.uri().query(), accept, encoding);
    // A watch streams: never indented, never compressed.
    let query = parse_query(req.uri().query().filter(|q| q.contains("pretty") || q.contains("watch")));
    let watch = query.get("watch").is_some_and(|w| matches!(w.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
    let pretty = !watch && crate::pretty::requested(&query, header_of(header::USER_AGENT));
    let gzip = !watch && crate::gzip::accepted(encoding);
    let mut resp = serve_request(st, req).await;
    if pretty || gzip {
        resp = rewrite(resp, pretty, gzip).await;
    }
    pending.finish(resp)
}

/// An answer as the API server finally writes it: JSON indented when `pretty` (see [`crate::pretty`]),
/// then gzipped when the client takes it and it is large enough (see [`crate::gzip`]).
async fn rewrite(resp: Response<Body>, pretty: bool, gzip: bool) -> Response<Body> {
    // An answer encoded already (an aggregated server's own gzip) goes on as it came, as the real
    // server's proxy passes it.
    if resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json");
    if !gzip && !json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(mut body) = body.collect().await.map(|b| b.to_bytes());
    parts.headers.remove(header::CONTENT_LENGTH);
    if pretty && json {
        body = Bytes::from(crate::pretty::indent(&body));
    }
    if gzip && body.len() >= crate::gzip::THRESHOLD {
        match crate::gzip::compress(&body) {
            Ok(z) => {
                body = Bytes::from(z);
                parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                parts.headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            }
            Err(e) => tracing::warn!(error = %e, "gzip failed; answering uncompressed"),
        }
    }
    Response::from_parts(parts, Full::new(body).boxed())
}

async fn serve_request(st: Arc<State>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query());
    let raw_query = parts.uri.query().map(str::to_string);
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
    // Error bodies follow the client's Accept header (a protobuf Status for client-go).
    let neg = crate::protobuf::negotiate(st.encodings.json_only(), &st.store, &parts.headers, &path);
    let fail = |e: &SimError| crate::protobuf::error_response(e, neg.errors);
    if user.is_none() && !public {
        return fail(&SimError::unauthorized());
    }
    if let Some((code, retry_after)) = st.faults.take_error(&path) {
        let mut r = fail(&fault_error(code));
        if let Some(d) = retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::faults::retry_after_secs(d)));
        }
        return r;
    }
    let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return fail(&SimError::bad_request(format!("reading body: {e}"))),
    };
    if let Some(u) = &user {
        let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
        let attrs = crate::authz::attributes(&parts.method, &path, watch);
        if !crate::authz::decide(st.authz.as_ref(), u, &attrs) {
            let mut e = SimError::forbidden(crate::authz::forbidden_message(&u.name, &attrs));
            if let crate::authz::Attributes::Resource { resource, name, .. } = &attrs {
                e = e.with_details(resource, name);
            }
            return fail(&e);
        }
    }
    if neg.answer.is_none() {
        return crate::protobuf::not_acceptable(st.encodings.json_only(), neg.errors);
    }
    let hreq = HookRequest { method: parts.method, path, query, raw_query, headers: parts.headers, body, user };
    for h in &st.hooks {
        if let Some(fut) = h.route(&hreq) {
            return fut.await;
        }
    }
    match route(&st, &hreq).await {
        Ok(r) => r,
        Err(e) => fail(&e),
    }
}

async fn route(st: &Arc<State>, req: &HookRequest) -> Result<Response<Body>, SimError> {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Ok(json_response(StatusCode::OK, Bytes::from(version_body(st.kubernetes_minor)))),
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

/// `/version` as kube-apiserver 1.`minor` writes it: its field order, indented, no trailing newline.
/// The emulation and compatibility fields came with compatibility versions (1.33 here).
fn version_body(minor: u32) -> String {
    let (m, prev, git) = (minor.to_string(), minor.saturating_sub(1).to_string(), format!("v1.{minor}.0-kube-sim"));
    let mut fields = vec![("major", "1"), ("minor", m.as_str())];
    if minor >= 33 {
        fields.extend([
            ("emulationMajor", "1"),
            ("emulationMinor", m.as_str()),
            ("minCompatibilityMajor", "1"),
            ("minCompatibilityMinor", prev.as_str()),
        ]);
    }
    fields.extend([
        ("gitVersion", git.as_str()),
        ("gitCommit", "0000000000000000000000000000000000000000"),
        ("gitTreeState", "clean"),
        ("buildDate", "2026-01-01T00:00:00Z"),
        ("goVersion", "go1.26.0"),
        ("compiler", "gc"),
        ("platform", "linux/amd64"),
    ]);
    let lines: Vec<String> = fields.iter().map(|(k, v)| format!("  {}: {}", json!(k), json!(v))).collect();
    format!("{{\n{}\n}}", lines.join(",\n"))
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
    let metadata = !wants_table && crate::metadata::wanted(&req.headers);
    let enc = match crate::protobuf::negotiate(st.encodings.json_only(), &st.store, &req.headers, &req.path).answer {
        Some(Encoding::Protobuf) if !wants_table => Encoding::Protobuf,
        _ => Encoding::Json,
    };
    let form = Form { table: wants_table, metadata, enc };
    // Refuse rather than persist what the caller meant as a dry run.
    if req.method != Method::GET && q.get("dryRun").is_some_and(|d| !d.is_empty()) {
        return Err(SimError::bad_request("dryRun is not supported by kube-sim"));
    }
    match (&req.method, &t.name) {
        (&Method::GET, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
            let fields =
                FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str), supported_fields(&t.rt.kind))?;
            let shard = shard_selector(st, q)?;
            if flag(q, "watch") {
                return Ok(with_verb(watch(st, &t, labels, fields, shard, q, form), "watch"));
            }
            list(st, &t, &labels, &fields, shard.as_ref(), q, form).await.map(|r| with_verb(r, "list"))
        }
        (&Method::POST, None) => create(st, &t, &req.body),
        (&Method::DELETE, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
            let fields =
                FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str), supported_fields(&t.rt.kind))?;
            let sel = Selection { labels: &labels, fields: &fields, shard: None };
            let page = st.store.page(&t.rt, t.ns.as_deref(), None, &sel, 0);
            let mut deleted = Vec::new();
            for o in page.items {
                if let Ok(d) = st.store.delete_in(&t.rt, &o.namespace, &o.name, None) {
                    deleted.push(d);
                }
            }
            Ok(with_verb(list_body(&t.rt, &deleted, st.store.current_rv(), None, 0, None), "deletecollection"))
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
            if enc == Encoding::Protobuf {
                return crate::protobuf::object_response(&t.rt, &o, metadata).map(|r| with_verb(r, "get"));
            }
            if metadata {
                return Ok(with_verb(json_doc(StatusCode::OK, &crate::metadata::json_object(&o.bytes)?), "get"));
            }
            Ok(with_verb(json_doc(StatusCode::OK, &o.bytes), "get"))
        }
        (&Method::PUT, Some(name)) => {
            let mut v = parse_body(&req.body)?;
            crate::protobuf::check_decodable(&t.rt, &v)?;
            fill_identity(&t, &mut v, name)?;
            let kind = if t.sub.is_some() { UpdateKind::Status } else { UpdateKind::Main };
            let o = st.store.update_in(&t.rt, v, kind)?;
            Ok(json_doc(StatusCode::OK, &o.bytes))
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
            let ns = t.ns.as_deref().unwrap_or_default();
            let o = st.store.delete_in(&t.rt, ns, name, pre)?;
            // Gone at once: the real server answers a Status naming what went (Services, whose
            // storage returns the deleted object, excepted); held by finalizers: the object.
            if st.store.get_in(&t.rt, ns, name).is_some() || t.rt.kind == "Service" {
                return Ok(json_doc(StatusCode::OK, &o.bytes));
            }
            Ok(json_doc(StatusCode::OK, deleted_status(&t.rt, &o).as_bytes()))
        }
        _ => Err(SimError::method_not_allowed("the server does not allow this method on the requested resource")),
    }
}

/// The request's `shardSelector` when the feature gate is on; a malformed one is the real server's
/// 500 without a reason. Off, the parameter is ignored, malformed or not.
fn shard_selector(st: &State, q: &HashMap<String, String>) -> Result<Option<(ShardSelector, String)>, SimError> {
    if !st.faults.sharded_list_and_watch() {
        return Ok(None);
    }
    let Some(raw) = q.get("shardSelector").filter(|s| !s.is_empty()) else { return Ok(None) };
    ShardSelector::parse(raw)
        .map(|s| Some((s, raw.clone())))
        .map_err(|m| SimError::new(500, "", format!("invalid shard selector: {m}")))
}

/// What the real server answers for a DELETE that removed the object at once.
fn deleted_status(rt: &ResourceType, o: &Obj) -> String {
    let uid = o.value()["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let mut details = vec![("name", json!(o.name))];
    if !rt.group.is_empty() {
        details.push(("group", json!(rt.group)));
    }
    // The resource, in the field named kind: Go fills it so.
    details.push(("kind", json!(rt.plural)));
    details.push(("uid", json!(uid)));
    crate::error::ordered(&[
        ("kind", json!("Status")),
        ("apiVersion", json!("v1")),
        ("metadata", json!({})),
        ("status", json!("Success")),
        ("details", crate::error::raw(&crate::error::ordered(&details))),
    ])
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v == "true" || v == "1")
}

/// Tell the request log which verb a resource request was (GET serves both get and list).
fn with_verb(mut r: Response<Body>, verb: &'static str) -> Response<Body> {
    r.extensions_mut().insert(crate::accounting::Verb(verb));
    r
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
    crate::protobuf::check_decodable(&t.rt, &v)?;
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
    Ok(json_doc(StatusCode::CREATED, &o.bytes))
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
        crate::protobuf::check_decodable(&t.rt, &v)?;
        fill_identity(t, &mut v, name)?;
        let o = st.store.create_in(&t.rt, v, CreateMode::Api)?;
        return Ok(json_doc(StatusCode::CREATED, &o.bytes));
    }
    let o = st.store.modify_in(&t.rt, &ns, name, kind, |cur| {
        let patched = patch::apply(cur, pt, &p)?;
        crate::protobuf::check_decodable(&t.rt, &patched)?;
        Ok(patched)
    })?;
    Ok(json_doc(StatusCode::OK, &o.bytes))
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

fn list_body(
    rt: &ResourceType,
    items: &[Arc<Obj>],
    rv: u64,
    cont: Option<&str>,
    remaining: usize,
    shard: Option<&str>,
) -> Response<Body> {
    let size: usize = items.iter().map(|o| o.bytes.len() + 1).sum();
    let mut b = BytesMut::with_capacity(size + 256);
    b.put_slice(
        format!("{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":", rt.list_kind(), rt.api_version()).as_bytes(),
    );
    b.put_slice(list_meta_json(rv, cont, remaining, shard).as_bytes());
    b.put_slice(b",\"items\":[");
    // Items without kind and apiVersion, as the real server lists them.
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            b.put_u8(b',');
        }
        let (open, rest) = o.item_parts();
        b.put_slice(open);
        b.put_slice(rest);
    }
    b.put_slice(b"]}\n");
    json_response(StatusCode::OK, b.freeze())
}

/// A list's `metadata` as the real server writes it.
fn list_meta_json(rv: u64, cont: Option<&str>, remaining: usize, shard: Option<&str>) -> String {
    let mut m = format!("{{\"resourceVersion\":\"{rv}\"");
    if let Some(c) = cont {
        m.push_str(&format!(",\"continue\":\"{c}\""));
        if remaining > 0 {
            m.push_str(&format!(",\"remainingItemCount\":{remaining}"));
        }
    }
    if let Some(sel) = shard {
        // ListMeta field 5, after continue and remainingItemCount: the selector as the client sent it.
        m.push_str(",\"shardInfo\":{\"selector\":");
        m.push_str(&serde_json::to_string(sel).unwrap_or_default());
        m.push('}');
    }
    m.push('}');
    m
}

/// Wait up to `wait` for the store to reach `rv`, as the watch cache does before it serves a read at a
/// resourceVersion it has not seen yet; false if it did not.
async fn wait_for_rv(store: &Store, rv: u64, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while store.current_rv() < rv {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// How an answer is written: as a Table (`as=Table`), and in which encoding.
#[derive(Clone, Copy)]
struct Form {
    table: bool,
    /// `PartialObjectMetadata` instead of the objects (see [`crate::metadata`]).
    metadata: bool,
    enc: Encoding,
}

async fn list(
    st: &Arc<State>,
    t: &Target,
    labels: &LabelSelector,
    fields: &FieldSelector,
    shard: Option<&(ShardSelector, String)>,
    q: &HashMap<String, String>,
    form: Form,
) -> Result<Response<Body>, SimError> {
    let Form { table: wants_table, metadata, enc } = form;
    let mut limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
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
    } else if q.get("resourceVersion").is_some_and(|r| r == "0") {
        // Any version will do: the watch cache answers from what it holds, in one response
        // whatever the limit (client-go's reflector relies on it for its first list).
        limit = 0;
    } else if let Some(rv) = q.get("resourceVersion").filter(|r| !r.is_empty()) {
        let rv: u64 = rv.parse().map_err(|_| SimError::bad_request(format!("invalid resource version: {rv}")))?;
        let exact = q.get("resourceVersionMatch").is_some_and(|m| m == "Exact");
        if rv < st.store.compacted_rv() && (exact || limit > 0) {
            return Err(SimError::expired(format!("too old resource version: {rv} ({})", st.store.compacted_rv())));
        }
        if !wait_for_rv(&st.store, rv, st.rv_wait).await {
            return Err(SimError::rv_too_large(rv, st.store.current_rv()));
        }
    }
    let sel = Selection { labels, fields, shard: shard.map(|s| &s.0) };
    let page = st.store.page(&t.rt, t.ns.as_deref(), after.as_ref().map(|a| (a, seen)), &sel, limit);
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
    let shard = shard.map(|s| s.1.as_str());
    if enc == Encoding::Protobuf {
        return crate::protobuf::list_response(
            &t.rt,
            &page.items,
            rv,
            cont.as_deref(),
            page.remaining,
            shard,
            metadata,
        );
    }
    if metadata {
        let items: Vec<Vec<u8>> =
            page.items.iter().map(|o| crate::metadata::json_object(&o.bytes)).collect::<Result<_, _>>()?;
        let meta = list_meta_json(rv, cont.as_deref(), page.remaining, shard);
        return Ok(json_response(StatusCode::OK, crate::metadata::json_list(&meta, &items)));
    }
    Ok(list_body(&t.rt, &page.items, rv, cont.as_deref(), page.remaining, shard))
}

/// The per-watch filter: namespace, label and field selectors.
struct Filter {
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// Events of objects outside the shard are not sent (bookmarks are).
    shard: Option<ShardSelector>,
}

impl Filter {
    fn matches(&self, o: &Obj) -> bool {
        self.ns.as_ref().is_none_or(|ns| *ns == o.namespace)
            && o.matches(&self.labels, &self.fields)
            && self.shard.as_ref().is_none_or(|s| s.matches(&o.uid, &o.namespace))
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
    /// `PartialObjectMetadata` instead of the objects.
    metadata: bool,
    /// Length-prefixed protobuf frames instead of JSON lines.
    protobuf: bool,
    tx: mpsc::Sender<Bytes>,
}

/// What a kube-apiserver v1.36 on etcd older than 3.4.31 sends for a streaming list: the storage
/// cannot request watch progress, so the watch cache refuses (captured byte for byte).
pub(crate) const STREAMING_REFUSED: &[u8] = b"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled\",\"reason\":\"InternalError\",\"code\":500}}\n";

/// Fields the real server writes in a bookmark besides `metadata`: its bookmark objects are empty
/// objects of the watched type, and Go serializes the non-`omitempty` parts of those (captured for
/// these kinds; other kinds' bookmarks carry `metadata` only, as ConfigMap's do).
fn bookmark_tail(kind: &str) -> &'static str {
    match kind {
        "Pod" => r#","spec":{"containers":null},"status":{}"#,
        "Node" => {
            r#","spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}"#
        }
        "Deployment" => {
            r#","spec":{"replicas":0,"selector":null,"template":{"metadata":{},"spec":{"containers":null}},"strategy":{}},"status":{}"#
        }
        _ => "",
    }
}

impl WatchCtx {
    /// Send one event; plain JSON events go out as three frames around the shared object bytes.
    async fn send_obj(&self, etype: &'static str, o: &Obj) -> bool {
        if self.table {
            let t = table::table(&self.rt, &[o.value()], o.rv, None);
            return self.tx.send(event_line(etype, &serde_json::to_vec(&t).unwrap_or_default())).await.is_ok();
        }
        if self.protobuf {
            return match crate::protobuf::event_frame(&self.rt, etype, o, self.metadata) {
                Ok(frame) => self.tx.send(frame).await.is_ok(),
                Err(e) => {
                    self.send_error(&e).await;
                    false
                }
            };
        }
        if self.metadata {
            return match crate::metadata::json_object(&o.bytes) {
                Ok(obj) => self.tx.send(event_line(etype, &obj)).await.is_ok(),
                Err(e) => {
                    self.send_error(&e).await;
                    false
                }
            };
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
        if self.protobuf {
            let frame = crate::protobuf::bookmark_frame(&self.rt, rv, initial_end, self.metadata);
            return self.tx.send(frame).await.is_ok();
        }
        let annotations = if initial_end { r#","annotations":{"k8s.io/initial-events-end":"true"}"# } else { "" };
        let (kind, api_version, tail) = if self.metadata {
            (crate::metadata::KIND.to_owned(), crate::metadata::API_VERSION.to_owned(), "")
        } else {
            (self.rt.kind.clone(), self.rt.api_version(), bookmark_tail(&self.rt.kind))
        };
        let obj = format!(
            r#"{{"kind":"{kind}","apiVersion":"{api_version}","metadata":{{"resourceVersion":"{rv}"{annotations}}}{tail}}}"#
        );
        self.tx.send(event_line("BOOKMARK", obj.as_bytes())).await.is_ok()
    }

    async fn send_error(&self, e: &SimError) {
        if self.protobuf {
            let _ = self.tx.send(crate::protobuf::error_frame(e)).await;
            return;
        }
        let _ = self.tx.send(event_line("ERROR", &e.status_bytes())).await;
    }
}

/// What a watch request asked for.
struct WatchParams {
    bookmarks: bool,
    /// A streaming list: the current state as ADDED events, then the initial-events-end bookmark.
    initial: bool,
    /// The `resourceVersion` parameter; empty when absent.
    rv: String,
    /// How long a streaming list at a resourceVersion not reached yet waits for it.
    rv_wait: Duration,
    bookmark_interval: Duration,
}

fn watch(
    st: &Arc<State>,
    t: &Target,
    labels: LabelSelector,
    fields: FieldSelector,
    shard: Option<(ShardSelector, String)>,
    q: &HashMap<String, String>,
    form: Form,
) -> Response<Body> {
    let Form { table: wants_table, metadata, enc } = form;
    let initial = flag(q, "sendInitialEvents");
    if initial && !st.faults.streaming_lists() {
        if enc == Encoding::Protobuf {
            return crate::protobuf::refused_watch();
        }
        return json_response(StatusCode::OK, Bytes::from_static(STREAMING_REFUSED));
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(768);
    let filter = Filter { ns: t.ns.clone().filter(|_| t.rt.namespaced), labels, fields, shard: shard.map(|s| s.0) };
    let ctx = WatchCtx { rt: t.rt.clone(), table: wants_table, metadata, protobuf: enc == Encoding::Protobuf, tx };
    let params = WatchParams {
        bookmarks: flag(q, "allowWatchBookmarks"),
        initial,
        rv: q.get("resourceVersion").cloned().unwrap_or_default(),
        rv_wait: st.rv_wait,
        bookmark_interval: st.bookmark_interval,
    };
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let store = st.store.clone();
    let cut = st.faults.cut_token();
    let shutdown = st.shutdown.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        tokio::select! {
            _ = run_watch(store, ctx, filter, params) => {}
            _ = &mut deadline => {}
            _ = cut.cancelled() => {}
            _ = shutdown.cancelled() => {}
        }
    });
    let stream =
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(|b| Ok::<_, Infallible>(Frame::data(b)))));
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    let content_type = if enc == Encoding::Protobuf { kwire::STREAM_MEDIA_TYPE } else { "application/json" };
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn run_watch(store: Arc<Store>, ctx: WatchCtx, filter: Filter, p: WatchParams) {
    let requested = if p.rv.is_empty() || p.rv == "0" {
        None
    } else {
        match p.rv.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => {
                ctx.send_error(&SimError::bad_request(format!("invalid resource version: {}", p.rv))).await;
                return;
            }
        }
    };
    // `since`: events at or below it are not sent. `seen`: the newest store version this watch knows
    // of; bookmarks carry it, and none is sent while it is below `since` (a watch from a version the
    // server has not reached stays silent, as on a real server).
    let since;
    let mut seen;
    let mut last_sent;
    let mut rx: broadcast::Receiver<Arc<Event>>;
    if p.initial || requested.is_none() {
        if p.initial
            && let Some(want) = requested
            && !wait_for_rv(&store, want, p.rv_wait).await
        {
            ctx.send_error(&SimError::rv_too_large(want, store.current_rv())).await;
            return;
        }
        let (items, rv, r) = store.watch_with_snapshot(&ctx.rt, filter.ns.as_deref());
        rx = r;
        since = rv;
        seen = rv;
        last_sent = rv;
        for o in items.iter().filter(|o| filter.matches(o)) {
            if !ctx.send_obj("ADDED", o).await {
                return;
            }
        }
        if p.initial && p.bookmarks {
            // The end bookmark carries the version asked for; the state sent may be newer, which a
            // plain bookmark at the current version tells right after.
            let end = requested.unwrap_or(rv);
            if !ctx.send_bookmark(end, true).await || (end < rv && !ctx.send_bookmark(rv, false).await) {
                return;
            }
        }
    } else {
        let from = requested.unwrap_or_default();
        match store.watch_from(&ctx.rt, from) {
            Err(e) => {
                ctx.send_error(&e).await;
                return;
            }
            Ok((backlog, r)) => {
                rx = r;
                since = from;
                seen = store.current_rv();
                last_sent = from;
                for ev in backlog {
                    seen = seen.max(ev.rv);
                    last_sent = last_sent.max(ev.rv);
                    if let Some((ty, o)) = filter.view(&ev)
                        && !ctx.send_obj(ty, o).await
                    {
                        return;
                    }
                }
            }
        }
    }
    let mut tick = tokio::time::interval(p.bookmark_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(ev) => {
                    seen = seen.max(ev.rv);
                    if ev.rv <= last_sent {
                        continue;
                    }
                    last_sent = ev.rv;
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
                if p.bookmarks && seen >= since && !ctx.send_bookmark(seen, false).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_as_go_does() {
        let q = parse_query(Some(
            "shardSelector=shardRange%28object.metadata.uid%2C%20%270x0%27%29&labelSelector=a+in+(x,y)&watch&bad=%zz%4",
        ));
        assert_eq!(q["shardSelector"], "shardRange(object.metadata.uid, '0x0')");
        assert_eq!(q["labelSelector"], "a in (x,y)");
        assert_eq!(q["watch"], "");
        assert_eq!(q["bad"], "%zz%4");
        assert_eq!(parse_query(Some("a=1&a=2"))["a"], "2");
        assert!(parse_query(None).is_empty() && parse_query(Some("&&")).is_empty());
        assert_eq!(parse_query(Some("n%C3%A9=%E2%98%95"))["né"], "☕");
    }

    async fn body_of(r: Response<Body>) -> (http::HeaderMap, Bytes) {
        let (parts, body) = r.into_parts();
        let Ok(body) = body.collect().await.map(|b| b.to_bytes());
        (parts.headers, body)
    }

    #[tokio::test]
    async fn answers_are_indented_and_compressed_once() {
        let big = Bytes::from(format!("{{\"items\":[{}]}}", vec!["{\"a\":1}"; 30_000].join(",")));
        let (h, b) = body_of(rewrite(json_response(StatusCode::OK, big.clone()), true, true).await).await;
        assert_eq!(h[header::CONTENT_ENCODING], "gzip");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&b[..]), &mut plain).unwrap();
        assert_eq!(plain, crate::pretty::indent(&big));
        // A backend's gzipped answer (through the aggregation) is neither indented nor gzipped again.
        let mut r = json_response(StatusCode::OK, b.clone());
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let (h, again) = body_of(rewrite(r, true, true).await).await;
        assert_eq!((h.get_all(header::CONTENT_ENCODING).iter().count(), again), (1, b));
    }
}
