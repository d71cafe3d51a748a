//! Fuzz target bodies. Each `pub fn <target>(data: &[u8])` feeds the bytes to the real parser and
//! panics when a cheap invariant breaks; a panic anywhere (ours or the parser's) is a finding.
//!
//! The parsers inside the two servers (kubelet text, custom-resource config and paths) need the feature
//! `servers` (on by default), which pulls in kube and the rest; without it the crate builds in seconds,
//! which is what CI's bounded fuzz run uses.
//!
//! `fuzz/` (cargo-fuzz, nightly sanitizers) wraps each function in a one-line `fuzz_target!`, and
//! `tests/corpus.rs` replays every committed corpus file and crash reproducer on stable, so the
//! inputs stay covered by `cargo test --workspace`.

use std::collections::BTreeMap;
#[cfg(feature = "servers")]
use std::sync::Arc;

#[cfg(feature = "servers")]
use metrics_server::decode::{Decoder, decode};
#[cfg(feature = "servers")]
use metrics_server::storage::{Batch, Interner, Name, Point};
use quantity::Quantity;
#[cfg(feature = "servers")]
use serde_json::Value;
#[cfg(feature = "servers")]
use state_metrics::custom::path::{LabelPaths, Path};
#[cfg(feature = "servers")]
use state_metrics::custom::{PathSegment, go_print, load_and_compile, to_f64};

/// A target body: any bytes in, a panic when something is wrong.
pub type Target = fn(&[u8]);

/// Every target by the directory name its corpus lives under (`fuzz/corpus/<name>/`).
pub const TARGETS: &[(&str, Target)] = &[
    #[cfg(feature = "servers")]
    ("kubelet_text", kubelet_text),
    ("quantity", quantity),
    #[cfg(feature = "servers")]
    ("custom_config", custom_config),
    #[cfg(feature = "servers")]
    ("custom_path", custom_path),
    ("label_sanitize", label_sanitize),
    ("exposition_write", exposition_write),
    ("exposition_parse", exposition_parse),
    ("label_selector", label_selector),
    ("field_selector", field_selector),
    ("cron_schedule", cron_schedule),
];

#[cfg(feature = "servers")]
/// What a decoded batch says, in an order that does not depend on hashing.
type Normalized = (Vec<(String, Point)>, Vec<(String, String, Vec<(String, Point)>)>);

#[cfg(feature = "servers")]
fn normalize(b: &Batch) -> Normalized {
    let nodes = b.nodes.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    let mut pods: Vec<_> = b
        .pods
        .iter()
        .map(|p| {
            let cs = p.containers.iter().map(|(n, pt)| (n.to_string(), *pt)).collect();
            (p.namespace.to_string(), p.name.to_string(), cs)
        })
        .collect();
    pods.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    (nodes, pods)
}

#[cfg(feature = "servers")]
/// The kubelet `/metrics/resource` decoder of metrics-server. Invariants: decoding the body in two
/// chunks (split where the first byte says) gives what decoding it whole gives, and what survives
/// `finish` is complete (non-zero CPU, memory and, for nodes, time).
pub fn kubelet_text(data: &[u8]) {
    let node: Name = Arc::from("node-1");
    let request_time = 1_700_000_000_000_000_000;
    let mut interner = Interner::default();
    let whole = decode(&mut interner, &node, request_time, data);
    if let Ok(b) = &whole {
        for (_, p) in &b.nodes {
            assert!(p.ts != 0 && p.cpu != 0 && p.mem != 0, "incomplete node point kept: {p:?}");
        }
        for pod in &b.pods {
            assert!(pod.containers.iter().all(|(_, p)| p.cpu != 0 && p.mem != 0), "incomplete pod kept: {pod:?}");
        }
    }
    let split = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut d = Decoder::new(&mut interner, request_time);
    let chunked = match d.feed(&data[..split]).and_then(|()| d.feed(&data[split..])) {
        Ok(()) => d.finish(&node),
        Err(e) => Err(e),
    };
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(normalize(a), normalize(b), "split at {split} changed the batch"),
        (Err(a), Err(b)) => assert_eq!(a, b, "split at {split} changed the error"),
        _ => panic!("split at {split}: whole {:?} vs chunked {:?}", whole.map(|b| normalize(&b)), chunked.err()),
    }
}

