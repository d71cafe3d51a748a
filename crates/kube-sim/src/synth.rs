//! A synthetic cluster, deterministic for a seed: nodes, deployments -> replicasets -> pods, jobs and
//! cronjobs, services with endpoints and endpointslices, config, storage and autoscalers; then every other
//! kind kube-state-metrics reads (statefulsets, daemonsets, replication controllers, ingresses, policy,
//! quotas, leases, RBAC, admission configuration, certificate requests, volume attachments). The
//! simulated controllers ([`crate::controllers`]) then give the DaemonSets, StatefulSets and
//! replication controllers their pods and every workload a status that agrees with its pods; their
//! churn keeps it moving and consistent.
//!
//! Every pod counts against `nodes * pods_per_node`: DaemonSet pods (two per node when there is room),
//! then StatefulSet and replication controller pods, job pods, and deployments take the rest.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::store::{CreateMode, Store, uid_from_bytes};

/// When the synthetic CronJobs run.
const REPORT_SCHEDULE: &str = "*/30 * * * *";

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
    /// A timestamp between `t` and a minute ago (no earlier than its owner, no later than now).
    fn ts_after(&mut self, t: &str) -> String {
        let from = chrono::DateTime::parse_from_rfc3339(t).map_or(self.now, |t| t.with_timezone(&chrono::Utc));
        let span = (self.now - from).num_seconds().max(61);
        (from + chrono::Duration::seconds(self.rng.random_range(0..span - 60))).format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
    fn suffix(&mut self, n: usize) -> String {
        const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n).map(|_| A[self.rng.random_range(0..A.len())] as char).collect()
    }
}

