//! The overview's content, built from series lines as `/metrics` serves them: a pure fold, fed line by line
//! and finished at an instant, so every number on the page is one a PromQL query over the same scrape
//! would give.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// The families the overview reads, by resource. A family that is not enabled (allow/deny lists) is
/// simply absent, and the page says which parts it cannot show.
pub const FAMILIES: &[(&str, &[&str])] = &[
    (
        "nodes",
        &[
            "kube_node_info",
            "kube_node_status_condition",
            "kube_node_spec_taint",
            "kube_node_spec_unschedulable",
            "kube_node_status_allocatable",
        ],
    ),
    (
        "pods",
        &[
            "kube_pod_info",
            "kube_pod_status_phase",
            "kube_pod_status_ready",
            "kube_pod_status_reason",
            "kube_pod_container_status_waiting_reason",
            "kube_pod_container_status_restarts_total",
            "kube_pod_container_status_last_terminated_reason",
            "kube_pod_container_resource_requests",
        ],
    ),
    ("deployments", &["kube_deployment_spec_replicas", "kube_deployment_status_replicas_available"]),
    ("statefulsets", &["kube_statefulset_replicas", "kube_statefulset_status_replicas_ready"]),
    ("daemonsets", &["kube_daemonset_status_desired_number_scheduled", "kube_daemonset_status_number_ready"]),
    (
        "jobs",
        &["kube_job_failed", "kube_job_status_active", "kube_job_status_start_time", "kube_job_status_completion_time"],
    ),
    ("persistentvolumeclaims", &["kube_persistentvolumeclaim_status_phase"]),
    ("cronjobs", &["kube_cronjob_next_schedule_time", "kube_cronjob_spec_suspend"]),
];

/// Rows of each list shown (the JSON carries the totals too).
pub const TOP: usize = 10;
/// Namespaces shown in the pods-by-phase table, most pods first.
pub const NAMESPACES_SHOWN: usize = 30;
/// Nodes listed, problems first (a 100-node table with its bars alone outweighs the page's 100 KB).
pub const NODES_SHOWN: usize = 30;
/// A job active for longer than this is "running long".
pub const LONG_JOB_SECONDS: f64 = 3600.0;
/// A cronjob whose next run is this far in the past has missed its schedule.
pub const MISSED_AFTER_SECONDS: f64 = 300.0;

/// Label names and (unescaped) values, in order; values borrow from the line unless they had escapes.
pub type Labels<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// One series line: family name, labels in order, value. `None` for comments and anything unparsable.
pub fn parse_line(line: &str) -> Option<(&str, Labels<'_>, f64)> {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let Some((name, rest)) = head.split_once('{') else {
        return Some((head, Vec::new(), value));
    };
    let mut labels = Vec::new();
    let mut rest = rest.strip_suffix('}')?;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let (val, end) = match after.find(['\\', '"'])? {
            // No escape before the closing quote: the value is the line's own text.
            i if after.as_bytes()[i] == b'"' => (Cow::Borrowed(&after[..i]), i),
            _ => {
                let mut val = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    let (i, c) = chars.next()?;
                    match c {
                        '\\' => match chars.next()?.1 {
                            'n' => val.push('\n'),
                            other => val.push(other),
                        },
                        '"' => break i,
                        c => val.push(c),
                    }
                };
                (Cow::Owned(val), end)
            }
        };
        labels.push((key, val));
        rest = after[end + 1..].strip_prefix(',').unwrap_or(&after[end + 1..]);
    }
    Some((name, labels, value))
}

/// Keeps the first [`TOP`] items of a list (the page is for a glance, and must stay small however many
/// there are); returns how many there were.
fn shorten<T>(items: &mut Vec<T>) -> usize {
    let total = items.len();
    items.truncate(TOP);
    total
}

fn label<'a>(labels: &'a [(&str, Cow<'_, str>)], key: &str) -> &'a str {
    labels.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v.as_ref())
}

/// CPU (cores) and memory (bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    pub cpu: f64,
    pub memory: f64,
}

/// What metrics.k8s.io says the nodes and pods use right now.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    pub nodes: HashMap<String, Resources>,
    pub pods: HashMap<(String, String), Resources>,
}

