//! metrics.k8s.io/v1beta1: routing, content negotiation, conversions (Table, PartialObjectMetadata),
//! Status errors. Pure: request in, bytes out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::{bytes_binary, cpu_nanocores, go_duration};
use crate::negotiate::{self, Conversion, Format, NOT_ACCEPTABLE, Output, Target};
use crate::proto::{self, Proto};
use crate::selector::{FieldSelector, LabelSelector};
use crate::storage::{Nanos, Storage, Usage};
use crate::wire::{
    ApiGroup, ApiGroupList, ApiResource, ApiResourceList, Column, ContainerMetrics, Duration, Empty, GroupVersion,
    List, NodeMetrics, ObjectMeta, PartialObjectMetadata, PodMetrics, Row, RowObject, Status, Table, Time, type_meta,
};

pub use crate::wire::GROUP_VERSION;

pub const GROUP: &str = "metrics.k8s.io";
const PREFIX: &str = "/apis/metrics.k8s.io/v1beta1";

/// What the API knows about a node from the node watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub labels: BTreeMap<String, String>,
    /// `status.addresses` as (type, address), in order.
    pub addresses: Vec<(String, String)>,
    /// `status.daemonEndpoints.kubeletEndpoint.Port` (0 when unset).
    pub kubelet_port: u16,
    /// `metrics.k8s.io/resource-metrics-path` annotation.
    pub metrics_path: Option<String>,
}

/// Objects known from the watches: all nodes, and Running pods with their labels.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    pub nodes: BTreeMap<String, NodeInfo>,
    pub pods: BTreeMap<(String, String), BTreeMap<String, String>>,
}

/// A rendered HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Written the way Go's raw JSON writer does (no `X-Content-Type-Options`).
    pub raw: bool,
}

/// What authorization needs to know about a request (the SubjectAccessReview attributes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attributes {
    Resource { verb: &'static str, resource: &'static str, namespace: Option<String>, name: Option<String> },
    NonResource { verb: &'static str, path: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    ResourceList,
    Group,
    Groups,
    Nodes(Option<String>),
    Pods(Option<String>, Option<String>),
    NotFound,
}

fn route(path: &str) -> Route {
    let path = path.trim_end_matches('/');
    match path {
        "/apis" => return Route::Groups,
        "/apis/metrics.k8s.io" => return Route::Group,
        PREFIX => return Route::ResourceList,
        _ => {}
    }
    let Some(rest) = path.strip_prefix(PREFIX).and_then(|r| r.strip_prefix('/')) else {
        return Route::NotFound;
    };
    let segs: Vec<&str> = rest.split('/').collect();
    match segs.as_slice() {
        ["nodes"] => Route::Nodes(None),
        ["nodes", n] if !n.is_empty() => Route::Nodes(Some(n.to_string())),
        ["pods"] => Route::Pods(None, None),
        ["namespaces", ns, "pods"] if !ns.is_empty() => Route::Pods(Some(ns.to_string()), None),
        ["namespaces", ns, "pods", n] if !ns.is_empty() && !n.is_empty() => {
            Route::Pods(Some(ns.to_string()), Some(n.to_string()))
        }
        _ => Route::NotFound,
    }
}

/// Parse `a=b&c=d` with percent-decoding; for a repeated key the first value counts, as Go's `Get`.
pub fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn is_watch(query: &BTreeMap<String, String>) -> bool {
    query.get("watch").is_some_and(|v| v == "true" || v == "1")
}

/// The authorization attributes of a request, with the verb the apiserver derives from the method.
pub fn attributes(method: &http::Method, path: &str, query: &BTreeMap<String, String>) -> Attributes {
    let read = *method == http::Method::GET || *method == http::Method::HEAD;
    let write_verb = |named: bool| match *method {
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE if named => "delete",
        http::Method::DELETE => "deletecollection",
        _ => "unknown",
    };
    let verb = |named: bool| {
        if !read {
            write_verb(named)
        } else if named {
            "get"
        } else if is_watch(query) {
            "watch"
        } else {
            "list"
        }
    };
    match route(path) {
        Route::Nodes(name) => {
            Attributes::Resource { verb: verb(name.is_some()), resource: "nodes", namespace: None, name }
        }
        Route::Pods(namespace, name) => {
            Attributes::Resource { verb: verb(name.is_some()), resource: "pods", namespace, name }
        }
        _ => {
            let verb = match *method {
                http::Method::GET => "get",
                http::Method::HEAD => "head",
                http::Method::POST => "post",
                http::Method::PUT => "put",
                http::Method::PATCH => "patch",
                http::Method::DELETE => "delete",
                http::Method::OPTIONS => "options",
                _ => "unknown",
            };
            Attributes::NonResource { verb, path: path.to_string() }
        }
    }
}

// ---------- encoding ----------

fn json_body<T: Serialize + ?Sized>(v: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let written = if pretty {
        // Go's indented JSON has no trailing newline; its streamed compact JSON has one.
        serde_json::to_writer_pretty(&mut out, v)
    } else {
        serde_json::to_writer(&mut out, v).map(|()| out.push(b'\n'))
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "encoding a response failed");
    }
    out
}

