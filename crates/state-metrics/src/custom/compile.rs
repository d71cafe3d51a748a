//! Validated, compiled form of one `spec.resources[]` entry, and rendering of an object through it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ConfigError;
use super::config::{Config, Each, Metric, Resource};
use super::path::{LabelPaths, Path, config_label_name, set, set_default, strings};
use super::value::to_f64;
use crate::family::{MetricType, Rendered, Samples};

/// Group, version, kind and plural of a custom resource; version/kind may be `*` before resolution.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvkp {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
}

/// Name, help and type of one custom-resource family, for headers and allow/deny filtering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyInfo {
    pub name: String,
    /// The HELP text as written (custom-resource families never get a `[STABLE] ` prefix).
    pub help: String,
    pub kind: MetricType,
}

#[derive(Clone, Debug)]
enum EachKind {
    Gauge { path: Path, labels: LabelPaths, label_from_key: String, value_from: Path, nil_is_zero: bool },
    StateSet { path: Path, labels: LabelPaths, label_name: String, value_from: Path, list: Vec<String> },
    Info { path: Path, labels: LabelPaths, label_from_key: String },
}

#[derive(Clone, Debug)]
struct CompiledMetric {
    family: FamilyInfo,
    common_labels: BTreeMap<String, String>,
    labels: LabelPaths,
    each: EachKind,
    error_log_v: i32,
}

/// One configured custom resource, ready to render objects.
#[derive(Clone, Debug)]
pub struct CompiledResource {
    gvk: Gvkp,
    metrics: Vec<CompiledMetric>,
}

/// Validates and compiles every resource of `cfg`.
pub fn compile(cfg: &Config) -> Result<Vec<CompiledResource>, ConfigError> {
    cfg.spec.resources.iter().enumerate().map(|(i, r)| compile_resource(i, r)).collect()
}

fn invalid(at: String, msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { at, msg: msg.into() }
}

fn compile_resource(index: usize, r: &Resource) -> Result<CompiledResource, ConfigError> {
    let g = &r.group_version_kind;
    let at = format!("spec.resources[{index}]");
    for (field, v) in [("group", &g.group), ("version", &g.version), ("kind", &g.kind)] {
        if v.is_empty() {
            return Err(invalid(format!("{at}.groupVersionKind.{field}"), "is required"));
        }
    }
    if g.group == "*" {
        return Err(invalid(
            format!("{at}.groupVersionKind.group"),
            "must name one API group (only version and kind may be \"*\")",
        ));
    }
    let at = format!("{at} ({}/{} {})", g.group, g.version, g.kind);
    let plural = match &r.resource_plural {
        Some(p) if !p.is_empty() => p.clone(),
        _ => default_plural(&g.kind),
    };
    let prefix = r.metric_name_prefix.as_deref().unwrap_or("kube_customresource");
    let res_labels = r.labels_from_path.clone();
    // Checked once here so a bad resource-level path is reported where it is written.
    LabelPaths::compile(&res_labels).map_err(|(label, e)| invalid(format!("{at}.labelsFromPath.{label}"), e))?;
    let mut metrics = Vec::with_capacity(r.metrics.len());
    for (mi, m) in r.metrics.iter().enumerate() {
        let mat =
            if m.name.is_empty() { format!("{at}.metrics[{mi}]") } else { format!("{at}.metrics[{mi}] {:?}", m.name) };
        metrics.push(compile_metric(&mat, prefix, r, &res_labels, m)?);
    }
    Ok(CompiledResource {
        gvk: Gvkp { group: g.group.clone(), version: g.version.clone(), kind: g.kind.clone(), plural },
        metrics,
    })
}