#[derive(Debug, Default)]
struct PodAcc {
    phase: String,
    ready: Option<bool>,
    reason: String,
    node: String,
    waiting: String,
    requests: Resources,
}

#[derive(Debug, Default)]
struct NodeAcc {
    kubelet_version: String,
    internal_ip: String,
    ready: String,
    pressures: Vec<String>,
    taints: Vec<String>,
    unschedulable: bool,
    allocatable: Resources,
}

/// Desired and ready (or available) replicas, as far as seen.
type Replicas = (Option<f64>, Option<f64>);

#[derive(Debug, Default)]
struct JobAcc {
    failed: bool,
    active: f64,
    start: Option<f64>,
    completed: bool,
}

#[derive(Debug, Default)]
struct CronAcc {
    next: Option<f64>,
    suspended: bool,
}

/// Folds series lines into an [`Overview`].
#[derive(Debug, Default)]
pub struct Builder {
    seen: std::collections::BTreeSet<String>,
    nodes: BTreeMap<String, NodeAcc>,
    pods: BTreeMap<(String, String), PodAcc>,
    /// (namespace, pod, container) → (restarts, last terminated reason).
    containers: BTreeMap<(String, String, String), (f64, String)>,
    /// (kind, namespace, name) → (desired, ready).
    workloads: BTreeMap<(&'static str, String, String), Replicas>,
    jobs: BTreeMap<(String, String), JobAcc>,
    pvcs_pending: Vec<(String, String)>,
    cronjobs: BTreeMap<(String, String), CronAcc>,
}

impl Builder {
    /// Takes every series line of `text`.
    pub fn feed_text(&mut self, text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        for line in text.lines() {
            if let Some((name, labels, value)) = parse_line(line) {
                self.feed(name, &labels, value);
            }
        }
    }

