//! Loading objects from YAML/JSON files: multi-document YAML, `kind: List` dumps, directories.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use crate::store::{CreateMode, Store};

/// Parse one file's text into objects (documents and the items of any `List`).
pub fn parse_objects(text: &str) -> anyhow::Result<Vec<Value>> {
    let docs: Vec<Value> = if text.trim_start().starts_with(['{', '[']) {
        match serde_json::from_str::<Value>(text)? {
            Value::Array(a) => a,
            v => vec![v],
        }
    } else {
        serde_saphyr::from_multiple::<Value>(text).context("parsing YAML")?
    };
    let mut out = Vec::new();
    for d in docs {
        flatten(d, &mut out);
    }
    Ok(out)
}

fn flatten(d: Value, out: &mut Vec<Value>) {
    if d.is_null() {
        return;
    }
    let is_list = d["kind"].as_str().is_some_and(|k| k == "List" || k.ends_with("List")) && d["items"].is_array();
    if is_list {
        let kind = d["kind"].as_str().unwrap_or_default().to_string();
        let av = d["apiVersion"].clone();
        if let Value::Array(items) = d["items"].clone() {
            for mut i in items {
                // Typed lists (PodList) may omit kind/apiVersion on their items.
                if i["kind"].is_null() && kind != "List" {
                    i["kind"] = json!(kind.trim_end_matches("List"));
                    i["apiVersion"] = av.clone();
                }
                flatten(i, out);
            }
        }
    } else {
        out.push(d);
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

/// Load every object found under `paths` into the store, keeping the metadata they carry.
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
    let mut n = 0;
    for o in objs {
        let av = o["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        let rt =
            store.resource_for(&av, &kind).with_context(|| format!("fixture object of unknown type {av} {kind}"))?;
        if rt.namespaced {
            let ns = o["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
            ensure_namespace(store, &ns)?;
        }
        store.create_in(&rt, o, CreateMode::Keep).map_err(|e| anyhow::anyhow!("loading {kind}: {e}"))?;
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
