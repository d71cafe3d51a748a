//! Every fixture format loads: multi-document YAML, `kind: List` dumps, typed lists, JSON, directories, CRDs.

use std::path::PathBuf;

use kube_sim::SimConfig;

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(p)
}

#[tokio::test]
async fn loads_every_fixture_format_and_keeps_metadata() {
    let sim = kube_sim::start(SimConfig {
        tls: false,
        fixtures: vec![fixture("multi.yaml"), fixture("list-dump.yaml"), fixture("dir")],
        ..Default::default()
    })
    .await
    .unwrap();
    let st = sim.store();
    // Multi-document YAML: given metadata and status are kept.
    let pod = st.get("v1", "Pod", Some("shop"), "checkout-0").unwrap();
    assert_eq!(pod["metadata"]["uid"], "0b7d1c9e-1111-4aaa-8bbb-000000000001");
    assert_eq!(pod["metadata"]["creationTimestamp"], "2024-01-02T03:04:05Z");
    assert_eq!(pod["metadata"]["annotations"]["note"], "kept");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 3);
    assert!(pod["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(st.get("v1", "Namespace", None, "shop").unwrap()["metadata"]["labels"]["team"], "payments");
    // kind: List dump; its stale resourceVersion is replaced, missing uid assigned.
    let node = st.get("v1", "Node", None, "node-a").unwrap();
    assert_eq!(node["metadata"]["uid"], "6c1f0e8a-2222-4bbb-8ccc-000000000001");
    assert_eq!(node["status"]["conditions"][0]["status"], "False");
    assert_ne!(node["metadata"]["resourceVersion"], "12345");
    let cm = st.get("v1", "ConfigMap", Some("shop"), "settings").unwrap();
    assert_eq!(cm["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(cm["metadata"]["creationTimestamp"].is_string());
    // JSON in a directory; generation kept.
    let dep = st.get("apps/v1", "Deployment", Some("shop"), "checkout").unwrap();
    assert_eq!(dep["metadata"]["generation"], 7);
    assert_eq!(dep["status"]["readyReplicas"], 1);
    // Typed list in a nested directory, namespace created for it.
    let svc = st.get("v1", "Service", Some("billing"), "api").unwrap();
    assert_eq!(svc["kind"], "Service");
    assert!(st.get("v1", "Namespace", None, "billing").is_some());
    // A CRD and its custom resource from one file.
    let g = st.get("example.com/v1", "Gadget", Some("shop"), "g1").unwrap();
    assert_eq!(g["spec"]["power"], 9000);
    assert_eq!(st.count("v1", "Pod"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_fixtures_fail_start_with_a_reason() {
    let dir = std::env::temp_dir().join(format!("kube-sim-badfix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.yaml");
    std::fs::write(&f, "apiVersion: nope/v9\nkind: Thing\nmetadata: {name: x}\n").unwrap();
    let err =
        kube_sim::start(SimConfig { tls: false, fixtures: vec![f.clone()], ..Default::default() }).await.err().unwrap();
    assert!(format!("{err:#}").contains("Thing"), "{err:#}");
    std::fs::write(&f, "a: [unclosed\n").unwrap();
    let err = kube_sim::start(SimConfig { tls: false, fixtures: vec![f], ..Default::default() }).await.err().unwrap();
    assert!(format!("{err:#}").contains("bad.yaml"), "{err:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
