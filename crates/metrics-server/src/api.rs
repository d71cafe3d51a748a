//! metrics.k8s.io/v1beta1: routing, JSON and Table rendering, Status errors. Pure: request in, bytes out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::{bytes_binary, cpu_nanocores, go_duration, rfc3339};
use crate::selector::{FieldSelector, LabelSelector};
use crate::storage::{Nanos, Storage, Usage};

pub const GROUP: &str = "metrics.k8s.io";
pub const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";
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
}

impl Response {
    fn json<T: Serialize>(status: u16, v: &T) -> Response {
        Response { status, content_type: "application/json", body: serde_json::to_vec(v).unwrap_or_default() }
    }
}

/// What authorization needs to know about a request (the SubjectAccessReview attributes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attributes {
    Resource { verb: &'static str, resource: &'static str, namespace: Option<String>, name: Option<String> },
    NonResource { path: String },
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

/// Parse `a=b&c=d` with percent-decoding (`+` is a space; the last of repeated keys wins).
pub fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn is_watch(query: &BTreeMap<String, String>) -> bool {
    query.get("watch").is_some_and(|v| v == "true" || v == "1")
}

/// The authorization attributes of a request.
pub fn attributes(path: &str, query: &BTreeMap<String, String>) -> Attributes {
    let watch = is_watch(query);
    let list_verb = if watch { "watch" } else { "list" };
    match route(path) {
        Route::Nodes(name) => Attributes::Resource {
            verb: if name.is_some() { "get" } else { list_verb },
            resource: "nodes",
            namespace: None,
            name,
        },
        Route::Pods(namespace, name) => Attributes::Resource {
            verb: if name.is_some() { "get" } else { list_verb },
            resource: "pods",
            namespace,
            name,
        },
        _ => Attributes::NonResource { path: path.to_string() },
    }
}

/// Whether the client asked for a `meta.k8s.io` Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && !params.iter().any(|p| p.starts_with("g=") && *p != "g=meta.k8s.io")
    })
}

// ---------- wire types ----------

#[derive(Serialize)]
struct ObjectMeta<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(rename = "creationTimestamp")]
    creation_timestamp: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct UsageJson {
    cpu: String,
    memory: String,
}

impl From<&Usage> for UsageJson {
    fn from(u: &Usage) -> Self {
        UsageJson { cpu: cpu_nanocores(u.cpu_nanocores), memory: bytes_binary(u.memory_bytes) }
    }
}

#[derive(Serialize)]
struct NodeMetrics<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    api_version: Option<&'static str>,
    metadata: ObjectMeta<'a>,
    timestamp: Option<String>,
    window: String,
    usage: UsageJson,
}

#[derive(Serialize)]
struct ContainerMetrics {
    name: String,
    usage: UsageJson,
    #[serde(skip)]
    raw: Usage,
}

#[derive(Serialize)]
struct PodMetrics<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    api_version: Option<&'static str>,
    metadata: ObjectMeta<'a>,
    timestamp: Option<String>,
    window: String,
    containers: Vec<ContainerMetrics>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct List<T> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Empty,
    items: Vec<T>,
}

#[derive(Serialize)]
struct StatusDetails<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Status<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Empty,
    status: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<StatusDetails<'a>>,
    code: u16,
}

/// A `metav1.Status` failure.
pub fn status(code: u16, reason: &str, message: &str, details: Option<(&str, &str, &str)>) -> Response {
    Response::json(
        code,
        &Status {
            kind: "Status",
            api_version: "v1",
            metadata: Empty {},
            status: "Failure",
            message,
            reason,
            details: details.map(|(name, group, kind)| StatusDetails { name, group, kind }),
            code,
        },
    )
}

pub fn unauthorized() -> Response {
    status(401, "Unauthorized", "Unauthorized", None)
}

/// 403 in the apiserver's wording.
pub fn forbidden(user: &str, attrs: &Attributes, reason: &str) -> Response {
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
            status(403, "Forbidden", &msg, Some((name.as_deref().unwrap_or(""), GROUP, resource)))
        }
        Attributes::NonResource { path } => {
            let msg = format!("forbidden: User \"{user}\" cannot get path \"{path}\"{suffix}");
            status(403, "Forbidden", &msg, None)
        }
    }
}

fn not_found_page() -> Response {
    Response { status: 404, content_type: "text/plain; charset=utf-8", body: b"404 page not found\n".to_vec() }
}

