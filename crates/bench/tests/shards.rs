//! The sharding comparison on a small cluster against the real (debug) `kubestate` binary: every figure
//! comes back, both modes partition the pods, and the server-side shards received far less. No time is
//! asserted.

use std::path::PathBuf;

fn kubestate() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let target = if target.is_absolute() { target } else { workspace.join(target) };
    let bin = target.join("debug").join(format!("kubestate{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--bin", "kubestate"])
            .current_dir(&workspace)
            .status()
            .expect("running cargo build --bin kubestate");
        assert!(status.success(), "cargo build --bin kubestate failed");
    }
    bin
}

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
    assert_eq!(modes, ["client", "server"]);
    for m in &sh.modes {
        assert_eq!(m.shards.len(), 4);
        assert_eq!(m.shards.iter().map(|s| s.pods).sum::<usize>(), sh.pods, "{}: every pod in one shard", m.mode);
        assert!(m.all_ready_seconds > 0.0 && m.sim_sent_bytes > 0);
        for s in &m.shards {
            assert_eq!(s.mode_in_effect, m.mode);
            assert!(s.pods > 0 && s.received_bytes > 0 && s.ready_cpu_seconds > 0.0, "{s:?}");
            assert!(s.peak_rss_kib >= s.steady_rss_kib && s.steady_rss_kib > 1024, "{s:?}");
            assert_eq!(s.sim_sent_bytes.is_some(), m.mode == "server");
        }
    }
    let received = |mode: usize| sh.modes[mode].shards.iter().map(|s| s.received_bytes).collect::<Vec<_>>();
    let least_client = *received(0).iter().min().unwrap();
    for (i, b) in received(1).into_iter().enumerate() {
        assert!(b * 2 < least_client, "server-side shard {i} received {b} bytes, a client-side one {least_client}");
    }
    let bytes_target = r.targets.iter().find(|t| t.name.starts_with("server-side shard bytes received"));
    assert!(bytes_target.is_some_and(|t| t.pass), "{:?}", r.targets);
    assert!(kubestate_bench::report::render(&r).contains("sharded kube-state-metrics @"));
}
