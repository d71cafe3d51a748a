//! End to end: custom resource state metrics from a config file, with the CRD and objects created after
//! the process started, a live config reload, a refused invalid reload and the CRD's removal.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::{Cluster, Ksm, TempDir, eventually, get};

const WAIT: Duration = Duration::from_secs(20);
/// `?resources=` value naming the writer `iam.kubesphere.io/v1alpha2, Resource=users`.
const USERS_Q: &str = "iam.kubesphere.io%2Fv1alpha2%2C%20Resource%3Dusers";
const IDS: &str =
    r#"customresource_group="iam.kubesphere.io",customresource_kind="User",customresource_version="v1alpha2""#;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom-resources").join(name)
}

fn yaml(name: &str) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(example(name)).unwrap()).unwrap()
}

/// Replaces the file in one step so the poller never reads half a document.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn scrape_lines(k: &Ksm, q: &str) -> Vec<String> {
    k.scrape(q).await.lines().map(str::to_owned).collect()
}

async fn wait_for(k: &Ksm, q: &'static str, want: &[String], absent: &[&str]) {
    eventually(WAIT, || async {
        let body = k.scrape(q).await;
        for w in want {
            if !body.lines().any(|l| l == w) {
                return Err(format!("missing {w:?} in:\n{body}"));
            }
        }
        for a in absent {
            if body.contains(a) {
                return Err(format!("unexpected {a:?} in:\n{body}"));
            }
        }
        Ok(())
    })
    .await;
}

