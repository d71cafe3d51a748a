//! The real Prometheus scraping the real `kubestate demo`: the queries users run (and the shipped alert rules)
//! must answer exactly what the simulated cluster holds, read back from its API server.

mod support;
mod tools;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, ContainerStatus, Node, Pod};
use serde_json::Value;
use support::{TempDir, eventually, free_port, try_get};

/// A child process killed on drop; its log tail is printed when the test fails.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, dir: &Path) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc { name, child, log }
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("{} exited with {status}; log:\n{log}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!("---- {} log (tail) ----\n{}", self.name, tail.join("\n"));
        }
    }
}

/// Percent-encoding of a PromQL expression for a query string.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The instant vector `q` evaluates to: (labels, value) per series.
async fn query(port: u16, q: &str) -> Result<Vec<(Value, f64)>, String> {
    let r = try_get(&format!("http://127.0.0.1:{port}/api/v1/query?query={}", encode(q)), &[]).await?;
    let body: Value = serde_json::from_slice(&r.body).map_err(|e| format!("{q}: {e}"))?;
    if r.status != 200 || body["status"] != "success" {
        return Err(format!("{q}: HTTP {}: {body}", r.status));
    }
    let Some(result) = body["data"]["result"].as_array() else {
        return Err(format!("{q}: not a vector: {body}"));
    };
    result
        .iter()
        .map(|s| {
            let v = s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).ok_or(format!("{q}: value in {s}"))?;
            Ok((s["metric"].clone(), v))
        })
        .collect()
}

/// The label tuples of a query's series, each value checked to be `value`.
async fn label_set(port: u16, q: &str, labels: &[&str], value: f64) -> Result<BTreeSet<Vec<String>>, String> {
    let mut out = BTreeSet::new();
    for (m, v) in query(port, q).await? {
        if v != value {
            return Err(format!("{q}: {m} has value {v}, want {value}"));
        }
        out.insert(labels.iter().map(|l| m[*l].as_str().unwrap_or_default().to_string()).collect());
    }
    Ok(out)
}

/// The single value of an aggregation; `None` when the vector is empty (count() of nothing).
async fn scalar(port: u16, q: &str) -> Result<Option<f64>, String> {
    let r = query(port, q).await?;
    match r.as_slice() {
        [] => Ok(None),
        [(_, v)] => Ok(Some(*v)),
        _ => Err(format!("{q}: {} series", r.len())),
    }
}

/// Polls until `q` gives `want`: the first scrapes and rule evaluations land within a few seconds.
async fn expect_set(port: u16, q: &str, labels: &[&str], want: &BTreeSet<Vec<String>>) {
    eventually(Duration::from_secs(20), || async move {
        let got = label_set(port, q, labels, 1.0).await?;
        if &got == want { Ok(()) } else { Err(format!("{q}: got {got:?}, want {want:?}")) }
    })
    .await;
}

async fn expect_scalar(port: u16, q: &str, want: Option<f64>) {
    eventually(Duration::from_secs(20), || async move {
        let got = scalar(port, q).await?;
        if got == want { Ok(()) } else { Err(format!("{q}: got {got:?}, want {want:?}")) }
    })
    .await;
}

fn ns_name<K: kube::Resource>(o: &K) -> (String, String) {
    let m = o.meta();
    (m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default())
}

