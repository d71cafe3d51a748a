//! OpenAPI v2 and v3 documents for metrics.k8s.io/v1beta1, so kube-apiserver's aggregator merges this
//! server's schema (instead of logging a failed download every minute) and `kubectl explain nodemetrics`
//! works. Both are built once from one set of schemas; they differ in where references point and in how
//! operations describe their responses. The descriptions are this project's own words.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::api::{GROUP, Response};

const METRICS: &str = "io.k8s.metrics.pkg.apis.metrics.v1beta1.";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const V3_PATH: &str = "apis/metrics.k8s.io/v1beta1";

/// A schema reference under `prefix` (`#/definitions/` in v2, `#/components/schemas/` in v3).
fn r(prefix: &str, name: &str) -> Value {
    json!({"$ref": format!("{prefix}{name}")})
}

fn gvk(kind: &str) -> Value {
    json!([{"group": GROUP, "kind": kind, "version": "v1beta1"}])
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn int64(description: &str) -> Value {
    json!({"type": "integer", "format": "int64", "description": description})
}

fn described_ref(prefix: &str, name: &str, description: &str) -> Value {
    // v2 cannot put siblings next to a $ref; v3 wraps it in allOf so a description can stand beside it.
    if prefix.starts_with("#/definitions") {
        let mut v = r(prefix, name);
        v["description"] = json!(description);
        v
    } else {
        json!({"allOf": [r(prefix, name)], "description": description})
    }
}

const API_VERSION_DOC: &str =
    "The versioned schema of this object: servers accept it and convert to their own (metrics.k8s.io/v1beta1).";
const KIND_DOC: &str = "The REST resource this object represents, in CamelCase (NodeMetrics, PodMetrics, ...).";

fn usage(prefix: &str, of: &str) -> Value {
    json!({
        "type": "object",
        "description": format!("Resource usage of the {of}, by resource name: cpu in cores (nanocore precision, averaged over the window) and memory in bytes (the working set at the end of the window)."),
        "additionalProperties": r(prefix, QUANTITY),
    })
}

/// The schema of `<item>List`.
fn list(p: &str, item: &str, what: &str) -> Value {
    json!({
        "description": format!("A list of {what} metrics."),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": string(API_VERSION_DOC),
            "kind": string(KIND_DOC),
            "metadata": described_ref(p, &format!("{META}ListMeta"), "List metadata (always empty here: lists are not paginated)."),
            "items": {"type": "array", "description": format!("The {what}s' metrics."), "items": r(p, &format!("{METRICS}{item}"))},
        },
        "x-kubernetes-group-version-kind": gvk(&format!("{item}List")),
    })
}

