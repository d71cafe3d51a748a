//! `limitranges`: kube_limitrange_* families.

use std::collections::BTreeMap;

use super::common::{created, quantity_milli};
use super::{Identity, Resource};
use crate::family::Stability::Stable;
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Quantity, Str};
use crate::{message, object};

message! {
    /// `LimitRange`: metadata and every limit.
    pub struct LimitRange {
        1 => metadata: ObjectMeta,
        2 => spec: Option<LimitRangeSpec>,
    }
}
object!(LimitRange);

message! {
    pub struct LimitRangeSpec {
        1 => limits: Vec<LimitRangeItem>,
    }
}

message! {
    pub struct LimitRangeItem {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => max: Option<BTreeMap<Str, Quantity>>,
        3 => min: Option<BTreeMap<Str, Quantity>>,
        4 => default: Option<BTreeMap<Str, Quantity>>,
        5 => default_request: Option<BTreeMap<Str, Quantity>>,
        6 => max_limit_request_ratio: Option<BTreeMap<Str, Quantity>>,
    }
}

pub struct LimitRanges;

impl Resource for LimitRanges {
    type Obj = LimitRange;
    type Api = k8s_openapi::api::core::v1::LimitRange;
    const NAME: &'static str = "limitranges";
    const IDENTITY: Identity<LimitRange> = Identity::namespaced("limitrange");

    fn families() -> &'static [Family<LimitRange>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<LimitRange>] = &[
    Family::gauge("kube_limitrange", "Information about limit range.", Stable, limitrange),
    Family::gauge("kube_limitrange_created", "Unix creation timestamp", Stable, created),
];

type Constraint = fn(&LimitRangeItem) -> Option<&BTreeMap<Str, Quantity>>;

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
                if let Some(v) = quantity_milli(q) {
                    s.push(&[("resource", resource), ("type", &item.type_), ("constraint", constraint)], v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry_msg, meta, pb, quantity, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let item = pb(|i| {
            i.string(1, "Container");
            entry_msg(i, 2, "cpu", &quantity("2"));
            entry_msg(i, 3, "memory", &quantity("64Mi"));
            entry_msg(i, 4, "cpu", &quantity("500m"));
            entry_msg(i, 5, "cpu", &quantity("250m"));
            entry_msg(i, 6, "cpu", &quantity("4"));
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &pb(|sp| sp.message(1, &item)));
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"limits": [{{"type": "Container", "max": {{"cpu": "2"}},
                "min": {{"memory": "64Mi"}}, "default": {{"cpu": "500m"}}, "defaultRequest": {{"cpu": "250m"}},
                "maxLimitRequestRatio": {{"cpu": "4"}}}}]}}}}"#
        );
        let o: LimitRange = same(&encoded, &json);
        let item = &o.spec.unwrap().limits[0];
        assert_eq!(item.default_request.as_ref().unwrap()["cpu"], Quantity("250m".into()));
    }
}
