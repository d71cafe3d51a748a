//! A synthetic cluster, deterministic for a seed: nodes, deployments -> replicasets -> pods, jobs and
//! cronjobs, services with endpointslices, config, storage and autoscalers; plus churn that keeps it moving.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::store::{CreateMode, Store, uid_from_bytes};

/// Shape of the generated cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    pub nodes: usize,
    pub pods_per_node: usize,
    pub namespaces: usize,
    /// Fraction of nodes whose Ready condition is not True.
    pub not_ready_fraction: f64,
    /// Jobs per namespace (half of them owned by a CronJob).
    pub jobs_per_namespace: usize,
    pub configmaps_per_namespace: usize,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            pods_per_node: 10,
            namespaces: 3,
            not_ready_fraction: 0.1,
            jobs_per_namespace: 2,
            configmaps_per_namespace: 2,
        }
    }
}

struct Gen {
    rng: StdRng,
    now: chrono::DateTime<chrono::Utc>,
}

impl Gen {
    fn uid(&mut self) -> String {
        uid_from_bytes(self.rng.random())
    }
    /// A timestamp up to `max_age_secs` in the past.
    fn ts_ago(&mut self, max_age_secs: i64) -> String {
        let ago = self.rng.random_range(60..max_age_secs.max(61));
        (self.now - chrono::Duration::seconds(ago)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
    fn suffix(&mut self, n: usize) -> String {
        const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n).map(|_| A[self.rng.random_range(0..A.len())] as char).collect()
    }
}

fn put(store: &Store, v: Value, n: &mut usize) -> anyhow::Result<()> {
    let av = v["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = v["kind"].as_str().unwrap_or_default().to_string();
    let rt = store.resource_for(&av, &kind).ok_or_else(|| anyhow::anyhow!("unknown type {av} {kind}"))?;
    store.create_in(&rt, v, CreateMode::Keep).map_err(|e| anyhow::anyhow!("creating {kind}: {e}"))?;
    *n += 1;
    Ok(())
}

fn node(g: &mut Gen, i: usize, ready: &str) -> Value {
    let name = format!("node-{i:04}");
    let mut labels = json!({
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": format!("zone-{}", i % 3),
        "node.kubernetes.io/instance-type": "sim.large",
    });
    if i == 0 {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    let hb = g.ts_ago(30);
    let cond = |t: &str, s: &str, reason: &str| json!({"type": t, "status": s, "reason": reason, "message": "", "lastHeartbeatTime": hb, "lastTransitionTime": hb});
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": g.uid(), "creationTimestamp": g.ts_ago(90 * 86400), "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"podCIDR": format!("10.244.{}.0/24", i % 256), "providerID": format!("sim://{name}"),
            "taints": if ready == "True" { json!([]) } else { json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]) }},
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "7800m", "memory": "31Gi", "pods": "110", "ephemeral-storage": "95Gi"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID"),
                cond("Ready", ready, if ready == "True" { "KubeletReady" } else { "NodeStatusUnknown" }),
            ],
            "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 250, i % 250 + 1)}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"kubeletVersion": "v1.36.0", "kubeProxyVersion": "v1.36.0", "containerRuntimeVersion": "containerd://2.1.0",
                "kernelVersion": "6.12.0", "osImage": "Debian GNU/Linux 13", "operatingSystem": "linux", "architecture": "amd64",
                "machineID": format!("{i:032x}"), "systemUUID": g.uid(), "bootID": g.uid()}
        }
    })
}

/// Per-pod status flavour.
#[derive(Clone, Copy)]
enum PodFate {
    Running,
    Pending,
    CrashLoop,
    ImagePull,
    OomKilled,
    Succeeded,
    Failed,
}

fn pick_fate(g: &mut Gen) -> PodFate {
    match g.rng.random_range(0..100) {
        0..=84 => PodFate::Running,
        85..=88 => PodFate::Pending,
        89..=93 => PodFate::CrashLoop,
        94..=96 => PodFate::ImagePull,
        _ => PodFate::OomKilled,
    }
}

