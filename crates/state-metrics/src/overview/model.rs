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

/// A string in [`Texts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    at: u32,
    len: u32,
}

/// The label values of the per-pod tables, all in one buffer, each distinct value once. The fold is transient, but at 10,000 pods a string or map
/// node per value made it tens of thousands of small allocations that malloc could not hand back
/// afterwards, interleaved as they were with the scrapes' (the page then held RSS ~5 MiB up); a few
/// large blocks can be.
#[derive(Debug, Default)]
struct Texts {
    buf: String,
    /// Hash of a repeated value → where it is (a hash that collides keeps its first value; the other
    /// is simply stored again).
    seen: HashMap<u64, Span>,
}

impl Texts {
    fn get(&self, s: Span) -> &str {
        self.buf.get(s.at as usize..(s.at + s.len) as usize).unwrap_or_default()
    }

    /// `s`, stored once.
    fn put(&mut self, s: &str) -> Span {
        let h = hash_of(&[s]);
        if let Some(&span) = self.seen.get(&h)
            && self.get(span) == s
        {
            return span;
        }
        let span =
            Span { at: u32::try_from(self.buf.len()).unwrap_or(u32::MAX), len: u32::try_from(s.len()).unwrap_or(0) };
        self.buf.push_str(s);
        self.seen.entry(h).or_insert(span);
        span
    }
}

fn hash_of(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

#[derive(Debug, Default)]
struct PodAcc {
    namespace: Span,
    pod: Span,
    phase: Span,
    ready: Option<bool>,
    reason: Span,
    node: Span,
    waiting: Span,
    requests: Resources,
}

#[derive(Debug, Default)]
struct ContainerAcc {
    namespace: Span,
    pod: Span,
    container: Span,
    restarts: f64,
    last_terminated: Span,
}

/// Rows keyed by a hash of their identity labels, in one table; a row whose identity differs from the
/// key's first holder goes to the next free key.
#[derive(Debug)]
struct Rows<T> {
    rows: HashMap<u64, T>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows { rows: HashMap::new() }
    }
}

impl<T: Default> Rows<T> {
    /// The row of `identity`; `is` tells whether a row is that identity's, `init` fills a new one.
    fn entry(&mut self, identity: &[&str], is: impl Fn(&T) -> bool, init: impl FnOnce(&mut T)) -> &mut T {
        let mut key = hash_of(identity);
        while self.rows.get(&key).is_some_and(|r| !is(r)) {
            key = key.wrapping_add(1);
        }
        self.rows.entry(key).or_insert_with(|| {
            let mut r = T::default();
            init(&mut r);
            r
        })
    }

