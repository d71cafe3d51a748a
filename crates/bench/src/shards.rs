//! Sharded kube-state-metrics, client-side against server-side: against one simulator with the
//! `ShardedListAndWatch` gate, first one unsharded instance (the reference), then `n` shards started
//! together with `--shard-mode=client` (every shard receives every object and keeps its own, as upstream)
//! and again with `--shard-mode=server` (the simulator sends each shard only its own). Per instance: time
//! and CPU to ready, peak and steady RSS, bytes received (its own telemetry) and what it serves; per
//! mode, what the simulator sent in all.

use std::time::{Duration, Instant};

use crate::Config;
use crate::client::Plain;
use crate::procfs;
use crate::report::{ShardModeRun, ShardRun, ShardsReport};
use crate::sim::{Proc, Scratch, Sim, SimOptions, free_port, ksm_args};
use state_metrics::shard::{Shard, Split};

pub async fn bench(cfg: &Config, shards: usize) -> anyhow::Result<ShardsReport> {
    let dir = Scratch::new("shards")?;
    let nodes = cfg.pods.div_ceil(cfg.pods_per_node.max(1));
    tracing::info!(pods = cfg.pods, shards, "starting kube-sim with ShardedListAndWatch");
    let options = SimOptions { sharded: true, ..SimOptions::default() };
    let mut sim = Sim::start_with(&cfg.kubestate, &dir.0, nodes, cfg.pods_per_node, cfg.namespaces, options).await?;
    let (stats, _) = sim.initial_lists().await?;
    let mut modes = Vec::new();
    for (mode, n) in [("unsharded", 1), ("client", shards), ("server", shards)] {
        sim.reset_requests().await?;
        modes.push(run_mode(cfg, &sim, &dir, n, mode).await?);
    }
    Ok(ShardsReport { shards, pods: stats.pods, modes })
}

struct Running {
    proc: Proc,
    http: Plain,
    telemetry: Plain,
}

async fn run_mode(cfg: &Config, sim: &Sim, dir: &Scratch, shards: usize, mode: &str) -> anyhow::Result<ShardModeRun> {
    tracing::info!(mode, shards, "starting the shards");
    let bin = cfg.ksm_binary.as_ref().unwrap_or(&cfg.kubestate);
    let mut running = Vec::new();
    for i in 0..shards {
        let (port, tport) = (free_port()?, free_port()?);
        let mut args = ksm_args(&sim.kubeconfig, port, tport);
        if mode != "unsharded" {
            args.extend([format!("--shard={i}"), format!("--total-shards={shards}"), format!("--shard-mode={mode}")]);
        }
        // A log of its own each.
        let log_dir = dir.0.join(format!("{mode}-{i}"));
        std::fs::create_dir_all(&log_dir)?;
        let proc = Proc::spawn("kube-state-metrics", bin, &args, &log_dir)?;
        running.push(Running {
            proc,
            http: Plain::new(format!("http://127.0.0.1:{port}"), None),
            telemetry: Plain::new(format!("http://127.0.0.1:{tport}"), None),
        });
    }
    let started = Instant::now();
    let mut ready = vec![None; shards];
    let deadline = started + Duration::from_secs(900);
    while ready.iter().any(Option::is_none) {
        for (i, r) in running.iter_mut().enumerate() {
            r.proc.check_alive()?;
            if ready[i].is_none()
                && let Ok(resp) = r.http.get("/readyz", &[]).await
                && resp.status == 200
            {
                ready[i] = Some((started.elapsed().as_secs_f64(), procfs::cpu_seconds(r.proc.pid())));
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "{mode}-mode shards not all ready after 900 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_ready_seconds = started.elapsed().as_secs_f64();
    let mut out = Vec::new();
    for (i, r) in running.iter().enumerate() {
        let body = r.http.get_ok("/metrics?resources=pods", &[]).await?.body;
        let pods = body.split(|b| *b == b'\n').filter(|l| l.starts_with(b"kube_pod_info{")).count();
        let (ready_seconds, ready_cpu_seconds) = ready[i].unwrap_or_default();
        out.push(ShardRun { index: i, ready_seconds, ready_cpu_seconds, pods, ..ShardRun::default() });
    }
    // Memory once the lists' buffers are gone and the first scrapes are over.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (s, r) in out.iter_mut().zip(&running) {
        let mem = procfs::mem(r.proc.pid());
        s.peak_rss_kib = mem.hwm_kib;
        s.steady_rss_kib = mem.rss_kib;
        let text = r.telemetry.get_ok("/metrics", &[]).await?.body;
        let text = String::from_utf8_lossy(&text);
        s.received_bytes = sum_of(&text, "kube_state_metrics_received_bytes_total") as u64;
        s.mode_in_effect = ["server", "client"]
            .into_iter()
            .find(|m| value_of(&text, &format!("kube_state_metrics_shard_mode{{mode=\"{m}\"}}")) == Some(1.0))
            .unwrap_or("none")
            .to_owned();
    }
    // What the simulator sent: in all, and to each shard by the range its requests carried.
    let records = sim.requests().await?;
    let sim_sent_bytes = records.iter().map(|r| r["bytes"].as_u64().unwrap_or(0)).sum();
    for s in &mut out {
        let range = Shard::new(s.index as u32, shards as u32).with_split(Split::Range).selector();
        let mine = records.iter().filter(|r| selector(r).is_some() && selector(r) == range);
        s.sim_sent_bytes = (mode == "server").then(|| mine.map(|r| r["bytes"].as_u64().unwrap_or(0)).sum());
    }
    Ok(ShardModeRun { mode: mode.into(), all_ready_seconds, sim_sent_bytes, shards: out })
}

/// The `shardSelector` of a request record, decoded.
fn selector(record: &serde_json::Value) -> Option<String> {
    let query = record["query"].as_str()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "shardSelector").map(|(_, v)| v.into_owned())
}

/// The sum of every sample of `family` in a text exposition.
fn sum_of(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| l.strip_prefix(family).is_some_and(|r| r.starts_with(['{', ' '])))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The value of the sample written exactly as `series` (name and labels).
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_from_telemetry_text() {
        let text = "# HELP x y\nkube_state_metrics_received_bytes_total{resource=\"pods\",request=\"list\"} 1.5e+06\n\
                    kube_state_metrics_received_bytes_total{resource=\"nodes\",request=\"watch\"} 12\n\
                    kube_state_metrics_received_bytes_total_other 7\n\
                    kube_state_metrics_shard_mode{mode=\"client\"} 0\nkube_state_metrics_shard_mode{mode=\"server\"} 1\n";
        assert_eq!(sum_of(text, "kube_state_metrics_received_bytes_total"), 1_500_012.0);
        assert_eq!(value_of(text, "kube_state_metrics_shard_mode{mode=\"server\"}"), Some(1.0));
        assert_eq!(value_of(text, "kube_state_metrics_shard_mode{mode=\"none\"}"), None);
    }
}
