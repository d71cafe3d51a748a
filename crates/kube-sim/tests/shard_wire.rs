//! KEP-5866 sharded list and watch against a real v1.36.2 server's answers (`tests/wire/shard/`):
//! the halves of the hash space partition a list, `metadata.shardInfo` echoes the selector,
//! watches and streaming lists are filtered but bookmarks are not, malformed selectors get the
//! reasonless 500 Status for lists and watches alike, and with the feature gate off the parameter
//! is ignored.

mod common;

use std::time::Duration;

use common::Http;
use kube_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};

const S0: &str = "shardRange%28object.metadata.uid%2C%20%270x0000000000000000%27%2C%20%270x8000000000000000%27%29";
const S1: &str = "shardRange%28object.metadata.uid%2C%20%270x8000000000000000%27%2C%20%270x10000000000000000%27%29";

fn wire(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/wire/shard/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn json_of(name: &str) -> Value {
    serde_json::from_str(&wire(name)).unwrap()
}

async fn sim(gate: bool) -> SimHandle {
    let sim = kube_sim::start(SimConfig {
        tls: false,
        kubelets: false,
        sharded_list_and_watch: gate,
        bookmark_interval: Duration::from_millis(300),
        ..Default::default()
    })
    .await
    .unwrap();
    for item in json_of("pods.list-unsharded.json")["items"].as_array().unwrap() {
        let mut o = item.clone();
        o["apiVersion"] = json!("v1");
        o["kind"] = json!("Pod");
        sim.store().create(o).unwrap();
    }
    sim
}

fn uids(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["uid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn sharded_lists_hold_their_half_and_echo_the_selector() {
    let sim = sim(true).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    for (sel, capture) in [(S0, "pods.list-shard0.json"), (S1, "pods.list-shard1.json")] {
        let want = json_of(capture);
        for rv in ["", "&resourceVersion=0"] {
            let (s, got) = h.get(&format!("/api/v1/pods?shardSelector={sel}{rv}")).await;
            assert_eq!(s, 200);
            assert_eq!(uids(&got), uids(&want), "{capture}{rv}");
            assert_eq!(got["metadata"]["shardInfo"], want["metadata"]["shardInfo"], "{capture}");
            assert!(got["metadata"].get("continue").is_none());
        }
    }
    // Byte for byte, the list metadata is the real server's.
    let (_, _, raw) = h.raw(&format!("/api/v1/pods?shardSelector={S0}")).await;
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let rv = sim.store().current_rv();
    let want_meta = format!(
        r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"resourceVersion":"{rv}","shardInfo":{{"selector":"shardRange(object.metadata.uid, '0x0000000000000000', '0x8000000000000000')"}}}},"items":["#
    );
    assert!(text.starts_with(&want_meta), "{text:.300}");
    // The halves partition the unsharded list.
    let (_, all) = h.get("/api/v1/pods").await;
    let (_, a) = h.get(&format!("/api/v1/pods?shardSelector={S0}")).await;
    let (_, b) = h.get(&format!("/api/v1/pods?shardSelector={S1}")).await;
    let mut both = [uids(&a), uids(&b)].concat();
    both.sort();
    let mut every = uids(&all);
    every.sort();
    assert_eq!(both, every);
    assert!(all["metadata"].get("shardInfo").is_none());
    // With a limit, pages hold only the shard's objects.
    let (_, page) = h.get(&format!("/api/v1/pods?limit=2&shardSelector={S0}")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, rest) = h
        .get(&format!(
            "/api/v1/pods?limit=2&shardSelector={S0}&continue={}",
            page["metadata"]["continue"].as_str().unwrap()
        ))
        .await;
    assert_eq!([uids(&page), uids(&rest)].concat(), uids(&a));
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_selectors_are_500_without_reason_for_lists_and_watches() {
    let sim = sim(true).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    for (file, sel) in [
        ("error-500-shard-field-name.json", "shardRange(object.metadata.name,'0x0','0x1')"),
        (
            "error-500-shard-field-name-16.json",
            "shardRange(object.metadata.name, '0x0000000000000000', '0x8000000000000000')",
        ),
        ("error-500-shard-bad-hex.json", "shardRange(object.metadata.uid, '0x00000000000000zz', '0x8000000000000000')"),
        (
            "error-500-shard-missing-quote.json",
            "shardRange(object.metadata.uid, '0x0000000000000000, '0x8000000000000000')",
        ),
        ("error-500-shard-short-hex.json", "shardRange(object.metadata.uid, '0x0', '0x8000000000000000')"),
        (
            "error-500-shard-start-not-less.json",
            "shardRange(object.metadata.uid, '0x8000000000000000', '0x0000000000000000')",
        ),
    ] {
        let (s, headers, body) = h.raw(&format!("/api/v1/pods?shardSelector={}", enc(sel))).await;
        assert_eq!((s, headers["content-type"].to_str().unwrap()), (500, "application/json"), "{file}");
        assert_eq!(String::from_utf8(body.to_vec()).unwrap(), wire(file), "{file}");
    }
    // A watch fails the same way before its stream starts.
    let bad = enc("shardRange(object.metadata.uid, '0x00000000000000zz', '0x8000000000000000')");
    let (s, _, body) = h.raw(&format!("/api/v1/configmaps?watch=1&timeoutSeconds=5&shardSelector={bad}")).await;
    assert_eq!((s, String::from_utf8(body.to_vec()).unwrap()), (500, wire("error-500-shard-bad-hex-watch.json")));
    sim.shutdown().await;
}

#[tokio::test]
async fn sharded_watches_and_streaming_lists_filter_events_not_bookmarks() {
    let sim = sim(true).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    // The capture's writes, with the objects' real uids: six ConfigMaps made and deleted.
    let unsharded: Vec<Value> =
        wire("configmaps.watch-unsharded.json").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let from = sim.store().current_rv();
    let h2 = Http::new(&sim.url(), Some(sim.token()));
    let w = tokio::spawn(async move {
        h2.watch(
            &format!("/api/v1/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion={from}&shardSelector={S0}"),
            30,
            Duration::from_secs(3),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for e in unsharded
        .iter()
        .filter(|e| e["object"]["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("shard-demo-")))
    {
        let m = &e["object"]["metadata"];
        let name = m["name"].as_str().unwrap();
        match e["type"].as_str().unwrap() {
            "ADDED" => {
                let mut o = e["object"].clone();
                o["metadata"].as_object_mut().unwrap().remove("resourceVersion");
                sim.store().create(o).unwrap();
            }
            "DELETED" => {
                sim.store().delete("v1", "ConfigMap", Some("shop"), name).unwrap();
            }
            _ => {}
        }
    }
    let (evs, _) = w.await.unwrap();
    let seen = |evs: &[Value]| -> Vec<String> {
        evs.iter()
            .filter(|e| e["type"] != "BOOKMARK")
            .map(|e| format!("{} {}", e["type"].as_str().unwrap(), e["object"]["metadata"]["name"].as_str().unwrap()))
            .collect()
    };
    let want: Vec<Value> =
        wire("configmaps.watch-shard0.json").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let want: Vec<String> = seen(&want).into_iter().filter(|e| e.contains("shard-demo")).collect();
    assert_eq!(seen(&evs), want);
    // Bookmarks come through unfiltered, with no shard information.
    let bm = evs.iter().find(|e| e["type"] == "BOOKMARK").expect("a bookmark");
    assert!(bm["object"]["metadata"].get("shardInfo").is_none());

    // A sharded streaming list: only the shard's objects, then the end bookmark.
    for name in ["shard-demo-1", "shard-demo-4"] {
        let uid =
            unsharded.iter().find(|e| e["object"]["metadata"]["name"] == name).unwrap()["object"]["metadata"]["uid"]
                .clone();
        sim.store()
            .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop", "uid": uid}}))
            .unwrap();
    }
    let (evs, _) = h
        .watch(
            &format!("/api/v1/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&shardSelector={S0}"),
            2,
            Duration::from_secs(3),
        )
        .await;
    assert_eq!(evs[0]["object"]["metadata"]["name"], "shard-demo-4");
    assert_eq!(evs[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    sim.shutdown().await;
}

#[tokio::test]
async fn with_the_gate_off_the_parameter_is_ignored_malformed_or_not() {
    let sim = sim(false).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let want = json_of("pods.list-shard0-gate-off.json");
    let bad = "shardRange%28object.metadata.uid%2C%20%270x00000000000000zz%27%2C%20%270x8000000000000000%27%29";
    for sel in [S0, bad] {
        let (s, got) = h.get(&format!("/api/v1/pods?shardSelector={sel}")).await;
        assert_eq!(s, 200);
        assert_eq!(uids(&got), uids(&want));
        assert!(got["metadata"].get("shardInfo").is_none());
    }
    // Switched on at run time, as after a restart with the gate.
    sim.set_sharded_list_and_watch(true);
    let (s, got) = h.get(&format!("/api/v1/pods?shardSelector={S0}")).await;
    assert_eq!((s, got["items"].as_array().unwrap().len()), (200, 3));
    sim.shutdown().await;
}
