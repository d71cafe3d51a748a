//! Metadata-only answers: a client that sends `Accept: …;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`
//! on a list, or `…;as=PartialObjectMetadata;…` on a watch or get, receives each object as a
//! `meta.k8s.io/v1 PartialObjectMetadata` (kind, apiVersion and the object's `metadata`, nothing else),
//! as client-go's metadata client and metadata informers ask for them (API conventions; the Go types are
//! `metav1.PartialObjectMetadata{ObjectMeta metadata = 1}` and
//! `metav1.PartialObjectMetadataList{ListMeta metadata = 1; repeated PartialObjectMetadata items = 2}`).
//! Every Kubernetes object message holds its `ObjectMeta` as field 1 too, so the protobuf form is that
//! field of the object's own encoding, unchanged.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::SimError;

pub(crate) const API_VERSION: &str = "meta.k8s.io/v1";
pub(crate) const KIND: &str = "PartialObjectMetadata";
pub(crate) const LIST_KIND: &str = "PartialObjectMetadataList";

/// Whether the Accept header asks for objects' metadata only (as a list or one object at a time).
pub(crate) fn wanted(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|h| h.to_str().ok()).is_some_and(|a| {
        a.split(',').any(|media| {
            let params: Vec<&str> = media.split(';').skip(1).map(str::trim).collect();
            params.iter().any(|p| *p == "as=PartialObjectMetadata" || *p == "as=PartialObjectMetadataList")
                && params.contains(&"g=meta.k8s.io")
                && params.contains(&"v=v1")
        })
    })
}

/// An object's JSON as its `PartialObjectMetadata`: the metadata's bytes as stored.
pub(crate) fn json_object(stored: &[u8]) -> Result<Vec<u8>, SimError> {
    #[derive(Deserialize)]
    struct Meta<'a> {
        #[serde(borrow)]
        metadata: Option<&'a RawValue>,
    }
    let m: Meta<'_> = serde_json::from_slice(stored).map_err(|e| SimError::internal(format!("stored object: {e}")))?;
    let metadata = m.metadata.map_or("{}", RawValue::get);
    Ok(format!(r#"{{"kind":"{KIND}","apiVersion":"{API_VERSION}","metadata":{metadata}}}"#).into_bytes())
}

/// The `PartialObjectMetadata` message of an object, from the object's own protobuf encoding.
pub(crate) fn protobuf_object(encoded: &[u8]) -> Result<Vec<u8>, SimError> {
    let mut r = kwire::Reader::new(encoded);
    let mut out = kwire::Writer::new();
    while let Some(f) = r.next().map_err(|e| SimError::internal(format!("stored object's protobuf: {e}")))? {
        if let (1, kwire::Value::Bytes(meta)) = (f.number, f.value) {
            out.message(1, meta);
        }
    }
    Ok(out.into_bytes())
}

/// A JSON `PartialObjectMetadataList` around items already in their metadata form.
pub(crate) fn json_list(list_meta: &str, items: &[Vec<u8>]) -> Bytes {
    let size: usize = items.iter().map(|i| i.len() + 1).sum();
    let mut b = BytesMut::with_capacity(size + list_meta.len() + 128);
    b.put_slice(
        format!(r#"{{"kind":"{LIST_KIND}","apiVersion":"{API_VERSION}","metadata":{list_meta},"items":["#).as_bytes(),
    );
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            b.put_u8(b',');
        }
        b.put_slice(item);
    }
    b.put_slice(b"]}\n");
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(a: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, a.parse().unwrap());
        h
    }

    #[test]
    fn asked_as_client_go_asks() {
        assert!(wanted(&accept(
            "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
        )));
        assert!(wanted(&accept("application/json; as=PartialObjectMetadata; g=meta.k8s.io; v=v1")));
        assert!(!wanted(&accept("application/json;as=Table;g=meta.k8s.io;v=v1")));
        assert!(!wanted(&accept("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1")));
        assert!(!wanted(&accept("application/vnd.kubernetes.protobuf, application/json")));
        assert!(!wanted(&HeaderMap::new()));
    }

    #[test]
    fn the_object_keeps_its_metadata_and_nothing_else() {
        let stored = br#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","namespace":"n","labels":{"z":"1","a":"2"}},"data":{"big":"xxxx"}}"#;
        assert_eq!(
            String::from_utf8(json_object(stored).unwrap()).unwrap(),
            r#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"a","namespace":"n","labels":{"z":"1","a":"2"}}}"#
        );
        let mut full = kwire::Writer::new();
        full.message(1, b"\x0a\x01a");
        full.message(2, b"\x0a\x03big\x12\x04xxxx");
        assert_eq!(protobuf_object(full.as_bytes()).unwrap(), b"\x0a\x03\x0a\x01a");
    }
}