// ---------- discovery ----------

fn resource_list() -> serde_json::Value {
    serde_json::json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}
        ]
    })
}

fn api_group() -> serde_json::Value {
    serde_json::json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [{"groupVersion": GROUP_VERSION, "version": "v1beta1"}],
        "preferredVersion": {"groupVersion": GROUP_VERSION, "version": "v1beta1"}
    })
}

/// serde_json::json! sorts keys (BTreeMap); discovery documents are compared by clients as data,
/// but keep kind/apiVersion first anyway for readability by writing them through `preserve`.
fn preserve(v: &serde_json::Value, order: &[&str]) -> Vec<u8> {
    let mut out = b"{".to_vec();
    let Some(obj) = v.as_object() else { return serde_json::to_vec(v).unwrap_or_default() };
    let mut first = true;
    for k in order {
        if let Some(val) = obj.get(*k) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&serde_json::to_vec(k).unwrap_or_default());
            out.push(b':');
            out.extend_from_slice(&serde_json::to_vec(val).unwrap_or_default());
        }
    }
    out.push(b'}');
    out
}

// ---------- the request handler ----------

/// One API request.
pub struct Request<'a> {
    pub path: &'a str,
    pub query: &'a BTreeMap<String, String>,
    pub table: bool,
    /// Request time (creationTimestamp of every returned object).
    pub now: Nanos,
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
    match r {
        Route::Groups => {
            let g = api_group();
            let body = format!(
                "{{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[{}]}}",
                String::from_utf8_lossy(&preserve(&g, &["name", "versions", "preferredVersion"]))
            );
            return Response { status: 200, content_type: "application/json", body: body.into_bytes() };
        }
        Route::Group => {
            let g = api_group();
            return Response {
                status: 200,
                content_type: "application/json",
                body: preserve(&g, &["kind", "apiVersion", "name", "versions", "preferredVersion"]),
            };
        }
        Route::ResourceList => {
            return Response {
                status: 200,
                content_type: "application/json",
                body: preserve(&resource_list(), &["kind", "apiVersion", "groupVersion", "resources"]),
            };
        }
        Route::NotFound => return not_found_page(),
        _ => {}
    }
    let created = rfc3339(req.now);
    match r {
        Route::Nodes(Some(name)) => {
            let Some(info) = inv.nodes.get(&name) else {
                return status(404, "NotFound", &format!("node \"{name}\" not found"), Some((&name, "", "node")));
            };
            let Some(u) = st.node(&name) else {
                return status(
                    404,
                    "NotFound",
                    &format!("nodemetrics.metrics.k8s.io \"{name}\" not found"),
                    Some((&name, GROUP, "nodemetrics")),
                );
            };
            observe(u.timestamp);
            let item = node_json(&name, info, &u, &created, true);
            if req.table {
                return node_table(&[item]);
            }
            Response::json(200, &item)
        }
        Route::Nodes(None) => {
            if is_watch(req.query) {
                return watch_refused("nodes");
            }
            let (labels, fields) = match selectors(req.query) {
                Ok(s) => s,
                Err(resp) => return resp,
            };
            let labels = labels.and(node_selector);
            let mut items = Vec::new();
            for (name, info) in &inv.nodes {
                if !labels.matches(&info.labels) || !fields.matches(name, None) {
                    continue;
                }
                if let Some(u) = st.node(name) {
                    observe(u.timestamp);
                    items.push(node_json(name, info, &u, &created, false));
                }
            }
            if req.table {
                return node_table(&items);
            }
            Response::json(
                200,
                &List { kind: "NodeMetricsList", api_version: GROUP_VERSION, metadata: Empty {}, items },
            )
        }
        Route::Pods(Some(ns), Some(name)) => {
            let key = (ns.clone(), name.clone());
            let Some(labels) = inv.pods.get(&key) else {
                return status(404, "NotFound", &format!("pods \"{name}\" not found"), Some((&name, "", "pods")));
            };
            let Some(pod) = pod_json(&ns, &name, labels, st, &created, true, observe) else {
                let full = format!("{ns}/{name}");
                return status(
                    404,
                    "NotFound",
                    &format!("podmetrics.metrics.k8s.io \"{full}\" not found"),
                    Some((&full, GROUP, "podmetrics")),
                );
            };
            if req.table {
                return pod_table(&[pod]);
            }
            Response::json(200, &pod)
        }
        Route::Pods(ns, None) => {
            if is_watch(req.query) {
                return watch_refused("pods");
            }
            let (labels, fields) = match selectors(req.query) {
                Ok(s) => s,
                Err(resp) => return resp,
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
                if let Some(p) = pod_json(pns, pname, plabels, st, &created, false, observe) {
                    items.push(p);
                }
            }
            if req.table {
                return pod_table(&items);
            }
            Response::json(200, &List { kind: "PodMetricsList", api_version: GROUP_VERSION, metadata: Empty {}, items })
        }
        _ => not_found_page(),
    }
}

