//! The demo's cluster stays true for hours: the synthetic cluster of `kubestate demo` is churned for
//! three simulated hours (time driven explicitly, no waiting), and every object is checked against
//! what a real cluster's controllers keep true, and against the API server's validation rules that
//! can be expressed here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use kube_sim::controllers::Churn;
use kube_sim::{Store, SyntheticConfig};
use serde_json::Value;

fn demo_like(store: &Store, seed: u64) {
    kube_sim::fixtures::ensure_namespace(store, "default").unwrap();
    kube_sim::fixtures::ensure_namespace(store, "kube-system").unwrap();
    // What `kubestate demo` asks for.
    let cfg = SyntheticConfig {
        nodes: 4,
        pods_per_node: 8,
        namespaces: 3,
        not_ready_fraction: 0.34,
        jobs_per_namespace: 2,
        configmaps_per_namespace: 3,
    };
    kube_sim::synth::generate(store, &cfg, seed).unwrap();
}

fn all(store: &Store, av: &str, kind: &str) -> Vec<Value> {
    store.list(av, kind, None)
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

fn name(v: &Value) -> String {
    format!("{}/{}", v["metadata"]["namespace"].as_str().unwrap_or(""), v["metadata"]["name"].as_str().unwrap_or(""))
}

/// `metav1.Time`: RFC 3339, whole seconds, UTC.
fn is_time(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == 20 && s.ends_with('Z') && time(v).is_some())
}

/// `metav1.MicroTime`: exactly six fractional digits.
fn is_micro_time(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == 27 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && time(v).is_some())
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn cond<'a>(v: &'a Value, t: &str) -> Option<&'a Value> {
    v["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == t)
}

fn owner_uid(v: &Value) -> Option<&str> {
    v["metadata"]["ownerReferences"].as_array()?.iter().find(|o| o["controller"] == true)?["uid"].as_str()
}

