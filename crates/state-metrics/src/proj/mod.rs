//! Projections: the parts of Kubernetes objects the families read, decodable from JSON and from protobuf.
//!
//! A projection mirrors the shape of the Kubernetes type (field names, `Option`s and `Vec`s as the API
//! defines them) but declares only the fields some family reads; everything else is skipped by both
//! decoders without being built. [`message!`] declares one: each field with its protobuf field number
//! (from the Kubernetes `generated.proto`) and its JSON name (the camelCase of its Rust name unless
//! renamed), so both encodings of the same object decode to the same value — the golden tests run every
//! fixture through both.
//!
//! Decoding is lenient the way Go's decoders are: a JSON `null` is the field's zero value, unknown
//! fields are ignored, and protobuf fields of an unexpected wire type are skipped.

pub mod admissionregistration;
pub mod core;
pub mod meta;
pub mod rbac;
#[cfg(test)]
pub mod testing;
pub mod time;

use std::collections::BTreeMap;

use kwire::{Field, Reader, Value, WireError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// The text of a projection field: inline up to 24 bytes, so most names and values decode without
/// allocating.
pub use compact_str::CompactString as Str;

pub use meta::{
    Bytes, Condition, IntOrString, LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference, Quantity,
};
pub use time::Time;

/// A protobuf message a projection can be decoded from.
pub trait Message: Default {
    /// Takes one field of the encoding (unknown ones are ignored).
    fn merge(&mut self, field: Field<'_>) -> Result<(), WireError>;

    /// Takes every field of an encoding, in place (embedded messages are decoded where they will stay,
    /// not built apart and moved in).
    fn merge_all(&mut self, buf: &[u8]) -> Result<(), WireError> {
        let mut r = Reader::new(buf);
        while let Some(f) = r.next()? {
            self.merge(f)?;
        }
        Ok(())
    }

    /// Decodes a whole message.
    fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut m = Self::default();
        m.merge_all(buf)?;
        Ok(m)
    }
}

/// A top-level object: one with metadata.
pub trait Object: Message + for<'de> Deserialize<'de> + Clone + std::fmt::Debug + Send + Sync + 'static {
    fn meta(&self) -> &ObjectMeta;
}

/// How a field of a projection takes its value from either encoding.
pub trait PbField {
    /// Takes one protobuf value (a repeated field takes each element in turn).
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError>;

    /// Reads the field's JSON value; `null` is the zero value, as Go's decoder leaves it.
    fn from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>
    where
        Self: Deserialize<'de> + Default,
    {
        Ok(Option::<Self>::deserialize(d)?.unwrap_or_default())
    }
}

/// A JSON list of messages whose elements may be `null` (each the message's zero value, as in Go).
fn messages_from_json<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Ok(Option::<Vec<Option<T>>>::deserialize(d)?.map(|v| v.into_iter().map(Option::unwrap_or_default).collect()))
}

fn bytes<'a>(v: &Value<'a>) -> Option<&'a [u8]> {
    match v {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

fn varint(v: &Value<'_>) -> Option<u64> {
    match v {
        Value::Varint(n) => Some(*n),
        _ => None,
    }
}

fn string(v: &Value<'_>) -> Result<Option<Str>, WireError> {
    bytes(v).map(|b| Str::from_utf8(b).map_err(|_| WireError::NotUtf8)).transpose()
}

impl PbField for Str {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Some(s) = string(&v)? {
            *self = s;
        }
        Ok(())
    }
}

impl PbField for Option<Str> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Some(s) = string(&v)? {
            *self = Some(s);
        }
        Ok(())
    }
}

/// A JSON list of strings whose elements may be `null` (each an empty string, as in Go).
fn strings_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Str>>, D::Error> {
    Ok(Option::<Vec<Option<Str>>>::deserialize(d)?.map(|v| v.into_iter().map(Option::unwrap_or_default).collect()))
}

impl PbField for Vec<Str> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Some(s) = string(&v)? {
            self.push(s);
        }
        Ok(())
    }

    fn from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(strings_from_json(d)?.unwrap_or_default())
    }
}

impl PbField for Option<Vec<Str>> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        self.get_or_insert_with(Vec::new).merge_value(v)
    }

    fn from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        strings_from_json(d)
    }
}