fn put(store: &Store, v: Value, n: &mut usize) -> anyhow::Result<()> {
    let av = v["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = v["kind"].as_str().unwrap_or_default().to_string();
    // A kind the simulated Kubernetes version does not serve is left out.
    let Some(rt) = store.resource_for(&av, &kind) else { return Ok(()) };
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
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", crate::kubelets::KUBELET_ANNOTATION: "true"}},
        "spec": {"podCIDR": format!("10.244.{}.0/24", i % 256), "podCIDRs": [format!("10.244.{}.0/24", i % 256)], "providerID": format!("sim://{name}"),
            "taints": if ready != "True" { json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]) }
                else if i == 0 { json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "PreferNoSchedule"}]) } else { json!([]) }},
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
        PodFate::Running => {
            let restarts = g.rng.random_range(0..3);
            // A container that restarted has a previous run.
            let last = if restarts > 0 {
                json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": started, "containerID": cid}})
            } else {
                json!({})
            };
            (true, restarts, json!({"running": {"startedAt": started}}), last)
        }
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
    created: String,
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
    let created = p.created.clone();
    let image = "registry.example/app:1.4.2";
    let mut containers =
        vec![json!({"name": "app", "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}})];
    let mut statuses = vec![container_status(g, "app", image, p.fate, &created)];
    if p.sidecar {
        containers.push(json!({"name": "proxy", "image": "registry.example/proxy:2.0", "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}));
        let f =
            if matches!(p.fate, PodFate::Pending | PodFate::ImagePull) { PodFate::Pending } else { PodFate::Running };
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
    let reason = match p.fate {
        PodFate::Succeeded => "PodCompleted",
        PodFate::Failed => "PodFailed",
        _ => "ContainersNotReady",
    };
    let cond = |t: &str, s: bool| {
        let mut c = json!({"type": t, "status": if s { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": created});
        if !s && matches!(t, "Ready" | "ContainersReady") {
            c["reason"] = json!(reason);
        }
        c
    };
    let mut status = json!({"phase": phase, "qosClass": "Burstable"});
    if unschedulable {
        status["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient cpu.", "lastTransitionTime": created}]);
    } else {
        let running = !matches!(p.fate, PodFate::Pending | PodFate::Succeeded | PodFate::Failed);
        status["conditions"] = json!([
            cond("PodReadyToStartContainers", running),
            cond("Initialized", true),
            cond("Ready", all_ready),
            cond("ContainersReady", all_ready),
            cond("PodScheduled", true)
        ]);
        status["hostIP"] = json!(p.node_ip);
        let ip = format!("10.244.{}.{}", (ip_n / 250) % 256, ip_n % 250 + 2);
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
        status["startTime"] = json!(created);
        status["containerStatuses"] = json!(statuses);
        if p.sidecar {
            // The init step failed once (a dependency was not up yet), then completed.
            status["initContainerStatuses"] = json!([{"name": "init-config", "image": "registry.example/init:1", "imageID": format!("registry.example/init:1@sha256:{}", "1".repeat(64)),
                "ready": true, "restartCount": 1, "started": false,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": created, "finishedAt": created}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": created, "finishedAt": created}}}]);
        }
        if matches!(p.fate, PodFate::Failed) {
            // Job pods fail here by eviction under memory pressure, as kubelets report it.
            status["reason"] = json!("Evicted");
            status["message"] = json!("The node was low on resource: memory.");
            if let Some(c) = status["conditions"].as_array_mut() {
                c.push(json!({"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                    "message": "The node was low on resource: memory.", "lastTransitionTime": created}));
            }
        }
    }
    let mut spec = json!({"containers": containers, "restartPolicy": p.restart_policy, "schedulerName": "default-scheduler",
        "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "priority": 0,
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]});
    if let Some(n) = &p.node {
        spec["nodeName"] = json!(n);
    }
    if p.sidecar {
        spec["initContainers"] = json!([{"name": "init-config", "image": "registry.example/init:1",
            "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}}]);
        // Sandboxed pods: the runtime class adds its overhead to the pod's footprint.
        spec["runtimeClassName"] = json!("sandboxed");
        spec["overhead"] = json!({"cpu": "250m", "memory": "120Mi"});
    }
    if p.restart_policy == "Never" {
        spec["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data", "readOnly": true}}]);
        spec["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data", "readOnly": true}]);
    }
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": p.name, "namespace": p.ns, "uid": g.uid(), "creationTimestamp": created, "labels": p.labels, "ownerReferences": [p.owner]},
        "spec": spec, "status": status})
}

fn owner(api_version: &str, kind: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true})
}

/// What the later kinds (endpoints, ingresses, disruption budgets, leases) need to know of a deployment.
struct AppInfo {
    ns: String,
    name: String,
    uid: String,
    replicas: usize,
    ready: usize,
    /// EndpointSlice endpoints of the deployment's pods.
    endpoints: Vec<Value>,
}

/// Populate the store; returns the number of objects created.
/// How the pod budget (`nodes * pods_per_node`) is shared out before deployments take the rest.
struct Budget {
    /// DaemonSets (each one pod per node).
    daemonsets: usize,
    /// Replicas of each StatefulSet, per namespace.
    statefulsets: Vec<Vec<u32>>,
    /// Replicas of the replication controller of each namespace.
    rcs: Vec<u32>,
}

impl Budget {
    fn new(cfg: &SyntheticConfig, namespaces: usize) -> (Self, usize) {
        let mut left = cfg.nodes * cfg.pods_per_node;
        // Job pods come first, one per job, as many as fit.
        left -= (cfg.jobs_per_namespace * namespaces).min(left);
        // Controllers other than deployments get at most half of what is left.
        let mut share = left / 2;
        let daemonsets = share.checked_div(cfg.nodes).unwrap_or(0).min(2);
        share -= daemonsets * cfg.nodes;
        left -= daemonsets * cfg.nodes;
        let per_ns = 1 + cfg.nodes / 20;
        let mut take = |want: u32| {
            let n = (want as usize).min(share);
            share -= n;
            left -= n;
            n as u32
        };
        let statefulsets =
            (0..namespaces).map(|ni| (0..per_ns).map(|i| take(1 + ((ni + i) % 3) as u32)).collect()).collect();
        let rcs = (0..namespaces).map(|_| take(2)).collect();
        (Self { daemonsets, statefulsets, rcs }, left)
    }
}

/// Make the namespaces the API server created as old as the cluster, as on a real one.
fn date_system_namespaces(store: &Store, g: &mut Gen) -> anyhow::Result<()> {
    let Some(rt) = store.resource_for("v1", "Namespace") else { return Ok(()) };
    let born = (g.now - chrono::Duration::days(120)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let v = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": g.uid(), "creationTimestamp": born, "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        if store.get_in(&rt, "", ns).is_some() {
            store.replace_in(&rt, v).map_err(|e| anyhow::anyhow!("dating namespace {ns}: {e}"))?;
        } else {
            store.create_in(&rt, v, CreateMode::Keep).map_err(|e| anyhow::anyhow!("creating namespace {ns}: {e}"))?;
        }
    }
    Ok(())
}

pub fn generate(store: &Store, cfg: &SyntheticConfig, seed: u64) -> anyhow::Result<usize> {
    let mut g = Gen { rng: StdRng::seed_from_u64(seed), now: chrono::Utc::now() };
    let mut n = 0;
    date_system_namespaces(store, &mut g)?;
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
    for (ni, ns) in namespaces.iter().enumerate() {
        // Older than anything in them (nothing namespaced is more than 100 days old), younger than
        // the cluster; the namespace controller makes the default account at once.
        let born = g.now - chrono::Duration::days(110) + chrono::Duration::hours(ni as i64);
        let (ns_born, sa_born) =
            (crate::controllers::ts(born), crate::controllers::ts(born + chrono::Duration::seconds(1)));
        let v = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "uid": g.uid(), "creationTimestamp": ns_born, "labels": {"kubernetes.io/metadata.name": ns, "team": format!("team-{}", ns.len() % 3)}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        put(store, v, &mut n)?;
        put(
            store,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns, "uid": g.uid(), "creationTimestamp": sa_born,
                "labels": {"app.kubernetes.io/managed-by": "sim"}, "annotations": {"kubernetes.io/description": "namespace default account"}},
                "automountServiceAccountToken": true, "secrets": [{"name": "secret-0"}], "imagePullSecrets": [{"name": "secret-0"}]}),
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
                "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": "data", "uid": pvc_uid}, "csi": {"driver": "sim.csi.example", "volumeHandle": format!("vol-{ns}-data"), "fsType": "ext4",
                    "volumeAttributes": {"mounter": "rbd", "mapOptions": "krbd:rxbounce", "storage.kubernetes.io/csiProvisionerIdentity": "sim"}}},
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
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "standard", "uid": g.uid(), "creationTimestamp": g.ts_ago(100 * 86400), "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"}, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "sim.csi.example", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate", "allowVolumeExpansion": true}),
        &mut n,
    )?;

    // Jobs and cronjobs, with their pods.
    let mut pod_n = 0usize;
    let ready_nodes: Vec<&(String, String, bool)> = nodes.iter().filter(|x| x.2).collect();
    let place = |i: usize| -> Option<&(String, String, bool)> {
        if ready_nodes.is_empty() { None } else { Some(ready_nodes[i % ready_nodes.len()]) }
    };
    let (budget, deployment_pods) = Budget::new(cfg, namespaces.len());
    // Job pods, then what deployments may take; the rest is reserved for the controllers' pods.
    let job_pods = (cfg.jobs_per_namespace * namespaces.len()).min(cfg.nodes * cfg.pods_per_node);
    let total_pods = job_pods + deployment_pods;
    for (ni, ns) in namespaces.iter().enumerate() {
        // Every half hour; its jobs are named after their scheduled minute, as the controller names them.
        let cj_name = "report".to_string();
        let cj_uid = g.uid();
        let due = crate::controllers::last_due(REPORT_SCHEDULE, g.now).unwrap_or(g.now);
        let mut cj_status = json!({});
        if cfg.jobs_per_namespace > 0 {
            cj_status["lastScheduleTime"] = json!(crate::controllers::ts(due));
        }
        put(
            store,
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": cj_name, "namespace": ns, "uid": cj_uid, "creationTimestamp": g.ts_ago(30 * 86400)},
            "spec": {"schedule": REPORT_SCHEDULE, "startingDeadlineSeconds": 300, "concurrencyPolicy": "Forbid", "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {"containers": [{"name": "report", "image": "registry.example/report:1"}], "restartPolicy": "Never"}}}}},
            "status": cj_status}),
            &mut n,
        )?;
        for j in 0..cfg.jobs_per_namespace {
            if pod_n >= total_pods {
                break;
            }
            let failed = j % 2 == 1;
            let (name, start) = if failed {
                (format!("migrate-{j}"), g.ts_ago(86400))
            } else {
                let at = due - chrono::Duration::minutes(30 * (j / 2) as i64);
                (format!("{cj_name}-{}", at.timestamp() / 60), crate::controllers::ts(at))
            };
            let juid = g.uid();
            let mut meta = json!({"name": name, "namespace": ns, "uid": juid, "creationTimestamp": start, "labels": {"job-name": name}});
            if !failed {
                meta["ownerReferences"] = json!([owner("batch/v1", "CronJob", &cj_name, &cj_uid)]);
            }
            // The status comes from the job's pod when the cluster settles.
            put(
                store,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"completions": 1, "parallelism": 1, "backoffLimit": if failed { 0 } else { 6 }, "activeDeadlineSeconds": 3600, "suspend": false, "selector": {"matchLabels": {"job-name": name}},
                    "template": {"metadata": {"labels": {"job-name": name}}, "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.4.2"}], "restartPolicy": "Never"}}},
                "status": {}}),
                &mut n,
            )?;
            let node = place(pod_n + ni);
            let pod_name = format!("{name}-{}", g.suffix(5));
            let p = pod(
                &mut g,
                PodSpec {
                    ns,
                    created: start.clone(),
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
    let mut apps: Vec<AppInfo> = Vec::new();
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
        // The first pods of the cluster show each kind of trouble once, whatever its size; the
        // rest are drawn.
        let mut fates: Vec<PodFate> = (0..replicas)
            .map(|i| match pod_n + i - job_pods {
                0 => PodFate::CrashLoop,
                1 => PodFate::ImagePull,
                2 => PodFate::Pending,
                _ => pick_fate(&mut g),
            })
            .collect();
        if nodes.is_empty() {
            fates.iter_mut().for_each(|f| *f = PodFate::Pending);
        }
        let ready = fates.iter().filter(|f| matches!(f, PodFate::Running | PodFate::OomKilled)).count();
        let tmpl = json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.4.2"}]}});
        let dep_status = json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
            "unavailableReplicas": replicas - ready, "terminatingReplicas": 0,
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
            "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "terminatingReplicas": 0, "observedGeneration": 1}}),
            &mut n,
        )?;
        let mut endpoints = Vec::new();
        for f in fates {
            // Half the pending pods wait for a node (the first always does).
            let unscheduled = matches!(f, PodFate::Pending) && (pod_n == job_pods + 2 || g.rng.random_bool(0.5));
            let node = if unscheduled { None } else { place(pod_n) };
            let pod_name = format!("{rs_name}-{}", g.suffix(5));
            let pod_created = g.ts_after(&created);
            let p = pod(
                &mut g,
                PodSpec {
                    ns,
                    created: pod_created,
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
                let mut ep = json!({"addresses": [ip], "conditions": {"ready": p["status"]["conditions"][2]["status"] == "True"},
                    "nodeName": p["spec"]["nodeName"], "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}});
                // Same zone labels as the nodes get, so that topology-aware routing has hints to use.
                if let Some(i) = node.and_then(|x| x.0.strip_prefix("node-")).and_then(|x| x.parse::<usize>().ok()) {
                    let zone = format!("zone-{}", i % 3);
                    ep["zone"] = json!(zone);
                    ep["hints"] = json!({"forZones": [{"name": zone}]});
                }
                endpoints.push(ep);
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
                "selector": {"app": app}, "sessionAffinity": "None", "externalIPs": if d.is_multiple_of(10) { json!([format!("192.0.2.{}", d % 250 + 1)]) } else { json!([]) }, "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"},
            "status": {"loadBalancer": if d.is_multiple_of(10) { json!({"ingress": [{"ip": format!("198.51.100.{}", d % 250 + 1), "ipMode": "VIP"}]}) } else { json!({}) }}}),
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
        apps.push(AppInfo {
            ns: ns.clone(),
            name: app.clone(),
            uid: dep_uid.clone(),
            replicas,
            ready,
            endpoints: endpoints.clone(),
        });
        if d.is_multiple_of(3) {
            put(
                store,
                json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": app, "namespace": ns, "uid": g.uid(), "creationTimestamp": created, "generation": 1},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app}, "minReplicas": 1, "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                    "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "tolerance": "0.05", "selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                        "scaleDown": {"stabilizationWindowSeconds": 300, "tolerance": "0.1", "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}},
                "status": {"currentReplicas": replicas, "desiredReplicas": replicas, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "42m"}}}],
                    "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "lastTransitionTime": created}]}}),
                &mut n,
            )?;
        }
        d += 1;
    }
    // The remaining kinds draw from their own stream so that everything above stays exactly as it was
    // for a seed (other tests count and name those objects).
    let mut xg = Gen { rng: StdRng::seed_from_u64(seed ^ 0x6b75_6265_7374_6174), now: g.now };
    generate_rest(store, &mut xg, cfg, &budget, &namespaces, &nodes, &apps, &mut n)?;
    n += settle(store, &namespaces, &budget, g.now)?;
    Ok(n)
}

