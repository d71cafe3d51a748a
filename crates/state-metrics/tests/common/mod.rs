//! Golden tests: every `tests/fixtures/<resource>/<case>.yaml` holds one object; `<case>.prom` holds the exact
//! text kube-state-metrics must print for it alone (HELP/TYPE of every non-opt-in family, then samples).
//! A `<case>.json` object is decoded from JSON as the watcher decodes it: for objects whose decoding is the
//! point (far-future times, nulls). Every case also goes through the protobuf decoder, after encoding it
//! as the API server would, and must render the same text.
//! An optional `<case>.ctx` sets allowlists, one `key=value` per line:
//!   labels=*            annotations=app,team*      opt_in=kube_pod_nodeselectors
//! `UPDATE_GOLDEN=1` rewrites the .prom files from the current output: only for bulk edits that are then
//! read line by line against spec/families.tsv — a golden file nobody checked proves nothing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use state_metrics::family::{Ctx, KeyAllow};
use state_metrics::registry::{Format, ResourceHandle};

pub fn fixtures_dir(resource: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(resource)
}

fn parse_allow(v: &str) -> KeyAllow {
    let keys: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    if keys.is_empty() {
        return KeyAllow::Nothing;
    }
    if keys[0] == "*" {
        return KeyAllow::All;
    }
    let mut exact = Vec::new();
    let mut patterns = Vec::new();
    for k in keys {
        match k.split_once('*') {
            Some((pre, post)) => patterns.push(
                regex::Regex::new(&format!("^{}.*{}$", regex::escape(pre), regex::escape(post))).expect("pattern"),
            ),
            None => exact.push(k),
        }
    }
    KeyAllow::Keys { exact, patterns }
}

/// Reads `<case>.ctx`: the rendering context and the opt-in family names to enable.
pub fn load_ctx(path: &Path) -> (Ctx, Vec<String>) {
    let mut ctx = Ctx::default();
    let mut opt_in = Vec::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (k, v) = line.split_once('=').expect("key=value in .ctx");
            match k.trim() {
                "labels" => ctx.labels = parse_allow(v),
                "annotations" => ctx.annotations = parse_allow(v),
                "opt_in" => opt_in.extend(v.split(',').map(|s| s.trim().to_owned())),
                other => panic!("unknown .ctx key {other}"),
            }
        }
    }
    (ctx, opt_in)
}

/// The handle of the resource named `name` (as in `--resources`).
pub fn handle(name: &str) -> std::sync::Arc<dyn ResourceHandle> {
    state_metrics::registry::available()
        .into_iter()
        .find(|h| h.name() == name)
        .unwrap_or_else(|| panic!("no resource {name}"))
}

/// The non-opt-in families plus the opt-in ones named in `opt_in`.
fn enabled(h: &dyn ResourceHandle, opt_in: &[String]) -> Vec<usize> {
    (0..h.family_count()).filter(|&i| !h.family_opt_in(i) || opt_in.iter().any(|o| o == h.family_name(i))).collect()
}

/// Renders one object of resource `name`, given in `format`, as a scrape of it alone would show it:
/// HELP/TYPE of every enabled family, then its samples.
pub fn render_as(name: &str, raw: &[u8], format: Format, ctx: &Ctx, opt_in: &[String]) -> Result<String, String> {
    let h = handle(name);
    let enabled = enabled(h.as_ref(), opt_in);
    let rendered = h.render(raw, format, ctx, &enabled)?;
    let mut out = Vec::new();
    for (pos, &i) in enabled.iter().enumerate() {
        out.extend_from_slice(&h.header(i, false));
        out.extend_from_slice(rendered.family(pos));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Renders one YAML object of resource `name` with the given context.
pub fn render_yaml(name: &str, yaml: &str, ctx: &Ctx, opt_in: &[String]) -> String {
    render_as(name, yaml.as_bytes(), Format::Yaml, ctx, opt_in)
        .unwrap_or_else(|e| panic!("fixture does not parse: {e}"))
}

/// Renders one JSON object of resource `name` decoded as the watcher decodes API responses.
pub fn render_json(name: &str, json: &str, ctx: &Ctx, opt_in: &[String]) -> String {
    render_as(name, json.as_bytes(), Format::Json, ctx, opt_in)
        .unwrap_or_else(|e| panic!("fixture does not decode: {e}"))
}

/// Renders one fixture (YAML or JSON) of resource `name` as the `PartialObjectMetadata` a metadata-only
/// list carries: kind, apiVersion and metadata, nothing else.
pub fn render_partial(name: &str, text: &str, ctx: &Ctx, opt_in: &[String]) -> String {
    let value: serde_json::Value =
        serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("fixture is not YAML/JSON: {e}"));
    let partial = serde_json::json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": value["metadata"]});
    render_json(name, &partial.to_string(), ctx, opt_in)
}

/// Renders one fixture (YAML or JSON) of resource `name` after encoding it as the API server would in
/// protobuf (`kwire`'s transcoder), through the protobuf decoder.
pub fn render_protobuf(name: &str, text: &str, ctx: &Ctx, opt_in: &[String]) -> String {
    let mut value: serde_json::Value =
        serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("fixture is not YAML/JSON: {e}"));
    let (api_version, kind) = handle(name).api_version_kind();
    if let Some(o) = value.as_object_mut() {
        o.entry("apiVersion").or_insert(api_version.into());
        o.entry("kind").or_insert(kind.into());
    }
    zero_null_elements(&mut value);
    let body = kwire::json::object_body(&value).unwrap_or_else(|e| panic!("fixture does not encode as protobuf: {e}"));
    let envelope = kwire::open(&body).expect("envelope");
    render_as(name, envelope.raw, Format::Protobuf, ctx, opt_in)
        .unwrap_or_else(|e| panic!("protobuf does not decode: {e}"))
}

