//! Replays every committed fuzz input through its target on stable Rust: the seed/minimised corpus
//! under `fuzz/corpus/<target>/` and crash reproducers under `fuzz/regressions/<target>/`.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

fn replay(kind: &str, require: bool) -> usize {
    let mut total = 0;
    for (name, target) in fuzzing::TARGETS {
        let dir = fuzz_dir().join(kind).join(name);
        let inputs = files(&dir);
        assert!(!require || !inputs.is_empty(), "no inputs in {}", dir.display());
        for f in &inputs {
            let data = std::fs::read(f).unwrap();
            let r = std::panic::catch_unwind(|| target(&data));
            assert!(r.is_ok(), "{name}: {} panicked", f.display());
        }
        total += inputs.len();
    }
    total
}

#[test]
fn every_target_has_a_corpus_and_it_passes() {
    let n = replay("corpus", true);
    assert!(n >= fuzzing::TARGETS.len());
}

#[test]
fn crash_reproducers_stay_fixed() {
    replay("regressions", false);
}

#[test]
fn no_stray_corpus_directories() {
    for kind in ["corpus", "regressions"] {
        let Ok(rd) = std::fs::read_dir(fuzz_dir().join(kind)) else { continue };
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(fuzzing::TARGETS.iter().any(|(t, _)| *t == name), "{kind}/{name} matches no target");
        }
    }
}

/// A target with no corpus file at hand still gets the inputs that once mattered most.
#[test]
fn targets_accept_edge_inputs() {
    for (_, target) in fuzzing::TARGETS {
        for data in [&b""[..], b"\n", b"\xff\xfe", b"\0", b"{", b"\\", b"(((", b"1e309"] {
            target(data);
        }
    }
}

fn seed(target: &str, file: &str) -> Vec<u8> {
    std::fs::read(fuzz_dir().join("corpus").join(target).join(file)).unwrap()
}

/// The seeds reach past the parsers' front doors, so mutations start from deep states.
#[test]
fn seeds_are_accepted_by_the_real_code() {
    let body = seed("kubelet_text", "real_kubelet_1_30");
    let mut interner = metrics_server::storage::Interner::default();
    let b = metrics_server::decode::decode(&mut interner, &std::sync::Arc::from("n"), 1, &body).unwrap();
    assert_eq!((b.nodes.len(), b.pods.len()), (1, 3));

    for file in ["foo_all_types.yaml", "example_kubesphere_user.yaml"] {
        let yaml = String::from_utf8(seed("custom_config", file)).unwrap();
        let res = state_metrics::custom::load_and_compile(&yaml).unwrap();
        assert!(!res.is_empty() && !res[0].families().is_empty(), "{file}");
    }

    let text = String::from_utf8(seed("exposition_parse", "ksm_pod")).unwrap();
    assert_eq!(exposition::parse_text(&text).unwrap().len(), 6);
    let sel = String::from_utf8(seed("label_selector", "s11")).unwrap();
    assert_eq!(labelselector::Selector::parse(&sel).unwrap().requirements().len(), 2);

    // Most schedule seeds parse, and those that parse have a next fire time to check.
    let schedules: Vec<Vec<u8>> = (1..=20).map(|i| seed("cron_schedule", &format!("s{i:02}"))).collect();
    let fire = |spec: &[u8]| {
        let spec = std::str::from_utf8(spec).unwrap();
        let s = cron::parse(spec).ok()?;
        s.next_after(1_520_742_896, &cron::TimeZone::UTC).ok()
    };
    let firing = schedules.iter().filter(|s| matches!(fire(s), Some(cron::Next::At(_)))).count();
    assert!(firing >= 14, "only {firing} schedule seeds fire");
}
