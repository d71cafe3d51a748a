//! Protobuf against JSON: kube-state-metrics' start against the same simulated cluster answering each
//! encoding (bytes received, time and CPU to a full view, the simulator's CPU), and the decoders alone on
//! the simulator's pod list (bytes and nanoseconds per object).

use std::time::{Duration, Instant};

use crate::Config;
use crate::client::Plain;
use crate::procfs;
use crate::report::{DecodeReport, EncodingRun};
use crate::sim::{Proc, Scratch, Sim, SimOptions, free_port, ksm_args};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf, application/json";

/// The collections that hold nearly all of a synthetic cluster's objects.
const WARM: &[&str] = &[
    "/api/v1/pods",
    "/api/v1/nodes",
    "/api/v1/services",
    "/api/v1/endpoints",
    "/api/v1/configmaps",
    "/api/v1/secrets",
    "/api/v1/serviceaccounts",
    "/api/v1/persistentvolumeclaims",
    "/apis/apps/v1/replicasets",
    "/apis/apps/v1/deployments",
    "/apis/apps/v1/statefulsets",
    "/apis/apps/v1/daemonsets",
    "/apis/batch/v1/jobs",
    "/apis/discovery.k8s.io/v1/endpointslices",
    "/apis/coordination.k8s.io/v1/leases",
];

/// A real API server encodes protobuf natively; kube-sim transcodes each object from its JSON on the first
/// protobuf answer and keeps the result. Warming that cache makes a start measure what kube-state-metrics
/// costs, not the simulator's one-off transcoding.
pub(crate) async fn warm_protobuf(sim: &Sim) -> anyhow::Result<()> {
    for path in WARM {
        sim.api.get_ok(&format!("{path}?resourceVersion=0"), &[("accept", PROTOBUF)]).await?;
    }
    Ok(())
}

/// `cfg.starts` starts of kube-state-metrics, one after the other, against one simulator answering
/// `json_only` or protobuf.
pub async fn start(cfg: &Config, json_only: bool) -> anyhow::Result<EncodingRun> {
    let dir = Scratch::new(if json_only { "enc-json" } else { "enc-pb" })?;
    let nodes = cfg.pods.div_ceil(cfg.pods_per_node.max(1));
    let options = SimOptions { json_only, ..SimOptions::default() };
    let sim = Sim::start_with(&cfg.kubestate, &dir.0, nodes, cfg.pods_per_node, cfg.namespaces, options).await?;
    if !json_only {
        warm_protobuf(&sim).await?;
    }
    let encoding = if json_only { "json" } else { "protobuf" };
    let mut each = Vec::new();
    for _ in 0..cfg.starts.max(1) {
        each.push(one_start(cfg, &sim, &dir, encoding).await?);
    }
    Ok(EncodingRun::of(&each))
}

async fn one_start(cfg: &Config, sim: &Sim, dir: &Scratch, encoding: &str) -> anyhow::Result<EncodingRun> {
    sim.reset_requests().await?;
    let port = free_port()?;
    let args = ksm_args(&sim.kubeconfig, port, free_port()?);
    let sim_cpu = procfs::cpu_seconds(sim.proc.pid());
    let bin = cfg.ksm_binary.as_ref().unwrap_or(&cfg.kubestate);
    let mut ksm = Proc::spawn("kube-state-metrics", bin, &args, &dir.0)?;
    let http = Plain::new(format!("http://127.0.0.1:{port}"), None);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        ksm.check_alive()?;
        if let Ok(r) = http.get("/readyz", &[]).await
            && r.status == 200
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "kube-state-metrics not ready after 600 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready_seconds = ksm.started.elapsed().as_secs_f64();
    let ready_cpu_seconds = procfs::cpu_seconds(ksm.pid());
    let sim_cpu_seconds = procfs::cpu_seconds(sim.proc.pid()) - sim_cpu;
    let peak_rss_kib = procfs::mem(ksm.pid()).hwm_kib;
    let cost = sim.start_cost().await?.unwrap_or_default();
    let body = http.get_ok("/metrics?resources=pods", &[]).await?.body;
    let pods = body.split(|b| *b == b'\n').filter(|l| l.starts_with(b"kube_pod_info{")).count();
    // Stopped (and reaped, on drop) before the next one starts, with a moment for the machine to settle, so
    // that one start's exit never overlaps the next.
    drop(ksm);
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(EncodingRun {
        ready_cpu_seconds,
        sim_cpu_seconds,
        peak_rss_kib,
        bytes_received: cost.bytes.values().sum(),
        requests: cost.requests.values().sum(),
        pods,
        ..EncodingRun::one(encoding, ready_seconds)
    })
}

