//! The Prometheus rules in deploy/prometheus are valid and behave as their unit tests say (promtool).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

mod tools;

/// promtool comes from Debian's `prometheus` package, which CI installs.
fn promtool() -> Option<PathBuf> {
    tools::tool("promtool")
}

fn run(promtool: &Path, args: &[&str]) {
    let out = Command::new(promtool).args(args).current_dir(repo().join("deploy/prometheus")).output().unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rules_are_valid() {
    let Some(p) = promtool() else { return };
    run(&p, &["check", "rules", "rules/kubestate-alerts.yml", "rules/kubestate-recording.yml"]);
}

#[test]
fn rule_unit_tests_pass() {
    let Some(p) = promtool() else { return };
    run(&p, &["test", "rules", "tests/kubestate-rules.test.yml"]);
}

#[test]
fn demo_config_is_valid() {
    let Some(p) = promtool() else { return };
    run(&p, &["check", "config", "prometheus-demo.yml"]);
}
