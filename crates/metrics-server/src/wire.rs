//! The objects this server answers with, each writable as JSON (serde, fields in the Go structs'
//! order) and as protobuf (field numbers of the Go types' `generated.proto`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::Serializer;

use crate::format::{bytes_binary, cpu_nanocores, go_duration, rfc3339};
use crate::proto::{Proto, Writer};
use crate::storage::{Nanos, Usage};

pub const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";

/// `metav1.Time`: whole seconds; `None` is Go's zero time (`null` in JSON, an empty message in protobuf).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub Option<Nanos>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(t) => s.serialize_str(&rfc3339(t)),
            None => s.serialize_none(),
        }
    }
}

impl Time {
    fn encode(&self, w: &mut Writer) {
        if let Some(t) = self.0 {
            // Only seconds go on the wire; nanos is written as zero.
            w.int(1, t.div_euclid(1_000_000_000));
            w.int(2, 0);
        }
    }
}

/// `metav1.Duration`: Go's duration string in JSON, nanoseconds in protobuf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration(pub Nanos);

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&go_duration(self.0))
    }
}

/// The ObjectMeta fields metrics objects carry.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectMeta<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    #[serde(rename = "creationTimestamp")]
    pub creation_timestamp: Time,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: &'a BTreeMap<String, String>,
}

impl ObjectMeta<'_> {
    fn encode(&self, w: &mut Writer) {
        w.string(1, self.name);
        w.string(2, "");
        w.string(3, self.namespace.unwrap_or(""));
        w.string(4, "");
        w.string(5, "");
        w.string(6, "");
        w.int(7, 0);
        w.message(8, |w| self.creation_timestamp.encode(w));
        w.string_map(11, self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
}

fn encode_list_meta(w: &mut Writer) {
    w.message(1, |w| {
        w.string(1, "");
        w.string(2, "");
        w.string(3, "");
    });
}

/// `usage`: exactly cpu and memory, which is also their key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceList {
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
}

impl From<&Usage> for ResourceList {
    fn from(u: &Usage) -> Self {
        ResourceList { cpu_nanocores: u.cpu_nanocores, memory_bytes: u.memory_bytes }
    }
}

impl Serialize for ResourceList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("cpu", &cpu_nanocores(self.cpu_nanocores))?;
        m.serialize_entry("memory", &bytes_binary(self.memory_bytes))?;
        m.end()
    }
}

impl ResourceList {
    fn encode(&self, w: &mut Writer, field: u32) {
        for (k, v) in [("cpu", cpu_nanocores(self.cpu_nanocores)), ("memory", bytes_binary(self.memory_bytes))] {
            w.message(field, |w| {
                w.string(1, k);
                // resource.Quantity is a message whose one field is the canonical string.
                w.message(2, |w| w.string(1, &v));
            });
        }
    }
}

/// kind and apiVersion of a metrics object: written when it is the answer (or a Table row's full
/// object), absent on list items, as Go's encoder does.
pub fn type_meta(kind: &'static str, top: bool) -> (Option<&'static str>, Option<&'static str>) {
    if top { (Some(kind), Some(GROUP_VERSION)) } else { (None, None) }
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeMetrics<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub api_version: Option<&'static str>,
    pub metadata: ObjectMeta<'a>,
    pub timestamp: Time,
    pub window: Duration,
    pub usage: ResourceList,
}