fn compile_metric(
    at: &str,
    prefix: &str,
    r: &Resource,
    res_labels: &BTreeMap<String, Vec<super::config::PathSegment>>,
    m: &Metric,
) -> Result<CompiledMetric, ConfigError> {
    if m.name.is_empty() {
        return Err(invalid(format!("{at}.name"), "is required"));
    }
    let name = if prefix.is_empty() { m.name.clone() } else { format!("{prefix}_{}", m.name) };
    if !valid_metric_name(&name) {
        return Err(invalid(format!("{at}.name"), format!("{name:?} is not a valid metric name")));
    }
    let mut common_labels = r.common_labels.clone();
    common_labels.extend(m.common_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    for k in common_labels.keys() {
        config_label_name(k).map_err(|e| invalid(format!("{at}.commonLabels.{k}"), e))?;
    }
    let mut label_map = res_labels.clone();
    label_map.extend(m.labels_from_path.iter().map(|(k, v)| (k.clone(), v.clone())));
    let labels =
        LabelPaths::compile(&label_map).map_err(|(label, e)| invalid(format!("{at}.labelsFromPath.{label}"), e))?;
    let Some(each) = &m.each else {
        return Err(invalid(format!("{at}.each"), "is required"));
    };
    let (kind, each) = compile_each(at, each)?;
    if kind == MetricType::Info && !name.ends_with("_info") {
        tracing::info!(family = %name, "custom resource Info family name does not end in _info");
    }
    let error_log_v = if m.error_log_v != 0 { m.error_log_v } else { r.error_log_v };
    Ok(CompiledMetric {
        family: FamilyInfo { name, help: m.help.clone(), kind },
        common_labels,
        labels,
        each,
        error_log_v,
    })
}

fn compile_each(at: &str, each: &Each) -> Result<(MetricType, EachKind), ConfigError> {
    let path = |field: &str, segs: &[super::config::PathSegment]| {
        Path::compile(&strings(segs)).map_err(|e| invalid(format!("{at}.each.{field}"), e))
    };
    let labels = |field: &str, map| {
        LabelPaths::compile(map).map_err(|(label, e)| invalid(format!("{at}.each.{field}.labelsFromPath.{label}"), e))
    };
    // `labelFromKey` empty means no such label.
    let key_label = |field: &str, raw: &str| -> Result<String, ConfigError> {
        if raw.is_empty() {
            return Ok(String::new());
        }
        config_label_name(raw).map_err(|e| invalid(format!("{at}.each.{field}.labelFromKey"), e))
    };
    match each.kind.to_lowercase().as_str() {
        "gauge" => {
            let Some(g) = &each.gauge else {
                return Err(invalid(format!("{at}.each.gauge"), "is required for type Gauge"));
            };
            let value_from = path("gauge.valueFrom", &g.value_from)?;
            Ok((
                MetricType::Gauge,
                EachKind::Gauge {
                    path: path("gauge.path", &g.path)?,
                    labels: labels("gauge", &g.labels_from_path)?,
                    label_from_key: key_label("gauge", &g.label_from_key)?,
                    value_from,
                    nil_is_zero: g.nil_is_zero,
                },
            ))
        }
        "stateset" => {
            let Some(s) = &each.state_set else {
                return Err(invalid(format!("{at}.each.stateSet"), "is required for type StateSet"));
            };
            if s.label_name.is_empty() {
                return Err(invalid(format!("{at}.each.stateSet.labelName"), "is required"));
            }
            Ok((
                MetricType::StateSet,
                EachKind::StateSet {
                    path: path("stateSet.path", &s.path)?,
                    labels: labels("stateSet", &s.labels_from_path)?,
                    label_name: config_label_name(&s.label_name)
                        .map_err(|e| invalid(format!("{at}.each.stateSet.labelName"), e))?,
                    value_from: path("stateSet.valueFrom", &s.value_from)?,
                    list: s.list.clone(),
                },
            ))
        }
        "info" => {
            let Some(i) = &each.info else {
                return Err(invalid(format!("{at}.each.info"), "is required for type Info"));
            };
            Ok((
                MetricType::Info,
                EachKind::Info {
                    path: path("info.path", &i.path)?,
                    labels: labels("info", &i.labels_from_path)?,
                    label_from_key: key_label("info", &i.label_from_key)?,
                },
            ))
        }
        "" => Err(invalid(format!("{at}.each.type"), "is required (Gauge, StateSet or Info)")),
        _ => Err(invalid(
            format!("{at}.each.type"),
            format!("unknown type {:?}, expected Gauge, StateSet or Info", each.kind),
        )),
    }
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Lower-cased English plural of a kind; discovery replaces it with the CRD's real plural.
pub fn default_plural(kind: &str) -> String {
    let k = kind.to_lowercase();
    let consonant_y =
        k.len() > 1 && k.ends_with('y') && !matches!(k.as_bytes()[k.len() - 2], b'a' | b'e' | b'i' | b'o' | b'u');
    if consonant_y {
        format!("{}ies", &k[..k.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"].iter().any(|s| k.ends_with(s)) {
        format!("{k}es")
    } else {
        format!("{k}s")
    }
}

/// One sample before rendering.
struct Sample {
    labels: Vec<(String, String)>,
    value: f64,
}

impl CompiledResource {
    /// As configured (version/kind may still be `*`); plural is the configured or default one.
    pub fn gvk(&self) -> &Gvkp {
        &self.gvk
    }

    pub fn plural(&self) -> &str {
        &self.gvk.plural
    }

    /// True when version or kind is `*` and [`CompiledResource::resolve`] must pick concrete ones.
    pub fn is_wildcard(&self) -> bool {
        self.gvk.version == "*" || self.gvk.kind == "*"
    }

    /// The writer name upstream uses for this resource (`/metrics?resources=` and header order):
    /// `<group>/<version>, Resource=<plural>`.
    pub fn resource_name(&self) -> String {
        format!("{}/{}, Resource={}", self.gvk.group, self.gvk.version, self.gvk.plural)
    }

    /// `# HELP`/`# TYPE` lines of family `i` (no `[STABLE] ` prefix for custom resources); nothing
    /// when `i` is out of range.
    pub fn write_header(&self, i: usize, out: &mut Vec<u8>, openmetrics: bool) {
        if let Some(m) = self.metrics.get(i) {
            crate::family::write_header(out, &m.family.name, &m.family.help, m.family.kind, openmetrics);
        }
    }

    /// Families in render order.
    pub fn families(&self) -> Vec<FamilyInfo> {
        self.metrics.iter().map(|m| m.family.clone()).collect()
    }

    /// Family names in render order (what allow/deny lists match against).
    pub fn family_names(&self) -> Vec<&str> {
        self.metrics.iter().map(|m| m.family.name.as_str()).collect()
    }

    /// A copy bound to one concrete group/version/kind/plural (from [`CompiledResource::resolve`]);
    /// the reserved `customresource_*` labels then carry the concrete values.
    pub fn with_gvk(&self, gvk: Gvkp) -> CompiledResource {
        CompiledResource { gvk, metrics: self.metrics.clone() }
    }

    /// Every family's samples for `obj`, one slice per family in [`CompiledResource::families`] order.
    pub fn render(&self, obj: &Value) -> Rendered {
        let all: Vec<usize> = (0..self.metrics.len()).collect();
        self.render_enabled(obj, &all)
    }

    /// Like [`CompiledResource::render`] for the families at `enabled` (indexes into `families()`),
    /// in that order; out-of-range indexes are skipped.
    pub fn render_enabled(&self, obj: &Value, enabled: &[usize]) -> Rendered {
        let mut r = Rendered::default();
        for &i in enabled {
            let Some(m) = self.metrics.get(i) else { continue };
            let mut samples = self.samples(m, obj);
            for s in &mut samples {
                s.labels.sort();
            }
            samples.sort_by(|a, b| a.labels.cmp(&b.labels));
            let mut out = Samples::new(&mut r.buf, &m.family.name, &[]);
            for s in &samples {
                out.push_owned(&s.labels, s.value);
            }
            r.end_family();
        }
        r
    }

    fn samples(&self, m: &CompiledMetric, obj: &Value) -> Vec<Sample> {
        let mut values = Vec::new();
        let mut errors = Vec::new();
        match &m.each {
            EachKind::Gauge { path, labels, label_from_key, value_from, nil_is_zero } => {
                gauge_values(path, labels, label_from_key, value_from, *nil_is_zero, obj, &mut values, &mut errors)
            }
            EachKind::StateSet { path, labels, label_name, value_from, list } => {
                stateset_values(path, labels, label_name, value_from, list, obj, &mut values, &mut errors)
            }
            EachKind::Info { path, labels, label_from_key } => {
                info_values(path, labels, label_from_key, obj, &mut values)
            }
        }
        for e in &errors {
            log_error(m.error_log_v, &m.family.name, &self.gvk, obj, e);
        }
        if values.is_empty() {
            return values;
        }
        // Labels of outer levels only fill names the `each` level left unset.
        let mut base = Vec::new();
        for (k, v) in &m.common_labels {
            set(&mut base, exposition::sanitize_name(k), v.clone());
        }
        m.labels.apply(obj, &mut base);
        for s in &mut values {
            for (k, v) in &base {
                set_default(&mut s.labels, k, v);
            }
            set(&mut s.labels, "customresource_group".to_owned(), self.gvk.group.clone());
            set(&mut s.labels, "customresource_version".to_owned(), self.gvk.version.clone());
            set(&mut s.labels, "customresource_kind".to_owned(), self.gvk.kind.clone());
        }
        values
    }
}

/// Upstream logs path/value errors with `klog.V(errorLogV)`; mapped onto the same tracing levels
/// as `-v` (0-1 visible by default, 2-4 debug, 5+ trace).
fn log_error(level: i32, family: &str, gvk: &Gvkp, obj: &Value, err: &str) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let gvk = format!("{}/{} {}", gvk.group, gvk.version, gvk.kind);
    match level {
        i32::MIN..=1 => tracing::warn!(family, %gvk, namespace = ns, name, "custom resource metric skipped: {err}"),
        2..=4 => tracing::debug!(family, %gvk, namespace = ns, name, "custom resource metric skipped: {err}"),
        _ => tracing::trace!(family, %gvk, namespace = ns, name, "custom resource metric skipped: {err}"),
    }
}

fn each_labels(labels: &LabelPaths, v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    labels.apply(v, &mut out);
    out
}

fn resolve<'v>(value_from: &Path, v: &'v Value) -> Option<&'v Value> {
    if value_from.is_empty() { Some(v) } else { value_from.get(v) }
}

/// Whether a map at `path` is itself the element `valueFrom` reads (`path: [status]`,
/// `valueFrom: [readyReplicas]`) rather than a collection of elements (one sample per entry).
/// Entries that are scalars can never satisfy a `valueFrom`, so a map of scalars with a `valueFrom`
/// is the element too, even when the field is absent (that is what `nilIsZero` is for).
fn map_is_one_element(m: &serde_json::Map<String, Value>, value_from: &Path) -> bool {
    if value_from.is_empty() {
        return false;
    }
    value_from.first_key().is_some_and(|k| m.contains_key(k)) || !m.values().any(|v| v.is_object() || v.is_array())
}

#[allow(clippy::too_many_arguments)]
fn gauge_values(
    path: &Path,
    labels: &LabelPaths,
    label_from_key: &str,
    value_from: &Path,
    nil_is_zero: bool,
    obj: &Value,
    values: &mut Vec<Sample>,
    errors: &mut Vec<String>,
) {
    let at = path.get(obj);
    let mut one = |v: Option<&Value>, key: Option<&str>, label_src: Option<&Value>, errors: &mut Vec<String>| {
        let value = match v {
            Some(v) => resolve(value_from, v),
            None => None,
        };
        match to_f64(value, nil_is_zero) {
            Ok(f) => {
                let mut l = label_src.map(|s| each_labels(labels, s)).unwrap_or_default();
                if let (Some(key), false) = (key, label_from_key.is_empty()) {
                    set(&mut l, label_from_key.to_owned(), key.to_owned());
                }
                values.push(Sample { labels: l, value: f });
            }
            Err(e) => match key {
                Some(k) => errors.push(format!("{}: [{k}]: {e}", path.display())),
                None => errors.push(format!("{}: {e}", path.display())),
            },
        }
    };
    match at {
        Some(Value::Object(m)) if !map_is_one_element(m, value_from) => {
            for (k, v) in m {
                one(Some(v), Some(k), Some(v), errors);
            }
        }
        Some(Value::Array(a)) => {
            for v in a {
                one(Some(v), None, Some(v), errors);
            }
        }
        other => one(other, None, other, errors),
    }
}

#[allow(clippy::too_many_arguments)]
fn stateset_values(
    path: &Path,
    labels: &LabelPaths,
    label_name: &str,
    value_from: &Path,
    list: &[String],
    obj: &Value,
    values: &mut Vec<Sample>,
    errors: &mut Vec<String>,
) {
    let Some(at) = path.get(obj) else { return };
    let elements: Vec<&Value> = match at {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    for el in elements {
        let Some(v) = resolve(value_from, el) else { continue };
        let Value::String(current) = v else {
            errors.push(format!(
                "{}: expected value to be a string but was {}",
                path.display(),
                super::value::go_print(v)
            ));
            continue;
        };
        let l = each_labels(labels, el);
        for entry in list {
            let mut labels = l.clone();
            set(&mut labels, label_name.to_owned(), entry.clone());
            values.push(Sample { labels, value: if entry == current { 1.0 } else { 0.0 } });
        }
    }
}

fn info_values(path: &Path, labels: &LabelPaths, label_from_key: &str, obj: &Value, values: &mut Vec<Sample>) {
    let Some(at) = path.get(obj) else { return };
    let own = |v: &Value, values: &mut Vec<Sample>| {
        let l = each_labels(labels, v);
        if !l.is_empty() {
            values.push(Sample { labels: l, value: 1.0 });
        }
    };
    match at {
        Value::Array(a) => {
            for el in a {
                own(el, values);
            }
        }
        Value::Object(m) => {
            if !label_from_key.is_empty() {
                for k in m.keys() {
                    if !k.is_empty() {
                        values.push(Sample { labels: vec![(label_from_key.to_owned(), k.clone())], value: 1.0 });
                    }
                }
            }
            own(at, values);
        }
        v => own(v, values),
    }
}