/// A `null` in a list of objects is a zero-valued struct once the API server has decoded it (Go), which
/// protobuf carries as an empty message: what a server would send for such a fixture.
fn zero_null_elements(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Array(items) => {
            for i in items {
                if i.is_null() {
                    *i = serde_json::json!({});
                }
                zero_null_elements(i);
            }
        }
        serde_json::Value::Object(m) => m.values_mut().for_each(zero_null_elements),
        _ => {}
    }
}

/// Checks every case under `tests/fixtures/<name>/`; fails listing each case whose output differs.
pub fn check_resource(name: &str) {
    let dir = fixtures_dir(name);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "json"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no golden cases in {}", dir.display());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).expect("read fixture");
        let (ctx, opt_in) = load_ctx(&case.with_extension("ctx"));
        let got = if case.extension().is_some_and(|x| x == "json") {
            render_json(name, &text, &ctx, &opt_in)
        } else {
            render_yaml(name, &text, &ctx, &opt_in)
        };
        // The same object as the API server would send it in protobuf must render the same text.
        let via_protobuf = render_protobuf(name, &text, &ctx, &opt_in);
        if via_protobuf != got {
            failures.push(format!("--- {} (protobuf)\n{}", case.display(), diff(&got, &via_protobuf)));
        }
        // A resource read as metadata only must render the same from the PartialObjectMetadata the API
        // server then sends: its families may read nothing else.
        if handle(name).metadata_only() {
            let partial = render_partial(name, &text, &ctx, &opt_in);
            if partial != got {
                failures.push(format!("--- {} (metadata only)\n{}", case.display(), diff(&got, &partial)));
            }
        }
        let want_path = case.with_extension("prom");
        if update {
            std::fs::write(&want_path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&want_path).unwrap_or_default();
        if got != want {
            failures.push(format!("--- {}\n{}", want_path.display(), diff(&want, &got)));
        }
    }
    assert!(failures.is_empty(), "golden mismatches:\n{}", failures.join("\n"));
}

fn diff(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out = String::new();
    for l in &w {
        if !g.contains(l) {
            out.push_str(&format!("- {l}\n"));
        }
    }
    for l in &g {
        if !w.contains(l) {
            out.push_str(&format!("+ {l}\n"));
        }
    }
    if out.is_empty() {
        out.push_str("(same lines, different order)\n");
    }
    out
}

/// One row of the project's spec table, `spec/families.tsv` (its columns are described in spec/README.md).
#[derive(Clone, Debug)]
pub struct SpecRow {
    pub name: String,
    pub resource: String,
    pub kind: String,
    /// Alternative label sets; each a list of label names (a trailing `?` marks an optional label).
    pub label_sets: Vec<Vec<String>>,
    /// `STABLE` or `ALPHA`.
    pub stability: String,
    /// Whether the default configuration (default resources, no flags) produces samples.
    pub default_on: bool,
    pub opt_in: bool,
    pub deprecated_since: Option<String>,
    /// The exact text after `# HELP <name> `.
    pub help: String,
}