fn user_line(family: &str, value: &str) -> String {
    format!("{family}{{{IDS},user=\"bob\"}} {value}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_objects_reload_and_removal() {
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
    let c = Cluster::start(&[ns]).await;
    let dir = TempDir::new("crs");
    let cfg = dir.path().join("kubesphere-user.yaml");
    let original = std::fs::read_to_string(example("kubesphere-user.yaml")).unwrap();
    std::fs::write(&cfg, &original).unwrap();
    let cfg_flag = format!("--custom-resource-state-config-file={}", cfg.display());
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=namespaces", &cfg_flag]);
    // Ready although the configured CRD does not exist.
    k.wait_ready().await;
    assert!(!k.scrape("/metrics").await.contains("kube_user_"));

    c.create(yaml("kubesphere-user-crd.yaml"));
    c.create(yaml("kubesphere-user-bob.yaml"));
    let cpu = user_line("kube_user_cpu_total", "1");
    let mem = user_line("kube_user_memory_total", "1e+09");
    wait_for(&k, "/metrics", &[cpu.clone(), mem.clone()], &[]).await;

    // Writer order is bytewise by name: the users writer sorts before namespaces.
    let all = scrape_lines(&k, "/metrics").await;
    let pos = |prefix: &str| all.iter().position(|l| l.starts_with(prefix)).unwrap();
    assert!(pos("# HELP kube_user_cpu_total") < pos("# HELP kube_namespace_"), "{all:?}");
    // The users section, exactly, alone under ?resources=.
    let section = k.scrape(&format!("/metrics?resources={USERS_Q}")).await;
    let expected = format!(
        "# HELP kube_user_cpu_total The number of user's cpu core.\n# TYPE kube_user_cpu_total gauge\n{cpu}\n\
         # HELP kube_user_memory_total The byte of user's memory.\n# TYPE kube_user_memory_total gauge\n{mem}\n\
         # HELP kube_user_state The state of the user.\n# TYPE kube_user_state gauge\n\
         kube_user_state{{{IDS},state=\"Active\",user=\"bob\"}} 1\n\
         kube_user_state{{{IDS},state=\"AuthLimitExceeded\",user=\"bob\"}} 0\n\
         kube_user_state{{{IDS},state=\"Disabled\",user=\"bob\"}} 0\n\
         # HELP kube_user_info Information about the user.\n# TYPE kube_user_info gauge\n\
         kube_user_info{{{IDS},email=\"bob@example.com\",lang=\"en\",user=\"bob\"}} 1\n\
         # HELP kube_user_last_login_time Unix time of the user's last login attempt.\n\
         # TYPE kube_user_last_login_time gauge\n\
         kube_user_last_login_time{{{IDS},user=\"bob\"}} 1.7145522e+09\n"
    );
    assert_eq!(section, expected);
    assert!(k.scrape(&format!("/metrics?exclude_resources={USERS_Q}")).await.contains("kube_namespace_created"));
    assert!(!k.scrape(&format!("/metrics?exclude_resources={USERS_Q}")).await.contains("kube_user_"));

    // The value follows the annotation.
    let mut bob = c.sim.store().get("iam.kubesphere.io/v1alpha2", "User", None, "bob").unwrap();
    bob["metadata"]["annotations"]["user-cpu-limit"] = Value::from("2500m");
    c.update(bob);
    wait_for(&k, "/metrics", &[user_line("kube_user_cpu_total", "2.5"), mem.clone()], &[&cpu]).await;

    // Deleting the object removes its series (and, with no objects left, the headers).
    c.delete("iam.kubesphere.io/v1alpha2", "User", None, "bob");
    wait_for(&k, "/metrics", &[], &["kube_user_"]).await;
    c.create(yaml("kubesphere-user-bob.yaml"));
    wait_for(&k, "/metrics", std::slice::from_ref(&cpu), &[]).await;

    // A valid config change adds a family without a restart.
    let extra = "        - name: email_info\n          help: \"The user's email address.\"\n          each:\n            \
                 type: Info\n            info:\n              labelsFromPath:\n                email: [spec, email]\n";
    write_atomically(&cfg, &format!("{original}{extra}"));
    let email = format!("kube_user_email_info{{{IDS},email=\"bob@example.com\",user=\"bob\"}} 1");
    wait_for(&k, "/metrics", &[cpu.clone(), email.clone()], &[]).await;
    let reload_ok = format!(
        "kube_state_metrics_last_config_reload_successful{{filename=\"{}\",type=\"customresourceconfig\"}}",
        cfg.display()
    );
    let tel = get(&k.telemetry_url("/metrics"), &[]).await.text();
    assert!(tel.lines().any(|l| l == format!("{reload_ok} 1")), "{tel}");
    assert!(tel.contains("kube_state_metrics_config_hash{filename="), "{tel}");
    assert!(tel.lines().any(|l| l == "kube_state_metrics_custom_resource_state_cache 1"), "{tel}");
    assert!(tel.lines().any(|l| l == "kube_state_metrics_custom_resource_state_add_events_total 1"), "{tel}");
    // The custom writer's sync state and its (and CRD discovery's) list/watch calls are counted like
    // built-in ones, under upstream's type label for generic objects.
    let synced = "kube_state_metrics_resource_synced{resource=\"iam.kubesphere.io/v1alpha2, Resource=users\"} 1";
    assert!(tel.lines().any(|l| l == synced), "{synced} missing:\n{tel}");
    assert!(
        tel.lines().any(|l| l
            .starts_with("kube_state_metrics_list_total{resource=\"*unstructured.Unstructured\",result=\"success\"}")),
        "{tel}"
    );

    // An invalid change is refused: the old families keep serving and the gauge says 0.
    write_atomically(&cfg, &original.replace("type: StateSet", "type: Histogram"));
    eventually(WAIT, || async {
        let tel = get(&k.telemetry_url("/metrics"), &[]).await.text();
        if tel.lines().any(|l| l == format!("{reload_ok} 0")) { Ok(()) } else { Err(tel) }
    })
    .await;
    assert!(k.log().contains("custom resource state config rejected"), "{}", k.log());
    assert!(k.log().contains("metrics[2]"), "error location missing from the log:\n{}", k.log());
    let body = k.scrape("/metrics").await;
    assert!(body.lines().any(|l| l == cpu) && body.lines().any(|l| l == email), "{body}");
    k.assert_running();

    // Removing the CRD stops the writer; built-in resources carry on.
    c.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "users.iam.kubesphere.io");
    wait_for(&k, "/metrics", &[], &["kube_user_"]).await;
    assert_eq!(k.scrape(&format!("/metrics?resources={USERS_Q}")).await, "");
    assert!(k.scrape("/metrics").await.contains("kube_namespace_created"));
    let tel = get(&k.telemetry_url("/metrics"), &[]).await.text();
    assert!(tel.lines().any(|l| l == "kube_state_metrics_custom_resource_state_delete_events_total 1"), "{tel}");
    assert!(tel.lines().any(|l| l == "kube_state_metrics_custom_resource_state_cache 0"), "{tel}");
    assert_eq!(get(&k.url("/readyz"), &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_state_only_and_inline_config() {
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
    let c = Cluster::start(&[ns, yaml("kubesphere-user-crd.yaml"), yaml("kubesphere-user-bob.yaml")]).await;
    let inline = std::fs::read_to_string(example("kubesphere-user.yaml")).unwrap();
    let mut k = Ksm::spawn(
        &c.kubeconfig,
        &[
            "--custom-resource-state-only",
            &format!("--custom-resource-state-config={inline}"),
            // The inline config wins; this file does not even exist.
            "--custom-resource-state-config-file=/nonexistent/crs.yaml",
        ],
    );
    k.wait_ready().await;
    wait_for(&k, "/metrics", &[user_line("kube_user_cpu_total", "1")], &["kube_namespace_"]).await;
    let body = k.scrape("/metrics").await;
    assert!(body.lines().all(|l| l.starts_with("# ") || l.starts_with("kube_user_")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_at_startup_exits_1() {
    let c = Cluster::start(&[]).await;
    let dir = TempDir::new("crs-bad");
    let cfg = dir.path().join("bad.yaml");
    let original = std::fs::read_to_string(example("kubesphere-user.yaml")).unwrap();
    std::fs::write(&cfg, original.replace("type: StateSet", "type: Histogram")).unwrap();
    let mut k = Ksm::spawn(&c.kubeconfig, &[&format!("--custom-resource-state-config-file={}", cfg.display())]);
    let (code, log) = k.wait_exit(WAIT);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains(&cfg.display().to_string()) && log.contains("metrics[2]"), "{log}");

    let missing = dir.path().join("missing.yaml");
    let flag = format!("--custom-resource-state-config-file={}", missing.display());
    let mut k = Ksm::spawn(&c.kubeconfig, &[&flag]);
    let (code, log) = k.wait_exit(WAIT);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("missing.yaml"), "{log}");

    // With continue-without, a missing file is waited for and picked up when it appears.
    let mut k = Ksm::spawn(
        &c.kubeconfig,
        &["--resources=namespaces", &flag, "--continue-without-custom-resource-state-config-file"],
    );
    k.wait_ready().await;
    c.create(yaml("kubesphere-user-crd.yaml"));
    c.create(yaml("kubesphere-user-bob.yaml"));
    write_atomically(&missing, &original);
    wait_for(&k, "/metrics", &[user_line("kube_user_cpu_total", "1")], &[]).await;
}

fn widget_crd() -> Value {
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.dev"},
        "spec": {"group": "example.dev", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

fn widget(ns: &str, name: &str, size: i64) -> Value {
    serde_json::json!({"apiVersion": "example.dev/v1", "kind": "Widget",
                       "metadata": {"name": name, "namespace": ns}, "spec": {"size": size}})
}

const WIDGETS: &str = r#"
spec:
  resources:
    - groupVersionKind: {group: example.dev, version: v1, kind: Widget}
      metricNamePrefix: widget
      labelsFromPath: {name: [metadata, name], namespace: [metadata, namespace]}
      metrics:
        - name: size
          help: Size.
          each: {type: Gauge, gauge: {path: [spec, size]}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_flags_apply_to_namespaced_custom_resources() {
    let nss: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|n| serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}))
        .collect();
    let c = Cluster::start(&nss).await;
    c.create(widget_crd());
    for (ns, size) in [("a", 1), ("b", 2), ("c", 3)] {
        c.create(widget(ns, "w", size));
    }
    let line = |ns: &str, size: i64| {
        format!(
            "widget_size{{customresource_group=\"example.dev\",customresource_kind=\"Widget\",\
             customresource_version=\"v1\",name=\"w\",namespace=\"{ns}\"}} {size}"
        )
    };
    let inline = format!("--custom-resource-state-config={WIDGETS}");
    let mut only = Ksm::spawn(&c.kubeconfig, &["--custom-resource-state-only", &inline, "--namespaces=c,a"]);
    let mut deny = Ksm::spawn(&c.kubeconfig, &["--custom-resource-state-only", &inline, "--namespaces-denylist=a"]);
    only.wait_ready().await;
    deny.wait_ready().await;
    wait_for(&only, "/metrics", &[line("a", 1), line("c", 3)], &["namespace=\"b\""]).await;
    wait_for(&deny, "/metrics", &[line("b", 2), line("c", 3)], &["namespace=\"a\""]).await;
    // One part per listed namespace, served in flag order.
    let body = only.scrape("/metrics").await;
    let samples: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(samples, [line("c", 3), line("a", 1)], "{body}");
}