fn container_status(g: &mut Gen, name: &str, image: &str, fate: PodFate, started: &str) -> Value {
    let cid = format!("containerd://{}", g.uid().replace('-', ""));
    let (ready, restarts, state, last) = match fate {
        PodFate::Running => (true, g.rng.random_range(0..3), json!({"running": {"startedAt": started}}), json!({})),
        PodFate::Pending => (false, 0, json!({"waiting": {"reason": "ContainerCreating"}}), json!({})),
        PodFate::ImagePull => (
            false,
            0,
            json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}),
            json!({}),
        ),
        PodFate::CrashLoop => (
            false,
            g.rng.random_range(3..40),
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}),
            json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": started, "containerID": cid}}),
        ),
        PodFate::OomKilled => (
            true,
            g.rng.random_range(1..5),
            json!({"running": {"startedAt": started}}),
            json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": started, "finishedAt": started, "containerID": cid}}),
        ),
        PodFate::Succeeded => (
            false,
            0,
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started, "containerID": cid}}),
            json!({}),
        ),
        PodFate::Failed => (
            false,
            0,
            json!({"terminated": {"exitCode": 2, "reason": "Error", "startedAt": started, "finishedAt": started, "containerID": cid}}),
            json!({}),
        ),
    };
    let mut cs = json!({"name": name, "image": image, "imageID": format!("{image}@sha256:{}", "0".repeat(64)), "ready": ready,
        "restartCount": restarts, "started": ready, "state": state, "lastState": last});
    if !matches!(fate, PodFate::Pending | PodFate::ImagePull) {
        cs["containerID"] = json!(cid);
    }
    cs
}

struct PodSpec<'a> {
    ns: &'a str,
    name: String,
    labels: Value,
    owner: Value,
    node: Option<String>,
    node_ip: String,
    fate: PodFate,
    sidecar: bool,
    restart_policy: &'a str,
}