fn text_body<T: Serialize + ?Sized>(out: Output, v: &T) -> Vec<u8> {
    match out.format {
        Format::Yaml => match serde_json::to_value(v) {
            Ok(value) => crate::yaml::to_yaml(&value),
            Err(e) => {
                tracing::error!(error = %e, "encoding a response failed");
                Vec::new()
            }
        },
        _ => json_body(v, out.pretty),
    }
}

/// Encode `v` as negotiated.
fn encode<T: Serialize + Proto>(out: Output, status: u16, v: &T) -> Response {
    let body = match out.format {
        Format::Protobuf => proto::to_bytes(v),
        _ => text_body(out, v),
    };
    Response { status, content_type: out.format.content_type(), body, raw: false }
}

/// A Status in the negotiated encoding; `None` (nothing acceptable) gets indented JSON, as Go's raw
/// fallback writes it.
pub fn error(out: Option<Output>, status: &Status) -> Response {
    match out {
        Some(out) => encode(out, status.code, status),
        None => {
            Response { status: status.code, content_type: "application/json", body: json_body(status, true), raw: true }
        }
    }
}

fn not_acceptable(message: impl Into<String>) -> Status {
    Status::failure(406, "NotAcceptable", message, None)
}

pub fn unauthorized() -> Status {
    Status::failure(401, "Unauthorized", "Unauthorized", None)
}

/// 403 in the apiserver's wording.
pub fn forbidden(user: &str, attrs: &Attributes, reason: &str) -> Status {
    let suffix = if reason.is_empty() { String::new() } else { format!(": {reason}") };
    match attrs {
        Attributes::Resource { verb, resource, namespace, name } => {
            let scope = match namespace {
                Some(ns) => format!("in the namespace \"{ns}\""),
                None => "at the cluster scope".to_string(),
            };
            let what = match name {
                Some(n) => format!("{resource}.{GROUP} \"{n}\" is forbidden"),
                None => format!("{resource}.{GROUP} is forbidden"),
            };
            let msg = format!(
                "{what}: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{GROUP}\" {scope}{suffix}"
            );
            Status::failure(403, "Forbidden", msg, Some((name.as_deref().unwrap_or(""), GROUP, resource)))
        }
        Attributes::NonResource { verb, path } => {
            let msg = format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\"{suffix}");
            Status::failure(403, "Forbidden", msg, Some(("", "", "")))
        }
    }
}

/// 405 for a method no route serves (any but GET/HEAD).
pub fn method_not_allowed() -> Status {
    Status::failure(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        Some(("", "", "")),
    )
}

pub fn not_found_page() -> Response {
    Response {
        status: 404,
        content_type: "text/plain; charset=utf-8",
        body: b"404 page not found\n".to_vec(),
        raw: false,
    }
}

// ---------- discovery ----------

const V1BETA1: GroupVersion = GroupVersion { group_version: GROUP_VERSION, version: "v1beta1" };

fn resource_list() -> ApiResourceList {
    ApiResourceList {
        kind: "APIResourceList",
        api_version: "v1",
        group_version: GROUP_VERSION,
        resources: [
            ApiResource {
                name: "nodes",
                singular_name: "",
                namespaced: false,
                kind: "NodeMetrics",
                verbs: ["get", "list"],
            },
            ApiResource {
                name: "pods",
                singular_name: "",
                namespaced: true,
                kind: "PodMetrics",
                verbs: ["get", "list"],
            },
        ],
    }
}

fn api_group(top: bool) -> ApiGroup {
    ApiGroup {
        kind: top.then_some("APIGroup"),
        api_version: top.then_some("v1"),
        name: GROUP,
        versions: [V1BETA1],
        preferred_version: V1BETA1,
    }
}

// ---------- the request handler ----------

/// One API request.
pub struct Request<'a> {
    pub path: &'a str,
    pub query: &'a BTreeMap<String, String>,
    /// The (first) Accept header.
    pub accept: Option<&'a str>,
    /// `?pretty` or a curl/browser User-Agent (see [`negotiate::pretty_requested`]).
    pub pretty: bool,
    /// Request time (creationTimestamp of every returned object).
    pub now: Nanos,
}

/// The answer before conversion.
enum Found<'a> {
    Node(NodeMetrics<'a>),
    Nodes(Vec<NodeMetrics<'a>>),
    Pod(PodMetrics<'a>),
    Pods(Vec<PodMetrics<'a>>),
}

impl Found<'_> {
    /// The Go type name upstream's 406 texts print.
    fn go_type(&self) -> &'static str {
        match self {
            Found::Node(_) => "*metrics.NodeMetrics",
            Found::Nodes(_) => "*metrics.NodeMetricsList",
            Found::Pod(_) => "*metrics.PodMetrics",
            Found::Pods(_) => "*metrics.PodMetricsList",
        }
    }

    fn is_list(&self) -> bool {
        matches!(self, Found::Nodes(_) | Found::Pods(_))
    }

    fn metadata(&self) -> Vec<&ObjectMeta<'_>> {
        match self {
            Found::Node(n) => vec![&n.metadata],
            Found::Nodes(ns) => ns.iter().map(|n| &n.metadata).collect(),
            Found::Pod(p) => vec![&p.metadata],
            Found::Pods(ps) => ps.iter().map(|p| &p.metadata).collect(),
        }
    }
}

