//! The three PATCH flavours: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and the common subset of
//! Kubernetes strategic merge patch (lists of objects merged by their merge key, `$patch` directives).

use serde_json::{Map, Value};

use crate::error::SimError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Apply a patch document to `doc`.
pub fn apply(doc: Value, pt: PatchType, patch: &Value) -> Result<Value, SimError> {
    let mut doc = doc;
    match pt {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| SimError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                SimError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
        PatchType::Merge | PatchType::Apply => {
            if !patch.is_object() {
                return Err(SimError::bad_request("merge patch must be a JSON object"));
            }
            json_patch::merge(&mut doc, patch);
        }
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err(SimError::bad_request("strategic merge patch must be a JSON object"));
            }
            strategic_merge(&mut doc, patch, "");
        }
    }
    Ok(doc)
}

/// The merge key of a list field, by field name (as the built-in types declare them).
fn merge_key(field: &str, sample: &Map<String, Value>) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "conditions" | "addresses" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ports" => {
            if sample.contains_key("containerPort") {
                Some("containerPort")
            } else {
                Some("port")
            }
        }
        _ => None,
    }
}

fn strategic_merge(doc: &mut Value, patch: &Value, _field: &str) {
    let Some(p) = patch.as_object() else {
        *doc = patch.clone();
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *doc = Value::Object(clean);
            return;
        }
        Some("delete") => {
            *doc = Value::Null;
            return;
        }
        _ => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Some(d) = doc.as_object_mut() else {
        return;
    };
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            d.remove(k);
            continue;
        }
        match (d.get_mut(k), v) {
            (Some(existing @ Value::Object(_)), Value::Object(_)) => strategic_merge(existing, v, k),
            (Some(Value::Array(existing)), Value::Array(items)) => merge_list(k, existing, items),
            _ => {
                let mut fresh = Value::Null;
                strategic_merge_fresh(&mut fresh, v, k);
                d.insert(k.clone(), fresh);
            }
        }
    }
}

/// A patch value landing where nothing was: strip directives.
fn strategic_merge_fresh(doc: &mut Value, v: &Value, field: &str) {
    match v {
        Value::Object(_) => strategic_merge(doc, v, field),
        Value::Array(items) => {
            *doc = Value::Array(
                items
                    .iter()
                    .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
                    .map(|i| {
                        if i.is_object() {
                            let mut out = Value::Null;
                            strategic_merge(&mut out, i, field);
                            out
                        } else {
                            i.clone()
                        }
                    })
                    .collect(),
            );
        }
        other => *doc = other.clone(),
    }
}

fn merge_list(field: &str, existing: &mut Vec<Value>, items: &[Value]) {
    let sample = items.iter().chain(existing.iter()).find_map(Value::as_object);
    if field == "finalizers" {
        for i in items {
            if !existing.contains(i) {
                existing.push(i.clone());
            }
        }
        return;
    }
    let Some(key) = sample.and_then(|s| merge_key(field, s)) else {
        let mut fresh = Value::Null;
        strategic_merge_fresh(&mut fresh, &Value::Array(items.to_vec()), field);
        if let Value::Array(a) = fresh {
            *existing = a;
        }
        return;
    };
    for item in items {
        let Some(kv) = item.get(key) else {
            continue;
        };
        let pos = existing.iter().position(|e| e.get(key) == Some(kv));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (Some(i), false) => strategic_merge(&mut existing[i], item, field),
            (None, true) => {}
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item, field);
                existing.push(fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_containers_by_name() {
        let doc = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "a", "image": "z"}, {"name": "b", "$patch": "delete"}]}});
        let out = apply(doc, PatchType::Strategic, &patch).unwrap();
        assert_eq!(out, json!({"spec": {"containers": [{"name": "a", "image": "z"}]}}));
    }

    #[test]
    fn strategic_merges_conditions_by_type_and_deletes_null() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        let patch = json!({"metadata": {"labels": {"a": null}}, "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Other", "status": "True"}]}});
        let out = apply(doc, PatchType::Strategic, &patch).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["status"]["conditions"].as_array().unwrap().len(), 2);
        assert_eq!(out["status"]["conditions"][0]["status"], "True");
    }

    #[test]
    fn merge_patch_replaces_lists_and_json_patch_works() {
        let doc = json!({"a": [1, 2], "b": {"c": 1}});
        let out = apply(doc.clone(), PatchType::Merge, &json!({"a": [3], "b": {"c": null, "d": 2}})).unwrap();
        assert_eq!(out, json!({"a": [3], "b": {"d": 2}}));
        let out = apply(
            doc,
            PatchType::Json,
            &json!([{"op": "replace", "path": "/b/c", "value": 5}, {"op": "add", "path": "/a/-", "value": 9}]),
        )
        .unwrap();
        assert_eq!(out, json!({"a": [1, 2, 9], "b": {"c": 5}}));
        assert!(apply(json!({}), PatchType::Json, &json!([{"op": "test", "path": "/x", "value": 1}])).is_err());
    }
}
