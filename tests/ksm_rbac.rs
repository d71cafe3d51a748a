//! End to end: a resource the API server forbids is reported once, retried with backoff and named as not
//! synced, while every other resource is served.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Cluster, Ksm, eventually, get, lines_with, telemetry_value, try_get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_resource_is_reported_once_and_the_rest_is_served() {
    let c = Cluster::start(&[
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "type": "Opaque"}),
    ])
    .await;
    // Four forbidden lists: with client-go's backoff (0.8 s doubling, up to twice that with jitter) access
    // comes back after 12-24 s.
    c.sim.inject_error("/api/v1/secrets", 403, 4);
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=configmaps,secrets"]);

    eventually(Duration::from_secs(10), || async {
        let body = try_get(&k.url("/metrics"), &[]).await?.text();
        if lines_with(&body, "kube_configmap_info{").len() == 1 { Ok(()) } else { Err(body) }
    })
    .await;
    let body = k.scrape("/metrics").await;
    assert!(lines_with(&body, "kube_secret_info{").is_empty(), "{body}");
    let ready = get(&k.url("/readyz"), &[]).await;
    assert_eq!(ready.status, 503);
    assert!(ready.text().contains("secrets (forbidden)"), "{}", ready.text());
    assert!(!ready.text().contains("configmaps"), "{}", ready.text());
    assert_eq!(telemetry_value(&k, "kube_state_metrics_resource_synced", &[("resource", "secrets")]).await, Some(0.0));
    assert_eq!(
        telemetry_value(&k, "kube_state_metrics_resource_synced", &[("resource", "configmaps")]).await,
        Some(1.0)
    );

    // Access granted again (the injected faults are used up): secrets appear without a restart.
    eventually(Duration::from_secs(40), || async {
        let body = try_get(&k.url("/metrics"), &[]).await?.text();
        if lines_with(&body, "kube_secret_info{").len() == 1 { Ok(()) } else { Err("no secret yet".into()) }
    })
    .await;
    k.wait_ready().await;
    assert_eq!(telemetry_value(&k, "kube_state_metrics_resource_synced", &[("resource", "secrets")]).await, Some(1.0));
    // Several lists (streaming lists count among watches, as upstream counts them) were refused, yet the
    // log has one error line for them.
    let mut refused = 0.0;
    for family in ["kube_state_metrics_list_total", "kube_state_metrics_watch_total"] {
        refused += telemetry_value(&k, family, &[("resource", "*v1.Secret"), ("result", "error")]).await.unwrap_or(0.0);
    }
    assert!(refused >= 2.0, "{refused}");
    let log = k.log();
    assert_eq!(log.matches("forbids listing/watching").count(), 1, "{log}");
    assert!(log.contains("list/watch works again"), "{log}");
    assert!(!log.contains("watch list error with 403"), "{log}");
}
