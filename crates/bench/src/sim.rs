//! Child processes: kube-sim and the servers under test, each killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::client::Plain;
use crate::procfs;
use crate::report::SimStats;

pub const TOKEN: &str = "kubestate-bench-token";

/// The list calls a freshly started informer-based server makes, cluster-wide.
const LISTS: &[&str] = &[
    "/api/v1/pods",
    "/api/v1/nodes",
    "/api/v1/namespaces",
    "/api/v1/services",
    "/api/v1/configmaps",
    "/api/v1/secrets",
    "/apis/apps/v1/deployments",
    "/apis/apps/v1/replicasets",
    "/apis/discovery.k8s.io/v1/endpointslices",
];

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> anyhow::Result<Scratch> {
        let p = std::env::temp_dir().join(format!("kubestate-bench-{tag}-{}-{}", std::process::id(), free_port()?));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free port on 127.0.0.1 for a child to listen on. Taken from below the kernel's ephemeral range
/// (32768 and up): a port from `bind(0)` can be taken by some process's outgoing connection before the
/// child binds it, which happens when several servers start at once. Each port is handed out once per
/// bench process; the process id picks a block of 200 in 10000..20000 (the end-to-end tests use
/// 20000 and up).
pub fn free_port() -> anyhow::Result<u16> {
    static HANDED_OUT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let block = 10_000 + (std::process::id() % 50) as u16 * 200;
    (0..200)
        .map(|_| block + HANDED_OUT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 200)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| anyhow::anyhow!("no free port in {block}..{}", block + 200))
}

/// A child process whose stderr goes to a log file; killed on drop.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
    pub log: PathBuf,
    pub started: Instant,
}

