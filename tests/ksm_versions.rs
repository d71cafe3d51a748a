//! kube-state-metrics against kube-sim pretending to be kube-apiserver 1.28, 1.30, 1.33 and 1.36: what an
//! older server does not serve is skipped (one log line, telemetry says so), readiness does not wait for it,
//! and every kind both serve gives the same series. With the beta API turned on, the admission policies an
//! older server has at v1beta1 only are read there, and give the same series as at v1.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{Cluster, Ksm, eventually, get, series, try_get};

/// The admission-policy kinds and the minor version that first serves each at `admissionregistration.k8s.io/v1`.
const ADMISSION: &[(&str, &str, u32)] = &[
    ("validatingadmissionpolicies", "kube_validatingadmissionpolicy_", 30),
    ("validatingadmissionpolicybindings", "kube_validatingadmissionpolicybinding_", 30),
    ("mutatingadmissionpolicies", "kube_mutatingadmissionpolicy_", 36),
    ("mutatingadmissionpolicybindings", "kube_mutatingadmissionpolicybinding_", 36),
];

const BETA: &str = "admissionregistration.k8s.io/v1beta1";

/// The minor version that first serves an admission-policy kind at v1beta1 (when the beta API is on).
fn beta_since(plural: &str) -> u32 {
    if plural.starts_with("validating") { 28 } else { 34 }
}

/// The capture bed's objects (a real v1.36 cluster's, every built-in kind kube-state-metrics reads), less
/// the files of kinds `minor` does not serve, which such a server could not hold. Fixed names, uids and
/// times, so two simulators give the same series. With `beta`, the server serves
/// admissionregistration.k8s.io/v1beta1 too (`--runtime-config`), and the admission policies it serves
/// only there are loaded at v1beta1.
async fn cluster(minor: u32, beta: bool, dir: &support::TempDir) -> Cluster {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/kube-sim/tests/wire/objects");
    let to = dir.path().join(format!("objects-1.{minor}-{beta}"));
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if let Some((plural, _, since)) = ADMISSION.iter().find(|(p, _, _)| name.ends_with(&format!("-{p}.yaml"))) {
            if minor < *since && beta && minor >= beta_since(plural) {
                let v1 = "apiVersion: admissionregistration.k8s.io/v1\n";
                assert!(text.contains(v1), "{name}");
                text = text.replace(v1, &format!("apiVersion: {BETA}\n"));
            } else if minor < *since {
                continue;
            }
        }
        std::fs::write(to.join(&name), text).unwrap();
    }
    let cfg = kube_sim::SimConfig {
        kubelets: false,
        kubernetes_minor: minor,
        runtime_config: if beta { vec![BETA.to_owned()] } else { Vec::new() },
        fixtures: vec![to],
        ..Default::default()
    };
    Cluster::start_with(cfg, &[]).await
}

/// Waits for `/readyz`; returns how long it took.
async fn ready(k: &Ksm, within: Duration) -> Duration {
    let started = Instant::now();
    let url = k.url("/readyz");
    eventually(within, || async {
        let r = try_get(&url, &[]).await?;
        if r.status == 200 { Ok(()) } else { Err(format!("{} {}", r.status, r.text())) }
    })
    .await;
    started.elapsed()
}

/// The series of every family outside the admission-policy ones, values and all, less what the simulator
/// stamps on the capture's objects that lack it as it loads them (creation times, uids).
fn common_series(body: &str) -> BTreeSet<String> {
    normalized(body, |l| !ADMISSION.iter().any(|(_, prefix, _)| l.starts_with(prefix)))
}

/// The series of the admission-policy families.
fn admission_series(body: &str) -> BTreeSet<String> {
    normalized(body, |l| ADMISSION.iter().any(|(_, prefix, _)| l.starts_with(prefix)))
}

/// The series `keep` selects, less creation times and uids (see [`common_series`]).
fn normalized(body: &str, keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    series(body)
        .into_iter()
        .filter(|l| keep(l))
        .map(|l| {
            let l = if l.split('{').next().is_some_and(|f| f.ends_with("_created")) {
                l.rsplit_once(' ').map_or(l, |(s, _)| s)
            } else {
                l
            };
            match l.find("uid=\"") {
                Some(at) => {
                    let rest = &l[at + 5..];
                    let end = rest.find('"').unwrap_or(rest.len());
                    format!("{}uid=\"{}", &l[..at], &rest[end..])
                }
                None => l.to_owned(),
            }
        })
        .collect()
}

