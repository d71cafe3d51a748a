//! Loading objects from YAML/JSON files: what `kubectl get ... -o yaml|json` writes (a `List`, or
//! several), multi-document YAML, API list responses (`PodList` items without kind), directories.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use crate::store::{CreateMode, Store};

/// Parse one file's text into objects (documents and the items of any `List`).
pub fn parse_objects(text: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    if text.trim_start().starts_with(['{', '[']) {
        // One JSON document, or several one after the other (dumps appended to one file).
        for doc in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            match doc.context("parsing JSON")? {
                Value::Array(a) => a.into_iter().for_each(|d| flatten(d, &mut out)),
                d => flatten(d, &mut out),
            }
        }
    } else {
        // A dump of a large cluster is millions of YAML nodes: no parser budget, the file is ours.
        let mut opts = serde_saphyr::Options::default();
        opts.budget = None;
        // kubectl reads YAML 1.1 (sigs.k8s.io/yaml): `mode: 0444` is octal 292, as in every manifest
        // that spells file modes that way.
        opts.legacy_octal_numbers = true;
        for d in serde_saphyr::from_multiple_with_options::<Value>(text, opts).context("parsing YAML")? {
            flatten(d, &mut out);
        }
    }
    Ok(out)
}

fn flatten(mut d: Value, out: &mut Vec<Value>) {
    if d.is_null() {
        return;
    }
    let kind = d["kind"].as_str().unwrap_or_default().to_string();
    let is_list = (kind == "List" || kind.ends_with("List")) && d["items"].is_array();
    if !is_list {
        out.push(d);
        return;
    }
    let av = d["apiVersion"].take();
    if let Value::Array(items) = d["items"].take() {
        for mut i in items {
            // Typed lists (PodList, as the API answers) leave kind/apiVersion out of their items.
            if i["kind"].is_null() && kind != "List" {
                i["kind"] = json!(kind.trim_end_matches("List"));
                i["apiVersion"] = av.clone();
            }
            flatten(i, out);
        }
    }
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("reading {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect_files(&e, out)?;
            } else if e.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x, "yaml" | "yml" | "json")) {
                out.push(e);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

/// Order so that what others live in comes first.
fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        _ => 2,
    }
}

/// Load every object found under `paths` into the store, keeping every field as given (the store
/// assigns resourceVersions, and uid/creationTimestamp only where missing). An object that is
/// already there — `default`, `kube-system`, or one named twice — is replaced by the one given.
/// Namespaces referenced but not defined are created. Returns the number of objects loaded.
pub fn load(store: &Store, paths: &[PathBuf]) -> anyhow::Result<usize> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    let mut objs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        objs.extend(parse_objects(&text).with_context(|| format!("parsing {}", f.display()))?);
    }
    objs.sort_by_key(|o| rank(o["kind"].as_str().unwrap_or_default()));
    let mut namespaces = HashSet::new();
    let mut n = 0;
    for o in objs {
        let av = o["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        let rt =
            store.resource_for(&av, &kind).with_context(|| format!("fixture object of unknown type {av} {kind}"))?;
        if rt.namespaced {
            let ns = o["metadata"]["namespace"].as_str().unwrap_or("default");
            if !namespaces.contains(ns) {
                ensure_namespace(store, ns)?;
                namespaces.insert(ns.to_string());
            }
        }
        let ns = o["metadata"]["namespace"].as_str().unwrap_or("default");
        let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let res = if store.get_in(&rt, ns, &name).is_some() {
            store.replace_in(&rt, o)
        } else {
            store.create_in(&rt, o, CreateMode::Fixture)
        };
        res.map_err(|e| anyhow::anyhow!("loading {kind} {name}: {e}"))?;
        n += 1;
    }
    Ok(n)
}

/// Create a namespace if it does not exist.
pub fn ensure_namespace(store: &Store, ns: &str) -> anyhow::Result<()> {
    if store.get("v1", "Namespace", None, ns).is_none() {
        store
            .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .map_err(|e| anyhow::anyhow!("creating namespace {ns}: {e}"))?;
    }
    Ok(())
}

/// Everything the store holds as `kubectl get <every kind> -A -o json` prints it: one `List` whose
/// items carry their kind and apiVersion. Loading it back gives the same objects.
pub fn dump_json(store: &Store) -> Vec<u8> {
    let mut out = Vec::from(&b"{\"apiVersion\":\"v1\",\"items\":["[..]);
    let mut first = true;
    for rt in store.resources() {
        for o in store.snapshot(&rt, None).0 {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&o.bytes);
        }
    }
    out.extend_from_slice(b"],\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_reads_as_kubectl_does() {
        let objs = parse_objects("kind: ConfigMap\nmode: 0444\nplain: 10\nzero: 0\n---\nkind: Secret\n").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(
            (objs[0]["mode"].as_i64(), objs[0]["plain"].as_i64(), objs[0]["zero"].as_i64()),
            (Some(292), Some(10), Some(0))
        );
    }
}
