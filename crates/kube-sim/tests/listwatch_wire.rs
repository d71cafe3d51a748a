//! List and watch answered as a real kube-apiserver v1.36 answers them, checked against its captured
//! responses in `tests/wire/` (see the README there): streaming lists and their refusal, lists at
//! resourceVersion 0, future resourceVersions, plus the request accounting and the restart as another
//! cluster that tests build on.

mod common;

use std::time::{Duration, Instant};

use common::Http;
use kube_sim::{Cluster, SimConfig, SimHandle};
use serde_json::{Value, json};

const WATCHLIST: &str = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";

fn wire(name: &str) -> String {
    let p = format!("{}/tests/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn events(body: &[u8]) -> Vec<Value> {
    body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect()
}

/// The objects a captured streaming list started with (its ADDED events before the first bookmark).
fn initial_objects(capture: &str) -> Vec<Value> {
    events(capture.as_bytes())
        .into_iter()
        .take_while(|e| e["type"] == "ADDED")
        .map(|e| {
            let mut o = e["object"].clone();
            o["metadata"].as_object_mut().unwrap().remove("resourceVersion");
            o
        })
        .collect()
}

fn without_rv(o: &Value) -> Value {
    let mut o = o.clone();
    o["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    o
}

fn summary(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| {
            let m = &e["object"]["metadata"];
            let end = if m["annotations"]["k8s.io/initial-events-end"] == "true" { "*" } else { "" };
            format!(
                "{} {}/{}{end}",
                e["type"].as_str().unwrap(),
                m["namespace"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The capture's line for the first event of `etype`, with its resourceVersion replaced by `rv`.
fn captured_line(capture: &str, etype: &str, nth: usize, rv: u64) -> String {
    let line = capture.lines().filter(|l| l.starts_with(&format!("{{\"type\":\"{etype}\""))).nth(nth).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    let old = v["object"]["metadata"]["resourceVersion"].as_str().unwrap();
    line.replace(&format!("\"resourceVersion\":\"{old}\""), &format!("\"resourceVersion\":\"{rv}\""))
}

fn line_of<'a>(body: &'a str, etype: &str, nth: usize) -> &'a str {
    body.lines().filter(|l| l.starts_with(&format!("{{\"type\":\"{etype}\""))).nth(nth).unwrap()
}

async fn sim(streaming_lists: bool, objects: &[Value]) -> SimHandle {
    let sim = kube_sim::start(SimConfig {
        tls: false,
        kubelets: false,
        streaming_lists,
        rv_wait: Duration::from_millis(300),
        bookmark_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    for o in objects {
        sim.store().create(o.clone()).unwrap();
    }
    sim
}

#[tokio::test]
async fn streaming_list_sends_state_then_the_initial_events_end_bookmark_as_captured() {
    let capture = wire("configmaps.watchlist.json");
    let objects = initial_objects(&capture);
    assert_eq!(objects.len(), 6);
    let sim = sim(true, &objects).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let rv = sim.store().current_rv();

    for rv_param in ["", "&resourceVersion=", "&resourceVersion=0"] {
        let (s, headers, body) = h.raw(&format!("/api/v1/configmaps?{WATCHLIST}&timeoutSeconds=1{rv_param}")).await;
        assert_eq!((s, headers["content-type"].to_str().unwrap()), (200, "application/json"));
        let body = String::from_utf8(body.to_vec()).unwrap();
        let got = events(body.as_bytes());
        let want = events(capture.as_bytes());
        // Same objects in the same order (namespace/name), then the bookmark: A A A A A A B*.
        assert_eq!(summary(&got[..7]), summary(&want[..7]), "{rv_param}");
        for (g, w) in got[..6].iter().zip(&want[..6]) {
            assert_eq!(without_rv(&g["object"]), without_rv(&w["object"]));
        }
        // The bookmark, byte for byte, at the version the state is consistent with.
        assert_eq!(line_of(&body, "BOOKMARK", 0), captured_line(&capture, "BOOKMARK", 0, rv), "{rv_param}");
    }

    // A given resourceVersion: the end bookmark carries it, then a plain bookmark the current one
    // (the capture's B405* B409).
    let asked = rv - 3;
    let capture = wire("configmaps.watchlist-rv405.json");
    let (_, _, body) = h.raw(&format!("/api/v1/configmaps?{WATCHLIST}&timeoutSeconds=1&resourceVersion={asked}")).await;
    let body = String::from_utf8(body.to_vec()).unwrap();
    let got = events(body.as_bytes());
    assert_eq!(summary(&got[..8]), summary(&events(capture.as_bytes())[..8]));
    assert_eq!(line_of(&body, "BOOKMARK", 0), captured_line(&capture, "BOOKMARK", 0, asked));
    assert_eq!(line_of(&body, "BOOKMARK", 1), captured_line(&capture, "BOOKMARK", 1, rv));

    // After the initial events it is an ordinary watch.
    let h2 = Http::new(&sim.url(), Some(sim.token()));
    let w = tokio::spawn(async move {
        h2.watch(&format!("/api/v1/configmaps?{WATCHLIST}"), 30, Duration::from_millis(1500)).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "later", "namespace": "shop"}}))
        .unwrap();
    let (got, _) = w.await.unwrap();
    let got: Vec<String> = summary(&got).into_iter().filter(|e| e != "BOOKMARK /").collect();
    assert_eq!(got[6..], ["BOOKMARK /*", "ADDED shop/later"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn pod_bookmarks_carry_the_empty_spec_and_status_as_captured() {
    let capture = wire("pods.watchlist.json");
    let objects = initial_objects(&capture);
    assert_eq!(objects.len(), 4);
    let sim = sim(true, &objects).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let rv = sim.store().current_rv();
    let (_, _, body) = h.raw(&format!("/api/v1/pods?{WATCHLIST}&timeoutSeconds=1")).await;
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(summary(&events(body.as_bytes()))[..5], summary(&events(capture.as_bytes()))[..5]);
    assert_eq!(line_of(&body, "BOOKMARK", 0), captured_line(&capture, "BOOKMARK", 0, rv));
    // A plain bookmark later in the stream has the same shape without the annotation.
    let (evs, _) = h
        .watch(
            &format!("/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"),
            1,
            Duration::from_secs(3),
        )
        .await;
    let bm = evs.iter().find(|e| e["type"] == "BOOKMARK").expect("a bookmark within 3 s");
    assert_eq!(bm["object"]["spec"], json!({"containers": null}));
    assert_eq!(bm["object"]["status"], json!({}));
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_streaming_list_is_what_an_etcd_3_4_server_sends() {
    let sim = sim(false, &[]).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let (s, headers, body) = h.raw(&format!("/api/v1/pods?{WATCHLIST}")).await;
    assert_eq!((s, headers["content-type"].to_str().unwrap()), (200, "application/json"));
    assert_eq!(String::from_utf8(body.to_vec()).unwrap(), wire("pods.watchlist-refused.json"));
    // Ordinary watches and lists are unaffected.
    let (evs, _) = h.watch("/api/v1/namespaces?watch=1", 2, Duration::from_secs(2)).await;
    assert_eq!(summary(&evs), ["ADDED /default", "ADDED /kube-system"]);

    // Switched at run time, in process and on the admin port.
    sim.set_streaming_lists(true);
    let (evs, _) = h.watch(&format!("/api/v1/namespaces?{WATCHLIST}"), 3, Duration::from_secs(2)).await;
    assert_eq!(evs[2]["type"], "BOOKMARK");
    let mut sim = sim;
    let admin = sim.serve_admin("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let a = Http::new(&format!("http://{admin}"), None);
    let (s, _, state) = a.req("POST", "/faults/streaming-lists?enabled=false", "", "").await;
    assert_eq!((s, &state["streamingLists"]), (200, &json!(false)));
    let (_, _, body) = h.raw(&format!("/api/v1/namespaces?{WATCHLIST}")).await;
    assert_eq!(String::from_utf8(body.to_vec()).unwrap(), wire("pods.watchlist-refused.json"));
    assert_eq!(a.req("POST", "/faults/streaming-lists?enabled=maybe", "", "").await.0, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn list_at_resource_version_0_is_one_response_whatever_the_limit() {
    let objects: Vec<Value> = (0..5)
        .map(|i| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}"), "namespace": "default"}}))
        .collect();
    let sim = sim(true, &objects).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let (s, l) = h.get("/api/v1/configmaps?limit=2&resourceVersion=0").await;
    assert_eq!((s, l["items"].as_array().unwrap().len()), (200, 5));
    assert!(l["metadata"].get("continue").is_none() && l["metadata"].get("remainingItemCount").is_none());
    assert_eq!(l["metadata"]["resourceVersion"], sim.store().current_rv().to_string());
    // Without it, the limit pages.
    let (_, l) = h.get("/api/v1/configmaps?limit=2").await;
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
    assert!(l["metadata"]["continue"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn future_resource_version_list_504_watch_silent() {
    let sim = sim(true, &[]).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let cur = sim.store().current_rv();

    // A list waits for the version, then answers the watch cache's 504.
    let t = Instant::now();
    let (s, headers, body) = h.raw("/api/v1/pods?resourceVersion=999999999&resourceVersionMatch=NotOlderThan").await;
    assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
    assert_eq!((s, headers["retry-after"].to_str().unwrap()), (504, "1"));
    let want = wire("error-504-rv-too-large.json").replace("current: 428", &format!("current: {cur}"));
    assert_eq!(String::from_utf8(body.to_vec()).unwrap(), want);

    // Reached during the wait: served.
    let store_writer = {
        let h = Http::new(&sim.url(), Some(sim.token()));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            h.post(
                "/api/v1/namespaces/default/configmaps",
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "soon"}}),
            )
            .await
        })
    };
    let (s, l) = h.get(&format!("/api/v1/configmaps?resourceVersion={}", cur + 1)).await;
    assert_eq!((s, l["items"].as_array().unwrap().len()), (200, 1));
    assert_eq!(store_writer.await.unwrap().0, 201);

    // A watch from a version not reached yet stays silent (no error, no bookmark) until the store
    // passes it, then sends what comes after it.
    let from = sim.store().current_rv() + 2;
    let h2 = Http::new(&sim.url(), Some(sim.token()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let w = tokio::spawn(async move {
        // One event at a time, so that the first one is seen when it comes.
        let path = format!("/api/v1/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion={from}");
        let (evs, _) = h2.watch(&path, 4, Duration::from_millis(2500)).await;
        let _ = tx.send(evs);
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        rx.try_recv().is_err() && !w.is_finished(),
        "the watch said something before the store reached its version"
    );
    for name in ["f1", "f2", "f3"] {
        sim.store()
            .create(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}),
            )
            .unwrap();
    }
    w.await.unwrap();
    let evs = rx.recv().await.unwrap();
    // Bookmarks may come once the version is reached; the only event is what came after it.
    let changes: Vec<String> = summary(&evs).into_iter().filter(|e| !e.starts_with("BOOKMARK")).collect();
    assert_eq!(changes, ["ADDED default/f3"]);

    // A streaming list at a version not reached in time ends with the same Status in an ERROR event.
    let (s, _, body) = h.raw(&format!("/api/v1/configmaps?{WATCHLIST}&resourceVersion=999999999")).await;
    let evs = events(&body);
    assert_eq!((s, evs.len(), evs[0]["type"].as_str()), (200, 1, Some("ERROR")));
    assert_eq!(evs[0]["object"]["code"], 504);
    assert_eq!(evs[0]["object"]["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
    sim.shutdown().await;
}

#[tokio::test]
async fn every_request_is_accounted_in_process_and_on_the_admin_port() {
    let mut sim = sim(true, &[]).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    h.get("/api/v1/namespaces").await;
    sim.reset_requests();
    assert!(sim.requests().is_empty());

    let (_, _, list) = h.raw("/api/v1/namespaces?limit=500").await;
    let (_, _, watch) = h.raw(&format!("/api/v1/namespaces?{WATCHLIST}&timeoutSeconds=1")).await;
    let (_, _, missing) = h.raw("/api/v1/namespaces/nope").await;
    let (_, _, version) = h.raw("/version").await;
    let r = sim.requests();
    let seen: Vec<(&str, &str, &str, &str, u16, u64, bool)> = r
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.query.as_str(), r.verb.as_str(), r.status, r.bytes, r.done))
        .collect();
    let q = format!("{WATCHLIST}&timeoutSeconds=1");
    assert_eq!(
        seen,
        [
            ("GET", "/api/v1/namespaces", "limit=500", "list", 200, list.len() as u64, true),
            ("GET", "/api/v1/namespaces", q.as_str(), "watch", 200, watch.len() as u64, true),
            ("GET", "/api/v1/namespaces/nope", "", "get", 404, missing.len() as u64, true),
            ("GET", "/version", "", "other", 200, version.len() as u64, true),
        ]
    );
    assert!(r.iter().all(|r| r.content_type == "application/json"), "{r:?}");
    assert!(r[1].is_streaming_list() && !r[0].is_streaming_list());
    assert_eq!(r[0].param("limit").as_deref(), Some("500"));

    let admin = sim.serve_admin("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let a = Http::new(&format!("http://{admin}"), None);
    let (s, v) = a.get("/requests?prefix=/api/v1/namespaces&verb=list").await;
    assert_eq!((s, &v["count"], &v["bytes"]), (200, &json!(1), &json!(list.len())));
    assert_eq!(v["requests"][0]["query"], "limit=500");
    assert_eq!(v["requests"][0]["contentType"], "application/json");
    let (s, _, v) = a.req("POST", "/requests/reset", "", "").await;
    assert_eq!((s, &v["count"]), (200, &json!(0)));
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn restart_as_another_cluster_at_the_same_address_with_the_same_certificates() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams};
    let sim = kube_sim::start(SimConfig { kubelets: false, ..Default::default() }).await.unwrap();
    let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}});
    for i in 0..20 {
        sim.store().create(cm(&format!("old-{i}"))).unwrap();
    }
    let kc = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let before = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(before.items.len(), 20);
    let (addr, url) = (sim.addr(), sim.url());

    sim.restart_as(Cluster { objects: vec![cm("new")], ..Default::default() }).await.unwrap();
    assert_eq!((sim.addr(), sim.url()), (addr, url));
    // The same client (same CA, same token) reads the other cluster, at lower resourceVersions.
    let after = api.list(&ListParams::default()).await.unwrap();
    let names: Vec<String> = after.items.iter().map(|c| c.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["new"]);
    let rv =
        |l: &kube::core::ObjectList<ConfigMap>| l.metadata.resource_version.clone().unwrap().parse::<u64>().unwrap();
    assert!(rv(&after) < rv(&before), "{} !< {}", rv(&after), rv(&before));
    assert!(sim.store().get("v1", "Namespace", None, "kube-system").is_some());
    sim.shutdown().await;
}
