//! What a real cluster's controllers and kubelets do, reduced to what keeps the synthetic cluster
//! believable for hours: pods move through their lifecycle (created, running, restarting,
//! crash-looping, evicted, completed), ReplicaSets/StatefulSets/DaemonSets/ReplicationControllers/
//! Jobs keep their pods and report them in their status, Deployments follow their ReplicaSet,
//! CronJobs start Jobs on schedule and keep their history, evicted pods are collected.
//!
//! Everything takes the time as an argument ([`Churn::step`]), so a test can run hours of churn
//! in a moment and check every object after it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::resources::ResourceType;
use crate::store::{CreateMode, Store, UpdateKind, uid_from_bytes};

/// How long a new pod's containers take to start.
const START_DELAY: i64 = 5;
/// How long an evicted pod stays before it is collected (kube-controller-manager keeps terminated
/// pods up to a threshold; a bounded demo keeps them this long).
const EVICTED_TTL: i64 = 20 * 60;

/// `metav1.Time` as the API writes it: whole seconds, UTC.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `metav1.MicroTime`: exactly six fractional digits.
pub fn micro_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(v: &Value) -> Option<DateTime<Utc>> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

/// The kinds whose controllers are simulated, in the order a pass reconciles them (owners after
/// what they own).
const WORKLOADS: &[(&str, &str)] = &[
    ("batch/v1", "Job"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("v1", "ReplicationController"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "CronJob"),
];

/// Identity of one stored object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    ns: String,
    name: String,
}

