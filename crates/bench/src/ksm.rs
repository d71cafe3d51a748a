//! kube-state-metrics: readiness, memory, scrape latency and cost, event-to-metric latency, churn.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::Config;
use crate::client::Plain;
use crate::procfs;
use crate::report::{Churn, KsmReport, Latency, Scrapes};
use crate::sim::{Proc, Scratch, Sim, free_port, ksm_args};

const GZIP: &[(&str, &str)] = &[("accept-encoding", "gzip")];
const MERGE: &str = "application/merge-patch+json";

pub async fn bench(cfg: &Config) -> anyhow::Result<KsmReport> {
    let dir = Scratch::new("ksm")?;
    let nodes = cfg.pods.div_ceil(cfg.pods_per_node.max(1));
    tracing::info!(pods = cfg.pods, nodes, "starting kube-sim");
    let mut sim = Sim::start(&cfg.kubestate, &dir.0, nodes, cfg.pods_per_node, cfg.namespaces).await?;
    let (sim_stats, pod_list) = sim.initial_lists().await?;
    let pods: Vec<(String, String)> = pod_list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let m = &p["metadata"];
                    Some((m["namespace"].as_str()?.to_string(), m["name"].as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    drop(pod_list);
    crate::encoding::warm_protobuf(&sim).await?;
    // What kube-state-metrics asks for is counted from its start: forget the bench's own lists.
    sim.reset_requests().await?;

    let port = free_port()?;
    let mut args = ksm_args(&sim.kubeconfig, port, free_port()?);
    args.push("--enable-gzip-encoding".into());
    tracing::info!("starting kube-state-metrics");
    let sim_cpu_before = procfs::cpu_seconds(sim.proc.pid());
    let bin = cfg.ksm_binary.as_ref().unwrap_or(&cfg.kubestate);
    let mut ksm = Proc::spawn("kube-state-metrics", bin, &args, &dir.0)?;
    let http = Plain::new(format!("http://127.0.0.1:{port}"), None);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        ksm.check_alive()?;
        if let Ok(r) = http.get("/readyz", &[]).await
            && r.status == 200
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "kube-state-metrics not ready after 300 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready_seconds = ksm.started.elapsed().as_secs_f64();
    let pid = ksm.pid();
    // CPU seconds rather than wall time: they hold when the machine is busy with other work.
    let ready_cpu_seconds = procfs::cpu_seconds(pid);
    let sim_start_cpu_seconds = procfs::cpu_seconds(sim.proc.pid()) - sim_cpu_before;
    tracing::info!(ready_seconds, "kube-state-metrics ready");
    let start = sim.start_cost().await?;

    let first = http.get_ok("/metrics", &[]).await?;
    let full_view_pods = first.body.split(|b| *b == b'\n').filter(|l| l.starts_with(b"kube_pod_info{")).count();
    let metrics_bytes = first.body.len();
    let metrics_lines = first.body.iter().filter(|b| **b == b'\n').count();
    drop(first);
    let gz = http.get_ok("/metrics", GZIP).await?;
    let metrics_gzip_bytes = gz.body.len();
    drop(gz);

    let (plain_1, cpu_plain) = sequential(&http, pid, cfg.scrapes, &[]).await?;
    let plain_n = concurrent(&http, cfg.concurrency, cfg.scrapes, &[]).await?;
    let (gzip_1, cpu_gzip) = sequential(&http, pid, cfg.scrapes, GZIP).await?;
    let gzip_n = concurrent(&http, cfg.concurrency, cfg.scrapes, GZIP).await?;
    let scrapes = Scrapes {
        plain_1,
        plain_n,
        gzip_1,
        gzip_n,
        concurrency: cfg.concurrency,
        cpu_seconds_per_plain_scrape: cpu_plain,
        cpu_seconds_per_gzip_scrape: cpu_gzip,
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mem = procfs::mem(pid);
    tracing::info!("the overview page's cost");
    let overview = crate::overview::measure(&http, pid, cfg.scrapes).await?;
    let plain_mb_per_second =
        if scrapes.plain_1.p50 > 0.0 { metrics_bytes as f64 / scrapes.plain_1.p50 / 1e6 } else { 0.0 };

    tracing::info!(seconds = cfg.churn.as_secs(), "churn with event-to-metric probes");
    let rss_start_kib = procfs::mem(pid).rss_kib;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let churner =
        tokio::spawn(churn(sim.api.clone(), pods, cfg.churn_rate, stop.clone(), writes.clone(), errors.clone()));
    // A Prometheus-like full scrape every 5 s keeps the scrape path in the picture while objects change.
    let scraper = {
        let http = http.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = http.get_len("/metrics", &[]).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };
    let churn_start = Instant::now();
    let mut samples = Vec::new();
    let mut missed = 0;
    for i in 0..cfg.events {
        match probe(&sim.api, &http, i).await? {
            Some(d) => samples.push(d.as_secs_f64()),
            None => missed += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(rest) = cfg.churn.checked_sub(churn_start.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = churner.await;
    let _ = scraper.await;
    let churn_seconds = churn_start.elapsed().as_secs_f64();
    ksm.check_alive()?;
    let end = procfs::mem(pid);
    let mut sim_stats = sim_stats;
    let sim_mem = sim.mem();
    sim_stats.rss_kib = sim_mem.rss_kib;
    sim_stats.hwm_kib = sim_mem.hwm_kib;
    sim.proc.check_alive()?;

    Ok(KsmReport {
        ready_seconds,
        full_view_pods,
        ready_cpu_seconds,
        sim_start_cpu_seconds,
        start,
        peak_rss_kib: mem.hwm_kib,
        steady_rss_kib: mem.rss_kib,
        steady_anon_kib: mem.anon_kib,
        metrics_bytes,
        metrics_lines,
        metrics_gzip_bytes,
        scrapes,
        plain_mb_per_second,
        event_to_metric: Latency::of(samples),
        events_missed: missed,
        churn: Churn {
            seconds: churn_seconds,
            writes: writes.load(Ordering::Relaxed),
            write_errors: errors.load(Ordering::Relaxed),
            rss_start_kib,
            rss_end_kib: end.rss_kib,
            hwm_end_kib: end.hwm_kib,
        },
        sim: sim_stats,
        overview,
    })
}

/// `n` scrapes one after the other; latencies and the server's CPU seconds per scrape.
pub(crate) async fn sequential(
    http: &Plain,
    pid: u32,
    n: usize,
    headers: &[(&str, &str)],
) -> anyhow::Result<(Latency, f64)> {
    let cpu0 = procfs::cpu_seconds(pid);
    let lat = http.times(n.max(1), "/metrics", headers).await?;
    let cpu = (procfs::cpu_seconds(pid) - cpu0) / lat.len() as f64;
    Ok((Latency::of(lat), cpu))
}

/// `scrapers` clients scraping at once, `n` scrapes in all (at least one each).
async fn concurrent(http: &Plain, scrapers: usize, n: usize, headers: &[(&str, &str)]) -> anyhow::Result<Latency> {
    let scrapers = scrapers.max(1);
    let each = n.div_ceil(scrapers).max(1);
    let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..scrapers {
        let http = http.clone();
        let headers = headers.clone();
        set.spawn(async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            http.times(each, "/metrics", &h).await
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r??);
    }
    Ok(Latency::of(all))
}

/// Creates a ConfigMap and polls a filtered scrape until its info series shows up (10 s at most).
async fn probe(api: &Plain, http: &Plain, i: usize) -> anyhow::Result<Option<Duration>> {
    let name = format!("bench-probe-{i}-{}", std::process::id());
    let needle = format!("configmap=\"{name}\"");
    let start = Instant::now();
    api.send_json(
        http::Method::POST,
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"probe": i.to_string()}}),
    )
    .await?;
    while start.elapsed() < Duration::from_secs(10) {
        let r = http.get_ok("/metrics?resources=configmaps", &[]).await?;
        if memfind(&r.body, needle.as_bytes()) {
            return Ok(Some(start.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(None)
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// API writes at `rate` per second until stopped: ConfigMaps created and deleted again (a sliding
/// window of 100, so the object count stays flat) and pod label patches.
async fn churn(
    api: Plain,
    pods: Vec<(String, String)>,
    rate: f64,
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) {
    const WINDOW: u64 = 100;
    let period = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut i: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let cm = |k: u64| format!("bench-churn-{k}");
        let res = match i % 3 {
            0 => {
                let k = i / 3;
                api.send_json(
                    http::Method::POST,
                    "/api/v1/namespaces/default/configmaps",
                    "application/json",
                    &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm(k), "namespace": "default", "labels": {"bench": "churn"}}, "data": {"n": k.to_string()}}),
                )
                .await
            }
            1 if !pods.is_empty() => {
                let (ns, name) = &pods[(i / 3) as usize % pods.len()];
                api.send_json(
                    http::Method::PATCH,
                    &format!("/api/v1/namespaces/{ns}/pods/{name}"),
                    MERGE,
                    &json!({"metadata": {"labels": {"bench-churn": (i % 1000).to_string()}}}),
                )
                .await
            }
            _ => {
                let k = i / 3;
                if k >= WINDOW {
                    api.request(
                        http::Method::DELETE,
                        &format!("/api/v1/namespaces/default/configmaps/{}", cm(k - WINDOW)),
                        &[],
                        None,
                    )
                    .await
                    .and_then(|r| {
                        anyhow::ensure!(r.status < 300, "delete: status {}", r.status);
                        Ok(r)
                    })
                } else {
                    i += 1;
                    continue;
                }
            }
        };
        match res {
            Ok(_) => writes.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                tracing::debug!("churn write failed: {e:#}");
                errors.fetch_add(1, Ordering::Relaxed)
            }
        };
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::memfind;

    #[test]
    fn finds_series() {
        assert!(memfind(b"kube_configmap_info{namespace=\"d\",configmap=\"x\"} 1", b"configmap=\"x\""));
        assert!(!memfind(b"configmap=\"xy\"", b"configmap=\"x\""));
        assert!(!memfind(b"abc", b""));
    }
}
