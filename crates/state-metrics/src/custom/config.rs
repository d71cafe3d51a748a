//! The `CustomResourceStateMetrics` document as written by users (`--custom-resource-state-config`).
//! Field names follow upstream's YAML keys; validation happens in `compile`, so this layer only has
//! to reject YAML that does not fit the shape at all.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Config {
    /// Conventionally `CustomResourceStateMetrics`; upstream does not check it and neither do we.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub spec: Spec,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Spec {
    #[serde(default)]
    pub resources: Vec<Resource>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    #[serde(default)]
    pub group_version_kind: GroupVersionKind,
    #[serde(default)]
    pub resource_plural: Option<String>,
    /// `None` (absent or null) means `kube_customresource`; `Some("")` means no prefix at all.
    #[serde(default)]
    pub metric_name_prefix: Option<String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub labels_from_path: BTreeMap<String, Vec<PathSegment>>,
    #[serde(default, rename = "errorLogV")]
    pub error_log_v: i32,
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub labels_from_path: BTreeMap<String, Vec<PathSegment>>,
    #[serde(default, rename = "errorLogV")]
    pub error_log_v: i32,
    #[serde(default)]
    pub each: Option<Each>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Each {
    /// `Gauge`, `StateSet` or `Info`, any case.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub gauge: Option<Gauge>,
    #[serde(default)]
    pub state_set: Option<StateSet>,
    #[serde(default)]
    pub info: Option<Info>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Gauge {
    #[serde(default)]
    pub path: Vec<PathSegment>,
    #[serde(default)]
    pub labels_from_path: BTreeMap<String, Vec<PathSegment>>,
    #[serde(default)]
    pub label_from_key: String,
    #[serde(default)]
    pub value_from: Vec<PathSegment>,
    #[serde(default)]
    pub nil_is_zero: bool,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StateSet {
    #[serde(default)]
    pub path: Vec<PathSegment>,
    #[serde(default)]
    pub labels_from_path: BTreeMap<String, Vec<PathSegment>>,
    #[serde(default)]
    pub label_name: String,
    #[serde(default)]
    pub value_from: Vec<PathSegment>,
    #[serde(default)]
    pub list: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    #[serde(default)]
    pub path: Vec<PathSegment>,
    #[serde(default)]
    pub labels_from_path: BTreeMap<String, Vec<PathSegment>>,
    #[serde(default)]
    pub label_from_key: String,
}

/// One element of a `path`: YAML users write array indexes both as `0` and `"0"`, so integers are
/// accepted and kept as their decimal text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathSegment(pub String);

impl<'de> Deserialize<'de> for PathSegment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PathSegment;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a path segment (string or integer)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PathSegment, E> {
                Ok(PathSegment(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PathSegment, E> {
                Ok(PathSegment(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PathSegment, E> {
                Ok(PathSegment(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<PathSegment, E> {
                Ok(PathSegment(v.to_string()))
            }
        }
        // Asking for a string keeps YAML 1.1 words such as `n`, `on` or `yes` as written (they are
        // plausible field names); `deserialize_any` would turn them into booleans.
        d.deserialize_string(V)
    }
}

/// Parses one YAML document. Shape errors carry serde-saphyr's location (line and column).
pub fn load(yaml: &str) -> Result<Config, ConfigError> {
    serde_saphyr::from_str::<Option<Config>>(yaml)
        .map(Option::unwrap_or_default)
        .map_err(|e| ConfigError::Yaml(e.to_string()))
}
