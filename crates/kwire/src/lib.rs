//! The Kubernetes protobuf wire format, as kube-apiserver writes it (`application/vnd.kubernetes.protobuf`):
//!
//! - a single object or list is the magic `k8s\0` followed by a `runtime.Unknown` message that fills the
//!   rest of the body: `1` typeMeta {`1` apiVersion, `2` kind}, `2` raw (the object's own encoding),
//!   `3` contentEncoding, `4` contentType;
//! - a watch stream (`;stream=watch`) is a sequence of frames, each a 4-byte big-endian length and a
//!   `metav1.WatchEvent`: `1` type (`ADDED`, …), `2` object, a `runtime.RawExtension` whose `1` raw holds
//!   a complete `k8s\0` envelope around the event's object.
//!
//! [`Reader`] walks the fields of one message without copying or allocating; [`Writer`] builds one.
//! Neither knows any Kubernetes type. [`schema`] describes the Kubernetes messages themselves (field
//! numbers and types, generated from `generated.proto`); with the `json` feature, [`json`]
//! transcodes between the JSON and protobuf encodings of any of them.

#[cfg(feature = "json")]
pub mod json;
mod reader;
pub mod schema;
mod schema_def;
#[rustfmt::skip]
mod schema_gen;
mod writer;

pub use reader::{Field, Reader, Value, WireError, read_varint};
pub use writer::Writer;

/// The 4 bytes every protobuf-encoded Kubernetes object or list starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The media type of protobuf objects and lists.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
/// The media type of protobuf watch streams.
pub const STREAM_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// What a `k8s\0` envelope holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Envelope<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    /// The object's own protobuf encoding (e.g. a `PodList` or a `Status` message).
    pub raw: &'a [u8],
}

/// Opens a `k8s\0` envelope.
pub fn open(body: &[u8]) -> Result<Envelope<'_>, WireError> {
    let rest = body.strip_prefix(MAGIC).ok_or(WireError::NoMagic)?;
    let mut env = Envelope::default();
    let mut r = Reader::new(rest);
    while let Some(f) = r.next()? {
        match (f.number, f.value) {
            (1, Value::Bytes(tm)) => {
                let mut t = Reader::new(tm);
                while let Some(g) = t.next()? {
                    match (g.number, g.value) {
                        (1, Value::Bytes(s)) => env.api_version = utf8(s)?,
                        (2, Value::Bytes(s)) => env.kind = utf8(s)?,
                        _ => {}
                    }
                }
            }
            (2, Value::Bytes(raw)) => env.raw = raw,
            _ => {}
        }
    }
    Ok(env)
}

/// Wraps `raw` (the encoding of an object of `api_version`/`kind`) in a `k8s\0` envelope, as the API
/// server does (with the empty contentEncoding and contentType it always writes).
pub fn seal(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut tm = Writer::new();
    tm.string(1, api_version);
    tm.string(2, kind);
    let mut out = Writer::with_capacity(raw.len() + 32);
    out.raw_bytes(MAGIC);
    out.message(1, tm.as_bytes());
    out.bytes(2, raw);
    out.empty(3);
    out.empty(4);
    out.into_bytes()
}

/// The `metav1.ListMeta` of a list, as the API server writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListMeta<'a> {
    pub resource_version: &'a str,
    /// Empty when the list is complete.
    pub continue_token: &'a str,
    pub remaining_item_count: Option<i64>,
    /// The shard selector a sharded list echoes (`shardInfo.selector`).
    pub shard_selector: Option<&'a str>,
}

impl ListMeta<'_> {
    /// The message as Go writes it: selfLink, resourceVersion and continue always (empty strings
    /// included), then remainingItemCount and shardInfo when set.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(32 + self.continue_token.len());
        w.empty(1);
        w.string(2, self.resource_version);
        w.string(3, self.continue_token);
        if let Some(n) = self.remaining_item_count {
            w.int64(4, n);
        }
        if let Some(sel) = self.shard_selector {
            let mut info = Writer::with_capacity(sel.len() + 4);
            info.string(1, sel);
            w.message(5, info.as_bytes());
        }
        w.into_bytes()
    }
}