/// `resource.Quantity` parsing. Invariants: the canonical text parses back to an equal quantity, and
/// from the second round on the canonical text is a fixed point. (Not from the first: as in Go, a
/// binary quantity that is no whole power-of-1024 multiple prints without a suffix, `281.25Ki` ->
/// `288000`, and that text parses as decimal, whose canonical form is `288k`.)
pub fn quantity(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = Quantity::parse_trimmed(s);
    let Ok(q) = Quantity::parse(s) else { return };
    let reparse = |text: &str| match Quantity::parse(text) {
        Ok(a) => a,
        Err(e) => panic!("canonical {text:?} (from {s:?}) does not parse: {e}"),
    };
    let canonical = q.canonical();
    let again = reparse(&canonical);
    assert_eq!(again, q, "{s:?} -> {canonical:?} changed the value");
    let second = again.canonical();
    let third = reparse(&second);
    assert_eq!(third, q, "{s:?} -> {canonical:?} -> {second:?} changed the value");
    assert_eq!(third.canonical(), second, "canonical form of {s:?} is not stable after one round");
    let _ = (q.to_string(), q.value(), q.milli_value(), q.as_approximate_f64(), q.to_f64());
}

#[cfg(feature = "servers")]
/// An object with a bit of everything custom-resource paths commonly reach for.
fn sample_object() -> Value {
    serde_json::json!({
        "apiVersion": "example.com/v1",
        "kind": "Foo",
        "metadata": {
            "name": "foo", "namespace": "ns", "uid": "1234",
            "creationTimestamp": "2024-01-02T03:04:05Z",
            "labels": {"app": "web", "example.com/tier": "front", "n": "5"},
            "annotations": {"note": "a \"quoted\"\nline\\"}
        },
        "spec": {
            "replicas": 3, "paused": false, "size": "1Gi", "cpu": "250m", "ratio": "50%",
            "version": {"current": "v1.2.3"}, "tags": ["a", "b"],
            "items": [{"name": "x", "value": 1.5, "ready": true}, {"name": "y", "value": "7", "ready": "false"}],
            "nested": {"deep": {"deeper": {"n": null}}}
        },
        "status": {
            "phase": "Active", "active": 2, "ready": "true", "lastSeen": "2024-05-06T07:08:09Z",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Ok", "lastTransitionTime": "2024-01-01T00:00:00Z"},
                {"type": "Synced", "status": "False", "value": -1}
            ],
            "byName": {"a": {"count": 1}, "b": {"count": 2}}
        }
    })
}

#[cfg(feature = "servers")]
/// `--custom-resource-state-config` loading and compiling. Invariant: whatever a config that
/// compiles renders for a sample object, with its family header, is valid exposition text.
pub fn custom_config(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(resources) = load_and_compile(s) else { return };
    let obj = sample_object();
    for r in &resources {
        let _ = (r.resource_name(), r.family_names(), r.is_wildcard());
        let rendered = r.render(&obj);
        for i in 0..r.families().len() {
            let mut text = Vec::new();
            r.write_header(i, &mut text, false);
            text.extend_from_slice(rendered.family(i));
            let text = match std::str::from_utf8(&text) {
                Ok(t) => t,
                Err(e) => panic!("family {i} of {s:?} rendered non-UTF-8 text: {e}"),
            };
            // A label name that sanitising cannot make valid is refused when the config loads
            // (fuzz/regressions/custom_config/label_name_starts_with_digit).
            if let Err(e) = exposition::parse_text(text) {
                panic!("family {i} rendered invalid exposition ({e}):\n{text}");
            }
        }
    }
}

