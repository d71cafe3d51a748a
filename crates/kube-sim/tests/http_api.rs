//! The HTTP API over plain HTTP: discovery, CRUD, selectors, pagination, watch, errors, auth.

mod common;

use std::time::Duration;

use common::{Http, plain_sim};
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

#[tokio::test]
async fn discovery_lists_every_group() {
    let sim = plain_sim(100).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let (s, v) = h.get("/version").await;
    assert_eq!((s, v["major"].as_str()), (200, Some("1")));
    let (_, api) = h.get("/api").await;
    assert_eq!(api["versions"], json!(["v1"]));
    let (_, groups) = h.get("/apis").await;
    let names: Vec<&str> = groups["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    for g in [
        "apps",
        "batch",
        "autoscaling",
        "networking.k8s.io",
        "policy",
        "storage.k8s.io",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "admissionregistration.k8s.io",
        "rbac.authorization.k8s.io",
        "discovery.k8s.io",
        "apiextensions.k8s.io",
    ] {
        assert!(names.contains(&g), "missing group {g}");
    }
    let (_, core) = h.get("/api/v1").await;
    let pods = core["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods").unwrap();
    assert_eq!(pods["namespaced"], true);
    assert!(core["resources"].as_array().unwrap().iter().any(|r| r["name"] == "pods/status"));
    let (s, hpa) = h.get("/apis/autoscaling/v2").await;
    assert_eq!(s, 200);
    assert_eq!(hpa["resources"][0]["kind"], "HorizontalPodAutoscaler");
    let (s, st) = h.get("/apis/nope/v1").await;
    assert_eq!((s, st["kind"].as_str(), st["reason"].as_str()), (404, Some("Status"), Some("NotFound")));
    sim.shutdown().await;
}