/// A complete list body: the `k8s\0` envelope around a `<Kind>List` message holding `meta` and the
/// items, each already encoded as its own message (items are not wrapped in envelopes of their own).
pub fn list_body<'i>(
    api_version: &str,
    list_kind: &str,
    meta: &ListMeta<'_>,
    items: impl IntoIterator<Item = &'i [u8]>,
) -> Vec<u8> {
    let mut list = Writer::with_capacity(4096);
    list.message(1, &meta.encode());
    for item in items {
        list.message(2, item);
    }
    seal(api_version, list_kind, list.as_bytes())
}

/// One watch event as its frame holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchEvent<'a> {
    pub kind: &'a str,
    /// The event's object, still in its `k8s\0` envelope.
    pub object: &'a [u8],
}

/// Decodes the `metav1.WatchEvent` of one frame (without its length prefix).
pub fn watch_event(frame: &[u8]) -> Result<WatchEvent<'_>, WireError> {
    let mut ev = WatchEvent { kind: "", object: &[] };
    let mut r = Reader::new(frame);
    while let Some(f) = r.next()? {
        match (f.number, f.value) {
            (1, Value::Bytes(s)) => ev.kind = utf8(s)?,
            (2, Value::Bytes(ext)) => {
                let mut x = Reader::new(ext);
                while let Some(g) = x.next()? {
                    if let (1, Value::Bytes(raw)) = (g.number, g.value) {
                        ev.object = raw;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(ev)
}

/// One frame of a watch stream: the 4-byte length and the `WatchEvent` of `kind` around `object` (a
/// complete `k8s\0` envelope).
pub fn watch_frame(kind: &str, object: &[u8]) -> Vec<u8> {
    let mut ext = Writer::with_capacity(object.len() + 8);
    ext.bytes(1, object);
    let mut ev = Writer::with_capacity(object.len() + 24);
    ev.string(1, kind);
    ev.message(2, ext.as_bytes());
    let body = ev.into_bytes();
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Cuts a watch stream into frames as its bytes arrive.
#[derive(Default)]
pub struct FrameSplitter {
    buf: Vec<u8>,
}

impl FrameSplitter {
    /// Feeds bytes; `each` receives every complete frame's `WatchEvent` bytes.
    pub fn feed<E>(&mut self, data: &[u8], mut each: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut data = data;
        loop {
            if self.buf.is_empty() {
                // Whole frames straight from the chunk, without copying.
                while let Some(n) = frame_len(data).filter(|n| data.len() >= 4 + n) {
                    each(&data[4..4 + n])?;
                    data = &data[4 + n..];
                }
                self.buf.extend_from_slice(data);
                return Ok(());
            }
            // A frame begun in an earlier chunk: complete its length, then its body.
            let want = match frame_len(&self.buf) {
                None => 4 - self.buf.len(),
                Some(n) => 4 + n - self.buf.len(),
            };
            let take = want.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            match frame_len(&self.buf) {
                Some(n) if self.buf.len() == 4 + n => {
                    each(&self.buf[4..])?;
                    self.buf.clear();
                }
                _ if data.is_empty() => return Ok(()),
                _ => {}
            }
        }
    }

    /// Bytes held of an unfinished frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn frame_len(b: &[u8]) -> Option<usize> {
    let len: [u8; 4] = b.get(..4)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(len)).ok()
}

pub(crate) fn utf8(b: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(b).map_err(|_| WireError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let body = seal("v1", "PodList", b"\x0a\x00");
        assert_eq!(&body[..4], b"k8s\0");
        let e = open(&body).unwrap();
        assert_eq!((e.api_version, e.kind, e.raw), ("v1", "PodList", &b"\x0a\x00"[..]));
        assert_eq!(open(b"nope"), Err(WireError::NoMagic));
    }

    #[test]
    fn frames_split_at_any_chunking_and_round_trip() {
        let objects: Vec<Vec<u8>> = (0..5).map(|i| seal("v1", "ConfigMap", &vec![i as u8; i * 70])).collect();
        let mut stream = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            stream.extend(watch_frame(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"][i], o));
        }
        for chunk in [1, 3, 4, 5, 64, 100_000] {
            let mut s = FrameSplitter::default();
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                s.feed(c, |f| -> Result<(), ()> {
                    let ev = watch_event(f).unwrap();
                    got.push((ev.kind.to_owned(), ev.object.to_vec()));
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(s.pending(), 0, "chunk {chunk}");
            let kinds: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"], "chunk {chunk}");
            assert!(got.iter().zip(&objects).all(|((_, g), o)| g == o), "chunk {chunk}");
        }
    }
}