fn watch_refused(resource: &str) -> Response {
    status(
        405,
        "MethodNotAllowed",
        &format!("watch is not supported on resources of kind \"{resource}.{GROUP}\""),
        Some(("", GROUP, resource)),
    )
}

#[allow(clippy::result_large_err)]
fn selectors(q: &BTreeMap<String, String>) -> Result<(LabelSelector, FieldSelector), Response> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| status(400, "BadRequest", &e.to_string(), None))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))
        .map_err(|e| status(400, "BadRequest", &e.to_string(), None))?;
    Ok((labels, fields))
}

fn node_json<'a>(name: &'a str, info: &'a NodeInfo, u: &Usage, created: &str, top: bool) -> NodeMetrics<'a> {
    NodeMetrics {
        kind: top.then_some("NodeMetrics"),
        api_version: top.then_some(GROUP_VERSION),
        metadata: ObjectMeta { name, namespace: None, creation_timestamp: created.to_string(), labels: &info.labels },
        timestamp: Some(rfc3339(u.timestamp)),
        window: go_duration(u.window),
        usage: u.into(),
    }
}

fn pod_json<'a>(
    ns: &'a str,
    name: &'a str,
    labels: &'a BTreeMap<String, String>,
    st: &Storage,
    created: &str,
    top: bool,
    observe: &mut dyn FnMut(Nanos),
) -> Option<PodMetrics<'a>> {
    let pu = st.pod(ns, name)?;
    if let Some((ts, _)) = pu.time {
        observe(ts);
    }
    let containers =
        pu.containers.iter().map(|(c, u)| ContainerMetrics { name: c.to_string(), usage: u.into(), raw: *u }).collect();
    Some(PodMetrics {
        kind: top.then_some("PodMetrics"),
        api_version: top.then_some(GROUP_VERSION),
        metadata: ObjectMeta { name, namespace: Some(ns), creation_timestamp: created.to_string(), labels },
        timestamp: pu.time.map(|(ts, _)| rfc3339(ts)),
        window: go_duration(pu.time.map_or(0, |(_, w)| w)),
        containers,
    })
}

// ---------- Table ----------

#[derive(Serialize)]
struct Column {
    name: &'static str,
    #[serde(rename = "type")]
    ty: &'static str,
    format: &'static str,
    description: &'static str,
    priority: i32,
}

#[derive(Serialize)]
struct PartialMeta<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: &'a ObjectMeta<'a>,
}

#[derive(Serialize)]
struct Row<'a> {
    cells: Vec<String>,
    object: PartialMeta<'a>,
}

#[derive(Serialize)]
struct Table<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Empty,
    #[serde(rename = "columnDefinitions")]
    columns: Vec<Column>,
    rows: Vec<Row<'a>>,
}

fn columns(has_usage: bool) -> Vec<Column> {
    let mut cols =
        vec![Column { name: "Name", ty: "string", format: "name", description: "Name of the resource", priority: 0 }];
    if has_usage {
        for name in ["cpu", "memory"] {
            cols.push(Column { name, ty: "string", format: "quantity", description: "", priority: 0 });
        }
    }
    cols.push(Column { name: "Window", ty: "string", format: "duration", description: "", priority: 0 });
    cols
}

fn table_response(columns: Vec<Column>, rows: Vec<Row<'_>>) -> Response {
    let t = Table { kind: "Table", api_version: "meta.k8s.io/v1", metadata: Empty {}, columns, rows };
    let mut r = Response::json(200, &t);
    r.content_type = "application/json;as=Table;v=v1;g=meta.k8s.io";
    r
}