impl Proc {
    pub fn spawn(name: &'static str, bin: &Path, args: &[String], log_dir: &Path) -> anyhow::Result<Proc> {
        let log = log_dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log)?;
        let started = Instant::now();
        let child = Command::new(bin)
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("spawning {} {name}", bin.display()))?;
        Ok(Proc { child, name, log, started })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Errors out, with the log's tail, if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow::bail!("{} exited with {status}; log tail:\n{}", self.name, tail.join("\n"));
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `kubestate sim --help` lists `flag` (newer simulators grew options older ones reject).
fn supports_flag(bin: &Path, flag: &str) -> bool {
    Command::new(bin)
        .args(["sim", "--help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().any(|w| w == flag))
        .unwrap_or(false)
}

/// How the simulator answers, beyond the cluster it holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimOptions {
    /// JSON even to clients that prefer protobuf.
    pub json_only: bool,
    /// The `ShardedListAndWatch` feature gate: lists and watches honour `shardSelector`.
    pub sharded: bool,
}

/// The arguments that start kube-state-metrics against `kubeconfig`, serving on loopback `port` and
/// `telemetry_port`.
pub fn ksm_args(kubeconfig: &Path, port: u16, telemetry_port: u16) -> Vec<String> {
    vec![
        "kube-state-metrics".to_string(),
        format!("--kubeconfig={}", kubeconfig.display()),
        "--host=127.0.0.1".into(),
        format!("--port={port}"),
        "--telemetry-host=127.0.0.1".into(),
        format!("--telemetry-port={telemetry_port}"),
    ]
}

/// A kube-sim process serving plain HTTP with a synthetic cluster.
pub struct Sim {
    pub proc: Proc,
    pub api: Plain,
    pub kubeconfig: PathBuf,
    /// The simulator's admin routes (request accounting), where it has them.
    pub admin: Option<Plain>,
}

impl Sim {
    pub async fn start(
        bin: &Path,
        dir: &Path,
        nodes: usize,
        pods_per_node: usize,
        namespaces: usize,
    ) -> anyhow::Result<Sim> {
        Self::start_with(bin, dir, nodes, pods_per_node, namespaces, SimOptions::default()).await
    }

    /// [`Sim::start`] with the simulator's `options`.
    pub async fn start_with(
        bin: &Path,
        dir: &Path,
        nodes: usize,
        pods_per_node: usize,
        namespaces: usize,
        options: SimOptions,
    ) -> anyhow::Result<Sim> {
        let SimOptions { json_only, sharded } = options;
        let port = free_port()?;
        let kubeconfig = dir.join("kubeconfig");
        let args: Vec<String> = vec![
            "sim".into(),
            format!("--listen=127.0.0.1:{port}"),
            "--plain-http".into(),
            format!("--token={TOKEN}"),
            format!("--kubeconfig-out={}", kubeconfig.display()),
            format!("--nodes={}", nodes.max(1)),
            format!("--pods-per-node={pods_per_node}"),
            format!("--namespaces={}", namespaces.max(1)),
            "--seed=1".into(),
            // Long enough that the bench's own churn never makes informers relist.
            "--event-window=200000".into(),
        ];
        let mut args = args;
        if supports_flag(bin, "--no-kubelets") {
            // The bench hosts its own kubelets (metrics-server) or none (kube-state-metrics), so the
            // simulator's RSS and CPU stay its own.
            args.push("--no-kubelets".into());
        }
        if json_only {
            anyhow::ensure!(supports_flag(bin, "--json-only"), "this kube-sim cannot answer JSON only");
            args.push("--json-only".into());
        }
        if sharded {
            anyhow::ensure!(supports_flag(bin, "--feature-gates"), "this kube-sim cannot shard lists");
            args.push("--feature-gates=ShardedListAndWatch=true".into());
        }
        let admin = if supports_flag(bin, "--admin-address") {
            let p = free_port()?;
            args.push(format!("--admin-address=127.0.0.1:{p}"));
            Some(Plain::new(format!("http://127.0.0.1:{p}"), None))
        } else {
            None
        };
        let mut proc = Proc::spawn("kube-sim", bin, &args, dir)?;
        let api = Plain::new(format!("http://127.0.0.1:{port}"), Some(TOKEN.into()));
        // Generating a synthetic cluster takes kube-sim more than linear time: about 1 minute at 20,000
        // pods and 4 at 40,000 on the 2-core machine of BENCHMARKS.md, so 100,000 need well over 10.
        let deadline = Instant::now() + Duration::from_secs(2700);
        loop {
            proc.check_alive()?;
            if kubeconfig.is_file()
                && let Ok(r) = api.get("/api/v1/namespaces/default", &[]).await
                && r.status == 200
            {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "kube-sim did not come up within 45 minutes");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Sim { proc, api, kubeconfig, admin })
    }

    /// Forgets the requests seen so far (the bench's own lists), where the simulator keeps count.
    pub async fn reset_requests(&self) -> anyhow::Result<()> {
        if let Some(a) = &self.admin {
            a.post_ok("/requests/reset").await?;
        }
        Ok(())
    }

    /// The request records since the last reset (empty without accounting).
    pub async fn requests(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let Some(a) = &self.admin else { return Ok(Vec::new()) };
        let r = a.get_ok("/requests", &[]).await?;
        let v: serde_json::Value = serde_json::from_slice(&r.body).context("decoding /requests")?;
        Ok(v["requests"].as_array().cloned().unwrap_or_default())
    }

    /// What clients asked for since the last reset, by kind of request; `None` without accounting.
    pub async fn start_cost(&self) -> anyhow::Result<Option<crate::report::StartCost>> {
        if self.admin.is_none() {
            return Ok(None);
        }
        Ok(Some(crate::report::StartCost::of(&self.requests().await?)))
    }

    /// Times the initial lists, one after the other (an upper bound on what parallel informers wait).
    pub async fn initial_lists(&mut self) -> anyhow::Result<(SimStats, serde_json::Value)> {
        let mut total = Duration::ZERO;
        let mut bytes = 0usize;
        let mut pods = serde_json::Value::Null;
        let mut pods_list_seconds = 0.0;
        for path in LISTS {
            let r = self.api.get_ok(path, &[]).await?;
            total += r.elapsed;
            bytes += r.body.len();
            if *path == "/api/v1/pods" {
                pods_list_seconds = r.elapsed.as_secs_f64();
                pods = serde_json::from_slice(&r.body).context("decoding the pod list")?;
            }
        }
        let n = pods["items"].as_array().map_or(0, |a| a.len());
        let mem = procfs::mem(self.proc.pid());
        let stats = SimStats {
            pods: n,
            initial_lists_seconds: total.as_secs_f64(),
            initial_lists_bytes: bytes,
            pods_list_seconds,
            rss_kib: mem.rss_kib,
            hwm_kib: mem.hwm_kib,
        };
        Ok((stats, pods))
    }

    /// kube-sim's memory now (for the report's "is the simulator the bottleneck" line).
    pub fn mem(&self) -> procfs::Mem {
        procfs::mem(self.proc.pid())
    }
}
