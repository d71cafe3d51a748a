//! deploy/ assets beyond the base manifests: the Grafana dashboard queries only metrics kubestate serves,
//! and the auto-sharded kube-state-metrics and high-availability metrics-server variants are wired as they
//! must be (downward API, replicas, anti-affinity, disruption budget, same RBAC as the base).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::Value;
use support::{Cluster, Ksm};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(path)
}

fn dashboard() -> Value {
    serde_json::from_str(&std::fs::read_to_string(deploy("grafana/kubestate-cluster.json")).unwrap()).unwrap()
}

/// Every panel of the dashboard, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = d["panels"].as_array().into_iter().flatten().collect();
    while let Some(p) = stack.pop() {
        stack.extend(p["panels"].as_array().into_iter().flatten());
        out.push(p);
    }
    out
}

/// The identifiers `kube_[a-z_]+` in a PromQL expression (a whole identifier, not a suffix of one).
fn metric_names(expr: &str) -> Vec<String> {
    let b = expr.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = expr[i..].find("kube_") {
        let start = i + off;
        let mut end = start + "kube_".len();
        while end < b.len() && (b[end].is_ascii_lowercase() || b[end] == b'_') {
            end += 1;
        }
        if (start == 0 || !is_ident(b[start - 1])) && end > start + "kube_".len() {
            out.push(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

/// Metric names of every panel target and of the query variables.
fn dashboard_metrics(d: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            names.extend(metric_names(t["expr"].as_str().unwrap_or_default()));
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        names.extend(metric_names(v["query"]["query"].as_str().unwrap_or_default()));
    }
    names
}

#[test]
fn metric_names_are_whole_identifiers() {
    assert_eq!(
        metric_names(r#"sum(kube_pod_status_phase{phase="x"}) / my_kube_thing + kube_node_info"#),
        ["kube_pod_status_phase", "kube_node_info"]
    );
    assert!(metric_names("up{job=\"kube-state-metrics\"}").is_empty());
}

#[test]
fn dashboard_is_a_prometheus_dashboard_covering_cluster_state() {
    let d = dashboard();
    let schema = d["schemaVersion"].as_u64().unwrap();
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");
    assert_eq!(d["uid"], "kubestate-cluster");
    let vars = d["templating"]["list"].as_array().unwrap();
    let ds = vars.iter().find(|v| v["type"] == "datasource").expect("a data source variable");
    assert_eq!(ds["query"], "prometheus");
    let ds_ref = format!("${{{}}}", ds["name"].as_str().unwrap());

    let all = panels(&d);
    let mut ids = BTreeSet::new();
    let mut titles = Vec::new();
    for p in &all {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate panel id {}", p["id"]);
        let g = &p["gridPos"];
        assert!(g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24, "{} overflows the grid", p["title"]);
        if p["type"] == "row" {
            continue;
        }
        titles.push(p["title"].as_str().unwrap().to_string());
        let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{} has no targets", p["title"]));
        assert!(!targets.is_empty(), "{} has no targets", p["title"]);
        // Each panel follows the variable, so importing never needs editing a data source uid.
        assert_eq!(p["datasource"]["uid"], ds_ref.as_str(), "{}", p["title"]);
        for t in targets {
            assert_eq!(t["datasource"]["uid"], ds_ref.as_str(), "{}", p["title"]);
            let expr = t["expr"].as_str().unwrap();
            assert!(!metric_names(expr).is_empty(), "{}: {expr} reads no kube-state-metrics metric", p["title"]);
        }
    }
    assert!(titles.len() >= 12, "{titles:?}");

    let names = dashboard_metrics(&d);
    for m in [
        "kube_node_status_condition",
        "kube_pod_status_phase",
        "kube_job_status_failed",
        "kube_pod_container_status_restarts_total",
        "kube_deployment_status_replicas_unavailable",
        "kube_configmap_info",
        "kube_persistentvolumeclaim_status_phase",
    ] {
        assert!(names.contains(m), "no panel shows {m}: {names:?}");
    }
    // metrics-server's resource metrics are not needed: everything comes from kube-state-metrics.
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains("container_cpu_usage") && !text.contains("metrics.k8s.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_metric_is_served_by_kube_state_metrics() {
    let names = dashboard_metrics(&dashboard());
    assert!(names.len() >= 10, "{names:?}");
    let cfg = kube_sim::SimConfig { synthetic: Some(kube_sim::SyntheticConfig::default()), ..Default::default() };
    let cluster = Cluster::start_with(cfg, &[]).await;
    let mut ksm = Ksm::spawn(&cluster.kubeconfig, &[]);
    ksm.wait_ready().await;
    let body = ksm.scrape("/metrics").await;
    let missing: Vec<&String> = names.iter().filter(|n| !body.contains(&format!("# HELP {n} "))).collect();
    assert!(missing.is_empty(), "the dashboard queries metrics kubestate does not serve: {missing:?}");
    // The cluster has pods, nodes and configmaps: those panels show data, not just a known name.
    for n in ["kube_pod_status_phase", "kube_node_status_condition", "kube_configmap_info", "kube_job_status_failed"] {
        assert!(body.contains(&format!("\n{n}{{")), "no {n} samples");
    }
}

/// Every document of a multi-document YAML file.
fn docs(path: &Path) -> Vec<Value> {
    serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    match find(docs, kind).as_slice() {
        [d] => d,
        other => panic!("{} {kind} documents", other.len()),
    }
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// Whether a Role grants `verb` on `resource` of `group`.
fn grants(role: &Value, group: &str, resource: &str, verb: &str) -> bool {
    role["rules"].as_array().into_iter().flatten().any(|r| {
        strs(&r["apiGroups"]).contains(&group)
            && strs(&r["resources"]).contains(&resource)
            && strs(&r["verbs"]).contains(&verb)
            && r.get("resourceNames").is_none()
    })
}

#[test]
fn sharded_statefulset_learns_its_pod_from_the_downward_api() {
    let dir = deploy("kube-state-metrics/sharded");
    let kustomization = docs(&dir.join("kustomization.yaml"));
    let files = strs(&kustomization[0]["resources"]).into_iter().map(String::from).collect::<Vec<_>>();
    // kustomize applies what it lists: every manifest of the directory, and only files present.
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(files.iter().cloned().collect::<BTreeSet<_>>(), on_disk);
    let all: Vec<Value> = files.iter().flat_map(|f| docs(&dir.join(f))).collect();

    let sts = one(&all, "StatefulSet");
    let ns = sts["metadata"]["namespace"].as_str().unwrap();
    assert_eq!(sts["spec"]["replicas"], 2);
    let pod = &sts["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    for (k, v) in sts["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "selector {k} does not match the pod template");
    }
    let c = &pod["spec"]["containers"][0];
    let args = strs(&c["args"]);
    assert!(args.contains(&"--pod=$(POD_NAME)"), "{args:?}");
    assert!(args.contains(&"--pod-namespace=$(POD_NAMESPACE)"), "{args:?}");
    let env: BTreeMap<&str, &str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["valueFrom"]["fieldRef"]["fieldPath"].as_str()?)))
        .collect();
    assert_eq!(env.get("POD_NAME"), Some(&"metadata.name"));
    assert_eq!(env.get("POD_NAMESPACE"), Some(&"metadata.namespace"));

    // The arguments, with the downward API filled in, are accepted by kubestate's kube-state-metrics.
    let resolved: Vec<String> = std::iter::once("kube-state-metrics".to_string())
        .chain(args.iter().map(|a| a.replace("$(POD_NAME)", "kube-state-metrics-1").replace("$(POD_NAMESPACE)", ns)))
        .collect();
    let opts = state_metrics::options::Options::try_parse_from(&resolved).unwrap();
    assert_eq!((opts.pod.as_str(), opts.pod_namespace.as_str()), ("kube-state-metrics-1", ns));

    // The governing Service is headless and selects the pods.
    let svc = one(&all, "Service");
    assert_eq!(sts["spec"]["serviceName"], svc["metadata"]["name"]);
    assert_eq!(svc["spec"]["clusterIP"], "None");
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v);
    }

    // Its ServiceAccount may read its own pod and watch its StatefulSet, in its namespace only.
    let sa = pod["spec"]["serviceAccountName"].as_str().unwrap();
    assert_eq!(one(&all, "ServiceAccount")["metadata"]["name"], sa);
    let role = one(&all, "Role");
    assert_eq!(role["metadata"]["namespace"], ns);
    assert!(grants(role, "", "pods", "get"));
    for verb in ["get", "list", "watch"] {
        assert!(grants(role, "apps", "statefulsets", verb), "statefulsets {verb}");
    }
    let rb = one(&all, "RoleBinding");
    assert_eq!(rb["metadata"]["namespace"], ns);
    assert_eq!((&rb["roleRef"]["kind"], &rb["roleRef"]["name"]), (&Value::from("Role"), &role["metadata"]["name"]));
    assert!(rb["subjects"].as_array().unwrap().iter().any(|s| s["name"] == sa && s["namespace"] == ns));
    // The cluster-wide list/watch of the exported objects is the base's.
    let base_role = docs(&deploy("kube-state-metrics/cluster-role.yaml"));
    assert_eq!(one(&all, "ClusterRole"), &base_role[0]);
    assert!(one(&all, "ClusterRoleBinding")["subjects"].as_array().unwrap().iter().any(|s| s["name"] == sa));
}

