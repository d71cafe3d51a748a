//! End to end: family allow/deny/opt-in lists, label/annotation allowlists, namespaces and per-node
//! pod sharding, with the real binary against kube-sim.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Cluster, Ksm, TempDir, label_of, lines_with, series};

fn cm(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": name, "namespace": ns,
            "labels": {"app": "web", "team": "core", "tier": "x"},
            "annotations": {"note": "hi", "owner": "me"}
        },
        "data": {"k": "v"}
    })
}

fn ns(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn pod(ns: &str, name: &str, node: Option<&str>) -> Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}], "nodeSelector": {"disk": "ssd"}});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

/// Family names with a `# HELP` line in `body`.
fn families(body: &str) -> Vec<&str> {
    body.lines().filter_map(|l| l.strip_prefix("# HELP ")).filter_map(|l| l.split(' ').next()).collect()
}

async fn scrape_of(c: &Cluster, args: &[&str]) -> String {
    let mut k = Ksm::spawn(&c.kubeconfig, args);
    k.wait_ready().await;
    k.scrape("/metrics").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_allow_deny_and_opt_in_lists_choose_families() {
    let c = Cluster::start(&[cm("default", "a"), pod("default", "p", Some("n1"))]).await;

    // Allowlist entries are unanchored searches; an opt-in family also needs the opt-in list.
    let body = scrape_of(
        &c,
        &[
            "--resources=configmaps,pods",
            "--metric-allowlist=^kube_configmap_info$,kube_pod_nodeselectors,kube_pod_info",
            "--metric-opt-in-list=kube_pod_nodeselectors",
        ],
    )
    .await;
    assert_eq!(families(&body), ["kube_configmap_info", "kube_pod_info", "kube_pod_nodeselectors"], "{body}");
    assert_eq!(lines_with(&body, "kube_pod_nodeselectors{").len(), 1, "{body}");
    assert!(lines_with(&body, "kube_configmap_created").is_empty(), "{body}");

    // Without the opt-in list the opt-in family stays off even when allowed.
    let body = scrape_of(&c, &["--resources=pods", "--metric-allowlist=kube_pod_nodeselectors,kube_pod_info$"]).await;
    assert_eq!(families(&body), ["kube_pod_info"], "{body}");

    // Denylist: the denied families vanish whole, the rest stay.
    let body = scrape_of(&c, &["--resources=configmaps", "--metric-denylist=kube_configmap_(created|labels)"]).await;
    assert_eq!(
        families(&body),
        ["kube_configmap_annotations", "kube_configmap_info", "kube_configmap_metadata_resource_version"],
        "{body}"
    );

    // The same from --config (set form).
    let dir = TempDir::new("ksm-filter");
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, "metric_allowlist:\n  kube_configmap_created: {}\n").unwrap();
    let body = scrape_of(&c, &["--resources=configmaps", &format!("--config={}", cfg.display())]).await;
    assert_eq!(families(&body), ["kube_configmap_created"], "{body}");

    // Both lists → a clear startup error.
    let mut k = Ksm::spawn(&c.kubeconfig, &["--metric-allowlist=a", "--metric-denylist=b"]);
    let (code, log) = k.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("mutually exclusive"), "{log}");
    let mut k = Ksm::spawn(&c.kubeconfig, &["--metric-denylist=kube_(pod"]);
    let (code, log) = k.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("invalid regex"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_and_annotation_allowlists_select_keys() {
    let c = Cluster::start(&[cm("default", "a")]).await;
    let body = scrape_of(
        &c,
        &[
            "--resources=configmaps",
            "--metric-labels-allowlist=configmaps=[app,te*]",
            "--metric-annotations-allowlist=*=[*]",
        ],
    )
    .await;
    assert_eq!(
        lines_with(&body, "kube_configmap_labels{"),
        ["kube_configmap_labels{namespace=\"default\",configmap=\"a\",label_app=\"web\",label_team=\"core\"} 1"],
        "{body}"
    );
    assert_eq!(
        lines_with(&body, "kube_configmap_annotations{"),
        [
            "kube_configmap_annotations{namespace=\"default\",configmap=\"a\",annotation_note=\"hi\",annotation_owner=\"me\"} 1"
        ],
        "{body}"
    );

    // Without an entry: HELP/TYPE but no sample.
    let body = scrape_of(&c, &["--resources=configmaps", "--metric-labels-allowlist=pods=[app]"]).await;
    assert!(body.contains("# HELP kube_configmap_labels "), "{body}");
    assert!(lines_with(&body, "kube_configmap_labels{").is_empty(), "{body}");

    // The --config map form replaces the flag.
    let dir = TempDir::new("ksm-filter");
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, "labels_allow_list:\n  configmaps: [tier]\n").unwrap();
    let body = scrape_of(
        &c,
        &[
            "--resources=configmaps",
            "--metric-labels-allowlist=configmaps=[app]",
            &format!("--config={}", cfg.display()),
        ],
    )
    .await;
    assert_eq!(
        lines_with(&body, "kube_configmap_labels{"),
        ["kube_configmap_labels{namespace=\"default\",configmap=\"a\",label_tier=\"x\"} 1"],
        "{body}"
    );

    for bad in ["--metric-labels-allowlist=configmaps=app", "--metric-labels-allowlist=configmaps=[a*b*]"] {
        let mut k = Ksm::spawn(&c.kubeconfig, &[bad]);
        let (code, log) = k.wait_exit(Duration::from_secs(10));
        assert_eq!(code, Some(1), "{bad}: {log}");
        assert!(log.contains("invalid format") || log.contains("only one wildcard"), "{bad}: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_and_namespace_denylist() {
    let mut objs = vec![ns("a"), ns("b"), ns("c")];
    for n in ["a", "b", "c"] {
        objs.push(cm(n, "x"));
        objs.push(cm(n, "y"));
    }
    let c = Cluster::start(&objs).await;
    let where_ = |body: &str| -> Vec<String> {
        lines_with(body, "kube_configmap_info{")
            .iter()
            .map(|l| format!("{}/{}", label_of(l, "namespace").unwrap(), label_of(l, "configmap").unwrap()))
            .collect()
    };

    // One store per namespace, served in flag order; a repeated namespace is not served twice.
    let body = scrape_of(&c, &["--resources=configmaps,namespaces", "--namespaces=c,a,c"]).await;
    assert_eq!(where_(&body), ["c/x", "c/y", "a/x", "a/y"], "{body}");
    // Cluster-scoped resources ignore --namespaces.
    let namespaces = |body: &str| -> Vec<String> {
        lines_with(body, "kube_namespace_created{")
            .iter()
            .map(|l| label_of(l, "namespace").unwrap().to_owned())
            .collect()
    };
    assert!(["a", "b", "c"].iter().all(|n| namespaces(&body).iter().any(|x| x == n)), "{body}");

    let body = scrape_of(&c, &["--resources=configmaps,namespaces", "--namespaces-denylist=b"]).await;
    assert_eq!(where_(&body), ["a/x", "a/y", "c/x", "c/y"], "{body}");
    assert!(namespaces(&body).iter().any(|x| x == "b"), "{body}");

    // Both combine; the config file form works too.
    let dir = TempDir::new("ksm-filter");
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, "namespaces: [a, b]\nnamespaces_denylist: [b]\n").unwrap();
    let body = scrape_of(&c, &["--resources=configmaps", &format!("--config={}", cfg.display())]).await;
    assert_eq!(where_(&body), ["a/x", "a/y"], "{body}");
    // info, created and resource_version per object; no labels/annotations samples without an allowlist.
    assert_eq!(series(&body).len(), 2 * 3, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_unscheduled_pod_sharding() {
    let c = Cluster::start(&[
        pod("default", "on-n1", Some("n1")),
        pod("default", "on-n2", Some("n2")),
        pod("kube-system", "also-n1", Some("n1")),
        pod("default", "pending", None),
    ])
    .await;
    let pods = |body: &str| -> Vec<String> {
        lines_with(body, "kube_pod_info{").iter().map(|l| label_of(l, "pod").unwrap().to_owned()).collect()
    };
    assert_eq!(pods(&scrape_of(&c, &["--resources=pods", "--node=n1"]).await), ["on-n1", "also-n1"]);
    assert_eq!(pods(&scrape_of(&c, &["--resources=pods", "--track-unscheduled-pods"]).await), ["pending"]);
    assert_eq!(pods(&scrape_of(&c, &["--resources=pods"]).await).len(), 4);

    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=pods,nodes", "--node=n1"]);
    let (code, log) = k.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("only pods may be enabled"), "{log}");
}