#[cfg(feature = "servers")]
/// Custom-resource `path` compilation and evaluation. Input: one path segment per line, then an
/// empty line, then a JSON document (the sample object when absent or invalid). Invariants: a
/// resolved value is never null, and label paths only produce sanitised label names.
pub fn custom_path(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let (head, json) = s.split_once("\n\n").unwrap_or((&s, ""));
    let segments: Vec<String> =
        if head.is_empty() { Vec::new() } else { head.split('\n').map(str::to_owned).collect() };
    let value = serde_json::from_str::<Value>(json).unwrap_or_else(|_| sample_object());
    if let Ok(path) = Path::compile(&segments) {
        let _ = (path.display(), path.first_key(), path.is_empty());
        if let Some(v) = path.get(&value) {
            assert!(!v.is_null(), "path {segments:?} resolved to null");
            let _ = (to_f64(Some(v), false), to_f64(Some(v), true), go_print(v));
        }
    }
    let segs: Vec<PathSegment> = segments.iter().cloned().map(PathSegment).collect();
    let map: BTreeMap<String, Vec<PathSegment>> =
        [("*".to_owned(), segs.clone()), ("pre_*".to_owned(), segs.clone()), ("x-y".to_owned(), segs)].into();
    if let Ok(lp) = LabelPaths::compile(&map) {
        let mut out = Vec::new();
        lp.apply(&value, &mut out);
        for (name, _) in &out {
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "unsanitised label name {name:?}");
        }
    }
}

fn is_label_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Kubernetes key → Prometheus label name sanitising. Invariants: `sanitize_name` maps each
/// character to one `[a-zA-Z0-9_]`; `sanitize_snake` yields `[a-z0-9_]` and is idempotent;
/// `kube_label_names` over distinct keys (one per line) yields one valid label name per key.
pub fn label_sanitize(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let name = exposition::sanitize_name(&s);
    assert_eq!(name.chars().count(), s.chars().count(), "sanitize_name({s:?}) = {name:?}");
    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "sanitize_name({s:?}) = {name:?}");
    let snake = exposition::sanitize_snake(&s);
    assert!(
        snake.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "sanitize_snake({s:?}) = {snake:?}"
    );
    assert_eq!(exposition::sanitize_snake(&snake), snake, "sanitize_snake not idempotent on {s:?}");
    let mut keys: Vec<&str> = s.split('\n').collect();
    keys.sort_unstable();
    keys.dedup();
    let names = exposition::kube_label_names("label", &keys);
    assert_eq!(names.len(), keys.len());
    for n in &names {
        assert!(is_label_name(n), "kube_label_names({keys:?}) produced {n:?}");
    }
    let distinct: std::collections::HashSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), names.len(), "kube_label_names({keys:?}) repeated a name: {names:?}");
}

fn same_float(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The exposition writers. Input: 8 bytes of `f64`, then a label-name line, then a label value.
/// Invariant: `name{label="value"} float` written with `write_label_value` / `write_float`, under a
/// HELP line written with `write_help_text`, reads back through `parse_text` unchanged.
pub fn exposition_write(data: &[u8]) {
    let (num, rest) = data.split_at(data.len().min(8));
    let mut bits = [0u8; 8];
    bits[..num.len()].copy_from_slice(num);
    let v = f64::from_le_bytes(bits);
    let rest = String::from_utf8_lossy(rest);
    let (label, value) = rest.split_once('\n').unwrap_or((&rest, ""));
    let label = format!("l_{}", exposition::sanitize_name(label));
    let mut out = b"# HELP m ".to_vec();
    exposition::write_help_text(&mut out, value);
    out.extend_from_slice(b"\n# TYPE m gauge\nm{");
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"=\"");
    exposition::write_label_value(&mut out, value);
    out.extend_from_slice(b"\"} ");
    exposition::write_float(&mut out, v);
    out.push(b'\n');
    let text = String::from_utf8(out).unwrap_or_else(|e| panic!("writers produced non-UTF-8: {e}"));
    let samples = exposition::parse_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(samples.len(), 1, "{text}");
    assert_eq!(samples[0].labels, [(label, value.to_owned())], "{text}");
    assert!(same_float(samples[0].value, v), "{v:?} read back as {:?}: {text}", samples[0].value);
}

