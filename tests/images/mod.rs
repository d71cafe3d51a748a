//! What an image in a manifest must be for the pod to start the right server: a Dockerfile target of the
//! same name whose entrypoint is the binary under that name, tagged with the crate version, and arguments
//! the real binary accepts when started under that name.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const REGISTRY: &str = "ghcr.io/kubestate";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Dockerfile's stages in order: (name, entrypoint's first word).
pub fn dockerfile_stages() -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let mut stages: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["FROM", _, as_, name] if as_.eq_ignore_ascii_case("as") => stages.push(((*name).to_owned(), None)),
            ["ENTRYPOINT", ..] => {
                let json: Vec<String> = serde_json::from_str(line["ENTRYPOINT".len()..].trim())
                    .unwrap_or_else(|e| panic!("ENTRYPOINT must be in exec form ({e}): {line}"));
                stages.last_mut().expect("ENTRYPOINT after FROM").1 = json.first().cloned();
            }
            _ => {}
        }
    }
    stages
}

/// The server an image starts: `<REGISTRY>/<server>:<crate version>`, built from the Dockerfile target
/// `<server>`, whose entrypoint is `/<server>`. Panics naming `place` otherwise.
pub fn server_of_image(image: &str, place: &str) -> String {
    let (repo_name, tag) = image.rsplit_once(':').unwrap_or_else(|| panic!("{place}: image {image} has no tag"));
    assert_eq!(tag, env!("CARGO_PKG_VERSION"), "{place}: image {image} is not tagged with the crate version");
    let server = repo_name
        .strip_prefix(REGISTRY)
        .and_then(|s| s.strip_prefix('/'))
        .unwrap_or_else(|| panic!("{place}: image {image} is not under {REGISTRY}"));
    let stages = dockerfile_stages();
    let stage = stages
        .iter()
        .find(|(n, _)| n == server)
        .unwrap_or_else(|| panic!("{place}: image {image} names no Dockerfile target (targets: {stages:?})"));
    assert_eq!(stage.1.as_deref(), Some(format!("/{server}").as_str()), "{place}: entrypoint of target {server}");
    server.to_owned()
}

/// Starts the real binary as the entrypoint does (argv[0] = `server`) with `args` and a kubeconfig that
/// does not exist: the server must accept every argument and stop only at the kubeconfig.
pub fn args_start_the_server(server: &str, args: &[String], place: &str) {
    let dir = std::env::temp_dir().join(format!("kubestate-entry-{}-{server}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(server);
    match std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubestate"), &link) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        r => r.unwrap(),
    }
    let missing = "/nonexistent-kubestate-entry/kubeconfig";
    // The kubelet fills in the downward-API variables; any value will do for parsing.
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("$(POD_NAME)", "kube-state-metrics-0").replace("$(POD_NAMESPACE)", "ns"))
        .collect();
    let out =
        Command::new(&link).args(&args).arg(format!("--kubeconfig={missing}")).env_remove("RUST_LOG").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{place}: {server} {args:?}: {err}");
    assert!(
        err.contains(missing) && !err.contains("Usage:"),
        "{place}: {server} refused {args:?} before reaching its kubeconfig:\n{err}"
    );
}

/// Every container of a workload document: (image, args).
pub fn containers(doc: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    let spec = &doc["spec"]["template"]["spec"];
    spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let args = c["args"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned));
            (c["image"].as_str().unwrap_or_default().to_owned(), args.collect())
        })
        .collect()
}

pub fn is_workload(doc: &serde_json::Value) -> bool {
    matches!(doc["kind"].as_str(), Some("Deployment" | "StatefulSet" | "DaemonSet"))
}

/// Checks every container of every workload in `docs`; returns the servers found.
pub fn check_workloads(docs: &[serde_json::Value], place: &Path) -> Vec<String> {
    let mut servers = Vec::new();
    for doc in docs.iter().filter(|d| is_workload(d)) {
        let place = format!("{} {} {}", place.display(), doc["kind"], doc["metadata"]["name"]);
        for (image, args) in containers(doc) {
            let server = server_of_image(&image, &place);
            args_start_the_server(&server, &args, &place);
            servers.push(server);
        }
    }
    servers
}
