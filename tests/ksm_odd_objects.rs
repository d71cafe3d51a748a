//! Objects with odd or huge fields: 10,000 labels, megabyte annotations, missing status or spec fields,
//! label keys that need sanitising, objects that do not decode at all — and, for metrics-server, a kubelet
//! whose response is not UTF-8. The odd object gets exactly its expected series (or a log line when it
//! is skipped), everything else keeps exactly the series it had, and the process stays up.

mod support;

mod ms_support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Cluster, Ksm, eventually, try_get};

/// Series of a scrape as (name, labels, value bits): a change in any of them is a difference.
type SeriesSet = BTreeSet<(String, Vec<(String, String)>, u64)>;

fn parse(body: &str) -> Vec<exposition::Sample> {
    exposition::parse_text(body).unwrap_or_else(|e| panic!("scrape does not parse: {e}"))
}

fn series_of(samples: &[exposition::Sample], keep: impl Fn(&exposition::Sample) -> bool) -> SeriesSet {
    samples.iter().filter(|s| keep(s)).map(|s| (s.name.clone(), s.labels.clone(), s.value.to_bits())).collect()
}

/// Whether a sample belongs to an object named `name` (of any kind).
fn names(s: &exposition::Sample, name: &str) -> bool {
    s.labels.iter().any(|(k, v)| v == name && matches!(k.as_str(), "pod" | "configmap" | "deployment" | "node"))
}

/// The ordinary objects every case starts with; their series must not change when odd ones arrive.
fn ordinary() -> Vec<Value> {
    let mut v = Vec::new();
    for i in 0..3 {
        v.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{i}"), "namespace": "default", "uid": format!("uid-web-{i}"),
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": "web", "tier": format!("t{i}")}, "annotations": {"big": "small here", "note": "n"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "registry.example/web:1"}]},
            "status": {"phase": "Running", "podIP": format!("10.0.0.{i}"), "hostIP": "192.168.0.1",
                "containerStatuses": [{"name": "app", "image": "registry.example/web:1", "imageID": "", "ready": true,
                    "restartCount": i, "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}}]}}));
    }
    v.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "uid": "uid-settings",
            "creationTimestamp": "2026-01-01T00:00:00Z", "annotations": {"big": "tiny"}},
        "data": {"a": "1"}}));
    v.push(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "uid": "uid-n1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"nodeInfo": {"kernelVersion": "6.1"}, "conditions": [{"type": "Ready", "status": "True"}]}}));
    v
}

/// Starts a cluster of [`ordinary`] objects and kube-state-metrics with `args`, scrapes, adds `odd`, waits
/// until `arrived` holds for a scrape (or the log), and checks that nothing but the objects named in
/// `odd_names` changed. Returns the final samples, the raw body, the log and the created objects.
async fn with_odd_objects(
    args: &[&str],
    odd: Vec<Value>,
    odd_names: &[&str],
    arrived: impl Fn(&str, &str) -> bool,
) -> (Vec<exposition::Sample>, String, String, Vec<Value>) {
    let c = Cluster::start(&ordinary()).await;
    // Objects a real API server would refuse (a field of the wrong type) exist only as JSON: no server
    // can encode them as protobuf. The simulator serves them, in JSON, to clients that ask for either.
    c.sim.set_json_only(true);
    let mut k = Ksm::spawn(&c.kubeconfig, args);
    k.wait_ready().await;
    let before = parse(&k.scrape("/metrics").await);
    assert!(before.iter().any(|s| s.name == "kube_pod_info" && s.label("pod") == Some("web-0")), "baseline");

    let created: Vec<Value> = odd.into_iter().map(|o| c.create(o)).collect();
    let url = k.url("/metrics");
    let log = || k.log();
    eventually(Duration::from_secs(20), || {
        let url = url.clone();
        let log = log();
        let arrived = &arrived;
        async move {
            let r = try_get(&url, &[]).await?;
            if arrived(&String::from_utf8_lossy(&r.body), &log) {
                Ok(())
            } else {
                Err("odd objects not seen yet".into())
            }
        }
    })
    .await;
    k.assert_running();
    let body = k.scrape("/metrics").await;
    let after = parse(&body);
    let others = |s: &exposition::Sample| !odd_names.iter().any(|n| names(s, n));
    let (b, a) = (series_of(&before, others), series_of(&after, others));
    assert!(
        b == a,
        "series of the ordinary objects changed:\nonly before: {:?}\nonly after: {:?}",
        b.difference(&a).take(5).collect::<Vec<_>>(),
        a.difference(&b).take(5).collect::<Vec<_>>()
    );
    // Health and a second scrape still work after serving the odd objects.
    let h = try_get(&k.url("/healthz"), &[]).await.unwrap();
    assert_eq!(h.status, 200);
    k.assert_running();
    (after, body, k.log(), created)
}

