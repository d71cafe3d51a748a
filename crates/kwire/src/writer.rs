//! Building one protobuf message.

/// A message under construction: fields are appended in the order written.
#[derive(Default, Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Writer { buf: Vec::with_capacity(n) }
    }

    fn put_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.put_varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// An integer or boolean field (int32/int64 as two's complement, as Go writes them).
    pub fn varint(&mut self, field: u32, v: u64) {
        self.key(field, 0);
        self.put_varint(v);
    }

    pub fn int64(&mut self, field: u32, v: i64) {
        self.varint(field, v as u64);
    }

    pub fn bool(&mut self, field: u32, v: bool) {
        self.varint(field, u64::from(v));
    }

    pub fn double(&mut self, field: u32, v: f64) {
        self.fixed64(field, v.to_bits());
    }

    pub fn float(&mut self, field: u32, v: f32) {
        self.fixed32(field, v.to_bits());
    }

    pub fn fixed64(&mut self, field: u32, v: u64) {
        self.key(field, 1);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn fixed32(&mut self, field: u32, v: u32) {
        self.key(field, 5);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A length-delimited field: bytes, a string, or an encoded message.
    pub fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.put_varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    pub fn message(&mut self, field: u32, encoded: &[u8]) {
        self.bytes(field, encoded);
    }

    /// A present but empty length-delimited field (an empty string or message).
    pub fn empty(&mut self, field: u32) {
        self.bytes(field, &[]);
    }

    /// Bytes outside the field structure (the envelope's magic).
    pub fn raw_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}
