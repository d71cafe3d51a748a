//! Long fault tests: the real `kubestate kube-state-metrics` binary against kube-sim while the simulator
//! cuts watches, expires its event window, fails requests, answers slowly or is not there at all — and the
//! cluster keeps changing. Once the faults stop, the instance must serve exactly what a fresh instance
//! serves for the same cluster (same series, same values), with its memory back near where it started.
//!
//! The churn runs for `KUBESTATE_FAULT_SECONDS` (default 60; the shorter tests take a fraction of it), so a
//! soak is `KUBESTATE_FAULT_SECONDS=600 cargo test --test ksm_faults`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Cluster, Ksm, eventually, rss_kib, try_get};

/// The namespace the churn works in.
const NS: &str = "churn";

/// Kinds the churn creates, changes and deletes.
const KINDS: &[(&str, &str)] =
    &[("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Pod"), ("apps/v1", "Deployment"), ("v1", "Service")];

/// Names per kind: the churn cycles through a fixed pool, so the cluster (and the exporter's memory)
/// stays the same size however long it runs.
const POOL: u64 = 8;

/// Resources of the shorter tests: everything the churn touches plus cluster-scoped and synthetic ones.
const RESOURCES: &str = "--resources=namespaces,nodes,pods,configmaps,secrets,deployments,replicasets,services";

/// Labels are allowlisted so that label-only updates change series too.
const LABELS: &str = "--metric-labels-allowlist=*=[*]";

fn fault_time(fraction: f64) -> Duration {
    let total: f64 = std::env::var("KUBESTATE_FAULT_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    Duration::from_secs_f64((total * fraction).max(5.0))
}

/// A small synthetic cluster (no kubelets) plus the churn namespace.
async fn cluster(seed: u64) -> Cluster {
    let cfg = kube_sim::SimConfig {
        kubelets: false,
        seed,
        synthetic: Some(kube_sim::SyntheticConfig { nodes: 3, pods_per_node: 6, namespaces: 2, ..Default::default() }),
        ..Default::default()
    };
    Cluster::start_with(cfg, &[json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})]).await
}

fn new_object(kind: &str, name: &str, step: u64) -> Value {
    let meta = json!({"name": name, "namespace": NS, "labels": {"app": name, "step": step.to_string()}});
    match kind {
        "ConfigMap" => json!({"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"k": step.to_string()}}),
        "Secret" => {
            json!({"apiVersion": "v1", "kind": kind, "metadata": meta, "type": "Opaque", "data": {"k": "dg=="}})
        }
        "Pod" => json!({
            "apiVersion": "v1", "kind": kind, "metadata": meta,
            "spec": {"nodeName": "node-0", "containers": [{"name": "c", "image": format!("img:{step}")}]},
            "status": {"phase": "Running"}
        }),
        "Deployment" => json!({
            "apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {
                "replicas": step % 4,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "img"}]}}
            }
        }),
        _ => json!({
            "apiVersion": "v1", "kind": kind, "metadata": meta,
            "spec": {"type": "ClusterIP", "selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]}
        }),
    }
}

/// One change: create the next pool member if absent, otherwise update it (two times in three) or
/// delete it. Every update moves a label, so it shows in the scrape.
fn churn_step(c: &Cluster, step: u64) {
    let (api, kind) = KINDS[(step % KINDS.len() as u64) as usize];
    let name = format!("{}-{}", kind.to_ascii_lowercase(), (step / KINDS.len() as u64) % POOL);
    let store = c.sim.store();
    match store.get(api, kind, Some(NS), &name) {
        None => {
            store.create(new_object(kind, &name, step)).unwrap_or_else(|e| panic!("create {kind} {name}: {e:?}"));
        }
        Some(_) if step.is_multiple_of(3) => {
            store.delete(api, kind, Some(NS), &name).unwrap_or_else(|e| panic!("delete {kind} {name}: {e:?}"));
        }
        Some(mut o) => {
            o["metadata"]["labels"]["step"] = json!(step.to_string());
            match kind {
                "ConfigMap" => o["data"]["k"] = json!(step.to_string()),
                "Deployment" => o["spec"]["replicas"] = json!(step % 4),
                "Pod" => o["spec"]["containers"][0]["image"] = json!(format!("img:{step}")),
                _ => {}
            }
            store.update(o).unwrap_or_else(|e| panic!("update {kind} {name}: {e:?}"));
        }
    }
}

