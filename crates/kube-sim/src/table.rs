//! `meta.k8s.io/v1` Table rendering, so `kubectl get` prints familiar columns.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// Human age as kubectl prints it ("45s", "12m", "5h", "3d").
pub fn age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
        return "<unknown>".to_string();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 3 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<none>".to_string(),
        other => other.to_string(),
    }
}

/// Columns the real server prints with priority 1 (`kubectl get -o wide`).
const WIDE: &[&str] = &["Containers", "Images", "Selector", "IP", "Node", "Nominated Node", "Readiness Gates"];

fn columns(kind: &str) -> Vec<&'static str> {
    match kind {
        "Pod" => vec!["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"],
        "Deployment" => vec!["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"],
        "ReplicaSet" => vec!["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"],
        "DaemonSet" => vec![
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Node Selector",
            "Age",
            "Containers",
            "Images",
            "Selector",
        ],
        "StatefulSet" => vec!["Name", "Ready", "Age", "Containers", "Images"],
        "CronJob" => vec![
            "Name",
            "Schedule",
            "Timezone",
            "Suspend",
            "Active",
            "Last Schedule",
            "Age",
            "Containers",
            "Images",
            "Selector",
        ],
        "Node" => vec!["Name", "Status", "Roles", "Age", "Version"],
        "Namespace" => vec!["Name", "Status", "Age"],
        "Service" => vec!["Name", "Type", "Cluster-IP", "Port(s)", "Age"],
        "Job" => vec!["Name", "Status", "Completions", "Age"],
        "ConfigMap" => vec!["Name", "Data", "Age"],
        _ => vec!["Name", "Age"],
    }
}

/// `k=v,k2=v2` of a map, `<none>` when empty.
fn pairs(m: &Value) -> String {
    let p: Vec<String> =
        m.as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect()).unwrap_or_default();
    if p.is_empty() { "<none>".to_string() } else { p.join(",") }
}

/// A label selector as kubectl prints it: matchLabels, then the expressions.
fn selector(sel: &Value) -> String {
    if sel.is_null() {
        return "<none>".to_string();
    }
    let mut parts: Vec<String> = sel["matchLabels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect())
        .unwrap_or_default();
    for e in sel["matchExpressions"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let key = s(&e["key"]);
        let vals: Vec<String> = e["values"].as_array().map(|v| v.iter().map(s).collect()).unwrap_or_default();
        parts.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", vals.join(",")),
            "NotIn" => format!("{key} notin ({})", vals.join(",")),
            "Exists" => key,
            _ => format!("!{key}"),
        });
    }
    if parts.is_empty() { "<none>".to_string() } else { parts.join(",") }
}

/// Container names and images of a pod spec, comma-joined.
fn containers_images(pod_spec: &Value) -> (String, String) {
    let cs = pod_spec["containers"].as_array().map(Vec::as_slice).unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<String> = cs.iter().map(|c| s(&c["image"])).collect();
    (names.join(","), images.join(","))
}

