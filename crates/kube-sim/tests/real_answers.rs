//! Answers shaped like a real kube-apiserver v1.36's where kube-sim used to differ: DELETE returns a
//! Status, list items carry no kind/apiVersion, /version has the emulation fields, server-side Table
//! columns for every kind `kubectl get -o wide` shows.

mod common;

use common::Http;
use kube_sim::SimConfig;
use serde_json::{Value, json};

async fn sim() -> kube_sim::SimHandle {
    kube_sim::start(SimConfig { tls: false, kubelets: false, ..Default::default() }).await.unwrap()
}

#[tokio::test]
async fn delete_answers_a_status_when_the_object_goes_at_once() {
    let sim = sim().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let (_, cm) = h.post("/api/v1/namespaces/default/configmaps", &json!({"metadata": {"name": "gone"}})).await;
    let (s, _, body) = h.req("DELETE", "/api/v1/namespaces/default/configmaps/gone", "", "").await;
    let uid = cm["metadata"]["uid"].as_str().unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": "gone", "kind": "configmaps", "uid": uid}})
    );
    let (_, d) = h
        .post(
            "/apis/apps/v1/namespaces/default/deployments",
            &json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}}}}),
        )
        .await;
    let (_, _, body) = h.req("DELETE", "/apis/apps/v1/namespaces/default/deployments/d", "", "").await;
    assert_eq!(
        body["details"],
        json!({"name": "d", "group": "apps", "kind": "deployments", "uid": d["metadata"]["uid"]})
    );
    // Services come back as the deleted object; objects held by finalizers as the marked object.
    h.post(
        "/api/v1/namespaces/default/services",
        &json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    let (_, _, body) = h.req("DELETE", "/api/v1/namespaces/default/services/svc", "", "").await;
    assert_eq!((body["kind"].as_str(), body["metadata"]["name"].as_str()), (Some("Service"), Some("svc")));
    h.post(
        "/api/v1/namespaces/default/configmaps",
        &json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .await;
    let (_, _, body) = h.req("DELETE", "/api/v1/namespaces/default/configmaps/held", "", "").await;
    assert_eq!(body["kind"], "ConfigMap");
    assert!(body["metadata"]["deletionTimestamp"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn list_items_have_no_kind_or_api_version_but_watch_events_and_gets_do() {
    let sim = sim().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let capture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire/lists/pods.list.json")).unwrap(),
    )
    .unwrap();
    for item in capture["items"].as_array().unwrap() {
        let mut o = item.clone();
        o["apiVersion"] = json!("v1");
        o["kind"] = json!("Pod");
        sim.store().create(o).unwrap();
    }
    let (_, _, raw) = h.raw("/api/v1/pods?resourceVersion=0").await;
    let text = String::from_utf8(raw.to_vec()).unwrap();
    assert!(text.starts_with(r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":""#), "{text:.80}");
    assert!(text.ends_with("]}\n"));
    let list: Value = serde_json::from_str(&text).unwrap();
    let strip_rv = |v: &Value| {
        let mut v = v.clone();
        v["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        v
    };
    let got: Vec<Value> = list["items"].as_array().unwrap().iter().map(strip_rv).collect();
    let want: Vec<Value> = capture["items"].as_array().unwrap().iter().map(strip_rv).collect();
    assert_eq!(got, want);
    assert!(text.contains(r#""items":[{"metadata":{"#), "items open with their metadata: {text:.200}");
    let (_, _, one) = h.raw("/api/v1/namespaces/shop/pods/checkout-5f7d9c8b6-q8zwn").await;
    assert!(one.starts_with(br#"{"kind":"Pod","apiVersion":"v1","metadata":"#));
    let (evs, _) = h.watch("/api/v1/namespaces/shop/pods?watch=1", 1, std::time::Duration::from_secs(2)).await;
    assert_eq!((evs[0]["object"]["kind"].as_str(), evs[0]["object"]["apiVersion"].as_str()), (Some("Pod"), Some("v1")));
    sim.shutdown().await;
}

#[tokio::test]
async fn version_has_the_real_servers_fields_in_its_order() {
    let sim = sim().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let (s, headers, body) = h.raw("/version").await;
    assert_eq!((s, headers["content-type"].to_str().unwrap()), (200, "application/json"));
    let body = String::from_utf8(body.to_vec()).unwrap();
    let capture = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire/version.json")).unwrap();
    let keys = |t: &str| -> Vec<String> {
        t.lines().filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string())).collect()
    };
    assert_eq!(keys(&body), keys(&capture));
    assert!(body.starts_with("{\n  \"major\": \"1\",\n") && body.ends_with("\n}"), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["emulationMinor"].as_str(), v["minCompatibilityMinor"].as_str()), (Some("36"), Some("35")));
    sim.shutdown().await;
}

#[tokio::test]
async fn tables_carry_the_wide_columns_with_priority_1() {
    let sim = sim().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let table = |path: &'static str| {
        let h = &h;
        async move {
            let (s, _, t) =
                h.req_accept("GET", path, "", "", Some("application/json;as=Table;v=v1;g=meta.k8s.io")).await;
            assert_eq!(s, 200);
            t["columnDefinitions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| format!("{}:{}", c["name"].as_str().unwrap(), c["priority"]))
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    assert_eq!(
        table("/apis/apps/v1/daemonsets").await,
        "Name:0 Desired:0 Current:0 Ready:0 Up-to-date:0 Available:0 Node Selector:0 Age:0 Containers:1 Images:1 Selector:1"
    );
    assert_eq!(table("/apis/apps/v1/statefulsets").await, "Name:0 Ready:0 Age:0 Containers:1 Images:1");
    assert_eq!(
        table("/apis/batch/v1/cronjobs").await,
        "Name:0 Schedule:0 Timezone:0 Suspend:0 Active:0 Last Schedule:0 Age:0 Containers:1 Images:1 Selector:1"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn json_is_indented_for_curl_and_browsers_only() {
    let sim = sim().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    h.post("/api/v1/namespaces/default/configmaps", &json!({"metadata": {"name": "a"}, "data": {"k": "v"}})).await;
    let list = "/api/v1/namespaces/default/configmaps";
    let curl = [("user-agent", "curl/8.5.0")];
    let (s, _, compact) = h.raw_with(list, &[("user-agent", "kubectl/v1.36.0 (linux/amd64) kubernetes/0")]).await;
    assert_eq!(s, 200);
    assert!(compact.ends_with(b"}\n") && compact.iter().filter(|b| **b == b'\n').count() == 1);
    let (_, headers, indented) = h.raw_with(list, &curl).await;
    let text = std::str::from_utf8(&indented).unwrap();
    assert!(text.starts_with("{\n  \"kind\": \"ConfigMapList\",\n  \"apiVersion\": \"v1\",\n"), "{text}");
    assert!(text.ends_with("\n}") && text.contains("\n      \"data\": {\n        \"k\": \"v\"\n      }"), "{text}");
    assert_eq!(indented, kube_sim::pretty::indent(&compact));
    assert!(headers.get("content-length").is_none_or(|l| l.to_str().unwrap() == indented.len().to_string()));
    // The parameter overrides the User-Agent both ways.
    assert_eq!(h.raw_with(&format!("{list}?pretty=false"), &curl).await.2, compact);
    assert_eq!(h.raw(&format!("{list}?pretty=true")).await.2, indented);
    // Errors are documents too; protobuf and watch streams are left alone.
    let (s, _, err) = h.raw_with("/api/v1/namespaces/default/configmaps/none", &curl).await;
    assert_eq!(s, 404);
    assert!(err.starts_with(b"{\n  \"kind\": \"Status\",\n"));
    let (_, headers, pb) =
        h.raw_with(list, &[curl[0], ("accept", "application/vnd.kubernetes.protobuf, application/json")]).await;
    assert_eq!(headers["content-type"], "application/vnd.kubernetes.protobuf");
    assert!(pb.starts_with(b"k8s\0"));
    let (_, _, events) = h.raw_with(&format!("{list}?watch=true&resourceVersion=0&timeoutSeconds=1"), &curl).await;
    let lines: Vec<&[u8]> = events.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "{}", String::from_utf8_lossy(&events));
    assert_eq!(serde_json::from_slice::<Value>(lines[0]).unwrap()["type"], "ADDED");
    // Indenting the real server's own indented answer gives it back byte for byte.
    let capture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire/version.json")).unwrap();
    assert_eq!(kube_sim::pretty::indent(&capture), capture);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_request_log_keeps_what_a_client_would_take_compressed() {
    let sim = sim().await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    h.raw("/api/v1/namespaces").await;
    h.raw_with("/api/v1/namespaces", &[("accept-encoding", "gzip")]).await;
    let log = sim.requests();
    let sent: Vec<&str> = log.iter().map(|r| r.accept_encoding.as_str()).collect();
    assert_eq!(sent, ["", "gzip"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn large_answers_are_gzipped_for_clients_that_take_it() {
    use std::io::Read as _;
    let synthetic = kube_sim::SyntheticConfig { nodes: 2, pods_per_node: 60, namespaces: 2, ..Default::default() };
    let sim =
        kube_sim::start(SimConfig { tls: false, kubelets: false, synthetic: Some(synthetic), ..Default::default() })
            .await
            .unwrap();
    let h = Http::new(&sim.url(), Some(sim.token()));
    let pods = "/api/v1/pods";
    let (_, plain_headers, plain) = h.raw(pods).await;
    assert!(plain_headers.get("content-encoding").is_none());
    assert!(plain.len() >= kube_sim::gzip::THRESHOLD, "{} bytes: too few pods for the test", plain.len());
    let (s, headers, z) = h.raw_with(pods, &[("accept-encoding", "gzip")]).await;
    assert_eq!((s, headers["content-encoding"].to_str().unwrap()), (200, "gzip"));
    assert_eq!(headers["vary"], "Accept-Encoding");
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&z[..]).read_to_end(&mut back).unwrap();
    let value = |b: &[u8]| -> Value { serde_json::from_slice(b).unwrap() };
    assert_eq!(value(&back)["items"], value(&plain)["items"]);
    assert!(z.len() * 4 < plain.len());
    // Below 128 KiB, or asked with a q-value the server does not read, or a watch: as it is.
    let (_, headers, _) = h.raw_with("/api/v1/namespaces", &[("accept-encoding", "gzip")]).await;
    assert!(headers.get("content-encoding").is_none());
    let (_, headers, _) = h.raw_with(pods, &[("accept-encoding", "gzip;q=1.0")]).await;
    assert!(headers.get("content-encoding").is_none());
    let watch = format!("{pods}?watch=true&resourceVersion=0&timeoutSeconds=1");
    let (_, headers, events) = h.raw_with(&watch, &[("accept-encoding", "gzip")]).await;
    assert!(headers.get("content-encoding").is_none() && events.len() >= kube_sim::gzip::THRESHOLD);
    // What the request log counts is what went over the wire.
    let log = sim.requests();
    let compressed = log.iter().find(|r| r.accept_encoding == "gzip" && r.path == pods && r.verb == "list").unwrap();
    assert_eq!(compressed.bytes, z.len() as u64);
    sim.shutdown().await;
}