fn pod(g: &mut Gen, p: PodSpec<'_>, ip_n: usize) -> Value {
    let created = g.ts_ago(30 * 86400);
    let image = "registry.example/app:1.4.2";
    let mut containers =
        vec![json!({"name": "app", "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}})];
    let mut statuses = vec![container_status(g, "app", image, p.fate, &created)];
    if p.sidecar {
        containers.push(json!({"name": "proxy", "image": "registry.example/proxy:2.0", "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}));
        let f = if matches!(p.fate, PodFate::Pending) { PodFate::Pending } else { PodFate::Running };
        statuses.push(container_status(g, "proxy", "registry.example/proxy:2.0", f, &created));
    }
    let unschedulable = matches!(p.fate, PodFate::Pending) && p.node.is_none();
    let phase = match p.fate {
        PodFate::Running | PodFate::CrashLoop | PodFate::OomKilled => "Running",
        PodFate::Pending | PodFate::ImagePull => "Pending",
        PodFate::Succeeded => "Succeeded",
        PodFate::Failed => "Failed",
    };
    let all_ready = statuses.iter().all(|c| c["ready"] == true);
    let cond = |t: &str, s: bool| json!({"type": t, "status": if s { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": created});
    let mut status = json!({"phase": phase, "qosClass": "Burstable"});
    if unschedulable {
        status["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient cpu.", "lastTransitionTime": created}]);
    } else {
        status["conditions"] = json!([
            cond("PodReadyToStartContainers", true),
            cond("Initialized", true),
            cond("Ready", all_ready),
            cond("ContainersReady", all_ready),
            cond("PodScheduled", true)
        ]);
        status["hostIP"] = json!(p.node_ip);
        status["podIP"] = json!(format!("10.244.{}.{}", (ip_n / 250) % 256, ip_n % 250 + 2));
        status["startTime"] = json!(created);
        status["containerStatuses"] = json!(statuses);
    }
    let mut spec = json!({"containers": containers, "restartPolicy": p.restart_policy, "schedulerName": "default-scheduler",
        "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "priority": 0,
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]});
    if let Some(n) = &p.node {
        spec["nodeName"] = json!(n);
    }
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": p.name, "namespace": p.ns, "uid": g.uid(), "creationTimestamp": created, "labels": p.labels, "ownerReferences": [p.owner]},
        "spec": spec, "status": status})
}

fn owner(api_version: &str, kind: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true})
}

/// Populate the store; returns the number of objects created.
pub fn generate(store: &Store, cfg: &SyntheticConfig, seed: u64) -> anyhow::Result<usize> {
    let mut g = Gen { rng: StdRng::seed_from_u64(seed), now: chrono::Utc::now() };
    let mut n = 0;
    let nodes: Vec<(String, String, bool)> = (0..cfg.nodes)
        .map(|i| {
            let ready = i > 0 && g.rng.random_bool(cfg.not_ready_fraction.clamp(0.0, 1.0));
            let ready = if ready { if i % 2 == 0 { "False" } else { "Unknown" } } else { "True" };
            let v = node(&mut g, i, ready);
            let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let ip = v["status"]["addresses"][0]["address"].as_str().unwrap_or_default().to_string();
            put(store, v, &mut n)?;
            Ok((name, ip, ready == "True"))
        })
        .collect::<anyhow::Result<_>>()?;
    let namespaces: Vec<String> = (0..cfg.namespaces.max(1)).map(|i| format!("app-{i}")).collect();
    for ns in &namespaces {
        let v = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "uid": g.uid(), "creationTimestamp": g.ts_ago(100 * 86400), "labels": {"kubernetes.io/metadata.name": ns, "team": format!("team-{}", ns.len() % 3)}}, "status": {"phase": "Active"}});
        put(store, v, &mut n)?;
        put(
            store,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns, "uid": g.uid(), "creationTimestamp": g.ts_ago(100 * 86400)}}),
            &mut n,
        )?;
        for c in 0..cfg.configmaps_per_namespace {
            put(
                store,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("config-{c}"), "namespace": ns, "uid": g.uid(), "creationTimestamp": g.ts_ago(50 * 86400)}, "data": {"key": format!("value-{c}"), "mode": "production"}}),
                &mut n,
            )?;
            put(
                store,
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": format!("secret-{c}"), "namespace": ns, "uid": g.uid(), "creationTimestamp": g.ts_ago(50 * 86400)}, "data": {"password": "c2VjcmV0"}}),
                &mut n,
            )?;
        }
        // Storage: one bound claim with its volume, one pending claim.
        let pv = format!("pv-{ns}-data");
        let pvc_uid = g.uid();
        put(
            store,
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv, "uid": g.uid(), "creationTimestamp": g.ts_ago(50 * 86400)},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
                "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": "data", "uid": pvc_uid}, "hostPath": {"path": format!("/data/{ns}")}},
            "status": {"phase": "Bound"}}),
            &mut n,
        )?;
        put(
            store,
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns, "uid": pvc_uid, "creationTimestamp": g.ts_ago(50 * 86400)},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "standard", "volumeName": pv, "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}}),
            &mut n,
        )?;
        put(
            store,
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "scratch", "namespace": ns, "uid": g.uid(), "creationTimestamp": g.ts_ago(86400)},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "fast", "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}}),
            &mut n,
        )?;
    }
    put(
        store,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "standard", "uid": g.uid(), "creationTimestamp": g.ts_ago(100 * 86400), "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "sim.csi.example", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
        &mut n,
    )?;

    // Jobs and cronjobs, with their pods.
    let mut pod_n = 0usize;
    let ready_nodes: Vec<&(String, String, bool)> = nodes.iter().filter(|x| x.2).collect();
    let place = |i: usize| -> Option<&(String, String, bool)> {
        if ready_nodes.is_empty() { None } else { Some(ready_nodes[i % ready_nodes.len()]) }
    };
    let total_pods = cfg.nodes * cfg.pods_per_node;
    for (ni, ns) in namespaces.iter().enumerate() {
        let cj_name = "nightly-report".to_string();
        let cj_uid = g.uid();
        put(
            store,
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": cj_name, "namespace": ns, "uid": cj_uid, "creationTimestamp": g.ts_ago(30 * 86400)},
            "spec": {"schedule": "0 3 * * *", "concurrencyPolicy": "Forbid", "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "report", "image": "registry.example/report:1"}], "restartPolicy": "OnFailure"}}}}},
            "status": {"lastScheduleTime": g.ts_ago(86400), "lastSuccessfulTime": g.ts_ago(86400)}}),
            &mut n,
        )?;
        for j in 0..cfg.jobs_per_namespace {
            if pod_n >= total_pods {
                break;
            }
            let failed = j % 2 == 1;
            let name = if j % 2 == 0 { format!("{cj_name}-{}", 29000000 + j) } else { format!("migrate-{j}") };
            let juid = g.uid();
            let start = g.ts_ago(86400);
            let mut meta = json!({"name": name, "namespace": ns, "uid": juid, "creationTimestamp": start, "labels": {"job-name": name}});
            if j % 2 == 0 {
                meta["ownerReferences"] = json!([owner("batch/v1", "CronJob", &cj_name, &cj_uid)]);
            }
            let status = if failed {
                json!({"failed": 1, "startTime": start, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": start}]})
            } else {
                json!({"succeeded": 1, "startTime": start, "completionTime": start, "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": start}]})
            };
            put(
                store,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"completions": 1, "parallelism": 1, "backoffLimit": if failed { 0 } else { 6 }, "selector": {"matchLabels": {"job-name": name}},
                    "template": {"metadata": {"labels": {"job-name": name}}, "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.4.2"}], "restartPolicy": "Never"}}},
                "status": status}),
                &mut n,
            )?;
            let node = place(pod_n + ni);
            let pod_name = format!("{name}-{}", g.suffix(5));
            let p = pod(
                &mut g,
                PodSpec {
                    ns,
                    name: pod_name,
                    labels: json!({"job-name": name}),
                    owner: owner("batch/v1", "Job", &name, &juid),
                    node: node.map(|x| x.0.clone()),
                    node_ip: node.map(|x| x.1.clone()).unwrap_or_default(),
                    fate: if failed { PodFate::Failed } else { PodFate::Succeeded },
                    sidecar: false,
                    restart_policy: "Never",
                },
                pod_n,
            );
            put(store, p, &mut n)?;
            pod_n += 1;
        }
    }

    // Deployments until the pod budget is spent, spread over the namespaces.
    let mut d = 0usize;
    while pod_n < total_pods {
        let ns = &namespaces[d % namespaces.len()];
        let app = format!("app-{d:04}");
        let replicas = g.rng.random_range(1..=5usize).min(total_pods - pod_n);
        let hash = g.suffix(10);
        let dep_uid = g.uid();
        let rs_uid = g.uid();
        let rs_name = format!("{app}-{hash}");
        let created = g.ts_ago(60 * 86400);
        let mut fates: Vec<PodFate> = (0..replicas).map(|_| pick_fate(&mut g)).collect();
        if nodes.is_empty() {
            fates.iter_mut().for_each(|f| *f = PodFate::Pending);
        }
        let ready = fates.iter().filter(|f| matches!(f, PodFate::Running | PodFate::OomKilled)).count();
        let tmpl = json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.4.2"}]}});
        let dep_status = json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
            "unavailableReplicas": replicas - ready,
            "conditions": [{"type": "Available", "status": if ready == replicas { "True" } else { "False" }, "reason": "MinimumReplicasAvailable", "lastTransitionTime": created, "lastUpdateTime": created},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastTransitionTime": created, "lastUpdateTime": created}]});
        put(
            store,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app, "namespace": ns, "uid": dep_uid, "creationTimestamp": created, "generation": 1, "labels": {"app": app},
                "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}, "template": tmpl,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": dep_status}),
            &mut n,
        )?;
        put(
            store,
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "uid": rs_uid, "creationTimestamp": created, "generation": 1, "labels": {"app": app, "pod-template-hash": hash},
                "annotations": {"deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": replicas.to_string()},
                "ownerReferences": [owner("apps/v1", "Deployment", &app, &dep_uid)]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app, "pod-template-hash": hash}}, "template": tmpl},
            "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": 1}}),
            &mut n,
        )?;
        let mut endpoints = Vec::new();
        for f in fates {
            let node = if matches!(f, PodFate::Pending) && g.rng.random_bool(0.5) { None } else { place(pod_n) };
            let pod_name = format!("{rs_name}-{}", g.suffix(5));
            let p = pod(
                &mut g,
                PodSpec {
                    ns,
                    name: pod_name,
                    labels: json!({"app": app, "pod-template-hash": hash}),
                    owner: owner("apps/v1", "ReplicaSet", &rs_name, &rs_uid),
                    node: node.map(|x| x.0.clone()),
                    node_ip: node.map(|x| x.1.clone()).unwrap_or_default(),
                    fate: f,
                    sidecar: d.is_multiple_of(4),
                    restart_policy: "Always",
                },
                pod_n,
            );
            if let Some(ip) = p["status"]["podIP"].as_str() {
                endpoints.push(json!({"addresses": [ip], "conditions": {"ready": p["status"]["conditions"][2]["status"] == "True"},
                    "nodeName": p["spec"]["nodeName"], "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}}));
            }
            put(store, p, &mut n)?;
            pod_n += 1;
        }
        let svc_uid = g.uid();
        put(
            store,
            json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": app, "namespace": ns, "uid": svc_uid, "creationTimestamp": created, "labels": {"app": app}},
            "spec": {"type": if d.is_multiple_of(10) { "LoadBalancer" } else { "ClusterIP" }, "clusterIP": format!("10.96.{}.{}", (d / 250) % 256, d % 250 + 1),
                "clusterIPs": [format!("10.96.{}.{}", (d / 250) % 256, d % 250 + 1)], "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                "selector": {"app": app}, "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"},
            "status": {"loadBalancer": {}}}),
            &mut n,
        )?;
        put(
            store,
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": format!("{app}-{}", g.suffix(5)), "namespace": ns, "uid": g.uid(), "creationTimestamp": created,
                "labels": {"kubernetes.io/service-name": app, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                "ownerReferences": [owner("v1", "Service", &app, &svc_uid)]},
            "endpoints": endpoints, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
            &mut n,
        )?;
        if d.is_multiple_of(3) {
            put(
                store,
                json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": app, "namespace": ns, "uid": g.uid(), "creationTimestamp": created, "generation": 1},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app}, "minReplicas": 1, "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
                "status": {"currentReplicas": replicas, "desiredReplicas": replicas, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "42m"}}}],
                    "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "lastTransitionTime": created}]}}),
                &mut n,
            )?;
        }
        d += 1;
    }
    Ok(n)
}

