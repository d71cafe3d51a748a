//! Runs the whole benchmark in smoke mode, and the sharding comparison on a small cluster, against the
//! real `kubestate` binary and checks that every measurement came back and is plausible. Times are never
//! asserted: CI machines vary too much.

use std::path::PathBuf;
use std::process::Command;

/// The workspace's `kubestate` (debug) binary, built if it is not there yet.
fn kubestate() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let target = if target.is_absolute() { target } else { workspace.join(target) };
    let bin = target.join("debug").join(format!("kubestate{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--bin", "kubestate"])
            .current_dir(&workspace)
            .status()
            .expect("running cargo build --bin kubestate");
        assert!(status.success(), "cargo build --bin kubestate failed");
    }
    assert!(bin.is_file(), "no kubestate binary at {}", bin.display());
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_run_measures_everything() {
    let cfg = kubestate_bench::Config::smoke(kubestate());
    let r = kubestate_bench::run(&cfg).await.expect("benchmark ran");

    let k = r.ksm.as_ref().expect("kube-state-metrics measured");
    assert!(k.sim.pods >= 900, "synthetic cluster has the pods: {}", k.sim.pods);
    assert!(k.ready_seconds > 0.0);
    assert!(
        k.metrics_bytes > 100_000 && k.metrics_lines > 1000,
        "{} bytes, {} lines",
        k.metrics_bytes,
        k.metrics_lines
    );
    assert!(k.metrics_gzip_bytes > 0 && k.metrics_gzip_bytes < k.metrics_bytes, "gzip was applied");
    assert!(k.peak_rss_kib >= k.steady_rss_kib && k.steady_rss_kib > 1024);
    assert!(
        k.steady_anon_kib > 0 && k.steady_anon_kib <= k.steady_rss_kib,
        "{} of {}",
        k.steady_anon_kib,
        k.steady_rss_kib
    );
    for l in [&k.scrapes.plain_1, &k.scrapes.plain_n, &k.scrapes.gzip_1, &k.scrapes.gzip_n] {
        assert!(l.n >= cfg.scrapes && l.p50 > 0.0 && l.p99 >= l.p50, "{l:?}");
    }
    assert!(k.scrapes.cpu_seconds_per_plain_scrape >= 0.0 && k.plain_mb_per_second > 0.0);
    assert_eq!(k.event_to_metric.n, cfg.events, "every probe showed up: {} missed", k.events_missed);
    assert!(k.churn.writes > 0 && k.churn.write_errors == 0, "{:?}", k.churn);
    assert!(k.churn.rss_start_kib > 0 && k.churn.rss_end_kib > 0);
    assert!(k.sim.rss_kib > 0 && k.sim.initial_lists_bytes > k.metrics_bytes / 100);

    let d = r.decode.as_ref().expect("decoders timed");
    assert!(
        d.protobuf_bytes_per_object < d.json_bytes_per_object
            && d.json_bytes_per_object * 1.5 < d.indented_json_bytes_per_object
            && d.gzip_protobuf_bytes_per_object < d.protobuf_bytes_per_object,
        "{d:?}"
    );

    assert_eq!(r.ms.len(), 1);
    let m = &r.ms[0];
    assert_eq!(m.nodes, 50);
    assert!(m.pods > 0 && m.pod_list_items == m.pods, "{} pods, {} in the metrics API", m.pods, m.pod_list_items);
    assert_eq!(m.node_points, 50, "every node was scraped");
    assert!(m.container_points >= m.pods as u64);
    assert!(m.cycles >= 1 && m.cycle_seconds > 0.0);
    assert!(m.rss_kib > 1024 && m.rss_kib_per_node > 0.0);
    assert!(m.pod_get.n > 0 && m.pod_list.n > 0 && m.pod_list_bytes > 0);

    let text = kubestate_bench::report::render(&r);
    println!("{text}");
    assert!(text.contains("kube-state-metrics @") && text.contains("metrics-server ("));
    assert!(r.targets.len() >= 7, "targets judged: {}", r.targets.len());
}

/// The sharding comparison on a small cluster: every figure comes back, both modes partition the pods,
/// and the server-side shards received far less.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_client_side_and_server_side() {
    let cfg = kubestate_bench::Config {
        pods: 400,
        pods_per_node: 50,
        skip_ksm: true,
        encodings: false,
        ms_nodes: Vec::new(),
        shards: 4,
        ..kubestate_bench::Config::smoke(kubestate())
    };
    let r = kubestate_bench::run(&cfg).await.expect("benchmark ran");
    assert!(r.ksm.is_none() && r.ms.is_empty());
    let sh = r.shards.as_ref().expect("shards measured");
    assert_eq!(sh.shards, 4);
    assert!(sh.pods >= 400, "{} pods", sh.pods);
    let modes: Vec<&str> = sh.modes.iter().map(|m| m.mode.as_str()).collect();
    assert_eq!(modes, ["unsharded", "client", "server"]);
    for m in &sh.modes {
        assert_eq!(m.shards.len(), if m.mode == "unsharded" { 1 } else { 4 });
        assert_eq!(m.shards.iter().map(|s| s.pods).sum::<usize>(), sh.pods, "{}: every pod in one shard", m.mode);
        assert!(m.all_ready_seconds > 0.0 && m.sim_sent_bytes > 0);
        for s in &m.shards {
            assert_eq!(s.mode_in_effect, if m.mode == "unsharded" { "none" } else { &m.mode });
            assert!(s.pods > 0 && s.received_bytes > 0 && s.ready_cpu_seconds > 0.0, "{s:?}");
            assert!(s.peak_rss_kib >= s.steady_rss_kib && s.steady_rss_kib > 1024, "{s:?}");
            assert_eq!(s.sim_sent_bytes.is_some(), m.mode == "server");
        }
    }
    let received = |mode: usize| sh.modes[mode].shards.iter().map(|s| s.received_bytes).collect::<Vec<_>>();
    let least_client = *received(1).iter().min().unwrap();
    for (i, b) in received(2).into_iter().enumerate() {
        assert!(b * 2 < least_client, "server-side shard {i} received {b} bytes, a client-side one {least_client}");
    }
    let bytes_target = r.targets.iter().find(|t| t.name.starts_with("server-side shard bytes received"));
    assert!(bytes_target.is_some_and(|t| t.pass), "{:?}", r.targets);
    assert!(kubestate_bench::report::render(&r).contains("sharded kube-state-metrics @"));
}