/// Every schema the documents use, keyed by definition name.
fn schemas(prefix: &str) -> BTreeMap<String, Value> {
    let p = prefix;
    let mut s = BTreeMap::new();
    let mut put = |name: String, v: Value| {
        s.insert(name, v);
    };
    put(
        format!("{METRICS}NodeMetrics"),
        json!({
            "description": "Resource usage of one node, measured between two samples of its kubelet.",
            "type": "object",
            "required": ["timestamp", "window", "usage"],
            "properties": {
                "apiVersion": string(API_VERSION_DOC),
                "kind": string(KIND_DOC),
                "metadata": described_ref(p, &format!("{META}ObjectMeta"), "The node's name and labels; creationTimestamp is the time of the request."),
                "timestamp": described_ref(p, &format!("{META}Time"), "When the later of the two samples was taken: the usage covers [timestamp-window, timestamp]."),
                "window": described_ref(p, &format!("{META}Duration"), "How far apart the two samples were."),
                "usage": usage(p, "node"),
            },
            "x-kubernetes-group-version-kind": gvk("NodeMetrics"),
        }),
    );
    put(format!("{METRICS}NodeMetricsList"), list(p, "NodeMetrics", "node"));
    put(
        format!("{METRICS}PodMetrics"),
        json!({
            "description": "Resource usage of the containers of one running pod.",
            "type": "object",
            "required": ["timestamp", "window", "containers"],
            "properties": {
                "apiVersion": string(API_VERSION_DOC),
                "kind": string(KIND_DOC),
                "metadata": described_ref(p, &format!("{META}ObjectMeta"), "The pod's name, namespace and labels; creationTimestamp is the time of the request."),
                "timestamp": described_ref(p, &format!("{META}Time"), "Sample time of the container measured earliest: the usage covers [timestamp-window, timestamp]."),
                "window": described_ref(p, &format!("{META}Duration"), "How far apart that container's two samples were."),
                "containers": {
                    "type": "array",
                    "description": "Usage per container; containers without two samples yet leave the pod out entirely.",
                    "items": r(p, &format!("{METRICS}ContainerMetrics")),
                    "x-kubernetes-list-type": "atomic",
                },
            },
            "x-kubernetes-group-version-kind": gvk("PodMetrics"),
        }),
    );
    put(format!("{METRICS}PodMetricsList"), list(p, "PodMetrics", "pod"));
    put(
        format!("{METRICS}ContainerMetrics"),
        json!({
            "description": "Resource usage of one container.",
            "type": "object",
            "required": ["name", "usage"],
            "properties": {
                "name": string("The container's name in the pod spec."),
                "usage": usage(p, "container"),
            },
        }),
    );
    put(
        QUANTITY.to_string(),
        json!({
            "description": "A fixed-point number with an optional suffix: a decimal SI one (n, u, m, k, M, G, T, P, E), a binary one (Ki, Mi, Gi, Ti, Pi, Ei) or an exponent (e3). Serialized as a string in canonical form, e.g. 250m or 128Mi.",
            "type": "string",
        }),
    );
    put(
        format!("{META}Time"),
        json!({
            "description": "A point in time, serialized as RFC 3339 in UTC with whole seconds.",
            "type": "string",
            "format": "date-time",
        }),
    );
    put(
        format!("{META}Duration"),
        json!({
            "description": "A length of time in Go's notation, e.g. 15s, 14.998s or 1m30s.",
            "type": "string",
        }),
    );
    put(
        format!("{META}FieldsV1"),
        json!({
            "description": "The set of fields a manager owns, in the JSON trie format of server-side apply.",
            "type": "object",
        }),
    );
    put(
        format!("{META}ListMeta"),
        json!({
            "description": "Metadata of a list.",
            "type": "object",
            "properties": {
                "continue": string("Token to fetch the next page of a paginated list; unset when there is none."),
                "remainingItemCount": int64("Items left after this page, when the server can tell."),
                "resourceVersion": string("Version of the collection the list was read at."),
                "selfLink": string("Deprecated and unset."),
            },
        }),
    );
    put(
        format!("{META}OwnerReference"),
        json!({
            "description": "A pointer to the object that owns this one.",
            "type": "object",
            "required": ["apiVersion", "kind", "name", "uid"],
            "properties": {
                "apiVersion": string("API version of the owner."),
                "blockOwnerDeletion": {"type": "boolean", "description": "Whether the owner is kept until this object is deleted (foreground deletion)."},
                "controller": {"type": "boolean", "description": "Whether the owner is the managing controller."},
                "kind": string("Kind of the owner."),
                "name": string("Name of the owner."),
                "uid": string("UID of the owner."),
            },
            "x-kubernetes-map-type": "atomic",
        }),
    );
    put(
        format!("{META}ManagedFieldsEntry"),
        json!({
            "description": "Which fields one manager set, and with which operation.",
            "type": "object",
            "properties": {
                "apiVersion": string("Version of the resource the fields belong to."),
                "fieldsType": string("Format of fieldsV1; always FieldsV1."),
                "fieldsV1": described_ref(p, &format!("{META}FieldsV1"), "The fields owned."),
                "manager": string("Who manages the fields."),
                "operation": string("Apply or Update."),
                "subresource": string("Subresource the fields were written through, if any."),
                "time": described_ref(p, &format!("{META}Time"), "When the fields were last changed."),
            },
        }),
    );
    put(
        format!("{META}ObjectMeta"),
        json!({
            "description": "Metadata every persisted object has.",
            "type": "object",
            "properties": {
                "annotations": {"type": "object", "description": "Unstructured key-value data set by tools.", "additionalProperties": {"type": "string", "default": ""}},
                "creationTimestamp": described_ref(p, &format!("{META}Time"), "When the object was created (for metrics: when they were read)."),
                "deletionGracePeriodSeconds": int64("Seconds the object has to terminate gracefully once deletion started."),
                "deletionTimestamp": described_ref(p, &format!("{META}Time"), "When the object will be deleted; set once deletion is requested."),
                "finalizers": {"type": "array", "description": "Conditions to meet before the object is removed.", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
                "generateName": string("Prefix for a server-generated name."),
                "generation": int64("Sequence number of the desired state's changes."),
                "labels": {"type": "object", "description": "Key-value pairs for selecting and grouping objects.", "additionalProperties": {"type": "string", "default": ""}},
                "managedFields": {"type": "array", "description": "Field ownership for server-side apply.", "items": r(p, &format!("{META}ManagedFieldsEntry")), "x-kubernetes-list-type": "atomic"},
                "name": string("Name of the object, unique within its namespace."),
                "namespace": string("Namespace of the object; empty for cluster-scoped kinds."),
                "ownerReferences": {"type": "array", "description": "Objects this one depends on.", "items": r(p, &format!("{META}OwnerReference")), "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
                "resourceVersion": string("Opaque version of the object, for optimistic concurrency and watches."),
                "selfLink": string("Deprecated and unset."),
                "uid": string("Unique identifier of the object over time."),
            },
        }),
    );
    s
}

/// (path, namespaced?, named?, kind)
const OPERATIONS: [(&str, bool, bool, &str); 5] = [
    ("/apis/metrics.k8s.io/v1beta1/nodes", false, false, "NodeMetricsList"),
    ("/apis/metrics.k8s.io/v1beta1/nodes/{name}", false, true, "NodeMetrics"),
    ("/apis/metrics.k8s.io/v1beta1/pods", false, false, "PodMetricsList"),
    ("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", true, false, "PodMetricsList"),
    ("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}", true, true, "PodMetrics"),
];

const MEDIA_TYPES: [&str; 3] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

fn operation_id(named: bool, namespaced: bool, kind: &str) -> String {
    let item = kind.trim_end_matches("List");
    match (named, namespaced) {
        (true, true) => format!("readMetricsV1beta1Namespaced{item}"),
        (true, false) => format!("readMetricsV1beta1{item}"),
        (false, true) => format!("listMetricsV1beta1Namespaced{item}"),
        (false, false) if item == "PodMetrics" => format!("listMetricsV1beta1{item}ForAllNamespaces"),
        (false, false) => format!("listMetricsV1beta1{item}"),
    }
}

/// Parameters of an operation: path parameters, then the list options the server reads.
fn parameters(namespaced: bool, named: bool, v3: bool) -> Vec<Value> {
    let param = |name: &str, location: &str, ty: &str, description: &str| {
        let mut p = json!({"name": name, "in": location, "description": description});
        if v3 {
            p["schema"] = json!({"type": ty});
        } else {
            p["type"] = json!(ty);
        }
        if location == "path" {
            p["required"] = json!(true);
        }
        if ty == "string" && location == "query" {
            p["uniqueItems"] = json!(true);
        }
        p
    };
    let mut out = Vec::new();
    if named {
        out.push(param("name", "path", "string", "Name of the object."));
    }
    if namespaced {
        out.push(param("namespace", "path", "string", "Namespace of the objects."));
    }
    if !named {
        out.push(param("labelSelector", "query", "string", "Only objects whose labels match this selector."));
        out.push(param(
            "fieldSelector",
            "query",
            "string",
            "Only objects whose fields match this selector (metadata.name and metadata.namespace).",
        ));
    }
    out.push(param("pretty", "query", "string", "If 'true', the output is indented."));
    out
}

fn paths(prefix: &str, v3: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (path, namespaced, named, kind) in OPERATIONS {
        let schema = r(prefix, &format!("{METRICS}{kind}"));
        let ok = if v3 {
            let content: Map<String, Value> =
                MEDIA_TYPES.iter().map(|m| (m.to_string(), json!({"schema": schema.clone()}))).collect();
            json!({"description": "OK", "content": content})
        } else {
            json!({"description": "OK", "schema": schema})
        };
        let item = kind.trim_end_matches("List");
        let mut op = json!({
            "description": if named { format!("read the specified {item}") } else { format!("list objects of kind {item}") },
            "operationId": operation_id(named, namespaced, kind),
            "tags": ["metrics_v1beta1"],
            "responses": {"200": ok, "401": {"description": "Unauthorized"}},
            "x-kubernetes-action": if named { "get" } else { "list" },
            "x-kubernetes-group-version-kind": {"group": GROUP, "kind": item, "version": "v1beta1"},
        });
        if !v3 {
            op["consumes"] = json!(["*/*"]);
            op["produces"] = json!(MEDIA_TYPES);
            op["schemes"] = json!(["https"]);
        }
        out.insert(path.to_string(), json!({"get": op, "parameters": parameters(namespaced, named, v3)}));
    }
    out
}

fn info() -> Value {
    json!({"title": "Kubernetes metrics-server (kubestate)", "version": concat!("v", env!("CARGO_PKG_VERSION"))})
}

/// The Swagger 2.0 document.
pub fn v2() -> Value {
    let prefix = "#/definitions/";
    json!({
        "swagger": "2.0",
        "info": info(),
        "paths": paths(prefix, false),
        "definitions": schemas(prefix),
        "securityDefinitions": {"BearerToken": {"description": "Bearer token authentication", "type": "apiKey", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    })
}

/// The OpenAPI 3.0 document of metrics.k8s.io/v1beta1.
pub fn v3() -> Value {
    let prefix = "#/components/schemas/";
    json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths(prefix, true),
        "components": {
            "schemas": schemas(prefix),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer token authentication", "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    })
}

struct Doc {
    body: Vec<u8>,
    etag: String,
}

impl Doc {
    fn new(v: &Value) -> Doc {
        let body = serde_json::to_vec(v).unwrap_or_default();
        let digest = ring::digest::digest(&ring::digest::SHA512_256, &body);
        let etag: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        Doc { body, etag }
    }
}

fn docs() -> &'static (Doc, Doc) {
    static DOCS: OnceLock<(Doc, Doc)> = OnceLock::new();
    DOCS.get_or_init(|| (Doc::new(&v2()), Doc::new(&v3())))
}

/// The v3 discovery document: where each group/version's document is, with its hash.
pub fn v3_root() -> Value {
    let etag = &docs().1.etag;
    json!({"paths": {V3_PATH: {"serverRelativeURL": format!("/openapi/v3/{V3_PATH}?hash={etag}")}}})
}

/// An answer for the OpenAPI paths: `/openapi/v2`, `/openapi/v3` and `/openapi/v3/apis/metrics.k8s.io/v1beta1`.
/// Documents carry an ETag; a matching If-None-Match gets 304. `None` for any other path.
pub fn serve(path: &str, if_none_match: Option<&str>) -> Option<(Response, Option<String>)> {
    let json = |body: Vec<u8>| Response { status: 200, content_type: "application/json", body, raw: false };
    let doc = match path.trim_end_matches('/') {
        "/openapi/v2" => &docs().0,
        "/openapi/v3" => return Some((json(serde_json::to_vec(&v3_root()).unwrap_or_default()), None)),
        p if p.strip_prefix("/openapi/v3/") == Some(V3_PATH) => &docs().1,
        _ => return None,
    };
    let etag = format!("\"{}\"", doc.etag);
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        let r = Response { status: 304, content_type: "application/json", body: Vec::new(), raw: true };
        return Some((r, Some(etag)));
    }
    Some((json(doc.body.clone()), Some(etag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `v` (recursively).
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    /// The checks a consumer relies on: references resolve, schemas have valid types, each kind has
    /// its group/version/kind, each operation answers with a defined schema.
    fn check(doc: &Value, prefix: &str, schemas: &Map<String, Value>) {
        let mut all = Vec::new();
        refs(doc, &mut all);
        assert!(all.len() > 20);
        for r in all {
            let name = r.strip_prefix(prefix).unwrap_or_else(|| panic!("{r} does not point into {prefix}"));
            assert!(schemas.contains_key(name), "dangling reference {r}");
        }
        for (name, s) in schemas {
            let ty = s["type"].as_str().unwrap_or_else(|| panic!("{name} has no type"));
            assert!(["object", "string", "integer", "number", "boolean", "array"].contains(&ty), "{name}: {ty}");
            assert!(s["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} undocumented");
            for (field, p) in s["properties"].as_object().into_iter().flatten() {
                assert!(
                    p.get("$ref").is_some() || p.get("allOf").is_some() || p.get("type").is_some(),
                    "{name}.{field}"
                );
            }
            for req in s["required"].as_array().into_iter().flatten() {
                assert!(s["properties"].get(req.as_str().unwrap()).is_some(), "{name} requires a missing {req}");
            }
        }
        for kind in ["NodeMetrics", "NodeMetricsList", "PodMetrics", "PodMetricsList"] {
            let s = &schemas[&format!("{METRICS}{kind}")];
            assert_eq!(s["x-kubernetes-group-version-kind"], gvk(kind), "{kind}");
        }
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 5);
        for (path, item) in paths {
            assert!(path.starts_with("/apis/metrics.k8s.io/v1beta1/"), "{path}");
            let op = &item["get"];
            assert!(op["operationId"].as_str().is_some_and(|o| !o.is_empty()));
            assert!(op["responses"]["200"].is_object(), "{path}");
            for param in item["parameters"].as_array().unwrap() {
                let name = param["name"].as_str().unwrap();
                if param["in"] == "path" {
                    assert!(path.contains(&format!("{{{name}}}")), "{path}: {name}");
                }
            }
        }
    }

    #[test]
    fn v2_is_a_valid_swagger_document() {
        let doc = v2();
        assert_eq!(doc["swagger"], "2.0");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        check(&doc, "#/definitions/", doc["definitions"].as_object().unwrap());
        let op = &doc["paths"]["/apis/metrics.k8s.io/v1beta1/nodes/{name}"]["get"];
        assert_eq!(
            op["responses"]["200"]["schema"]["$ref"],
            "#/definitions/io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"
        );
        assert_eq!(op["operationId"], "readMetricsV1beta1NodeMetrics");
    }

    #[test]
    fn v3_is_a_valid_openapi_document_found_from_its_root() {
        let doc = v3();
        assert_eq!(doc["openapi"], "3.0.0");
        check(&doc, "#/components/schemas/", doc["components"]["schemas"].as_object().unwrap());
        let op = &doc["paths"]["/apis/metrics.k8s.io/v1beta1/pods"]["get"];
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetricsList"
        );
        assert_eq!(op["operationId"], "listMetricsV1beta1PodMetricsForAllNamespaces");
        // The root points at the document, with its hash, as the aggregator reads it.
        let root = v3_root();
        let url = root["paths"][V3_PATH]["serverRelativeURL"].as_str().unwrap();
        let (path, hash) = url.split_once("?hash=").unwrap();
        let (r, etag) = serve(path, None).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(etag.unwrap(), format!("\"{hash}\""));
        assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap(), doc);
    }

    #[test]
    fn etags_and_unknown_paths() {
        let (r, etag) = serve("/openapi/v2", None).unwrap();
        assert_eq!((r.status, r.content_type), (200, "application/json"));
        let etag = etag.unwrap();
        let (again, _) = serve("/openapi/v2", Some(&etag)).unwrap();
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
        assert_eq!(serve("/openapi/v2", Some("\"other\"")).unwrap().0.status, 200);
        assert!(serve("/openapi/v3/apis/apps/v1", None).is_none());
        assert!(serve("/openapi", None).is_none());
    }
}