fn terminal(p: &Value) -> bool {
    matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

fn ready(p: &Value) -> bool {
    cond(p, "Ready").is_some_and(|c| c["status"] == "True")
}

/// Everything that must hold of the store at `now`; returns the violations.
fn violations(store: &Store, now: DateTime<Utc>) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            bad.push(what);
        }
    };
    let pods = all(store, "v1", "Pod");
    let nodes = all(store, "v1", "Node");
    let namespaces: BTreeMap<String, Value> = all(store, "v1", "Namespace")
        .into_iter()
        .map(|n| (n["metadata"]["name"].as_str().unwrap().to_string(), n))
        .collect();

    // Every object: required metadata, formats, a namespace that exists and is older than it.
    for rt in store.resources() {
        for o in store.snapshot(&rt, None).0 {
            let v = o.value();
            let m = &v["metadata"];
            let n = format!("{} {}", rt.kind, name(&v));
            check(m["name"].as_str().is_some_and(is_dns_subdomain), format!("{n}: name"));
            check(m["uid"].as_str().is_some_and(|u| u.len() == 36), format!("{n}: uid"));
            check(is_time(&m["creationTimestamp"]), format!("{n}: creationTimestamp {}", m["creationTimestamp"]));
            check(time(&m["creationTimestamp"]).is_some_and(|t| t <= now), format!("{n}: created in the future"));
            if rt.namespaced {
                let ns = m["namespace"].as_str().unwrap_or_default();
                match namespaces.get(ns) {
                    None => check(false, format!("{n}: namespace {ns} missing")),
                    Some(nsv) => check(
                        time(&nsv["metadata"]["creationTimestamp"]) <= time(&m["creationTimestamp"]),
                        format!("{n}: older than its namespace"),
                    ),
                }
            }
            for o in m["ownerReferences"].as_array().into_iter().flatten() {
                let ok =
                    ["apiVersion", "kind", "name", "uid"].iter().all(|k| o[*k].as_str().is_some_and(|s| !s.is_empty()));
                check(ok, format!("{n}: ownerReference {o}"));
            }
            if !m["deletionTimestamp"].is_null() {
                check(
                    m["finalizers"].as_array().is_some_and(|f| !f.is_empty()),
                    format!("{n}: deleting without finalizer"),
                );
            }
            for c in v["status"]["conditions"].as_array().into_iter().flatten() {
                check(
                    matches!(c["status"].as_str(), Some("True" | "False" | "Unknown")) && c["type"].is_string(),
                    format!("{n}: condition {c}"),
                );
                if !c["lastTransitionTime"].is_null() {
                    check(is_time(&c["lastTransitionTime"]), format!("{n}: condition time {c}"));
                }
            }
            if rt.kind == "Lease" {
                for f in ["acquireTime", "renewTime"] {
                    let t = &v["spec"][f];
                    check(t.is_null() || is_micro_time(t), format!("{n}: {f} {t} is not a MicroTime"));
                }
            }
        }
    }
    // The namespaces the API server made are as old as the cluster.
    let oldest = namespaces.values().filter_map(|n| time(&n["metadata"]["creationTimestamp"])).min();
    for ns in ["default", "kube-system"] {
        check(
            time(&namespaces[ns]["metadata"]["creationTimestamp"]) == oldest,
            format!("namespace {ns} is not the oldest"),
        );
    }

    // Pods: phase, reason, conditions, container states and readiness agree.
    for p in &pods {
        let n = format!("pod {}", name(p));
        let phase = p["status"]["phase"].as_str().unwrap_or_default();
        check(matches!(phase, "Pending" | "Running" | "Succeeded" | "Failed"), format!("{n}: phase {phase}"));
        let cs = p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
        let spec_cs = p["spec"]["containers"].as_array().cloned().unwrap_or_default();
        check(!spec_cs.is_empty(), format!("{n}: no containers"));
        for c in &spec_cs {
            check(
                c["name"].as_str().is_some_and(is_dns_label) && c["image"].is_string(),
                format!("{n}: container {c}"),
            );
        }
        let all_ready = !cs.is_empty() && cs.iter().all(|c| c["ready"] == true);
        check(ready(p) == all_ready, format!("{n}: Ready condition disagrees with its containers"));
        if let Some(c) = cond(p, "ContainersReady") {
            check((c["status"] == "True") == all_ready, format!("{n}: ContainersReady disagrees"));
        }
        for c in &cs {
            let state = &c["state"];
            let cn = format!("{n} container {}", c["name"]);
            check(
                c["image"].is_string() && c["imageID"].is_string() && c["restartCount"].is_number(),
                format!("{cn}: fields"),
            );
            check(c["ready"] != true || !state["running"].is_null(), format!("{cn}: ready but not running"));
            check(c["started"] != true || !state["running"].is_null(), format!("{cn}: started but not running"));
            let restarts = c["restartCount"].as_i64().unwrap_or(0);
            check(
                restarts == 0 || !c["lastState"]["terminated"].is_null(),
                format!("{cn}: restarts without a last state"),
            );
            if state["waiting"]["reason"] == "CrashLoopBackOff" {
                check(
                    phase == "Running" && restarts > 0,
                    format!("{cn}: crash-looping while {phase}, {restarts} restarts"),
                );
            }
            match phase {
                "Pending" => check(
                    state["running"].is_null() && restarts == 0,
                    format!("{cn}: running or restarted while Pending"),
                ),
                "Succeeded" => check(
                    state["terminated"]["exitCode"] == 0 && state["terminated"]["reason"] == "Completed",
                    format!("{cn}: Succeeded but not Completed: {state}"),
                ),
                "Failed" => check(!state["terminated"].is_null(), format!("{cn}: Failed but not terminated")),
                _ => {}
            }
            if let (Some(s), Some(f)) =
                (time(&state["terminated"]["startedAt"]), time(&state["terminated"]["finishedAt"]))
            {
                check(s <= f, format!("{cn}: finished before it started"));
            }
            if let (Some(s), Some(start)) = (time(&state["running"]["startedAt"]), time(&p["status"]["startTime"])) {
                check(start <= s && s <= now, format!("{cn}: started outside the pod's life"));
            }
        }
        check(phase == "Running" || !ready(p), format!("{n}: ready while {phase}"));
        if p["status"]["reason"] == "Evicted" {
            check(phase == "Failed", format!("{n}: evicted but {phase}"));
        }
        if let Some(start) = time(&p["status"]["startTime"]) {
            check(
                time(&p["metadata"]["creationTimestamp"]).is_some_and(|c| c <= start),
                format!("{n}: started before it existed"),
            );
        }
        if let Some(node) = p["spec"]["nodeName"].as_str() {
            check(nodes.iter().any(|x| x["metadata"]["name"] == node), format!("{n}: on unknown node {node}"));
        }
    }

    // Controllers: every owned pod's owner exists; each workload's status counts its pods.
    let mut by_owner: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for p in &pods {
        if let Some(u) = owner_uid(p) {
            by_owner.entry(u.to_string()).or_default().push(p);
        }
    }
    let mut owners = BTreeSet::new();
    for (av, kind) in [
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("v1", "ReplicationController"),
        ("batch/v1", "Job"),
    ] {
        for w in all(store, av, kind) {
            owners.insert(w["metadata"]["uid"].as_str().unwrap().to_string());
            if !w["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            let n = format!("{kind} {}", name(&w));
            let mine: Vec<&Value> = by_owner.get(w["metadata"]["uid"].as_str().unwrap()).cloned().unwrap_or_default();
            let live: Vec<&Value> = mine.iter().copied().filter(|p| !terminal(p)).collect();
            let nready = live.iter().filter(|p| ready(p)).count() as i64;
            let st = &w["status"];
            let num = |k: &str| st[k].as_i64().unwrap_or(0);
            let observed = st["observedGeneration"] == w["metadata"]["generation"];
            match kind {
                "ReplicaSet" | "ReplicationController" | "StatefulSet" => {
                    let want = w["spec"]["replicas"].as_i64().unwrap_or(1);
                    check(live.len() as i64 == want, format!("{n}: {} live pods for {want} replicas", live.len()));
                    check(num("replicas") == live.len() as i64, format!("{n}: status.replicas {}", num("replicas")));
                    check(
                        num("readyReplicas") == nready,
                        format!("{n}: readyReplicas {} for {nready}", num("readyReplicas")),
                    );
                    check(num("availableReplicas") == nready, format!("{n}: availableReplicas"));
                    check(observed, format!("{n}: observedGeneration"));
                }
                "DaemonSet" => {
                    check(live.len() == nodes.len(), format!("{n}: {} pods on {} nodes", live.len(), nodes.len()));
                    let on: BTreeSet<&str> = live.iter().filter_map(|p| p["spec"]["nodeName"].as_str()).collect();
                    check(on.len() == nodes.len(), format!("{n}: not one pod per node"));
                    check(num("desiredNumberScheduled") == nodes.len() as i64, format!("{n}: desired"));
                    check(num("currentNumberScheduled") == live.len() as i64, format!("{n}: current"));
                    check(
                        num("numberReady") == nready && num("numberAvailable") == nready,
                        format!("{n}: ready {nready}"),
                    );
                    check(num("updatedNumberScheduled") <= num("currentNumberScheduled"), format!("{n}: updated"));
                    check(observed, format!("{n}: observedGeneration"));
                }
                _ => {
                    let count = |ph: &str| mine.iter().filter(|p| p["status"]["phase"] == ph).count() as i64;
                    check(
                        num("active") == live.len() as i64,
                        format!("{n}: active {} for {}", num("active"), live.len()),
                    );
                    check(num("succeeded") == count("Succeeded"), format!("{n}: succeeded"));
                    check(num("failed") == count("Failed"), format!("{n}: failed"));
                    let complete = cond(&w, "Complete").is_some_and(|c| c["status"] == "True");
                    let completions = w["spec"]["completions"].as_i64().unwrap_or(1);
                    check(complete == (count("Succeeded") >= completions), format!("{n}: Complete condition"));
                    check(!complete || is_time(&st["completionTime"]), format!("{n}: completionTime"));
                    for p in &mine {
                        check(
                            p["spec"]["restartPolicy"] != "Always"
                                && p["metadata"]["labels"]["job-name"] == w["metadata"]["name"],
                            format!("{n}: pod {} is no job pod", name(p)),
                        );
                    }
                }
            }
        }
    }
    for p in &pods {
        if let Some(u) = owner_uid(p) {
            check(owners.contains(u), format!("pod {}: its controller is gone", name(p)));
        }
    }
    // Deployments agree with their ReplicaSet.
    let rss = all(store, "apps/v1", "ReplicaSet");
    for d in all(store, "apps/v1", "Deployment") {
        let n = format!("Deployment {}", name(&d));
        let uid = d["metadata"]["uid"].as_str().unwrap();
        let mine: Vec<&Value> = rss.iter().filter(|r| owner_uid(r) == Some(uid)).collect();
        check(mine.len() == 1, format!("{n}: {} ReplicaSets", mine.len()));
        let Some(rs) = mine.first() else { continue };
        let st = &d["status"];
        let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
        check(
            rs["spec"]["replicas"].as_i64() == Some(want),
            format!("{n}: ReplicaSet wants {}", rs["spec"]["replicas"]),
        );
        for k in ["replicas", "readyReplicas", "availableReplicas"] {
            check(
                st[k].as_i64().unwrap_or(0) == rs["status"][k].as_i64().unwrap_or(0),
                format!("{n}: {k} {} vs {}", st[k], rs["status"][k]),
            );
        }
        check(st["updatedReplicas"] == st["replicas"], format!("{n}: updatedReplicas"));
        check(st["replicas"].as_i64() == Some(want), format!("{n}: {} replicas for {want}", st["replicas"]));
        let available = st["availableReplicas"].as_i64().unwrap_or(0);
        let avail = cond(&d, "Available").is_some_and(|c| c["status"] == "True");
        check(avail == (available >= want - want / 4), format!("{n}: Available condition with {available}/{want}"));
        check(st["observedGeneration"] == d["metadata"]["generation"], format!("{n}: observedGeneration"));
    }
    // CronJobs: their active list names their running jobs.
    let jobs = all(store, "batch/v1", "Job");
    for cj in all(store, "batch/v1", "CronJob") {
        let uid = cj["metadata"]["uid"].as_str().unwrap();
        let running: BTreeSet<String> = jobs
            .iter()
            .filter(|j| owner_uid(j) == Some(uid))
            .filter(|j| cond(j, "Complete").is_none() && cond(j, "Failed").is_none())
            .map(|j| j["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        let active: BTreeSet<String> = cj["status"]["active"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["name"].as_str().map(str::to_string))
            .collect();
        check(running == active, format!("CronJob {}: active {active:?}, running {running:?}", name(&cj)));
        check(
            cj["status"]["lastScheduleTime"].is_null() || is_time(&cj["status"]["lastScheduleTime"]),
            "lastScheduleTime".into(),
        );
    }
    // kube-system has the node agents' pods, so `kubectl top pods -n kube-system` shows usage.
    // (A pod being replaced is briefly Pending.)
    let system = pods.iter().filter(|p| p["metadata"]["namespace"] == "kube-system" && !terminal(p)).count();
    check(system >= nodes.len(), format!("only {system} pods in kube-system"));
    bad
}

#[test]
fn the_demo_cluster_stays_consistent_through_three_hours_of_churn() {
    let store = Store::new(100_000);
    demo_like(&store, 1);
    let start = Utc::now();
    let v = violations(&store, start);
    assert!(v.is_empty(), "freshly generated:\n{}", v.join("\n"));

    let mut churn = Churn::new(&store, 1).unwrap();
    // The demo's default rate, 0.5 changes a second, for three hours.
    let step = chrono::Duration::milliseconds(2000);
    let mut now = start;
    let mut changes = BTreeMap::<&str, usize>::new();
    let rv0 = store.current_rv();
    for i in 1..=(3 * 3600 / 2) {
        now += step;
        churn.step(&store, now);
        if i % 900 == 0 {
            let v = violations(&store, now);
            assert!(v.is_empty(), "after {} simulated minutes:\n{}", (now - start).num_minutes(), v.join("\n"));
        }
    }
    assert!(store.current_rv() > rv0 + 2000, "only {} changes in three hours", store.current_rv() - rv0);
    // It moved in every way it should: restarts, evictions collected, replacements, jobs run.
    let pods = all(&store, "v1", "Pod");
    let jobs = all(&store, "batch/v1", "Job");
    for p in &pods {
        if p["status"]["containerStatuses"][0]["restartCount"].as_i64() > Some(0) {
            *changes.entry("restarted").or_default() += 1;
        }
        if time(&p["metadata"]["creationTimestamp"]).is_some_and(|t| t > start) {
            *changes.entry("new pods").or_default() += 1;
        }
    }
    changes.insert(
        "jobs from the cron schedule",
        jobs.iter().filter(|j| time(&j["metadata"]["creationTimestamp"]) > Some(start)).count(),
    );
    for what in ["restarted", "new pods", "jobs from the cron schedule"] {
        assert!(changes.get(what).copied().unwrap_or(0) > 0, "no {what}: {changes:?}");
    }
    // Evicted pods do not pile up: they are collected.
    let evicted = pods.iter().filter(|p| p["status"]["reason"] == "Evicted").count();
    assert!(evicted < 20, "{evicted} evicted pods left");
    // History limits hold: three successful and one failed job per CronJob at most.
    for cj in all(&store, "batch/v1", "CronJob") {
        let owned = jobs.iter().filter(|j| owner_uid(j) == cj["metadata"]["uid"].as_str()).count();
        assert!(owned <= 5, "{} keeps {owned} jobs", name(&cj));
    }
}

#[test]
fn the_checks_catch_what_the_demo_used_to_show() {
    // Each check must be able to fail: break one thing at a time and see it reported.
    let store = Store::new(10_000);
    demo_like(&store, 2);
    let now = Utc::now();
    let v = violations(&store, now);
    assert!(v.is_empty(), "{v:?}");
    let pod = all(&store, "v1", "Pod").into_iter().find(|p| p["status"]["phase"] == "Running" && ready(p)).unwrap();
    let ns = pod["metadata"]["namespace"].as_str().unwrap().to_string();
    let pname = pod["metadata"]["name"].as_str().unwrap().to_string();
    let rt = store.resource_for("v1", "Pod").unwrap();
    // "Evicted yet Running and ready".
    store
        .modify_in(&rt, &ns, &pname, kube_sim::store::UpdateKind::Status, |mut v| {
            v["status"]["reason"] = serde_json::json!("Evicted");
            Ok(v)
        })
        .unwrap();
    let v = violations(&store, now);
    assert!(v.iter().any(|m| m.contains("evicted but Running")), "{v:?}");
    // "Deployment 3/2".
    let dep = all(&store, "apps/v1", "Deployment").remove(0);
    let drt = store.resource_for("apps/v1", "Deployment").unwrap();
    store
        .modify_in(
            &drt,
            dep["metadata"]["namespace"].as_str().unwrap(),
            dep["metadata"]["name"].as_str().unwrap(),
            kube_sim::store::UpdateKind::Status,
            |mut v| {
                v["status"]["readyReplicas"] = serde_json::json!(99);
                Ok(v)
            },
        )
        .unwrap();
    assert!(violations(&store, now).iter().any(|m| m.contains("readyReplicas 99")));
    // A renewTime without microseconds.
    let lrt = store.resource_for("coordination.k8s.io/v1", "Lease").unwrap();
    let lease = all(&store, "coordination.k8s.io/v1", "Lease").remove(0);
    store
        .modify_in(
            &lrt,
            lease["metadata"]["namespace"].as_str().unwrap(),
            lease["metadata"]["name"].as_str().unwrap(),
            kube_sim::store::UpdateKind::Main,
            |mut v| {
                v["spec"]["renewTime"] = serde_json::json!("2026-01-01T00:00:00Z");
                Ok(v)
            },
        )
        .unwrap();
    assert!(violations(&store, now).iter().any(|m| m.contains("is not a MicroTime")));
}
