//! `kubestate sim render`: kube-state-metrics' output for a dump, printed once, from a real server's
//! lists, the capture bed's YAML objects and a 100,000-pod kubectl dump.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wire(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/kube-sim/tests/wire").join(p)
}

fn render(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubestate")).args(["sim", "render"]).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = render(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "render {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn renders_a_real_servers_lists_with_the_flags_given() {
    let lists = wire("lists");
    let text = ok(&[lists.to_str().unwrap(), "--resources", "pods,nodes"]);
    assert!(text.starts_with("# HELP "), "{text:.200}");
    assert_eq!(lines(&text, "kube_pod_info{").len(), 4, "{text}");
    // Nodes keep the addresses of the dump: no simulated kubelet rewrote them.
    let info = lines(&text, "kube_node_info{");
    assert_eq!(info.len(), 3, "{text}");
    assert!(
        info.iter().any(|l| l.contains("node=\"worker-1\"") && l.contains("internal_ip=\"10.0.2.21\"")),
        "{info:?}"
    );
    assert!(lines(&text, "kube_deployment_").is_empty(), "only the resources asked for");
    // kube-state-metrics' own flags apply.
    let text = ok(&[lists.to_str().unwrap(), "--resources=pods", "--metric-allowlist=kube_pod_info"]);
    assert!(lines(&text, "kube_pod_").iter().all(|l| l.starts_with("kube_pod_info{")), "{text}");
}

#[test]
fn renders_the_capture_beds_yaml_objects_with_default_resources() {
    let text = ok(&[wire("objects").to_str().unwrap()]);
    for family in [
        "kube_cronjob_info{",
        "kube_job_status_failed{",
        "kube_lease_renew_time{",
        "kube_certificatesigningrequest_condition{",
    ] {
        assert!(!lines(&text, family).is_empty(), "no {family}");
    }
}

#[test]
fn refuses_its_own_flags_and_missing_dumps_with_usage() {
    let out = render(&["--resources=pods"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no dump given"));
    let out = render(&[wire("lists").to_str().unwrap(), "--port=9999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port is chosen by render"));
    let out = render(&["/nonexistent/dump.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dump.json"));
    assert!(String::from_utf8(render(&["--help"]).stdout).unwrap().contains("kubestate sim render DUMP..."));
}

#[test]
fn renders_a_100000_pod_dump() {
    const PODS: usize = 100_000;
    let dir = std::env::temp_dir().join(format!("kubestate-render-100k-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump = dir.join("dump.json");
    let mut text = String::from(r#"{"apiVersion":"v1","items":["#);
    for i in 0..PODS {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p-{i:06}","namespace":"ns-{}","uid":"6c1f0e8a-2222-4bbb-8ccc-{i:012}","creationTimestamp":"2026-11-01T10:00:00Z","labels":{{"app":"a{}"}}}},"spec":{{"nodeName":"node-{}","containers":[{{"name":"app","image":"registry.example/app:1"}}]}},"status":{{"phase":"Running","podIP":"10.1.{}.{}","containerStatuses":[{{"name":"app","image":"registry.example/app:1","imageID":"","ready":true,"restartCount":0,"state":{{"running":{{"startedAt":"2026-11-01T10:00:01Z"}}}}}}]}}}}"#,
            i % 40,
            i % 7,
            i / 100,
            (i / 250) % 256,
            i % 250 + 1
        ));
    }
    text.push_str(r#"],"kind":"List","metadata":{"resourceVersion":""}}"#);
    std::fs::write(&dump, text).unwrap();
    let out =
        ok(&[dump.to_str().unwrap(), "--resources=pods", "--metric-allowlist=kube_pod_info,kube_pod_status_phase"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(lines(&out, "kube_pod_info{").len(), PODS);
    let running = lines(&out, "kube_pod_status_phase{")
        .into_iter()
        .filter(|l| l.contains("phase=\"Running\"") && l.ends_with(" 1"))
        .count();
    assert_eq!(running, PODS);
}
