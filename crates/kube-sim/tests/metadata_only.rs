//! Metadata-only lists and watches (`as=PartialObjectMetadataList` / `as=PartialObjectMetadata`), in
//! JSON and protobuf: each object arrives as kind, apiVersion and its `metadata` exactly as stored,
//! nothing else; the list and bookmarks keep their usual metadata.

mod common;

use common::Http;
use serde_json::{Value, json};

const LIST_PB: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const LIST_JSON: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const WATCH_PB: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
const WATCH_JSON: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
const CMS: &str = "/api/v1/namespaces/default/configmaps";

async fn sim_with_configmaps() -> (kube_sim::SimHandle, Vec<Value>) {
    let sim = kube_sim::start(kube_sim::SimConfig { tls: false, kubelets: false, ..Default::default() }).await.unwrap();
    let h = Http::new(&sim.url(), Some(sim.token()));
    let mut metas = Vec::new();
    for (name, size) in [("a", 10), ("b", 5000)] {
        let (s, cm) = h
            .post(
                CMS,
                &json!({"metadata": {"name": name, "labels": {"app": name}}, "data": {"blob": "x".repeat(size)}}),
            )
            .await;
        assert_eq!(s, 201);
        metas.push(cm["metadata"].clone());
    }
    (sim, metas)
}

fn partial(meta: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
}

/// The fields of a protobuf message, as (number, bytes) of its length-delimited fields.
fn fields(msg: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut r = kwire::Reader::new(msg);
    let mut out = Vec::new();
    while let Some(f) = r.next().unwrap() {
        if let kwire::Value::Bytes(b) = f.value {
            out.push((f.number, b.to_vec()));
        }
    }
    out
}

/// A `PartialObjectMetadata` message as JSON: it holds ObjectMeta at 1 and nothing else, which is also
/// how a ConfigMap with nothing but metadata is encoded.
fn pb_item(msg: &[u8]) -> Value {
    assert!(fields(msg).iter().all(|(n, _)| *n == 1), "only metadata");
    kwire::json::decode("api.core.v1.ConfigMap", msg).unwrap()["metadata"].clone()
}

#[tokio::test]
async fn lists_carry_each_objects_metadata_only() {
    let (sim, metas) = sim_with_configmaps().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let (_, full_headers, full) = h.raw_with(CMS, &[("accept", "application/json")]).await;
    assert_eq!(full_headers["content-type"], "application/json");

    let (s, headers, body) = h.raw_with(CMS, &[("accept", LIST_JSON)]).await;
    assert_eq!((s, headers["content-type"].to_str().unwrap()), (200, "application/json"));
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (list["kind"].as_str(), list["apiVersion"].as_str()),
        (Some("PartialObjectMetadataList"), Some("meta.k8s.io/v1"))
    );
    assert!(list["metadata"]["resourceVersion"].is_string());
    assert_eq!(list["items"], json!(metas.iter().map(partial).collect::<Vec<_>>()));
    assert!(body.len() * 4 < full.len(), "{} of {} bytes", body.len(), full.len());

    let (s, headers, body) = h.raw_with(CMS, &[("accept", LIST_PB)]).await;
    assert_eq!((s, headers["content-type"].to_str().unwrap()), (200, kwire::MEDIA_TYPE));
    let env = kwire::open(&body).unwrap();
    assert_eq!((env.api_version, env.kind), ("meta.k8s.io/v1", "PartialObjectMetadataList"));
    let f = fields(env.raw);
    assert_eq!(f[0].0, 1, "ListMeta first");
    let items: Vec<Value> = f.iter().filter(|(n, _)| *n == 2).map(|(_, b)| pb_item(b)).collect();
    assert_eq!(items, metas);

    // Pages keep their continue token; a single object comes the same way.
    let (_, _, page) = h.raw_with(&format!("{CMS}?limit=1"), &[("accept", LIST_JSON)]).await;
    let page: Value = serde_json::from_slice(&page).unwrap();
    assert_eq!(
        (page["items"].as_array().map(Vec::len), page["metadata"]["remainingItemCount"].as_u64()),
        (Some(1), Some(1))
    );
    let (_, _, one) = h.raw_with(&format!("{CMS}/a"), &[("accept", WATCH_JSON)]).await;
    assert_eq!(serde_json::from_slice::<Value>(&one).unwrap(), partial(&metas[0]));
    sim.shutdown().await;
}

#[tokio::test]
async fn streaming_lists_send_metadata_events_and_a_metadata_bookmark() {
    let (sim, metas) = sim_with_configmaps().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let q =
        "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1";

    let (_, _, body) = h.raw_with(&format!("{CMS}{q}"), &[("accept", WATCH_JSON)]).await;
    let events: Vec<Value> =
        body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(events[0], json!({"type": "ADDED", "object": partial(&metas[0])}));
    assert_eq!(events[1], json!({"type": "ADDED", "object": partial(&metas[1])}));
    let end = &events[2];
    assert_eq!(
        (end["type"].as_str(), end["object"]["kind"].as_str()),
        (Some("BOOKMARK"), Some("PartialObjectMetadata"))
    );
    assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(end["object"].as_object().map(|o| o.len()), Some(3), "kind, apiVersion, metadata: {end}");

    let (_, headers, body) = h.raw_with(&format!("{CMS}{q}"), &[("accept", WATCH_PB)]).await;
    assert_eq!(headers["content-type"], kwire::STREAM_MEDIA_TYPE);
    let mut frames = Vec::new();
    let mut splitter = kwire::FrameSplitter::default();
    splitter
        .feed(&body, |f| -> Result<(), ()> {
            frames.push(f.to_vec());
            Ok(())
        })
        .unwrap();
    let mut seen = Vec::new();
    for f in &frames {
        let ev = kwire::watch_event(f).unwrap();
        let env = kwire::open(ev.object).unwrap();
        assert_eq!((env.api_version, env.kind), ("meta.k8s.io/v1", "PartialObjectMetadata"), "{}", ev.kind);
        seen.push((ev.kind.to_owned(), pb_item(env.raw)));
    }
    assert_eq!(seen[..2], [("ADDED".to_owned(), metas[0].clone()), ("ADDED".to_owned(), metas[1].clone())]);
    assert_eq!(seen[2].0, "BOOKMARK");
    assert_eq!(seen[2].1["annotations"]["k8s.io/initial-events-end"], "true");
    sim.shutdown().await;
}