macro_rules! scalar {
    ($t:ty, $conv:expr) => {
        impl PbField for $t {
            fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
                if let Some(n) = varint(&v) {
                    *self = $conv(n);
                }
                Ok(())
            }
        }
        impl PbField for Option<$t> {
            fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
                if let Some(n) = varint(&v) {
                    *self = Some($conv(n));
                }
                Ok(())
            }
        }
    };
}

// int32 and int64 travel as two's complement varints (Go writes negative int32s sign-extended to 64 bits).
scalar!(i32, |n: u64| n as i64 as i32);
scalar!(i64, |n: u64| n as i64);
scalar!(bool, |n: u64| n != 0);

impl PbField for Option<f64> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Value::Fixed64(n) = v {
            *self = Some(f64::from_bits(n));
        }
        Ok(())
    }
}

// A message field seen again replaces the earlier one, as before; each is decoded in its final place.

/// A singular embedded message the projection always has (e.g. `metadata`).
impl<T: Message> PbField for T {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Some(b) = bytes(&v) {
            *self = T::default();
            self.merge_all(b)?;
        }
        Ok(())
    }
}

impl<T: Message> PbField for Option<T> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Some(b) = bytes(&v) {
            self.insert(T::default()).merge_all(b)?;
        }
        Ok(())
    }
}

impl<T: Message + DeserializeOwned> PbField for Vec<T> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        if let Some(b) = bytes(&v) {
            self.push(T::default());
            if let Some(m) = self.last_mut() {
                m.merge_all(b)?;
            }
        }
        Ok(())
    }

    fn from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(messages_from_json(d)?.unwrap_or_default())
    }
}

impl<T: Message + DeserializeOwned> PbField for Option<Vec<T>> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        self.get_or_insert_with(Vec::new).merge_value(v)
    }

    fn from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        messages_from_json(d)
    }
}

/// A value of a protobuf map (`map<string, V>` travels as repeated entries `{1: key, 2: value}`).
pub trait MapValue: Sized + Default + DeserializeOwned {
    fn from_value(v: Value<'_>) -> Result<Option<Self>, WireError>;

    /// What a JSON `null` in place of a value decodes to: Go's zero value of the type.
    fn zero() -> Self {
        Self::default()
    }
}

impl MapValue for Str {
    fn from_value(v: Value<'_>) -> Result<Option<Self>, WireError> {
        string(&v)
    }
}

impl MapValue for Quantity {
    fn from_value(v: Value<'_>) -> Result<Option<Self>, WireError> {
        bytes(&v).map(Quantity::decode).transpose()
    }

    /// Go's zero `resource.Quantity`, which prints and counts as 0.
    fn zero() -> Self {
        Quantity(Str::const_new("0"))
    }
}

/// A JSON map whose values may be `null` (each the value type's zero, as in Go).
fn map_from_json<'de, D: Deserializer<'de>, V: MapValue>(d: D) -> Result<Option<BTreeMap<Str, V>>, D::Error> {
    Ok(Option::<BTreeMap<Str, Option<V>>>::deserialize(d)?
        .map(|m| m.into_iter().map(|(k, v)| (k, v.unwrap_or_else(V::zero))).collect()))
}

impl<V: MapValue> PbField for BTreeMap<Str, V> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        let Some(entry) = bytes(&v) else { return Ok(()) };
        let (mut key, mut value) = (Str::default(), V::default());
        let mut r = Reader::new(entry);
        while let Some(f) = r.next()? {
            match f.number {
                1 => key.merge_value(f.value)?,
                2 => {
                    if let Some(v) = V::from_value(f.value)? {
                        value = v;
                    }
                }
                _ => {}
            }
        }
        self.insert(key, value);
        Ok(())
    }

    fn from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(map_from_json(d)?.unwrap_or_default())
    }
}

impl<V: MapValue> PbField for Option<BTreeMap<Str, V>> {
    fn merge_value(&mut self, v: Value<'_>) -> Result<(), WireError> {
        self.get_or_insert_with(BTreeMap::new).merge_value(v)
    }

    fn from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        map_from_json(d)
    }
}

