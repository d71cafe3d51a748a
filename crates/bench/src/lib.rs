//! Benchmarks of the `kubestate` binary at scale: kube-sim, kube-state-metrics and metrics-server run as
//! separate processes on this machine; the bench drives them over HTTP and reads their resource usage
//! from /proc. [`run`] is the whole benchmark; `kubestate-bench` is its command line.

pub mod client;
pub mod procfs;
pub mod report;
pub mod scaling;

mod encoding;
mod ksm;
mod ms;
mod overview;
mod shards;
mod sim;
mod top;

use std::path::PathBuf;
use std::time::Duration;

pub use encoding::{json_items, protobuf_items};
pub use report::{Report, Target};

/// What to measure and how hard.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `kubestate` binary (kube-sim, kube-state-metrics and metrics-server).
    pub kubestate: PathBuf,
    /// Another binary for kube-state-metrics alone (an older build, against the same simulator).
    pub ksm_binary: Option<PathBuf>,
    /// Another binary for metrics-server alone, against the simulator and kubelets of `kubestate`.
    pub ms_binary: Option<PathBuf>,
    /// Pods in the kube-state-metrics cluster (deployments, replicasets, services... follow from it).
    pub pods: usize,
    pub pods_per_node: usize,
    pub namespaces: usize,
    /// Sequential scrapes per mode; the concurrent runs do `scrapes` per scraper split over them.
    pub scrapes: usize,
    pub concurrency: usize,
    /// Event-to-metric probes.
    pub events: usize,
    pub churn: Duration,
    /// API writes per second during the churn period.
    pub churn_rate: f64,
    /// metrics-server cluster sizes (nodes); empty skips metrics-server.
    pub ms_nodes: Vec<usize>,
    pub ms_pods_per_node: usize,
    pub ms_resolution: Duration,
    /// Full scrape cycles measured after the first one completed.
    pub ms_cycles: u64,
    pub skip_ksm: bool,
    /// Also start kube-state-metrics against a JSON-only simulator and time the decoders alone.
    pub encodings: bool,
    /// Starts of kube-state-metrics per encoding, against one warmed simulator (their median is the
    /// figure: one start varies by a third from one to the next on a shared machine).
    pub starts: usize,
    /// Pods for the `kubectl top pods -A` run through kube-sim's aggregation (0 skips it; needs kubectl).
    pub top_pods: usize,
    /// Shards for the client-side against server-side sharding comparison at `pods` (0 skips it).
    pub shards: usize,
}

impl Config {
    /// The manual run's defaults (10,000 pods; metrics-server at 100 and 1,000 nodes).
    pub fn full(kubestate: PathBuf) -> Self {
        Config {
            kubestate,
            ksm_binary: None,
            ms_binary: None,
            encodings: true,
            starts: 9,
            pods: 10_000,
            pods_per_node: 100,
            namespaces: 20,
            scrapes: 20,
            concurrency: 8,
            events: 50,
            churn: Duration::from_secs(60),
            churn_rate: 30.0,
            ms_nodes: vec![100, 1000],
            ms_pods_per_node: 30,
            ms_resolution: Duration::from_secs(15),
            ms_cycles: 2,
            skip_ksm: false,
            top_pods: 0,
            shards: 0,
        }
    }

    /// Small and short, for CI: every field gets measured, none of it is a meaningful figure.
    pub fn smoke(kubestate: PathBuf) -> Self {
        Config {
            pods: 1000,
            pods_per_node: 50,
            namespaces: 5,
            scrapes: 3,
            concurrency: 8,
            events: 5,
            churn: Duration::from_secs(3),
            churn_rate: 20.0,
            ms_nodes: vec![50],
            ms_resolution: Duration::from_secs(10),
            ms_cycles: 1,
            starts: 1,
            ..Config::full(kubestate)
        }
    }
}

/// Runs every configured measurement and evaluates the targets. Fails only if something could not run.
pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    anyhow::ensure!(cfg.kubestate.is_file(), "kubestate binary not found at {}", cfg.kubestate.display());
    let (cores, cpu_model) = procfs::machine();
    let ksm = if cfg.skip_ksm { None } else { Some(ksm::bench(cfg).await?) };
    let (encodings, decode) = if cfg.skip_ksm || !cfg.encodings {
        (Vec::new(), None)
    } else {
        tracing::info!("kube-state-metrics' start with protobuf and with JSON");
        let runs = vec![encoding::start(cfg, false).await?, encoding::start(cfg, true).await?];
        tracing::info!("decoding the pod list");
        let rounds = (200_000 / cfg.pods.max(1)).clamp(3, 50);
        (runs, Some(encoding::decode(cfg, rounds).await?))
    };
    let mut ms = Vec::new();
    for &n in &cfg.ms_nodes {
        ms.push(ms::bench(cfg, n).await?);
    }
    let top = if cfg.top_pods > 0 { Some(top::bench(cfg, cfg.top_pods).await?) } else { None };
    let shards = if cfg.shards > 1 { Some(shards::bench(cfg, cfg.shards).await?) } else { None };
    let mut r = Report {
        cores,
        cpu_model,
        pods: cfg.pods,
        churn_seconds: cfg.churn.as_secs_f64(),
        ms_resolution_seconds: cfg.ms_resolution.as_secs_f64(),
        ksm,
        encodings,
        decode,
        ms,
        top,
        shards,
        targets: Vec::new(),
    };
    r.targets = report::targets(&r);
    Ok(r)
}
