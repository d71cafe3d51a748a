//! metrics-server: memory and CPU per node, scrape-cycle duration, API latency, with simulated kubelets
//! hosted in this process and kube-sim's synthetic Nodes pointed at them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use kubelet_sim::{KubeletSim, PodInfo, pki::TestCa};
use serde_json::{Value, json};

use crate::Config;
use crate::client::FrontProxy;
use crate::procfs;
use crate::report::{Latency, MsReport};
use crate::sim::{Proc, Scratch, Sim, free_port};

/// Running pods by node, from a pod list.
pub fn running_pods(list: &Value, now: SystemTime) -> HashMap<String, Vec<PodInfo>> {
    let mut out: HashMap<String, Vec<PodInfo>> = HashMap::new();
    for p in list["items"].as_array().into_iter().flatten() {
        if p["status"]["phase"].as_str() != Some("Running") {
            continue;
        }
        let (Some(node), Some(ns), Some(name)) =
            (p["spec"]["nodeName"].as_str(), p["metadata"]["namespace"].as_str(), p["metadata"]["name"].as_str())
        else {
            continue;
        };
        let containers = p["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        out.entry(node.to_string()).or_default().push(PodInfo {
            namespace: ns.into(),
            name: name.into(),
            containers,
            start_time: now,
        });
    }
    out
}

/// Sum and count of a histogram family without labels, and an unlabelled-or-typed gauge.
fn hist(text: &str, name: &str) -> (f64, u64) {
    let val = |suffix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}{suffix} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (val("_sum"), val("_count") as u64)
}