/// Runs the churn (a change every 50 ms) for `dur`, calling `fault(tick)` every `every`.
async fn churn_with_faults(c: &Cluster, dur: Duration, every: Duration, mut fault: impl AsyncFnMut(u64)) -> u64 {
    let start = Instant::now();
    let mut step = 0;
    let mut tick = 0;
    let mut next_fault = start + every;
    while start.elapsed() < dur {
        churn_step(c, step);
        step += 1;
        if Instant::now() >= next_fault {
            fault(tick).await;
            tick += 1;
            next_fault += every;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    step
}

/// Series identity (name, labels sorted) → value bits (so NaN compares equal to itself).
type Series = BTreeMap<(String, Vec<(String, String)>), u64>;

fn parse(body: &str) -> Result<Series, String> {
    let samples = exposition::parse_text(body)?;
    let mut out = Series::new();
    for s in samples {
        let mut labels = s.labels;
        labels.sort();
        if out.insert((s.name.clone(), labels), s.value.to_bits()).is_some() {
            return Err(format!("duplicate series of {}", s.name));
        }
    }
    Ok(out)
}

fn describe(k: &(String, Vec<(String, String)>), v: u64) -> String {
    let labels: Vec<String> = k.1.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{}{{{}}} {}", k.0, labels.join(","), f64::from_bits(v))
}

/// What differs between two scrapes, shortened.
fn diff(have: &Series, want: &Series) -> Option<String> {
    let mut out = Vec::new();
    for (k, v) in have {
        match want.get(k) {
            None => out.push(format!("stale:   {}", describe(k, *v))),
            Some(w) if w != v => out.push(format!("value:   {} (fresh: {})", describe(k, *v), f64::from_bits(*w))),
            Some(_) => {}
        }
    }
    for (k, v) in want {
        if !have.contains_key(k) {
            out.push(format!("missing: {}", describe(k, *v)));
        }
    }
    if out.is_empty() {
        return None;
    }
    let n = out.len();
    out.truncate(25);
    Some(format!("{n} differences:\n{}", out.join("\n")))
}

async fn scrape_series(k: &Ksm) -> Result<Series, String> {
    let r = try_get(&k.url("/metrics"), &[]).await?;
    if r.status != 200 {
        return Err(format!("/metrics answered {}", r.status));
    }
    parse(&r.text())
}

/// Starts a fresh instance with `args` against the (now quiet) cluster and waits until `k` serves exactly
/// what it serves. Nothing is excluded: every family of both comes from the same objects. Returns the
/// number of series.
async fn assert_same_as_fresh(c: &Cluster, k: &mut Ksm, args: &[&str], within: Duration) -> usize {
    let mut fresh = Ksm::spawn(&c.kubeconfig, args);
    fresh.wait_ready().await;
    let deadline = Instant::now() + within;
    loop {
        k.assert_running();
        let (have, want) = (scrape_series(k).await, scrape_series(&fresh).await);
        let last = match (have, want) {
            (Ok(h), Ok(w)) => match diff(&h, &w) {
                None => {
                    // The fresh instance did see the cluster: the churn namespace and its objects.
                    assert!(w.keys().any(|(n, l)| n == "kube_namespace_created" && l.iter().any(|(_, v)| v == NS)));
                    assert!(w.keys().any(|(n, _)| n == "kube_configmap_info"), "no configmaps in the fresh scrape");
                    return w.len();
                }
                Some(d) => d,
            },
            (h, w) => format!("scrape failed: {:?} / {:?}", h.err(), w.err()),
        };
        assert!(Instant::now() < deadline, "after the faults, the instance differs from a fresh one:\n{last}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Memory after the faults is back near its level before them (allocator slack allowed).
fn assert_memory_back(before: u64, after: u64) {
    let bound = before * 3 / 2 + 20 * 1024;
    assert!(after <= bound, "VmRSS {after} KiB after the faults, {before} KiB before (bound {bound} KiB)");
}

/// A ready instance that has seen the churn once, its pid and its baseline RSS.
async fn start_warm(c: &Cluster, args: &[&str]) -> (Ksm, u32, u64) {
    let mut k = Ksm::spawn(&c.kubeconfig, args);
    k.wait_ready().await;
    let pid = k.pid();
    warm_up(c, &k).await;
    let _ = scrape_series(&k).await;
    let rss_before = rss_kib(pid);
    (k, pid, rss_before)
}

/// Everything the churn does, once, before measuring: the pool fills, so the baseline holds a full cluster.
async fn warm_up(c: &Cluster, k: &Ksm) -> u64 {
    let steps = KINDS.len() as u64 * POOL * 2;
    for s in 0..steps {
        churn_step(c, s);
    }
    eventually(Duration::from_secs(20), || async {
        let b = try_get(&k.url("/metrics"), &[]).await?.text();
        if b.contains(&format!("kube_configmap_info{{namespace=\"{NS}\"")) { Ok(()) } else { Err(b) }
    })
    .await;
    steps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_cuts_during_churn_leave_the_same_state_as_a_fresh_instance() {
    let c = cluster(11).await;
    // Every resource (no --resources): each watcher is cut, not just the churned ones.
    let args = [LABELS];
    let (mut k, pid, rss_before) = start_warm(&c, &args).await;

    let faults = c.sim.faults().clone();
    let steps = churn_with_faults(&c, fault_time(1.0), Duration::from_secs(2), async |_| faults.cut_watches()).await;
    let cuts = faults.state_json()["watchCuts"].as_u64().unwrap();
    assert!(cuts >= 2, "{cuts} cuts");

    let n = assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(30)).await;
    let rss_after = rss_kib(pid);
    eprintln!("watch cuts: {steps} changes, {cuts} cuts, {n} series, VmRSS {rss_before} -> {rss_after} KiB");
    assert_memory_back(rss_before, rss_after);
    // Cut watches are resumed, not failed: the instance never reported itself broken.
    let ready = try_get(&k.url("/readyz"), &[]).await.unwrap();
    assert_eq!(ready.status, 200, "{}", ready.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_storms_force_relists_without_losing_or_keeping_anything() {
    let c = cluster(12).await;
    let args = [RESOURCES, LABELS];
    let (mut k, pid, rss_before) = start_warm(&c, &args).await;

    let faults = c.sim.faults().clone();
    let lists_before = faults.requests("/api/v1/configmaps").len();
    // Every second: forget history and cut, so every watcher resumes into 410 and relists while the
    // cluster keeps changing underneath.
    let steps = churn_with_faults(&c, fault_time(0.4), Duration::from_secs(1), async |_| {
        faults.expire_events();
        faults.cut_watches();
    })
    .await;
    let expiries = faults.state_json()["expiries"].as_u64().unwrap();
    // Each expiry made the configmap watcher resume (410) and list again: several requests per storm.
    let requests = faults.requests("/api/v1/configmaps").len() - lists_before;
    assert!(requests as u64 >= expiries, "{requests} configmap requests for {expiries} expiries");

    let n = assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(30)).await;
    let rss_after = rss_kib(pid);
    eprintln!("410 storm: {steps} changes, {expiries} expiries, {n} series, VmRSS {rss_before} -> {rss_after} KiB");
    assert_memory_back(rss_before, rss_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_down_at_start_serves_nothing_then_recovers() {
    let c = cluster(13).await;
    let faults = c.sim.faults().clone();
    faults.stop_listening().await.unwrap();
    let args = [RESOURCES, LABELS];
    let mut k = Ksm::spawn(&c.kubeconfig, &args);
    // While the API server is away the process keeps running, says it is not ready and serves no
    // object series (nothing to be stale yet, nothing made up).
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut answered = 0;
    while Instant::now() < deadline {
        k.assert_running();
        if let Ok(r) = try_get(&k.url("/readyz"), &[]).await {
            assert_ne!(r.status, 200, "ready without an API server: {}", r.text());
            answered += 1;
        }
        if let Ok(r) = try_get(&k.url("/metrics"), &[]).await {
            let samples = exposition::parse_text(&r.text()).unwrap();
            assert!(samples.is_empty(), "series without an API server: {:?}", &samples[..samples.len().min(5)]);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(answered > 0, "the HTTP server never answered while the API server was down");
    // One line says so, with the server's URL and the cause; no line per retry, no debug dumps.
    let log = k.log();
    assert_eq!(log.matches("cannot reach the API server").count(), 1, "{log}");
    assert!(log.contains("server=https://127.0.0.1:") && log.contains("Connection refused"), "{log}");
    assert!(!log.contains("kube_client") && !log.contains("Status {"), "{log}");
    faults.start_listening().await.unwrap();
    // Backoff while the API server was away is at most a few seconds at this point.
    k.wait_ready().await;
    let log = k.log();
    assert_eq!(log.matches("the API server answers again").count(), 1, "{log}");
    churn_step(&c, 0);
    assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(30)).await;

    // The API server goes away again while running; the cluster changes meanwhile (deletes included) and
    // its history is lost, so reconnecting watchers get 410 and relist.
    let warm = warm_up(&c, &k).await;
    faults.stop_listening().await.unwrap();
    for step in warm..warm + 60 {
        churn_step(&c, step);
    }
    faults.expire_events();
    tokio::time::sleep(Duration::from_secs(2)).await;
    k.assert_running();
    faults.start_listening().await.unwrap();
    assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(40)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_lists_are_retried_with_backoff_not_in_a_hot_loop() {
    let c = cluster(14).await;
    let faults = c.sim.faults().clone();
    faults.fail_next(1_000_000, 503, None, "/api/v1/configmaps");
    let args = ["--resources=configmaps,namespaces"];
    let mut k = Ksm::spawn(&c.kubeconfig, &args);
    let window = Duration::from_secs(7);
    tokio::time::sleep(window).await;
    k.assert_running();
    let times = faults.requests("/api/v1/configmaps");
    // 503 is retried by the API client itself (exponential from a few ms, honouring Retry-After), and a
    // list that still fails waits in the watcher's own backoff (0.8 s doubling). Either way the attempts
    // thin out: a dozen or so in the window, not the thousands of a hot loop.
    assert!((3..=25).contains(&times.len()), "{} configmap requests in {window:?}", times.len());
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let late = times.iter().filter(|t| **t > times[0] + Duration::from_millis(3500)).count();
    assert!(late <= 4, "{late} attempts in the second half of the window: {gaps:?}");
    let widest = gaps.iter().max().copied().unwrap_or_default();
    assert!(widest >= Duration::from_secs(1), "no attempt waited a second: {gaps:?}");
    assert!(gaps.last() > gaps.first(), "the spacing does not grow: {gaps:?}");
    let r = try_get(&k.url("/readyz"), &[]).await.unwrap();
    assert_ne!(r.status, 200, "{}", r.text());
    // Once the server answers again, the instance gets ready and serves the data.
    faults.clear().await.unwrap();
    k.wait_ready().await;
    let body = try_get(&k.url("/metrics"), &[]).await.unwrap().text();
    assert!(body.contains("kube_configmap_info{namespace="), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bursts_and_slow_answers_during_churn_recover_fully() {
    let c = cluster(15).await;
    let args = [RESOURCES, LABELS];
    let (mut k, pid, rss_before) = start_warm(&c, &args).await;

    let faults = c.sim.faults().clone();
    let dur = fault_time(0.5);
    let slow_from = dur / 2;
    let start = Instant::now();
    // Bursts of failures, each followed by a cut so that re-watches and relists meet them; the second
    // half of the run also answers every request 300 ms late.
    let steps = churn_with_faults(&c, dur, Duration::from_millis(1500), async |tick| {
        match tick % 3 {
            0 => faults.fail_next(4, 500, None, "/api"),
            1 => faults.fail_next(4, 503, Some(Duration::from_secs(1)), "/apis"),
            _ => faults.fail_next(4, 429, Some(Duration::from_secs(1)), "/"),
        }
        faults.cut_watches();
        if start.elapsed() >= slow_from {
            faults.set_latency(Duration::from_millis(300));
        }
    })
    .await;
    let injected = faults.state_json()["injectedErrors"].as_u64().unwrap();
    assert!(injected >= 4, "only {injected} injected errors were served");
    assert_eq!(faults.latency(), Duration::from_millis(300));
    faults.clear().await.unwrap();

    // Failures back off for up to a few seconds: give the instance time to come round.
    let n = assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(45)).await;
    let rss_after = rss_kib(pid);
    eprintln!(
        "error bursts: {steps} changes, {injected} injected errors, {n} series, VmRSS {rss_before} -> {rss_after} KiB"
    );
    assert_memory_back(rss_before, rss_after);
}

/// One plain HTTP/1.1 request on a fresh connection: status and body (`Err` if the connection fails).
async fn raw_http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        kube_sim::DEFAULT_TOKEN
    );
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await.map_err(std::io::Error::other)??;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// Kills the child on drop.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_command_serves_the_admin_routes_on_their_own_port() {
    let (api, admin) = (support::free_port(), support::free_port());
    let _sim = Reap(
        std::process::Command::new(env!("CARGO_BIN_EXE_kubestate"))
            .args(["sim", "--plain-http", "--no-kubelets", &format!("--listen=127.0.0.1:{api}")])
            .env("KUBE_SIM_ADMIN_ADDRESS", format!("127.0.0.1:{admin}"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually(Duration::from_secs(20), || async {
        match raw_http(admin, "GET", "/faults").await {
            Ok((200, b)) if b.contains("\"listening\":true") => Ok(()),
            r => Err(format!("{r:?}")),
        }
    })
    .await;
    let (s, b) = raw_http(admin, "POST", "/faults/fail?n=1&code=429&retry_after=1&prefix=/api/v1/pods").await.unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(raw_http(api, "GET", "/api/v1/pods").await.unwrap().0, 429);
    assert_eq!(raw_http(api, "GET", "/api/v1/pods").await.unwrap().0, 200);
    let (s, b) = raw_http(admin, "POST", "/faults/stop").await.unwrap();
    assert!(s == 200 && b.contains("\"listening\":false"), "{b}");
    assert!(raw_http(api, "GET", "/version").await.is_err(), "API port still answers after stop");
    let (s, b) = raw_http(admin, "POST", "/faults/start").await.unwrap();
    assert!(s == 200 && b.contains("\"listening\":true"), "{b}");
    assert_eq!(raw_http(api, "GET", "/version").await.unwrap().0, 200);
    let (_, b) = raw_http(admin, "GET", "/faults/requests?prefix=/api/v1/pods").await.unwrap();
    assert!(b.contains("\"count\":2"), "{b}");
}

#[test]
fn comparison_reports_stale_missing_and_changed_series_order_aside() {
    let a = parse("m{a=\"1\",b=\"2\"} 1\nm{a=\"2\"} 2\nold 1\n").unwrap();
    let same = parse("m{a=\"2\"} 2\nold 1\nm{b=\"2\",a=\"1\"} 1\n").unwrap();
    assert_eq!(diff(&a, &same), None);
    let b = parse("m{a=\"1\",b=\"2\"} 1\nm{a=\"2\"} 3\nnew 1\n").unwrap();
    let d = diff(&a, &b).unwrap();
    assert!(d.starts_with("3 differences"), "{d}");
    assert!(d.contains("stale:   old{} 1") && d.contains("missing: new{} 1") && d.contains("(fresh: 3)"), "{d}");
    assert!(parse("m 1\nm 2\n").is_err(), "duplicate series must not pass");
}

/// The telemetry counter `name` summed over every series of `resource`.
async fn telemetry_sum(k: &Ksm, name: &str, resource: &str) -> f64 {
    let t = try_get(&k.telemetry_url("/metrics"), &[]).await.map(|r| r.text()).unwrap_or_default();
    exposition::parse_text(&t)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.name == name && s.label("resource") == Some(resource))
        .map(|s| s.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cluster_with_lower_resource_versions_at_the_same_address_is_listed_afresh() {
    let c = cluster(15).await;
    let args = [RESOURCES, LABELS];
    let (mut k, _, _) = start_warm(&c, &args).await;
    // An etcd restore, or another cluster behind the same address and certificates: the port closes,
    // and what answers next has other objects and resourceVersions below every one seen so far.
    let other = kube_sim::Cluster {
        synthetic: Some(kube_sim::SyntheticConfig { nodes: 2, pods_per_node: 4, namespaces: 1, ..Default::default() }),
        seed: 99,
        objects: vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})],
        ..kube_sim::Cluster::default()
    };
    c.sim.restart_as(other).await.unwrap();
    churn_step(&c, 0);
    // Well within the two minutes the issue allows: the reconnecting watches check the server first.
    assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(60)).await;
    assert!(telemetry_sum(&k, "kube_state_metrics_resource_version_regressions_total", "configmaps").await >= 1.0);
    assert!(k.log().contains("resourceVersions went back"), "{}", k.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_streaming_lists_fall_back_to_one_cached_list_and_are_not_retried_on_relist() {
    let c = cluster(16).await;
    c.sim.set_streaming_lists(false);
    let args = [RESOURCES, LABELS];
    let (mut k, _, _) = start_warm(&c, &args).await;
    let cms = |recs: &[kube_sim::RequestRecord]| -> Vec<kube_sim::RequestRecord> {
        recs.iter().filter(|r| r.path == "/api/v1/configmaps").cloned().collect()
    };
    let first = cms(&c.sim.requests());
    // One refused streaming list, then one list from the watch cache, then watches.
    let lists: Vec<_> = first.iter().filter(|r| r.verb == "list").collect();
    assert_eq!(first.iter().filter(|r| r.is_streaming_list()).count(), 1, "{first:?}");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(lists[0].param("resourceVersion").as_deref(), Some("0"));
    // A relist (history expired while the watch was cut) does not try the refused stream again.
    c.sim.reset_requests();
    c.sim.expire_events();
    c.sim.cut_watches();
    for s in 0..20 {
        churn_step(&c, 1000 + s);
    }
    eventually(Duration::from_secs(10), || async {
        let again = cms(&c.sim.requests());
        if again.iter().any(|r| r.verb == "list") { Ok(()) } else { Err(format!("no relist yet: {again:?}")) }
    })
    .await;
    // (Taken before the fresh instance below makes its own first attempt.)
    let again = cms(&c.sim.requests());
    assert!(!again.iter().any(|r| r.is_streaming_list()), "a refused streaming list was tried again: {again:?}");
    assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(30)).await;
    assert!(telemetry_sum(&k, "kube_state_metrics_streaming_list_refusals_total", "configmaps").await >= 1.0);
    assert_eq!(k.log().matches("does not serve streaming lists").count(), 1, "{}", k.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_cut_in_the_middle_of_their_initial_events_lose_nothing() {
    // Enough objects that a streaming list takes a while to send.
    let cfg = kube_sim::SimConfig {
        kubelets: false,
        seed: 17,
        synthetic: Some(kube_sim::SyntheticConfig {
            nodes: 20,
            pods_per_node: 100,
            namespaces: 4,
            ..Default::default()
        }),
        ..Default::default()
    };
    let c =
        Cluster::start_with(cfg, &[json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})]).await;
    let args = [RESOURCES, LABELS];
    let mut k = Ksm::spawn(&c.kubeconfig, &args);
    // Cut every open stream every 20 ms while the instance starts: many initial states are cut short.
    let faults = c.sim.faults().clone();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        faults.cut_watches();
        churn_step(&c, start.elapsed().as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cut_short = c.sim.requests().iter().filter(|r| r.is_streaming_list() && r.done).count();
    assert!(cut_short >= 2, "only {cut_short} streaming lists ended during the start");
    k.wait_ready().await;
    assert_same_as_fresh(&c, &mut k, &args, Duration::from_secs(30)).await;
}
