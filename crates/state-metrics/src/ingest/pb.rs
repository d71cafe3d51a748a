//! Protobuf on the wire: lists cut into their items as the bytes arrive, and the metadata, bookmarks and
//! Status errors every collection shares.
//!
//! A list is `k8s\0` + `runtime.Unknown{2: raw}` where raw is the `…List` message: `1` ListMeta, `2` one
//! item each (not wrapped again). [`PbListSplitter`] hands over each item as soon as it is complete,
//! holding at most one item's bytes, like the JSON splitter.

use kwire::{Reader, Value, WireError};

use super::json::ListMeta;
use super::wire::Status;
use crate::key::ObjectKey;
use crate::proj::{Message, ObjectMeta, Str};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Magic,
    /// Fields of the Unknown envelope.
    Envelope,
    /// Inside the list (`raw`): this many bytes of it are left.
    List(u64),
}

/// Cuts a protobuf list into its items, chunk by chunk.
pub struct PbListSplitter {
    stage: Stage,
    buf: Vec<u8>,
    saw_list: bool,
    pub meta: ListMeta,
}

impl Default for PbListSplitter {
    fn default() -> Self {
        PbListSplitter { stage: Stage::Magic, buf: Vec::new(), saw_list: false, meta: ListMeta::default() }
    }
}

/// A field header (key and, for length-delimited fields, the length) at the start of `b`: (field number,
/// wire type, payload length for wire type 2 or the varint value otherwise, header bytes). `None` if
/// incomplete.
fn header(b: &[u8]) -> Result<Option<(u32, u8, u64, usize)>, WireError> {
    let Some((key, n)) = kwire::read_varint(b) else {
        return if b.len() >= 10 { Err(WireError::LongVarint) } else { Ok(None) };
    };
    let wire = (key & 7) as u8;
    let number = u32::try_from(key >> 3).map_err(|_| WireError::FieldZero)?;
    match wire {
        0 | 2 => match kwire::read_varint(&b[n..]) {
            Some((v, m)) => Ok(Some((number, wire, v, n + m))),
            None if b.len() - n >= 10 => Err(WireError::LongVarint),
            None => Ok(None),
        },
        1 => Ok(Some((number, wire, 8, n))),
        5 => Ok(Some((number, wire, 4, n))),
        w => Err(WireError::WireType(w)),
    }
}

impl PbListSplitter {
    /// Feeds the next bytes of the body; `each` receives every complete item (its own encoding).
    pub fn feed<E>(&mut self, data: &[u8], mut each: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), Fed<E>> {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        let r = self.parse(&mut pos, &mut each);
        self.buf.drain(..pos);
        r
    }

    fn parse<E>(&mut self, pos: &mut usize, each: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), Fed<E>> {
        loop {
            let b = &self.buf[*pos..];
            match self.stage {
                Stage::Magic => {
                    if b.len() < 4 {
                        return Ok(());
                    }
                    if &b[..4] != kwire::MAGIC {
                        return Err(Fed::Wire(WireError::NoMagic));
                    }
                    *pos += 4;
                    self.stage = Stage::Envelope;
                }
                Stage::Envelope => {
                    if b.is_empty() {
                        return Ok(());
                    }
                    let Some((number, wire, len, h)) = header(b).map_err(Fed::Wire)? else { return Ok(()) };
                    let payload = if wire == 0 { 0 } else { len as usize };
                    if number == 2 && wire == 2 {
                        *pos += h;
                        self.saw_list = true;
                        self.stage = Stage::List(len);
                        continue;
                    }
                    if b.len() < h + payload {
                        return Ok(());
                    }
                    *pos += h + payload;
                }
                Stage::List(0) => self.stage = Stage::Envelope,
                Stage::List(left) => {
                    let Some((number, wire, len, h)) = header(b).map_err(Fed::Wire)? else { return Ok(()) };
                    let payload = if wire == 0 { 0 } else { len as usize };
                    if b.len() < h + payload {
                        return Ok(());
                    }
                    let body = &b[h..h + payload];
                    match (number, wire) {
                        (1, 2) => self.meta = list_meta(body).map_err(Fed::Wire)?,
                        (2, 2) => each(body).map_err(Fed::Each)?,
                        _ => {}
                    }
                    let used = (h + payload) as u64;
                    if used > left {
                        return Err(Fed::Wire(WireError::Truncated));
                    }
                    *pos += h + payload;
                    self.stage = Stage::List(left - used);
                }
            }
        }
    }