/// The items of a JSON list body, each encoded alone.
pub fn json_items(body: &[u8]) -> serde_json::Result<Vec<Vec<u8>>> {
    let list: serde_json::Value = serde_json::from_slice(body)?;
    list["items"].as_array().into_iter().flatten().map(serde_json::to_vec).collect()
}

/// The items of a protobuf list body (its `k8s\0` envelope opened), each its own message.
pub fn protobuf_items(body: &[u8]) -> Result<Vec<Vec<u8>>, kwire::WireError> {
    let env = kwire::open(body)?;
    let mut items = Vec::new();
    let mut r = kwire::Reader::new(env.raw);
    while let Some(f) = r.next()? {
        if let (2, kwire::Value::Bytes(b)) = (f.number, f.value) {
            items.push(b.to_vec());
        }
    }
    Ok(items)
}

/// The pod list of a simulator in both encodings, each item decoded `rounds` times: into the k8s-openapi
/// type from JSON (what kube-state-metrics did before projections), and into the projection from JSON
/// and from protobuf.
pub async fn decode(cfg: &Config, rounds: usize) -> anyhow::Result<DecodeReport> {
    let dir = Scratch::new("decode")?;
    let nodes = cfg.pods.div_ceil(cfg.pods_per_node.max(1));
    let sim = Sim::start(&cfg.kubestate, &dir.0, nodes, cfg.pods_per_node, cfg.namespaces).await?;
    let json = sim.api.get_ok("/api/v1/pods?resourceVersion=0", &[("accept", "application/json")]).await?.body;
    let pb = sim.api.get_ok("/api/v1/pods?resourceVersion=0", &[("accept", PROTOBUF)]).await?.body;
    // What plain curl receives (the server indents JSON for it): the size behind the 0.4× goal.
    let curl = [("accept", "application/json"), ("user-agent", "curl/8.5.0")];
    let indented = sim.api.get_ok("/api/v1/pods?resourceVersion=0", &curl).await?.body;
    // What client-go (upstream) receives: it asks the server to gzip (docs/compatibility.md §1 #22).
    let gzip = [("accept", PROTOBUF), ("accept-encoding", "gzip")];
    let gzipped = sim.api.get_ok("/api/v1/pods?resourceVersion=0", &gzip).await?.body;
    drop(sim);
    anyhow::ensure!(indented.len() > json.len(), "the simulator did not indent JSON for curl");
    anyhow::ensure!(gzipped.len() < pb.len(), "the simulator did not gzip for a client that asked");
    let json_items = json_items(&json)?;
    let pb_items = protobuf_items(&pb)?;
    anyhow::ensure!(!json_items.is_empty() && json_items.len() == pb_items.len(), "pod lists differ");
    let n = json_items.len();
    use state_metrics::proj::Message;
    use state_metrics::resources::pod::Pod;
    let time = |f: &dyn Fn() -> usize| {
        let start = procfs::thread_cpu_seconds();
        let mut kept = 0;
        for _ in 0..rounds {
            kept += f();
        }
        let secs = procfs::thread_cpu_seconds() - start;
        (secs * 1e9 / (rounds * n) as f64, kept)
    };
    let (legacy_json_ns, a) = time(&|| {
        json_items.iter().filter(|i| serde_json::from_slice::<k8s_openapi::api::core::v1::Pod>(i).is_ok()).count()
    });
    let (projection_json_ns, b) =
        time(&|| json_items.iter().filter(|i| serde_json::from_slice::<Pod>(i).is_ok()).count());
    let (projection_protobuf_ns, c) = time(&|| pb_items.iter().filter(|i| Pod::decode(i).is_ok()).count());
    anyhow::ensure!(a == b && b == c && c == rounds * n, "not every pod decoded ({a}, {b}, {c} of {})", rounds * n);
    Ok(DecodeReport {
        pods: n,
        json_bytes_per_object: json.len() as f64 / n as f64,
        indented_json_bytes_per_object: indented.len() as f64 / n as f64,
        gzip_protobuf_bytes_per_object: gzipped.len() as f64 / n as f64,
        protobuf_bytes_per_object: pb.len() as f64 / n as f64,
        legacy_json_ns,
        projection_json_ns,
        projection_protobuf_ns,
    })
}
