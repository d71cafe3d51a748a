//! The deploy kit starts the servers it says it does: every workload under deploy/ (plain, through
//! kustomize, and the Dockerfile's default target) runs an image the Dockerfile builds, tagged with the
//! crate version, whose entrypoint is the right server, with arguments that server accepts. The README's
//! `kustomize edit set image` steps and `docker build` lines name those images, and the version is the same
//! everywhere it is written.

mod images;
mod tools;

use std::path::{Path, PathBuf};

use images::{REGISTRY, check_workloads, repo};
use serde_json::Value;

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if !p.ends_with("helm") {
                manifest_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

#[test]
fn the_default_docker_build_is_kube_state_metrics() {
    let stages = images::dockerfile_stages();
    let last = stages.last().expect("stages");
    assert_eq!((last.0.as_str(), last.1.as_deref()), ("kube-state-metrics", Some("/kube-state-metrics")));
    for server in ["kube-state-metrics", "metrics-server", "kubestate"] {
        let stage = stages.iter().find(|(n, _)| n == server).unwrap_or_else(|| panic!("no target {server}"));
        assert_eq!(stage.1.as_deref(), Some(format!("/{server}").as_str()));
    }
}

#[test]
fn every_plain_manifest_workload_starts_its_server() {
    let mut files = Vec::new();
    manifest_files(&repo().join("deploy"), &mut files);
    let mut servers = Vec::new();
    for f in &files {
        servers.extend(check_workloads(&yaml_docs(f), f));
    }
    servers.sort();
    servers.dedup();
    assert_eq!(servers, ["kube-state-metrics", "metrics-server"]);
}

/// `kubectl kustomize` (kustomize built into kubectl) renders each kustomization with its `images:`.
#[test]
fn every_kustomization_renders_workloads_that_start_their_server() {
    let Some(kubectl) = tools::tool("kubectl") else { return };
    for dir in ["deploy/kube-state-metrics", "deploy/kube-state-metrics/sharded", "deploy/metrics-server"] {
        let out = std::process::Command::new(&kubectl).arg("kustomize").arg(repo().join(dir)).output().unwrap();
        assert!(out.status.success(), "kubectl kustomize {dir}: {}", String::from_utf8_lossy(&out.stderr));
        let docs: Vec<Value> = serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
        let servers = check_workloads(&docs, Path::new(dir));
        assert_eq!(servers.len(), 1, "{dir}: one workload: {servers:?}");
    }
}

/// The name a `kustomize edit set image NAME=…` line in a README replaces must be an image of that
/// directory's kustomization, or the step silently changes nothing.
#[test]
fn readme_kustomize_steps_name_images_of_the_kustomization() {
    let mut checked = 0;
    for (readme, dirs) in [
        (
            "deploy/kube-state-metrics/README.md",
            &["deploy/kube-state-metrics", "deploy/kube-state-metrics/sharded"][..],
        ),
        ("deploy/metrics-server/README.md", &["deploy/metrics-server"]),
        ("deploy/README.md", &["deploy/kube-state-metrics", "deploy/metrics-server"]),
    ] {
        let text = std::fs::read_to_string(repo().join(readme)).unwrap();
        let known: Vec<String> = dirs
            .iter()
            .flat_map(|d| yaml_docs(&repo().join(d).join("kustomization.yaml")))
            .flat_map(|k| k["images"].as_array().cloned().unwrap_or_default())
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect();
        for line in text.lines() {
            let Some(rest) = line.split("kustomize edit set image ").nth(1) else { continue };
            let name = rest.split('=').next().unwrap().trim();
            assert!(known.iter().any(|k| k == name), "{readme}: `{line}` names {name}, not one of {known:?}");
            checked += 1;
        }
    }
    assert!(checked >= 3, "the READMEs lost their kustomize steps");
}

#[test]
fn readme_build_lines_build_the_images_the_manifests_run() {
    let text = std::fs::read_to_string(repo().join("deploy/README.md")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let mut built = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with("docker build")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let after = |flag: &str| words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).copied();
        let target = after("--target").unwrap_or_else(|| panic!("no --target in `{line}`"));
        let tag = after("-t").unwrap_or_else(|| panic!("no -t in `{line}`"));
        assert_eq!(tag, format!("{REGISTRY}/{target}:{version}"), "`{line}`");
        images::server_of_image(tag, "deploy/README.md");
        built.push(target.to_owned());
    }
    built.sort();
    assert_eq!(built, ["kube-state-metrics", "metrics-server"]);
}

#[test]
fn the_version_is_the_same_everywhere_it_is_written() {
    let version = env!("CARGO_PKG_VERSION");
    let chart = &yaml_docs(&repo().join("deploy/helm/kubestate/Chart.yaml"))[0];
    assert_eq!(chart["version"], version, "Chart.yaml version");
    assert_eq!(chart["appVersion"], version, "Chart.yaml appVersion");
    let changelog = std::fs::read_to_string(repo().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.lines().any(|l| l.starts_with(&format!("## {version} "))),
        "CHANGELOG.md has no section for {version}"
    );
    for dir in ["deploy/kube-state-metrics", "deploy/kube-state-metrics/sharded", "deploy/metrics-server"] {
        for image in yaml_docs(&repo().join(dir).join("kustomization.yaml"))[0]["images"].as_array().unwrap() {
            assert_eq!(image["newTag"], version, "{dir}/kustomization.yaml");
        }
    }
}