#[test]
fn ha_metrics_server_runs_two_spread_replicas_under_a_disruption_budget() {
    let ha = docs(&deploy("metrics-server/ha/high-availability.yaml"));
    let base = docs(&deploy("metrics-server/components.yaml"));

    let dep = one(&ha, "Deployment");
    assert_eq!(dep["spec"]["replicas"], 2);
    let ns = dep["metadata"]["namespace"].as_str().unwrap();
    let selector = &dep["spec"]["selector"]["matchLabels"];
    let labels = &dep["spec"]["template"]["metadata"]["labels"];
    let matches = |sel: &Value| sel.as_object().unwrap().iter().all(|(k, v)| &labels[k] == v);
    assert!(matches(selector));

    let terms = dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        ["requiredDuringSchedulingIgnoredDuringExecution"]
        .as_array()
        .expect("required pod anti-affinity");
    assert!(
        terms
            .iter()
            .any(|t| t["topologyKey"] == "kubernetes.io/hostname" && matches(&t["labelSelector"]["matchLabels"])),
        "no anti-affinity of the replicas on hostname: {terms:?}"
    );
    // A rollout must be able to proceed while the other replica blocks the only other free node.
    assert_ne!(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);

    let pdb = one(&ha, "PodDisruptionBudget");
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(pdb["metadata"]["namespace"], ns);
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], selector);

    // Everything else — ServiceAccount, RBAC, Service, APIService — is components.yaml's, unchanged.
    let key = |d: &Value| format!("{}/{}/{}", d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]);
    let rest = |docs: &[Value]| -> BTreeMap<String, Value> {
        docs.iter()
            .filter(|d| d["kind"] != "Deployment" && d["kind"] != "PodDisruptionBudget")
            .map(|d| (key(d), d.clone()))
            .collect()
    };
    let (ha_rest, base_rest) = (rest(&ha), rest(&base));
    assert!(base_rest.keys().any(|k| k.starts_with("\"APIService\"")), "{:?}", base_rest.keys());
    assert_eq!(ha_rest, base_rest);
    // And the container is the same as the single-replica one.
    let base_dep = one(&base, "Deployment");
    assert_eq!(dep["spec"]["template"]["spec"]["containers"], base_dep["spec"]["template"]["spec"]["containers"]);
}
