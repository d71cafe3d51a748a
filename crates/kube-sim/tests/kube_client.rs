//! A real kube::Client and kube-runtime watcher against the simulator over HTTPS.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube_sim::{SimConfig, SimHandle, SyntheticConfig};
use serde_json::json;

async fn client_for(sim: &SimHandle) -> kube::Client {
    let kc = Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(cfg).unwrap()
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

/// Drive a watcher until `pred` holds on the set of names it has seen as present.
async fn watch_until<S>(
    stream: &mut S,
    state: &mut BTreeSet<String>,
    pred: impl Fn(&BTreeSet<String>) -> bool,
    what: &str,
) -> Vec<String>
where
    S: futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    let mut log = Vec::new();
    let mut init: Option<BTreeSet<String>> = None;
    let fut = async {
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(watcher::Event::Init) => {
                    log.push("Init".to_string());
                    init = Some(BTreeSet::new());
                }
                Ok(watcher::Event::InitApply(o)) => {
                    if let Some(s) = init.as_mut() {
                        s.insert(o.metadata.name.unwrap());
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    log.push("InitDone".to_string());
                    *state = init.take().unwrap_or_default();
                }
                Ok(watcher::Event::Apply(o)) => {
                    state.insert(o.metadata.name.unwrap());
                }
                Ok(watcher::Event::Delete(o)) => {
                    state.remove(&o.metadata.name.unwrap());
                }
                Err(e) => log.push(format!("Err {e}")),
            }
            if init.is_none() && pred(state) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}; state {state:?}, log {log:?}"));
    log
}

#[tokio::test]
async fn watcher_paginates_resumes_and_recovers_from_410() {
    let sim = kube_sim::start(SimConfig {
        event_window: 20,
        bookmark_interval: Duration::from_millis(300),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(sim.url().starts_with("https://"));
    let client = client_for(&sim).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..12 {
        api.create(&PostParams::default(), &cm(&format!("c{i:02}"))).await.unwrap();
    }
    let mut stream = watcher(api.clone(), watcher::Config::default().page_size(5)).boxed();
    let mut state = BTreeSet::new();
    watch_until(&mut stream, &mut state, |s| s.len() == 12, "initial paginated list").await;
    // Live events.
    api.create(&PostParams::default(), &cm("live")).await.unwrap();
    api.delete("c00", &Default::default()).await.unwrap();
    watch_until(&mut stream, &mut state, |s| s.contains("live") && !s.contains("c00"), "live events").await;
    // Cut the watch and forget history: the watcher must relist (410) and converge.
    sim.cut_watches();
    sim.expire_events();
    api.create(&PostParams::default(), &cm("after-410")).await.unwrap();
    sim.expire_events();
    let log = watch_until(&mut stream, &mut state, |s| s.contains("after-410"), "recovery after 410").await;
    assert!(log.iter().any(|l| l == "InitDone"), "watcher relisted: {log:?}");
    assert_eq!(state.len(), 13);
    sim.shutdown().await;
}

#[tokio::test]
async fn streaming_list_watcher() {
    let sim = kube_sim::start(SimConfig { bookmark_interval: Duration::from_millis(200), ..Default::default() })
        .await
        .unwrap();
    let client = client_for(&sim).await;
    let api: Api<ConfigMap> = Api::all(client);
    for i in 0..7 {
        sim.store()
            .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("s{i}"), "namespace": "kube-system"}}))
            .unwrap();
    }
    let mut stream = watcher(api, watcher::Config::default().streaming_lists()).boxed();
    let mut state = BTreeSet::new();
    let log = watch_until(&mut stream, &mut state, |s| s.len() == 7, "streaming list").await;
    assert_eq!(log, vec!["Init", "InitDone"]);
    sim.store()
        .create(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s-live", "namespace": "default"}}),
        )
        .unwrap();
    watch_until(&mut stream, &mut state, |s| s.contains("s-live"), "event after streaming list").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn typed_crud_conflicts_and_status() {
    let sim = kube_sim::start(SimConfig {
        synthetic: Some(SyntheticConfig { nodes: 2, pods_per_node: 5, namespaces: 2, ..Default::default() }),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = client_for(&sim).await;
    let pods: Api<Pod> = Api::all(client.clone());
    let all = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 10);
    let on_node = pods.list(&ListParams::default().fields("spec.nodeName=node-0001")).await.unwrap();
    assert!(on_node.items.iter().all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("node-0001")));
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "app-0");
    let d = deps.list(&ListParams::default()).await.unwrap().items.remove(0);
    let name = d.metadata.name.clone().unwrap();
    // Stale update conflicts.
    let mut stale = d.clone();
    deps.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})))
        .await
        .unwrap();
    stale.metadata.labels = None;
    let err = deps.replace(&name, &PostParams::default(), &stale).await.unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(s.code, 409),
        e => panic!("unexpected {e}"),
    }
    // Status subresource.
    let patched = deps
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": {"observedGeneration": 42}})))
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().observed_generation, Some(42));
    let got = deps.get_status(&name).await.unwrap();
    assert_eq!(got.status.unwrap().observed_generation, Some(42));
    let missing = deps.get("nope").await.unwrap_err();
    assert!(matches!(missing, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn restarted_sim_accepts_old_kubeconfig() {
    let dir = std::env::temp_dir().join(format!("kube-sim-certs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = SimConfig { cert_dir: Some(dir.clone()), ..Default::default() };
    let sim = kube_sim::start(cfg.clone()).await.unwrap();
    let kc_path = dir.join("kubeconfig");
    sim.write_kubeconfig(&kc_path).unwrap();
    let addr = sim.addr();
    sim.shutdown().await;
    let sim = kube_sim::start(SimConfig { listen: addr, ..cfg }).await.unwrap();
    let kc = Kubeconfig::read_from(&kc_path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let v = client.apiserver_version().await.unwrap();
    assert_eq!(v.major, "1");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("again")).await.unwrap();
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