fn gauge(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

const TICK: &str = "metrics_server_manager_tick_duration_seconds";

/// Polls metrics-server's own /metrics until at least `want` cycles have completed.
async fn wait_ticks(conn: &mut FrontProxy, want: u64, limit: Duration) -> anyhow::Result<(String, f64, u64, Instant)> {
    let start = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&conn.get_ok("/metrics").await?.body).into_owned();
        let (sum, count) = hist(&text, TICK);
        if count >= want {
            return Ok((text, sum, count, Instant::now()));
        }
        anyhow::ensure!(start.elapsed() < limit, "metrics-server finished {count} cycles, wanted {want}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// kubelet-sim serving every node of a kube-sim cluster, with each Node's status pointed at it.
pub struct Kubelets {
    /// Serves the kubelets until dropped.
    _server: KubeletSim,
    /// The file with the kubelets' CA.
    pub ca: PathBuf,
    pub names: Vec<String>,
    /// Running pods the kubelets report.
    pub running: usize,
}

impl Kubelets {
    pub async fn start(sim: &mut Sim, pod_list: &Value, dir: &Path) -> anyhow::Result<Kubelets> {
        let by_node = Arc::new(running_pods(pod_list, SystemTime::now()));
        let running = by_node.values().map(Vec::len).sum();
        let source = by_node.clone();
        let kubelets = KubeletSim::start(kubelet_sim::Config::new(Arc::new(move |node: &str| {
            source.get(node).cloned().unwrap_or_default()
        })))
        .await
        .context("starting simulated kubelets")?;
        let node_list: Value = serde_json::from_slice(&sim.api.get_ok("/api/v1/nodes", &[]).await?.body)?;
        let names: Vec<String> = node_list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        tracing::info!(nodes = names.len(), "pointing nodes at simulated kubelets");
        for name in &names {
            let addr = kubelets.add_node(name)?;
            let patch = json!({"status": {
                "addresses": [{"type": "InternalIP", "address": addr.ip().to_string()}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": addr.port()}}}});
            sim.api
                .send_json(
                    http::Method::PATCH,
                    &format!("/api/v1/nodes/{name}/status"),
                    "application/merge-patch+json",
                    &patch,
                )
                .await?;
        }
        let ca = dir.join("kubelet-ca.crt");
        std::fs::write(&ca, kubelets.ca_pem())?;
        Ok(Kubelets { _server: kubelets, ca, names, running })
    }
}

/// metrics-server's command line for a bench cluster.
pub fn metrics_server_args(cfg: &Config, sim: &Sim, dir: &Path, port: u16, kubelet_ca: &Path) -> Vec<String> {
    let res = cfg.ms_resolution.as_secs().max(10);
    let timeout = (res * 9 / 10).clamp(1, 10);
    vec![
        "metrics-server".to_string(),
        format!("--kubeconfig={}", sim.kubeconfig.display()),
        format!("--secure-port={port}"),
        "--bind-address=127.0.0.1".into(),
        format!("--cert-dir={}", dir.display()),
        format!("--metric-resolution={res}s"),
        format!("--kubelet-request-timeout={timeout}s"),
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname".into(),
        "--kubelet-use-node-status-port".into(),
        format!("--kubelet-certificate-authority={}", kubelet_ca.display()),
    ]
}

pub async fn bench(cfg: &Config, nodes: usize) -> anyhow::Result<MsReport> {
    let dir = Scratch::new("ms")?;
    tracing::info!(nodes, "starting kube-sim for metrics-server");
    let mut sim = Sim::start(&cfg.kubestate, &dir.0, nodes, cfg.ms_pods_per_node, 10).await?;
    let (sim_stats, pod_list) = sim.initial_lists().await?;
    let kubelets = Kubelets::start(&mut sim, &pod_list, &dir.0).await?;
    drop(pod_list);
    let pods = kubelets.running;
    let names = &kubelets.names;
    // Front-proxy trust comes from the ConfigMap kube-apiserver publishes, as in a real cluster.
    let front_ca = TestCa::new("bench-front-proxy-ca")?;
    let data = json!({
        "requestheader-client-ca-file": front_ca.ca_pem(),
        "requestheader-allowed-names": "[\"front-proxy-client\"]",
        "requestheader-username-headers": "[\"X-Remote-User\"]",
        "requestheader-group-headers": "[\"X-Remote-Group\"]",
        "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]"});
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"}, "data": data});
    let created = sim
        .api
        .request(
            http::Method::POST,
            "/api/v1/namespaces/kube-system/configmaps",
            &[],
            Some(("application/json", cm.to_string().into_bytes())),
        )
        .await?;
    if created.status == 409 {
        // Simulators that publish their own front-proxy CA get ours instead: the bench holds its key.
        sim.api
            .send_json(
                http::Method::PATCH,
                "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication",
                "application/merge-patch+json",
                &json!({"data": data}),
            )
            .await?;
    } else {
        anyhow::ensure!(created.status < 300, "creating the front-proxy ConfigMap: status {}", created.status);
    }
    let client = front_ca.issue_client("front-proxy-client", None)?;

    let port = free_port()?;
    let res = cfg.ms_resolution.as_secs().max(10);
    let args = metrics_server_args(cfg, &sim, &dir.0, port, &kubelets.ca);
    tracing::info!(nodes, pods, "starting metrics-server");
    let mut ms = Proc::spawn("metrics-server", cfg.ms_binary.as_ref().unwrap_or(&cfg.kubestate), &args, &dir.0)?;
    let pid = ms.pid();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut conn = loop {
        ms.check_alive()?;
        if let Ok(mut c) = FrontProxy::connect(port, vec![client.cert_der.clone()], client.key_der()).await
            && let Ok(r) = c.get("/healthz").await
            && r.status == 200
        {
            break c;
        }
        anyhow::ensure!(Instant::now() < deadline, "metrics-server did not serve /healthz within 120 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ready_seconds = ms.started.elapsed().as_secs_f64();

    // Measure whole cycles only: start after the first tick has completed.
    let limit = Duration::from_secs(res * (cfg.ms_cycles + 4) + 60);
    let (_, sum0, count0, t0) = wait_ticks(&mut conn, 1, limit).await?;
    let cpu0 = procfs::cpu_seconds(pid);
    // Each read of /metrics renders every node's series (about 2 MB at 1,000 nodes) on
    // metrics-server's CPU: polled twice a second through the measured cycles, the reads were about a
    // fifth of what was measured. Ticks come every `res` seconds, so the last measured one ends about
    // `cycles × res` after the one just seen (give or take a jitter and a scrape, well within the
    // margin): stay away until shortly before, then poll.
    let want = cfg.ms_cycles.max(1);
    tokio::time::sleep(Duration::from_secs(res * want).saturating_sub(Duration::from_secs(3))).await;
    // A server may close a connection idle that long (the issue-time build does).
    let mut conn = FrontProxy::connect(port, vec![client.cert_der.clone()], client.key_der()).await?;
    let (text, sum1, count1, t1) = wait_ticks(&mut conn, count0 + want, limit).await?;
    let cpu1 = procfs::cpu_seconds(pid);
    let cycles = count1 - count0;
    let cycle_seconds = if cycles > 0 { (sum1 - sum0) / cycles as f64 } else { 0.0 };
    let wall = t1.duration_since(t0).as_secs_f64().max(1e-3);
    let millicores = (cpu1 - cpu0) / wall * 1000.0;
    let cpu_seconds_per_cycle = if cycles > 0 { (cpu1 - cpu0) / cycles as f64 } else { 0.0 };
    let mem = procfs::mem(pid);

    let reps = if cfg.scrapes >= 10 { 10 } else { 3 };
    let mut list_lat = Vec::new();
    let mut pod_list_items = 0;
    let mut pod_list_bytes = 0;
    let mut probe_pod = None;
    for _ in 0..reps {
        let r = conn.get_ok("/apis/metrics.k8s.io/v1beta1/pods").await?;
        list_lat.push(r.elapsed.as_secs_f64());
        pod_list_bytes = r.body.len();
        let v: Value = serde_json::from_slice(&r.body)?;
        let items = v["items"].as_array();
        pod_list_items = items.map_or(0, Vec::len);
        // The single-pod get asks for a pod the API just listed, so it measures a hit.
        probe_pod = items.and_then(|a| a.first()).and_then(|p| {
            let m = &p["metadata"];
            Some((m["namespace"].as_str()?.to_string(), m["name"].as_str()?.to_string()))
        });
    }
    let mut get_lat = Vec::new();
    if let Some((ns, name)) = &probe_pod {
        for _ in 0..reps * 5 {
            let r = conn.get_ok(&format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{name}")).await?;
            get_lat.push(r.elapsed.as_secs_f64());
        }
    }
    ms.check_alive()?;
    let mut sim_stats = sim_stats;
    let sm = sim.mem();
    sim_stats.rss_kib = sm.rss_kib;
    sim_stats.hwm_kib = sm.hwm_kib;
    sim.proc.check_alive()?;
    let n = names.len().max(1) as f64;
    Ok(MsReport {
        nodes: names.len(),
        pods,
        ready_seconds,
        rss_kib: mem.rss_kib,
        hwm_kib: mem.hwm_kib,
        rss_kib_per_node: mem.rss_kib as f64 / n,
        millicores,
        millicores_per_node: millicores / n,
        cpu_seconds_per_cycle,
        cycle_seconds,
        cycles,
        node_points: gauge(&text, "metrics_server_storage_points{type=\"node\"}"),
        container_points: gauge(&text, "metrics_server_storage_points{type=\"container\"}"),
        pod_list: Latency::of(list_lat),
        pod_list_items,
        pod_list_bytes,
        pod_get: Latency::of(get_lat),
        sim: sim_stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tick_histogram_and_gauges() {
        let t = "metrics_server_manager_tick_duration_seconds_bucket{le=\"+Inf\"} 3\n\
                 metrics_server_manager_tick_duration_seconds_sum 1.5\n\
                 metrics_server_manager_tick_duration_seconds_count 3\n\
                 metrics_server_storage_points{type=\"node\"} 50\n";
        assert_eq!(hist(t, TICK), (1.5, 3));
        assert_eq!(gauge(t, "metrics_server_storage_points{type=\"node\"}"), 50);
        assert_eq!(hist("", TICK), (0.0, 0));
    }

    #[test]
    fn groups_running_pods_by_node() {
        let list = json!({"items": [
            {"metadata": {"namespace": "a", "name": "p1"}, "spec": {"nodeName": "n1", "containers": [{"name": "c"}]}, "status": {"phase": "Running"}},
            {"metadata": {"namespace": "a", "name": "p2"}, "spec": {"nodeName": "n1", "containers": [{"name": "c"}]}, "status": {"phase": "Pending"}},
            {"metadata": {"namespace": "b", "name": "p3"}, "spec": {"nodeName": "n2", "containers": [{"name": "x"}, {"name": "y"}]}, "status": {"phase": "Running"}}
        ]});
        let m = running_pods(&list, SystemTime::UNIX_EPOCH);
        assert_eq!(m["n1"].len(), 1);
        assert_eq!(m["n2"][0].containers, ["x", "y"]);
        assert!(!m.contains_key("n3"));
    }
}
