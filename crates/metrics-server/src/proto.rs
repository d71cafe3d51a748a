//! Protobuf output in the Kubernetes envelope: the magic `k8s\0` followed by a `runtime.Unknown` that
//! carries the object's apiVersion/kind and its encoded bytes.
//!
//! Messages are written field for field as the Go types' generated marshallers write them, so the bytes
//! match upstream's: every field that is not a pointer in Go is written even when empty (an empty
//! string is a key and a zero length), pointer fields only when set, map entries in key order.
//! Encoding is all this server needs, and the handful of message types it serves are written by hand
//! here rather than generated: no build step, no extra crate.

/// The four bytes before every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8; 4] = b"k8s\0";

const VARINT: u8 = 0;
const LEN: u8 = 2;

/// A growing protobuf message.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Writer { buf: Vec::with_capacity(n) }
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }

    /// An unsigned or non-negative integer field (int32/int64 in Go: negatives take ten bytes).
    pub fn int(&mut self, field: u32, v: i64) {
        self.key(field, VARINT);
        self.varint(v as u64);
    }

    pub fn bool(&mut self, field: u32, v: bool) {
        self.key(field, VARINT);
        self.varint(u64::from(v));
    }

    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    pub fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    /// An embedded message written by `body`. Its length is known only afterwards: one byte is
    /// reserved (enough for bodies under 128 bytes, most of them) and the body moved up if more is needed.
    pub fn message(&mut self, field: u32, body: impl FnOnce(&mut Writer)) {
        self.key(field, LEN);
        let at = self.buf.len();
        self.buf.push(0);
        body(self);
        let len = self.buf.len() - at - 1;
        if len < 0x80 {
            self.buf[at] = len as u8;
            return;
        }
        let mut prefix = Writer::with_capacity(10);
        prefix.varint(len as u64);
        self.buf.splice(at..at + 1, prefix.buf);
    }

    /// A `map<string,string>` field: one entry message per pair, in the iterator's (key) order.
    pub fn string_map<'a>(&mut self, field: u32, map: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (k, v) in map {
            self.message(field, |w| {
                w.string(1, k);
                w.string(2, v);
            });
        }
    }
}

/// A whole response body: magic, then `runtime.Unknown{typeMeta, raw, contentEncoding, contentType}`.
pub fn envelope(api_version: &str, kind: &str, size_hint: usize, object: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::with_capacity(size_hint + 64);
    w.buf.extend_from_slice(MAGIC);
    w.message(1, |w| {
        w.string(1, api_version);
        w.string(2, kind);
    });
    w.message(2, object);
    w.string(3, "");
    w.string(4, "");
    w.into_inner()
}

/// Implemented by every object this server can answer with in protobuf.
pub trait Proto {
    /// apiVersion and kind written in the envelope (the messages themselves carry no type fields).
    fn type_meta(&self) -> (&str, &'static str);
    fn encode(&self, w: &mut Writer);
    /// A guess of the encoded size, to allocate once.
    fn size_hint(&self) -> usize {
        256
    }
}

/// The object in its envelope.
pub fn to_bytes<T: Proto + ?Sized>(obj: &T) -> Vec<u8> {
    let (api_version, kind) = obj.type_meta();
    envelope(api_version, kind, obj.size_hint(), |w| obj.encode(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_long_messages() {
        let mut w = Writer::default();
        w.int(7, 0);
        w.int(6, 403);
        w.int(1, -1);
        assert_eq!(
            w.into_inner(),
            [0x38, 0, 0x30, 0x93, 0x03, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        let long = "x".repeat(300);
        let mut w = Writer::default();
        w.message(2, |w| w.string(1, &long));
        let b = w.into_inner();
        // key 0x12, length 303 = ac 02, inner key 0x0a, length 300 = ac 02.
        assert_eq!(&b[..6], &[0x12, 0xaf, 0x02, 0x0a, 0xac, 0x02]);
        assert_eq!(b.len(), 3 + 3 + 300);
    }

    #[test]
    fn envelope_matches_the_apiserver_401() {
        // The 401 Status kube-apiserver v1.36 sends for protobuf (captured byte for byte).
        let want: &[u8] = b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Status\x12\x30\x0a\x06\x0a\x00\x12\x00\x1a\x00\x12\x07Failure\x1a\x0cUnauthorized\x22\x0cUnauthorized\x30\x91\x03\x1a\x00\x22\x00";
        let got = envelope("v1", "Status", 0, |w| {
            w.message(1, |w| {
                w.string(1, "");
                w.string(2, "");
                w.string(3, "");
            });
            w.string(2, "Failure");
            w.string(3, "Unauthorized");
            w.string(4, "Unauthorized");
            w.int(6, 401);
        });
        assert_eq!(got, want);
    }
}