impl Proto for NodeMetrics<'_> {
    fn type_meta(&self) -> (&str, &'static str) {
        (GROUP_VERSION, "NodeMetrics")
    }

    fn encode(&self, w: &mut Writer) {
        w.message(1, |w| self.metadata.encode(w));
        w.message(2, |w| self.timestamp.encode(w));
        w.message(3, |w| w.int(1, self.window.0));
        self.usage.encode(w, 4);
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ContainerMetrics {
    #[serde(serialize_with = "shared_str")]
    pub name: crate::storage::Name,
    pub usage: ResourceList,
}

fn shared_str<S: Serializer>(v: &crate::storage::Name, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

#[derive(Clone, Debug, Serialize)]
pub struct PodMetrics<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub api_version: Option<&'static str>,
    pub metadata: ObjectMeta<'a>,
    pub timestamp: Time,
    pub window: Duration,
    pub containers: Vec<ContainerMetrics>,
}

impl Proto for PodMetrics<'_> {
    fn type_meta(&self) -> (&str, &'static str) {
        (GROUP_VERSION, "PodMetrics")
    }

    fn encode(&self, w: &mut Writer) {
        w.message(1, |w| self.metadata.encode(w));
        w.message(2, |w| self.timestamp.encode(w));
        w.message(3, |w| w.int(1, self.window.0));
        for c in &self.containers {
            w.message(4, |w| {
                w.string(1, &c.name);
                c.usage.encode(w, 2);
            });
        }
    }
}

/// An empty `metadata: {}` (ListMeta with nothing set).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Empty {}

/// A typed list: NodeMetricsList, PodMetricsList, PartialObjectMetadataList.
#[derive(Clone, Debug, Serialize)]
pub struct List<T> {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub metadata: Empty,
    pub items: Vec<T>,
}

impl<T: Proto> Proto for List<T> {
    fn type_meta(&self) -> (&str, &'static str) {
        (self.api_version, self.kind)
    }

    fn encode(&self, w: &mut Writer) {
        encode_list_meta(w);
        for item in &self.items {
            w.message(2, |w| item.encode(w));
        }
    }

    fn size_hint(&self) -> usize {
        // A pod with two containers encodes to about 200 bytes.
        64 + 220 * self.items.len()
    }
}

/// Metadata only: what `as=PartialObjectMetadata[List]` and Table rows carry.
#[derive(Clone, Debug, Serialize)]
pub struct PartialObjectMetadata<'a> {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub metadata: ObjectMeta<'a>,
}

impl<'a> PartialObjectMetadata<'a> {
    pub fn new(api_version: &'static str, metadata: ObjectMeta<'a>) -> Self {
        PartialObjectMetadata { kind: "PartialObjectMetadata", api_version, metadata }
    }
}

impl Proto for PartialObjectMetadata<'_> {
    fn type_meta(&self) -> (&str, &'static str) {
        (self.api_version, "PartialObjectMetadata")
    }

    fn encode(&self, w: &mut Writer) {
        w.message(1, |w| self.metadata.encode(w));
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    pub priority: i32,
}

