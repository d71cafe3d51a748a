//! kube-sim pretending to be an older kube-apiserver (`kubernetes_minor`, `--kubernetes-version`):
//! discovery and the API serve what that version serves with its default flags, `/version` says it,
//! and the rest answers the 404 a real server sends for a path nothing serves.

mod common;

use common::Http;
use kube_sim::{SimConfig, SyntheticConfig};
use serde_json::Value;

const NOT_FOUND: &str = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"the server could not find the requested resource\",\"reason\":\"NotFound\",\"details\":{},\"code\":404}\n";

async fn sim(minor: u32) -> kube_sim::SimHandle {
    kube_sim::start(SimConfig {
        tls: false,
        kubelets: false,
        kubernetes_minor: minor,
        synthetic: Some(SyntheticConfig { nodes: 2, pods_per_node: 6, namespaces: 2, ..Default::default() }),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn each_version_serves_what_its_kube_apiserver_serves() {
    for minor in [28u32, 30, 33, 36] {
        let sim = sim(minor).await;
        let h = Http::new(&sim.url(), Some(sim.token()));
        let (_, v) = h.get("/version").await;
        assert_eq!(v["minor"], minor.to_string());
        assert_eq!(v["gitVersion"], format!("v1.{minor}.0-kube-sim"));
        assert_eq!(v.get("emulationMinor").is_some(), minor >= 33, "1.{minor}: {v}");

        let (s, rl) = h.get("/apis/admissionregistration.k8s.io/v1").await;
        assert_eq!(s, 200);
        let served = names(&rl);
        assert!(served.contains(&"validatingwebhookconfigurations".to_string()));
        for (plural, since) in [
            ("validatingadmissionpolicies", 30),
            ("validatingadmissionpolicybindings", 30),
            ("mutatingadmissionpolicies", 36),
            ("mutatingadmissionpolicybindings", 36),
        ] {
            let path = format!("/apis/admissionregistration.k8s.io/v1/{plural}");
            assert_eq!(served.contains(&plural.to_string()), minor >= since, "1.{minor} discovery of {plural}");
            for q in ["", "?watch=1&timeoutSeconds=1", "?resourceVersion=0&limit=500"] {
                let (s, _, body) = h.raw(&format!("{path}{q}")).await;
                if minor >= since {
                    assert_eq!(s, 200, "1.{minor} {path}{q}");
                } else {
                    assert_eq!(
                        (s, String::from_utf8(body.to_vec()).unwrap()),
                        (404, NOT_FOUND.to_string()),
                        "1.{minor} {path}{q}"
                    );
                }
            }
            // The synthetic cluster holds the kind only where it is served.
            let kind = if plural.starts_with("validatingadmissionpolicies") { "ValidatingAdmissionPolicy" } else { "" };
            if !kind.is_empty() {
                assert_eq!(sim.store().count("admissionregistration.k8s.io/v1", kind) > 0, minor >= since);
            }
        }
        // Everything else kube-state-metrics reads is there on every version.
        for path in [
            "/api/v1/pods",
            "/apis/apps/v1/deployments",
            "/apis/batch/v1/cronjobs",
            "/apis/autoscaling/v2/horizontalpodautoscalers",
        ] {
            assert_eq!(h.get(path).await.0, 200, "1.{minor} {path}");
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn unknown_paths_get_the_generic_not_found_and_unsimulated_versions_are_refused() {
    let sim = sim(36).await;
    let h = Http::new(&sim.url(), Some(sim.token()));
    for path in [
        "/apis/nope/v1",
        "/apis/apps/v1/nopes",
        "/apis/admissionregistration.k8s.io/v1beta1/validatingadmissionpolicies",
    ] {
        let (s, _, body) = h.raw(path).await;
        assert_eq!((s, String::from_utf8(body.to_vec()).unwrap()), (404, NOT_FOUND.to_string()), "{path}");
    }
    sim.shutdown().await;
    let err = kube_sim::start(SimConfig { kubernetes_minor: 27, ..Default::default() }).await.err().unwrap();
    assert!(err.to_string().contains("1.27 is not simulated"), "{err}");
}
