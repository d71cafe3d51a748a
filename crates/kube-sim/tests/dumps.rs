//! Offline from real dumps: what a real API server lists and what `kubectl get -A -o json|yaml`
//! writes loads as given (objects a fresh server already has are replaced, node addresses kept),
//! at the scale of a 100,000-pod cluster, and YAML dumps are not held to a parser budget.

use std::path::{Path, PathBuf};

use kube_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};

fn wire(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wire").join(p)
}

struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, body: &[u8]) -> Self {
        let p = std::env::temp_dir().join(format!("kube-sim-dump-{}-{name}", std::process::id()));
        std::fs::write(&p, body).unwrap();
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn sim_with(fixtures: Vec<PathBuf>) -> SimHandle {
    kube_sim::start(SimConfig { tls: false, fixtures, ..Default::default() }).await.unwrap()
}

fn without_rv(mut o: Value) -> Value {
    o["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    o
}

/// Every item of a captured list, as the store must hold it.
fn captured_items(path: &Path) -> Vec<Value> {
    let list: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let kind = list["kind"].as_str().unwrap().trim_end_matches("List").to_string();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i["kind"] = json!(kind);
            i["apiVersion"] = list["apiVersion"].clone();
            i
        })
        .collect()
}

#[tokio::test]
async fn a_real_servers_lists_load_with_every_field_as_given() {
    // Simulated kubelets are on (the default): nodes from a dump do not ask for one and keep
    // their addresses.
    let sim = sim_with(vec![wire("lists")]).await;
    let st = sim.store();
    let mut files: Vec<PathBuf> = std::fs::read_dir(wire("lists")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 41);
    let mut n = 0;
    for f in &files {
        for item in captured_items(f) {
            let m = &item["metadata"];
            let got = st
                .get(
                    item["apiVersion"].as_str().unwrap(),
                    item["kind"].as_str().unwrap(),
                    m["namespace"].as_str(),
                    m["name"].as_str().unwrap(),
                )
                .unwrap_or_else(|| panic!("{} {} missing", item["kind"], m["name"]));
            assert_eq!(without_rv(got), without_rv(item.clone()), "{}", f.display());
            n += 1;
        }
    }
    assert_eq!(n, 269);
    // The namespaces a fresh simulator made were replaced by the dump's (its uids, its labels).
    let default = st.get("v1", "Namespace", None, "default").unwrap();
    let dumped =
        captured_items(&wire("lists/namespaces.list.json")).into_iter().find(|n| n["metadata"]["name"] == "default");
    assert_eq!(default["metadata"]["uid"], dumped.unwrap()["metadata"]["uid"]);
    assert!(sim.kubelet_port("worker-1").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_capture_beds_objects_load_from_multi_document_yaml() {
    let sim = sim_with(vec![wire("objects")]).await;
    let st = sim.store();
    let mut n = 0;
    for f in std::fs::read_dir(wire("objects")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for given in kube_sim::fixtures::parse_objects(&text).unwrap() {
            let m = &given["metadata"];
            let ns = m["namespace"].as_str().unwrap_or("default");
            let (av, kind) = (given["apiVersion"].as_str().unwrap(), given["kind"].as_str().unwrap());
            let got = st.get(av, kind, Some(ns), m["name"].as_str().unwrap()).unwrap_or_else(|| panic!("{given}"));
            // What the file gives is kept; only identity the file leaves out is assigned.
            for (k, v) in given.as_object().unwrap() {
                if k == "metadata" {
                    for (mk, mv) in v.as_object().unwrap() {
                        assert_eq!(&got["metadata"][mk], mv, "{mk} of {}", m["name"]);
                    }
                } else {
                    assert_eq!(&got[k], v, "{k} of {}", m["name"]);
                }
            }
            n += 1;
        }
    }
    assert_eq!(n, 124);
    assert_eq!(st.count("v1", "Pod"), 4);
    assert_eq!(st.count("ops.example.com/v1", "Backup"), 2);
    let lease = st.list("coordination.k8s.io/v1", "Lease", None);
    assert!(lease.iter().any(|l| l["spec"]["renewTime"].as_str().is_some_and(|t| t.len() == 27)), "{lease:?}");
    let csr = st.list("certificates.k8s.io/v1", "CertificateSigningRequest", None);
    assert_eq!(csr.len(), 4);
    let decommissioned = st.get("v1", "Namespace", None, "decommissioned").unwrap();
    assert_eq!(decommissioned["metadata"]["labels"]["team"], "legacy");
    sim.shutdown().await;
}

/// A pod as `kubectl get -o json` prints it, about 2 kB.
fn pod(i: usize) -> String {
    let ns = format!("team-{}", i % 50);
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"creationTimestamp":"2026-11-0{d}T10:00:00Z","generateName":"web-{r}-","labels":{{"app":"web-{r}","pod-template-hash":"5f7d9c8b6"}},"name":"web-{r}-{i:06}","namespace":"{ns}","ownerReferences":[{{"apiVersion":"apps/v1","blockOwnerDeletion":true,"controller":true,"kind":"ReplicaSet","name":"web-{r}-5f7d9c8b6","uid":"0b7d1c9e-1111-4aaa-8bbb-{r:012}"}}],"resourceVersion":"{rv}","uid":"6c1f0e8a-2222-4bbb-8ccc-{i:012}"}},"spec":{{"containers":[{{"image":"registry.example/web:1.{r}","imagePullPolicy":"IfNotPresent","name":"app","ports":[{{"containerPort":8080,"protocol":"TCP"}}],"resources":{{"limits":{{"memory":"256Mi"}},"requests":{{"cpu":"100m","memory":"128Mi"}}}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}}],"dnsPolicy":"ClusterFirst","enableServiceLinks":true,"nodeName":"node-{node:04}","preemptionPolicy":"PreemptLowerPriority","priority":0,"restartPolicy":"Always","schedulerName":"default-scheduler","serviceAccountName":"default","terminationGracePeriodSeconds":30,"tolerations":[{{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300}}]}},"status":{{"conditions":[{{"lastProbeTime":null,"lastTransitionTime":"2026-11-01T10:00:02Z","status":"True","type":"Ready"}}],"containerStatuses":[{{"containerID":"containerd://{i:064}","image":"registry.example/web:1.{r}","imageID":"registry.example/web@sha256:{i:064}","lastState":{{}},"name":"app","ready":true,"restartCount":{rc},"started":true,"state":{{"running":{{"startedAt":"2026-11-01T10:00:01Z"}}}}}}],"hostIP":"10.0.{h}.{l}","phase":"Running","podIP":"10.244.{h}.{l}","qosClass":"Burstable","startTime":"2026-11-01T10:00:00Z"}}}}"#,
        d = 1 + i % 9,
        r = i / 5,
        rv = 1000 + i,
        node = i / 100,
        rc = i % 4,
        h = (i / 250) % 256,
        l = i % 250 + 1,
    )
}

