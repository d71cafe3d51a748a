//! `kubestate demo`: one command, no cluster. kube-sim holds a synthetic cluster with churn and
//! simulated kubelets; kube-state-metrics runs against it and metrics-server runs behind kube-sim's
//! API aggregation, so `kubectl top` and Prometheus queries give real answers.
//! [`render`] is `kubestate sim render`: kube-state-metrics' output for a dump, once.

pub mod render;
pub use render::render_main;

use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Start a simulated cluster with kube-state-metrics and metrics-server attached.
#[derive(Debug, Clone, Parser)]
#[command(name = "kubestate demo", next_line_help = true, max_term_width = 80)]
pub struct Args {
    /// Address of the simulated API server.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub sim_listen: SocketAddr,
    /// kube-state-metrics metrics port.
    #[arg(long, default_value_t = 8080)]
    pub ksm_port: u16,
    /// kube-state-metrics telemetry port.
    #[arg(long, default_value_t = 8081)]
    pub ksm_telemetry_port: u16,
    /// metrics-server secure port (reached through the API server's aggregation).
    #[arg(long, default_value_t = 4443)]
    pub ms_port: u16,
    /// Number of nodes.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Pods per node.
    #[arg(long, default_value_t = 8)]
    pub pods_per_node: usize,
    /// Workload namespaces.
    #[arg(long, default_value_t = 3)]
    pub namespaces: usize,
    /// Changes per second (restarts, failures, pod replacements, scaling).
    #[arg(long, default_value_t = 0.5)]
    pub churn: f64,
    /// Seed of the generated cluster and its churn.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the kubeconfig and certificates go (default: a fresh temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Entry point of `kubestate demo`; `args[0]` is the program name.
pub fn demo_main(args: Vec<OsString>) -> ExitCode {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    // The embedded servers log only what goes wrong; the demo prints its own instructions.
    logging::init(logging::LogFormat::Text, "warn");
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo: starting runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args, logging::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Files the demo writes.
struct Paths {
    dir: PathBuf,
    kubeconfig: PathBuf,
    ca: PathBuf,
    /// The directory is a temporary one of ours, removed when the demo ends.
    temporary: bool,
}

impl Drop for Paths {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn prepare_dir(dir: Option<&Path>) -> anyhow::Result<Paths> {
    let (dir, temporary) = match dir {
        Some(d) => (d.to_path_buf(), false),
        None => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            (std::env::temp_dir().join(format!("kubestate-demo-{}-{nanos}", std::process::id())), true)
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(Paths { kubeconfig: dir.join("kubeconfig"), ca: dir.join("ca.crt"), temporary, dir })
}

/// Every port the demo listens on, with the flag that moves it; a port already taken fails the demo
/// before anything starts, naming that flag.
fn check_ports(a: &Args) -> anyhow::Result<()> {
    let ports = [
        (a.sim_listen, "--sim-listen"),
        (SocketAddr::from(([127, 0, 0, 1], a.ksm_port)), "--ksm-port"),
        (SocketAddr::from(([127, 0, 0, 1], a.ksm_telemetry_port)), "--ksm-telemetry-port"),
        (SocketAddr::from(([127, 0, 0, 1], a.ms_port)), "--ms-port"),
    ];
    for (i, (addr, flag)) in ports.iter().enumerate() {
        if let Some((_, other)) = ports[..i].iter().find(|(x, _)| x.port() == addr.port() && addr.port() != 0) {
            anyhow::bail!("{flag} and {other} both use port {}; give one of them another port", addr.port());
        }
        if let Err(e) = std::net::TcpListener::bind(addr) {
            anyhow::bail!("cannot listen on {addr} ({e}); choose another port with {flag}");
        }
    }
    Ok(())
}

/// Wait until something listens on each loopback port, or a server task ends first.
async fn wait_listening(ports: &[u16], tasks: &[&tokio::task::JoinHandle<anyhow::Result<()>>]) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    for &port in ports {
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if tasks.iter().any(|t| t.is_finished()) {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("nothing listens on 127.0.0.1:{port} after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// The synthetic cluster: a few failed jobs, a node that is not Ready, failed and pending pods,
/// restarts — what the printed queries look for.
fn sim_config(a: &Args, paths: &Paths) -> kube_sim::SimConfig {
    kube_sim::SimConfig {
        listen: a.sim_listen,
        cert_dir: Some(paths.dir.join("pki")),
        synthetic: Some(kube_sim::SyntheticConfig {
            nodes: a.nodes.max(1),
            pods_per_node: a.pods_per_node,
            namespaces: a.namespaces.max(1),
            not_ready_fraction: 0.34,
            jobs_per_namespace: 2,
            configmaps_per_namespace: 3,
        }),
        churn_per_sec: a.churn.max(0.0),
        seed: a.seed,
        kubelets: true,
        ..kube_sim::SimConfig::default()
    }
}

fn ms_args(a: &Args, paths: &Paths) -> Vec<OsString> {
    [
        "metrics-server".to_string(),
        format!("--kubeconfig={}", paths.kubeconfig.display()),
        format!("--secure-port={}", a.ms_port),
        "--bind-address=127.0.0.1".to_string(),
        format!("--cert-dir={}", paths.dir.join("metrics-server").display()),
        "--metric-resolution=15s".to_string(),
        "--kubelet-use-node-status-port".to_string(),
        "--kubelet-preferred-address-types=InternalIP".to_string(),
        format!("--kubelet-certificate-authority={}", paths.ca.display()),
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

fn ksm_args(a: &Args, paths: &Paths) -> Vec<OsString> {
    [
        "kube-state-metrics".to_string(),
        format!("--kubeconfig={}", paths.kubeconfig.display()),
        format!("--port={}", a.ksm_port),
        "--host=127.0.0.1".to_string(),
        format!("--telemetry-port={}", a.ksm_telemetry_port),
        "--telemetry-host=127.0.0.1".to_string(),
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

/// The Service and APIService that send metrics.k8s.io to the in-process metrics-server.
fn register_metrics_api(store: &kube_sim::Store, ms_port: u16) -> anyhow::Result<()> {
    store
        .create(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": {"k8s-app": "metrics-server"}},
            "spec": {"type": "ExternalName", "externalName": "127.0.0.1", "ports": [{"name": "https", "port": ms_port, "protocol": "TCP"}]}}))
        .context("creating Service kube-system/metrics-server")?;
    store
        .create(json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": {"k8s-app": "metrics-server"}},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
                "groupPriorityMinimum": 100, "versionPriority": 100,
                "service": {"namespace": "kube-system", "name": "metrics-server", "port": ms_port}}}))
        .context("creating APIService v1beta1.metrics.k8s.io")?;
    Ok(())
}

fn banner(a: &Args, sim_url: &str, paths: &Paths) -> String {
    let kc = paths.kubeconfig.display();
    let ksm = format!("http://127.0.0.1:{}", a.ksm_port);
    format!(
        "kubestate demo is running (Ctrl-C to stop)\n\n\
         Open in a browser:          {ksm}/  (the cluster at a glance, live)\n\n\
         API server (kube-sim):      {sim_url}\n\
         kube-state-metrics:         {ksm}/metrics\n\
         kube-state-metrics telemetry: http://127.0.0.1:{tel}/metrics\n\
         metrics-server:             https://127.0.0.1:{ms} (served as metrics.k8s.io through the API server)\n\
         kubeconfig:                 {kc}\n\n\
         Every server listens on 127.0.0.1 only. Pod and node usage (kubectl top) appears after\n\
         metrics-server's first scrape of the kubelets, about 15 s from now.\n\n\
         Try:\n\
         \x20 curl -s {ksm}/metrics | grep kube_pod_status_phase\n\
         \x20 kubectl --kubeconfig {kc} top nodes\n\
         \x20 kubectl --kubeconfig {kc} top pods -A\n\
         \x20 kubectl --kubeconfig {kc} get pods -A\n\n\
         PromQL, once Prometheus scrapes {ksm}/metrics (deploy/prometheus/prometheus-demo.yml\n\
         scrapes both ports and loads the alert rules: prometheus --config.file=deploy/prometheus/prometheus-demo.yml):\n\
         \x20 count(kube_configmap_created)\n\
         \x20 kube_job_status_failed == 1\n\
         \x20 kube_node_status_condition{{condition=\"Ready\",status!=\"true\"}} == 1\n\
         \x20 kube_pod_status_phase{{phase=~\"Failed|Unknown|Pending\"}} == 1\n\
         \x20 changes(kube_pod_container_status_restarts_total[30m]) > 0\n\
         \x20 count(kube_pod_container_state_started)\n",
        tel = a.ksm_telemetry_port,
        ms = a.ms_port,
    )
}

/// Run the demo until `shutdown` resolves, then stop everything.
pub async fn run(a: Args, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    check_ports(&a)?;
    let paths = prepare_dir(a.dir.as_deref())?;
    let ms_opts = metrics_server::Options::parse_args(ms_args(&a, &paths)).context("metrics-server options")?;
    let ksm_opts =
        state_metrics::options::Options::try_parse_from(ksm_args(&a, &paths)).context("kube-state-metrics options")?;
    let sim =
        kube_sim::start(sim_config(&a, &paths)).await.context("starting the simulated API server (--sim-listen)")?;
    sim.write_kubeconfig(&paths.kubeconfig)?;
    let ca = sim.ca_pem().context("the simulator serves without TLS")?;
    std::fs::write(&paths.ca, ca).with_context(|| format!("writing {}", paths.ca.display()))?;
    register_metrics_api(sim.store(), a.ms_port)?;
    sim.publish_extension_auth();

    let stop = CancellationToken::new();
    let ms_stop = stop.clone();
    let ms = tokio::spawn(async move { metrics_server::run(ms_opts, ms_stop.cancelled_owned()).await });
    let ksm_stop = stop.clone();
    let mut ksm = tokio::spawn(async move { state_metrics::engine::run(ksm_opts, ksm_stop.cancelled_owned()).await });
    let mut ms = ms;
    // "running" only once both servers listen; one that failed to start ends the demo first.
    wait_listening(&[a.ksm_port, a.ksm_telemetry_port, a.ms_port], &[&ms, &ksm]).await?;
    for (name, flag, task) in [("metrics-server", "--ms-port", &mut ms), ("kube-state-metrics", "--ksm-port", &mut ksm)]
    {
        if task.is_finished() {
            stop.cancel();
            sim.shutdown().await;
            return Err(match task.await {
                Ok(Err(e)) => e.context(format!("{name} failed to start (see {flag})")),
                _ => anyhow::anyhow!("{name} stopped as it started"),
            });
        }
    }
    println!("{}", banner(&a, &sim.url(), &paths));

    // A server that stops on its own (a port in use, say) ends the demo with its error.
    let failed = tokio::select! {
        _ = shutdown => None,
        r = wait_task(&stop, "metrics-server", ms) => Some(r),
        r = wait_task(&stop, "kube-state-metrics", ksm) => Some(r),
    };
    stop.cancel();
    // Servers finish their in-flight requests; do not let a stuck one hold the exit.
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.shutdown().await;
    match failed {
        Some(Err(e)) => Err(e),
        Some(Ok(())) => Err(anyhow::anyhow!("a server stopped unexpectedly")),
        None => Ok(()),
    }
}

async fn wait_task(
    stop: &CancellationToken,
    name: &str,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let r = task.await;
    if stop.is_cancelled() {
        return Ok(());
    }
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.context(format!("{name} failed"))),
        Err(e) => Err(anyhow::anyhow!("{name} panicked: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_server_flags() {
        let a = Args::try_parse_from(["demo"]).unwrap();
        assert_eq!(a.sim_listen, "127.0.0.1:6443".parse::<SocketAddr>().unwrap());
        assert_eq!((a.ksm_port, a.ksm_telemetry_port, a.ms_port), (8080, 8081, 4443));
        assert!(a.churn > 0.0 && a.churn <= 1.0);
        let a = Args::try_parse_from(["demo", "--ksm-port", "9090", "--ms-port", "9443", "--nodes", "2"]).unwrap();
        let paths =
            Paths { dir: "/d".into(), kubeconfig: "/d/kubeconfig".into(), ca: "/d/ca.crt".into(), temporary: false };
        let ms = metrics_server::Options::parse_args(ms_args(&a, &paths)).unwrap();
        assert_eq!(ms.secure_port, 9443);
        assert!(ms.kubelet_use_node_status_port);
        let ksm = state_metrics::options::Options::try_parse_from(ksm_args(&a, &paths)).unwrap();
        assert_eq!((ksm.port, ksm.telemetry_port, ksm.kubeconfig.as_str()), (9090, 8081, "/d/kubeconfig"));
        // Loopback only, as the banner says.
        assert_eq!((ksm.host.as_str(), ksm.telemetry_host.as_str()), ("127.0.0.1", "127.0.0.1"));
        let b = banner(&a, "https://127.0.0.1:6443", &paths);
        assert!(b.contains("kubectl --kubeconfig /d/kubeconfig top nodes"));
        assert!(b.contains("kube_node_status_condition{condition=\"Ready\",status!=\"true\"} == 1"));
        assert!(b.contains("about 15 s") && b.contains("deploy/prometheus/prometheus-demo.yml"), "{b}");
        assert!(b.contains("127.0.0.1 only"), "{b}");
        assert!(b.contains("Open in a browser:          http://127.0.0.1:9090/ "), "{b}");
        assert_eq!(demo_main(vec!["demo".into(), "--bogus".into()]), ExitCode::from(2));
    }
}

#[cfg(test)]
mod port_tests {
    use super::*;

    #[test]
    fn a_taken_port_is_refused_naming_its_flag() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut a = Args::try_parse_from(["demo"]).unwrap();
        a.sim_listen = SocketAddr::from(([127, 0, 0, 1], free()));
        (a.ksm_port, a.ksm_telemetry_port, a.ms_port) = (free(), port, free());
        let e = check_ports(&a).unwrap_err().to_string();
        assert!(e.contains("--ksm-telemetry-port") && e.contains(&port.to_string()), "{e}");
        a.ksm_telemetry_port = a.ms_port;
        let e = check_ports(&a).unwrap_err().to_string();
        assert!(e.contains("--ms-port and --ksm-telemetry-port"), "{e}");
        a.ksm_telemetry_port = free();
        check_ports(&a).unwrap();
    }

    #[test]
    fn a_temporary_directory_goes_with_the_demo_a_given_one_stays() {
        let p = prepare_dir(None).unwrap();
        let dir = p.dir.clone();
        std::fs::write(&p.kubeconfig, "x").unwrap();
        assert!(dir.exists());
        drop(p);
        assert!(!dir.exists());
        let given = std::env::temp_dir().join(format!("kubestate-demo-given-{}", std::process::id()));
        drop(prepare_dir(Some(&given)).unwrap());
        assert!(given.exists());
        std::fs::remove_dir_all(&given).unwrap();
    }
}
