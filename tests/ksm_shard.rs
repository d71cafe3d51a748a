//! End to end: static sharding (five processes partition 10,000 objects) and StatefulSet auto-sharding
//! (the partition follows the replica count without a restart).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use state_metrics::shard::owns;
use support::{Cluster, Ksm, eventually, label_of, lines_with, series, statefulset, statefulset_pod, telemetry_value};

fn cm(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": "v"}})
}

/// configmap name → uid, as the simulator assigned them.
fn uids(c: &Cluster) -> BTreeMap<String, String> {
    c.sim
        .store()
        .list("v1", "ConfigMap", None)
        .iter()
        .map(|o| {
            (o["metadata"]["name"].as_str().unwrap().to_owned(), o["metadata"]["uid"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn names_in(body: &str) -> BTreeSet<String> {
    lines_with(body, "kube_configmap_info{").iter().map(|l| label_of(l, "configmap").unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_static_shards_partition_ten_thousand_objects() {
    const TOTAL: u32 = 5;
    let c = Cluster::start(&[]).await;
    for i in 0..10_000 {
        c.create(cm(&format!("ns-{}", i % 20), &format!("cm-{i:05}")));
    }
    let uids = uids(&c);
    assert_eq!(uids.len(), 10_000);

    let mut all = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps"]);
    let mut shards: Vec<Ksm> = (0..TOTAL)
        .map(|i| Ksm::spawn(&c.kubeconfig, &["--resources=configmaps", &format!("--shard={i}"), "--total-shards=5"]))
        .collect();
    all.wait_ready().await;
    for k in &mut shards {
        k.wait_ready().await;
    }

    let unsharded = all.scrape("/metrics").await;
    let whole: BTreeSet<&str> = series(&unsharded).into_iter().collect();
    assert_eq!(names_in(&unsharded).len(), 10_000);

    let mut union: BTreeSet<String> = BTreeSet::new();
    let mut total_lines = 0;
    for (i, k) in shards.iter().enumerate() {
        let body = k.scrape("/metrics").await;
        let lines = series(&body);
        total_lines += lines.len();
        let names = names_in(&body);
        // Each shard holds exactly the objects the upstream-compatible hash gives it.
        let want: BTreeSet<String> =
            uids.iter().filter(|(_, uid)| owns(uid, i as u32, TOTAL)).map(|(n, _)| n.clone()).collect();
        assert_eq!(names, want, "shard {i}");
        assert!(names.len() > 1_500 && names.len() < 2_500, "shard {i} has {} objects", names.len());
        union.extend(lines.into_iter().map(str::to_owned));
        let shard = i.to_string();
        assert_eq!(
            telemetry_value(k, "kube_state_metrics_shard_ordinal", &[("shard_ordinal", &shard)]).await,
            Some(i as f64)
        );
        assert_eq!(telemetry_value(k, "kube_state_metrics_total_shards", &[]).await, Some(5.0));
    }
    // Every series in exactly one shard: the union is the unsharded scrape and nothing is duplicated.
    assert_eq!(total_lines, whole.len());
    assert!(union.iter().map(String::as_str).eq(whole.iter().copied()), "union differs from unsharded scrape");

    let mut bad = Ksm::spawn(&c.kubeconfig, &["--shard=5", "--total-shards=5"]);
    let (code, log) = bad.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("--shard must be"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_sharding_follows_statefulset_replicas() {
    let c =
        Cluster::start(&[json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})]).await;
    for i in 0..300 {
        c.create(cm("default", &format!("cm-{i:03}")));
    }
    let uids = uids(&c);
    let sts = c.create(statefulset(2));
    statefulset_pod(&c, &sts, "ksm-1");
    let want = |total: u32| -> BTreeSet<String> {
        uids.iter().filter(|(_, uid)| owns(uid, 1, total)).map(|(n, _)| n.clone()).collect()
    };

    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps", "--pod=ksm-1", "--pod-namespace=monitoring"]);
    k.wait_ready().await;
    assert_eq!(names_in(&k.scrape("/metrics").await), want(2));
    assert_eq!(telemetry_value(&k, "kube_state_metrics_total_shards", &[]).await, Some(2.0));
    assert_eq!(telemetry_value(&k, "kube_state_metrics_shard_ordinal", &[("shard_ordinal", "1")]).await, Some(1.0));

    // Scale to 3: the same process re-shards and relists.
    let mut current = c.sim.store().get("apps/v1", "StatefulSet", Some("monitoring"), "ksm").unwrap();
    current["spec"]["replicas"] = json!(3);
    c.update(current);
    let w3 = want(3);
    assert_ne!(w3, want(2));
    eventually(Duration::from_secs(20), || {
        let k = &k;
        let w3 = &w3;
        async move {
            let body = support::try_get(&k.url("/metrics"), &[]).await?.text();
            let names = names_in(&body);
            // Never another shard's objects, even mid-relist.
            if !names.is_subset(w3) && names != want(2) {
                return Err(format!("{} objects outside both assignments", names.difference(w3).count()));
            }
            if names != *w3 {
                return Err(format!("{} objects, want {}", names.len(), w3.len()));
            }
            match telemetry_value(k, "kube_state_metrics_total_shards", &[]).await {
                Some(3.0) => Ok(()),
                other => Err(format!("total_shards {other:?}")),
            }
        }
    })
    .await;
    k.assert_running();
    assert!(k.log().contains("shard assignment changed"), "{}", k.log());
    assert_eq!(support::get(&k.url("/readyz"), &[]).await.status, 200);

    // A pod that is not controlled by a StatefulSet cannot auto-shard: clear startup error.
    c.create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "loner", "namespace": "monitoring"},
                     "spec": {"containers": [{"name": "k", "image": "k"}]}}));
    let mut bad = Ksm::spawn(&c.kubeconfig, &["--pod=loner", "--pod-namespace=monitoring"]);
    let (code, log) = bad.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("not controlled by a StatefulSet"), "{log}");
}