    /// The body is over: was the list complete?
    pub fn finish(&self) -> Result<(), WireError> {
        if self.saw_list && self.stage == Stage::Envelope && self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::Truncated)
        }
    }
}

/// The error of [`PbListSplitter::feed`].
#[derive(Debug, PartialEq, Eq)]
pub enum Fed<E> {
    Wire(WireError),
    Each(E),
}

/// `metav1.ListMeta`: `2` resourceVersion, `3` continue, `5` shardInfo (`1` selector).
pub fn list_meta(b: &[u8]) -> Result<ListMeta, WireError> {
    let mut m = ListMeta::default();
    let mut r = Reader::new(b);
    while let Some(f) = r.next()? {
        match (f.number, f.value) {
            (2, Value::Bytes(s)) => m.resource_version = utf8(s)?.to_owned(),
            (3, Value::Bytes(s)) if !s.is_empty() => m.continue_token = Some(utf8(s)?.to_owned()),
            (5, Value::Bytes(info)) => {
                let mut selector = String::new();
                let mut r = Reader::new(info);
                while let Some(f) = r.next()? {
                    if let (1, Value::Bytes(s)) = (f.number, f.value) {
                        utf8(s)?.clone_into(&mut selector);
                    }
                }
                m.shard_info = Some(super::json::ShardInfo { selector });
            }
            _ => {}
        }
    }
    Ok(m)
}

fn utf8(b: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(b).map_err(|_| WireError::NotUtf8)
}

/// The metadata of any object (field `1` of every Kubernetes object).
pub fn object_meta(raw: &[u8]) -> Result<ObjectMeta, WireError> {
    let mut r = Reader::new(raw);
    let mut meta = ObjectMeta::default();
    while let Some(f) = r.next()? {
        if let (1, Value::Bytes(b)) = (f.number, f.value) {
            meta = ObjectMeta::decode(b)?;
        }
    }
    Ok(meta)
}

/// The key and resourceVersion of an object (enough for a DELETED event).
pub fn key_of_pb(raw: &[u8]) -> Result<(ObjectKey, String), WireError> {
    let m = object_meta(raw)?;
    fn s(o: &Option<Str>) -> &str {
        o.as_deref().unwrap_or_default()
    }
    Ok((ObjectKey::new(s(&m.namespace), s(&m.name), s(&m.uid)), s(&m.resource_version).to_owned()))
}

/// A bookmark's resourceVersion and whether it ends a streaming list's initial events.
pub fn bookmark(raw: &[u8]) -> Result<(String, bool), WireError> {
    let m = object_meta(raw)?;
    let end = m.annotations.as_ref().and_then(|a| a.get("k8s.io/initial-events-end")).is_some_and(|v| v == "true");
    Ok((m.resource_version.map(String::from).unwrap_or_default(), end))
}

