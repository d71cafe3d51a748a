//! End to end: server-side sharding (KEP-5866) against kube-sim's `ShardedListAndWatch`. Shards in
//! server mode partition an unsharded instance's series exactly, before and after churn, and each one
//! receives only its share of the bytes (kube-sim's request accounting); a server without the gate, or
//! one that refuses the selector, makes auto mode fall back to upstream's client-side split (one log
//! line, telemetry) and server mode wait, unready; auto-sharding relists only on a new assignment and
//! keeps serving what a shard still owns.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kube_sim::{RequestRecord, SimConfig};
use serde_json::{Value, json};
use state_metrics::shard::{Shard, Split, owns};
use support::{
    Cluster, Ksm, eventually, get, label_of, lines_with, series, statefulset, statefulset_pod, telemetry_value, try_get,
};

const TOTAL: u32 = 3;
const CONFIGMAPS: &str = "/api/v1/configmaps";

fn cm(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": format!("cm-{i:04}"), "namespace": format!("ns-{}", i % 6)}, "data": {"k": "v"}})
}

async fn cluster(gate: bool, hooks: Vec<Arc<dyn kube_sim::RouteHook>>, configmaps: usize) -> Cluster {
    let c = Cluster::start_with(SimConfig { sharded_list_and_watch: gate, hooks, ..SimConfig::default() }, &[]).await;
    for i in 0..configmaps {
        c.create(cm(i));
    }
    c
}

/// configmap name → uid.
fn uid_map(c: &Cluster) -> BTreeMap<String, String> {
    c.sim
        .store()
        .list("v1", "ConfigMap", None)
        .iter()
        .map(|o| (o["metadata"]["name"].as_str().unwrap().into(), o["metadata"]["uid"].as_str().unwrap().into()))
        .collect()
}

fn names_in(body: &str) -> BTreeSet<String> {
    lines_with(body, "kube_configmap_info{").iter().map(|l| label_of(l, "configmap").unwrap().to_owned()).collect()
}

fn owned_by(uids: &BTreeMap<String, String>, shard: Shard) -> BTreeSet<String> {
    uids.iter().filter(|(_, uid)| shard.owns(uid)).map(|(n, _)| n.clone()).collect()
}

fn range(index: u32, total: u32) -> Shard {
    Shard::new(index, total).with_split(Split::Range)
}

fn spawn_shard(c: &Cluster, i: u32, mode: &str) -> Ksm {
    Ksm::spawn(
        &c.kubeconfig,
        &[
            "--resources=configmaps,namespaces",
            &format!("--shard={i}"),
            "--total-shards=3",
            &format!("--shard-mode={mode}"),
        ],
    )
}

/// Every sample of the shards, each once, is exactly the unsharded instance's.
async fn assert_partition(all: &Ksm, shards: &[Ksm]) -> Result<(), String> {
    let whole = try_get(&all.url("/metrics"), &[]).await?.text();
    let whole: BTreeSet<&str> = series(&whole).into_iter().collect();
    let mut union = BTreeSet::new();
    let mut count = 0;
    for k in shards {
        let body = try_get(&k.url("/metrics"), &[]).await?.text();
        let lines = series(&body);
        count += lines.len();
        union.extend(lines.into_iter().map(str::to_owned));
    }
    if count != union.len() {
        return Err(format!("{} samples served by more than one shard", count - union.len()));
    }
    if !union.iter().map(String::as_str).eq(whole.iter().copied()) {
        let missing = whole.iter().filter(|l| !union.contains(**l)).count();
        return Err(format!("{missing} samples missing, {} extra", union.len() + missing - whole.len()));
    }
    Ok(())
}

fn selector_of(r: &RequestRecord) -> Option<String> {
    r.param("shardSelector")
}