/// Serve one GET under /apis. `observe` receives every returned object's metric timestamp.
pub fn handle(
    req: &Request<'_>,
    inv: &Inventory,
    st: &Storage,
    node_selector: &LabelSelector,
    observe: &mut dyn FnMut(Nanos),
) -> Response {
    let r = route(req.path);
    if r == Route::NotFound {
        return not_found_page();
    }
    let resource = matches!(r, Route::Nodes(_) | Route::Pods(..));
    let Some(mut out) = negotiate::negotiate(req.accept, resource) else {
        return error(None, &not_acceptable(NOT_ACCEPTABLE));
    };
    out.pretty |= req.pretty;
    // Errors are written without conversion, in whatever plain encoding the client takes.
    let err_out = negotiate::negotiate(req.accept, false).map(|o| Output { pretty: o.pretty || req.pretty, ..o });
    let fail = |s: Status| error(err_out, &s);
    let created = Time(Some(req.now));
    let found = match r {
        Route::Groups => {
            let list = ApiGroupList { kind: "APIGroupList", api_version: "v1", groups: [api_group(false)] };
            return encode(out, 200, &list);
        }
        Route::Group => return encode(out, 200, &api_group(true)),
        Route::ResourceList => return encode(out, 200, &resource_list()),
        Route::NotFound => return not_found_page(),
        Route::Nodes(Some(name)) => {
            let Some((name, info)) = inv.nodes.get_key_value(&name) else {
                return fail(Status::failure(
                    404,
                    "NotFound",
                    format!("node \"{name}\" not found"),
                    Some((&name, "", "node")),
                ));
            };
            let Some(u) = st.node(name) else {
                return fail(Status::failure(
                    404,
                    "NotFound",
                    format!("nodemetrics.metrics.k8s.io \"{name}\" not found"),
                    Some((name, GROUP, "nodemetrics")),
                ));
            };
            observe(u.timestamp);
            Found::Node(node_metrics(name, info, &u, created, true))
        }
        Route::Nodes(None) => {
            if is_watch(req.query) {
                return fail(watch_refused("nodes"));
            }
            let (labels, fields) = match selectors(req.query) {
                Ok(s) => s,
                Err(s) => return fail(s),
            };
            let labels = labels.and(node_selector);
            let mut items = Vec::new();
            for (name, info) in &inv.nodes {
                if !labels.matches(&info.labels) || !fields.matches(name, None) {
                    continue;
                }
                if let Some(u) = st.node(name) {
                    observe(u.timestamp);
                    items.push(node_metrics(name, info, &u, created, false));
                }
            }
            Found::Nodes(items)
        }
        Route::Pods(Some(ns), Some(name)) => {
            let key = (ns, name);
            let Some(((ns, name), labels)) = inv.pods.get_key_value(&key) else {
                let name = &key.1;
                return fail(Status::failure(
                    404,
                    "NotFound",
                    format!("pods \"{name}\" not found"),
                    Some((name, "", "pods")),
                ));
            };
            match pod_metrics(ns, name, labels, st, created, true, observe) {
                Some(p) => Found::Pod(p),
                None => {
                    let full = format!("{ns}/{name}");
                    return fail(Status::failure(
                        404,
                        "NotFound",
                        format!("podmetrics.metrics.k8s.io \"{full}\" not found"),
                        Some((&full, GROUP, "podmetrics")),
                    ));
                }
            }
        }
        Route::Pods(ns, _) => {
            if is_watch(req.query) {
                return fail(watch_refused("pods"));
            }
            let (labels, fields) = match selectors(req.query) {
                Ok(s) => s,
                Err(s) => return fail(s),
            };
            let mut items = Vec::new();
            type PodEntry<'x> = (&'x (String, String), &'x BTreeMap<String, String>);
            let range: Box<dyn Iterator<Item = PodEntry<'_>>> = match &ns {
                Some(ns) => {
                    Box::new(inv.pods.range((ns.clone(), String::new())..).take_while(move |((pns, _), _)| pns == ns))
                }
                None => Box::new(inv.pods.iter()),
            };
            for ((pns, pname), plabels) in range {
                if !labels.matches(plabels) || !fields.matches(pname, Some(pns)) {
                    continue;
                }
                if let Some(p) = pod_metrics(pns, pname, plabels, st, created, false, observe) {
                    items.push(p);
                }
            }
            Found::Pods(items)
        }
    };
    match out.convert {
        None => match found {
            Found::Node(n) => encode(out, 200, &n),
            Found::Pod(p) => encode(out, 200, &p),
            Found::Nodes(items) => encode(
                out,
                200,
                &List { kind: "NodeMetricsList", api_version: GROUP_VERSION, metadata: Empty {}, items },
            ),
            Found::Pods(items) => encode(
                out,
                200,
                &List { kind: "PodMetricsList", api_version: GROUP_VERSION, metadata: Empty {}, items },
            ),
        },
        Some(c) => convert(out, c, found, req.query).unwrap_or_else(fail),
    }
}