fn cells(kind: &str, o: &Value) -> Vec<Value> {
    let name = s(&o["metadata"]["name"]);
    let age = age(o["metadata"]["creationTimestamp"].as_str().unwrap_or_default());
    let st = &o["status"];
    let spec = &o["spec"];
    let int = |v: &Value| json!(v.as_i64().unwrap_or(0));
    match kind {
        "Pod" => {
            let statuses = st["containerStatuses"].as_array().cloned().unwrap_or_default();
            let total = spec["containers"].as_array().map_or(statuses.len(), Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"].as_bool() == Some(true)).count();
            let restarts: i64 = statuses.iter().filter_map(|c| c["restartCount"].as_i64()).sum();
            let reason = statuses
                .iter()
                .find_map(|c| c["state"]["waiting"]["reason"].as_str().or(c["state"]["terminated"]["reason"].as_str()))
                .or(st["reason"].as_str())
                .or(st["phase"].as_str())
                .unwrap_or("Pending");
            let reason = if o["metadata"]["deletionTimestamp"].is_string() { "Terminating" } else { reason };
            let gates = spec["readinessGates"].as_array().map_or(0, Vec::len);
            vec![
                json!(name),
                json!(format!("{ready}/{total}")),
                json!(reason),
                json!(restarts),
                json!(age),
                json!(st["podIP"].as_str().unwrap_or("<none>")),
                json!(spec["nodeName"].as_str().unwrap_or("<none>")),
                json!(st["nominatedNodeName"].as_str().unwrap_or("<none>")),
                json!(if gates == 0 { "<none>".to_string() } else { format!("{gates}") }),
            ]
        }
        "Deployment" => {
            let (c, i) = containers_images(&spec["template"]["spec"]);
            vec![
                json!(name),
                json!(format!(
                    "{}/{}",
                    st["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(1)
                )),
                int(&st["updatedReplicas"]),
                int(&st["availableReplicas"]),
                json!(age),
                json!(c),
                json!(i),
                json!(selector(&spec["selector"])),
            ]
        }
        "ReplicaSet" => {
            let (c, i) = containers_images(&spec["template"]["spec"]);
            vec![
                json!(name),
                json!(spec["replicas"].as_i64().unwrap_or(1)),
                int(&st["replicas"]),
                int(&st["readyReplicas"]),
                json!(age),
                json!(c),
                json!(i),
                json!(selector(&spec["selector"])),
            ]
        }
        "DaemonSet" => {
            let (c, i) = containers_images(&spec["template"]["spec"]);
            vec![
                json!(name),
                int(&st["desiredNumberScheduled"]),
                int(&st["currentNumberScheduled"]),
                int(&st["numberReady"]),
                int(&st["updatedNumberScheduled"]),
                int(&st["numberAvailable"]),
                json!(pairs(&spec["template"]["spec"]["nodeSelector"])),
                json!(age),
                json!(c),
                json!(i),
                json!(selector(&spec["selector"])),
            ]
        }
        "StatefulSet" => {
            let (c, i) = containers_images(&spec["template"]["spec"]);
            let ready =
                format!("{}/{}", st["readyReplicas"].as_i64().unwrap_or(0), spec["replicas"].as_i64().unwrap_or(1));
            vec![json!(name), json!(ready), json!(age), json!(c), json!(i)]
        }
        "CronJob" => {
            let job = &spec["jobTemplate"]["spec"];
            let (c, i) = containers_images(&job["template"]["spec"]);
            let last = st["lastScheduleTime"].as_str().map_or("<none>".to_string(), self::age);
            vec![
                json!(name),
                json!(s(&spec["schedule"])),
                json!(spec["timeZone"].as_str().unwrap_or("<none>")),
                // Printed by the server as Go's printers do: "True"/"False", "<unset>" when absent.
                json!(match spec["suspend"].as_bool() {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                }),
                json!(st["active"].as_array().map_or(0, Vec::len)),
                json!(last),
                json!(age),
                json!(c),
                json!(i),
                json!(selector(&job["selector"])),
            ]
        }
        "Node" => {
            let ready = st["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map(|c| if c["status"] == "True" { "Ready" } else { "NotReady" })
                .unwrap_or("Unknown");
            let roles: Vec<&str> = o["metadata"]["labels"]
                .as_object()
                .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
                .unwrap_or_default();
            let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
            vec![json!(name), json!(ready), json!(roles), json!(age), json!(s(&st["nodeInfo"]["kubeletVersion"]))]
        }
        "Namespace" => vec![json!(name), json!(s(&st["phase"])), json!(age)],
        "Service" => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| format!("{}/{}", s(&p["port"]), p["protocol"].as_str().unwrap_or("TCP")))
                        .collect()
                })
                .unwrap_or_default();
            vec![
                json!(name),
                json!(spec["type"].as_str().unwrap_or("ClusterIP")),
                json!(s(&spec["clusterIP"])),
                json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") }),
                json!(age),
            ]
        }
        "Job" => {
            let status = if st["succeeded"].as_i64().unwrap_or(0) >= spec["completions"].as_i64().unwrap_or(1) {
                "Complete"
            } else if st["failed"].as_i64().unwrap_or(0) > 0 {
                "Failed"
            } else {
                "Running"
            };
            vec![
                json!(name),
                json!(status),
                json!(format!(
                    "{}/{}",
                    st["succeeded"].as_i64().unwrap_or(0),
                    spec["completions"].as_i64().unwrap_or(1)
                )),
                json!(age),
            ]
        }
        "ConfigMap" => vec![
            json!(name),
            json!(o["data"].as_object().map_or(0, |d| d.len()) + o["binaryData"].as_object().map_or(0, |d| d.len())),
            json!(age),
        ],
        _ => vec![json!(name), json!(age)],
    }
}

/// A Table holding one row per object; `objects` are full objects (includeObject=Object).
pub fn table(rt: &ResourceType, objects: &[Value], rv: u64, cont: Option<&str>) -> Value {
    let cols: Vec<Value> = columns(&rt.kind)
        .iter()
        .map(|c| {
            let (ty, fmt) = match *c {
                "Name" => ("string", "name"),
                "Restarts" | "Up-to-date" | "Available" | "Desired" | "Current" | "Data" | "Active" => ("integer", ""),
                "Ready" if rt.kind == "DaemonSet" || rt.kind == "ReplicaSet" => ("integer", ""),
                "Suspend" => ("boolean", ""),
                _ => ("string", ""),
            };
            let priority = i32::from(WIDE.contains(c));
            json!({"name": c, "type": ty, "format": fmt, "description": "", "priority": priority})
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|o| json!({"cells": cells(&rt.kind, o), "object": o})).collect();
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": cols, "rows": rows})
}