/// Run the simulated controllers once over the generated cluster: DaemonSets, StatefulSets and
/// replication controllers get their pods (started ten minutes ago), then a few of those pods
/// crash-loop for variety, some workloads are marked for deletion, and every status is made to agree
/// with the pods. Returns the number of pods created.
fn settle(
    store: &Store,
    namespaces: &[String],
    budget: &Budget,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let Some(pods_rt) = store.resource_for("v1", "Pod") else { return Ok(0) };
    let before = store.count("v1", "Pod");
    let Some(mut ctl) = crate::controllers::Controllers::new(store, 0) else { return Ok(0) };
    let t0 = now - chrono::Duration::minutes(10);
    ctl.reconcile_all(store, t0);
    ctl.reconcile_all(store, t0 + chrono::Duration::seconds(30));
    // Variety: the last pod of some StatefulSets and one pod of some replication controllers
    // crash-loop, as in a cluster with trouble.
    for (ni, ns) in namespaces.iter().enumerate() {
        let mut hurt = Vec::new();
        for (i, replicas) in budget.statefulsets.get(ni).into_iter().flatten().enumerate() {
            if (ni + i) % 4 == 3 && *replicas > 0 {
                let name = if i == 0 { "db".to_string() } else { format!("cache-{i}") };
                hurt.push(format!("{name}-{}", replicas - 1));
            }
        }
        if ni % 2 == 1 && budget.rcs.get(ni).is_some_and(|r| *r > 0) {
            let rc_pod = store
                .snapshot(&pods_rt, Some(ns))
                .0
                .iter()
                .find(|p| p.name.starts_with("legacy-web-"))
                .map(|p| p.name.clone());
            hurt.extend(rc_pod);
        }
        for pod in hurt {
            ctl.crash_loop(store, ns, &pod, t0 + chrono::Duration::minutes(5));
        }
    }
    ctl.reconcile_all(store, t0 + chrono::Duration::minutes(6));
    // Held by a finalizer of an operator that is not running: terminating, pods and status as they
    // were when deletion began.
    let last = namespaces.last().cloned().unwrap_or_default();
    let per_ns = budget.statefulsets.last().map_or(0, Vec::len);
    let doomed = [
        (
            "apps/v1",
            "StatefulSet",
            last.clone(),
            if per_ns > 1 { format!("cache-{}", per_ns - 1) } else { "db".to_string() },
        ),
        ("apps/v1", "DaemonSet", "kube-system".to_string(), "node-exporter".to_string()),
    ];
    for (av, kind, ns, name) in doomed {
        let Some(rt) = store.resource_for(av, kind) else { continue };
        if let Some(o) = store.get_in(&rt, &ns, &name) {
            let mut v = o.value();
            v["metadata"]["deletionTimestamp"] =
                json!((now - chrono::Duration::minutes(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string());
            v["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            v["metadata"]["finalizers"] = json!(["cleanup.example.com/drain"]);
            store.replace_in(&rt, v).map_err(|e| anyhow::anyhow!("marking {kind} {name} for deletion: {e}"))?;
        }
    }
    Ok(store.count("v1", "Pod") - before)
}

fn meta(g: &mut Gen, name: &str, ns: Option<&str>, max_age_days: i64, labels: Value) -> Value {
    let mut m = json!({"name": name, "uid": g.uid(), "creationTimestamp": g.ts_ago(max_age_days * 86400),
        "resourceVersion": g.rng.random_range(1000..900_000u32).to_string(), "labels": labels,
        "annotations": {"kubestate.example/generated-by": "kube-sim"}});
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    m
}

/// A terminating object, held by a finalizer as a real one would be while its dependents go away.
fn terminating(v: &mut Value, g: &mut Gen) {
    v["metadata"]["deletionTimestamp"] = json!(g.ts_ago(600));
    v["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
}

/// Workload controllers whose pods the simulated controllers make when the cluster settles:
/// statefulsets, daemonsets (node agents in kube-system) and a legacy replication controller, sized by
/// the pod budget.
fn workloads(
    store: &Store,
    g: &mut Gen,
    budget: &Budget,
    namespaces: &[String],
    apps: &[AppInfo],
    n: &mut usize,
) -> anyhow::Result<()> {
    for (ni, ns) in namespaces.iter().enumerate() {
        for (i, replicas) in budget.statefulsets[ni].iter().enumerate() {
            let name = if i == 0 { "db".to_string() } else { format!("cache-{i}") };
            let rev = format!("{name}-{}", g.suffix(10));
            let gen_n = g.rng.random_range(1..5u32);
            let mut v = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": meta(g, &name, Some(ns), 60, json!({"app": name, "tier": "data"})),
                "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                    "ordinals": {"start": 0}, "podManagementPolicy": "OrderedReady",
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": "registry.example/db:16"}]}},
                    "updateStrategy": {"type": "RollingUpdate"}},
                "status": {"observedGeneration": gen_n, "replicas": 0, "currentRevision": rev, "updateRevision": rev, "collisionCount": 0}});
            v["metadata"]["generation"] = json!(gen_n);
            put(store, v, n)?;
        }
        let rc = "legacy-web";
        let mut v = json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": meta(g, rc, Some(ns), 100, json!({"app": rc})),
            "spec": {"replicas": budget.rcs[ni], "selector": {"app": rc},
                "template": {"metadata": {"labels": {"app": rc}}, "spec": {"containers": [{"name": "web", "image": "registry.example/web:0.9"}]}}},
            "status": {"replicas": 0}});
        v["metadata"]["generation"] = json!(1);
        // Left over from a Helm-style migration: the namespace's first deployment holds it (not as its
        // controller), so that ownership shows on this kind too.
        if let Some(a) = apps.iter().find(|a| &a.ns == ns) {
            let mut o = owner("apps/v1", "Deployment", &a.name, &a.uid);
            o["controller"] = json!(false);
            v["metadata"]["ownerReferences"] = json!([o]);
        }
        put(store, v, n)?;
    }
    // Node agents: one pod on every node.
    for (i, (name, image)) in [
        ("kube-proxy", "registry.k8s.io/kube-proxy:v1.36.0"),
        ("node-exporter", "quay.io/prometheus/node-exporter:v1.9.0"),
    ]
    .into_iter()
    .enumerate()
    .take(budget.daemonsets)
    {
        let mut v = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": meta(g, name, Some("kube-system"), 90, json!({"k8s-app": name})),
            "spec": {"selector": {"matchLabels": {"k8s-app": name}}, "updateStrategy": {"type": "RollingUpdate"},
                "template": {"metadata": {"labels": {"k8s-app": name}},
                    "spec": {"containers": [{"name": name, "image": image, "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}],
                        "tolerations": [{"operator": "Exists"}]}}},
            "status": {}});
        v["metadata"]["generation"] = json!(2 + i);
        put(store, v, n)?;
    }
    Ok(())
}

