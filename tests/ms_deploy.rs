//! The shipped metrics-server manifest starts the binary with flags it accepts, and carries the RBAC the
//! server needs.

use std::ffi::OsString;

fn docs() -> Vec<serde_json::Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/metrics-server/components.yaml");
    serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn deployment_args_parse_and_validate() {
    let docs = docs();
    let dep = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let args = dep.pointer("/spec/template/spec/containers/0/args").unwrap().as_array().unwrap();
    // The image's entrypoint is the binary under the name metrics-server: args are upstream's alone.
    assert!(args.iter().all(|a| a.as_str().unwrap().starts_with("--")), "only flags: {args:?}");
    let argv: Vec<OsString> = std::iter::once(OsString::from("metrics-server"))
        .chain(args.iter().map(|a| OsString::from(a.as_str().unwrap())))
        .collect();
    let opts = metrics_server::Options::parse_args(argv).unwrap();
    opts.validate().unwrap();
    assert_eq!(opts.secure_port, 10250);
    assert_eq!(opts.metric_resolution, std::time::Duration::from_secs(15));
    assert!(opts.kubelet_use_node_status_port);
    let port = dep.pointer("/spec/template/spec/containers/0/ports/0/containerPort").unwrap();
    assert_eq!(port, 10250);
}

#[test]
fn rbac_and_apiservice_present() {
    let docs = docs();
    let kinds: Vec<(&str, &str)> =
        docs.iter().map(|d| (d["kind"].as_str().unwrap(), d["metadata"]["name"].as_str().unwrap())).collect();
    for want in [
        ("ServiceAccount", "metrics-server"),
        ("ClusterRole", "system:aggregated-metrics-reader"),
        ("ClusterRole", "system:metrics-server"),
        ("RoleBinding", "metrics-server-auth-reader"),
        ("ClusterRoleBinding", "metrics-server:system:auth-delegator"),
        ("ClusterRoleBinding", "system:metrics-server"),
        ("Service", "metrics-server"),
        ("Deployment", "metrics-server"),
        ("APIService", "v1beta1.metrics.k8s.io"),
    ] {
        assert!(kinds.contains(&want), "{want:?} missing");
    }
    let role =
        docs.iter().find(|d| d["metadata"]["name"] == "system:metrics-server" && d["kind"] == "ClusterRole").unwrap();
    let text = role["rules"].to_string();
    assert!(text.contains("nodes/metrics"), "kubelet scraping needs nodes/metrics: {text}");
    let auth_reader = docs.iter().find(|d| d["kind"] == "RoleBinding").unwrap();
    assert_eq!(auth_reader["roleRef"]["name"], "extension-apiserver-authentication-reader");
    assert_eq!(auth_reader["metadata"]["namespace"], "kube-system");
}