pub fn spec_rows() -> Vec<SpecRow> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/families.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap_or_else(|| panic!("column {n}"));
    let (c_name, c_res, c_type, c_labels, c_stab) =
        (col("family"), col("resource"), col("type"), col("labels"), col("stability"));
    let (c_default, c_opt_in, c_dep, c_help) = (col("default"), col("opt_in"), col("deprecated_since"), col("help"));
    let yes_no = |v: &str, what: &str| match v {
        "yes" | "on" => true,
        "no" | "off" => false,
        other => panic!("{what}: {other:?} is not yes/no/on/off"),
    };
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), header.len(), "spec row has {} fields: {l}", f.len());
            SpecRow {
                name: f[c_name].to_owned(),
                resource: f[c_res].to_owned(),
                kind: f[c_type].to_owned(),
                label_sets: f[c_labels]
                    .split(" | ")
                    .map(|set| set.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                    .collect(),
                stability: f[c_stab].to_owned(),
                default_on: yes_no(f[c_default], "default"),
                opt_in: yes_no(f[c_opt_in], "opt_in"),
                deprecated_since: (f[c_dep] != "-").then(|| f[c_dep].to_owned()),
                help: f[c_help].to_owned(),
            }
        })
        .collect()
}

/// The resource's table must list exactly the spec's families, in the spec's order, with the spec's
/// TYPE, stability, deprecation, opt-in and exact HELP text.
pub fn check_table(name: &str) {
    let h = handle(name);
    let rows: Vec<SpecRow> = spec_rows().into_iter().filter(|r| r.resource == name).collect();
    assert!(!rows.is_empty(), "resource {name} not in the spec");
    let families: Vec<_> = (0..h.family_count()).map(|i| h.family_info(i)).collect();
    let ours: Vec<&str> = families.iter().map(|f| f.name).collect();
    let theirs: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(ours, theirs, "family list/order of {name} differs from the spec");
    let default_resource = state_metrics::registry::default_resources().any(|d| d == name);
    for (f, r) in families.iter().zip(&rows) {
        assert_eq!(f.kind.type_word(false), r.kind, "TYPE of {}", f.name);
        assert_eq!(f.full_help, r.help, "HELP of {}", f.name);
        let stable = f.stability == state_metrics::family::Stability::Stable;
        assert_eq!(stable, r.stability == "STABLE", "stability of {} (spec {})", f.name, r.stability);
        assert_eq!(f.deprecated_since, r.deprecated_since.as_deref(), "deprecation of {}", f.name);
        assert_eq!(f.opt_in, r.opt_in, "opt-in of {}", f.name);
        // `_labels`/`_annotations` families print samples only once an allowlist names the resource;
        // upstream copies every label of a VolumeAttachment without one.
        let needs_allowlist = (f.name.ends_with("_labels") || f.name.ends_with("_annotations"))
            && f.name != "kube_volumeattachment_labels";
        assert_eq!(default_resource && !f.opt_in && !needs_allowlist, r.default_on, "default on/off of {}", f.name);
    }
}

fn is_dynamic_label(name: &str) -> bool {
    ["label_", "annotation_", "nodeselector_", "metadata_"].iter().any(|p| name.starts_with(p))
}

/// Every sample line in the golden files of `R` carries the spec's labels in the spec's order (dynamic
/// `label_*`-style labels aside; labels marked `?` may be absent).
pub fn check_golden_label_order(name: &str) {
    let rows = spec_rows();
    let dir = fixtures_dir(name);
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures dir").filter_map(Result::ok) {
        let p = entry.path();
        if p.extension().is_none_or(|x| x != "prom") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read golden");
        let samples = match exposition::parse_text(&text) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{}: does not parse: {e}", p.display()));
                continue;
            }
        };
        for s in samples {
            let Some(row) = rows.iter().find(|r| r.name == s.name) else {
                problems.push(format!("{}: family {} not in spec", p.display(), s.name));
                continue;
            };
            let got: Vec<&str> = s.labels.iter().map(|(k, _)| k.as_str()).filter(|k| !is_dynamic_label(k)).collect();
            let fits = row.label_sets.iter().any(|set| {
                let mut it = got.iter().peekable();
                for want in set {
                    let (name, optional) = match want.strip_suffix('?') {
                        Some(n) => (n, true),
                        None => (want.as_str(), false),
                    };
                    if it.peek().is_some_and(|g| **g == name) {
                        it.next();
                    } else if !optional {
                        return false;
                    }
                }
                it.next().is_none()
            });
            if !fits {
                problems.push(format!("{}: {} has labels {:?}, spec {:?}", p.display(), s.name, got, row.label_sets));
            }
        }
    }
    assert!(problems.is_empty(), "label order problems:\n{}", problems.join("\n"));
}