/// Keep the cluster moving: restarts, failures, delete-and-recreate, deployment scaling.
pub async fn churn(store: Arc<Store>, per_sec: f64, seed: u64, stop: CancellationToken) {
    let Some(pods_rt) = store.resource_for("v1", "Pod") else {
        return;
    };
    let Some(dep_rt) = store.resource_for("apps/v1", "Deployment") else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(0x9e37_79b9));
    let mut pods: Vec<(String, String)> =
        store.snapshot(&pods_rt, None).0.iter().map(|o| (o.namespace.clone(), o.name.clone())).collect();
    let deps: Vec<(String, String)> =
        store.snapshot(&dep_rt, None).0.iter().map(|o| (o.namespace.clone(), o.name.clone())).collect();
    let period = Duration::from_secs_f64(1.0 / per_sec.max(0.001));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if pods.is_empty() {
            continue;
        }
        let i = rng.random_range(0..pods.len());
        let (ns, name) = pods[i].clone();
        let action = rng.random_range(0..100);
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let res = match action {
            // Container restart.
            0..=49 => store.modify_in(&pods_rt, &ns, &name, crate::store::UpdateKind::Status, |mut v| {
                if let Some(cs) = v["status"]["containerStatuses"].as_array_mut() {
                    for c in cs.iter_mut().take(1) {
                        let rc = c["restartCount"].as_i64().unwrap_or(0) + 1;
                        c["restartCount"] = json!(rc);
                        c["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}});
                        c["state"] = json!({"running": {"startedAt": now}});
                        c["ready"] = json!(true);
                    }
                }
                Ok(v)
            }).map(|_| ()),
            // Pod fails.
            50..=64 => store.modify_in(&pods_rt, &ns, &name, crate::store::UpdateKind::Status, |mut v| {
                v["status"]["phase"] = json!("Failed");
                v["status"]["reason"] = json!("Evicted");
                v["status"]["message"] = json!("The node was low on resource: memory.");
                Ok(v)
            }).map(|_| ()),
            // Deleted and recreated under a new name, as a ReplicaSet would.
            65..=89 => match store.get_in(&pods_rt, &ns, &name) {
                Some(old) => {
                    let mut v = old.value();
                    let _ = store.delete_in(&pods_rt, &ns, &name, None);
                    let base = name.rsplit_once('-').map_or(name.as_str(), |(b, _)| b).to_string();
                    let new_name = format!("{base}-{}", (0..5).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect::<String>());
                    v["metadata"]["name"] = json!(new_name);
                    v["metadata"]["uid"] = json!(uid_from_bytes(rng.random()));
                    v["metadata"]["creationTimestamp"] = json!(now);
                    if let Some(cs) = v["status"]["containerStatuses"].as_array_mut() {
                        for c in cs {
                            c["restartCount"] = json!(0);
                            c["state"] = json!({"running": {"startedAt": now}});
                            c["ready"] = json!(true);
                        }
                    }
                    v["status"]["phase"] = json!("Running");
                    let r = store.create_in(&pods_rt, v, CreateMode::Keep).map(|_| ());
                    if r.is_ok() {
                        pods[i] = (ns, new_name);
                    }
                    r
                }
                None => {
                    pods.swap_remove(i);
                    Ok(())
                }
            },
            // A deployment scales.
            _ => {
                if deps.is_empty() {
                    Ok(())
                } else {
                    let (dns, dname) = &deps[rng.random_range(0..deps.len())];
                    let up = rng.random_bool(0.5);
                    store.modify_in(&dep_rt, dns, dname, crate::store::UpdateKind::Main, |mut v| {
                        let r = v["spec"]["replicas"].as_i64().unwrap_or(1);
                        v["spec"]["replicas"] = json!(if up { r + 1 } else { (r - 1).max(1) });
                        Ok(v)
                    }).map(|_| ())
                }
            }
        };
        if let Err(e) = res {
            tracing::debug!(error = %e, "churn step failed");
        }
    }
}