    fn find(&self, identity: &[&str], is: impl Fn(&T) -> bool) -> Option<&T> {
        let mut key = hash_of(identity);
        loop {
            let r = self.rows.get(&key)?;
            if is(r) {
                return Some(r);
            }
            key = key.wrapping_add(1);
        }
    }
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
    /// Label values of `pods` and `containers`.
    texts: Texts,
    pods: Rows<PodAcc>,
    containers: Rows<ContainerAcc>,
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
        let ns_pod = (label(l, "namespace"), label(l, "pod"));
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
            "kube_pod_info" => {
                let node = self.texts.put(label(l, "node"));
                self.pod(ns_pod).node = node;
            }
            "kube_pod_status_phase" if v == 1.0 => {
                let phase = self.texts.put(label(l, "phase"));
                self.pod(ns_pod).phase = phase;
            }
            "kube_pod_status_ready" if v == 1.0 => {
                let ready = match label(l, "condition") {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
                self.pod(ns_pod).ready = ready;
            }
            "kube_pod_status_reason" if v == 1.0 => {
                let reason = self.texts.put(label(l, "reason"));
                self.pod(ns_pod).reason = reason;
            }
            "kube_pod_container_status_waiting_reason" if v == 1.0 => {
                let reason = self.texts.put(label(l, "reason"));
                let p = self.pod(ns_pod);
                if p.waiting.len == 0 {
                    p.waiting = reason;
                }
            }
            "kube_pod_container_status_restarts_total" => {
                self.container(ns_pod, label(l, "container")).restarts = v;
            }
            "kube_pod_container_status_last_terminated_reason" if v == 1.0 => {
                let reason = self.texts.put(label(l, "reason"));
                self.container(ns_pod, label(l, "container")).last_terminated = reason;
            }
            "kube_pod_container_resource_requests" => {
                let p = self.pod(ns_pod);
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

    fn pod(&mut self, (namespace, pod): (&str, &str)) -> &mut PodAcc {
        let is = |t: &Texts, p: &PodAcc| t.get(p.namespace) == namespace && t.get(p.pod) == pod;
        let new = self.pods.find(&[namespace, pod], |p| is(&self.texts, p)).is_none();
        let spans = new.then(|| (self.texts.put(namespace), self.texts.put(pod)));
        let t = &self.texts;
        self.pods.entry(
            &[namespace, pod],
            |p| is(t, p),
            |p| {
                if let Some(s) = spans {
                    (p.namespace, p.pod) = s;
                }
            },
        )
    }

    fn container(&mut self, (namespace, pod): (&str, &str), container: &str) -> &mut ContainerAcc {
        let id = [namespace, pod, container];
        let is = |t: &Texts, c: &ContainerAcc| {
            t.get(c.namespace) == namespace && t.get(c.pod) == pod && t.get(c.container) == container
        };
        let new = self.containers.find(&id, |c| is(&self.texts, c)).is_none();
        let spans = new.then(|| (self.texts.put(namespace), self.texts.put(pod), self.texts.put(container)));
        let t = &self.texts;
        self.containers.entry(
            &id,
            |c| is(t, c),
            |c| {
                if let Some(s) = spans {
                    (c.namespace, c.pod, c.container) = s;
                }
            },
        )
    }

    /// What was folded of one pod.
    fn find_pod(&self, namespace: &str, pod: &str) -> Option<&PodAcc> {
        let t = &self.texts;
        self.pods.find(&[namespace, pod], |p| t.get(p.namespace) == namespace && t.get(p.pod) == pod)
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
        let t = &self.texts;
        // In name order, so that the sums come out the same every time.
        let mut pods: Vec<&PodAcc> = self.pods.rows.values().filter(|p| p.phase.len > 0).collect();
        pods.sort_by(|a, b| (t.get(a.namespace), t.get(a.pod)).cmp(&(t.get(b.namespace), t.get(b.pod))));
        let mut not_ready: Vec<&PodAcc> = Vec::new();
        for p in pods {
            let phase = t.get(p.phase);
            totals.pods += 1;
            let c = namespaces.entry(t.get(p.namespace)).or_default();
            c.add(phase);
            totals.phases.add(phase);
            if matches!(phase, "Running" | "Pending") {
                let r = node_requests.entry(t.get(p.node)).or_default();
                r.cpu += p.requests.cpu;
                r.memory += p.requests.memory;
            }
            let unready = p.ready == Some(false) && matches!(phase, "Running" | "Pending" | "Unknown");
            if unready || phase == "Failed" || phase == "Unknown" {
                not_ready.push(p);
            }
        }
        let mut ns_rows: Vec<NamespacePods> =
            namespaces.into_iter().map(|(ns, c)| NamespacePods { namespace: ns.to_owned(), phases: c }).collect();
        ns_rows.sort_by(|a, b| b.phases.total().cmp(&a.phases.total()).then_with(|| a.namespace.cmp(&b.namespace)));
        totals.namespaces = ns_rows.len();
        let not_ready_total = not_ready.len();
        // Failed first (they will not recover by themselves), then by name (the order they are in).
        not_ready.sort_by_key(|p| t.get(p.phase) != "Failed");
        let not_ready: Vec<PodProblem> = not_ready
            .into_iter()
            .take(TOP)
            .map(|p| {
                let reason = [p.reason, p.waiting].into_iter().map(|r| t.get(r)).find(|r| !r.is_empty());
                PodProblem {
                    namespace: t.get(p.namespace).to_owned(),
                    pod: t.get(p.pod).to_owned(),
                    phase: t.get(p.phase).to_owned(),
                    reason: reason.unwrap_or_default().to_owned(),
                }
            })
            .collect();

        // Restarts.
        let mut restarting: Vec<&ContainerAcc> = self.containers.rows.values().filter(|c| c.restarts > 0.0).collect();
        let key = |c: &ContainerAcc| (t.get(c.namespace), t.get(c.pod), t.get(c.container));
        restarting.sort_by(|a, b| b.restarts.total_cmp(&a.restarts).then_with(|| key(a).cmp(&key(b))));
        let restarting: Vec<ContainerRestarts> = restarting
            .into_iter()
            .take(TOP)
            .map(|c| {
                let (namespace, pod, container) = key(c);
                ContainerRestarts {
                    namespace: namespace.to_owned(),
                    pod: pod.to_owned(),
                    container: container.to_owned(),
                    restarts: c.restarts,
                    last_terminated_reason: t.get(c.last_terminated).to_owned(),
                    waiting_reason: self
                        .find_pod(namespace, pod)
                        .map(|p| t.get(p.waiting))
                        .unwrap_or_default()
                        .to_owned(),
                }
            })
            .collect();

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
                        requests: self.find_pod(ns, pod).map(|p| p.requests).unwrap_or_default(),
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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContainerRestarts {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub restarts: f64,
    pub last_terminated_reason: String,
    pub waiting_reason: String,
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
    fn rows_whose_hashes_collide_stay_apart() {
        let mut texts = Texts::default();
        let (a, b) = (texts.put("a"), texts.put("b"));
        assert_eq!(texts.put("a"), a, "stored once");
        assert_eq!((texts.get(a), texts.get(b)), ("a", "b"));
        let mut rows: Rows<PodAcc> = Rows::default();
        // Another pod already holds the key "x"/"p" hashes to.
        rows.rows.insert(hash_of(&["x", "p"]), PodAcc { namespace: b, pod: b, ..PodAcc::default() });
        let is = |p: &PodAcc| texts.get(p.namespace) == "a";
        assert!(rows.find(&["x", "p"], is).is_none());
        rows.entry(&["x", "p"], is, |p| p.namespace = a).ready = Some(true);
        assert_eq!(rows.rows.len(), 2);
        assert_eq!(rows.find(&["x", "p"], is).and_then(|p| p.ready), Some(true));
        assert_eq!(rows.entry(&["x", "p"], is, |_| unreachable!()).ready, Some(true));
        assert!(rows.find(&["x", "p"], |p: &PodAcc| texts.get(p.namespace) == "b").is_some_and(|p| p.ready.is_none()));
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
