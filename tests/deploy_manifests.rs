//! Every YAML file under deploy/ parses, and every Kubernetes manifest document in it names its
//! apiVersion, kind and metadata.name.

use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            // Helm templates are not plain YAML until rendered; they have their own test.
            if p.file_name().is_some_and(|n| n == "templates") {
                continue;
            }
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_deploy_yaml_parses_and_manifests_are_complete() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    assert!(!files.is_empty(), "no YAML under deploy/");
    let mut problems = Vec::new();
    let mut manifests = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let docs: Vec<serde_json::Value> = match serde_saphyr::from_multiple(&text) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        // A Kustomization configures kustomize itself; it is never sent to a cluster and has no name.
        let objects = docs.iter().filter(|d| d.get("kind").is_some_and(|k| k != "Kustomization"));
        for doc in objects {
            manifests += 1;
            let name = doc.pointer("/metadata/name").and_then(|v| v.as_str());
            let api = doc.get("apiVersion").and_then(|v| v.as_str());
            if name.is_none_or(str::is_empty) || api.is_none_or(str::is_empty) {
                problems.push(format!("{}: a {} without apiVersion or metadata.name", f.display(), doc["kind"]));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(manifests > 0, "no Kubernetes manifests found under deploy/");
}
