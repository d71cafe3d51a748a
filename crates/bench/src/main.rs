//! `kubestate-bench`: runs the benchmark, prints the table and writes the JSON report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kubestate_bench::{Config, report};

/// Benchmarks kube-state-metrics and metrics-server (the `kubestate` binary) against kube-sim.
/// Build the servers first: `cargo build --release` (`--profile profiling` keeps line tables for perf).
#[derive(Debug, Parser)]
#[command(name = "kubestate-bench")]
struct Args {
    /// The kubestate binary (default: next to this executable).
    #[arg(long)]
    kubestate: Option<PathBuf>,
    /// Run kube-state-metrics from this binary instead (e.g. an older build), against the simulator of
    /// `--kubestate`.
    #[arg(long)]
    ksm_binary: Option<PathBuf>,
    /// Run metrics-server from this binary instead (e.g. an older build), against the simulator of
    /// `--kubestate`.
    #[arg(long)]
    ms_binary: Option<PathBuf>,
    /// Small and short, for CI (1,000 pods, metrics-server at 50 nodes).
    #[arg(long)]
    smoke: bool,
    /// Pods in the kube-state-metrics cluster.
    #[arg(long)]
    pods: Option<usize>,
    #[arg(long)]
    pods_per_node: Option<usize>,
    #[arg(long)]
    namespaces: Option<usize>,
    /// Scrapes per mode.
    #[arg(long)]
    scrapes: Option<usize>,
    /// Concurrent scrapers in the concurrent runs.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Event-to-metric probes.
    #[arg(long)]
    events: Option<usize>,
    /// Length of the churn period in seconds.
    #[arg(long)]
    churn_seconds: Option<u64>,
    /// API writes per second during churn.
    #[arg(long)]
    churn_rate: Option<f64>,
    /// metrics-server cluster sizes in nodes, comma separated ("" or "0" skips metrics-server).
    #[arg(long, value_delimiter = ',')]
    ms_nodes: Option<Vec<usize>>,
    #[arg(long)]
    ms_pods_per_node: Option<usize>,
    /// metrics-server --metric-resolution in seconds (at least 10).
    #[arg(long)]
    ms_resolution: Option<u64>,
    /// Cycles measured per metrics-server size.
    #[arg(long)]
    ms_cycles: Option<u64>,
    /// Skip kube-state-metrics.
    #[arg(long)]
    skip_ksm: bool,
    /// Skip the protobuf-against-JSON comparison (more starts and the decoder timings).
    #[arg(long)]
    skip_encodings: bool,
    /// Starts of kube-state-metrics per encoding in that comparison, one after the other against the same
    /// simulator; the report gives their median, range and how many met the goal (9; smoke runs 1).
    #[arg(long)]
    starts: Option<usize>,
    /// Time `kubectl top pods -A` (protobuf and JSON) at this many pods through kube-sim's aggregation
    /// (needs kubectl; 0 skips).
    #[arg(long)]
    top_pods: Option<usize>,
    /// Also start this many kube-state-metrics shards together at --pods, once dividing objects
    /// client-side and once server-side (KEP-5866), and compare each shard's cost (0 or 1 skips).
    #[arg(long)]
    shards: Option<usize>,
    /// Instead of running, compare the JSON reports of earlier runs at different pod counts: each
    /// figure's median per size and how fast it grows with the cluster (exponent 1 = linear).
    #[arg(long, num_args = 1.., value_name = "REPORT.json")]
    scaling: Vec<PathBuf>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-results/latest.json")]
    out: PathBuf,
}

fn config(a: &Args) -> anyhow::Result<Config> {
    let kubestate = match &a.kubestate {
        Some(p) => p.clone(),
        None => {
            let me = std::env::current_exe()?;
            let dir = me.parent().ok_or_else(|| anyhow::anyhow!("{} has no directory", me.display()))?;
            dir.join(format!("kubestate{}", std::env::consts::EXE_SUFFIX))
        }
    };
    let mut c = if a.smoke { Config::smoke(kubestate) } else { Config::full(kubestate) };
    macro_rules! set {
        ($($f:ident),*) => { $(if let Some(v) = a.$f { c.$f = v; })* };
    }
    set!(
        pods,
        pods_per_node,
        namespaces,
        scrapes,
        concurrency,
        events,
        churn_rate,
        ms_pods_per_node,
        ms_cycles,
        top_pods,
        shards,
        starts
    );
    if let Some(s) = a.churn_seconds {
        c.churn = Duration::from_secs(s);
    }
    if let Some(s) = a.ms_resolution {
        c.ms_resolution = Duration::from_secs(s);
    }
    if let Some(n) = &a.ms_nodes {
        c.ms_nodes = n.iter().copied().filter(|n| *n > 0).collect();
    }
    c.skip_ksm = a.skip_ksm;
    c.encodings = !a.skip_encodings;
    c.ksm_binary = a.ksm_binary.clone();
    c.ms_binary = a.ms_binary.clone();
    Ok(c)
}

#[tokio::main]
async fn main() -> ExitCode {
    logging::init(logging::LogFormat::Text, "kubestate_bench=info");
    let args = Args::parse();
    if !args.scaling.is_empty() {
        return scaling(&args.scaling);
    }
    let result = async {
        let cfg = config(&args)?;
        let r = kubestate_bench::run(&cfg).await?;
        print!("{}", report::render(&r));
        if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&args.out, serde_json::to_string_pretty(&r)?)?;
        println!("\nJSON written to {}", args.out.display());
        anyhow::Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubestate-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn scaling(paths: &[PathBuf]) -> ExitCode {
    let mut reports = Vec::new();
    for p in paths {
        match std::fs::read(p).map_err(anyhow::Error::from).and_then(|b| Ok(serde_json::from_slice(&b)?)) {
            Ok(v) => reports.push(v),
            Err(e) => {
                eprintln!("kubestate-bench: {}: {e:#}", p.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let pairs = kubestate_bench::scaling::compare(&reports);
    print!("{}", kubestate_bench::scaling::render(&pairs, reports.len()));
    if pairs.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