#[tokio::test]
async fn older_servers_skip_what_they_do_not_serve_and_agree_on_the_rest() {
    let mut reference: Option<(BTreeSet<String>, Duration)> = None;
    let dir = support::TempDir::new("versions");
    for minor in [36u32, 33, 30, 28] {
        let c = cluster(minor, false, &dir).await;
        let mut k = Ksm::spawn(&c.kubeconfig, &[]);
        let took = ready(&k, Duration::from_secs(60)).await;
        k.assert_running();
        let body = get(&k.url("/metrics"), &[]).await.text();
        let telemetry = get(&k.telemetry_url("/metrics"), &[]).await.text();
        let log = k.log();
        for (plural, prefix, since) in ADMISSION {
            let served = minor >= *since;
            let has_series = series(&body).iter().any(|l| l.starts_with(prefix));
            assert_eq!(has_series, served, "1.{minor}: series of {plural}");
            assert_served_gauge(&telemetry, plural, served, minor);
            let skipped = lines_about(&log, "does not serve this resource", plural);
            if served {
                assert!(skipped.is_empty(), "1.{minor}: {plural} reported as not served:\n{log}");
            } else {
                assert_eq!(skipped.len(), 1, "1.{minor}: one line for {plural}:\n{log}");
                assert!(skipped[0].contains(" INFO "), "1.{minor}: a default resource is INFO: {}", skipped[0]);
                assert!(
                    skipped[0].contains(&format!("v1.{minor}.0")),
                    "the line names the server version: {}",
                    skipped[0]
                );
            }
        }
        assert!(telemetry.contains("kube_state_metrics_resource_served{resource=\"pods\"} 1"));
        assert!(!log.contains("Status {") && !log.contains(" ERROR "), "1.{minor}: errors in the log:\n{log}");
        // The same cluster gives the same series for everything both versions serve.
        let common = common_series(&body);
        match &reference {
            None => reference = Some((common, took)),
            Some((r, newest)) => {
                let missing: Vec<_> = r.difference(&common).take(10).collect();
                let extra: Vec<_> = common.difference(r).take(10).collect();
                assert!(
                    missing.is_empty() && extra.is_empty(),
                    "1.{minor} vs 1.36: missing {missing:?}, extra {extra:?}"
                );
                // Nothing is waited for that will not come: ready about as fast as the newest server.
                assert!(took < *newest * 3 + Duration::from_secs(2), "1.{minor} ready in {took:?}, 1.36 in {newest:?}");
            }
        }
        eprintln!("1.{minor}: ready in {took:?}");
    }
}

#[tokio::test]
async fn a_resource_named_in_resources_that_is_not_served_is_a_warning() {
    let dir = support::TempDir::new("versions");
    let c = cluster(28, false, &dir).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=pods,validatingadmissionpolicies"]);
    ready(&k, Duration::from_secs(60)).await;
    k.assert_running();
    let log = k.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("does not serve this resource")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains(" WARN ") && lines[0].contains("validatingadmissionpolicies"), "{}", lines[0]);
    let r = get(&k.url("/readyz"), &[]).await;
    assert_eq!((r.status, r.text().trim()), (200, "OK"));
}

#[tokio::test]
async fn admission_policies_served_at_v1beta1_only_are_read_there_with_the_same_series() {
    let dir = support::TempDir::new("versions-beta");
    let newest = cluster(36, false, &dir).await;
    let mut k = Ksm::spawn(&newest.kubeconfig, &[]);
    ready(&k, Duration::from_secs(60)).await;
    k.assert_running();
    let reference = admission_series(&get(&k.url("/metrics"), &[]).await.text());
    assert!(ADMISSION.iter().all(|(_, prefix, _)| reference.iter().any(|l| l.starts_with(prefix))));
    drop(k);
    for minor in [28u32, 34] {
        let c = cluster(minor, true, &dir).await;
        let mut k = Ksm::spawn(&c.kubeconfig, &[]);
        ready(&k, Duration::from_secs(60)).await;
        k.assert_running();
        let body = get(&k.url("/metrics"), &[]).await.text();
        let telemetry = get(&k.telemetry_url("/metrics"), &[]).await.text();
        let log = k.log();
        let requests = c.sim.requests();
        let mut expected = BTreeSet::new();
        for (plural, prefix, since) in ADMISSION {
            let at_beta = minor < *since && minor >= beta_since(plural);
            let served = minor >= *since || at_beta;
            if served {
                expected.extend(reference.iter().filter(|l| l.starts_with(prefix)).cloned());
            }
            assert_served_gauge(&telemetry, plural, served, minor);
            let older = lines_about(&log, "at an older version only", plural);
            assert_eq!(older.len(), usize::from(at_beta), "1.{minor}: {plural}:\n{log}");
            if at_beta {
                assert!(older[0].contains(" INFO ") && older[0].contains(BETA), "{}", older[0]);
                // Listed and watched at v1beta1, in protobuf, and never at v1.
                let reads: Vec<_> = requests
                    .iter()
                    .filter(|r| r.path.ends_with(&format!("/{plural}")) && matches!(r.verb.as_str(), "list" | "watch"))
                    .collect();
                assert!(!reads.is_empty(), "1.{minor}: {plural} never read");
                for r in reads {
                    assert!(r.path.starts_with(&format!("/apis/{BETA}/")), "1.{minor}: {} read", r.path);
                    assert_eq!((r.status, r.encoding), (200, "protobuf"), "1.{minor}: {}", r.path);
                }
            }
        }
        let got = admission_series(&body);
        let missing: Vec<_> = expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(&expected).collect();
        assert!(missing.is_empty() && extra.is_empty(), "1.{minor} vs 1.36: missing {missing:?}, extra {extra:?}");
        assert!(!log.contains(" ERROR ") && !log.contains(" WARN "), "1.{minor}: {log}");
    }
}

/// Telemetry's served gauge of `plural` says `served`.
fn assert_served_gauge(telemetry: &str, plural: &str, served: bool, minor: u32) {
    let gauge = format!("kube_state_metrics_resource_served{{resource=\"{plural}\"}} {}", u8::from(served));
    assert!(telemetry.contains(&gauge), "1.{minor}: no `{gauge}` in telemetry:\n{telemetry}");
}

/// The log lines that say `what` of `plural`.
fn lines_about<'a>(log: &'a str, what: &str, plural: &str) -> Vec<&'a str> {
    let resource = format!("resource={plural} ");
    log.lines().filter(|l| l.contains(what) && l.contains(&resource)).collect()
}