fn key_of(v: &Value) -> Key {
    Key {
        ns: v["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        name: v["metadata"]["name"].as_str().unwrap_or_default().to_string(),
    }
}

fn controller_uid(v: &Value) -> Option<&str> {
    v["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == true)
        .and_then(|o| o["uid"].as_str())
}

/// The objects of a type in `ns` whose controller has `uid`.
fn owned_by(store: &Store, rt: &ResourceType, ns: &str, uid: &str) -> Vec<Value> {
    store.snapshot(rt, Some(ns)).0.iter().map(|o| o.value()).filter(|v| controller_uid(v) == Some(uid)).collect()
}

fn is_terminal(pod: &Value) -> bool {
    matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

fn is_deleting(v: &Value) -> bool {
    !v["metadata"]["deletionTimestamp"].is_null()
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// Whether a pod can still change on its own (containers to start, a job pod to finish, an evicted
/// pod to collect).
fn may_advance(pod: &Value) -> bool {
    let creating = pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating";
    match pod["status"]["phase"].as_str() {
        Some("Pending") => creating,
        Some("Running") => pod["spec"]["restartPolicy"] == "Never",
        // Evicted pods of a job stay with it (its history decides), others are collected.
        Some("Failed") => pod["status"]["reason"] == "Evicted" && pod["spec"]["restartPolicy"] != "Never",
        _ => false,
    }
}

/// A node as the controllers see it: name, InternalIP, ready.
type NodeRow = (String, String, bool);

/// Every node and the ready ones.
type NodeLists = (Arc<Vec<NodeRow>>, Arc<Vec<NodeRow>>);

/// The simulated controllers of one store. Only what changed is reconciled: a change marks the
/// controller of what it touched dirty.
pub struct Controllers {
    rng: StdRng,
    pods: Arc<ResourceType>,
    nodes: Arc<ResourceType>,
    /// Pods by the uid of their controller.
    owned: HashMap<String, BTreeSet<Key>>,
    /// Simulated controllers by uid.
    owners: HashMap<String, (Arc<ResourceType>, Key)>,
    /// Pods that may change on their own.
    watch: BTreeSet<Key>,
    /// Controllers to reconcile.
    dirty: BTreeSet<String>,
    /// Pod IPs handed out so far.
    next_ip: usize,
    /// Every node and the ready ones, read once per reconcile pass: controllers do not change nodes,
    /// and parsing every Node for each controller made a large cluster's start quadratic.
    pass_nodes: Option<NodeLists>,
    /// ReplicaSets by the uid of their controller, indexed once per reconcile pass for the same
    /// reason (each Deployment looked through its namespace's ReplicaSets).
    pass_replicasets: Option<HashMap<String, Vec<Key>>>,
}

impl Controllers {
    /// Index the store's pods and simulated controllers.
    pub fn new(store: &Store, seed: u64) -> Option<Self> {
        let pods = store.resource_for("v1", "Pod")?;
        let nodes = store.resource_for("v1", "Node")?;
        let mut owned: HashMap<String, BTreeSet<Key>> = HashMap::new();
        let mut watch = BTreeSet::new();
        let (all, _) = store.snapshot(&pods, None);
        for o in &all {
            let v = o.value();
            if let Some(uid) = controller_uid(&v) {
                owned.entry(uid.to_string()).or_default().insert(key_of(&v));
            }
            if may_advance(&v) {
                watch.insert(key_of(&v));
            }
        }
        let mut owners = HashMap::new();
        for (av, kind) in WORKLOADS {
            let Some(rt) = store.resource_for(av, kind) else { continue };
            for o in store.snapshot(&rt, None).0 {
                let v = o.value();
                if let Some(uid) = v["metadata"]["uid"].as_str() {
                    owners.insert(uid.to_string(), (rt.clone(), key_of(&v)));
                }
            }
        }
        Some(Self {
            rng: StdRng::seed_from_u64(seed ^ 0x636f_6e74),
            pods,
            nodes,
            owned,
            owners,
            watch,
            dirty: BTreeSet::new(),
            next_ip: all.len() + 7,
            pass_nodes: None,
            pass_replicasets: None,
        })
    }

    /// Mark the controller of `obj` for reconciliation.
    fn touch(&mut self, obj: &Value) {
        if let Some(uid) = controller_uid(obj) {
            self.dirty.insert(uid.to_string());
        }
    }

    fn rt(store: &Store, av: &str, kind: &str) -> Option<Arc<ResourceType>> {
        store.resource_for(av, kind)
    }

    /// The pods a controller owns now, dropping those that went away behind our back.
    fn pods_of(&mut self, store: &Store, uid: &str) -> Vec<Value> {
        let Some(keys) = self.owned.get_mut(uid) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        keys.retain(|k| match store.get_in(&self.pods, &k.ns, &k.name) {
            Some(o) => {
                out.push(o.value());
                true
            }
            None => false,
        });
        out
    }

    /// Every node as (name, InternalIP, ready), cached for the current reconcile pass.
    fn nodes(&mut self, store: &Store) -> Arc<Vec<NodeRow>> {
        self.pass_nodes(store).0
    }

    /// The ready nodes, cached for the current reconcile pass.
    fn ready_nodes(&mut self, store: &Store) -> Arc<Vec<NodeRow>> {
        self.pass_nodes(store).1
    }

    fn pass_nodes(&mut self, store: &Store) -> NodeLists {
        if let Some(cached) = &self.pass_nodes {
            return cached.clone();
        }
        let all: Vec<NodeRow> = store
            .snapshot(&self.nodes, None)
            .0
            .iter()
            .map(|o| {
                let v = o.value();
                let ready = v["status"]["conditions"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
                let ip = v["status"]["addresses"]
                    .as_array()
                    .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
                    .and_then(|a| a["address"].as_str())
                    .unwrap_or_default()
                    .to_string();
                (o.name.clone(), ip, ready && !is_deleting(&v))
            })
            .collect();
        let ready = all.iter().filter(|n| n.2).cloned().collect();
        let lists = (Arc::new(all), Arc::new(ready));
        self.pass_nodes = Some(lists.clone());
        lists
    }

    /// The ReplicaSets `uid` controls, in name order, as they are now.
    fn replicasets_of(&mut self, store: &Store, rs_rt: &ResourceType, uid: &str) -> Vec<Value> {
        let index = self.pass_replicasets.get_or_insert_with(|| {
            let mut index: HashMap<String, Vec<Key>> = HashMap::new();
            for o in store.snapshot(rs_rt, None).0 {
                let v = o.value();
                if let Some(owner) = controller_uid(&v) {
                    index.entry(owner.to_string()).or_default().push(key_of(&v));
                }
            }
            index
        });
        let keys = index.get(uid).map(Vec::as_slice).unwrap_or_default();
        keys.iter()
            .filter_map(|k| store.get_in(rs_rt, &k.ns, &k.name))
            .map(|o| o.value())
            .filter(|v| controller_uid(v) == Some(uid))
            .collect()
    }

    /// A new pod of `owner` from its pod template, bound to `node`, its containers being created.
    fn spawn(
        &mut self,
        store: &Store,
        owner: &Value,
        name: &str,
        node: Option<&(String, String, bool)>,
        extra_labels: &[(&str, String)],
        now: DateTime<Utc>,
    ) -> Option<Key> {
        let kind = owner["kind"].as_str().unwrap_or_default();
        let tmpl = if kind == "CronJob" {
            &owner["spec"]["jobTemplate"]["spec"]["template"]
        } else {
            &owner["spec"]["template"]
        };
        let mut labels = tmpl["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        for (k, v) in extra_labels {
            labels[*k] = json!(v);
        }
        let ns = owner["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
        let mut spec = tmpl["spec"].clone();
        if !spec["containers"].is_array() {
            spec["containers"] = json!([{"name": "app", "image": "registry.example/app:1"}]);
        }
        for c in spec["containers"].as_array_mut().into_iter().flatten() {
            if c["image"].is_null() {
                c["image"] = json!("registry.example/app:1");
            }
        }
        let restart = if kind == "Job" { "Never" } else { "Always" };
        if spec["restartPolicy"].is_null() || (kind == "Job" && spec["restartPolicy"] == "Always") {
            spec["restartPolicy"] = json!(restart);
        }
        for (k, v) in [
            ("schedulerName", json!("default-scheduler")),
            ("dnsPolicy", json!("ClusterFirst")),
            ("terminationGracePeriodSeconds", json!(30)),
            ("serviceAccountName", json!("default")),
            ("priority", json!(0)),
            (
                "tolerations",
                json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]),
            ),
        ] {
            if spec[k].is_null() {
                spec[k] = v;
            }
        }
        let created = ts(now);
        let mut status = json!({"phase": "Pending", "qosClass": "BestEffort"});
        if let Some((node, ip, _)) = node {
            spec["nodeName"] = json!(node);
            let statuses: Vec<Value> = spec["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false, "restartCount": 0,
                        "started": false, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}})
                })
                .collect();
            let cond = |t: &str, s: &str| json!({"type": t, "status": s, "lastProbeTime": null, "lastTransitionTime": created});
            status = json!({"phase": "Pending", "qosClass": "BestEffort", "hostIP": ip, "startTime": created,
                "conditions": [cond("PodReadyToStartContainers", "False"), cond("Initialized", "True"),
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastProbeTime": null, "lastTransitionTime": created},
                    {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady", "lastProbeTime": null, "lastTransitionTime": created},
                    cond("PodScheduled", "True")],
                "containerStatuses": statuses});
        } else {
            status["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/0 nodes are available", "lastProbeTime": null, "lastTransitionTime": created}]);
        }
        let api_version = owner["apiVersion"].clone();
        let owner_ref = json!({"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true});
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": uid_from_bytes(self.rng.random()), "creationTimestamp": created,
                "labels": labels, "ownerReferences": [owner_ref]},
            "spec": spec, "status": status});
        match store.create_in(&self.pods, pod, CreateMode::Keep) {
            Ok(_) => {
                let k = Key { ns, name: name.to_string() };
                let uid = owner["metadata"]["uid"].as_str().unwrap_or_default().to_string();
                self.owned.entry(uid).or_default().insert(k.clone());
                if node.is_some() {
                    self.watch.insert(k.clone());
                }
                Some(k)
            }
            Err(e) => {
                tracing::debug!(error = %e, pod = name, "creating a pod failed");
                None
            }
        }
    }

    fn suffix(&mut self, n: usize) -> String {
        const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n).map(|_| A[self.rng.random_range(0..A.len())] as char).collect()
    }

    fn delete_pod(&mut self, store: &Store, k: &Key) {
        if let Ok(o) = store.delete_in(&self.pods, &k.ns, &k.name, None) {
            self.touch(&o.value());
        }
        self.watch.remove(k);
    }

    /// Change a pod's status; its controller is marked, and the pod watched if it may go on by itself.
    fn modify_pod(&mut self, store: &Store, k: &Key, f: impl FnOnce(&mut Value)) {
        let res = store.modify_in(&self.pods, &k.ns, &k.name, UpdateKind::Status, |mut v| {
            f(&mut v);
            Ok(v)
        });
        match res {
            Ok(o) => {
                let v = o.value();
                self.touch(&v);
                if may_advance(&v) {
                    self.watch.insert(k.clone());
                } else {
                    self.watch.remove(k);
                }
            }
            Err(e) => tracing::debug!(error = %e, pod = %k.name, "updating a pod failed"),
        }
    }

    fn write_status(store: &Store, rt: &Arc<ResourceType>, owner: &Value, status: Value) {
        if owner["status"] == status {
            return;
        }
        let k = key_of(owner);
        let res = store.modify_in(rt, &k.ns, &k.name, UpdateKind::Status, |mut v| {
            v["status"] = status;
            Ok(v)
        });
        if let Err(e) = res {
            tracing::debug!(error = %e, name = %k.name, "updating a status failed");
        }
    }

    /// A pod's first container starts crash-looping at `now`.
    pub fn crash_loop(&mut self, store: &Store, ns: &str, name: &str, now: DateTime<Utc>) {
        let k = Key { ns: ns.to_string(), name: name.to_string() };
        self.modify_pod(store, &k, |p| restart(p, now, true));
    }

    /// Bring every simulated controller's objects in line with their pods at `now`.
    pub fn reconcile_all(&mut self, store: &Store, now: DateTime<Utc>) {
        self.dirty.extend(self.owners.keys().cloned());
        self.reconcile(store, now);
    }

    /// Pods advance, then the controllers marked dirty reconcile (what they own first, so that
    /// owners see their dependents' new status); CronJobs check their schedule every time.
    pub fn reconcile(&mut self, store: &Store, now: DateTime<Utc>) {
        // Nodes and ReplicaSets may have changed since the last pass.
        self.pass_nodes = None;
        self.pass_replicasets = None;
        self.advance_pods(store, now);
        for (uid, (rt, _)) in &self.owners {
            if rt.kind == "CronJob" {
                self.dirty.insert(uid.clone());
            }
        }
        for (_, kind) in WORKLOADS {
            let uids: Vec<String> = self
                .dirty
                .iter()
                .filter(|u| self.owners.get(*u).is_some_and(|(rt, _)| rt.kind == *kind))
                .cloned()
                .collect();
            for uid in uids {
                self.dirty.remove(&uid);
                let Some((rt, k)) = self.owners.get(&uid).cloned() else { continue };
                let Some(o) = store.get_in(&rt, &k.ns, &k.name) else {
                    self.owners.remove(&uid);
                    continue;
                };
                let v = o.value();
                if is_deleting(&v) || v["metadata"]["uid"].as_str() != Some(uid.as_str()) {
                    continue;
                }
                match *kind {
                    "ReplicaSet" | "ReplicationController" => self.reconcile_replicas(store, &rt, &v, now),
                    "StatefulSet" => self.reconcile_statefulset(store, &rt, &v, now),
                    "DaemonSet" => self.reconcile_daemonset(store, &rt, &v, now),
                    "Job" => self.reconcile_job(store, &rt, &v, now),
                    "Deployment" => self.reconcile_deployment(store, &rt, &v, now),
                    _ => self.reconcile_cronjob(store, &rt, &v, now),
                }
                // The owner of what changed (a ReplicaSet's Deployment, a Job's CronJob) follows.
                self.touch(&v);
            }
        }
        self.dirty.retain(|u| self.owners.contains_key(u));
    }

    /// The kubelet's part: containers start, job pods finish, evicted pods are collected.
    fn advance_pods(&mut self, store: &Store, now: DateTime<Utc>) {
        let watched: Vec<Key> = self.watch.iter().cloned().collect();
        let ready_nodes: BTreeMap<String, bool> = self.nodes(store).iter().map(|(n, _, r)| (n.clone(), *r)).collect();
        for k in watched {
            let Some(o) = store.get_in(&self.pods, &k.ns, &k.name) else {
                self.watch.remove(&k);
                continue;
            };
            let v = o.value();
            if is_deleting(&v) || !may_advance(&v) {
                self.watch.remove(&k);
                continue;
            }
            let created = parse_ts(&v["metadata"]["creationTimestamp"]).unwrap_or(now);
            let age = (now - created).num_seconds();
            let phase = v["status"]["phase"].as_str().unwrap_or_default();
            let creating = v["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating";
            let node = v["spec"]["nodeName"].as_str().unwrap_or_default();
            let node_ready = ready_nodes.get(node).copied().unwrap_or(false);
            if phase == "Pending" && creating && age >= START_DELAY && ready_nodes.contains_key(node) {
                self.next_ip += 1;
                let ip = format!("10.244.{}.{}", (self.next_ip / 250) % 256, self.next_ip % 250 + 2);
                self.modify_pod(store, &k, |p| to_running(p, now, &ip, node_ready));
            } else if phase == "Failed" && v["status"]["reason"] == "Evicted" {
                let since = parse_ts(&v["status"]["conditions"][0]["lastTransitionTime"]).unwrap_or(created);
                if (now - since).num_seconds() >= EVICTED_TTL {
                    self.delete_pod(store, &k);
                }
            } else if phase == "Running" && v["spec"]["restartPolicy"] == "Never" {
                // Job pods run one to three minutes, one in five fails.
                let started =
                    parse_ts(&v["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]).unwrap_or(created);
                let span = 60 + (created.timestamp().rem_euclid(120));
                if (now - started).num_seconds() >= span {
                    let ok = created.timestamp().rem_euclid(5) != 0;
                    self.modify_pod(store, &k, |p| finish(p, now, ok));
                }
            }
        }
    }

    /// Live pods: neither finished nor being deleted.
    fn live(pods: &[Value]) -> Vec<&Value> {
        pods.iter().filter(|p| !is_terminal(p) && !is_deleting(p)).collect()
    }

    fn reconcile_replicas(&mut self, store: &Store, rt: &Arc<ResourceType>, rs: &Value, now: DateTime<Utc>) {
        let uid = rs["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        let want = rs["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
        let pods = self.pods_of(store, &uid);
        let live = Self::live(&pods);
        let name = rs["metadata"]["name"].as_str().unwrap_or_default().to_string();
        if live.len() < want {
            let nodes = self.ready_nodes(store);
            let hash = rs["metadata"]["labels"]["pod-template-hash"].as_str().map(str::to_string);
            for _ in live.len()..want {
                let node =
                    if nodes.is_empty() { None } else { Some(nodes[self.rng.random_range(0..nodes.len())].clone()) };
                let pod_name = format!("{name}-{}", self.suffix(5));
                let extra: Vec<(&str, String)> = hash.iter().map(|h| ("pod-template-hash", h.clone())).collect();
                self.spawn(store, rs, &pod_name, node.as_ref(), &extra, now);
            }
        } else if live.len() > want {
            // Scale down: the pods that are not ready go first, then the newest.
            let mut doomed: Vec<(bool, String, Key)> = live
                .iter()
                .map(|p| {
                    (
                        pod_ready(p),
                        p["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string(),
                        key_of(p),
                    )
                })
                .collect();
            doomed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            for (_, _, k) in doomed.into_iter().take(live.len() - want) {
                self.delete_pod(store, &k);
            }
        }
        let pods = self.pods_of(store, &uid);
        let live = Self::live(&pods);
        let ready = live.iter().filter(|p| pod_ready(p)).count();
        let mut status = json!({"replicas": live.len(), "fullyLabeledReplicas": live.len(), "readyReplicas": ready,
            "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"].as_i64().unwrap_or(1)});
        if rt.kind == "ReplicaSet" {
            status["terminatingReplicas"] = json!(0);
        }
        Self::write_status(store, rt, rs, status);
    }

    fn reconcile_statefulset(&mut self, store: &Store, rt: &Arc<ResourceType>, sts: &Value, now: DateTime<Utc>) {
        let uid = sts["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        let name = sts["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let want = sts["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
        let pods = self.pods_of(store, &uid);
        let have: BTreeSet<String> = pods
            .iter()
            .filter(|p| !is_deleting(p))
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        let nodes = self.ready_nodes(store);
        let rev = sts["status"]["updateRevision"].as_str().unwrap_or_default().to_string();
        for i in 0..want {
            let pod_name = format!("{name}-{i}");
            if !have.contains(&pod_name) {
                let node = if nodes.is_empty() { None } else { Some(nodes[i % nodes.len()].clone()) };
                let extra = [
                    ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
                    ("controller-revision-hash", rev.clone()),
                ];
                self.spawn(store, sts, &pod_name, node.as_ref(), &extra, now);
            }
        }
        for p in &pods {
            let ordinal = p["metadata"]["name"]
                .as_str()
                .and_then(|n| n.rsplit_once('-'))
                .and_then(|(_, i)| i.parse::<usize>().ok());
            if ordinal.is_none_or(|i| i >= want) && !is_deleting(p) {
                self.delete_pod(store, &key_of(p));
            }
        }
        let pods = self.pods_of(store, &uid);
        let live = Self::live(&pods);
        let ready = live.iter().filter(|p| pod_ready(p)).count();
        let mut status = sts["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        for (k, v) in [
            ("observedGeneration", json!(sts["metadata"]["generation"].as_i64().unwrap_or(1))),
            ("replicas", json!(live.len())),
            ("readyReplicas", json!(ready)),
            ("currentReplicas", json!(live.len())),
            ("updatedReplicas", json!(live.len())),
            ("availableReplicas", json!(ready)),
        ] {
            status[k] = v;
        }
        Self::write_status(store, rt, sts, status);
    }

    fn reconcile_daemonset(&mut self, store: &Store, rt: &Arc<ResourceType>, ds: &Value, now: DateTime<Utc>) {
        let uid = ds["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        let name = ds["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let nodes = self.nodes(store);
        let pods = self.pods_of(store, &uid);
        let on: BTreeSet<String> =
            Self::live(&pods).iter().filter_map(|p| p["spec"]["nodeName"].as_str().map(str::to_string)).collect();
        for n in nodes.iter() {
            if !on.contains(&n.0) {
                let pod_name = format!("{name}-{}", self.suffix(5));
                self.spawn(store, ds, &pod_name, Some(n), &[], now);
            }
        }
        // A pod whose node is gone goes with it.
        let names: BTreeSet<&str> = nodes.iter().map(|n| n.0.as_str()).collect();
        for p in &pods {
            if !names.contains(p["spec"]["nodeName"].as_str().unwrap_or_default()) || is_terminal(p) {
                self.delete_pod(store, &key_of(p));
            }
        }
        let pods = self.pods_of(store, &uid);
        let live = Self::live(&pods);
        let ready = live.iter().filter(|p| pod_ready(p)).count();
        let desired = nodes.len();
        let status = json!({"currentNumberScheduled": live.len(), "desiredNumberScheduled": desired, "numberAvailable": ready,
            "numberReady": ready, "numberUnavailable": desired.saturating_sub(ready), "numberMisscheduled": 0,
            "updatedNumberScheduled": live.len(), "observedGeneration": ds["metadata"]["generation"].as_i64().unwrap_or(1)});
        Self::write_status(store, rt, ds, status);
    }

    fn reconcile_job(&mut self, store: &Store, rt: &Arc<ResourceType>, job: &Value, now: DateTime<Utc>) {
        let uid = job["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        let name = job["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let completions = job["spec"]["completions"].as_u64().unwrap_or(1) as usize;
        let backoff = job["spec"]["backoffLimit"].as_u64().unwrap_or(6) as usize;
        let pods = self.pods_of(store, &uid);
        let count = |phase: &str| pods.iter().filter(|p| p["status"]["phase"] == phase).count();
        let (succeeded, failed) = (count("Succeeded"), count("Failed"));
        let done = succeeded >= completions || failed > backoff;
        let active = Self::live(&pods).len();
        if !done && active == 0 && job["spec"]["suspend"] != true {
            let nodes = self.ready_nodes(store);
            let node = if nodes.is_empty() { None } else { Some(nodes[self.rng.random_range(0..nodes.len())].clone()) };
            let pod_name = format!("{name}-{}", self.suffix(5));
            self.spawn(store, job, &pod_name, node.as_ref(), &[("job-name", name.clone())], now);
        }
        let pods = self.pods_of(store, &uid);
        let count = |phase: &str| pods.iter().filter(|p| p["status"]["phase"] == phase).count();
        let (succeeded, failed) = (count("Succeeded"), count("Failed"));
        let live = Self::live(&pods);
        let ready = live.iter().filter(|p| pod_ready(p)).count();
        let mut status = job["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        let start = status["startTime"].as_str().map(str::to_string).unwrap_or_else(|| {
            pods.iter().filter_map(|p| p["status"]["startTime"].as_str()).min().map_or_else(|| ts(now), str::to_string)
        });
        status["startTime"] = json!(start);
        for (k, n) in [("active", live.len()), ("succeeded", succeeded), ("failed", failed)] {
            match n {
                0 => {
                    if let Some(o) = status.as_object_mut() {
                        o.remove(k);
                    }
                }
                n => status[k] = json!(n),
            }
        }
        status["ready"] = json!(ready);
        status["terminating"] = json!(0);
        let finished_at = || {
            pods.iter()
                .filter_map(|p| p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"].as_str())
                .max()
                .map_or_else(|| ts(now), str::to_string)
        };
        if status["conditions"].is_null() {
            if succeeded >= completions {
                let at = finished_at();
                status["completionTime"] = json!(at);
                status["conditions"] = json!([
                    {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": at, "lastTransitionTime": at},
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": at, "lastTransitionTime": at}]);
            } else if failed > backoff {
                let at = finished_at();
                status["conditions"] = json!([
                    {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": at, "lastTransitionTime": at},
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": at, "lastTransitionTime": at}]);
            }
        }
        Self::write_status(store, rt, job, status);
    }

    fn reconcile_deployment(&mut self, store: &Store, rt: &Arc<ResourceType>, dep: &Value, now: DateTime<Utc>) {
        let Some(rs_rt) = Self::rt(store, "apps/v1", "ReplicaSet") else { return };
        let uid = dep["metadata"]["uid"].as_str().unwrap_or_default();
        let ns = dep["metadata"]["namespace"].as_str().unwrap_or_default();
        let want = dep["spec"]["replicas"].as_i64().unwrap_or(1);
        let rss = self.replicasets_of(store, &rs_rt, uid);
        let Some(rs) = rss.first() else { return };
        let rs = if rs["spec"]["replicas"].as_i64() != Some(want) {
            let k = key_of(rs);
            match store.modify_in(&rs_rt, &k.ns, &k.name, UpdateKind::Main, |mut v| {
                v["spec"]["replicas"] = json!(want);
                v["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = json!(want.to_string());
                Ok(v)
            }) {
                Ok(o) => o.value(),
                Err(_) => return,
            }
        } else {
            rs.clone()
        };
        self.reconcile_replicas(store, &rs_rt, &rs, now);
        let rs = store
            .get_in(&rs_rt, ns, rs["metadata"]["name"].as_str().unwrap_or_default())
            .map(|o| o.value())
            .unwrap_or(rs);
        let replicas = rs["status"]["replicas"].as_i64().unwrap_or(0);
        let ready = rs["status"]["readyReplicas"].as_i64().unwrap_or(0);
        let available = rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
        // Available while no more than maxUnavailable (25%, rounded down) replicas are missing.
        let max_unavailable = want / 4;
        let is_available = available >= want - max_unavailable;
        let old = dep["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let since = |t: &str, st: &str| {
            old.iter()
                .find(|c| c["type"] == t && c["status"] == st)
                .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
                .unwrap_or_else(|| ts(now))
        };
        let (avail_status, avail_reason, avail_msg) = if is_available {
            ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        } else {
            ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        };
        let avail_since = since("Available", avail_status);
        let prog_since = since("Progressing", "True");
        let status = json!({"observedGeneration": dep["metadata"]["generation"].as_i64().unwrap_or(1), "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": available,
            "unavailableReplicas": (want - available).max(0), "terminatingReplicas": 0,
            "conditions": [
                {"type": "Available", "status": avail_status, "reason": avail_reason, "message": avail_msg,
                    "lastTransitionTime": avail_since, "lastUpdateTime": avail_since},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                    "message": format!("ReplicaSet \"{}\" has successfully progressed.", rs["metadata"]["name"].as_str().unwrap_or_default()),
                    "lastTransitionTime": prog_since, "lastUpdateTime": prog_since}]});
        let mut status = status;
        if replicas == 0
            && let Some(o) = status.as_object_mut()
        {
            o.remove("readyReplicas");
            o.remove("availableReplicas");
        }
        Self::write_status(store, rt, dep, status);
    }

    fn reconcile_cronjob(&mut self, store: &Store, rt: &Arc<ResourceType>, cj: &Value, now: DateTime<Utc>) {
        let Some(job_rt) = Self::rt(store, "batch/v1", "Job") else { return };
        let uid = cj["metadata"]["uid"].as_str().unwrap_or_default();
        let ns = cj["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = cj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let mut jobs = owned_by(store, &job_rt, ns, uid);
        let mut status = cj["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        let last = parse_ts(&status["lastScheduleTime"]);
        if cj["spec"]["suspend"] != true
            && let Some(due) = last_due(cj["spec"]["schedule"].as_str().unwrap_or_default(), now)
            && last.is_none_or(|l| due > l)
            && (now - due).num_seconds() <= cj["spec"]["startingDeadlineSeconds"].as_i64().unwrap_or(i64::MAX)
        {
            // Named after the scheduled minute, as the CronJob controller names them.
            let job_name = format!("{name}-{}", due.timestamp() / 60);
            let tmpl = &cj["spec"]["jobTemplate"];
            let mut spec = tmpl["spec"].clone();
            spec["selector"] = json!({"matchLabels": {"job-name": job_name}});
            spec["template"]["metadata"]["labels"]["job-name"] = json!(job_name);
            let job = json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": job_name, "namespace": ns, "uid": uid_from_bytes(self.rng.random()), "creationTimestamp": ts(now),
                    "labels": {"job-name": job_name},
                    "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp": due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
                "spec": spec, "status": {}});
            if let Ok(o) = store.create_in(&job_rt, job, CreateMode::Keep) {
                let v = o.value();
                if let Some(juid) = v["metadata"]["uid"].as_str() {
                    self.owners.insert(juid.to_string(), (job_rt.clone(), key_of(&v)));
                }
                self.reconcile_job(store, &job_rt, &v, now);
                jobs.push(store.get_in(&job_rt, ns, &job_name).map_or(v, |o| o.value()));
            }
            status["lastScheduleTime"] = json!(ts(due));
        }
        // History: the newest successful and failed jobs within their limits; older ones go with
        // their pods.
        let finished = |j: &Value, t: &str| {
            j["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
        };
        jobs.sort_by(|a, b| {
            b["metadata"]["creationTimestamp"].as_str().cmp(&a["metadata"]["creationTimestamp"].as_str())
        });
        for (cond, limit) in [
            ("Complete", cj["spec"]["successfulJobsHistoryLimit"].as_u64().unwrap_or(3) as usize),
            ("Failed", cj["spec"]["failedJobsHistoryLimit"].as_u64().unwrap_or(1) as usize),
        ] {
            for j in jobs.iter().filter(|j| finished(j, cond)).skip(limit) {
                let juid = j["metadata"]["uid"].as_str().unwrap_or_default().to_string();
                for p in self.pods_of(store, &juid) {
                    self.delete_pod(store, &key_of(&p));
                }
                let _ = store.delete_in(&job_rt, ns, j["metadata"]["name"].as_str().unwrap_or_default(), None);
                self.owners.remove(&juid);
                self.owned.remove(&juid);
            }
        }
        let jobs = owned_by(store, &job_rt, ns, uid);
        let active: Vec<Value> = jobs
            .iter()
            .filter(|j| !finished(j, "Complete") && !finished(j, "Failed"))
            .map(|j| json!({"kind": "Job", "namespace": ns, "name": j["metadata"]["name"], "uid": j["metadata"]["uid"], "apiVersion": "batch/v1", "resourceVersion": j["metadata"]["resourceVersion"]}))
            .collect();
        if active.is_empty() {
            if let Some(o) = status.as_object_mut() {
                o.remove("active");
            }
        } else {
            status["active"] = json!(active);
        }
        if let Some(t) =
            jobs.iter().filter(|j| finished(j, "Complete")).filter_map(|j| j["status"]["completionTime"].as_str()).max()
        {
            status["lastSuccessfulTime"] = json!(t);
        }
        Self::write_status(store, rt, cj, status);
    }
}

/// The latest time at or before `now` that a schedule fires. Understands what the synthetic cluster
/// uses: minute and hour fields of `*`, `*/N` or a number, the other three `*`.
pub fn last_due(schedule: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Timelike;
    let f: Vec<&str> = schedule.split_whitespace().collect();
    if f.len() != 5 || f[2..].iter().any(|x| *x != "*") {
        return None;
    }
    let matches = |field: &str, v: u32| -> Option<bool> {
        Some(match field {
            "*" => true,
            s if s.starts_with("*/") => v.is_multiple_of(s[2..].parse::<u32>().ok().filter(|n| *n > 0)?),
            s => s.parse::<u32>().ok()? == v,
        })
    };
    let mut t = now.with_second(0)?.with_nanosecond(0)?;
    for _ in 0..(2 * 24 * 60) {
        if matches(f[0], t.minute())? && matches(f[1], t.hour())? {
            return Some(t);
        }
        t -= chrono::Duration::minutes(1);
    }
    None
}

/// Containers started: running, ready unless the node is not (the node controller marks them so).
fn to_running(p: &mut Value, now: DateTime<Utc>, ip: &str, ready: bool) {
    let at = ts(now);
    let st = &mut p["status"];
    st["phase"] = json!("Running");
    st["podIP"] = json!(ip);
    st["podIPs"] = json!([{"ip": ip}]);
    for c in st["containerStatuses"].as_array_mut().into_iter().flatten() {
        c["state"] = json!({"running": {"startedAt": at}});
        c["ready"] = json!(ready);
        c["started"] = json!(true);
        let id = format!("{:064x}", now.timestamp_nanos_opt().unwrap_or_default() as u128 ^ ip.len() as u128);
        c["containerID"] = json!(format!("containerd://{id}"));
        let image = c["image"].as_str().unwrap_or_default().to_string();
        c["imageID"] = json!(format!("{image}@sha256:{}", "0".repeat(64)));
    }
    set_conditions(st, &at, &[("PodReadyToStartContainers", true), ("Ready", ready), ("ContainersReady", ready)], None);
}

/// A pod's finished containers: Succeeded (Completed, exit 0) or Failed (Error, exit 1).
fn finish(p: &mut Value, now: DateTime<Utc>, ok: bool) {
    let at = ts(now);
    let st = &mut p["status"];
    st["phase"] = json!(if ok { "Succeeded" } else { "Failed" });
    for c in st["containerStatuses"].as_array_mut().into_iter().flatten() {
        let started = c["state"]["running"]["startedAt"].clone();
        let (code, reason) = if ok { (0, "Completed") } else { (1, "Error") };
        c["state"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": at, "containerID": c["containerID"]}});
        c["ready"] = json!(false);
        c["started"] = json!(false);
    }
    let reason = if ok { "PodCompleted" } else { "PodFailed" };
    set_conditions(
        st,
        &at,
        &[("PodReadyToStartContainers", false), ("Ready", false), ("ContainersReady", false)],
        Some(reason),
    );
}

/// Set condition statuses, moving lastTransitionTime only for those that change.
fn set_conditions(st: &mut Value, at: &str, want: &[(&str, bool)], reason: Option<&str>) {
    let Some(cs) = st["conditions"].as_array_mut() else { return };
    for (t, on) in want {
        let s = if *on { "True" } else { "False" };
        if let Some(c) = cs.iter_mut().find(|c| c["type"] == *t) {
            if c["status"] != s {
                c["status"] = json!(s);
                c["lastTransitionTime"] = json!(at);
            }
            let obj = c.as_object_mut();
            if let Some(o) = obj {
                match (on, reason, *t) {
                    (true, _, _) => {
                        o.remove("reason");
                    }
                    (false, Some(r), "Ready" | "ContainersReady") => {
                        o.insert("reason".into(), json!(r));
                    }
                    (false, None, "Ready" | "ContainersReady") => {
                        o.insert("reason".into(), json!("ContainersNotReady"));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A container restarts: the previous run terminated, a new one runs.
fn restart(p: &mut Value, now: DateTime<Utc>, crash_loop: bool) {
    let at = ts(now);
    let st = &mut p["status"];
    let Some(c) = st["containerStatuses"].as_array_mut().and_then(|cs| cs.first_mut()) else { return };
    let started = c["state"]["running"]["startedAt"].clone();
    let started = if started.is_null() { json!(at) } else { started };
    c["restartCount"] = json!(c["restartCount"].as_i64().unwrap_or(0) + 1);
    c["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": at, "containerID": c["containerID"]}});
    if crash_loop {
        c["state"] =
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}});
        c["ready"] = json!(false);
        c["started"] = json!(false);
    } else {
        c["state"] = json!({"running": {"startedAt": at}});
        c["ready"] = json!(true);
        c["started"] = json!(true);
    }
    let all_ready = st["containerStatuses"].as_array().is_some_and(|cs| cs.iter().all(|c| c["ready"] == true));
    set_conditions(st, &at, &[("Ready", all_ready), ("ContainersReady", all_ready)], None);
}

/// Evicted by the kubelet under memory pressure: Failed, containers stopped, not ready.
fn evict(p: &mut Value, now: DateTime<Utc>) {
    let at = ts(now);
    let st = &mut p["status"];
    st["phase"] = json!("Failed");
    st["reason"] = json!("Evicted");
    st["message"] = json!("The node was low on resource: memory.");
    for c in st["containerStatuses"].as_array_mut().into_iter().flatten() {
        let started = c["state"]["running"]["startedAt"].clone();
        let started = if started.is_null() { json!(at) } else { started };
        c["state"] = json!({"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started, "finishedAt": at, "containerID": c["containerID"]}});
        c["ready"] = json!(false);
        c["started"] = json!(false);
    }
    set_conditions(
        st,
        &at,
        &[("PodReadyToStartContainers", false), ("Ready", false), ("ContainersReady", false)],
        Some("PodFailed"),
    );
    if let Some(cs) = st["conditions"].as_array_mut() {
        cs.retain(|c| c["type"] != "DisruptionTarget");
        cs.insert(
            0,
            json!({"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
            "message": "The node was low on resource: memory.", "lastProbeTime": null, "lastTransitionTime": at}),
        );
    }
}

/// Random changes to the cluster, each followed by the controllers' reconciliation.
pub struct Churn {
    ctl: Controllers,
}

impl Churn {
    pub fn new(store: &Store, seed: u64) -> Option<Self> {
        Controllers::new(store, seed).map(|ctl| Self { ctl })
    }

    /// The controllers, to settle the cluster without a random change.
    pub fn controllers(&mut self) -> &mut Controllers {
        &mut self.ctl
    }

    /// One random change at `now`, then every controller reconciles.
    pub fn step(&mut self, store: &Store, now: DateTime<Utc>) {
        let ctl = &mut self.ctl;
        let pods: Vec<Key> = ctl.owned.values().flatten().cloned().collect();
        let action = ctl.rng.random_range(0..100);
        if !pods.is_empty() {
            let k = pods[ctl.rng.random_range(0..pods.len())].clone();
            if let Some(o) = store.get_in(&ctl.pods, &k.ns, &k.name) {
                let v = o.value();
                let running = v["status"]["phase"] == "Running" && !is_deleting(&v);
                let looping = v["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff";
                let job_pod = v["spec"]["restartPolicy"] == "Never";
                let replaceable = v["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet";
                match action {
                    // A container restarts (a crash-looping one tries again and may come up).
                    0..=44 if running && !job_pod => {
                        let again = looping && ctl.rng.random_bool(0.5);
                        ctl.modify_pod(store, &k, |p| restart(p, now, again));
                    }
                    // A container starts crash-looping.
                    45..=54 if running && !job_pod && !looping => ctl.modify_pod(store, &k, |p| restart(p, now, true)),
                    // Evicted under memory pressure; its ReplicaSet replaces it.
                    55..=64 if running && replaceable => ctl.modify_pod(store, &k, |p| evict(p, now)),
                    // Deleted (a node drain, a rollout restart); its controller replaces it.
                    65..=84 if !job_pod && !is_deleting(&v) => ctl.delete_pod(store, &k),
                    _ => {}
                }
            }
        }
        if (85..=99).contains(&action)
            && let Some(rt) = store.resource_for("apps/v1", "Deployment")
        {
            let deps = store.snapshot(&rt, None).0;
            if !deps.is_empty() {
                let d = deps[ctl.rng.random_range(0..deps.len())].clone();
                let up = ctl.rng.random_bool(0.5);
                let res = store.modify_in(&rt, &d.namespace, &d.name, UpdateKind::Main, |mut v| {
                    let r = v["spec"]["replicas"].as_i64().unwrap_or(1);
                    v["spec"]["replicas"] = json!(if up { (r + 1).min(6) } else { (r - 1).max(1) });
                    Ok(v)
                });
                match res {
                    Ok(o) => {
                        if let Some(uid) = o.value()["metadata"]["uid"].as_str() {
                            ctl.dirty.insert(uid.to_string());
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "scaling a deployment failed"),
                }
            }
        }
        ctl.reconcile(store, now);
    }
}

/// Keep the cluster moving at `per_sec` changes a second until `stop`.
pub async fn churn(store: Arc<Store>, per_sec: f64, seed: u64, stop: CancellationToken) {
    let Some(mut churn) = Churn::new(&store, seed) else { return };
    let period = Duration::from_secs_f64(1.0 / per_sec.max(0.001));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        churn.step(&store, Utc::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_fire_at_their_last_due_minute() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(last_due("*/15 * * * *", t("2026-01-01T10:31:20Z")), Some(t("2026-01-01T10:30:00Z")));
        assert_eq!(last_due("0 3 * * *", t("2026-01-01T10:31:20Z")), Some(t("2026-01-01T03:00:00Z")));
        assert_eq!(last_due("5 * * * *", t("2026-01-01T10:04:00Z")), Some(t("2026-01-01T09:05:00Z")));
        assert_eq!(last_due("0 3 1 * *", t("2026-01-01T10:31:20Z")), None);
        assert_eq!(last_due("*/0 * * * *", t("2026-01-01T10:31:20Z")), None);
        assert_eq!(micro_ts(t("2026-01-01T10:31:20Z")), "2026-01-01T10:31:20.000000Z");
    }
}