/// `metav1.Status`: `3` message, `4` reason, `5` details {`4` causes {`1` reason}, `5` retryAfterSeconds},
/// `6` code.
pub fn status(raw: &[u8]) -> Result<Status, WireError> {
    let mut s = Status::default();
    let mut r = Reader::new(raw);
    while let Some(f) = r.next()? {
        match (f.number, f.value) {
            (3, Value::Bytes(b)) => s.message = utf8(b)?.to_owned(),
            (4, Value::Bytes(b)) => s.reason = utf8(b)?.to_owned(),
            (6, Value::Varint(c)) => s.code = u16::try_from(c).unwrap_or(0),
            (5, Value::Bytes(details)) => {
                let mut d = Reader::new(details);
                while let Some(g) = d.next()? {
                    match (g.number, g.value) {
                        (4, Value::Bytes(cause)) => {
                            if let Some(reason) = crate::proj::meta::string_field(cause, 1)? {
                                s.causes.push(reason.into());
                            }
                        }
                        (5, Value::Varint(n)) => s.retry_after_seconds = u32::try_from(n).ok(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&[u8]], rv: &str) -> Vec<u8> {
        let mut meta = kwire::Writer::new();
        meta.empty(1);
        meta.string(2, rv);
        meta.empty(3);
        let mut l = kwire::Writer::new();
        l.message(1, meta.as_bytes());
        for i in items {
            l.message(2, i);
        }
        kwire::seal("v1", "PodList", l.as_bytes())
    }

    #[test]
    fn lists_split_into_items_at_any_chunking() {
        let big = vec![7u8; 300];
        let items: Vec<&[u8]> = vec![b"\x0a\x00", &big, b"", b"\x08\x01"];
        let body = list(&items, "374");
        for chunk in [1, 2, 3, 7, 64, 100_000] {
            let mut s = PbListSplitter::default();
            let mut got: Vec<Vec<u8>> = Vec::new();
            for c in body.chunks(chunk) {
                s.feed(c, |i| -> Result<(), ()> {
                    got.push(i.to_vec());
                    Ok(())
                })
                .unwrap();
            }
            s.finish().unwrap();
            assert_eq!(got, items.iter().map(|i| i.to_vec()).collect::<Vec<_>>(), "chunk {chunk}");
            assert_eq!(s.meta.resource_version, "374");
            assert_eq!(s.meta.continue_token, None);
        }
    }

    /// A capture of a real v1.36 server, kept beside kwire's tests.
    fn capture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kwire/tests/wire").join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn a_sharded_list_carries_the_selector_it_was_asked_for() {
        let meta = |name: &str| {
            let mut s = PbListSplitter::default();
            s.feed(&capture(name), |_| -> Result<(), ()> { Ok(()) }).unwrap();
            s.finish().unwrap();
            s.meta
        };
        let m = meta("pods.list-shard0.pb");
        assert_eq!(m.resource_version, "405");
        assert_eq!(
            m.shard_selector(),
            Some("shardRange(object.metadata.uid, '0x0000000000000000', '0x8000000000000000')")
        );
        assert_eq!(
            meta("configmaps.list-shard1.pb").shard_selector(),
            Some("shardRange(object.metadata.uid, '0x8000000000000000', '0x10000000000000000')")
        );
        assert_eq!(meta("pods.list.pb").shard_selector(), None);
    }

    #[test]
    fn truncated_or_foreign_bodies_are_errors() {
        let body = list(&[b"\x0a\x00"], "1");
        let mut s = PbListSplitter::default();
        s.feed(&body[..body.len() - 6], |_| -> Result<(), ()> { Ok(()) }).unwrap();
        assert_eq!(s.finish(), Err(WireError::Truncated));
        let mut s = PbListSplitter::default();
        assert_eq!(s.feed(b"{\"kind\"", |_| -> Result<(), ()> { Ok(()) }), Err(Fed::Wire(WireError::NoMagic)));
    }

    #[test]
    fn statuses_and_bookmarks() {
        let mut cause = kwire::Writer::new();
        cause.string(1, "ResourceVersionTooLarge");
        let mut details = kwire::Writer::new();
        details.message(4, cause.as_bytes());
        details.varint(5, 1);
        let mut st = kwire::Writer::new();
        st.string(2, "Failure");
        st.string(3, "Timeout: Too large resource version");
        st.string(4, "Timeout");
        st.message(5, details.as_bytes());
        st.varint(6, 504);
        let s = status(st.as_bytes()).unwrap();
        assert!(s.is_too_large_resource_version());
        assert_eq!((s.code, s.retry_after_seconds), (504, Some(1)));

        let mut entry = kwire::Writer::new();
        entry.string(1, "k8s.io/initial-events-end");
        entry.string(2, "true");
        let mut meta = kwire::Writer::new();
        meta.string(6, "409");
        meta.message(12, entry.as_bytes());
        let mut obj = kwire::Writer::new();
        obj.message(1, meta.as_bytes());
        assert_eq!(bookmark(obj.as_bytes()).unwrap(), ("409".to_owned(), true));
    }
}