fn node_table(items: &[NodeMetrics<'_>]) -> Response {
    let rows = items
        .iter()
        .map(|n| Row {
            cells: vec![n.metadata.name.to_string(), n.usage.cpu.clone(), n.usage.memory.clone(), n.window.clone()],
            object: PartialMeta { kind: "PartialObjectMetadata", api_version: "meta.k8s.io/v1", metadata: &n.metadata },
        })
        .collect();
    table_response(columns(!items.is_empty()), rows)
}

fn pod_table(items: &[PodMetrics<'_>]) -> Response {
    let rows = items
        .iter()
        .map(|p| {
            // Pod rows show the sum over containers.
            let (cpu, mem) = p.containers.iter().fold((0u64, 0u64), |(c, m), cm| {
                (c.saturating_add(cm.raw.cpu_nanocores), m.saturating_add(cm.raw.memory_bytes))
            });
            Row {
                cells: vec![p.metadata.name.to_string(), cpu_nanocores(cpu), bytes_binary(mem), p.window.clone()],
                object: PartialMeta {
                    kind: "PartialObjectMetadata",
                    api_version: "meta.k8s.io/v1",
                    metadata: &p.metadata,
                },
            }
        })
        .collect();
    let has_usage = items.first().is_some_and(|p| !p.containers.is_empty());
    table_response(columns(has_usage), rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Batch, PodBatch, Point};
    use std::sync::Arc;

    const S: i64 = 1_000_000_000;
    // 2026-08-04T10:00:00Z
    const T0: i64 = 1_785_837_600 * S;

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

    fn get(path: &str, query: &str, table: bool) -> Response {
        let (inv, st) = fixture();
        let q = parse_query(Some(query));
        let req = Request { path, query: &q, table, now: T0 + 7 * S };
        let mut seen = Vec::new();
        handle(&req, &inv, &st, &LabelSelector::default(), &mut |t| seen.push(t))
    }

    fn body(r: &Response) -> &str {
        std::str::from_utf8(&r.body).unwrap()
    }

    #[test]
    fn node_get_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes/worker-1", "", false);
        assert_eq!(r.status, 200);
        assert_eq!(
            body(&r),
            r#"{"kind":"NodeMetrics","apiVersion":"metrics.k8s.io/v1beta1","metadata":{"name":"worker-1","creationTimestamp":"2026-08-04T10:00:07Z","labels":{"kubernetes.io/hostname":"worker-1","kubernetes.io/os":"linux"}},"timestamp":"2026-08-04T10:00:01Z","window":"15.012s","usage":{"cpu":"187654321n","memory":"1578392Ki"}}"#
        );
    }

    #[test]
    fn pod_list_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1/pods", "", false);
        assert_eq!(
            body(&r),
            r#"{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},"items":[{"metadata":{"name":"coredns-558bd4d5db-4dpjz","namespace":"kube-system","creationTimestamp":"2026-08-04T10:00:07Z","labels":{"k8s-app":"kube-dns"}},"timestamp":"2026-08-04T10:00:02Z","window":"15.012s","containers":[{"name":"coredns","usage":{"cpu":"2345656n","memory":"12240Ki"}}]}]}"#
        );
    }

    #[test]
    fn lists_filter_and_stay_non_null() {
        let r = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", "", false);
        assert_eq!(
            body(&r),
            r#"{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},"items":[]}"#
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes", "labelSelector=kubernetes.io%2Fos%3Dwindows", false);
        assert!(body(&r).ends_with(r#""items":[]}"#));
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes", "fieldSelector=metadata.name%3Dworker-1", false);
        assert!(body(&r).contains("\"worker-1\""));
        let r = get(
            "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods",
            "fieldSelector=metadata.namespace!=kube-system",
            false,
        );
        assert!(body(&r).ends_with(r#""items":[]}"#));
    }

    #[test]
    fn error_statuses_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes/nope", "", false);
        assert_eq!(r.status, 404);
        assert_eq!(
            body(&r),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"node \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"node"},"code":404}"#
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes/worker-2", "", false);
        assert_eq!(
            body(&r),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodemetrics.metrics.k8s.io \"worker-2\" not found","reason":"NotFound","details":{"name":"worker-2","group":"metrics.k8s.io","kind":"nodemetrics"},"code":404}"#
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-0", "", false);
        assert_eq!(
            body(&r),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"podmetrics.metrics.k8s.io \"default/web-0\" not found","reason":"NotFound","details":{"name":"default/web-0","group":"metrics.k8s.io","kind":"podmetrics"},"code":404}"#
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/p1", "", false);
        assert_eq!(
            body(&r),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"p1\" not found","reason":"NotFound","details":{"name":"p1","kind":"pods"},"code":404}"#
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/pods", "fieldSelector=spec.nodeName%3Dn1", false);
        assert_eq!(r.status, 400);
        assert_eq!(
            body(&r),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\"spec.nodeName\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"","reason":"BadRequest","code":400}"#
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes", "watch=true", false);
        assert_eq!(r.status, 405);
        assert_eq!(
            body(&r),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"watch is not supported on resources of kind \"nodes.metrics.k8s.io\"","reason":"MethodNotAllowed","details":{"group":"metrics.k8s.io","kind":"nodes"},"code":405}"#
        );
        assert_eq!(get("/apis/metrics.k8s.io/v1beta1/bogus", "", false).status, 404);
    }

    #[test]
    fn discovery_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1", "", false);
        assert_eq!(
            body(&r),
            r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"metrics.k8s.io/v1beta1","resources":[{"kind":"NodeMetrics","name":"nodes","namespaced":false,"singularName":"","verbs":["get","list"]},{"kind":"PodMetrics","name":"pods","namespaced":true,"singularName":"","verbs":["get","list"]}]}"#
        );
        let r = get("/apis/metrics.k8s.io", "", false);
        assert_eq!(
            body(&r),
            r#"{"kind":"APIGroup","apiVersion":"v1","name":"metrics.k8s.io","versions":[{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}],"preferredVersion":{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}}"#
        );
    }

    #[test]
    fn table_golden() {
        let r = get("/apis/metrics.k8s.io/v1beta1/nodes", "", true);
        assert_eq!(r.content_type, "application/json;as=Table;v=v1;g=meta.k8s.io");
        assert_eq!(
            body(&r),
            r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"Name of the resource","priority":0},{"name":"cpu","type":"string","format":"quantity","description":"","priority":0},{"name":"memory","type":"string","format":"quantity","description":"","priority":0},{"name":"Window","type":"string","format":"duration","description":"","priority":0}],"rows":[{"cells":["worker-1","187654321n","1578392Ki","15.012s"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"worker-1","creationTimestamp":"2026-08-04T10:00:07Z","labels":{"kubernetes.io/hostname":"worker-1","kubernetes.io/os":"linux"}}}}]}"#
        );
        let r = get("/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods/coredns-558bd4d5db-4dpjz", "", true);
        assert!(
            body(&r).contains(r#""cells":["coredns-558bd4d5db-4dpjz","2345656n","12240Ki","15.012s"]"#),
            "{}",
            body(&r)
        );
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }

    #[test]
    fn node_selector_restricts_lists() {
        let (inv, st) = fixture();
        let q = BTreeMap::new();
        let req = Request { path: "/apis/metrics.k8s.io/v1beta1/nodes", query: &q, table: false, now: T0 };
        let skip = LabelSelector::parse("kubernetes.io/os!=linux").unwrap();
        let r = handle(&req, &inv, &st, &skip, &mut |_| {});
        assert!(body(&r).ends_with(r#""items":[]}"#), "{}", body(&r));
        let keep = LabelSelector::parse("kubernetes.io/os=linux").unwrap();
        let mut seen = Vec::new();
        let r = handle(&req, &inv, &st, &keep, &mut |t| seen.push(t));
        assert!(body(&r).contains("\"worker-1\""));
        assert_eq!(seen, [T0 + S], "freshness observed once per returned object");
    }

    #[test]
    fn attributes_for_authz() {
        let q = parse_query(Some("watch=1"));
        assert_eq!(
            attributes("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods", &q),
            Attributes::Resource { verb: "watch", resource: "pods", namespace: Some("ns".into()), name: None }
        );
        assert_eq!(
            attributes("/apis/metrics.k8s.io/v1beta1/nodes/n1", &BTreeMap::new()),
            Attributes::Resource { verb: "get", resource: "nodes", namespace: None, name: Some("n1".into()) }
        );
        assert_eq!(attributes("/metrics", &BTreeMap::new()), Attributes::NonResource { path: "/metrics".into() });
        let f =
            forbidden("bob", &attributes("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", &BTreeMap::new()), "");
        assert_eq!(f.status, 403);
        assert!(body(&f).contains(r#"pods.metrics.k8s.io is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"default\""#));
    }
}
