//! The command line at its edges, on the real binary: help that fits 80 columns and is the same however it
//! is asked for, exit codes, versions, log formats (text without colour codes in a pipe, JSON lines with
//! Kubernetes' fields), one warning per flag that is accepted but ignored, and each error said once.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kubestate");

fn run(args: &[&str]) -> Output {
    run_as(BIN, args)
}

fn run_as(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("CI")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Flags that make either server stop right after reading its configuration: a kubeconfig that is not
/// there. Ports 0 so that nothing is bound if it got further.
const MISSING_KUBECONFIG: &str = "/nonexistent-kubestate-test/kubeconfig";

#[test]
fn help_fits_80_columns_and_help_subcommand_equals_help_flag() {
    for sub in ["kube-state-metrics", "metrics-server", "demo", "sim"] {
        let flag = run(&[sub, "--help"]);
        assert!(flag.status.success(), "{sub} --help: {}", stderr(&flag));
        let text = stdout(&flag);
        assert!(text.lines().count() > 10, "{sub} --help is too short:\n{text}");
        let wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(wide.is_empty(), "{sub} --help has lines over 80 columns:\n{}", wide.join("\n"));
        // Descriptions wrap at words, not one word per line.
        let one_word = text.lines().filter(|l| l.split_whitespace().count() == 1).count();
        assert!(one_word * 4 < text.lines().count(), "{sub} --help wraps word by word:\n{text}");
        let sub_help = run(&["help", sub]);
        assert!(sub_help.status.success());
        assert_eq!(stdout(&sub_help), text, "`kubestate help {sub}` differs from `kubestate {sub} --help`");
    }
    let top = stdout(&run(&["--help"]));
    assert!(top.lines().all(|l| l.chars().count() <= 80), "{top}");
    assert_eq!(stdout(&run(&["help"])), top);
}

#[test]
fn unknown_flags_exit_1_as_upstream() {
    for args in [
        &["kube-state-metrics", "--no-such-flag"][..],
        &["metrics-server", "--no-such-flag"],
        &["--no-such-flag"],
        &["kube-state-metrics", "--logging-format=xml"],
        &["metrics-server", "--logging-format=xml"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error:"), "{args:?}: {}", stderr(&o));
    }
}

/// The image starts the binary through a link named after the server; it must behave the same.
#[test]
fn invoked_as_the_upstream_name() {
    let dir = std::env::temp_dir().join(format!("kubestate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("kube-state-metrics");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let link = link.to_string_lossy().into_owned();
    assert_eq!(run_as(&link, &["--bogus"]).status.code(), Some(1));
    assert_eq!(stdout(&run_as(&link, &["version"])), stdout(&run(&["kube-state-metrics", "version"])));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn versions_name_the_crate_version() {
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(stdout(&run(&["--version"])).trim(), format!("kubestate {v}"));
    let ksm = stdout(&run(&["kube-state-metrics", "version"]));
    assert!(ksm.starts_with(&format!("kube-state-metrics (kubestate), version {v} ")), "{ksm}");
    let ms = stdout(&run(&["metrics-server", "--version"]));
    assert!(ms.contains(v), "{ms}");
}

/// Both servers with a missing kubeconfig (they stop at once) and flags they accept but ignore.
fn failing_start(server: &str, extra: &[&str]) -> Output {
    let kubeconfig = format!("--kubeconfig={MISSING_KUBECONFIG}");
    let mut args = vec![server, kubeconfig.as_str()];
    if server == "kube-state-metrics" {
        args.extend(["--port=0", "--telemetry-port=0", "--auto-gomemlimit", "--vmodule=x=2", "--vmodule=y=3"]);
    } else {
        args.extend(["--profiling=false", "--audit-log-path", "-", "--feature-gates=A=true", "--vmodule=x=2"]);
    }
    args.extend(extra);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{args:?} should fail: {}", stderr(&o));
    o
}

fn ignored_of(server: &str) -> &'static [&'static str] {
    if server == "kube-state-metrics" {
        &["--auto-gomemlimit", "--vmodule"]
    } else {
        &["--profiling", "--audit-log-path", "--feature-gates", "--vmodule"]
    }
}

#[test]
fn text_logs_carry_no_colour_in_a_pipe_and_warn_once_per_ignored_flag() {
    for server in ["kube-state-metrics", "metrics-server"] {
        let err = stderr(&failing_start(server, &[]));
        assert!(!err.contains('\u{1b}'), "{server}: colour codes in a pipe:\n{err:?}");
        for flag in ignored_of(server) {
            let warnings =
                err.lines().filter(|l| l.contains("WARN") && l.contains(&format!("flag=\"{flag}\""))).count();
            assert_eq!(warnings, 1, "{server}: warnings naming {flag}:\n{err}");
        }
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "{server}: one error line:\n{err}");
    }
}

#[test]
fn json_logs_are_one_object_per_line_with_kubernetes_fields() {
    for server in ["kube-state-metrics", "metrics-server"] {
        let err = stderr(&failing_start(server, &["--logging-format=json"]));
        let lines: Vec<serde_json::Value> = err
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{server}: not a JSON line ({e}): {l}")))
            .collect();
        assert!(lines.len() > ignored_of(server).len(), "{server}:\n{err}");
        for l in &lines {
            let o = l.as_object().unwrap();
            assert!(o["ts"].as_f64().is_some_and(|t| t > 1.6e12), "{server}: ts in milliseconds: {l}");
            assert!(o["caller"].as_str().is_some_and(|c| c.contains(".rs:")), "{server}: caller: {l}");
            assert!(o["msg"].is_string(), "{server}: msg: {l}");
        }
        for flag in ignored_of(server) {
            let n = lines.iter().filter(|l| l["flag"] == *flag && l["v"] == 0).count();
            assert_eq!(n, 1, "{server}: {flag} warned once:\n{err}");
        }
        let errors: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("v").is_none()).collect();
        assert_eq!(errors.len(), 1, "{server}: one error line, without v:\n{err}");
        assert!(errors[0]["msg"].as_str().unwrap().contains(MISSING_KUBECONFIG), "{}", errors[0]);
    }
}

#[test]
fn a_missing_kubeconfig_is_said_once() {
    for server in ["kube-state-metrics", "metrics-server"] {
        let err = stderr(&failing_start(server, &[]));
        let error = err.lines().find(|l| l.contains("ERROR")).unwrap_or_else(|| panic!("{server}: {err}"));
        assert_eq!(error.matches(MISSING_KUBECONFIG).count(), 1, "{server}: {error}");
        assert_eq!(error.matches("No such file or directory").count(), 1, "{server}: {error}");
        assert!(!error.contains("'\""), "{server}: quoted twice: {error}");
    }
}

#[test]
fn allow_and_deny_lists_together_are_refused_once_without_a_wrong_prefix() {
    let o =
        run(&["kube-state-metrics", "--metric-allowlist=a", "--metric-denylist=b", "--port=0", "--telemetry-port=0"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.matches("mutually exclusive").count(), 1, "{err}");
    assert!(!err.contains("custom resource"), "{err}");
}

/// `kubestate sim` logs through the same setup: plain text into a pipe.
#[test]
fn sim_logs_without_colour_into_a_pipe() {
    let dir = std::env::temp_dir().join(format!("kubestate-cli-sim-{}", std::process::id()));
    let kubeconfig: PathBuf = dir.join("kubeconfig");
    let mut child = Command::new(BIN)
        .args(["sim", "--listen=127.0.0.1:0", "--plain-http", "--no-kubelets", "--nodes=1", "--pods-per-node=1"])
        .arg(format!("--kubeconfig-out={}", kubeconfig.display()))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !kubeconfig.exists() {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "sim never wrote its kubeconfig");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(err.contains("kube-sim listening"), "sim logged nothing at info: {err:?}");
    assert!(!err.contains('\u{1b}'), "colour codes in a pipe: {err:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `kubestate <subcommand>` a document names exists (SECURITY.md once named a `kube-sim` one).
#[test]
fn documents_name_only_real_subcommands() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md"), root.join("SECURITY.md"), root.join("CHANGELOG.md")];
    for dir in ["docs", "deploy", "deploy/kube-state-metrics", "deploy/metrics-server", "deploy/helm/kubestate"] {
        for e in std::fs::read_dir(root.join(dir)).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "md") {
                docs.push(e.path());
            }
        }
    }
    let mut named = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        let mut fenced = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            // Command lines: a fenced line that starts with `kubestate `, or inline code that does.
            let starts: Vec<&str> = if fenced {
                line.trim_start().strip_prefix("kubestate ").into_iter().collect()
            } else {
                line.split("`kubestate ").skip(1).collect()
            };
            for rest in starts {
                let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                if word.is_empty() || word.starts_with('-') || word.starts_with('<') {
                    continue;
                }
                named += 1;
                let o = run(&[&word, "--help"]);
                assert!(o.status.success(), "{}: `kubestate {word}` is not a subcommand", doc.display());
            }
        }
    }
    assert!(named >= 4, "found only {named} subcommand mentions in {docs:?}");
}

/// A file flag naming a missing file: one error line, the path and the cause once, no invented prefix.
#[test]
fn unreadable_files_are_named_once_with_their_cause() {
    for (flag, prefix) in [
        ("--tls-config", "--tls-config /nonexistent-kubestate-test/web.yml: "),
        (
            "--custom-resource-state-config-file",
            "reading --custom-resource-state-config-file /nonexistent-kubestate-test/web.yml: ",
        ),
    ] {
        let arg = format!("{flag}=/nonexistent-kubestate-test/web.yml");
        let o = run(&["kube-state-metrics", &arg, "--port=0", "--telemetry-port=0"]);
        assert_eq!(o.status.code(), Some(1), "{flag}: {}", stderr(&o));
        let err = stderr(&o);
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "{flag}: {err}");
        let line = errors[0];
        let at = line.find(prefix).unwrap_or_else(|| panic!("{flag}: no `{prefix}` in {line}"));
        let rest = &line[at + prefix.len()..];
        assert!(rest.starts_with("No such file or directory"), "{flag}: {line}");
        assert_eq!(line.matches("No such file").count(), 1, "{flag}: the cause twice: {line}");
        assert!(!line.contains("(file)") && !line.contains("custom resource state metrics:"), "{line}");
    }
}