/// Bytes the server sent for `path`, by shard selector ("" for none).
fn bytes_by_selector(records: &[RequestRecord], path: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in records.iter().filter(|r| r.path == path) {
        *out.entry(selector_of(r).unwrap_or_default()).or_insert(0) += r.bytes;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_server_side_shards_partition_the_series_and_receive_a_third_each() {
    let c = cluster(true, Vec::new(), 600).await;
    let mut all = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps,namespaces"]);
    let mut shards: Vec<Ksm> = (0..TOTAL).map(|i| spawn_shard(&c, i, "server")).collect();
    all.wait_ready().await;
    for k in &mut shards {
        k.wait_ready().await;
    }
    let uids = uid_map(&c);
    for (i, k) in shards.iter().enumerate() {
        let names = names_in(&k.scrape("/metrics").await);
        assert_eq!(names, owned_by(&uids, range(i as u32, TOTAL)), "shard {i}");
        assert!(names.len() > 120 && names.len() < 280, "shard {i} holds {} of 600", names.len());
        assert_eq!(telemetry_value(k, "kube_state_metrics_shard_mode", &[("mode", "server")]).await, Some(1.0));
        assert_eq!(telemetry_value(k, "kube_state_metrics_shard_mode", &[("mode", "client")]).await, Some(0.0));
        assert!(k.log().contains("the API server shards lists"), "{}", k.log());
    }
    assert_partition(&all, &shards).await.unwrap();

    // Churn: new objects, deletions, updates; the partition holds throughout what the watches deliver.
    for i in 600..750 {
        c.create(cm(i));
    }
    for i in (0..300).step_by(3) {
        c.delete("v1", "ConfigMap", Some(&format!("ns-{}", i % 6)), &format!("cm-{i:04}"));
    }
    for i in (1..300).step_by(3) {
        let mut o =
            c.sim.store().get("v1", "ConfigMap", Some(&format!("ns-{}", i % 6)), &format!("cm-{i:04}")).unwrap();
        o["metadata"]["labels"] = json!({"churned": "yes"});
        o["data"] = json!({"k": "v", "more": "data"});
        c.update(o);
    }
    let after = uid_map(&c);
    eventually(Duration::from_secs(20), || {
        let (all, shards, after) = (&all, &shards, &after);
        async move {
            assert_partition(all, shards).await?;
            let now = names_in(&try_get(&all.url("/metrics"), &[]).await?.text());
            if now.len() != after.len() {
                return Err(format!("unsharded instance holds {} of {}", now.len(), after.len()));
            }
            Ok(())
        }
    })
    .await;
    for (i, k) in shards.iter().enumerate() {
        assert_eq!(names_in(&k.scrape("/metrics").await), owned_by(&after, range(i as u32, TOTAL)), "shard {i}");
    }

    // What the server sent: every request of a shard carries its own range, and each shard received
    // about a third of what the unsharded instance did (lists, streaming lists, watch events).
    let records = c.sim.requests();
    let want: BTreeSet<String> = (0..TOTAL).map(|i| range(i, TOTAL).selector().unwrap()).collect();
    let used: BTreeSet<String> = records.iter().filter_map(selector_of).collect();
    assert_eq!(used, want);
    let bytes = bytes_by_selector(&records, CONFIGMAPS);
    let whole = bytes[""];
    let shares: Vec<u64> = want.iter().map(|s| bytes[s]).collect();
    let sum: u64 = shares.iter().sum();
    for b in &shares {
        let share = *b as f64 / whole as f64;
        assert!(share > 0.2 && share < 0.47, "a shard received {b} bytes of configmaps, the whole is {whole}");
    }
    assert!(
        (sum as f64) < whole as f64 * 1.15 && (sum as f64) > whole as f64 * 0.85,
        "shards together received {sum} bytes, the unsharded instance {whole}"
    );
    // Each shard's streaming list held only its objects: a third of the unsharded one.
    let streamed = |sel: &str| -> u64 {
        records
            .iter()
            .filter(|r| r.path == CONFIGMAPS && r.is_streaming_list() && selector_of(r).unwrap_or_default() == sel)
            .map(|r| r.bytes)
            .max()
            .unwrap_or(0)
    };
    let whole_stream = streamed("");
    for s in &want {
        let b = streamed(s);
        assert!(b > 0 && (b as f64) < whole_stream as f64 * 0.47, "streaming list of {b} bytes, whole {whole_stream}");
    }
}

fn fallback_lines(k: &Ksm) -> usize {
    k.log().matches("the API server does not shard lists").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_feature_gate_auto_mode_shards_on_the_client_and_server_mode_waits() {
    let c = cluster(false, Vec::new(), 300).await;
    let mut all = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps,namespaces"]);
    let mut shards: Vec<Ksm> = (0..TOTAL).map(|i| spawn_shard(&c, i, "auto")).collect();
    let mut strict = spawn_shard(&c, 1, "server");
    all.wait_ready().await;
    for k in &mut shards {
        k.wait_ready().await;
    }
    let uids = uid_map(&c);
    for (i, k) in shards.iter().enumerate() {
        let want: BTreeSet<String> =
            uids.iter().filter(|(_, u)| owns(u, i as u32, TOTAL)).map(|(n, _)| n.clone()).collect();
        assert_eq!(names_in(&k.scrape("/metrics").await), want, "shard {i}: upstream's split");
        assert_eq!(fallback_lines(k), 1, "{}", k.log());
        assert_eq!(telemetry_value(k, "kube_state_metrics_shard_mode", &[("mode", "client")]).await, Some(1.0));
        assert_eq!(telemetry_value(k, "kube_state_metrics_shard_mode", &[("mode", "server")]).await, Some(0.0));
        let fallbacks = telemetry_value(k, "kube_state_metrics_shard_mode_fallbacks_total", &[("reason", "ignored")]);
        assert_eq!(fallbacks.await, Some(1.0));
    }
    assert_partition(&all, &shards).await.unwrap();
    // Only the probes carried a selector (one list of one object per process); nothing after them.
    let probes: Vec<RequestRecord> = c.sim.requests().into_iter().filter(|r| selector_of(r).is_some()).collect();
    assert!(probes.iter().all(|r| r.param("limit").as_deref() == Some("1") && r.verb == "list"), "{probes:?}");
    assert!(probes.len() >= TOTAL as usize, "{probes:?}");

    // Server mode refuses to divide objects itself: unready, saying why, and nothing served.
    let r = get(&strict.url("/readyz"), &[]).await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("configmaps (sharding): --shard-mode=server"), "{}", r.text());
    assert!(names_in(&strict.scrape("/metrics").await).is_empty());
    assert_eq!(telemetry_value(&strict, "kube_state_metrics_shard_mode", &[("mode", "server")]).await, Some(0.0));
    assert_eq!(strict.log().matches("--shard-mode=server, but").count(), 1, "{}", strict.log());
    // The gate turned on: it notices at its next check and serves its range.
    c.sim.set_sharded_list_and_watch(true);
    strict.wait_ready().await;
    assert_eq!(names_in(&strict.scrape("/metrics").await), owned_by(&uids, range(1, TOTAL)));
    assert_eq!(telemetry_value(&strict, "kube_state_metrics_shard_mode", &[("mode", "server")]).await, Some(1.0));
    assert_eq!(strict.log().matches("--shard-mode=server, but").count(), 1, "{}", strict.log());
    // The client-side shards decided once; they keep their split (a mode change needs all shards).
    assert_partition(&all, &shards).await.unwrap();
    strict.assert_running();
}

fn example(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom-resources").join(name);
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Custom resources wait with the built-in ones: a server-mode instance that reads only custom resources
/// is unready while the server does not shard, names each one in /readyz with the server's answer and
/// serves none of its objects
/// (a non-sharding server would send them all); once the server shards, it serves its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_wait_while_server_mode_is_blocked() {
    let c = cluster(false, Vec::new(), 0).await;
    c.create(example("kubesphere-user-crd.yaml"));
    c.create(example("kubesphere-user-bob.yaml"));
    let uid = c.sim.store().list("iam.kubesphere.io/v1alpha2", "User", None)[0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let shard = (0..TOTAL).find(|&i| range(i, TOTAL).owns(&uid)).unwrap();
    let cfg = format!(
        "--custom-resource-state-config-file={}",
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/custom-resources/kubesphere-user.yaml")
            .display()
    );
    let (index, total) = (format!("--shard={shard}"), format!("--total-shards={TOTAL}"));
    let mut k =
        Ksm::spawn(&c.kubeconfig, &["--custom-resource-state-only", &cfg, &index, &total, "--shard-mode=server"]);
    eventually(Duration::from_secs(20), || async {
        let r = try_get(&k.url("/readyz"), &[]).await?;
        let text = r.text();
        // The server's answer, as the built-in resources' lines give it.
        if r.status == 503
            && text.contains("iam.kubesphere.io/v1alpha2, Resource=users (sharding): --shard-mode=server, but")
            && text.lines().any(|l| l.contains("Resource=users") && l.contains("without shardInfo"))
        {
            Ok(())
        } else {
            Err(format!("{}: {text}", r.status))
        }
    })
    .await;
    assert!(!k.scrape("/metrics").await.contains("kube_user_"));
    // Nothing of the custom resource was listed while blocked.
    let listed = |c: &Cluster| c.sim.requests().iter().filter(|r| r.path.contains("/users")).count();
    assert_eq!(listed(&c), 0, "{:?}", c.sim.requests());
    c.sim.set_sharded_list_and_watch(true);
    k.wait_ready().await;
    eventually(Duration::from_secs(20), || async {
        let body = k.scrape("/metrics").await;
        if body.contains("kube_user_info{") { Ok(()) } else { Err(body) }
    })
    .await;
    k.assert_running();
}

/// Answers every request that carries a shard selector as a v1.36.2 server answers a selector it cannot
/// parse (the real capture: 500, a Status without reason), and counts them.
struct Refuse {
    seen: AtomicUsize,
}

impl kube_sim::RouteHook for Refuse {
    fn route(
        &self,
        req: &kube_sim::HookRequest,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = http::Response<kube_sim::Body>> + Send>>> {
        req.query.get("shardSelector")?;
        self.seen.fetch_add(1, Ordering::SeqCst);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/kwire/tests/wire/error-500-shard-bad-hex.json");
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut r = http::Response::new(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed());
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        Some(Box::pin(async move { r }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_selector_falls_back_and_client_mode_never_sends_one() {
    let refuse = Arc::new(Refuse { seen: AtomicUsize::new(0) });
    let c = cluster(true, vec![refuse.clone()], 200).await;
    let uids = uid_map(&c);
    // Client mode asks nothing of the server, though this one could shard.
    let mut client = spawn_shard(&c, 2, "client");
    client.wait_ready().await;
    let jump: BTreeSet<String> = uids.iter().filter(|(_, u)| owns(u, 2, TOTAL)).map(|(n, _)| n.clone()).collect();
    assert_eq!(names_in(&client.scrape("/metrics").await), jump);
    assert_eq!(refuse.seen.load(Ordering::SeqCst), 0);
    assert!(c.sim.requests().iter().all(|r| selector_of(r).is_none()));
    assert_eq!(telemetry_value(&client, "kube_state_metrics_shard_mode", &[("mode", "client")]).await, Some(1.0));
    assert_eq!(fallback_lines(&client), 0);

    let mut auto = spawn_shard(&c, 2, "auto");
    auto.wait_ready().await;
    assert_eq!(names_in(&auto.scrape("/metrics").await), jump);
    assert_eq!(refuse.seen.load(Ordering::SeqCst), 1, "one probe, refused");
    assert_eq!(fallback_lines(&auto), 1, "{}", auto.log());
    assert!(auto.log().contains("invalid shard selector"), "the server's answer is logged: {}", auto.log());
    let refused = telemetry_value(&auto, "kube_state_metrics_shard_mode_fallbacks_total", &[("reason", "refused")]);
    assert_eq!(refused.await, Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_sharding_relists_only_on_a_new_assignment_and_keeps_what_a_shard_still_owns() {
    let c = cluster(true, Vec::new(), 0).await;
    c.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}));
    for i in 0..400 {
        c.create(cm(i));
    }
    let uids = uid_map(&c);
    let sts = c.create(statefulset(2));
    statefulset_pod(&c, &sts, "ksm-1");
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps", "--pod=ksm-1", "--pod-namespace=monitoring"]);
    k.wait_ready().await;
    let (old, new) = (owned_by(&uids, range(1, 2)), owned_by(&uids, range(1, 3)));
    assert_eq!(names_in(&k.scrape("/metrics").await), old);
    let streams = || {
        c.sim.requests().iter().filter(|r| r.path == CONFIGMAPS && r.is_streaming_list()).cloned().collect::<Vec<_>>()
    };
    assert_eq!(streams().len(), 1);

    // A new generation that keeps the assignment: the split is checked again, nothing is relisted.
    let probes = || c.sim.requests().iter().filter(|r| r.param("limit").as_deref() == Some("1")).count();
    let before = probes();
    let mut cur = c.sim.store().get("apps/v1", "StatefulSet", Some("monitoring"), "ksm").unwrap();
    cur["spec"]["template"]["metadata"]["annotations"] = json!({"restartedAt": "now"});
    c.update(cur);
    eventually(Duration::from_secs(10), || {
        let n = probes();
        async move { if n > before { Ok(()) } else { Err("no new probe".into()) } }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(streams().len(), 1, "the same assignment relisted");

    // Three replicas: shard 1 now owns the middle third. What it keeps stays served throughout; what
    // it gave away goes at once; what it gains comes with the relist.
    let kept: BTreeSet<String> = old.intersection(&new).cloned().collect();
    assert!(!kept.is_empty() && kept != new);
    let mut cur = c.sim.store().get("apps/v1", "StatefulSet", Some("monitoring"), "ksm").unwrap();
    cur["spec"]["replicas"] = json!(3);
    c.update(cur);
    eventually(Duration::from_secs(20), || {
        let (k, old, new, kept) = (&k, &old, &new, &kept);
        async move {
            let names = names_in(&try_get(&k.url("/metrics"), &[]).await?.text());
            if names == *old {
                return Err("not resharded yet".into());
            }
            // Never someone else's object, never a kept one missing.
            assert!(names.is_subset(new), "{} objects outside the new range", names.difference(new).count());
            assert!(kept.is_subset(&names), "{} kept objects missing mid-relist", kept.difference(&names).count());
            if names != *new {
                return Err(format!("{} of {} objects", names.len(), new.len()));
            }
            Ok(())
        }
    })
    .await;
    assert_eq!(streams().len(), 2);
    let last = streams().pop().unwrap();
    assert_eq!(selector_of(&last), range(1, 3).selector());
    assert_eq!(telemetry_value(&k, "kube_state_metrics_total_shards", &[]).await, Some(3.0));
    assert_eq!(get(&k.url("/readyz"), &[]).await.status, 200);
    k.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_sharding_cannot_make_a_shard_keep_other_shards_objects() {
    // Without streaming lists every list carries ListMeta, so a whole answer shows.
    let cfg = SimConfig { sharded_list_and_watch: true, streaming_lists: false, ..SimConfig::default() };
    let c = Cluster::start_with(cfg, &[]).await;
    for i in 0..200 {
        c.create(cm(i));
    }
    let mut k = spawn_shard(&c, 0, "server");
    k.wait_ready().await;
    assert_eq!(names_in(&k.scrape("/metrics").await), owned_by(&uid_map(&c), range(0, TOTAL)));
    // The server comes back restored from a backup and without the gate: the shard relists, and the
    // lists and watch events now bring every object.
    c.sim.set_sharded_list_and_watch(false);
    let restored = kube_sim::Cluster { objects: (0..260).map(cm).collect(), ..kube_sim::Cluster::default() };
    c.sim.restart_as(restored).await.unwrap();
    for i in 260..300 {
        c.create(cm(i));
    }
    let after = uid_map(&c);
    let want = owned_by(&after, range(0, TOTAL));
    eventually(Duration::from_secs(20), || {
        let (k, want) = (&k, &want);
        async move {
            let ignored =
                telemetry_value(k, "kube_state_metrics_shard_selector_ignored_total", &[("resource", "configmaps")]);
            if ignored.await.unwrap_or(0.0) < 1.0 {
                return Err("no whole list counted yet".into());
            }
            let names = names_in(&try_get(&k.url("/metrics"), &[]).await?.text());
            if names != *want {
                return Err(format!("{} objects, want {}", names.len(), want.len()));
            }
            Ok(())
        }
    })
    .await;
    assert_eq!(k.log().matches("it ignored the shard selector").count(), 1, "{}", k.log());
    k.assert_running();
}