fn uid(o: &Value) -> String {
    o["metadata"]["uid"].as_str().unwrap().to_string()
}

fn find<'a>(samples: &'a [exposition::Sample], name: &str, object: &str) -> Vec<&'a exposition::Sample> {
    samples.iter().filter(|s| s.name == name && names(s, object)).collect()
}

fn bare_pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-02-01T00:00:00Z"},
        "spec": {"containers": [{"name": "c", "image": "registry.example/c:1"}]},
        "status": {"phase": "Pending"}})
}

fn info_line(pod: &str, uid: &str) -> String {
    format!(
        "kube_pod_info{{namespace=\"default\",pod=\"{pod}\",uid=\"{uid}\",host_ip=\"\",pod_ip=\"\",node=\"\",created_by_kind=\"\",created_by_name=\"\",priority_class=\"\",host_network=\"false\"}} 1\n"
    )
}

fn many_labels() -> Value {
    let labels: serde_json::Map<String, Value> =
        (0..10_000).map(|i| (format!("k{i:05}"), json!(format!("v{i}")))).collect();
    let mut p = bare_pod("many-labels");
    p["metadata"]["labels"] = Value::Object(labels);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_with_10000_labels_allowlisted() {
    let args = ["--resources=pods,configmaps,nodes", "--metric-labels-allowlist=pods=[*]"];
    let (samples, body, _, created) =
        with_odd_objects(&args, vec![many_labels()], &["many-labels"], |b, _| b.contains("pod=\"many-labels\"")).await;
    let uid = uid(&created[0]);
    assert!(body.contains(&info_line("many-labels", &uid)), "kube_pod_info of the odd pod");
    let labels = find(&samples, "kube_pod_labels", "many-labels");
    assert_eq!(labels.len(), 1);
    let l = &labels[0].labels;
    assert_eq!(l.len(), 3 + 10_000, "namespace, pod, uid and one label per Kubernetes label");
    assert_eq!(
        &l[..3],
        &[("namespace".into(), "default".into()), ("pod".into(), "many-labels".into()), ("uid".into(), uid.clone())]
    );
    for (i, (k, v)) in l[3..].iter().enumerate() {
        assert_eq!((k.as_str(), v.as_str()), (format!("label_k{i:05}").as_str(), format!("v{i}").as_str()));
    }
    // The ordinary pods keep their own label series beside it.
    let web = find(&samples, "kube_pod_labels", "web-1");
    assert_eq!(web[0].label("label_app"), Some("web"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_with_10000_labels_not_allowlisted() {
    let (samples, body, _, created) =
        with_odd_objects(&["--resources=pods,configmaps,nodes"], vec![many_labels()], &["many-labels"], |b, _| {
            b.contains("pod=\"many-labels\"")
        })
        .await;
    assert!(body.contains(&info_line("many-labels", &uid(&created[0]))));
    assert!(samples.iter().all(|s| s.name != "kube_pod_labels"), "no label series without an allowlist entry");
    assert!(!body.contains("k09999"), "no label of the odd pod leaks into any series");
}

fn megabyte_objects() -> (Vec<Value>, String) {
    let big = "x".repeat(1 << 20);
    let mut pod = bare_pod("big-annotations");
    pod["metadata"]["annotations"] = json!({"big": big, "other": "o"});
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "big-annotations", "namespace": "default", "creationTimestamp": "2026-02-01T00:00:00Z",
            "annotations": {"big": big, "other": "o"}},
        "data": {"blob": "y".repeat(1 << 20)}});
    (vec![pod, cm], big)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_annotations_allowlisted() {
    let (odd, big) = megabyte_objects();
    let args = ["--resources=pods,configmaps,nodes", "--metric-annotations-allowlist=pods=[big],configmaps=[big]"];
    let (samples, body, _, created) = with_odd_objects(&args, odd, &["big-annotations"], |b, _| {
        b.contains("pod=\"big-annotations\"") && b.contains("configmap=\"big-annotations\"")
    })
    .await;
    let uid = uid(&created[0]);
    let pod_line = format!(
        "kube_pod_annotations{{namespace=\"default\",pod=\"big-annotations\",uid=\"{uid}\",annotation_big=\"{big}\"}} 1\n"
    );
    assert!(body.contains(&pod_line), "the megabyte annotation is exported whole for the pod");
    let cm_line = format!(
        "kube_configmap_annotations{{namespace=\"default\",configmap=\"big-annotations\",annotation_big=\"{big}\"}} 1\n"
    );
    assert!(body.contains(&cm_line), "and for the configmap");
    assert!(body.contains("kube_configmap_info{namespace=\"default\",configmap=\"big-annotations\"} 1\n"));
    assert_eq!(find(&samples, "kube_configmap_annotations", "settings")[0].label("annotation_big"), Some("tiny"));
    assert_eq!(body.matches(&big).count(), 2, "only the two allowlisted annotations carry the big value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_annotations_not_allowlisted() {
    let (odd, big) = megabyte_objects();
    let (samples, body, _, created) =
        with_odd_objects(&["--resources=pods,configmaps,nodes"], odd, &["big-annotations"], |b, _| {
            b.contains("pod=\"big-annotations\"") && b.contains("configmap=\"big-annotations\"")
        })
        .await;
    assert!(body.contains(&info_line("big-annotations", &uid(&created[0]))));
    assert!(body.contains("kube_configmap_info{namespace=\"default\",configmap=\"big-annotations\"} 1\n"));
    assert!(!body.contains(&big[..1000]), "no part of the big annotation or data is exported");
    assert!(samples.iter().all(|s| s.name != "kube_pod_annotations" && s.name != "kube_configmap_annotations"));
    assert!(body.len() < 256 * 1024, "body of {} bytes", body.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_missing_status_or_spec_fields() {
    let mut no_status = bare_pod("no-status");
    no_status.as_object_mut().unwrap().remove("status");
    let empty_spec = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "empty-spec", "namespace": "default", "creationTimestamp": "2026-02-01T00:00:00Z"},
        "spec": {}});
    let bare_node = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "bare-node", "creationTimestamp": "2026-02-01T00:00:00Z"}});
    let bare_cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bare-cm", "namespace": "default", "creationTimestamp": "2026-02-01T00:00:00Z"}});
    let bare_deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bare-deploy", "namespace": "default", "creationTimestamp": "2026-02-01T00:00:00Z"},
        "spec": {"selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let odd = vec![no_status, empty_spec, bare_node, bare_cm, bare_deploy];
    let odd_names = ["no-status", "empty-spec", "bare-node", "bare-cm", "bare-deploy"];
    let (samples, body, _, created) =
        with_odd_objects(&["--resources=pods,configmaps,nodes,deployments"], odd, &odd_names, |b, _| {
            odd_names.iter().all(|n| b.contains(&format!("=\"{n}\"")))
        })
        .await;
    assert!(body.contains(&info_line("no-status", &uid(&created[0]))));
    assert!(body.contains(&format!(
        "kube_pod_created{{namespace=\"default\",pod=\"no-status\",uid=\"{}\"}} {}\n",
        uid(&created[0]),
        support::go_float(1_769_904_000.0)
    )));
    assert!(find(&samples, "kube_pod_status_phase", "no-status").is_empty(), "no phase, no phase series");
    // Container info needs a container status; without a status there is none.
    assert!(find(&samples, "kube_pod_container_info", "no-status").is_empty());
    assert!(body.contains(&format!(
        "kube_pod_owner{{namespace=\"default\",pod=\"no-status\",uid=\"{}\",owner_kind=\"\",owner_name=\"\",owner_is_controller=\"\"}} 1\n",
        uid(&created[0])
    )));
    assert!(find(&samples, "kube_pod_status_scheduled", "no-status").is_empty(), "no conditions, no series");
    assert!(body.contains(&info_line("empty-spec", &uid(&created[1]))));
    assert!(find(&samples, "kube_pod_container_info", "empty-spec").is_empty());
    assert_eq!(find(&samples, "kube_node_info", "bare-node").len(), 1);
    assert!(body.contains("kube_configmap_info{namespace=\"default\",configmap=\"bare-cm\"} 1\n"));
    assert_eq!(find(&samples, "kube_deployment_created", "bare-deploy").len(), 1);
    assert!(find(&samples, "kube_deployment_spec_replicas", "bare-deploy").is_empty(), "replicas unset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_label_keys_are_sanitised_and_deconflicted() {
    let mut pod = bare_pod("odd-keys");
    pod["metadata"]["labels"] = json!({
        "app.kubernetes.io/name": "a",
        "app-kubernetes-io-name": "b",
        "app_kubernetes_io_name": "c",
        "1leading": "d",
        "ünïcode": "e",
        "CamelCase": "f",
        "-dash": "g",
        "quote": "say \"hi\"\nbye \\ ✓",
    });
    let args = ["--resources=pods,configmaps,nodes", "--metric-labels-allowlist=pods=[*]"];
    let (samples, body, _, created) =
        with_odd_objects(&args, vec![pod], &["odd-keys"], |b, _| b.contains("pod=\"odd-keys\"")).await;
    let uid = uid(&created[0]);
    // Keys in byte order of the Kubernetes keys; every collision, the first one included, gets a suffix.
    let want = format!(
        "kube_pod_labels{{namespace=\"default\",pod=\"odd-keys\",uid=\"{uid}\",label__dash=\"g\",label_1leading=\"d\",label_camel_case=\"f\",label_app_kubernetes_io_name_conflict1=\"b\",label_app_kubernetes_io_name_conflict2=\"a\",label_app_kubernetes_io_name_conflict3=\"c\",label_quote=\"say \\\"hi\\\"\\nbye \\\\ ✓\",label__n_code=\"e\"}} 1\n"
    );
    let got: Vec<&str> = body.lines().filter(|l| l.starts_with("kube_pod_labels{") && l.contains("odd-keys")).collect();
    assert!(body.contains(&want), "want {want}got  {got:?}");
    let s = find(&samples, "kube_pod_labels", "odd-keys");
    assert_eq!(s[0].label("label_quote"), Some("say \"hi\"\nbye \\ ✓"), "the value round-trips through escaping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_do_not_decode_are_skipped_with_a_log_line() {
    let bad_pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bad-pod", "namespace": "default"},
        "spec": {"containers": "not a list"}, "status": {"phase": 7}});
    // Malformed where the configmap families read (its metadata); a bad field no family reads (`data`)
    // would not matter, as projections do not decode it.
    let bad_cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bad-cm", "namespace": "default", "ownerReferences": {"k": 5}}, "data": {"k": 5}});
    let skipped = |log: &str, name: &str| {
        log.lines().any(|l| l.contains("skipping object that does not decode") && l.contains(name))
    };
    // Malformed only in `data`, which no configmap family reads: rendered (upstream's LIST fails).
    let odd_data_cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "odd-data-cm", "namespace": "default"}, "data": {"k": 5}, "binaryData": 7});
    let (samples, body, log, _) = with_odd_objects(
        &["--resources=pods,configmaps,nodes"],
        vec![bad_pod, bad_cm, odd_data_cm, bare_pod("good-after")],
        &["bad-pod", "bad-cm", "odd-data-cm", "good-after"],
        |b, log| b.contains("pod=\"good-after\"") && skipped(log, "bad-pod") && skipped(log, "bad-cm"),
    )
    .await;
    assert_eq!(find(&samples, "kube_configmap_info", "odd-data-cm").len(), 1, "{body}");
    assert!(!skipped(&log, "odd-data-cm"));
    assert!(find(&samples, "kube_pod_info", "bad-pod").is_empty() && !body.contains("\"bad-pod\""));
    assert!(!body.contains("\"bad-cm\""));
    assert_eq!(find(&samples, "kube_pod_info", "good-after").len(), 1, "objects after the bad ones still arrive");
    assert!(skipped(&log, "bad-pod") && skipped(&log, "bad-cm"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_answering_invalid_utf8_or_garbage_is_logged_and_others_served() {
    let sim = kube_sim::start(kube_sim::SimConfig {
        seed: 5,
        kubelets: true,
        synthetic: Some(kube_sim::SyntheticConfig {
            nodes: 4,
            pods_per_node: 3,
            namespaces: 2,
            not_ready_fraction: 0.0,
            jobs_per_namespace: 0,
            configmaps_per_namespace: 0,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let nodes = support::node_names(&sim);
    assert_eq!(nodes.len(), 4);
    let kubelets = sim.kubelets().unwrap();
    kubelets.set_fault(&nodes[1], kubelet_sim::Fault::InvalidUtf8).unwrap();
    kubelets.set_fault(&nodes[2], kubelet_sim::Fault::Garbage).unwrap();
    let healthy: BTreeSet<&str> = [nodes[0].as_str(), nodes[3].as_str()].into();
    let running_on = |n: &str| -> BTreeSet<String> {
        sim.store()
            .list("v1", "Pod", None)
            .iter()
            .filter(|p| p["status"]["phase"] == "Running" && p["spec"]["nodeName"] == n)
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let want_pods: BTreeSet<String> = healthy.iter().flat_map(|n| running_on(n)).collect();

    let mut ms = ms_support::SimMetricsServer::start(&sim, &[]).await;
    let pods = ms
        .wait_items("/apis/metrics.k8s.io/v1beta1/pods", Duration::from_secs(40), |items| {
            items.len() >= want_pods.len()
        })
        .await;
    let got: BTreeSet<String> = pods.iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, want_pods, "exactly the pods of the healthy nodes");
    let listed = ms.admin_json("/apis/metrics.k8s.io/v1beta1/nodes").await;
    let listed: BTreeSet<&str> =
        listed["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(listed, healthy);
    let log = ms.log();
    for bad in [&nodes[1], &nodes[2]] {
        assert!(
            log.lines().any(|l| l.contains("Failed to scrape node") && l.contains(bad.as_str())),
            "no log line names {bad}:\n{log}"
        );
    }
    assert!(!log.lines().any(|l| l.contains("Failed to scrape node") && l.contains(nodes[0].as_str())));
    ms.assert_running();
}
