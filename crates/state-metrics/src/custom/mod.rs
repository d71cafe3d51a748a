//! Custom Resource State metrics (`--custom-resource-state-config`): a YAML document describing
//! which fields of custom objects become gauge, stateset and info families.
//!
//! This module is pure: [`load`] parses the document, [`compile`] validates it into
//! [`CompiledResource`]s, [`CompiledResource::resolve`] picks the concrete group/version/kind/plural
//! from CustomResourceDefinition objects, and [`CompiledResource::render`] turns one object
//! (`serde_json::Value`) into pre-rendered exposition text, one slice per family.
//!
//! Gauge values: booleans 1/0; numbers as they are; strings `true`/`yes` → 1 and
//! `false`/`no`/`unknown` → 0 (any case), RFC 3339 timestamps → Unix seconds, Kubernetes
//! quantities (`250m`, `1G`, `1Gi`), integer percentages `NN%` → NN/100 (`1.5%` is refused, as
//! upstream), then plain float text; anything else skips the
//! sample and logs at the configured `errorLogV`. A nil value is 0 with `nilIsZero`, else skipped.

mod compile;
mod config;
mod md5;
pub mod path;
pub mod runtime;
mod telemetry;
mod value;
mod watch;

pub use compile::{CompiledResource, FamilyInfo, Gvkp, compile, default_plural};
pub use config::Gauge as GaugeConfig;
pub use config::{Config, Each, GroupVersionKind, Info, Metric, PathSegment, Resource, Spec, StateSet, load};
pub use value::{go_print, to_f64};

use serde_json::Value;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The document is not YAML of the expected shape; the message carries serde-saphyr's location.
    #[error("custom resource state config: {0}")]
    Yaml(String),
    /// A field has an unusable value; `at` names it (`spec.resources[0] (g/v K).metrics[1] "x".each.type`).
    #[error("custom resource state config: {at}: {msg}")]
    Invalid { at: String, msg: String },
}

/// Loads and compiles in one step.
pub fn load_and_compile(yaml: &str) -> Result<Vec<CompiledResource>, ConfigError> {
    compile(&load(yaml)?)
}

impl CompiledResource {
    /// The concrete (group, version, kind, plural) this resource selects among `crds`
    /// (CustomResourceDefinition objects as JSON): same group, matching kind (or any with `*`),
    /// every served version matching the configured one (or all served with `*`). The plural always
    /// comes from the CRD. A resource whose CRD is absent selects nothing. Sorted, without duplicates.
    pub fn resolve(&self, crds: &[Value]) -> Vec<Gvkp> {
        let want = self.gvk();
        let mut out = Vec::new();
        for crd in crds {
            let spec = &crd["spec"];
            if spec["group"].as_str() != Some(want.group.as_str()) {
                continue;
            }
            let (Some(kind), Some(plural)) = (spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str()) else {
                continue;
            };
            if want.kind != "*" && want.kind != kind {
                continue;
            }
            for v in spec["versions"].as_array().into_iter().flatten() {
                let Some(name) = v["name"].as_str() else { continue };
                if v["served"].as_bool() != Some(true) || (want.version != "*" && want.version != name) {
                    continue;
                }
                out.push(Gvkp {
                    group: want.group.clone(),
                    version: name.to_owned(),
                    kind: kind.to_owned(),
                    plural: plural.to_owned(),
                });
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Every configured resource bound to each concrete GVK it selects among `crds` (what the engine
/// builds one writer per).
pub fn resolve_all(resources: &[CompiledResource], crds: &[Value]) -> Vec<CompiledResource> {
    resources.iter().flat_map(|r| r.resolve(crds).into_iter().map(move |g| r.with_gvk(g))).collect()
}