/// Networking and policy per namespace: endpoints, ingresses, network policies, disruption budgets,
/// limit ranges, quotas, leases and RBAC.
fn namespaced(
    store: &Store,
    g: &mut Gen,
    namespaces: &[String],
    apps: &[AppInfo],
    n: &mut usize,
) -> anyhow::Result<()> {
    for a in apps {
        let mut ready = Vec::new();
        let mut not_ready = Vec::new();
        for e in &a.endpoints {
            let addr = json!({"ip": e["addresses"][0], "nodeName": e["nodeName"], "targetRef": e["targetRef"]});
            if e["conditions"]["ready"] == true { ready.push(addr) } else { not_ready.push(addr) }
        }
        let mut subset = json!({"addresses": ready, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]});
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        put(
            store,
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(g, &a.name, Some(&a.ns), 60, json!({"app": a.name})),
                "subsets": if a.endpoints.is_empty() { json!([]) } else { json!([subset]) }}),
            n,
        )?;
        // Budgets only make sense for apps with more than one replica.
        if a.replicas >= 2 {
            let desired = a.replicas - 1;
            let mut v = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": meta(g, &a.name, Some(&a.ns), 60, json!({"app": a.name})),
                "spec": {"minAvailable": desired, "selector": {"matchLabels": {"app": a.name}}},
                "status": {"currentHealthy": a.ready, "desiredHealthy": desired, "disruptionsAllowed": a.ready.saturating_sub(desired),
                    "expectedPods": a.replicas, "observedGeneration": 1,
                    "conditions": [{"type": "DisruptionAllowed", "status": if a.ready > desired { "True" } else { "False" },
                        "reason": if a.ready > desired { "SufficientPods" } else { "InsufficientPods" }, "lastTransitionTime": g.ts_ago(86400)}]}});
            v["metadata"]["generation"] = json!(1);
            put(store, v, n)?;
        }
    }
    // One terminating budget, as while a release is being removed.
    if let Some(ns) = namespaces.last() {
        let mut v = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": meta(g, "retired", Some(ns), 30, json!({"app": "retired"})),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "retired"}}},
            "status": {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0, "observedGeneration": 1}});
        terminating(&mut v, g);
        put(store, v, n)?;
    }
    for (ni, ns) in namespaces.iter().enumerate() {
        let ns_apps: Vec<&AppInfo> = apps.iter().filter(|a| &a.ns == ns).collect();
        if let Some(first) = ns_apps.first() {
            let host = format!("{}.{ns}.example.com", first.name);
            let mut paths = vec![
                json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": first.name, "port": {"number": 80}}}}),
            ];
            if let Some(second) = ns_apps.get(1) {
                paths.push(json!({"path": "/api", "pathType": "ImplementationSpecific", "backend": {"service": {"name": second.name, "port": {"name": "http"}}}}));
            }
            put(
                store,
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": meta(g, "web", Some(ns), 60, json!({"app": first.name})),
                    "spec": {"ingressClassName": if ni % 2 == 0 { "nginx" } else { "traefik" },
                        "tls": [{"hosts": [host], "secretName": "secret-0"}],
                        "rules": [{"host": host, "http": {"paths": paths}}]},
                    "status": {"loadBalancer": {"ingress": [{"ip": format!("203.0.113.{}", ni % 250 + 1)}]}}}),
                n,
            )?;
            put(
                store,
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": format!("{}-leader", first.name), "namespace": ns, "uid": g.uid(), "creationTimestamp": g.ts_ago(30 * 86400),
                        "ownerReferences": [owner("apps/v1", "Deployment", &first.name, &first.uid)]},
                    "spec": {"holderIdentity": format!("{}-{}", first.name, g.suffix(5)), "leaseDurationSeconds": 15,
                        "acquireTime": crate::controllers::micro_ts(g.now - chrono::Duration::seconds(g.rng.random_range(3600..86400))), "renewTime": g.now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(), "leaseTransitions": ni}}),
                n,
            )?;
        }
        put(
            store,
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(g, "default-deny", Some(ns), 90, json!({"policy": "baseline"})),
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
            n,
        )?;
        put(
            store,
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(g, "allow-web", Some(ns), 90, json!({"policy": "app"})),
                "spec": {"podSelector": {"matchLabels": {"tier": "web"}}, "policyTypes": ["Ingress", "Egress"],
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}], "ports": [{"port": 8080, "protocol": "TCP"}]},
                        {"from": [{"podSelector": {"matchLabels": {"role": "monitoring"}}}]}],
                    "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 53, "protocol": "UDP"}]}]}}),
            n,
        )?;
        put(
            store,
            json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": meta(g, "defaults", Some(ns), 90, json!({})),
                "spec": {"limits": [
                    {"type": "Container", "max": {"cpu": "2", "memory": "4Gi"}, "min": {"cpu": "10m", "memory": "16Mi"},
                        "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "100m", "memory": "128Mi"}, "maxLimitRequestRatio": {"cpu": "10"}},
                    {"type": "PersistentVolumeClaim", "max": {"storage": "50Gi"}, "min": {"storage": "1Gi"}}]}}),
            n,
        )?;
        let used_pods = apps.iter().filter(|a| &a.ns == ns).map(|a| a.replicas).sum::<usize>();
        put(
            store,
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta(g, "compute", Some(ns), 90, json!({"quota": "compute"})),
                "spec": {"hard": {"pods": "200", "requests.cpu": "40", "requests.memory": "80Gi", "limits.memory": "160Gi", "persistentvolumeclaims": "20"}},
                "status": {"hard": {"pods": "200", "requests.cpu": "40", "requests.memory": "80Gi", "limits.memory": "160Gi", "persistentvolumeclaims": "20"},
                    "used": {"pods": used_pods.to_string(), "requests.cpu": format!("{}m", used_pods * 110), "requests.memory": format!("{}Mi", used_pods * 160),
                        "limits.memory": format!("{}Mi", used_pods * 256), "persistentvolumeclaims": "2"}}}),
            n,
        )?;
        put(
            store,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(g, "app-reader", Some(ns), 90, json!({"rbac": "app"})),
                "rules": [{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list", "watch"]}]}),
            n,
        )?;
        put(
            store,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(g, "deployer", Some(ns), 90, json!({"rbac": "ci"})),
                "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "update", "patch"]}]}),
            n,
        )?;
        put(
            store,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(g, "app-reader", Some(ns), 90, json!({"rbac": "app"})),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "app-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}]}),
            n,
        )?;
        put(
            store,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(g, "view", Some(ns), 90, json!({"rbac": "team"})),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": format!("team-{ni}")}]}),
            n,
        )?;
    }
    for name in ["kube-controller-manager", "kube-scheduler"] {
        put(
            store,
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-system", "uid": g.uid(), "creationTimestamp": g.ts_ago(90 * 86400)},
                "spec": {"holderIdentity": format!("node-0000_{}", g.uid()), "leaseDurationSeconds": 15,
                    "renewTime": g.now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(), "leaseTransitions": 3}}),
            n,
        )?;
    }
    Ok(())
}