    pub fn feed(&mut self, family: &str, l: &[(&str, Cow<'_, str>)], v: f64) {
        if !self.seen.contains(family) {
            self.seen.insert(family.to_owned());
        }
        let ns_pod = || (label(l, "namespace").to_owned(), label(l, "pod").to_owned());
        match family {
            "kube_node_info" => {
                let n = self.nodes.entry(label(l, "node").to_owned()).or_default();
                n.kubelet_version = label(l, "kubelet_version").to_owned();
                n.internal_ip = label(l, "internal_ip").to_owned();
            }
            "kube_node_status_condition" if v == 1.0 => {
                let n = self.nodes.entry(label(l, "node").to_owned()).or_default();
                let (cond, status) = (label(l, "condition"), label(l, "status"));
                if cond == "Ready" {
                    n.ready = status.to_owned();
                } else if status == "true" {
                    n.pressures.push(cond.to_owned());
                }
            }
            "kube_node_spec_taint" => {
                let n = self.nodes.entry(label(l, "node").to_owned()).or_default();
                let (key, value, effect) = (label(l, "key"), label(l, "value"), label(l, "effect"));
                n.taints.push(if value.is_empty() {
                    format!("{key}:{effect}")
                } else {
                    format!("{key}={value}:{effect}")
                });
            }
            "kube_node_spec_unschedulable" => {
                self.nodes.entry(label(l, "node").to_owned()).or_default().unschedulable = v == 1.0;
            }
            "kube_node_status_allocatable" => {
                let n = self.nodes.entry(label(l, "node").to_owned()).or_default();
                match label(l, "resource") {
                    "cpu" => n.allocatable.cpu = v,
                    "memory" => n.allocatable.memory = v,
                    _ => {}
                }
            }
            "kube_pod_info" => self.pods.entry(ns_pod()).or_default().node = label(l, "node").to_owned(),
            "kube_pod_status_phase" if v == 1.0 => {
                self.pods.entry(ns_pod()).or_default().phase = label(l, "phase").to_owned();
            }
            "kube_pod_status_ready" if v == 1.0 => {
                let ready = match label(l, "condition") {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
                self.pods.entry(ns_pod()).or_default().ready = ready;
            }
            "kube_pod_status_reason" if v == 1.0 => {
                self.pods.entry(ns_pod()).or_default().reason = label(l, "reason").to_owned();
            }
            "kube_pod_container_status_waiting_reason" if v == 1.0 => {
                let p = self.pods.entry(ns_pod()).or_default();
                if p.waiting.is_empty() {
                    p.waiting = label(l, "reason").to_owned();
                }
            }
            "kube_pod_container_status_restarts_total" => {
                let key =
                    (label(l, "namespace").to_owned(), label(l, "pod").to_owned(), label(l, "container").to_owned());
                self.containers.entry(key).or_default().0 = v;
            }
            "kube_pod_container_status_last_terminated_reason" if v == 1.0 => {
                let key =
                    (label(l, "namespace").to_owned(), label(l, "pod").to_owned(), label(l, "container").to_owned());
                self.containers.entry(key).or_default().1 = label(l, "reason").to_owned();
            }
            "kube_pod_container_resource_requests" => {
                let p = self.pods.entry(ns_pod()).or_default();
                match label(l, "resource") {
                    "cpu" => p.requests.cpu += v,
                    "memory" => p.requests.memory += v,
                    _ => {}
                }
            }
            "kube_deployment_spec_replicas" => self.workload("Deployment", l, "deployment").0 = Some(v),
            "kube_deployment_status_replicas_available" => self.workload("Deployment", l, "deployment").1 = Some(v),
            "kube_statefulset_replicas" => self.workload("StatefulSet", l, "statefulset").0 = Some(v),
            "kube_statefulset_status_replicas_ready" => self.workload("StatefulSet", l, "statefulset").1 = Some(v),
            "kube_daemonset_status_desired_number_scheduled" => self.workload("DaemonSet", l, "daemonset").0 = Some(v),
            "kube_daemonset_status_number_ready" => self.workload("DaemonSet", l, "daemonset").1 = Some(v),
            "kube_job_failed" if v == 1.0 && label(l, "condition") == "true" => self.job(l).failed = true,
            "kube_job_status_active" => self.job(l).active = v,
            "kube_job_status_start_time" => self.job(l).start = Some(v),
            "kube_job_status_completion_time" => self.job(l).completed = true,
            "kube_persistentvolumeclaim_status_phase" if v == 1.0 && label(l, "phase") == "Pending" => {
                self.pvcs_pending
                    .push((label(l, "namespace").to_owned(), label(l, "persistentvolumeclaim").to_owned()));
            }
            "kube_cronjob_next_schedule_time" => self.cronjob(l).next = Some(v),
            "kube_cronjob_spec_suspend" => self.cronjob(l).suspended = v == 1.0,
            _ => {}
        }
    }

    fn workload(&mut self, kind: &'static str, l: &[(&str, Cow<'_, str>)], name: &str) -> &mut Replicas {
        self.workloads.entry((kind, label(l, "namespace").to_owned(), label(l, name).to_owned())).or_default()
    }

    fn job(&mut self, l: &[(&str, Cow<'_, str>)]) -> &mut JobAcc {
        self.jobs.entry((label(l, "namespace").to_owned(), label(l, "job_name").to_owned())).or_default()
    }

    fn cronjob(&mut self, l: &[(&str, Cow<'_, str>)]) -> &mut CronAcc {
        self.cronjobs.entry((label(l, "namespace").to_owned(), label(l, "cronjob").to_owned())).or_default()
    }

    /// The overview at `now` (Unix seconds), with `usage` when metrics.k8s.io answered.
    pub fn finish(self, now: f64, usage: Result<&Usage, &str>) -> Overview {
        let missing: Vec<String> = FAMILIES
            .iter()
            .flat_map(|(_, fs)| fs.iter())
            .filter(|f| !self.seen.contains(**f))
            .map(|f| (*f).to_owned())
            .collect();
        let usage_ok = usage.ok();

        // Pods.
        let mut namespaces: BTreeMap<&str, PhaseCounts> = BTreeMap::new();
        let mut totals = Totals::default();
        let mut node_requests: HashMap<&str, Resources> = HashMap::new();
        let mut not_ready = Vec::new();
        for ((ns, pod), p) in &self.pods {
            if p.phase.is_empty() {
                continue;
            }
            totals.pods += 1;
            let c = namespaces.entry(ns).or_default();
            c.add(&p.phase);
            totals.phases.add(&p.phase);
            if matches!(p.phase.as_str(), "Running" | "Pending") {
                let r = node_requests.entry(p.node.as_str()).or_default();
                r.cpu += p.requests.cpu;
                r.memory += p.requests.memory;
            }
            let unready = p.ready == Some(false) && matches!(p.phase.as_str(), "Running" | "Pending" | "Unknown");
            if unready || p.phase == "Failed" || p.phase == "Unknown" {
                let reason = [&p.reason, &p.waiting].into_iter().find(|r| !r.is_empty()).cloned().unwrap_or_default();
                not_ready.push(PodProblem { namespace: ns.clone(), pod: pod.clone(), phase: p.phase.clone(), reason });
            }
        }
        let mut ns_rows: Vec<NamespacePods> =
            namespaces.into_iter().map(|(ns, c)| NamespacePods { namespace: ns.to_owned(), phases: c }).collect();
        ns_rows.sort_by(|a, b| b.phases.total().cmp(&a.phases.total()).then_with(|| a.namespace.cmp(&b.namespace)));
        totals.namespaces = ns_rows.len();
        let not_ready_total = not_ready.len();
        // Failed first (they will not recover by themselves), then by name.
        not_ready.sort_by(|a, b| (a.phase != "Failed").cmp(&(b.phase != "Failed")).then_with(|| a.key().cmp(&b.key())));
        not_ready.truncate(TOP);

        // Restarts.
        let mut restarting: Vec<ContainerRestarts> = self
            .containers
            .iter()
            .filter(|(_, (n, _))| *n > 0.0)
            .map(|((ns, pod, c), (n, last))| ContainerRestarts {
                namespace: ns.clone(),
                pod: pod.clone(),
                container: c.clone(),
                restarts: *n,
                last_terminated_reason: last.clone(),
                waiting_reason: self
                    .pods
                    .get(&(ns.clone(), pod.clone()))
                    .map(|p| p.waiting.clone())
                    .unwrap_or_default(),
            })
            .collect();
        restarting.sort_by(|a, b| b.restarts.total_cmp(&a.restarts).then_with(|| a.key().cmp(&b.key())));
        restarting.truncate(TOP);

        // Nodes.
        let mut nodes: Vec<Node> = self
            .nodes
            .iter()
            .map(|(name, n)| Node {
                name: name.clone(),
                ready: if n.ready.is_empty() { "unknown".to_owned() } else { n.ready.clone() },
                pressures: n.pressures.clone(),
                taints: n.taints.clone(),
                unschedulable: n.unschedulable,
                kubelet_version: n.kubelet_version.clone(),
                internal_ip: n.internal_ip.clone(),
                allocatable: n.allocatable,
                requests: node_requests.get(name.as_str()).copied().unwrap_or_default(),
                usage: usage_ok.and_then(|u| u.nodes.get(name).copied()),
            })
            .collect();
        totals.nodes = nodes.len();
        totals.nodes_ready = nodes.iter().filter(|n| n.ready == "true").count();
        nodes.sort_by(|a, b| a.healthy().cmp(&b.healthy()).then_with(|| a.name.cmp(&b.name)));
        nodes.truncate(NODES_SHOWN);

        // Workloads below their desired count, most replicas missing first.
        let mut workloads: Vec<Workload> = self
            .workloads
            .iter()
            .filter_map(|((kind, ns, name), (desired, ready))| {
                let (desired, ready) = (desired.unwrap_or(0.0), ready.unwrap_or(0.0));
                (ready < desired).then(|| Workload {
                    kind: (*kind).to_owned(),
                    namespace: ns.clone(),
                    name: name.clone(),
                    desired,
                    ready,
                })
            })
            .collect();
        workloads.sort_by(|a, b| (b.desired - b.ready).total_cmp(&(a.desired - a.ready)));
        let workloads_total = shorten(&mut workloads);

        // Jobs that failed or run long (failed first; the sort is stable, so by name within each).
        let mut jobs: Vec<JobProblem> = self
            .jobs
            .iter()
            .filter_map(|((ns, name), j)| {
                let problem = if j.failed {
                    "failed".to_owned()
                } else if j.active > 0.0 && !j.completed && j.start.is_some_and(|s| now - s > LONG_JOB_SECONDS) {
                    format!("running for {}", human_duration(now - j.start.unwrap_or(now)))
                } else {
                    return None;
                };
                Some(JobProblem { namespace: ns.clone(), name: name.clone(), problem })
            })
            .collect();
        jobs.sort_by_key(|j| j.problem != "failed");
        let jobs_total = shorten(&mut jobs);

        let mut missed = self
            .cronjobs
            .iter()
            .filter_map(|((ns, name), c)| {
                let next = c.next?;
                (!c.suspended && now - next > MISSED_AFTER_SECONDS).then(|| {
                    let miss = CronMiss { namespace: ns.clone(), name: name.clone(), late: human_duration(now - next) };
                    (next, miss)
                })
            })
            .collect::<Vec<_>>();
        // Longest overdue first.
        missed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut missed_cronjobs: Vec<CronMiss> = missed.into_iter().map(|(_, m)| m).collect();
        let missed_cronjobs_total = shorten(&mut missed_cronjobs);

        let mut pending_pvcs: Vec<Named> =
            self.pvcs_pending.iter().map(|(ns, name)| Named { namespace: ns.clone(), name: name.clone() }).collect();
        let pending_pvcs_total = shorten(&mut pending_pvcs);

        // Pods using the most CPU.
        let top_pods = match usage_ok {
            Some(u) => {
                let mut v: Vec<PodUsage> = u
                    .pods
                    .iter()
                    .map(|((ns, pod), r)| PodUsage {
                        namespace: ns.clone(),
                        pod: pod.clone(),
                        usage: *r,
                        requests: self.pods.get(&(ns.clone(), pod.clone())).map(|p| p.requests).unwrap_or_default(),
                    })
                    .collect();
                v.sort_by(|a, b| {
                    b.usage
                        .cpu
                        .total_cmp(&a.usage.cpu)
                        .then_with(|| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)))
                });
                v.truncate(TOP);
                v
            }
            None => Vec::new(),
        };

        Overview {
            generated_at: now,
            totals,
            nodes,
            namespaces: ns_rows.into_iter().take(NAMESPACES_SHOWN).collect(),
            not_ready_total,
            not_ready,
            restarting,
            workloads_total,
            workloads,
            jobs_total,
            jobs,
            pending_pvcs_total,
            pending_pvcs,
            missed_cronjobs_total,
            missed_cronjobs,
            usage: match usage {
                Ok(_) => "available".to_owned(),
                Err(why) => why.to_owned(),
            },
            top_pods,
            missing_families: missing,
            revision: String::new(),
        }
        .with_revision()
    }
}

/// "3d4h", "2h5m", "4m10s", "12s".
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m{sec}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PhaseCounts {
    pub running: usize,
    pub pending: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub unknown: usize,
}

impl PhaseCounts {
    fn add(&mut self, phase: &str) {
        match phase {
            "Running" => self.running += 1,
            "Pending" => self.pending += 1,
            "Succeeded" => self.succeeded += 1,
            "Failed" => self.failed += 1,
            _ => self.unknown += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.running + self.pending + self.succeeded + self.failed + self.unknown
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub nodes: usize,
    pub nodes_ready: usize,
    pub namespaces: usize,
    pub pods: usize,
    pub phases: PhaseCounts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    /// The Ready condition's status: `true`, `false` or `unknown`.
    pub ready: String,
    /// Other conditions that are true (MemoryPressure, DiskPressure, ...).
    pub pressures: Vec<String>,
    pub taints: Vec<String>,
    pub unschedulable: bool,
    pub kubelet_version: String,
    pub internal_ip: String,
    pub allocatable: Resources,
    /// Requests of the running and pending pods bound to it.
    pub requests: Resources,
    pub usage: Option<Resources>,
}

impl Node {
    fn healthy(&self) -> bool {
        self.ready == "true" && self.pressures.is_empty() && !self.unschedulable
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamespacePods {
    pub namespace: String,
    #[serde(flatten)]
    pub phases: PhaseCounts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodProblem {
    pub namespace: String,
    pub pod: String,
    pub phase: String,
    pub reason: String,
}

impl PodProblem {
    fn key(&self) -> (&str, &str) {
        (&self.namespace, &self.pod)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContainerRestarts {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub restarts: f64,
    pub last_terminated_reason: String,
    pub waiting_reason: String,
}

impl ContainerRestarts {
    fn key(&self) -> (&str, &str, &str) {
        (&self.namespace, &self.pod, &self.container)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub desired: f64,
    pub ready: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobProblem {
    pub namespace: String,
    pub name: String,
    pub problem: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Named {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CronMiss {
    pub namespace: String,
    pub name: String,
    /// How long ago the missed run was due.
    pub late: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodUsage {
    pub namespace: String,
    pub pod: String,
    pub usage: Resources,
    pub requests: Resources,
}

/// Everything the page shows; also served as JSON at `/overview.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overview {
    /// Unix seconds.
    pub generated_at: f64,
    pub totals: Totals,
    /// Problems first, at most [`NODES_SHOWN`].
    pub nodes: Vec<Node>,
    /// Most pods first, at most [`NAMESPACES_SHOWN`].
    pub namespaces: Vec<NamespacePods>,
    pub not_ready_total: usize,
    /// Failed, unknown and unready pods, at most [`TOP`].
    pub not_ready: Vec<PodProblem>,
    /// Containers with the most restarts, at most [`TOP`].
    pub restarting: Vec<ContainerRestarts>,
    pub workloads_total: usize,
    /// Deployments, StatefulSets and DaemonSets with fewer ready/available replicas than desired, most
    /// missing first, at most [`TOP`].
    pub workloads: Vec<Workload>,
    pub jobs_total: usize,
    /// Failed jobs first, then those running long, at most [`TOP`].
    pub jobs: Vec<JobProblem>,
    pub pending_pvcs_total: usize,
    /// At most [`TOP`].
    pub pending_pvcs: Vec<Named>,
    pub missed_cronjobs_total: usize,
    /// At most [`TOP`].
    pub missed_cronjobs: Vec<CronMiss>,
    /// `available`, `off`, or why metrics.k8s.io could not be read.
    pub usage: String,
    /// Pods using the most CPU (when usage is available), at most [`TOP`].
    pub top_pods: Vec<PodUsage>,
    /// Families the overview reads that this instance does not collect.
    pub missing_families: Vec<String>,
    /// Changes exactly when anything above but `generated_at` changes (the page polls for it).
    pub revision: String,
}

impl Overview {
    fn with_revision(mut self) -> Self {
        use std::hash::{Hash as _, Hasher as _};
        let at = std::mem::replace(&mut self.generated_at, 0.0);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(&self).unwrap_or_default().hash(&mut h);
        self.generated_at = at;
        self.revision = format!("{:016x}", h.finish());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP kube_node_info x
kube_node_info{node="n1",kernel_version="",os_image="",container_runtime_version="",kubelet_version="v1.36.0",kubeproxy_version="",provider_id="",pod_cidr="",system_uuid="",internal_ip="10.0.0.1"} 1
kube_node_info{node="n2",kernel_version="",os_image="",container_runtime_version="",kubelet_version="v1.36.0",kubeproxy_version="",provider_id="",pod_cidr="",system_uuid="",internal_ip="10.0.0.2"} 1
kube_node_status_condition{node="n1",condition="Ready",status="true"} 1
kube_node_status_condition{node="n1",condition="Ready",status="false"} 0
kube_node_status_condition{node="n2",condition="Ready",status="false"} 1
kube_node_status_condition{node="n2",condition="DiskPressure",status="true"} 1
kube_node_spec_taint{node="n2",key="node.kubernetes.io/not-ready",value="",effect="NoSchedule"} 1
kube_node_status_allocatable{node="n1",resource="cpu",unit="core"} 4
kube_node_status_allocatable{node="n1",resource="memory",unit="byte"} 8e+09
kube_pod_info{namespace="a",pod="web",uid="u1",host_ip="",pod_ip="",node="n1",created_by_kind="",created_by_name="",priority_class="",host_network="false"} 1
kube_pod_status_phase{namespace="a",pod="web",uid="u1",phase="Running"} 1
kube_pod_status_phase{namespace="a",pod="web",uid="u1",phase="Pending"} 0
kube_pod_status_ready{namespace="a",pod="web",uid="u1",condition="false"} 1
kube_pod_container_status_waiting_reason{namespace="a",pod="web",uid="u1",container="c",reason="CrashLoopBackOff"} 1
kube_pod_container_status_restarts_total{namespace="a",pod="web",uid="u1",container="c"} 7
kube_pod_container_status_last_terminated_reason{namespace="a",pod="web",uid="u1",container="c",reason="OOMKilled"} 1
kube_pod_container_resource_requests{namespace="a",pod="web",uid="u1",container="c",node="n1",resource="cpu",unit="core"} 0.5
kube_pod_status_phase{namespace="b",pod="done",uid="u2",phase="Succeeded"} 1
kube_pod_status_ready{namespace="b",pod="done",uid="u2",condition="false"} 1
kube_pod_status_phase{namespace="b",pod="gone",uid="u3",phase="Failed"} 1
kube_pod_status_reason{namespace="b",pod="gone",uid="u3",reason="Evicted"} 1
kube_deployment_spec_replicas{namespace="a",deployment="web"} 3
kube_deployment_status_replicas_available{namespace="a",deployment="web"} 1
kube_deployment_spec_replicas{namespace="a",deployment="ok"} 2
kube_deployment_status_replicas_available{namespace="a",deployment="ok"} 2
kube_job_failed{namespace="b",job_name="j1",condition="true"} 1
kube_job_status_active{namespace="b",job_name="j2"} 1
kube_job_status_start_time{namespace="b",job_name="j2"} 1000
kube_persistentvolumeclaim_status_phase{namespace="a",persistentvolumeclaim="data",phase="Pending"} 1
kube_persistentvolumeclaim_status_phase{namespace="a",persistentvolumeclaim="ok",phase="Bound"} 1
kube_cronjob_next_schedule_time{namespace="b",cronjob="late"} 1000
kube_cronjob_spec_suspend{namespace="b",cronjob="late"} 0
kube_cronjob_next_schedule_time{namespace="b",cronjob="paused"} 1000
kube_cronjob_spec_suspend{namespace="b",cronjob="paused"} 1
"#;

    #[test]
    fn lines_parse_with_escapes() {
        let (name, labels, v) = parse_line(r#"m{a="x\"y",b="p\\q",c="l\nm"} 2.5"#).unwrap();
        assert_eq!((name, v), ("m", 2.5));
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        assert_eq!(labels, [("a", "x\"y"), ("b", "p\\q"), ("c", "l\nm")]);
        let (_, plain, _) = parse_line(r#"m{a="x",b=""} 1"#).unwrap();
        assert!(plain.iter().all(|(_, v)| matches!(v, Cow::Borrowed(_))));
        assert_eq!(parse_line("m 1").unwrap().0, "m");
        assert!(parse_line("# HELP m x").is_none());
        assert!(parse_line("m{a=\"x} 1").is_none());
    }

    #[test]
    fn the_cluster_at_a_glance() {
        let mut b = Builder::default();
        b.feed_text(TEXT.as_bytes());
        let now = 1000.0 + 7200.0;
        let mut usage = Usage::default();
        usage.nodes.insert("n1".into(), Resources { cpu: 1.5, memory: 2e9 });
        usage.pods.insert(("a".into(), "web".into()), Resources { cpu: 0.25, memory: 1e8 });
        let o = b.finish(now, Ok(&usage));
        assert_eq!((o.totals.nodes, o.totals.nodes_ready, o.totals.pods, o.totals.namespaces), (2, 1, 3, 2));
        assert_eq!(o.totals.phases, PhaseCounts { running: 1, pending: 0, succeeded: 1, failed: 1, unknown: 0 });
        // The unhealthy node first, with its pressure and taint.
        assert_eq!(o.nodes[0].name, "n2");
        assert_eq!(o.nodes[0].pressures, ["DiskPressure"]);
        assert_eq!(o.nodes[0].taints, ["node.kubernetes.io/not-ready:NoSchedule"]);
        assert_eq!(o.nodes[1].requests, Resources { cpu: 0.5, memory: 0.0 });
        assert_eq!(o.nodes[1].usage, Some(Resources { cpu: 1.5, memory: 2e9 }));
        // A completed pod is not a problem; the failed one comes first.
        let probs: Vec<(&str, &str)> = o.not_ready.iter().map(|p| (p.pod.as_str(), p.reason.as_str())).collect();
        assert_eq!(probs, [("gone", "Evicted"), ("web", "CrashLoopBackOff")]);
        assert_eq!(o.restarting[0].restarts, 7.0);
        assert_eq!(o.restarting[0].last_terminated_reason, "OOMKilled");
        assert_eq!(o.workloads.len(), 1);
        assert_eq!((o.workloads[0].name.as_str(), o.workloads[0].desired, o.workloads[0].ready), ("web", 3.0, 1.0));
        let jobs: Vec<(&str, &str)> = o.jobs.iter().map(|j| (j.name.as_str(), j.problem.as_str())).collect();
        assert_eq!(jobs, [("j1", "failed"), ("j2", "running for 2h0m")]);
        assert_eq!(o.pending_pvcs, [Named { namespace: "a".into(), name: "data".into() }]);
        assert_eq!(o.missed_cronjobs.len(), 1);
        assert_eq!((o.missed_cronjobs[0].name.as_str(), o.missed_cronjobs[0].late.as_str()), ("late", "2h0m"));
        assert_eq!(o.top_pods[0].requests.cpu, 0.5);
        assert_eq!(o.usage, "available");
        // Families absent from the input are named.
        assert!(o.missing_families.contains(&"kube_statefulset_replicas".to_owned()));
        assert!(!o.missing_families.contains(&"kube_pod_status_phase".to_owned()));
    }

    #[test]
    fn long_lists_keep_the_worst_ten_and_count_all() {
        let mut b = Builder::default();
        for i in 0..25 {
            let line = format!(
                "kube_deployment_spec_replicas{{namespace=\"a\",deployment=\"d{i:02}\"}} 30\n\
                 kube_deployment_status_replicas_available{{namespace=\"a\",deployment=\"d{i:02}\"}} {i}\n\
                 kube_job_failed{{namespace=\"a\",job_name=\"j{i:02}\",condition=\"true\"}} {}\n\
                 kube_job_status_active{{namespace=\"a\",job_name=\"j{i:02}\"}} 1\n\
                 kube_job_status_start_time{{namespace=\"a\",job_name=\"j{i:02}\"}} 0\n\
                 kube_persistentvolumeclaim_status_phase{{namespace=\"a\",persistentvolumeclaim=\"c{i:02}\",phase=\"Pending\"}} 1\n\
                 kube_cronjob_next_schedule_time{{namespace=\"a\",cronjob=\"c{i:02}\"}} {}\n",
                u8::from(i % 5 == 4),
                i * 60,
            );
            b.feed_text(line.as_bytes());
        }
        let o = b.finish(100_000.0, Err("off"));
        let totals = (o.workloads_total, o.jobs_total, o.pending_pvcs_total, o.missed_cronjobs_total);
        assert_eq!(totals, (25, 25, 25, 25));
        assert!(
            [o.workloads.len(), o.jobs.len(), o.pending_pvcs.len(), o.missed_cronjobs.len()].iter().all(|n| *n == TOP)
        );
        // Most replicas missing first; failed jobs first; longest overdue cronjob first.
        assert_eq!((o.workloads[0].name.as_str(), o.workloads[9].name.as_str()), ("d00", "d09"));
        let failed: Vec<&str> = o.jobs.iter().take(5).map(|j| j.name.as_str()).collect();
        assert_eq!(failed, ["j04", "j09", "j14", "j19", "j24"]);
        assert!(o.jobs[5].problem.starts_with("running for"), "{:?}", o.jobs[5]);
        assert_eq!(o.missed_cronjobs[0].name, "c00");
    }

    #[test]
    fn without_usage_the_reason_is_kept() {
        let o = Builder::default().finish(0.0, Err("off"));
        assert_eq!((o.usage.as_str(), o.top_pods.len(), o.totals.pods), ("off", 0, 0));
        assert_eq!(human_duration(59.0), "59s");
        assert_eq!(human_duration(266_400.0), "3d2h");
    }
}
