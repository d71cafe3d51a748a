//! deploy/helm/kubestate renders with `helm template` (default values, and with sharding, a highly available
//! metrics-server and extra flags), and what it renders is what the binaries accept: each image starts the
//! server its arguments are for. Every value of values.yaml is documented in the chart's README.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use clap::Parser as _;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

mod images;
mod tools;

fn helm() -> Option<PathBuf> {
    tools::tool("helm")
}

fn render(helm: &PathBuf, values: Option<&str>) -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("kubestate-helm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(helm);
    cmd.args(["template", "kubestate"]).arg(repo().join("deploy/helm/kubestate")).args(["--namespace", "monitoring"]);
    if let Some(v) = values {
        let f = dir.join("values.yaml");
        std::fs::write(&f, v).unwrap();
        cmd.arg("--values").arg(&f);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "helm template failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    docs.into_iter().filter(|d| d.get("kind").is_some()).collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn args(workload: &Value) -> Vec<String> {
    workload["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn ksm_options(args: &[String]) -> state_metrics::Options {
    let argv = std::iter::once("kube-state-metrics".to_owned()).chain(args.iter().cloned());
    state_metrics::Options::try_parse_from(argv).unwrap_or_else(|e| panic!("kube-state-metrics rejects {args:?}: {e}"))
}

fn ms_options(args: &[String]) -> metrics_server::Options {
    let argv: Vec<OsString> =
        std::iter::once(OsString::from("metrics-server")).chain(args.iter().map(OsString::from)).collect();
    metrics_server::Options::parse_args(argv).unwrap_or_else(|e| panic!("metrics-server rejects {args:?}: {e}"))
}

#[test]
fn default_values_render_both_servers_with_upstream_arguments() {
    let Some(helm) = helm() else { return };
    let docs = render(&helm, None);
    let ksm = find(&docs, "Deployment", "kube-state-metrics");
    assert_eq!(ksm["metadata"]["namespace"], "monitoring");
    assert_eq!(ksm["spec"]["replicas"], 1);
    let container = &ksm["spec"]["template"]["spec"]["containers"][0];
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(container["image"], format!("ghcr.io/kubestate/kube-state-metrics:{version}"));
    let servers = images::check_workloads(&docs, std::path::Path::new("helm template (defaults)"));
    assert_eq!(servers, ["kube-state-metrics", "metrics-server"]);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["securityContext"]["runAsUser"], 65534);
    let opts = ksm_options(&args(ksm));
    assert_eq!((opts.port, opts.telemetry_port), (8080, 8081));

    // The chart's RBAC is the plain manifest's, rule for rule.
    let plain: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo().join("deploy/kube-state-metrics/cluster-role.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(find(&docs, "ClusterRole", "kube-state-metrics")["rules"], plain["rules"]);

    let ms = find(&docs, "Deployment", "metrics-server");
    assert_eq!(ms["spec"]["replicas"], 1);
    ms_options(&args(ms)).validate().expect("metrics-server args validate");
    assert!(args(ms).contains(&"--metric-resolution=15s".to_owned()));
    let api = find(&docs, "APIService", "v1beta1.metrics.k8s.io");
    assert_eq!(api["spec"]["service"]["namespace"], "monitoring");
    assert_eq!(find(&docs, "RoleBinding", "metrics-server-auth-reader")["metadata"]["namespace"], "kube-system");
    assert!(docs.iter().all(|d| d["kind"] != "StatefulSet" && d["kind"] != "PodDisruptionBudget"));
}

#[test]
fn sharding_high_availability_and_extra_flags() {
    let Some(helm) = helm() else { return };
    let docs = render(
        &helm,
        Some(
            r#"
image: {registry: registry.example/kubestate, tag: v9}
kubeStateMetrics:
  sharding: {enabled: true, replicas: 3}
  extraArgs: ["--resources=pods,nodes", "--metric-labels-allowlist=pods=[app]"]
metricsServer:
  replicas: 2
  kubeletInsecureTLS: true
"#,
        ),
    );
    let sts = find(&docs, "StatefulSet", "kube-state-metrics");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["serviceName"], "kube-state-metrics");
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example/kubestate/kube-state-metrics:v9");
    let env: Vec<(&str, &str)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["valueFrom"]["fieldRef"]["fieldPath"].as_str().unwrap()))
        .collect();
    assert_eq!(env, [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")]);
    let a = args(sts);
    assert!(a.contains(&"--pod=$(POD_NAME)".to_owned()) && a.contains(&"--pod-namespace=$(POD_NAMESPACE)".to_owned()));
    // The pod's own name is filled in by the kubelet; with it, the arguments are the binary's.
    let filled: Vec<String> = a
        .iter()
        .map(|s| s.replace("$(POD_NAME)", "kube-state-metrics-0").replace("$(POD_NAMESPACE)", "monitoring"))
        .collect();
    let opts = ksm_options(&filled);
    assert_eq!(opts.pod, "kube-state-metrics-0");
    images::args_start_the_server("kube-state-metrics", &a, "helm template (sharded)");
    assert!(filled.contains(&"--resources=pods,nodes".to_owned()));
    let role = find(&docs, "Role", "kube-state-metrics-sharding");
    assert!(role["rules"].as_array().unwrap().iter().any(|r| r["resources"][0] == "statefulsets"));
    assert!(docs.iter().all(|d| !(d["kind"] == "Deployment" && d["metadata"]["name"] == "kube-state-metrics")));

    let ms = find(&docs, "Deployment", "metrics-server");
    assert_eq!(ms["spec"]["replicas"], 2);
    let anti = &ms["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        [0];
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(anti["labelSelector"]["matchLabels"], ms["spec"]["selector"]["matchLabels"]);
    let pdb = find(&docs, "PodDisruptionBudget", "metrics-server");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"], ms["spec"]["selector"]);
    let ms_args = args(ms);
    assert!(ms_args.contains(&"--kubelet-insecure-tls".to_owned()));
    ms_options(&ms_args).validate().expect("metrics-server args validate");
    images::args_start_the_server("metrics-server", &ms_args, "helm template (high availability)");
}

/// Maps whose keys are the user's own (Kubernetes fields, annotations): documented as one value.
const FREE_FORM: &[&str] = &["resources", "nodeSelector", "annotations"];

fn leaf_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    let last = prefix.rsplit('.').next().unwrap_or_default();
    match v.as_object() {
        Some(m) if !FREE_FORM.contains(&last) => {
            for (k, child) in m {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaf_paths(child, &path, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn every_value_is_documented_in_the_chart_readme() {
    let chart = repo().join("deploy/helm/kubestate");
    let values: Value = serde_saphyr::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap()).unwrap();
    let readme = std::fs::read_to_string(chart.join("README.md")).unwrap();
    let mut paths = Vec::new();
    leaf_paths(&values, "", &mut paths);
    assert!(paths.len() > 20, "{paths:?}");
    let undocumented: Vec<&String> = paths.iter().filter(|p| !readme.contains(&format!("| `{p}` |"))).collect();
    assert!(undocumented.is_empty(), "values missing from the chart README's table: {undocumented:?}");
}