/// Cluster-scoped kinds: ingress classes, volume attachments, certificate requests, admission
/// configuration and cluster RBAC.
fn cluster_scoped(
    store: &Store,
    g: &mut Gen,
    cfg: &SyntheticConfig,
    namespaces: &[String],
    nodes: &[(String, String, bool)],
    n: &mut usize,
) -> anyhow::Result<()> {
    for (name, controller, default) in
        [("nginx", "k8s.io/ingress-nginx", true), ("traefik", "traefik.io/ingress-controller", false)]
    {
        let mut m = meta(g, name, None, 120, json!({"app.kubernetes.io/name": name}));
        if default {
            m["annotations"]["ingressclass.kubernetes.io/is-default-class"] = json!("true");
        }
        put(
            store,
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": m, "spec": {"controller": controller}}),
            n,
        )?;
    }
    let ready: Vec<&(String, String, bool)> = nodes.iter().filter(|x| x.2).collect();
    for (i, ns) in namespaces.iter().enumerate() {
        // The bound volume of each namespace is attached where its consumer would run.
        let node = ready.get(i % ready.len().max(1)).map_or("node-0000".to_string(), |x| x.0.clone());
        let attached = i % 4 != 3;
        let mut status = json!({"attached": attached});
        if attached {
            status["attachmentMetadata"] =
                json!({"devicePath": format!("/dev/vd{}", char::from(b'b' + (i % 24) as u8))});
        } else {
            status["attachError"] =
                json!({"time": g.ts_ago(3600), "message": "rpc error: volume is still attached elsewhere"});
        }
        let name = format!("csi-{}", g.uid().replace('-', ""));
        put(
            store,
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": meta(g, &name, None, 50, json!({"namespace": ns})),
                "spec": {"attacher": "sim.csi.example", "nodeName": node, "source": {"persistentVolumeName": format!("pv-{ns}-data")}},
                "status": status}),
            n,
        )?;
    }
    // Kubelet serving certificates: most approved and issued, one pending, one denied.
    let csrs = cfg.nodes.clamp(1, 8);
    for i in 0..csrs + 2 {
        let name = format!("csr-{}", g.suffix(5));
        let node = format!("node-{:04}", i % cfg.nodes.max(1));
        let (conditions, cert) = if i < csrs {
            let len = g.rng.random_range(1100..1400usize);
            (
                json!([{"type": "Approved", "status": "True", "reason": "AutoApproved", "message": "auto approved", "lastUpdateTime": g.ts_ago(86400)}]),
                Some("QUJD".repeat(len / 3)),
            )
        } else if i == csrs {
            (json!([]), None)
        } else {
            (
                json!([{"type": "Denied", "status": "True", "reason": "PolicyDenied", "message": "unknown requester", "lastUpdateTime": g.ts_ago(86400)}]),
                None,
            )
        };
        let mut status = json!({"conditions": conditions});
        if let Some(c) = cert {
            status["certificate"] = json!(c);
        }
        put(
            store,
            json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": meta(g, &name, None, 30, json!({"node": node})),
                "spec": {"request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K", "signerName": "kubernetes.io/kubelet-serving",
                    "usages": ["digital signature", "server auth"], "username": format!("system:node:{node}"), "groups": ["system:nodes", "system:authenticated"]},
                "status": status}),
            n,
        )?;
    }
    let rules = json!([{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"], "scope": "Namespaced"}]);
    for (kind, names) in [
        ("MutatingWebhookConfiguration", ["sidecar-injector", "defaulter"]),
        ("ValidatingWebhookConfiguration", ["policy-webhook", "cert-checker"]),
    ] {
        for name in names {
            let mut hook = json!({"name": format!("{name}.example.com"), "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Ignore",
                "timeoutSeconds": 10, "rules": rules,
                "clientConfig": {"service": {"namespace": "kube-system", "name": name, "path": "/mutate", "port": 443}, "caBundle": "LS0tLS1DQQ=="}});
            if kind.starts_with("Mutating") {
                hook["reinvocationPolicy"] = json!("Never");
            }
            put(
                store,
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": meta(g, name, None, 120, json!({"app": name})), "webhooks": [hook]}),
                n,
            )?;
        }
    }
    let match_deployments = json!({"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]});
    put(
        store,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": meta(g, "replica-limit", None, 60, json!({})),
            "spec": {"failurePolicy": "Fail", "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "matchConstraints": match_deployments,
                "validations": [{"expression": "object.spec.replicas <= int(params.data.maxReplicas)"}]},
            "status": {"observedGeneration": 1}}),
        n,
    )?;
    put(
        store,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": meta(g, "require-team-label", None, 60, json!({})),
            "spec": {"failurePolicy": "Ignore", "matchConstraints": match_deployments,
                "validations": [{"expression": "has(object.metadata.labels.team)"}]}}),
        n,
    )?;
    let first_ns = namespaces.first().cloned().unwrap_or_else(|| "default".into());
    put(
        store,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": meta(g, "replica-limit-apps", None, 60, json!({})),
            "spec": {"policyName": "replica-limit", "validationActions": ["Deny", "Audit"],
                "paramRef": {"name": "config-0", "namespace": first_ns, "parameterNotFoundAction": "Deny"}}}),
        n,
    )?;
    put(
        store,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": meta(g, "require-team-label", None, 60, json!({})),
            "spec": {"policyName": "require-team-label", "validationActions": ["Warn"]}}),
        n,
    )?;
    put(
        store,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy", "metadata": meta(g, "default-resources", None, 60, json!({})),
            "spec": {"failurePolicy": "Ignore", "reinvocationPolicy": "IfNeeded", "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
                "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": "Object{}"}}]}}),
        n,
    )?;
    put(
        store,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding", "metadata": meta(g, "default-resources", None, 60, json!({})),
            "spec": {"policyName": "default-resources", "paramRef": {"name": "config-0", "namespace": first_ns, "parameterNotFoundAction": "Allow"}}}),
        n,
    )?;
    for (name, rules) in [
        ("view", json!([{"apiGroups": ["", "apps", "batch"], "resources": ["*"], "verbs": ["get", "list", "watch"]}])),
        ("edit", json!([{"apiGroups": ["", "apps", "batch"], "resources": ["*"], "verbs": ["*"]}])),
        ("kube-state-metrics", json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["list", "watch"]}])),
    ] {
        put(
            store,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": meta(g, name, None, 120, json!({"kubernetes.io/bootstrapping": "rbac-defaults"})), "rules": rules}),
            n,
        )?;
        put(
            store,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": meta(g, name, None, 120, json!({"kubernetes.io/bootstrapping": "rbac-defaults"})),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": first_ns}]}),
            n,
        )?;
    }
    Ok(())
}

/// Every kind kube-state-metrics reads that the part above does not make.
#[allow(clippy::too_many_arguments)]
fn generate_rest(
    store: &Store,
    g: &mut Gen,
    cfg: &SyntheticConfig,
    budget: &Budget,
    namespaces: &[String],
    nodes: &[(String, String, bool)],
    apps: &[AppInfo],
    n: &mut usize,
) -> anyhow::Result<()> {
    workloads(store, g, budget, namespaces, apps, n)?;
    namespaced(store, g, namespaces, apps, n)?;
    cluster_scoped(store, g, cfg, namespaces, nodes, n)
}

/// Keep the cluster moving, consistently: see [`crate::controllers::churn`].
pub async fn churn(store: Arc<Store>, per_sec: f64, seed: u64, stop: CancellationToken) {
    crate::controllers::churn(store, per_sec, seed, stop).await;
}