/// What a Table row carries besides its cells (`?includeObject=`).
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum RowObject<'a> {
    Partial(PartialObjectMetadata<'a>),
    Node(NodeMetrics<'a>),
    Pod(PodMetrics<'a>),
}

#[derive(Clone, Debug, Serialize)]
pub struct Row<'a> {
    pub cells: Vec<String>,
    pub object: Option<RowObject<'a>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Table<'a> {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub metadata: Empty,
    #[serde(rename = "columnDefinitions")]
    pub columns: Option<Vec<Column>>,
    pub rows: Option<Vec<Row<'a>>>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct StatusDetails {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// A `metav1.Status` failure.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Status {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub metadata: Empty,
    pub status: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<StatusDetails>>,
    pub code: u16,
}

impl Status {
    /// `details` as (name, group, kind); `Some(("", "", ""))` is written as `details: {}`.
    pub fn failure(code: u16, reason: &str, message: impl Into<String>, details: Option<(&str, &str, &str)>) -> Status {
        Status {
            kind: "Status",
            api_version: "v1",
            metadata: Empty {},
            status: "Failure",
            message: message.into(),
            reason: reason.to_string(),
            details: details.map(|(name, group, kind)| {
                Box::new(StatusDetails { name: name.to_string(), group: group.to_string(), kind: kind.to_string() })
            }),
            code,
        }
    }
}

impl Proto for Status {
    fn type_meta(&self) -> (&str, &'static str) {
        ("v1", "Status")
    }

    fn encode(&self, w: &mut Writer) {
        encode_list_meta(w);
        w.string(2, self.status);
        w.string(3, &self.message);
        w.string(4, &self.reason);
        if let Some(d) = &self.details {
            w.message(5, |w| {
                w.string(1, &d.name);
                w.string(2, &d.group);
                w.string(3, &d.kind);
                w.int(5, 0);
                w.string(6, "");
            });
        }
        w.int(6, i64::from(self.code));
    }
}

// ---------- discovery ----------

#[derive(Clone, Debug, Serialize)]
pub struct ApiResource {
    pub name: &'static str,
    #[serde(rename = "singularName")]
    pub singular_name: &'static str,
    pub namespaced: bool,
    pub kind: &'static str,
    pub verbs: [&'static str; 2],
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiResourceList {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    #[serde(rename = "groupVersion")]
    pub group_version: &'static str,
    pub resources: [ApiResource; 2],
}

impl Proto for ApiResourceList {
    fn type_meta(&self) -> (&str, &'static str) {
        ("v1", "APIResourceList")
    }

    fn encode(&self, w: &mut Writer) {
        w.string(1, self.group_version);
        for r in &self.resources {
            w.message(2, |w| {
                w.string(1, r.name);
                w.bool(2, r.namespaced);
                w.string(3, r.kind);
                w.message(4, |w| {
                    for v in r.verbs {
                        w.string(1, v);
                    }
                });
                w.string(6, r.singular_name);
                w.string(8, "");
                w.string(9, "");
                w.string(10, "");
            });
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupVersion {
    #[serde(rename = "groupVersion")]
    pub group_version: &'static str,
    pub version: &'static str,
}

impl GroupVersion {
    fn encode(&self, w: &mut Writer) {
        w.string(1, self.group_version);
        w.string(2, self.version);
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub api_version: Option<&'static str>,
    pub name: &'static str,
    pub versions: [GroupVersion; 1],
    #[serde(rename = "preferredVersion")]
    pub preferred_version: GroupVersion,
}

impl ApiGroup {
    fn encode_fields(&self, w: &mut Writer) {
        w.string(1, self.name);
        for v in &self.versions {
            w.message(2, |w| v.encode(w));
        }
        w.message(3, |w| self.preferred_version.encode(w));
    }
}

impl Proto for ApiGroup {
    fn type_meta(&self) -> (&str, &'static str) {
        ("v1", "APIGroup")
    }

    fn encode(&self, w: &mut Writer) {
        self.encode_fields(w);
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiGroupList {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub groups: [ApiGroup; 1],
}

impl Proto for ApiGroupList {
    fn type_meta(&self) -> (&str, &'static str) {
        ("v1", "APIGroupList")
    }

    fn encode(&self, w: &mut Writer) {
        for g in &self.groups {
            w.message(1, |w| g.encode_fields(w));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_protobuf_matches_the_apiserver_403() {
        // kube-apiserver v1.36's 403 for protobuf, captured byte for byte.
        let msg = "pods is forbidden: User \"wire-nobody\" cannot list resource \"pods\" in API group \"\" at the cluster scope";
        let s = Status::failure(403, "Forbidden", msg, Some(("", "", "pods")));
        let mut want =
            b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Status\x12\x97\x01\x0a\x06\x0a\x00\x12\x00\x1a\x00\x12\x07Failure\x1a\x66"
                .to_vec();
        want.extend_from_slice(msg.as_bytes());
        want.extend_from_slice(
            b"\x22\x09Forbidden\x2a\x0e\x0a\x00\x12\x00\x1a\x04pods\x28\x00\x32\x00\x30\x93\x03\x1a\x00\x22\x00",
        );
        assert_eq!(crate::proto::to_bytes(&s), want);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            format!(
                r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":{},"reason":"Forbidden","details":{{"kind":"pods"}},"code":403}}"#,
                serde_json::to_string(msg).unwrap()
            )
        );
    }
}
