//! Test helpers for projections: protobuf encodings built field by field with [`kwire::Writer`], and
//! the check that an object decodes to the same value from protobuf and from JSON.

use std::fmt::Debug;

use kwire::Writer;
use serde::de::DeserializeOwned;

use super::Message;

/// The encoding of one message, its fields written by `fill`.
pub fn pb(fill: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    fill(&mut w);
    w.into_bytes()
}

/// A `Timestamp` (`metav1.Time`, `metav1.MicroTime`) of whole seconds.
pub fn time(seconds: i64) -> Vec<u8> {
    pb(|w| {
        w.int64(1, seconds);
        w.varint(2, 0);
    })
}

/// A `resource.Quantity`.
pub fn quantity(s: &str) -> Vec<u8> {
    pb(|w| w.string(1, s))
}

/// One entry of a `map<string, string>` (a repeated field of `{1: key, 2: value}`).
pub fn entry(w: &mut Writer, field: u32, key: &str, value: &str) {
    let e = pb(|e| {
        e.string(1, key);
        e.string(2, value);
    });
    w.message(field, &e);
}

/// One entry of a `map<string, Message>`.
pub fn entry_msg(w: &mut Writer, field: u32, key: &str, value: &[u8]) {
    let e = pb(|e| {
        e.string(1, key);
        e.message(2, value);
    });
    w.message(field, &e);
}

/// An `ObjectMeta` as [`META_JSON`] has it: name `obj`, namespace `ns`, uid, resourceVersion,
/// generation, creationTimestamp, a label, an annotation and an owner.
pub fn meta() -> Vec<u8> {
    let owner = pb(|o| {
        o.string(1, "Kind");
        o.string(3, "parent");
        o.string(4, "u-parent");
        o.string(5, "v1");
        o.varint(6, 1);
    });
    pb(|m| {
        m.string(1, "obj");
        m.string(3, "ns");
        m.string(5, "u-obj");
        m.string(6, "42");
        m.varint(7, 3);
        m.message(8, &time(1_700_000_000));
        entry(m, 11, "app", "web");
        entry(m, 12, "note", "x");
        m.message(13, &owner);
    })
}

/// The JSON of [`meta`].
pub const META_JSON: &str = r#"{"name": "obj", "namespace": "ns", "uid": "u-obj", "resourceVersion": "42",
    "generation": 3, "creationTimestamp": "2023-11-14T22:13:20Z", "labels": {"app": "web"},
    "annotations": {"note": "x"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Kind", "name": "parent", "uid": "u-parent", "controller": true}],
    "managedFields": [{"manager": "m"}]}"#;

/// Decodes `pb` and `json`, requires both to give the same value and returns it.
#[track_caller]
pub fn same<T: Message + DeserializeOwned + PartialEq + Debug>(pb: &[u8], json: &str) -> T {
    let from_pb = T::decode(pb).unwrap_or_else(|e| panic!("protobuf does not decode: {e}"));
    let from_json: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("JSON does not decode: {e}"));
    assert_eq!(from_pb, from_json, "protobuf (left) and JSON (right) decode differently");
    assert_ne!(from_pb, T::default(), "the test object decodes to nothing");
    from_pb
}