/// JSON: a `null` is the zero value of the field's type, as Go's decoder leaves a field it is given
/// `null` for.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// JSON for a field of a [`message!`]: its type's [`PbField::from_json`].
pub fn field<'de, D: Deserializer<'de>, T: PbField + Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    T::from_json(d)
}

/// A Go field that is neither a pointer nor a slice or map, and `omitempty` in JSON: JSON leaves out its
/// zero value, protobuf writes it anyway (Go's generated marshallers write every non-pointer field), and
/// Go cannot tell the two apart. Its projection (an `Option`) reads the zero as absent in both encodings,
/// so `is_some()` means what Go's `!= ""` / `!= 0` / `== true` means. Go pointer fields keep their zero
/// (`Some("")` for a `*string` set to "" is not `None`) and are declared without the marker.
pub trait ZeroIsAbsent {
    fn clear_zero(&mut self);
}

macro_rules! zero_is_absent {
    ($($t:ty),*) => {$(
        impl ZeroIsAbsent for Option<$t> {
            fn clear_zero(&mut self) {
                if *self == Some(<$t>::default()) {
                    *self = None;
                }
            }
        }
    )*};
}

zero_is_absent!(Str, i32, i64, bool);

/// Applies [`ZeroIsAbsent`] to a field declared `omitempty` in a [`message!`]; nothing otherwise (a name
/// other than `omitempty` matches no rule and does not compile).
#[doc(hidden)]
#[macro_export]
macro_rules! omitempty {
    ($f:expr) => {};
    ($f:expr, omitempty) => {
        $crate::proj::ZeroIsAbsent::clear_zero(&mut $f)
    };
}

/// Declares a projection: a struct with both decoders. Each field is `number => name: Type` (JSON name:
/// `name` in camelCase; rename with `#[serde(rename = "…")]`), or `omitempty number => name: Type` for a
/// Go non-pointer field whose zero value JSON omits (see [`ZeroIsAbsent`]).
#[macro_export]
macro_rules! message {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* $($omit:ident)? $num:literal => $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
        #[serde(default, rename_all = "camelCase", remote = "Self")]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(deserialize_with = "crate::proj::field")]
                pub $field: $ty,
            )*
        }

        // A `null` in place of the whole message (`conditions: [null, {…}]`) is its zero value, as Go
        // decodes it; the derived decoder (generated as an inherent function by `remote = "Self"`)
        // takes everything else.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct NotNull($name);
                impl<'de> serde::Deserialize<'de> for NotNull {
                    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        #[allow(unused_mut, reason = "messages without an omitempty field")]
                        let mut m = $name::deserialize(d)?;
                        $( $crate::omitempty!(m.$field $(, $omit)?); )*
                        Ok(NotNull(m))
                    }
                }
                Ok(<Option<NotNull> as serde::Deserialize>::deserialize(d)?.map_or_else(Self::default, |n| n.0))
            }
        }

        impl $crate::proj::Message for $name {
            fn merge(&mut self, f: kwire::Field<'_>) -> Result<(), kwire::WireError> {
                match f.number {
                    $( $num => {
                        let r = $crate::proj::PbField::merge_value(&mut self.$field, f.value);
                        $crate::omitempty!(self.$field $(, $omit)?);
                        r
                    } )*
                    _ => Ok(()),
                }
            }
        }
    };
}

