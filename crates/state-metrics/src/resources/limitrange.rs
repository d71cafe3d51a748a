//! `limitranges`: kube_limitrange_* families.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct LimitRanges;

impl Resource for LimitRanges {
    type Obj = LimitRange;
    const NAME: &'static str = "limitranges";

    fn identity(o: &LimitRange) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("limitrange", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<LimitRange>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<LimitRange>] = &[
    Family { name: "kube_limitrange", help: "Information about limit range.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: limitrange },
    Family { name: "kube_limitrange_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
];

type Constraint = fn(&LimitRangeItem) -> Option<&BTreeMap<String, Quantity>>;

/// Constraint maps in upstream's order; within a map upstream's order is random, here it is by resource.
const CONSTRAINTS: [(&str, Constraint); 5] = [
    ("min", |l| l.min.as_ref()),
    ("max", |l| l.max.as_ref()),
    ("default", |l| l.default.as_ref()),
    ("defaultRequest", |l| l.default_request.as_ref()),
    ("maxLimitRequestRatio", |l| l.max_limit_request_ratio.as_ref()),
];

/// Resource names are written as they are (not sanitised); every value is `MilliValue()/1000`, which
/// saturates beyond the milli range: upstream's limit ranges do not fall back to the plain value.
fn limitrange(o: &LimitRange, _: &Ctx, s: &mut Samples<'_>) {
    for item in o.spec.iter().flat_map(|sp| &sp.limits) {
        for (constraint, get) in CONSTRAINTS {
            for (resource, q) in get(item).into_iter().flatten() {
                if let Some(v) = util::quantity_milli(q) {
                    s.push(&[("resource", resource), ("type", &item.type_), ("constraint", constraint)], v);
                }
            }
        }
    }
}

fn created(o: &LimitRange, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}