fn convert(out: Output, c: Conversion, found: Found<'_>, query: &BTreeMap<String, String>) -> Result<Response, Status> {
    let gv = c.api_version();
    match c.target {
        Target::Partial => {
            if found.is_list() {
                return Err(not_acceptable(format!(
                    "you requested PartialObjectMetadata, but the requested object is a list ({})",
                    found.go_type()
                )));
            }
            let meta = found.metadata()[0].clone();
            Ok(encode(out, 200, &PartialObjectMetadata::new(gv, meta)))
        }
        Target::PartialList => {
            if !found.is_list() {
                return Err(not_acceptable(format!(
                    "you requested PartialObjectMetadataList, but the requested object is not a list ({})",
                    found.go_type()
                )));
            }
            let items = found.metadata().into_iter().map(|m| PartialObjectMetadata::new(gv, m.clone())).collect();
            Ok(encode(
                out,
                200,
                &List { kind: "PartialObjectMetadataList", api_version: gv, metadata: Empty {}, items },
            ))
        }
        Target::Table => {
            let include = match query.get("includeObject").map(String::as_str).unwrap_or("") {
                "" | "Metadata" => Include::Metadata,
                "None" => Include::None,
                "Object" => Include::Object,
                other => {
                    return Err(Status::failure(
                        400,
                        "BadRequest",
                        format!(
                            "Unable to convert to Table as requested: includeObject: Unsupported value: {}: supported values: \"\", \"Metadata\", \"None\", \"Object\"",
                            serde_json::to_string(other).unwrap_or_default()
                        ),
                        None,
                    ));
                }
            };
            let table = table(gv, found, include);
            Ok(Response {
                status: 200,
                content_type: out.format.content_type(),
                body: text_body(out, &table),
                raw: false,
            })
        }
    }
}

fn watch_refused(resource: &str) -> Status {
    Status::failure(
        405,
        "MethodNotAllowed",
        format!("watch is not supported on resources of kind \"{resource}.{GROUP}\""),
        Some(("", GROUP, resource)),
    )
}

fn selectors(q: &BTreeMap<String, String>) -> Result<(LabelSelector, FieldSelector), Status> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| Status::failure(400, "BadRequest", e.to_string(), None))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))
        .map_err(|e| Status::failure(400, "BadRequest", e.to_string(), None))?;
    Ok((labels, fields))
}

fn node_metrics<'a>(name: &'a str, info: &'a NodeInfo, u: &Usage, created: Time, top: bool) -> NodeMetrics<'a> {
    let (kind, api_version) = type_meta("NodeMetrics", top);
    NodeMetrics {
        kind,
        api_version,
        metadata: ObjectMeta { name, namespace: None, creation_timestamp: created, labels: &info.labels },
        timestamp: Time(Some(u.timestamp)),
        window: Duration(u.window),
        usage: u.into(),
    }
}

fn pod_metrics<'a>(
    ns: &'a str,
    name: &'a str,
    labels: &'a BTreeMap<String, String>,
    st: &Storage,
    created: Time,
    top: bool,
    observe: &mut dyn FnMut(Nanos),
) -> Option<PodMetrics<'a>> {
    let pu = st.pod(ns, name)?;
    if let Some((ts, _)) = pu.time {
        observe(ts);
    }
    let containers = pu.containers.iter().map(|(c, u)| ContainerMetrics { name: c.clone(), usage: u.into() }).collect();
    let (kind, api_version) = type_meta("PodMetrics", top);
    Some(PodMetrics {
        kind,
        api_version,
        metadata: ObjectMeta { name, namespace: Some(ns), creation_timestamp: created, labels },
        timestamp: Time(pu.time.map(|(ts, _)| ts)),
        window: Duration(pu.time.map_or(0, |(_, w)| w)),
        containers,
    })
}

// ---------- Table ----------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Include {
    None,
    Metadata,
    Object,
}

fn columns(usage: &[&'static str]) -> Vec<Column> {
    let mut cols =
        vec![Column { name: "Name", ty: "string", format: "name", description: "Name of the resource", priority: 0 }];
    for &name in usage {
        cols.push(Column { name, ty: "string", format: "quantity", description: "", priority: 0 });
    }
    cols.push(Column { name: "Window", ty: "string", format: "duration", description: "", priority: 0 });
    cols
}

/// Upstream's table: the columns come from the first object with any usage (until one has some, each
/// row re-declares them); pod cells are sums over containers. An empty list has no columns and no rows
/// (`null`, as Go's nil slices).
fn table<'a>(gv: &'static str, found: Found<'a>, include: Include) -> Table<'a> {
    let entries: Vec<Entry<'a>> = match found {
        Found::Node(n) => vec![node_entry(n)],
        Found::Nodes(ns) => ns.into_iter().map(node_entry).collect(),
        Found::Pod(p) => vec![pod_entry(p)],
        Found::Pods(ps) => ps.into_iter().map(pod_entry).collect(),
    };
    let mut cols: Option<Vec<Column>> = None;
    let mut names: Vec<&'static str> = Vec::new();
    let mut rows: Option<Vec<Row<'a>>> = None;
    for (usage, window, full) in entries {
        if names.is_empty() {
            if usage.is_some() {
                names = vec!["cpu", "memory"];
            }
            cols = Some(columns(&names));
        }
        let meta = match &full {
            RowObject::Node(n) => &n.metadata,
            RowObject::Pod(p) => &p.metadata,
            RowObject::Partial(m) => &m.metadata,
        };
        let (cpu, mem) = usage.unwrap_or((0, 0));
        let mut cells = vec![meta.name.to_string()];
        for n in &names {
            cells.push(if *n == "cpu" { cpu_nanocores(cpu) } else { bytes_binary(mem) });
        }
        cells.push(go_duration(window.0));
        let object = match include {
            Include::None => None,
            Include::Metadata => Some(RowObject::Partial(PartialObjectMetadata::new(gv, meta.clone()))),
            Include::Object => Some(full),
        };
        rows.get_or_insert_with(Vec::new).push(Row { cells, object });
    }
    Table { kind: "Table", api_version: gv, metadata: Empty {}, columns: cols, rows }
}