/// Makes a projection with a `metadata` field a top-level [`Object`].
#[macro_export]
macro_rules! object {
    ($($name:ident),* $(,)?) => {
        $(impl $crate::proj::Object for $name {
            fn meta(&self) -> &$crate::proj::ObjectMeta {
                &self.metadata
            }
        })*
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Condition, LabelSelectorRequirement, ObjectMeta, PbField, Quantity, Str};

    #[test]
    fn a_null_message_is_its_zero_value() {
        let v: Vec<Condition> = serde_json::from_str(r#"[null, {"type": "Ready", "status": "True"}]"#).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], Condition::default());
        assert_eq!((v[1].type_.as_str(), v[1].status.as_str()), ("Ready", "True"));
        let m: ObjectMeta = serde_json::from_str("null").unwrap();
        assert_eq!(m, ObjectMeta::default());
        assert!(serde_json::from_str::<Condition>("3").is_err());
    }

    /// A field of a wire type the projection does not expect (only a broken server or proxy sends one)
    /// reads as absent; the rest of the message decodes. Go's generated decoders refuse the message.
    #[test]
    fn a_field_of_the_wrong_wire_type_reads_as_absent() {
        use super::Message;
        let mut w = kwire::Writer::new();
        w.varint(1, 7); // name: a string field, sent as a varint
        w.string(3, "ns");
        w.string(7, "not a varint"); // generation: an int64 field, sent as bytes
        let m = ObjectMeta::decode(w.as_bytes()).unwrap();
        assert_eq!((m.name, m.namespace.as_deref(), m.generation), (None, Some("ns"), None));
    }

    crate::message! {
        /// A Go struct `{ Plain string; Pointer *string; Count int32; Flag bool }`, all `omitempty`.
        pub struct Probe {
            omitempty 1 => plain: Option<Str>,
            2 => pointer: Option<Str>,
            omitempty 3 => count: Option<i32>,
            omitempty 4 => flag: Option<bool>,
        }
    }

    /// Go's protobuf marshaller writes a non-pointer field's zero value, its JSON encoder leaves it out
    /// (`omitempty`); both read as absent. A pointer set to its zero is present in both.
    #[test]
    fn a_non_pointer_zero_is_absent_in_both_encodings() {
        use super::Message;
        let mut w = kwire::Writer::new();
        w.string(1, "");
        w.string(2, "");
        w.varint(3, 0);
        w.varint(4, 0);
        let pb = Probe::decode(w.as_bytes()).unwrap();
        let absent = Probe { pointer: Some(Str::default()), ..Probe::default() };
        assert_eq!(pb, absent);
        let json: Probe = serde_json::from_str(r#"{"pointer": ""}"#).unwrap();
        assert_eq!(json, absent);
        // A zero written out in JSON (no real server does for these fields) reads the same way.
        let explicit: Probe =
            serde_json::from_str(r#"{"plain": "", "pointer": "", "count": 0, "flag": false}"#).unwrap();
        assert_eq!(explicit, absent);
        // Values other than the zero are kept, in both encodings.
        let mut w = kwire::Writer::new();
        w.string(1, "a");
        w.varint(3, 2);
        w.varint(4, 1);
        let set = Probe { plain: Some("a".into()), pointer: None, count: Some(2), flag: Some(true) };
        assert_eq!(Probe::decode(w.as_bytes()).unwrap(), set);
        assert_eq!(serde_json::from_str::<Probe>(r#"{"plain": "a", "count": 2, "flag": true}"#).unwrap(), set);
    }

    /// Go decodes `null` in a list of strings or as a map value to the element's zero value; so do
    /// the projections (the object is rendered, not skipped).
    #[test]
    fn null_strings_and_map_values_are_zero_values() {
        let m: ObjectMeta = serde_json::from_str(r#"{"labels": {"a": null, "b": "x"}, "annotations": null}"#).unwrap();
        let labels = m.labels.unwrap();
        assert_eq!((labels["a"].as_str(), labels["b"].as_str()), ("", "x"));
        assert_eq!(m.annotations, None);
        let r: LabelSelectorRequirement = serde_json::from_str(r#"{"key": "k", "values": ["a", null]}"#).unwrap();
        assert_eq!(r.values, Some(vec![Str::from("a"), Str::default()]));
        let q: BTreeMap<Str, Quantity> =
            PbField::from_json(&mut serde_json::Deserializer::from_str(r#"{"cpu": null, "memory": "1Gi"}"#)).unwrap();
        assert_eq!((q["cpu"].0.as_str(), q["memory"].0.as_str()), ("0", "1Gi"));
        // Nulls cost nothing extra: a list of many of them decodes like any other.
        let many = format!("[{}]", vec!["null"; 1000].join(","));
        let conditions: Vec<Condition> = serde_json::from_str(&many).unwrap();
        assert!(conditions.len() == 1000 && conditions.iter().all(|c| *c == Condition::default()));
        // A value of the wrong type is still an error.
        assert!(serde_json::from_str::<ObjectMeta>(r#"{"labels": {"a": 5}}"#).is_err());
    }
}
