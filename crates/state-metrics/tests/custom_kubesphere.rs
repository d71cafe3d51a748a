//! The KubeSphere User example (seed 003) end to end at the evaluation level: the shipped config file
//! and CRD, a User object, exact text.

use serde_json::Value;
use state_metrics::custom::{Gvkp, load_and_compile, resolve_all};
use state_metrics::family::write_header;

fn example(name: &str) -> String {
    let p = format!("{}/../../examples/custom-resources/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn bob() -> Value {
    let p = format!("{}/tests/fixtures/custom/user-bob.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn text(yaml: &str, obj: &Value) -> String {
    let mut out = Vec::new();
    for r in load_and_compile(yaml).unwrap() {
        let rendered = r.render(obj);
        for (i, f) in r.families().iter().enumerate() {
            write_header(&mut out, &f.name, &f.help, f.kind, false);
            out.extend_from_slice(rendered.family(i));
        }
    }
    String::from_utf8(out).unwrap()
}

const L: &str =
    r#"customresource_group="iam.kubesphere.io",customresource_kind="User",customresource_version="v1alpha2""#;

#[test]
fn kubesphere_user_example_end_to_end() {
    let want = format!(
        "# HELP kube_user_cpu_total The number of user's cpu core.
# TYPE kube_user_cpu_total gauge
kube_user_cpu_total{{{L},user=\"bob\"}} 1
# HELP kube_user_memory_total The byte of user's memory.
# TYPE kube_user_memory_total gauge
kube_user_memory_total{{{L},user=\"bob\"}} 1e+09
# HELP kube_user_state The state of the user.
# TYPE kube_user_state gauge
kube_user_state{{{L},state=\"Active\",user=\"bob\"}} 1
kube_user_state{{{L},state=\"AuthLimitExceeded\",user=\"bob\"}} 0
kube_user_state{{{L},state=\"Disabled\",user=\"bob\"}} 0
# HELP kube_user_info Information about the user.
# TYPE kube_user_info gauge
kube_user_info{{{L},email=\"bob@example.com\",lang=\"en\",user=\"bob\"}} 1
# HELP kube_user_last_login_time Unix time of the user's last login attempt.
# TYPE kube_user_last_login_time gauge
kube_user_last_login_time{{{L},user=\"bob\"}} 1.7145522e+09
"
    );
    assert_eq!(text(&example("kubesphere-user.yaml"), &bob()), want);
}

#[test]
fn kubesphere_user_without_annotations_reports_zero_and_no_state() {
    let obj = serde_json::json!({"metadata": {"name": "alice"}, "spec": {"email": "a@example.com"}});
    let want = format!(
        "# HELP kube_user_cpu_total The number of user's cpu core.
# TYPE kube_user_cpu_total gauge
kube_user_cpu_total{{{L},user=\"alice\"}} 0
# HELP kube_user_memory_total The byte of user's memory.
# TYPE kube_user_memory_total gauge
kube_user_memory_total{{{L},user=\"alice\"}} 0
# HELP kube_user_state The state of the user.
# TYPE kube_user_state gauge
# HELP kube_user_info Information about the user.
# TYPE kube_user_info gauge
kube_user_info{{{L},email=\"a@example.com\",user=\"alice\"}} 1
# HELP kube_user_last_login_time Unix time of the user's last login attempt.
# TYPE kube_user_last_login_time gauge
"
    );
    assert_eq!(text(&example("kubesphere-user.yaml"), &obj), want);
}

#[test]
fn kubesphere_sample_user_manifest_renders_like_the_fixture() {
    let from_yaml: Value = serde_saphyr::from_str(&example("kubesphere-user-bob.yaml")).unwrap();
    let yaml = example("kubesphere-user.yaml");
    assert_eq!(text(&yaml, &from_yaml), text(&yaml, &bob()));
}

#[test]
fn kubesphere_crd_resolves_to_users_v1alpha2() {
    let crd: Value = serde_saphyr::from_str(&example("kubesphere-user-crd.yaml")).unwrap();
    let res = load_and_compile(&example("kubesphere-user.yaml")).unwrap();
    let bound = resolve_all(&res, &[crd]);
    assert_eq!(bound.len(), 1);
    assert_eq!(
        bound[0].gvk(),
        &Gvkp {
            group: "iam.kubesphere.io".into(),
            version: "v1alpha2".into(),
            kind: "User".into(),
            plural: "users".into()
        }
    );
    assert_eq!(
        bound[0].family_names(),
        [
            "kube_user_cpu_total",
            "kube_user_memory_total",
            "kube_user_state",
            "kube_user_info",
            "kube_user_last_login_time"
        ]
    );
}
