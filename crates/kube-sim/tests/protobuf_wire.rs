//! kube-sim answering in protobuf, as kube-apiserver does for clients that prefer it: every
//! protobuf answer decodes (with kwire's schema) to the values of the JSON answer to the same
//! request, and the shapes the real server produces are matched byte for byte against its captures
//! (kept in `crates/kwire/tests/wire`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kube_sim::{SimConfig, SimHandle};
use kwire::json::{decode_body, decode_watch_event, first_difference};
use serde_json::{Value, json};

const CLIENT_GO: &str = "application/vnd.kubernetes.protobuf,application/json";
const PROTOBUF_ONLY: &str = "application/vnd.kubernetes.protobuf";
const JSON: &str = "application/json";

fn capture(name: &str) -> Vec<u8> {
    let p = format!("{}/../kwire/tests/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The items of a captured list, with the type meta a stored object carries.
fn captured_items(list: &str, api_version: &str, kind: &str) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&capture(list)).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i["apiVersion"] = json!(api_version);
            i["kind"] = json!(kind);
            i
        })
        .collect()
}

async fn sim() -> SimHandle {
    let sim = kube_sim::start(SimConfig {
        tls: false,
        kubelets: false,
        bookmark_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    for (list, av, kind) in [
        ("namespaces.list.json", "v1", "Namespace"),
        ("pods.list.json", "v1", "Pod"),
        ("nodes.list.json", "v1", "Node"),
        ("configmaps.list.json", "v1", "ConfigMap"),
        ("services.list.json", "v1", "Service"),
        ("deployments.list.json", "apps/v1", "Deployment"),
        ("statefulsets.list.json", "apps/v1", "StatefulSet"),
        ("horizontalpodautoscalers.list.json", "autoscaling/v2", "HorizontalPodAutoscaler"),
        ("customresourcedefinitions.list.json", "apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ] {
        for o in captured_items(list, av, kind) {
            // The namespaces every cluster starts with exist already.
            if let Err(e) = sim.store().create(o) {
                assert_eq!(e.code, 409, "{list}: {e}");
            }
        }
    }
    let backup = json!({"apiVersion": "ops.example.com/v1", "kind": "Backup",
        "metadata": {"name": "nightly", "namespace": "shop"}, "spec": {"target": {"kind": "StatefulSet", "name": "db"}, "schedule": "0 1 * * *"}});
    sim.store().create(backup).unwrap();
    sim
}

struct Answer {
    status: u16,
    content_type: String,
    body: Bytes,
}

async fn get(sim: &SimHandle, path: &str, accept: &str, token: bool) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().uri(format!("{}{path}", sim.url())).header("Accept", accept);
    if token {
        req = req.header("Authorization", format!("Bearer {}", sim.token()));
    }
    let resp = client.request(req.body(Full::new(Bytes::new())).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").map(|h| h.to_str().unwrap().to_string()).unwrap_or_default();
    Answer { status, content_type, body: resp.into_body().collect().await.unwrap().to_bytes() }
}

fn assert_same(what: &str, protobuf: &Value, json: &Value) {
    if let Some(d) = first_difference(protobuf, json) {
        panic!("{what}: protobuf answer differs from the JSON answer at {d}");
    }
}

fn json_lines(body: &[u8]) -> Vec<Value> {
    body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect()
}

fn pb_events(body: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut s = kwire::FrameSplitter::default();
    s.feed(body, |f| -> Result<(), ()> {
        out.push(decode_watch_event(f).unwrap());
        Ok(())
    })
    .unwrap();
    assert_eq!(s.pending(), 0);
    out
}

#[tokio::test]
async fn lists_and_objects_answer_protobuf_that_decodes_to_the_json_answer() {
    let sim = sim().await;
    for path in [
        "/api/v1/pods",
        "/api/v1/nodes",
        "/api/v1/namespaces/shop/configmaps",
        "/api/v1/services",
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/statefulsets",
        "/apis/autoscaling/v2/horizontalpodautoscalers",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "/api/v1/pods?limit=2",
    ] {
        let pb = get(&sim, path, CLIENT_GO, true).await;
        assert_eq!((pb.status, pb.content_type.as_str()), (200, PROTOBUF_ONLY), "{path}");
        let js = get(&sim, path, JSON, true).await;
        assert_eq!((js.status, js.content_type.as_str()), (200, JSON), "{path}");
        let js: Value = serde_json::from_slice(&js.body).unwrap();
        assert!(!js["items"].as_array().unwrap().is_empty(), "{path}");
        assert_same(path, &decode_body(&pb.body).unwrap_or_else(|e| panic!("{path}: {e}")), &js);
    }

    let pod = "/api/v1/namespaces/shop/pods/checkout-5f7d9c8b6-q8zwn";
    let pb = get(&sim, pod, CLIENT_GO, true).await;
    assert_eq!((pb.status, pb.content_type.as_str()), (200, PROTOBUF_ONLY));
    let js: Value = serde_json::from_slice(&get(&sim, pod, JSON, true).await.body).unwrap();
    assert_same(pod, &decode_body(&pb.body).unwrap(), &js);

    // JSON first in Accept, or a table, still answers JSON.
    let a = get(&sim, "/api/v1/pods", "application/json, application/vnd.kubernetes.protobuf", true).await;
    assert_eq!(a.content_type, JSON);
    let t = get(&sim, "/api/v1/pods", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", true).await;
    assert_eq!(t.content_type, JSON);

    // The accounting shows what each answer was encoded as, and its size.
    let recs = sim.requests();
    let first = recs.iter().find(|r| r.path == "/api/v1/pods" && r.encoding == "protobuf").unwrap();
    assert_eq!(first.content_type, PROTOBUF_ONLY);
    assert!(recs.iter().any(|r| r.path == "/api/v1/pods" && r.encoding == "json"));
    assert!(first.bytes > 1000);
    sim.shutdown().await;
}

#[tokio::test]
async fn errors_answer_the_servers_protobuf_status_bytes() {
    let sim = sim().await;
    let missing = get(&sim, "/api/v1/namespaces/shop/pods/does-not-exist", CLIENT_GO, true).await;
    assert_eq!((missing.status, missing.content_type.as_str()), (404, PROTOBUF_ONLY));
    assert!(missing.body.to_vec() == capture("error-404-notfound.pb"));
    let unauth = get(&sim, "/api/v1/pods", PROTOBUF_ONLY, false).await;
    assert_eq!((unauth.status, unauth.content_type.as_str()), (401, PROTOBUF_ONLY));
    assert!(unauth.body.to_vec() == capture("error-401-unauthorized.pb"));
    let js: Value = serde_json::from_slice(&get(&sim, "/api/v1/pods", JSON, false).await.body).unwrap();
    assert_same("401", &decode_body(&unauth.body).unwrap(), &js);

    // Custom resources have no protobuf form: JSON when the client takes it, else 406 with a
    // protobuf Status, as captured.
    let cr = get(&sim, "/apis/ops.example.com/v1/backups", CLIENT_GO, true).await;
    assert_eq!((cr.status, cr.content_type.as_str()), (200, JSON));
    let refused = get(&sim, "/apis/ops.example.com/v1/backups", PROTOBUF_ONLY, true).await;
    assert_eq!((refused.status, refused.content_type.as_str()), (406, PROTOBUF_ONLY));
    assert!(refused.body.to_vec() == capture("error-406-cr-protobuf.pb"));
    sim.shutdown().await;
}

#[tokio::test]
async fn watches_answer_frames_that_decode_to_the_json_events() {
    let sim = sim().await;
    let rv = sim.store().current_rv();
    let path = format!(
        "/api/v1/namespaces/shop/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=2"
    );
    let p2 = path.clone();
    let pb_watch = tokio::spawn({
        let sim_url = sim.url();
        let token = sim.token().to_string();
        async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let req = http::Request::builder()
                .uri(format!("{sim_url}{p2}"))
                .header("Accept", CLIENT_GO)
                .header("Authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            let resp = client.request(req).await.unwrap();
            let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
            (ct, resp.into_body().collect().await.unwrap().to_bytes())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watch-demo", "namespace": "shop",
        "labels": {"app": "demo"}}, "data": {"a": "1"}});
    sim.store().create(cm.clone()).unwrap();
    let mut changed = cm.clone();
    changed["data"]["a"] = json!("2");
    sim.store().update(changed).unwrap();
    sim.store().delete("v1", "ConfigMap", Some("shop"), "watch-demo").unwrap();
    let (ct, pb) = pb_watch.await.unwrap();
    assert_eq!(ct, kwire::STREAM_MEDIA_TYPE);
    // The same watch in JSON, replayed from the same version once the events happened.
    let js = get(&sim, &path, JSON, true).await;
    let pb_events = pb_events(&pb);
    let js_events = json_lines(&js.body);
    let kinds = |evs: &[Value]| {
        evs.iter().map(|e| e["type"].as_str().unwrap().to_string()).filter(|t| t != "BOOKMARK").collect::<Vec<_>>()
    };
    assert_eq!(kinds(&pb_events), ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(kinds(&pb_events), kinds(&js_events));
    let not_bookmarks = |evs: &[Value]| evs.iter().filter(|e| e["type"] != "BOOKMARK").cloned().collect::<Vec<_>>();
    for (p, j) in not_bookmarks(&pb_events).iter().zip(not_bookmarks(&js_events).iter()) {
        assert_same("watch event", p, j);
    }
    let bookmark = pb_events.iter().find(|e| e["type"] == "BOOKMARK").expect("a bookmark within 2 s");
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert!(bookmark["object"]["metadata"]["resourceVersion"].as_str().is_some_and(|v| !v.is_empty()));
    sim.shutdown().await;
}

#[tokio::test]
async fn streaming_lists_errors_and_refusals_arrive_as_frames() {
    let sim = sim().await;
    let list = "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1";
    let pb = pb_events(&get(&sim, list, CLIENT_GO, true).await.body);
    let js = json_lines(&get(&sim, list, JSON, true).await.body);
    let end = |evs: &[Value]| {
        evs.iter().position(|e| e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true")
    };
    assert_eq!((end(&pb), end(&js)), (Some(4), Some(4)), "four pods, then the initial-events-end bookmark");
    // Periodic bookmarks follow at their own pace in each stream.
    for (p, j) in pb[..5].iter().zip(&js[..5]) {
        assert_same("streaming list", p, j);
    }

    // A watch from a version the window no longer holds ends with an ERROR event (410).
    sim.expire_events();
    let gone = get(&sim, "/api/v1/pods?watch=1&resourceVersion=1", CLIENT_GO, true).await;
    let ev = pb_events(&gone.body);
    let js = json_lines(&get(&sim, "/api/v1/pods?watch=1&resourceVersion=1", JSON, true).await.body);
    assert_eq!((ev.len(), ev[0]["type"].as_str(), ev[0]["object"]["code"].as_i64()), (1, Some("ERROR"), Some(410)));
    assert_same("410", &ev[0], &js[0]);

    // Refused streaming lists: the server's bytes.
    sim.set_streaming_lists(false);
    let refused = get(&sim, list, CLIENT_GO, true).await;
    assert_eq!((refused.status, refused.content_type.as_str()), (200, kwire::STREAM_MEDIA_TYPE));
    assert!(refused.body.to_vec() == capture("pods.watchlist-refused.pb"));
    sim.shutdown().await;
}

#[tokio::test]
async fn json_only_answers_json_and_refuses_protobuf_only_clients() {
    let sim = sim().await;
    sim.set_json_only(true);
    let a = get(&sim, "/api/v1/pods", CLIENT_GO, true).await;
    assert_eq!((a.status, a.content_type.as_str()), (200, JSON));
    let w = get(&sim, "/api/v1/pods?watch=1&timeoutSeconds=1", CLIENT_GO, true).await;
    assert_eq!(w.content_type, JSON);
    let refused = get(&sim, "/api/v1/pods", PROTOBUF_ONLY, true).await;
    assert_eq!((refused.status, refused.content_type.as_str()), (406, JSON));
    let s: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(s["message"], "only the following media types are accepted: application/json, application/yaml");
    sim.set_json_only(false);
    assert_eq!(get(&sim, "/api/v1/pods", CLIENT_GO, true).await.content_type, PROTOBUF_ONLY);
    assert!(sim.requests().iter().any(|r| r.status == 406 && r.encoding == "json"));
    sim.shutdown().await;
}