/// The strict exposition reader. Invariant: samples it accepts, written again with the crate's
/// writers, read back equal.
pub fn exposition_parse(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(samples) = exposition::parse_text(s) else { return };
    let mut out = Vec::new();
    for smp in &samples {
        out.extend_from_slice(smp.name.as_bytes());
        if !smp.labels.is_empty() {
            out.push(b'{');
            exposition::write_label_pairs(&mut out, smp.labels.iter().map(|(k, v)| (k, v)));
            out.push(b'}');
        }
        out.push(b' ');
        exposition::write_float(&mut out, smp.value);
        out.push(b'\n');
    }
    let text = String::from_utf8(out).unwrap_or_else(|e| panic!("writers produced non-UTF-8: {e}"));
    let again = exposition::parse_text(&text).unwrap_or_else(|e| panic!("rewritten text refused: {e}\n{text}"));
    assert_eq!(again.len(), samples.len());
    for (a, b) in samples.iter().zip(&again) {
        assert!(a.name == b.name && a.labels == b.labels && same_float(a.value, b.value), "{a:?} became {b:?}");
    }
}

/// Label selectors. Invariants: the canonical text parses back to an equal selector and is itself
/// stable; AND with the empty selector changes nothing.
pub fn label_selector(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(sel) = labelselector::Selector::parse(s) else { return };
    let text = sel.to_string();
    let again = labelselector::Selector::parse(&text).unwrap_or_else(|e| panic!("{s:?} -> {text:?} refused: {e}"));
    assert_eq!(again, sel, "{s:?} -> {text:?}");
    assert_eq!(again.to_string(), text);
    assert_eq!(sel.clone().and(&labelselector::Selector::default()), sel);
    let labels: BTreeMap<String, String> =
        sel.requirements().iter().map(|r| (r.key().to_owned(), "5".to_owned())).collect();
    let _ = (sel.matches(&labels), sel.matches(&BTreeMap::new()));
}

/// Field selectors. Invariant: the written form parses back to an equal selector.
pub fn field_selector(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(sel) = labelselector::FieldSelector::parse(s) else { return };
    let text = sel.to_string();
    let again = labelselector::FieldSelector::parse(&text).unwrap_or_else(|e| panic!("{s:?} -> {text:?} refused: {e}"));
    assert_eq!(again, sel, "{s:?} -> {text:?}");
    let _ = (sel.matches_with(|_| Some("x")), sel.matches_with(|_| None));
}

/// Cron schedules (`crates/cron`). Input: a schedule, optionally then a line with a zone name for
/// `parse_in_zone` (a CronJob's `spec.timeZone`). Invariants: parsing and searching never panic; a
/// fire time lies strictly after its reference time; and for a five-field schedule read in UTC (no
/// zone of its own, UTC as the local zone) the search finds the first match: the fire time is on a
/// whole minute, searching again from just before it finds it again, and a later reference time
/// never gives an earlier fire time.
pub fn cron_schedule(data: &[u8]) {
    use cron::{Next, TimeZone};
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (spec, zone) = match s.split_once('\n') {
        Some((spec, zone)) => (spec, Some(zone)),
        None => (s, None),
    };
    let parsed = match zone {
        Some(z) => cron::parse_in_zone(spec, z),
        None => cron::parse(spec),
    };
    let Ok(schedule) = parsed else { return };
    let in_utc = zone.is_none() && !spec.starts_with("TZ=") && !spec.starts_with("CRON_TZ=");
    let fields = !spec.contains("@every ");
    let new_york = TimeZone::get("America/New_York").unwrap_or(TimeZone::UTC);
    // 2018-03-11 (a DST day in New York), just before 1970, 2000-02-29, and near the end of year 9999.
    let refs = [1_520_742_896, -1, 951_782_400, 253_402_200_000];
    for after in refs {
        let _ = schedule.next_after(after, &new_york);
        let first = match schedule.next_after(after, &TimeZone::UTC) {
            Ok(Next::At(t)) => t,
            Ok(Next::Never) | Err(_) => continue,
        };
        assert!(first > after, "{spec:?}: {first} is not after {after}");
        if !(in_utc && fields) {
            continue;
        }
        assert_eq!(first % 60, 0, "{spec:?}: {first} is not on a whole minute");
        let again = schedule.next_after(first - 1, &TimeZone::UTC);
        assert_eq!(again, Ok(Next::At(first)), "{spec:?}: from {} the search skipped {first}", first - 1);
        let later = after + (first - after) / 2;
        let from_later = schedule.next_after(later, &TimeZone::UTC);
        assert_eq!(from_later, Ok(Next::At(first)), "{spec:?}: from {later}, before {first}");
    }
}
