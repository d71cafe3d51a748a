//! Pod cases that are easier to state as single assertions than as whole golden files.

use state_metrics::family::{Ctx, KeyAllow};

use crate::common;

/// Every family emits something for a fully populated pod (with the opt-in family and allowlists on),
/// so no generator is silently dead.
#[test]
fn every_family_has_a_sample_somewhere() {
    let dir = common::fixtures_dir("pods");
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "prom") {
            for line in std::fs::read_to_string(&p).unwrap().lines().filter(|l| !l.starts_with('#')) {
                let name = line.split(['{', ' ']).next().unwrap().to_owned();
                seen.insert(name);
            }
        }
    }
    let pods = common::handle("pods");
    let names: Vec<&str> = (0..pods.family_count()).map(|i| pods.family_name(i)).collect();
    let missing: Vec<&str> = names.into_iter().filter(|n| !seen.contains(*n)).collect();
    // These need objects the golden cases deliberately do not combine; covered by the unit tests below.
    let covered_elsewhere = ["kube_pod_init_container_status_waiting_reason"];
    let missing: Vec<&str> = missing.into_iter().filter(|n| !covered_elsewhere.contains(n)).collect();
    assert!(missing.is_empty(), "families without any golden sample: {missing:?}");
}

fn render(yaml: &str, ctx: &Ctx) -> String {
    common::render_yaml("pods", yaml, ctx, &[])
}

fn samples_of<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(family) && l[family.len()..].starts_with('{')).collect()
}

const ID: &str = r#"namespace="ns",pod="p",uid="u""#;

fn pod(status: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ns\n  uid: u\n{status}")
}

#[test]
fn init_container_waiting_reason_only_for_waiting_init_containers() {
    let yaml = pod(r#"status:
  initContainerStatuses:
    - name: a
      image: a
      imageID: ""
      ready: false
      restartCount: 0
      state:
        waiting:
          reason: PodInitializing
    - name: b
      image: b
      imageID: ""
      ready: false
      restartCount: 0
      state:
        running: {}
"#);
    let out = render(&yaml, &Ctx::default());
    assert_eq!(
        samples_of(&out, "kube_pod_init_container_status_waiting_reason"),
        [format!(r#"kube_pod_init_container_status_waiting_reason{{{ID},container="a",reason="PodInitializing"}} 1"#)]
    );
    assert_eq!(
        samples_of(&out, "kube_pod_init_container_status_waiting"),
        [
            format!(r#"kube_pod_init_container_status_waiting{{{ID},container="a"}} 1"#),
            format!(r#"kube_pod_init_container_status_waiting{{{ID},container="b"}} 0"#),
        ]
    );
}

#[test]
fn overhead_only_reports_the_resources_present() {
    let out = render(&pod("spec:\n  containers: []\n  overhead:\n    cpu: 1200m\n"), &Ctx::default());
    assert_eq!(samples_of(&out, "kube_pod_overhead_cpu_cores"), [format!("kube_pod_overhead_cpu_cores{{{ID}}} 1.2")]);
    assert!(samples_of(&out, "kube_pod_overhead_memory_bytes").is_empty());
}

#[test]
fn status_reason_emits_only_present_reasons() {
    // A condition reason from the known list counts even when status.reason is empty; a terminated
    // container reason counts too; nothing else produces a series.
    let yaml = pod(r#"status:
  conditions:
    - type: PodScheduled
      status: "False"
      reason: SchedulingGated
  containerStatuses:
    - name: c
      image: c
      imageID: ""
      ready: false
      restartCount: 0
      state:
        terminated:
          exitCode: 0
          reason: UnexpectedAdmissionError
"#);
    let out = render(&yaml, &Ctx::default());
    assert_eq!(
        samples_of(&out, "kube_pod_status_reason"),
        [
            format!(r#"kube_pod_status_reason{{{ID},reason="SchedulingGated"}} 1"#),
            format!(r#"kube_pod_status_reason{{{ID},reason="UnexpectedAdmissionError"}} 1"#),
        ]
    );
    let none = render(&pod("status:\n  phase: Running\n"), &Ctx::default());
    assert!(samples_of(&none, "kube_pod_status_reason").is_empty());
}

#[test]
fn disruption_reason_outside_the_known_list_is_other() {
    let yaml = pod(
        "status:\n  conditions:\n    - type: DisruptionTarget\n      status: \"True\"\n      reason: SomethingNew\n",
    );
    let out = render(&yaml, &Ctx::default());
    assert_eq!(
        samples_of(&out, "kube_pod_status_disruption_reason"),
        [format!(r#"kube_pod_status_disruption_reason{{{ID},reason="Other"}} 1"#)]
    );
}

#[test]
fn labels_family_is_silent_without_allowlist_but_headers_stay() {
    let yaml = pod("  labels:\n    app: x\n");
    let out = render(&yaml, &Ctx::default());
    assert!(out.contains("# HELP kube_pod_labels [STABLE] Kubernetes labels converted to Prometheus labels.\n"));
    assert!(samples_of(&out, "kube_pod_labels").is_empty());
    let ctx = Ctx { labels: KeyAllow::All, ..Ctx::default() };
    let out = render(&yaml, &ctx);
    assert_eq!(samples_of(&out, "kube_pod_labels"), [format!(r#"kube_pod_labels{{{ID},label_app="x"}} 1"#)]);
}

#[test]
fn restarts_families_are_counters() {
    let out = render(&pod(""), &Ctx::default());
    assert!(out.contains("# TYPE kube_pod_container_status_restarts_total counter\n"));
    assert!(out.contains("# TYPE kube_pod_init_container_status_restarts_total counter\n"));
    // The opt-in family is not rendered unless enabled.
    assert!(!out.contains("kube_pod_nodeselectors"));
}
