//! The `meta.k8s.io/v1` and apimachinery types several resources share, and the two wire-level value
//! types (`resource.Quantity`, `intstr.IntOrString`).

use std::collections::BTreeMap;
use std::fmt;

use kwire::{Reader, Value, WireError};
use serde::de::{self, Deserializer, Visitor};

use super::{Message, PbField, Str, Time};
use crate::message;
use compact_str::ToCompactString;

message! {
    /// `metav1.ObjectMeta`: what the families read of it.
    pub struct ObjectMeta {
        omitempty 1 => name: Option<Str>,
        omitempty 2 => generate_name: Option<Str>,
        omitempty 3 => namespace: Option<Str>,
        omitempty 5 => uid: Option<Str>,
        omitempty 6 => resource_version: Option<Str>,
        omitempty 7 => generation: Option<i64>,
        8 => creation_timestamp: Option<Time>,
        9 => deletion_timestamp: Option<Time>,
        11 => labels: Option<BTreeMap<Str, Str>>,
        12 => annotations: Option<BTreeMap<Str, Str>>,
        13 => owner_references: Option<Vec<OwnerReference>>,
    }
}

message! {
    /// `metav1.OwnerReference`.
    pub struct OwnerReference {
        5 => api_version: Str,
        1 => kind: Str,
        3 => name: Str,
        4 => uid: Str,
        6 => controller: Option<bool>,
    }
}

message! {
    /// `metav1.LabelSelector`.
    pub struct LabelSelector {
        1 => match_labels: Option<BTreeMap<Str, Str>>,
        2 => match_expressions: Option<Vec<LabelSelectorRequirement>>,
    }
}

message! {
    /// `metav1.LabelSelectorRequirement`.
    pub struct LabelSelectorRequirement {
        1 => key: Str,
        2 => operator: Str,
        3 => values: Option<Vec<Str>>,
    }
}

message! {
    /// `metav1.Condition`, the condition type of newer APIs.
    pub struct Condition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
        omitempty 3 => observed_generation: Option<i64>,
        4 => last_transition_time: Option<Time>,
        5 => reason: Str,
        6 => message: Str,
    }
}

/// `resource.Quantity`: its text (`"250m"`, `"1Gi"`); a string in JSON, `{1: string}` in protobuf.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub Str);

impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Quantity, E> {
                Ok(Quantity(Str::from(s)))
            }
            // Go's Quantity also takes a bare JSON number.
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Quantity, E> {
                Ok(Quantity(n.to_compact_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Quantity, E> {
                Ok(Quantity(n.to_compact_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Quantity, E> {
                Ok(Quantity(n.to_compact_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Message for Quantity {
    fn merge(&mut self, f: kwire::Field<'_>) -> Result<(), WireError> {
        if f.number == 1 {
            self.0.merge_value(f.value)?;
        }
        Ok(())
    }
}

/// `intstr.IntOrString`: a JSON number or string; in protobuf `{1: type (0 int, 1 string), 2: intVal,
/// 3: strVal}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl<'de> serde::Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(s.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<IntOrString, E> {
                i32::try_from(n).map(IntOrString::Int).map_err(|_| E::custom(format!("{n} is out of int32 range")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<IntOrString, E> {
                i32::try_from(n).map(IntOrString::Int).map_err(|_| E::custom(format!("{n} is out of int32 range")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Message for IntOrString {
    fn merge(&mut self, f: kwire::Field<'_>) -> Result<(), WireError> {
        // Fields arrive in number order: the type first, then the value that type names.
        match (f.number, f.value) {
            (1, Value::Varint(1)) => *self = IntOrString::String(String::new()),
            (1, Value::Varint(_)) => *self = IntOrString::Int(0),
            (2, Value::Varint(n)) if matches!(self, IntOrString::Int(_)) => *self = IntOrString::Int(n as i64 as i32),
            (3, Value::Bytes(b)) if matches!(self, IntOrString::String(_)) => {
                *self = IntOrString::String(std::str::from_utf8(b).map_err(|_| WireError::NotUtf8)?.to_owned());
            }
            _ => {}
        }
        Ok(())
    }
}

/// Reads a string field out of an embedded message (for ad-hoc decoding in tests and tools).
pub fn string_field(msg: &[u8], number: u32) -> Result<Option<Str>, WireError> {
    let mut r = Reader::new(msg);
    let mut out = None;
    while let Some(f) = r.next()? {
        if f.number == number {
            out.merge_value(f.value)?;
        }
    }
    Ok(out)
}

/// A `[]byte` field: standard base64 text in JSON (as Go's encoder writes it), the bytes themselves in
/// protobuf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        struct V;
        impl Visitor<'_> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Bytes, E> {
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(Bytes)
                    .map_err(|e| E::custom(format!("not base64: {e}")))
            }
        }
        d.deserialize_str(V)
    }
}

impl PbField for Bytes {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Value::Bytes(b) = v {
            self.0 = b.to_vec();
        }
        Ok(())
    }
}

impl PbField for Option<Bytes> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Value::Bytes(b) = v {
            *self = Some(Bytes(b.to_vec()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_meta() -> Vec<u8> {
        let mut owner = kwire::Writer::new();
        owner.string(1, "ReplicaSet");
        owner.string(3, "web-1");
        owner.string(4, "u-rs");
        owner.string(5, "apps/v1");
        owner.varint(6, 1);
        let mut label = kwire::Writer::new();
        label.string(1, "app");
        label.string(2, "web");
        let mut ts = kwire::Writer::new();
        ts.int64(1, 1_700_000_000);
        ts.varint(2, 0);
        let mut m = kwire::Writer::new();
        m.string(1, "web-1-abc");
        m.string(3, "shop");
        m.string(5, "u-pod");
        m.string(6, "42");
        m.message(8, ts.as_bytes());
        m.empty(9);
        m.message(11, label.as_bytes());
        m.message(13, owner.as_bytes());
        m.string(99, "an unknown field");
        m.into_bytes()
    }

    #[test]
    fn object_meta_decodes_the_same_from_both_encodings() {
        let pb = ObjectMeta::decode(&encode_meta()).unwrap();
        let json: ObjectMeta = serde_json::from_str(
            r#"{"name":"web-1-abc","namespace":"shop","uid":"u-pod","resourceVersion":"42",
                "creationTimestamp":"2023-11-14T22:13:20Z","deletionTimestamp":null,"labels":{"app":"web"},
                "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-1","uid":"u-rs","controller":true}],
                "managedFields":[{"manager":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(pb, json);
        assert_eq!(pb.creation_timestamp.unwrap().unix(), 1_700_000_000);
        assert_eq!(pb.owner_references.unwrap()[0].controller, Some(true));
    }

    #[test]
    fn quantities_and_int_or_strings_in_both_encodings() {
        let q: Quantity = serde_json::from_str("\"250m\"").unwrap();
        let mut w = kwire::Writer::new();
        w.string(1, "250m");
        assert_eq!(Quantity::decode(w.as_bytes()).unwrap(), q);
        assert_eq!(serde_json::from_str::<Quantity>("3").unwrap(), Quantity("3".into()));

        let mut int = kwire::Writer::new();
        int.varint(1, 0);
        int.varint(2, 8080);
        let mut s = kwire::Writer::new();
        s.varint(1, 1);
        s.string(3, "25%");
        assert_eq!(IntOrString::decode(int.as_bytes()).unwrap(), IntOrString::Int(8080));
        assert_eq!(IntOrString::decode(s.as_bytes()).unwrap(), IntOrString::String("25%".into()));
        assert_eq!(serde_json::from_str::<IntOrString>("8080").unwrap(), IntOrString::Int(8080));
        assert_eq!(serde_json::from_str::<IntOrString>("\"25%\"").unwrap(), IntOrString::String("25%".into()));
    }

    #[test]
    fn bytes_are_base64_in_json_and_raw_in_protobuf() {
        let json: Option<Bytes> = serde_json::from_str("\"aGk=\"").unwrap();
        let mut pb: Option<Bytes> = None;
        pb.merge_value(Value::Bytes(b"hi")).unwrap();
        assert_eq!(json, pb);
        assert_eq!(pb, Some(Bytes(b"hi".to_vec())));
        assert!(serde_json::from_str::<Bytes>("\"not base64!\"").is_err());
    }
}