fn container_statuses(p: &Pod) -> &[ContainerStatus] {
    p.status.as_ref().and_then(|s| s.container_statuses.as_deref()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_queries_and_alerts_match_the_demo_cluster() {
    let Some(prometheus) = tools::tool("prometheus") else { return };
    let dir = TempDir::new("prom-e2e");
    let (sim_port, ksm_port, tel_port, ms_port, prom_port) =
        (free_port(), free_port(), free_port(), free_port(), free_port());
    let demo_dir = dir.path().join("demo");
    // No churn: the cluster read back below is the cluster Prometheus scraped.
    let mut demo = Proc::spawn(
        "kubestate demo",
        Command::new(env!("CARGO_BIN_EXE_kubestate"))
            .arg("demo")
            .arg(format!("--sim-listen=127.0.0.1:{sim_port}"))
            .arg(format!("--ksm-port={ksm_port}"))
            .arg(format!("--ksm-telemetry-port={tel_port}"))
            .arg(format!("--ms-port={ms_port}"))
            .args(["--nodes=4", "--pods-per-node=5", "--namespaces=2", "--churn=0", "--seed=3"])
            .arg(format!("--dir={}", demo_dir.display()))
            .env_remove("RUST_LOG"),
        dir.path(),
    );
    let start = Instant::now();
    loop {
        demo.assert_running();
        if let Ok(r) = try_get(&format!("http://127.0.0.1:{ksm_port}/metrics"), &[]).await
            && r.status == 200
            && String::from_utf8_lossy(&r.body).contains("kube_pod_status_phase{")
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "kube-state-metrics never served pod phases");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/rules");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}/*.yml\nscrape_configs:\n  \
             - job_name: kube-state-metrics\n    static_configs:\n      - targets: [\"127.0.0.1:{ksm_port}\"]\n",
            rules.display()
        ),
    )
    .unwrap();
    let mut prom = Proc::spawn(
        "prometheus",
        Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
        dir.path(),
    );
    let start = Instant::now();
    loop {
        prom.assert_running();
        demo.assert_running();
        let up = label_set(prom_port, "up", &["job", "instance"], 1.0).await;
        if up.as_ref().is_ok_and(|s| !s.is_empty()) {
            let want = BTreeSet::from([vec!["kube-state-metrics".to_string(), format!("127.0.0.1:{ksm_port}")]]);
            assert_eq!(up.unwrap(), want);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "Prometheus never scraped: {up:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The cluster as its API server reports it, through the kubeconfig the demo wrote.
    let kubeconfig = kube::config::Kubeconfig::read_from(demo_dir.join("kubeconfig")).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let lp = kube::api::ListParams::default();
    let configmaps = kube::Api::<ConfigMap>::all(client.clone()).list(&lp).await.unwrap().items;
    let jobs = kube::Api::<Job>::all(client.clone()).list(&lp).await.unwrap().items;
    let pods = kube::Api::<Pod>::all(client.clone()).list(&lp).await.unwrap().items;
    let nodes = kube::Api::<Node>::all(client.clone()).list(&lp).await.unwrap().items;

    expect_scalar(prom_port, "count(kube_configmap_created)", Some(configmaps.len() as f64)).await;

    let failed_jobs: BTreeSet<Vec<String>> = jobs
        .iter()
        .filter(|j| j.status.as_ref().and_then(|s| s.failed) == Some(1))
        .map(|j| {
            let (ns, name) = ns_name(j);
            vec![ns, name]
        })
        .collect();
    // The generator fails every second job; an empty set here would make the alert check below vacuous.
    assert!(!failed_jobs.is_empty(), "the demo cluster has no failed job");
    expect_set(prom_port, "kube_job_status_failed == 1", &["namespace", "job_name"], &failed_jobs).await;

    let not_ready: BTreeSet<Vec<String>> = nodes
        .iter()
        .filter_map(|n| {
            let conds = n.status.as_ref()?.conditions.as_ref()?;
            let ready = conds.iter().find(|c| c.type_ == "Ready")?;
            (ready.status != "True")
                .then(|| vec![n.metadata.name.clone().unwrap_or_default(), ready.status.to_lowercase()])
        })
        .collect();
    // Seed 3 makes one of four nodes not ready; should the generator change, pick a seed that still does.
    assert!(!not_ready.is_empty(), "seed 3 no longer yields a not-ready node");
    expect_set(
        prom_port,
        r#"kube_node_status_condition{condition="Ready",status!="true"} == 1"#,
        &["node", "status"],
        &not_ready,
    )
    .await;

    let unhealthy: BTreeSet<Vec<String>> = pods
        .iter()
        .filter_map(|p| {
            let phase = p.status.as_ref()?.phase.clone()?;
            let (ns, name) = ns_name(p);
            ["Failed", "Unknown", "Pending"].contains(&phase.as_str()).then(|| vec![ns, name, phase])
        })
        .collect();
    assert!(!unhealthy.is_empty(), "the demo cluster has failed job pods, so some pod is unhealthy");
    expect_set(
        prom_port,
        r#"kube_pod_status_phase{phase=~"Failed|Unknown|Pending"} == 1"#,
        &["namespace", "pod", "phase"],
        &unhealthy,
    )
    .await;

    // Without churn no restart count moves, so nothing changed in the window, although restarts exist.
    let restarts: i64 = pods.iter().flat_map(container_statuses).map(|c| i64::from(c.restart_count)).sum();
    assert!(restarts > 0, "the generator gives crash-looping containers restarts");
    expect_scalar(prom_port, "sum(kube_pod_container_status_restarts_total)", Some(restarts as f64)).await;
    assert_eq!(
        query(prom_port, "changes(kube_pod_container_status_restarts_total[30m]) > 0").await.unwrap(),
        Vec::new()
    );

    let started = pods
        .iter()
        .flat_map(container_statuses)
        .filter(|c| c.state.as_ref().is_some_and(|s| s.running.is_some() || s.terminated.is_some()))
        .count();
    expect_scalar(prom_port, "count(kube_pod_container_state_started)", Some(started as f64)).await;

    // KubeJobFailed has no `for`: it fires on the first evaluation that sees the failed jobs.
    expect_set(
        prom_port,
        r#"ALERTS{alertname="KubeJobFailed",alertstate="firing"}"#,
        &["namespace", "job_name"],
        &failed_jobs,
    )
    .await;

    // Every query of the shipped Grafana dashboard is valid PromQL for this Prometheus.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/kubestate-cluster.json"))
            .unwrap(),
    )
    .unwrap();
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() >= 10, "{exprs:?}");
    for e in exprs {
        let e = e.replace("$namespace", ".*");
        if let Err(err) = query(prom_port, &e).await {
            panic!("dashboard query rejected: {err}");
        }
    }
    prom.assert_running();
    demo.assert_running();
}

/// The `expr` of every panel target, rows' nested panels included.
fn dashboard_exprs(d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = d["panels"].as_array().into_iter().flatten().collect();
    while let Some(p) = stack.pop() {
        stack.extend(p["panels"].as_array().into_iter().flatten());
        out.extend(p["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str().map(String::from)));
    }
    out
}