#[tokio::test]
async fn crud_and_errors() {
    let sim = plain_sim(100).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let base = "/api/v1/namespaces/default/configmaps";
    let (s, created) = h.post(base, &cm("a", json!({"app": "x"}))).await;
    assert_eq!(s, 201);
    let meta = &created["metadata"];
    assert!(meta["uid"].as_str().unwrap().len() == 36);
    assert!(meta["creationTimestamp"].is_string());
    let rv = meta["resourceVersion"].as_str().unwrap().to_string();
    let (s, st) = h.post(base, &cm("a", json!({}))).await;
    assert_eq!((s, st["reason"].as_str()), (409, Some("AlreadyExists")));
    // Optimistic concurrency.
    let mut upd = created.clone();
    upd["data"]["k"] = json!("v2");
    let (s, _, updated) = h.req("PUT", &format!("{base}/a"), "application/json", &upd.to_string()).await;
    assert_eq!(s, 200);
    assert_ne!(updated["metadata"]["resourceVersion"].as_str().unwrap(), rv);
    let (s, _, st) = h.req("PUT", &format!("{base}/a"), "application/json", &upd.to_string()).await;
    assert_eq!((s, st["reason"].as_str()), (409, Some("Conflict")));
    // Namespace that does not exist.
    let (s, st) = h.post("/api/v1/namespaces/nope/configmaps", &cm("b", json!({}))).await;
    assert_eq!((s, st["details"]["kind"].as_str()), (404, Some("namespaces")));
    // Bad body, bad selector, unknown method, protobuf body, missing name.
    let (s, ct, st) = h.req("POST", base, "application/json", "{not json").await;
    assert_eq!((s, ct.as_str(), st["kind"].as_str()), (400, "application/json", Some("Status")));
    let (s, _) = h.get(&format!("{base}?labelSelector=a%20in%20b")).await;
    assert_eq!(s, 400);
    let (s, _) = h.get("/api/v1/pods?fieldSelector=spec.bogus%3Dx").await;
    assert_eq!(s, 400);
    let (s, _, _) = h.req("PUT", base, "application/json", "{}").await;
    assert_eq!(s, 405);
    let (s, _, _) = h.req("POST", base, "application/vnd.kubernetes.protobuf", "k8s\0xx").await;
    assert_eq!(s, 415);
    let (s, st) = h.post(base, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})).await;
    assert_eq!((s, st["reason"].as_str()), (422, Some("Invalid")));
    let (s, generated) =
        h.post(base, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})).await;
    assert_eq!(s, 201);
    assert!(generated["metadata"]["name"].as_str().unwrap().starts_with("gen-"));
    let (s, _) = h.post(&format!("{base}?dryRun=All"), &cm("dry", json!({}))).await;
    assert_eq!(s, 400);
    assert_eq!(h.get(&format!("{base}/dry")).await.0, 404);
    // Injected faults.
    sim.inject_error(base, 429, 1);
    assert_eq!(h.get(base).await.0, 429);
    sim.inject_error(base, 500, 1);
    let (s, st) = h.get(base).await;
    assert_eq!((s, st["code"].as_u64()), (500, Some(500)));
    assert_eq!(h.get(base).await.0, 200);
    // Delete with a stale precondition, then for real.
    let (s, _, _) =
        h.req("DELETE", &format!("{base}/a"), "application/json", r#"{"preconditions":{"resourceVersion":"1"}}"#).await;
    assert_eq!(s, 409);
    let (s, _, _) = h.req("DELETE", &format!("{base}/a"), "", "").await;
    assert_eq!(s, 200);
    assert_eq!(h.get(&format!("{base}/a")).await.0, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn authentication_with_token_file() {
    let dir = std::env::temp_dir().join(format!("kube-sim-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("tokens.csv");
    std::fs::write(&f, "reader-token,alice,1001,\"devs,ops\"\n").unwrap();
    let sim = kube_sim::start(kube_sim::SimConfig { tls: false, token_auth_file: Some(f), ..Default::default() })
        .await
        .unwrap();
    let anon = Http::new(&sim.url(), None);
    let (s, st) = anon.get("/api/v1/pods").await;
    assert_eq!((s, st["reason"].as_str()), (401, Some("Unauthorized")));
    assert_eq!(Http::new(&sim.url(), Some("wrong")).get("/api/v1/pods").await.0, 401);
    assert_eq!(Http::new(&sim.url(), Some("reader-token")).get("/api/v1/pods").await.0, 200);
    assert_eq!(Http::new(&sim.url(), Some(kube_sim::DEFAULT_TOKEN)).get("/api/v1/pods").await.0, 200);
    assert_eq!(anon.get("/version").await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn selectors_and_pagination() {
    let sim = plain_sim(1000).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    for i in 0..25 {
        let tier = if i % 2 == 0 { "front" } else { "back" };
        h.post(
            "/api/v1/namespaces/default/configmaps",
            &cm(&format!("cm-{i:02}"), json!({"tier": tier, "n": i.to_string()})),
        )
        .await;
    }
    let count = |v: &serde_json::Value| v["items"].as_array().unwrap().len();
    let (_, v) = h.get("/api/v1/configmaps?labelSelector=tier%3Dfront").await;
    assert_eq!(count(&v), 13);
    let (_, v) = h.get("/api/v1/namespaces/default/configmaps?labelSelector=tier!%3Dfront").await;
    assert_eq!(count(&v), 12);
    let (_, v) = h.get("/api/v1/configmaps?labelSelector=n%20in%20(1,2,3),tier").await;
    assert_eq!(count(&v), 3);
    let (_, v) = h.get("/api/v1/configmaps?labelSelector=!tier").await;
    assert_eq!(count(&v), 0);
    let (_, v) = h.get("/api/v1/configmaps?fieldSelector=metadata.name%3Dcm-03").await;
    assert_eq!(count(&v), 1);
    let (_, v) = h.get("/api/v1/configmaps?fieldSelector=metadata.namespace!%3Ddefault").await;
    assert_eq!(count(&v), 0);
    // Pages of 10 cover everything exactly once.
    let mut names = Vec::new();
    let mut cont = String::new();
    let mut pages = 0;
    loop {
        let (s, v) = h.get(&format!("/api/v1/configmaps?limit=10&continue={cont}")).await;
        assert_eq!(s, 200);
        pages += 1;
        names
            .extend(v["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()));
        match v["metadata"]["continue"].as_str() {
            Some(c) => {
                // Counted from the earlier pages' total carried in the token, not by walking the rest.
                assert_eq!(v["metadata"]["remainingItemCount"], 25 - 10 * pages, "page {pages}");
                cont = c.to_string()
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 25);
    // A continue token from before an expired window is 410.
    let (_, v) = h.get("/api/v1/configmaps?limit=5").await;
    let c = v["metadata"]["continue"].as_str().unwrap().to_string();
    h.post("/api/v1/namespaces/default/configmaps", &cm("later", json!({}))).await;
    sim.expire_events();
    let (s, st) = h.get(&format!("/api/v1/configmaps?limit=5&continue={c}")).await;
    assert_eq!((s, st["reason"].as_str(), st["code"].as_u64()), (410, Some("Expired"), Some(410)));
    // Pods by node.
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "default"}, "spec": {"nodeName": "n1", "containers": []}}))
        .unwrap();
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2", "namespace": "default"}, "spec": {"containers": []}}))
        .unwrap();
    let (_, v) = h.get("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1").await;
    assert_eq!(v["items"][0]["metadata"]["name"], "p1");
    let (_, v) = h.get("/api/v1/pods?fieldSelector=spec.nodeName%3D").await;
    assert_eq!(count(&v), 1);
    assert_eq!(v["items"][0]["metadata"]["name"], "p2");
    // Table output.
    let (s, _, t) = h
        .req_accept(
            "GET",
            "/api/v1/namespaces/default/pods",
            "",
            "",
            Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
        )
        .await;
    assert_eq!((s, t["kind"].as_str()), (200, Some("Table")));
    assert_eq!(t["rows"].as_array().unwrap().len(), 2);
    assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_resume_bookmarks_410_and_initial_events() {
    let sim = plain_sim(5).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let base = "/api/v1/namespaces/default/configmaps";
    let (_, first) = h.post(base, &cm("w0", json!({"a": "1"}))).await;
    let rv0 = first["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    h.post(base, &cm("w1", json!({"a": "2"}))).await;
    h.req("DELETE", &format!("{base}/w0"), "", "").await;
    // Resume from rv0: the retained events after it.
    let (ev, _) = h.watch(&format!("{base}?watch=true&resourceVersion={rv0}"), 2, Duration::from_secs(2)).await;
    assert_eq!(ev[0]["type"], "ADDED");
    assert_eq!(ev[0]["object"]["metadata"]["name"], "w1");
    assert_eq!(ev[1]["type"], "DELETED");
    // Label-selected watch: a label change out of the selection is a DELETED.
    let h2 = Http::new(&sim.url(), Some(sim.token()));
    let rv = sim.store().current_rv();
    let watch = tokio::spawn(async move {
        h2.watch(
            &format!("/api/v1/configmaps?watch=1&labelSelector=a%3D2&resourceVersion={rv}&allowWatchBookmarks=true"),
            3,
            Duration::from_secs(3),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.req("PATCH", &format!("{base}/w1"), "application/merge-patch+json", r#"{"metadata":{"labels":{"a":"3"}}}"#).await;
    let (ev, _) = watch.await.unwrap();
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"DELETED"), "{types:?}");
    assert!(types.contains(&"BOOKMARK"), "{types:?}");
    let bm = ev.iter().find(|e| e["type"] == "BOOKMARK").unwrap();
    assert_eq!(bm["object"]["kind"], "ConfigMap");
    assert!(bm["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap() >= rv);
    // Too old: window of 5 events has moved past rv0 after more writes.
    for i in 0..6 {
        h.post(base, &cm(&format!("x{i}"), json!({}))).await;
    }
    let (ev, ended) = h.watch(&format!("{base}?watch=true&resourceVersion={rv0}"), 1, Duration::from_secs(2)).await;
    assert_eq!(ev[0]["type"], "ERROR");
    assert_eq!(ev[0]["object"]["code"], 410);
    assert_eq!(ev[0]["object"]["reason"], "Expired");
    let _ = ended;
    // Streaming list: all current objects, then the initial-events-end bookmark.
    let n = sim.store().count("v1", "ConfigMap");
    let (ev, _) = h
        .watch(
            &format!(
                "{base}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
            ),
            n + 1,
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(ev.len(), n + 1);
    assert!(ev[..n].iter().all(|e| e["type"] == "ADDED"));
    assert_eq!(ev[n]["type"], "BOOKMARK");
    assert_eq!(ev[n]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    // timeoutSeconds ends the stream.
    let (_, ended) = h
        .watch(
            &format!("{base}?watch=true&resourceVersion={}&timeoutSeconds=1", sim.store().current_rv()),
            100,
            Duration::from_secs(3),
        )
        .await;
    assert!(ended);
    sim.shutdown().await;
}

#[tokio::test]
async fn cut_watches_ends_streams() {
    let sim = plain_sim(100).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let rv = sim.store().current_rv();
    let w = tokio::spawn(async move {
        h.watch(&format!("/api/v1/pods?watch=true&resourceVersion={rv}"), 100, Duration::from_secs(5)).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = std::time::Instant::now();
    sim.cut_watches();
    let (_, ended) = w.await.unwrap();
    assert!(ended);
    assert!(t0.elapsed() < Duration::from_secs(2));
    sim.shutdown().await;
}

#[tokio::test]
async fn patches_status_subresource_generation_and_crds() {
    let sim = plain_sim(100).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i1"}, {"name": "s", "image": "i2"}]}}},
        "status": {"replicas": 99}});
    let (s, d) = h.post("/apis/apps/v1/namespaces/default/deployments", &dep).await;
    assert_eq!(s, 201);
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(d["status"].is_null(), "status is dropped on create");
    let path = "/apis/apps/v1/namespaces/default/deployments/d";
    // Strategic merge: one container changes by name, the other stays.
    let (s, _, d) = h
        .req(
            "PATCH",
            path,
            "application/strategic-merge-patch+json",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i9"}]}}}}"#,
        )
        .await;
    assert_eq!(s, 200);
    let cs = d["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!((cs.len(), cs[0]["image"].as_str()), (2, Some("i9")));
    assert_eq!(d["metadata"]["generation"], 2);
    // JSON patch.
    let (s, _, d) = h
        .req("PATCH", path, "application/json-patch+json", r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#)
        .await;
    assert_eq!((s, d["spec"]["replicas"].as_i64()), (200, Some(3)));
    // Status subresource: status changes, spec and generation do not.
    let (s, _, d) = h
        .req(
            "PATCH",
            &format!("{path}/status"),
            "application/merge-patch+json",
            r#"{"status":{"readyReplicas":3},"spec":{"replicas":7}}"#,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (d["status"]["readyReplicas"].as_i64(), d["spec"]["replicas"].as_i64(), d["metadata"]["generation"].as_i64()),
        (Some(3), Some(3), Some(3))
    );
    // Main resource ignores status.
    let (_, _, d) = h.req("PATCH", path, "application/merge-patch+json", r#"{"status":{"readyReplicas":0}}"#).await;
    assert_eq!(d["status"]["readyReplicas"], 3);
    let (s, _, _) = h.req("PATCH", path, "text/plain", "{}").await;
    assert_eq!(s, 415);
    let (s, _, st) =
        h.req("PATCH", path, "application/merge-patch+json", r#"{"metadata":{"resourceVersion":"5"}}"#).await;
    assert_eq!((s, st["reason"].as_str()), (409, Some("Conflict")));
    let (s, _, _) = h
        .req("PATCH", path, "application/json-patch+json", r#"[{"op":"test","path":"/spec/replicas","value":1}]"#)
        .await;
    assert_eq!(s, 422);
    // A CRD makes its resource served.
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}, "subresources": {"status": {}}}]}});
    let (s, c) = h.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &crd).await;
    assert_eq!(s, 201);
    assert_eq!(c["status"]["conditions"][1]["type"], "Established");
    let (s, rl) = h.get("/apis/example.com/v1").await;
    assert_eq!((s, rl["resources"][0]["name"].as_str()), (200, Some("widgets")));
    let (s, w) = h.post("/apis/example.com/v1/namespaces/default/widgets", &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}, "anything": [1, 2]})).await;
    assert_eq!((s, w["anything"][1].as_i64()), (201, Some(2)));
    let (s, _, _) = h
        .req(
            "PATCH",
            "/apis/example.com/v1/namespaces/default/widgets/w",
            "application/strategic-merge-patch+json",
            "{}",
        )
        .await;
    assert_eq!(s, 415);
    let (_, l) = h.get("/apis/example.com/v1/widgets").await;
    assert_eq!((l["kind"].as_str(), l["items"].as_array().unwrap().len()), (Some("WidgetList"), 1));
    h.req("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", "", "").await;
    assert_eq!(h.get("/apis/example.com/v1/widgets").await.0, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_objects_and_finalizers_hold_deletion() {
    let sim = plain_sim(100).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    h.post("/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}})).await;
    h.post("/api/v1/namespaces/tmp/configmaps", &cm("a", json!({}))).await;
    h.post("/api/v1/namespaces/default/configmaps", &cm("keep", json!({}))).await;
    let (s, _, _) = h.req("DELETE", "/api/v1/namespaces/tmp", "", "").await;
    assert_eq!(s, 200);
    assert_eq!(sim.store().list("v1", "ConfigMap", Some("tmp")).len(), 0);
    assert_eq!(sim.store().list("v1", "ConfigMap", Some("default")).len(), 1);
    assert_eq!(h.get("/api/v1/namespaces/tmp").await.0, 404);
    // Finalizers: delete marks, removing the finalizer deletes.
    let mut f = cm("fin", json!({}));
    f["metadata"]["finalizers"] = json!(["example.com/x"]);
    h.post("/api/v1/namespaces/default/configmaps", &f).await;
    let (_, _, d) = h.req("DELETE", "/api/v1/namespaces/default/configmaps/fin", "", "").await;
    assert!(d["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(h.get("/api/v1/namespaces/default/configmaps/fin").await.0, 200);
    h.req(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/fin",
        "application/merge-patch+json",
        r#"{"metadata":{"finalizers":null}}"#,
    )
    .await;
    assert_eq!(h.get("/api/v1/namespaces/default/configmaps/fin").await.0, 404);
    sim.shutdown().await;
}

/// A built-in kind's body with a field of the wrong type is refused at the write, as a real server
/// refuses what it cannot decode into the Go type, so every object stored can be served as protobuf.
#[tokio::test]
async fn writes_a_built_in_kind_cannot_decode_are_refused() {
    let sim = plain_sim(100).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    let base = "/api/v1/namespaces/default/configmaps";
    let broken = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "broken", "ownerReferences": 7}});
    let (s, st) = h.post(base, &broken).await;
    assert_eq!((s, st["reason"].as_str()), (400, Some("BadRequest")), "{st}");
    let msg = st["message"].as_str().unwrap();
    assert!(msg.starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: "), "{msg}");
    assert_eq!(h.get(&format!("{base}/broken")).await.0, 404, "nothing was stored");

    // Replacing or patching a good object into such a shape is refused too, and leaves it as it was.
    let (s, good) = h.post(base, &cm("good", json!({"app": "x"}))).await;
    assert_eq!(s, 201);
    let mut replaced = good.clone();
    replaced["data"] = json!(["not", "a", "map"]);
    let (s, _, st) = h.req("PUT", &format!("{base}/good"), "application/json", &replaced.to_string()).await;
    assert_eq!((s, st["reason"].as_str()), (400, Some("BadRequest")), "{st}");
    let patch = json!({"metadata": {"ownerReferences": "x"}}).to_string();
    let (s, _, st) = h.req("PATCH", &format!("{base}/good"), "application/merge-patch+json", &patch).await;
    assert_eq!((s, st["reason"].as_str()), (400, Some("BadRequest")), "{st}");
    let (_, now) = h.get(&format!("{base}/good")).await;
    assert_eq!(now["metadata"]["resourceVersion"], good["metadata"]["resourceVersion"]);
    // Read as protobuf, it is served.
    let (s, ct, _) =
        h.req_accept("GET", &format!("{base}/good"), "", "", Some("application/vnd.kubernetes.protobuf")).await;
    assert_eq!((s, ct.as_str()), (200, "application/vnd.kubernetes.protobuf"));
    sim.shutdown().await;
}