/// A table row's makings: usage summed over containers, window, the object as a top-level one.
type Entry<'a> = (Option<(u64, u64)>, Duration, RowObject<'a>);

fn node_entry(mut n: NodeMetrics<'_>) -> Entry<'_> {
    (n.kind, n.api_version) = type_meta("NodeMetrics", true);
    (Some((n.usage.cpu_nanocores, n.usage.memory_bytes)), n.window, RowObject::Node(n))
}

fn pod_entry(mut p: PodMetrics<'_>) -> Entry<'_> {
    (p.kind, p.api_version) = type_meta("PodMetrics", true);
    let usage = (!p.containers.is_empty()).then(|| {
        p.containers.iter().fold((0u64, 0u64), |(c, m), cm| {
            (c.saturating_add(cm.usage.cpu_nanocores), m.saturating_add(cm.usage.memory_bytes))
        })
    });
    (usage, p.window, RowObject::Pod(p))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Batch, PodBatch, Point};
    use std::sync::Arc;

    const S: i64 = 1_000_000_000;
    // 2026-08-04T10:00:00Z
    const T0: i64 = 1_785_837_600 * S;
    const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    const PB: &str = "application/vnd.kubernetes.protobuf, */*";

    fn fixture() -> (Inventory, Storage) {
        let mut inv = Inventory::default();
        let mut labels = BTreeMap::new();
        labels.insert("kubernetes.io/hostname".to_string(), "worker-1".to_string());
        labels.insert("kubernetes.io/os".to_string(), "linux".to_string());
        inv.nodes.insert("worker-1".into(), NodeInfo { labels, ..Default::default() });
        inv.nodes.insert("worker-2".into(), NodeInfo::default());
        let mut pl = BTreeMap::new();
        pl.insert("k8s-app".to_string(), "kube-dns".to_string());
        inv.pods.insert(("kube-system".into(), "coredns-558bd4d5db-4dpjz".into()), pl);
        inv.pods.insert(("default".into(), "web-0".into()), BTreeMap::new());
        let mut st = Storage::new(std::time::Duration::from_secs(15));
        let batch = |ts: i64, ncpu: u64, ccpu: u64| Batch {
            nodes: vec![(Arc::from("worker-1"), Point { start: 0, ts, cpu: ncpu, mem: 1_616_273_408 })],
            pods: vec![PodBatch {
                namespace: Arc::from("kube-system"),
                name: Arc::from("coredns-558bd4d5db-4dpjz"),
                containers: vec![(Arc::from("coredns"), Point { start: 0, ts: ts + S, cpu: ccpu, mem: 12_533_760 })],
            }],
        };
        st.store(&batch(T0 - 15_012_000_000 + S, 1_000_000_000, 1_000_000));
        // 15.012 s later: node CPU grew 2.817066667 s ⇒ 187654321 nanocores.
        st.store(&batch(T0 + S, 1_000_000_000 + 2_817_066_667, 1_000_000 + 35_213_000));
        (inv, st)
    }

    fn get_as(path: &str, query: &str, accept: Option<&str>) -> Response {
        let (inv, st) = fixture();
        let q = parse_query(Some(query));
        let pretty = negotiate::pretty_requested(Some(query), None);
        let req = Request { path, query: &q, accept, pretty, now: T0 + 7 * S };
        let mut seen = Vec::new();
        handle(&req, &inv, &st, &LabelSelector::default(), &mut |t| seen.push(t))
    }

    fn get(path: &str, query: &str) -> Response {
        get_as(path, query, Some("application/json"))
    }

    fn body(r: &Response) -> &str {
        std::str::from_utf8(&r.body).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    const NODE_JSON: &str = r#"{"kind":"NodeMetrics","apiVersion":"metrics.k8s.io/v1beta1","metadata":{"name":"worker-1","creationTimestamp":"2026-08-04T10:00:07Z","labels":{"kubernetes.io/hostname":"worker-1","kubernetes.io/os":"linux"}},"timestamp":"2026-08-04T10:00:01Z","window":"15.012s","usage":{"cpu":"187654321n","memory":"1578392Ki"}}"#;

    #[test]
    fn node_get_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes/worker-1", "");
        assert_eq!((r.status, r.content_type), (200, "application/json"));
        // Go's streaming JSON encoder ends every document with a newline.
        assert_eq!(body(&r), format!("{NODE_JSON}\n"));
        // No Accept header at all is JSON too.
        assert_eq!(get_as("/apis/metrics.k8s.io/v1beta1/nodes/worker-1", "", None).body, r.body);
    }

    #[test]
    fn pod_list_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1/pods", "");
        assert_eq!(
            body(&r),
            "{\"kind\":\"PodMetricsList\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"coredns-558bd4d5db-4dpjz\",\"namespace\":\"kube-system\",\"creationTimestamp\":\"2026-08-04T10:00:07Z\",\"labels\":{\"k8s-app\":\"kube-dns\"}},\"timestamp\":\"2026-08-04T10:00:02Z\",\"window\":\"15.012s\",\"containers\":[{\"name\":\"coredns\",\"usage\":{\"cpu\":\"2345656n\",\"memory\":\"12240Ki\"}}]}]}\n"
        );
    }

    #[test]
    fn protobuf_objects_in_the_kubernetes_envelope() {
        // Field numbers and order of k8s.io/metrics' generated.proto and meta/v1's, every non-pointer
        // field written even when empty, as the Go marshallers do.
        let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes/worker-1", "", Some(PB));
        assert_eq!((r.status, r.content_type), (200, "application/vnd.kubernetes.protobuf"));
        assert_eq!(
            r.body,
            hex(
                "6b3873000a250a166d6574726963732e6b38732e696f2f76316265746131120b4e6f64654d657472696373129f010a5f0a08776f726b65722d3112001a0022002a0032003800420808a7f0c6d30610005a220a166b756265726e657465732e696f2f686f73746e616d651208776f726b65722d315a190a106b756265726e657465732e696f2f6f7312056c696e7578120808a1f0c6d30610001a060880e2a3f63722130a03637075120c0a0a3138373635343332316e22150a066d656d6f7279120b0a09313537383339324b691a002200"
            )
        );
        let r = get_as("/apis/metrics.k8s.io/v1beta1/pods", "", Some(PB));
        assert_eq!(
            r.body,
            hex(
                "6b3873000a280a166d6574726963732e6b38732e696f2f76316265746131120e506f644d6574726963734c69737412a2010a060a0012001a001297010a500a18636f7265646e732d353538626434643564622d3464706a7a12001a0b6b7562652d73797374656d22002a0032003800420808a7f0c6d30610005a130a076b38732d61707012086b7562652d646e73120808a2f0c6d30610001a060880e2a3f63722310a07636f7265646e7312110a03637075120a0a08323334353635366e12130a066d656d6f727912090a0731323234304b691a002200"
            )
        );
        // Errors follow the negotiated encoding.
        let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes/nope", "", Some(PB));
        assert_eq!((r.status, r.content_type), (404, "application/vnd.kubernetes.protobuf"));
        assert!(r.body.starts_with(b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Status"));
    }

    #[test]
    fn unsupported_accept_is_406() {
        for accept in
            ["text/html", "application/xml", "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"]
        {
            let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes", "", Some(accept));
            assert_eq!((r.status, r.content_type), (406, "application/json"), "{accept}");
            // Go writes this one with its raw, indented JSON fallback.
            assert_eq!(
                body(&r),
                "{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {},\n  \"status\": \"Failure\",\n  \"message\": \"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf\",\n  \"reason\": \"NotAcceptable\",\n  \"code\": 406\n}"
            );
        }
        // Discovery takes no conversion either.
        assert_eq!(
            get_as("/apis/metrics.k8s.io/v1beta1", "", Some("application/json;as=Table;v=v1;g=meta.k8s.io")).status,
            406
        );
    }

    #[test]
    fn partial_object_metadata() {
        let one = get_as(
            "/apis/metrics.k8s.io/v1beta1/nodes/worker-1",
            "",
            Some("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
        );
        assert_eq!((one.status, one.content_type), (200, "application/json"));
        assert_eq!(
            body(&one),
            "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"name\":\"worker-1\",\"creationTimestamp\":\"2026-08-04T10:00:07Z\",\"labels\":{\"kubernetes.io/hostname\":\"worker-1\",\"kubernetes.io/os\":\"linux\"}}}\n"
        );
        let list = get_as(
            "/apis/metrics.k8s.io/v1beta1/pods",
            "",
            Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1"),
        );
        assert_eq!(
            body(&list),
            "{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1beta1\",\"metadata\":{},\"items\":[{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1beta1\",\"metadata\":{\"name\":\"coredns-558bd4d5db-4dpjz\",\"namespace\":\"kube-system\",\"creationTimestamp\":\"2026-08-04T10:00:07Z\",\"labels\":{\"k8s-app\":\"kube-dns\"}}}]}\n"
        );
        let pb = get_as(
            "/apis/metrics.k8s.io/v1beta1/pods",
            "",
            Some("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
        );
        assert_eq!(
            pb.body,
            hex(
                "6b3873000a2b0a0e6d6574612e6b38732e696f2f763112195061727469616c4f626a6563744d657461646174614c697374125c0a060a0012001a0012520a500a18636f7265646e732d353538626434643564622d3464706a7a12001a0b6b7562652d73797374656d22002a0032003800420808a7f0c6d30610005a130a076b38732d61707012086b7562652d646e731a002200"
            )
        );
        // The wrong shape for the request is a 406 naming upstream's Go type, in the plain encoding the
        // client also takes (client-go's metadata client ends its Accept with application/json)...
        let r = get_as(
            "/apis/metrics.k8s.io/v1beta1/nodes",
            "",
            Some(
                "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json",
            ),
        );
        assert_eq!(r.status, 406);
        assert_eq!(
            body(&r),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"you requested PartialObjectMetadata, but the requested object is a list (*metrics.NodeMetricsList)\",\"reason\":\"NotAcceptable\",\"code\":406}\n"
        );
        // ...or else as Go's raw, indented JSON.
        let r = get_as(
            "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods/coredns-558bd4d5db-4dpjz",
            "",
            Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
        );
        assert!(r.raw && body(&r).starts_with("{\n  \"kind\": \"Status\""));
        assert!(body(&r).contains(
            "\"you requested PartialObjectMetadataList, but the requested object is not a list (*metrics.PodMetrics)\","
        ));
    }

    #[test]
    fn lists_filter_and_stay_non_null() {
        let r = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", "");
        assert_eq!(
            body(&r),
            "{\"kind\":\"PodMetricsList\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{},\"items\":[]}\n"
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes", "labelSelector=kubernetes.io%2Fos%3Dwindows");
        assert!(body(&r).ends_with("\"items\":[]}\n"));
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes", "fieldSelector=metadata.name%3Dworker-1");
        assert!(body(&r).contains("\"worker-1\""));
        let r = get(
            "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods",
            "fieldSelector=metadata.namespace!=kube-system",
        );
        assert!(body(&r).ends_with("\"items\":[]}\n"));
    }

    #[test]
    fn error_statuses_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes/nope", "");
        assert_eq!(r.status, 404);
        assert_eq!(
            body(&r),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"node \\\"nope\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"nope\",\"kind\":\"node\"},\"code\":404}\n"
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes/worker-2", "");
        assert!(body(&r).contains(r#""message":"nodemetrics.metrics.k8s.io \"worker-2\" not found","reason":"NotFound","details":{"name":"worker-2","group":"metrics.k8s.io","kind":"nodemetrics"},"code":404}"#));
        let r = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-0", "");
        assert!(body(&r).contains(r#""message":"podmetrics.metrics.k8s.io \"default/web-0\" not found","reason":"NotFound","details":{"name":"default/web-0","group":"metrics.k8s.io","kind":"podmetrics"},"code":404}"#));
        let r = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/p1", "");
        assert!(body(&r).contains(
            r#""message":"pods \"p1\" not found","reason":"NotFound","details":{"name":"p1","kind":"pods"},"code":404}"#
        ));
        let r = get("/apis/metrics.k8s.io/v1beta1/pods", "fieldSelector=spec.nodeName%3Dn1");
        assert_eq!(r.status, 400);
        assert_eq!(
            body(&r),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"\\\"spec.nodeName\\\" is not a known field selector: only \\\"metadata.name\\\", \\\"metadata.namespace\\\"\",\"reason\":\"BadRequest\",\"code\":400}\n"
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes", "watch=true");
        assert_eq!(r.status, 405);
        assert_eq!(
            body(&r),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"watch is not supported on resources of kind \\\"nodes.metrics.k8s.io\\\"\",\"reason\":\"MethodNotAllowed\",\"details\":{\"group\":\"metrics.k8s.io\",\"kind\":\"nodes\"},\"code\":405}\n"
        );
        assert_eq!(get("/apis/metrics.k8s.io/v1beta1/bogus", "").status, 404);
        // A method no route serves: the generic 405 has an empty details object.
        assert_eq!(
            json_body(&method_not_allowed(), false),
            b"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"the server does not allow this method on the requested resource\",\"reason\":\"MethodNotAllowed\",\"details\":{},\"code\":405}\n"
        );
    }

    #[test]
    fn discovery_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1", "");
        assert_eq!(
            body(&r),
            "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"resources\":[{\"name\":\"nodes\",\"singularName\":\"\",\"namespaced\":false,\"kind\":\"NodeMetrics\",\"verbs\":[\"get\",\"list\"]},{\"name\":\"pods\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"PodMetrics\",\"verbs\":[\"get\",\"list\"]}]}\n"
        );
        let r = get("/apis/metrics.k8s.io", "");
        assert_eq!(
            body(&r),
            "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"metrics.k8s.io\",\"versions\":[{\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"version\":\"v1beta1\"}],\"preferredVersion\":{\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"version\":\"v1beta1\"}}\n"
        );
        let r = get("/apis", "");
        assert!(
            body(&r).starts_with(
                "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[{\"name\":\"metrics.k8s.io\""
            )
        );
        let pb = get_as("/apis/metrics.k8s.io/v1beta1", "", Some(PB));
        assert!(pb.body.starts_with(b"k8s\0\x0a\x15\x0a\x02v1\x12\x0fAPIResourceList"));
    }

    #[test]
    fn table_golden() {
        let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes", "", Some(TABLE));
        // The Table's Content-Type is the plain media type, without as/g/v.
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            body(&r),
            "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{},\"columnDefinitions\":[{\"name\":\"Name\",\"type\":\"string\",\"format\":\"name\",\"description\":\"Name of the resource\",\"priority\":0},{\"name\":\"cpu\",\"type\":\"string\",\"format\":\"quantity\",\"description\":\"\",\"priority\":0},{\"name\":\"memory\",\"type\":\"string\",\"format\":\"quantity\",\"description\":\"\",\"priority\":0},{\"name\":\"Window\",\"type\":\"string\",\"format\":\"duration\",\"description\":\"\",\"priority\":0}],\"rows\":[{\"cells\":[\"worker-1\",\"187654321n\",\"1578392Ki\",\"15.012s\"],\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"name\":\"worker-1\",\"creationTimestamp\":\"2026-08-04T10:00:07Z\",\"labels\":{\"kubernetes.io/hostname\":\"worker-1\",\"kubernetes.io/os\":\"linux\"}}}}]}\n"
        );
        let r = get_as(
            "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods/coredns-558bd4d5db-4dpjz",
            "",
            Some(TABLE),
        );
        assert!(
            body(&r).contains(r#""cells":["coredns-558bd4d5db-4dpjz","2345656n","12240Ki","15.012s"]"#),
            "{}",
            body(&r)
        );
        // An empty list: Go's nil columns and rows.
        let r = get_as("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", "", Some(TABLE));
        assert_eq!(
            body(&r),
            "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{},\"columnDefinitions\":null,\"rows\":null}\n"
        );
    }

    #[test]
    fn table_include_object() {
        let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes", "includeObject=None", Some(TABLE));
        assert!(
            body(&r).contains("\"cells\":[\"worker-1\",\"187654321n\",\"1578392Ki\",\"15.012s\"],\"object\":null}"),
            "{}",
            body(&r)
        );
        let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes", "includeObject=Object", Some(TABLE));
        assert!(body(&r).contains(&format!("\"object\":{NODE_JSON}}}")), "{}", body(&r));
        let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes", "includeObject=Everything", Some(TABLE));
        assert_eq!(r.status, 400);
        assert_eq!(
            body(&r),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unable to convert to Table as requested: includeObject: Unsupported value: \\\"Everything\\\": supported values: \\\"\\\", \\\"Metadata\\\", \\\"None\\\", \\\"Object\\\"\",\"reason\":\"BadRequest\",\"code\":400}\n"
        );
    }

    #[test]
    fn pretty_and_yaml() {
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes/worker-1", "pretty=true");
        assert!(body(&r).starts_with("{\n  \"kind\": \"NodeMetrics\",\n  \"apiVersion\": \"metrics.k8s.io/v1beta1\",\n  \"metadata\": {\n    \"name\": \"worker-1\","), "{}", body(&r));
        assert!(body(&r).ends_with("\n  }\n}"), "indented JSON has no trailing newline");
        let r = get_as("/apis/metrics.k8s.io/v1beta1/nodes/worker-1", "", Some("application/yaml"));
        assert_eq!(r.content_type, "application/yaml");
        assert_eq!(
            body(&r),
            "apiVersion: metrics.k8s.io/v1beta1\nkind: NodeMetrics\nmetadata:\n  creationTimestamp: \"2026-08-04T10:00:07Z\"\n  labels:\n    kubernetes.io/hostname: worker-1\n    kubernetes.io/os: linux\n  name: worker-1\ntimestamp: \"2026-08-04T10:00:01Z\"\nusage:\n  cpu: 187654321n\n  memory: 1578392Ki\nwindow: 15.012s\n"
        );
    }

    #[test]
    fn node_selector_restricts_lists() {
        let (inv, st) = fixture();
        let q = BTreeMap::new();
        let req =
            Request { path: "/apis/metrics.k8s.io/v1beta1/nodes", query: &q, accept: None, pretty: false, now: T0 };
        let skip = LabelSelector::parse("kubernetes.io/os!=linux").unwrap();
        let r = handle(&req, &inv, &st, &skip, &mut |_| {});
        assert!(body(&r).ends_with("\"items\":[]}\n"), "{}", body(&r));
        let keep = LabelSelector::parse("kubernetes.io/os=linux").unwrap();
        let mut seen = Vec::new();
        let r = handle(&req, &inv, &st, &keep, &mut |t| seen.push(t));
        assert!(body(&r).contains("\"worker-1\""));
        assert_eq!(seen, [T0 + S], "freshness observed once per returned object");
    }

    #[test]
    fn attributes_for_authz() {
        let get = http::Method::GET;
        let q = parse_query(Some("watch=1"));
        assert_eq!(
            attributes(&get, "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods", &q),
            Attributes::Resource { verb: "watch", resource: "pods", namespace: Some("ns".into()), name: None }
        );
        assert_eq!(
            attributes(&get, "/apis/metrics.k8s.io/v1beta1/nodes/n1", &BTreeMap::new()),
            Attributes::Resource { verb: "get", resource: "nodes", namespace: None, name: Some("n1".into()) }
        );
        assert_eq!(
            attributes(&get, "/metrics", &BTreeMap::new()),
            Attributes::NonResource { verb: "get", path: "/metrics".into() }
        );
        assert_eq!(
            attributes(&http::Method::POST, "/apis/metrics.k8s.io/v1beta1/nodes", &BTreeMap::new()),
            Attributes::Resource { verb: "create", resource: "nodes", namespace: None, name: None }
        );
        let f = forbidden(
            "bob",
            &attributes(&get, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", &BTreeMap::new()),
            "",
        );
        assert_eq!(f.code, 403);
        assert_eq!(
            f.message,
            "pods.metrics.k8s.io is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"default\""
        );
        let f = forbidden("system:anonymous", &Attributes::NonResource { verb: "get", path: "/metrics".into() }, "");
        assert_eq!(
            json_body(&f, false),
            b"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"forbidden: User \\\"system:anonymous\\\" cannot get path \\\"/metrics\\\"\",\"reason\":\"Forbidden\",\"details\":{},\"code\":403}\n"
        );
    }

    #[test]
    fn query_first_value_wins_and_decodes() {
        let q = parse_query(Some("labelSelector=a%3Db+c&labelSelector=x&flag"));
        assert_eq!(q["labelSelector"], "a=b c");
        assert_eq!(q["flag"], "");
    }
}
