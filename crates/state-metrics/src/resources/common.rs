//! What every resource shares: the families of object metadata, written once for any projection, and
//! the Kubernetes value rules (times, quantities, conditions) the families of several resources apply.

use std::collections::BTreeMap;

use crate::family::{Ctx, KeyAllow, Samples};
use crate::proj::time::GO_ZERO_SECONDS;
use crate::proj::{Object, ObjectMeta, Quantity, Str, Time};

/// `0001-01-01T00:00:00Z` in unix seconds: Go's zero `time.Time`.
pub const GO_ZERO_TIME_UNIX: f64 = GO_ZERO_SECONDS as f64;

/// Unix seconds (sub-second truncated), as upstream's `float64(t.Unix())`.
pub fn unix_seconds(t: &Time) -> f64 {
    t.unix() as f64
}

/// `kube_<res>_created`: creationTimestamp in unix seconds; nothing when unset (or Go's zero time, which
/// a fixture or a hand-made object may carry explicitly).
pub fn created<T: Object>(o: &T, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(t) = o.meta().creation_timestamp.as_ref().filter(|t| t.unix() != GO_ZERO_SECONDS) {
        s.push(&[], unix_seconds(t));
    }
}

/// `kube_<res>_deletion_timestamp`: deletionTimestamp in unix seconds; nothing when unset.
pub fn deletion_timestamp<T: Object>(o: &T, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(t) = &o.meta().deletion_timestamp {
        s.push(&[], unix_seconds(t));
    }
}

/// `kube_<res>_metadata_resource_version`: the resourceVersion as a number; nothing if it is not one.
pub fn resource_version<T: Object>(o: &T, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = o.meta().resource_version.as_deref().and_then(|v| v.parse::<f64>().ok()) {
        s.push(&[], v);
    }
}

/// `kube_<res>_labels`: one sample of value 1 with the allowed labels; nothing when the allowlist has no
/// entry for the resource.
pub fn labels<T: Object>(o: &T, ctx: &Ctx, s: &mut Samples<'_>) {
    map_family("label", o.meta().labels.as_ref(), &ctx.labels, s)
}

/// `kube_<res>_annotations`: like [`labels`] for annotations.
pub fn annotations<T: Object>(o: &T, ctx: &Ctx, s: &mut Samples<'_>) {
    map_family("annotation", o.meta().annotations.as_ref(), &ctx.annotations, s)
}

/// The `label_*` / `annotation_*` label set for the keys of `map` that `allow` selects: keys sorted by
/// their original spelling, names sanitised, collisions suffixed `_conflictN`.
pub fn kube_map_labels(prefix: &str, map: Option<&BTreeMap<Str, Str>>, allow: &KeyAllow) -> Vec<(String, String)> {
    let selected = allow.select(map);
    let keys: Vec<&str> = selected.iter().map(|(k, _)| *k).collect();
    let names = exposition::kube_label_names(prefix, &keys);
    names.into_iter().zip(selected).map(|(n, (_, v))| (n, v.to_owned())).collect()
}

fn map_family(prefix: &str, map: Option<&BTreeMap<Str, Str>>, allow: &KeyAllow, s: &mut Samples<'_>) {
    if allow.is_nothing() {
        return;
    }
    s.push_owned(&kube_map_labels(prefix, map, allow), 1.0);
}

/// A family whose one sample is 1 with no labels of its own (`kube_<res>_info` of most resources).
pub fn one<T>(_: &T, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0)
}

/// `kube_<res>_owner` with `owner_is_controller`: one sample (value 1) per ownerReference ("false" for an
/// unset controller field); an object without owners gets one sample with all these labels empty.
pub fn owner<T: Object>(o: &T, _: &Ctx, s: &mut Samples<'_>) {
    owner_refs(o.meta(), true, s)
}

/// `kube_<res>_owner` without `owner_is_controller`.
pub fn owner_without_controller<T: Object>(o: &T, _: &Ctx, s: &mut Samples<'_>) {
    owner_refs(o.meta(), false, s)
}

fn owner_refs(meta: &ObjectMeta, with_controller: bool, s: &mut Samples<'_>) {
    let owners = meta.owner_references.as_deref().unwrap_or_default();
    if owners.is_empty() {
        let empty: &[(&str, &str)] = &[("owner_kind", ""), ("owner_name", ""), ("owner_is_controller", "")];
        s.push(if with_controller { empty } else { &empty[..2] }, 1.0);
        return;
    }
    for o in owners {
        let controller = if o.controller.unwrap_or(false) { "true" } else { "false" };
        let labels =
            [("owner_kind", o.kind.as_str()), ("owner_name", o.name.as_str()), ("owner_is_controller", controller)];
        s.push(if with_controller { &labels } else { &labels[..2] }, 1.0);
    }
}

/// `Value()` above which upstream stops using `MilliValue()`: the largest count whose thousandths
/// still fit an int64 (apimachinery's `MaxMilliValue`).
const MAX_MILLI_VALUE: i64 = i64::MAX / 1000;

/// Quantity in cores with milli precision, as upstream's `convertValueToFloat64`: `MilliValue()/1000`,
/// or the plain `Value()` once the thousandths would overflow.
pub fn quantity_cores(q: &Quantity) -> Option<f64> {
    let parsed = quantity::Quantity::parse(&q.0).ok()?;
    let value = parsed.value();
    if value > MAX_MILLI_VALUE { Some(value as f64) } else { Some(parsed.milli_value() as f64 / 1000.0) }
}

/// `MilliValue()/1000` without the fallback, saturating at the int64 limits.
pub fn quantity_milli(q: &Quantity) -> Option<f64> {
    Some(quantity::Quantity::parse(&q.0).ok()?.milli_value() as f64 / 1000.0)
}

/// Quantity as an integer count such as bytes (`Value()`).
pub fn quantity_count(q: &Quantity) -> Option<f64> {
    Some(quantity::Quantity::parse(&q.0).ok()?.value() as f64)
}

/// A quantity as kube-state-metrics reports it: CPU-like in cores, everything else as a count.
pub fn quantity_value(resource_name: &str, q: &Quantity) -> Option<f64> {
    if resource_name == "cpu" { quantity_cores(q) } else { quantity_count(q) }
}

/// `kube_<res>_metadata_generation`: metadata.generation, 0 when unset (Go's zero value).
pub fn generation<T: Object>(o: &T, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], o.meta().generation.unwrap_or(0) as f64);
}

/// The three 0/1 values of a condition status, in upstream's order true, false, unknown. Upstream
/// compares with the exact constants `True`, `False` and `Unknown`: any other spelling (`true`, `""`,
/// `yes`) sets none of the three.
pub fn condition_values(status: &str) -> [(&'static str, f64); 3] {
    [
        ("true", bool_f64(status == "True")),
        ("false", bool_f64(status == "False")),
        ("unknown", bool_f64(status == "Unknown")),
    ]
}

/// 1.0 for true, 0.0 for false.
pub fn bool_f64(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A Kubernetes resource name as a label value (`nvidia.com/gpu` -> `nvidia_com_gpu`): every character
/// outside `[a-zA-Z0-9_]` becomes `_`, case kept. Used for the `resource` label of container
/// requests/limits and node capacity, which upstream sanitises without snake-casing.
pub fn sanitize_resource_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// `"true"`/`"false"` for a set boolean, `""` when unset (Go's `strconv.FormatBool` behind a nil check).
pub fn opt_bool_str(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    }
}