#[tokio::test]
async fn a_100000_pod_kubectl_dump_loads() {
    const PODS: usize = 100_000;
    let mut text = String::from(r#"{"apiVersion":"v1","items":["#);
    text.push_str(
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","uid":"11111111-2222-4333-8444-555555555555","creationTimestamp":"2025-01-01T00:00:00Z","labels":{"kubernetes.io/metadata.name":"default"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}"#,
    );
    for i in 0..PODS {
        text.push(',');
        text.push_str(&pod(i));
    }
    text.push_str(r#"],"kind":"List","metadata":{"resourceVersion":""}}"#);
    let f = TempFile::new("100k.json", text.as_bytes());
    drop(text);
    let sim = sim_with(vec![f.0.clone()]).await;
    let st = sim.store();
    assert_eq!(st.count("v1", "Pod"), PODS);
    let want: Value = serde_json::from_str(&pod(4242)).unwrap();
    let got = st.get("v1", "Pod", Some("team-42"), "web-848-004242").unwrap();
    assert_eq!(without_rv(got), without_rv(want));
    assert_eq!(
        st.get("v1", "Namespace", None, "default").unwrap()["metadata"]["uid"],
        "11111111-2222-4333-8444-555555555555"
    );
    assert_eq!(st.count("v1", "Namespace"), 52, "default, kube-system and the 50 namespaces the pods name");
    sim.shutdown().await;
}

#[tokio::test]
async fn yaml_dumps_are_not_held_to_a_parser_budget() {
    // 300,000 keys is over a million YAML events, past the parser's default budget.
    let mut y = String::from(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: big\n    namespace: default\n  data:\n",
    );
    for i in 0..300_000 {
        y.push_str(&format!("    k{i}: \"v{i}\"\n"));
    }
    y.push_str("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n  labels:\n    from: dump\n");
    let f = TempFile::new("big.yaml", y.as_bytes());
    let sim = sim_with(vec![f.0.clone()]).await;
    let cm = sim.store().get("v1", "ConfigMap", Some("default"), "big").unwrap();
    assert_eq!(cm["data"].as_object().unwrap().len(), 300_000);
    assert_eq!(cm["data"]["k299999"], "v299999");
    assert_eq!(sim.store().get("v1", "Namespace", None, "kube-system").unwrap()["metadata"]["labels"]["from"], "dump");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dump_of_the_synthetic_cluster_loads_back_the_same() {
    let a = kube_sim::start(SimConfig {
        tls: false,
        kubelets: false,
        synthetic: Some(kube_sim::SyntheticConfig { nodes: 5, pods_per_node: 6, ..Default::default() }),
        ..Default::default()
    })
    .await
    .unwrap();
    let f = TempFile::new("synthetic.json", &kube_sim::fixtures::dump_json(a.store()));
    let b = sim_with(vec![f.0.clone()]).await;
    for rt in a.store().resources() {
        let (x, _) = a.store().snapshot(&rt, None);
        let (y, _) = b.store().snapshot(&rt, None);
        assert_eq!(x.len(), y.len(), "{}", rt.plural);
        for (x, y) in x.iter().zip(&y) {
            if rt.kind != "Node" {
                assert_eq!(without_rv(x.value()), without_rv(y.value()), "{}", rt.plural);
            }
        }
    }
    for s in [a, b] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn every_node_gets_a_kubelet_only_when_asked() {
    let f = TempFile::new(
        "node.yaml",
        b"apiVersion: v1\nkind: Node\nmetadata:\n  name: real-1\nstatus:\n  addresses:\n  - type: InternalIP\n    address: 10.20.30.40\n",
    );
    let sim =
        kube_sim::start(SimConfig { fixtures: vec![f.0.clone()], kubelets_for_all_nodes: true, ..Default::default() })
            .await
            .unwrap();
    assert!(sim.kubelet_port("real-1").is_some());
    let node = sim.store().get("v1", "Node", None, "real-1").unwrap();
    assert_eq!(node["status"]["addresses"][0]["address"], "127.0.0.1");
    sim.shutdown().await;
}
