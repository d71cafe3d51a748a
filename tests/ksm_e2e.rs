//! End to end: the real `kubestate kube-state-metrics` binary against kube-sim over real HTTP.

mod support;
mod tools;

use std::io::Read;
use std::time::Duration;

use clap::Parser as _;
use serde_json::{Value, json};
use support::{Cluster, Ksm, eventually, get, go_float, lines_with, rv};

/// 2024-01-02T03:04:05Z
const CREATED: &str = "2024-01-02T03:04:05Z";
const CREATED_UNIX: f64 = 1_704_164_645.0;

fn cm(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": CREATED, "labels": {"app": "x"}},
        "data": {"k": "v"}
    })
}

fn ns(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "creationTimestamp": CREATED}})
}

/// The configmaps section of a scrape for these objects, written out by hand from the spec.
fn configmaps_text(objs: &[&Value]) -> String {
    let id = |o: &Value| {
        format!(
            "namespace=\"{}\",configmap=\"{}\"",
            o["metadata"]["namespace"].as_str().unwrap(),
            o["metadata"]["name"].as_str().unwrap()
        )
    };
    let mut t = String::new();
    t += "# HELP kube_configmap_annotations Kubernetes annotations converted to Prometheus labels.\n";
    t += "# TYPE kube_configmap_annotations gauge\n";
    t += "# HELP kube_configmap_labels [STABLE] Kubernetes labels converted to Prometheus labels.\n";
    t += "# TYPE kube_configmap_labels gauge\n";
    t += "# HELP kube_configmap_info [STABLE] Information about configmap.\n";
    t += "# TYPE kube_configmap_info gauge\n";
    for o in objs {
        t += &format!("kube_configmap_info{{{}}} 1\n", id(o));
    }
    t += "# HELP kube_configmap_created [STABLE] Unix creation timestamp\n";
    t += "# TYPE kube_configmap_created gauge\n";
    for o in objs {
        t += &format!("kube_configmap_created{{{}}} {}\n", id(o), go_float(CREATED_UNIX));
    }
    t += "# HELP kube_configmap_metadata_resource_version Resource version representing a specific version of the configmap.\n";
    t += "# TYPE kube_configmap_metadata_resource_version gauge\n";
    for o in objs {
        t += &format!("kube_configmap_metadata_resource_version{{{}}} {}\n", id(o), rv(o));
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_is_exact_text() {
    let c = Cluster::start(&[ns("team-a"), cm("team-a", "cm-b"), cm("team-a", "cm-a"), cm("default", "z")]).await;
    let a = c.sim.store().get("v1", "ConfigMap", Some("team-a"), "cm-a").unwrap();
    let b = c.sim.store().get("v1", "ConfigMap", Some("team-a"), "cm-b").unwrap();
    let z = c.sim.store().get("v1", "ConfigMap", Some("default"), "z").unwrap();
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps,namespaces"]);
    k.wait_ready().await;

    let r = get(&k.url("/metrics?resources=configmaps"), &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    // Gzip is off unless --enable-gzip-encoding.
    assert_eq!(r.header("content-encoding"), None);
    // Objects sort by namespace, then name.
    assert_eq!(r.text(), configmaps_text(&[&z, &a, &b]));

    // Resources come in name order; namespaces follow configmaps.
    let all = k.scrape("/metrics").await;
    assert!(all.starts_with(&configmaps_text(&[&z, &a, &b])), "{all}");
    let team_a: Vec<&str> =
        all.lines().filter(|l| l.contains("namespace=\"team-a\"") && l.starts_with("kube_namespace")).collect();
    assert_eq!(
        team_a,
        vec![
            format!("kube_namespace_created{{namespace=\"team-a\"}} {}", go_float(CREATED_UNIX)).as_str(),
            "kube_namespace_status_phase{namespace=\"team-a\",phase=\"Active\"} 1",
            "kube_namespace_status_phase{namespace=\"team-a\",phase=\"Terminating\"} 0",
        ]
    );
    let parsed = exposition::parse_text(&all).expect("strictly valid exposition");
    assert!(parsed.len() >= 9 + 3 * 3, "{}", parsed.len());

    // Health endpoints and the index page.
    assert_eq!(get(&k.url("/healthz"), &[]).await.text(), "OK");
    let livez = get(&k.url("/livez"), &[]).await;
    assert_eq!((livez.status, livez.text().as_str()), (200, "OK"));
    let index = get(&k.url("/"), &[]).await.text();
    assert!(index.contains("href=\"metrics\"") && index.contains("href=\"healthz\""), "{index}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_changes_within_a_second() {
    let c = Cluster::start(&[cm("default", "keep"), cm("default", "gone")]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps"]);
    k.wait_ready().await;
    let url = k.url("/metrics");
    let info = |name: &str| format!("kube_configmap_info{{namespace=\"default\",configmap=\"{name}\"}} 1");
    let body = k.scrape("/metrics").await;
    assert!(body.contains(&info("keep")) && body.contains(&info("gone")), "{body}");

    // Add.
    c.create(cm("default", "new"));
    let want = info("new");
    eventually(Duration::from_secs(1), || async {
        let b = get(&url, &[]).await.text();
        if b.contains(&want) { Ok(()) } else { Err(b) }
    })
    .await;

    // Update: the resourceVersion sample follows.
    let mut keep = c.sim.store().get("v1", "ConfigMap", Some("default"), "keep").unwrap();
    keep["data"]["k"] = json!("changed");
    let updated = c.update(keep);
    let want = format!(
        "kube_configmap_metadata_resource_version{{namespace=\"default\",configmap=\"keep\"}} {}",
        rv(&updated)
    );
    eventually(Duration::from_secs(1), || async {
        let b = get(&url, &[]).await.text();
        if b.contains(&want) { Ok(()) } else { Err(b) }
    })
    .await;

    // Delete: every series of the object goes.
    c.delete("v1", "ConfigMap", Some("default"), "gone");
    eventually(Duration::from_secs(1), || async {
        let b = get(&url, &[]).await.text();
        if b.contains("configmap=\"gone\"") { Err(b) } else { Ok(()) }
    })
    .await;
    let b = get(&url, &[]).await.text();
    assert_eq!(lines_with(&b, "kube_configmap_info").len(), 2, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relist_after_cut_and_expired_watch_leaves_no_stale_series() {
    let c = Cluster::start(&[cm("default", "a"), cm("default", "b"), cm("default", "c")]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps"]);
    k.wait_ready().await;
    let url = k.url("/metrics");
    assert_eq!(lines_with(&k.scrape("/metrics").await, "kube_configmap_info").len(), 3);

    // Hold the watcher off (its next request fails: the check of the server a watch the server ended
    // early makes first), cut its stream, and once it is backing off change the cluster; then forget
    // the event history so that resuming gets 410 and forces a relist.
    c.sim.inject_error("/api/v1/configmaps", 500, 1);
    c.sim.cut_watches();
    let tel_url = k.telemetry_url("/metrics");
    eventually(Duration::from_secs(5), || async {
        let t = get(&tel_url, &[]).await.text();
        let failed =
            |call: &str| format!("kube_state_metrics_{call}_total{{resource=\"*v1.ConfigMap\",result=\"error\"}} 1");
        if t.contains(&failed("list")) || t.contains(&failed("watch")) { Ok(()) } else { Err(t) }
    })
    .await;
    c.delete("v1", "ConfigMap", Some("default"), "a");
    c.delete("v1", "ConfigMap", Some("default"), "b");
    c.create(cm("default", "d"));
    c.sim.expire_events();

    eventually(Duration::from_secs(10), || async {
        let b = get(&url, &[]).await.text();
        let names: Vec<&str> = lines_with(&b, "kube_configmap_info")
            .into_iter()
            .filter_map(|l| l.split("configmap=\"").nth(1).and_then(|s| s.split('"').next()))
            .collect();
        if names == ["c", "d"] { Ok(()) } else { Err(format!("{names:?}")) }
    })
    .await;
    // Every family lost the deleted objects, not just one.
    let b = k.scrape("/metrics").await;
    assert!(!b.contains("configmap=\"a\"") && !b.contains("configmap=\"b\""), "{b}");

    // The telemetry port saw the failed watch and the second initial state (a streaming list, which
    // upstream too counts among watches, or a list where the server refuses those).
    let tel = get(&k.telemetry_url("/metrics"), &[]).await.text();
    let samples = exposition::parse_text(&tel).expect("telemetry parses");
    let value = |name: &str, result: &str| {
        samples
            .iter()
            .find(|s| {
                s.name == name && s.label("resource") == Some("*v1.ConfigMap") && s.label("result") == Some(result)
            })
            .map_or(0.0, |s| s.value)
    };
    let initial: f64 = samples
        .iter()
        .filter(|s| s.name == "kube_state_metrics_initial_lists_total" && s.label("resource") == Some("configmaps"))
        .map(|s| s.value)
        .sum();
    assert!(initial >= 2.0, "{tel}");
    assert!(
        value("kube_state_metrics_watch_total", "error") + value("kube_state_metrics_list_total", "error") >= 1.0,
        "{tel}"
    );
    assert!(value("kube_state_metrics_watch_total", "success") >= 2.0, "{tel}");
    k.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_after_every_initial_list() {
    let c = Cluster::start(&[cm("default", "a")]).await;
    // The first three configmap LISTs fail: the instance stays unready for a few seconds of backoff.
    c.sim.inject_error("/api/v1/configmaps", 500, 3);
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps,namespaces"]);
    let url = k.url("/readyz");
    let first = loop {
        k.assert_running();
        if let Ok(r) = support::try_get(&url, &[]).await {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(first.status, 503, "{}", first.text());
    assert!(first.text().contains("configmaps"), "{}", first.text());
    // Namespaces list at once; configmaps keep the instance unready while their list is retried.
    eventually(Duration::from_secs(2), || async {
        let r = get(&url, &[]).await;
        let t = r.text();
        if r.status == 503 && t.contains("configmaps") && !t.contains("namespaces") { Ok(()) } else { Err(t) }
    })
    .await;
    // Meanwhile /metrics already serves what is listed.
    let early = k.scrape("/metrics").await;
    assert!(early.contains("kube_namespace_created{namespace=\"default\"}"), "{early}");
    assert!(!early.contains("kube_configmap_info"), "{early}");
    k.wait_ready().await;
    assert!(k.scrape("/metrics").await.contains("kube_configmap_info{namespace=\"default\",configmap=\"a\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_filters_gzip_and_openmetrics() {
    let c = Cluster::start(&[cm("default", "a"), cm("default", "b"), cm("kube-system", "a")]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps,namespaces", "--enable-gzip-encoding"]);
    k.wait_ready().await;

    // One object's series (the overview page's links), with the headers of its families only.
    let one = k.scrape("/metrics?resources=configmaps&object=kube-system%2Fa").await;
    let samples: Vec<&str> = one.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!samples.is_empty(), "{one}");
    assert!(samples.iter().all(|l| l.contains("{namespace=\"kube-system\",configmap=\"a\"")), "{one}");
    let all = k.scrape("/metrics?resources=configmaps").await;
    let of_a: Vec<&str> = all.lines().filter(|l| l.contains("{namespace=\"kube-system\",configmap=\"a\"")).collect();
    assert_eq!(samples, of_a);
    assert_eq!(one.lines().filter(|l| l.starts_with("# TYPE")).count(), samples.len(), "{one}");
    let ns = k.scrape("/metrics?resources=namespaces&object=kube-system").await;
    assert!(ns.contains("kube_namespace_created{namespace=\"kube-system\"}") && !ns.contains("\"default\""), "{ns}");

    let only_ns = k.scrape("/metrics?resources=namespaces").await;
    assert!(only_ns.starts_with("# HELP kube_namespace_created"), "{only_ns}");
    assert!(!only_ns.contains("kube_configmap"), "{only_ns}");
    let excl = k.scrape("/metrics?exclude_resources=namespaces").await;
    assert!(excl.starts_with("# HELP kube_configmap_annotations"), "{excl}");
    assert!(!excl.contains("kube_namespace"), "{excl}");
    assert_eq!(k.scrape("/metrics?resources=configmaps,namespaces&exclude_resources=namespaces").await, excl);
    assert_eq!(k.scrape("/metrics?resources=nosuch").await, "");

    let plain = k.scrape("/metrics").await;
    let gz = get(&k.url("/metrics"), &[("Accept-Encoding", "deflate, gzip;q=0.9")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz.body[..]).read_to_string(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain);

    let om =
        get(&k.url("/metrics"), &[("Accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")]).await;
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores")
    );
    let om_text = om.text();
    assert!(om_text.ends_with("# EOF\n"), "{om_text}");
    assert_eq!(om_text.strip_suffix("# EOF\n").unwrap(), plain);

    // Prometheus' own default Accept header prefers protobuf, which is answered with text.
    let prom = get(
        &k.url("/metrics"),
        &[(
            "Accept",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        )],
    )
    .await;
    assert_eq!(prom.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(prom.text(), plain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_object_is_skipped_and_logged() {
    let c = Cluster::start(&[
        cm("default", "good-1"),
        // Malformed where the families read: its owner references are not a list.
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "broken", "namespace": "default", "ownerReferences": 7}}),
        cm("default", "good-2"),
    ])
    .await;
    // Such an object cannot be encoded as protobuf (no real server holds one): served as JSON.
    c.sim.set_json_only(true);
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps"]);
    k.wait_ready().await;
    let b = k.scrape("/metrics").await;
    assert_eq!(lines_with(&b, "kube_configmap_info").len(), 2, "{b}");
    assert!(!b.contains("broken"), "{b}");
    // Later events still flow for the resource.
    c.create(cm("default", "good-3"));
    let url = k.url("/metrics");
    eventually(Duration::from_secs(1), || async {
        let b = get(&url, &[]).await.text();
        if b.contains("configmap=\"good-3\"") { Ok(()) } else { Err(b) }
    })
    .await;
    let log = k.log();
    assert!(log.contains("skipping object that does not decode") && log.contains("broken"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_port_serves_self_metrics() {
    let c = Cluster::start(&[cm("default", "a")]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps"]);
    k.wait_ready().await;
    let _ = k.scrape("/metrics").await;
    let tel = get(&k.telemetry_url("/metrics"), &[]).await;
    assert_eq!(tel.status, 200);
    let samples = exposition::parse_text(&tel.text()).expect("telemetry parses");
    let has = |name: &str| samples.iter().any(|s| s.name == name);
    for name in [
        "kube_state_metrics_list_total",
        "kube_state_metrics_watch_total",
        "kube_state_metrics_build_info",
        "kube_state_metrics_shard_ordinal",
        "kube_state_metrics_total_shards",
        "http_request_duration_seconds_count",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ] {
        assert!(has(name), "{name} missing:\n{}", tel.text());
    }
    let count = samples.iter().find(|s| s.name == "http_request_duration_seconds_count").unwrap();
    assert!(count.value >= 1.0);
    assert_eq!(get(&k.telemetry_url("/readyz"), &[]).await.status, 200);
    assert!(get(&k.telemetry_url("/"), &[]).await.text().contains("href=\"metrics\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_fail_startup_with_a_clear_message() {
    let c = Cluster::start(&[]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=pods,podz"]);
    let (code, log) = k.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("\"podz\"") && log.contains("valid resources are") && log.contains("volumeattachments"),
        "{log}"
    );

    let mut k = Ksm::spawn(&c.kubeconfig, &["--metric-allowlist=kube_pod_info", "--metric-denylist=kube_node_info"]);
    let (code, log) = k.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("mutually exclusive"), "{log}");

    let mut k = Ksm::spawn(&c.kubeconfig, &["--metric-labels-allowlist=pods=[a*b*]"]);
    let (code, log) = k.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("only one wildcard per label allowed"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_overrides_flags() {
    let c = Cluster::start(&[cm("default", "a")]).await;
    let cfg = c.dir.path().join("ksm.yaml");
    std::fs::write(&cfg, "resources:\n  namespaces: {}\nenable_gzip_encoding: true\n").unwrap();
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps", &format!("--config={}", cfg.display())]);
    k.wait_ready().await;
    let b = k.scrape("/metrics").await;
    assert!(b.contains("kube_namespace_created") && !b.contains("kube_configmap"), "{b}");
    let gz = get(&k.url("/metrics"), &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
}

/// `promtool check metrics` on a full scrape of a synthetic cluster with every default resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_a_full_scrape() {
    let Some(promtool) = tools::tool("promtool") else { return };
    let cfg = kube_sim::SimConfig { synthetic: Some(kube_sim::SyntheticConfig::default()), ..Default::default() };
    let c = Cluster::start_with(cfg, &[]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &[]);
    k.wait_ready().await;
    let body = k.scrape("/metrics").await;
    assert!(body.contains("kube_pod_info") && body.contains("kube_node_info"), "{body}");
    exposition::parse_text(&body).expect("strictly valid exposition");

    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check metrics failed:\n{report}");
}

/// The manifests in deploy/kube-state-metrics/ agree with the binary: RBAC covers every resource it can
/// watch, the container's arguments parse, ports and probes match the defaults, and kube-sim accepts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_manifests_match_the_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kube-state-metrics");
    let mut objects = Vec::new();
    for f in
        ["service-account.yaml", "cluster-role.yaml", "cluster-role-binding.yaml", "deployment.yaml", "service.yaml"]
    {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        objects.extend(kube_sim::fixtures::parse_objects(&text).unwrap());
    }
    let kind = |k: &str| objects.iter().find(|o| o["kind"] == k).unwrap_or_else(|| panic!("no {k}"));

    let role = kind("ClusterRole");
    let rules = role["rules"].as_array().unwrap();
    let allowed = |res: &str| {
        rules.iter().any(|r| {
            let has = |field: &str, v: &str| r[field].as_array().unwrap().iter().any(|x| x == v);
            has("resources", res) && has("verbs", "list") && has("verbs", "watch")
        })
    };
    for res in state_metrics::registry::resource_names() {
        assert!(allowed(res), "ClusterRole lacks list/watch on {res}");
    }
    // The overview's usage reads metrics.k8s.io.
    for res in ["nodes", "pods"] {
        assert!(
            rules.iter().any(|r| r["apiGroups"][0] == "metrics.k8s.io"
                && r["resources"].as_array().unwrap().iter().any(|x| x == res)
                && r["verbs"].as_array().unwrap().iter().any(|x| x == "list")),
            "ClusterRole lacks list on metrics.k8s.io {res}"
        );
    }

    let dep = kind("Deployment");
    let container = &dep["spec"]["template"]["spec"]["containers"][0];
    // The image's entrypoint is the binary under the name kube-state-metrics: args are upstream's alone.
    let args: Vec<String> = std::iter::once("kube-state-metrics".to_owned())
        .chain(container["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()))
        .collect();
    let opts = state_metrics::Options::try_parse_from(&args).expect("container args parse");
    opts.check_supported().unwrap();
    let ports: Vec<i64> =
        container["ports"].as_array().unwrap().iter().map(|p| p["containerPort"].as_i64().unwrap()).collect();
    assert_eq!(ports, vec![i64::from(opts.port), i64::from(opts.telemetry_port)]);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], 8080);
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], 8081);
    assert_eq!(container["securityContext"]["runAsUser"], 65534);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(dep["spec"]["template"]["spec"]["serviceAccountName"], kind("ServiceAccount")["metadata"]["name"]);

    let svc = kind("Service");
    assert_eq!(svc["metadata"]["annotations"]["prometheus.io/scrape"], "true");
    let svc_ports: Vec<i64> =
        svc["spec"]["ports"].as_array().unwrap().iter().map(|p| p["port"].as_i64().unwrap()).collect();
    assert_eq!(svc_ports, vec![8080, 8081]);

    // A (simulated) API server accepts every object.
    let c = Cluster::start(&objects).await;
    assert!(c.sim.store().get("apps/v1", "Deployment", Some("kube-system"), "kube-state-metrics").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_state_is_one_request_per_resource() {
    let cfg = kube_sim::SimConfig {
        kubelets: false,
        synthetic: Some(kube_sim::SyntheticConfig { nodes: 3, pods_per_node: 40, namespaces: 2, ..Default::default() }),
        ..Default::default()
    };
    let c = Cluster::start_with(cfg, &[]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &[]);
    k.wait_ready().await;
    let records = c.sim.requests();
    let collections: std::collections::BTreeSet<&str> =
        records.iter().filter(|r| r.verb == "list" || r.verb == "watch").map(|r| r.path.as_str()).collect();
    // Every default resource (CRD discovery aside): one streaming list, then nothing but that stream.
    assert!(collections.len() >= 28, "{collections:?}");
    for path in collections {
        let mine: Vec<_> = records.iter().filter(|r| r.path == path).collect();
        assert_eq!(mine.len(), 1, "{path}: {mine:?}");
        assert!(mine[0].is_streaming_list(), "{path}: {mine:?}");
        assert_eq!(mine[0].param("resourceVersion"), None, "{path}: {mine:?}");
    }
    // ConfigMaps, whose families read metadata only, come as PartialObjectMetadata, in protobuf; no other
    // collection asks for that.
    for r in records.iter().filter(|r| r.verb == "list" || r.verb == "watch") {
        let partial = r.accept.contains("as=PartialObjectMetadata;g=meta.k8s.io;v=v1");
        assert_eq!(partial, r.path == "/api/v1/configmaps", "{r:?}");
        if partial {
            assert_eq!(r.encoding, "protobuf", "{r:?}");
        }
    }
    // Unlike client-go, no request asks the API server to gzip its answer (docs/compatibility.md §1 #22).
    let compressed: Vec<_> = records.iter().filter(|r| !r.accept_encoding.is_empty()).collect();
    assert!(compressed.is_empty(), "{compressed:?}");
}
