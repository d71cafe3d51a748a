//! Reading the fields of one protobuf message.

/// Why bytes are not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("not a Kubernetes protobuf object (no k8s\\0 magic)")]
    NoMagic,
    #[error("protobuf message truncated")]
    Truncated,
    #[error("protobuf varint longer than 10 bytes")]
    LongVarint,
    #[error("protobuf wire type {0} is not supported")]
    WireType(u8),
    #[error("protobuf field number 0")]
    FieldZero,
    #[error("a protobuf string is not UTF-8")]
    NotUtf8,
}

/// A field's value as the wire carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    /// Length-delimited: strings, bytes, embedded messages, packed repeated scalars.
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub number: u32,
    pub value: Value<'a>,
}

/// The fields of one message, in wire order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// The next field, or `None` at the end of the message.
    // Inlined into the decoders of other crates: it runs once per field of every object.
    #[allow(clippy::should_implement_trait)]
    #[inline(always)]
    pub fn next(&mut self) -> Result<Option<Field<'a>>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| WireError::FieldZero)?;
        if number == 0 {
            return Err(WireError::FieldZero);
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| WireError::Truncated)?)),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| WireError::Truncated)?)),
            other => return Err(WireError::WireType(other as u8)),
        };
        Ok(Some(Field { number, value }))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or(WireError::Truncated)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Field keys, lengths and most values fit one byte; longer varints take the loop.
    #[inline(always)]
    fn varint(&mut self) -> Result<u64, WireError> {
        match self.buf.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.long_varint(),
        }
    }

    fn long_varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(WireError::Truncated)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::LongVarint)
    }
}

/// Reads one varint at the start of `buf`: (value, bytes used).
pub fn read_varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in buf.iter().take(10).enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if *b < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;

    #[test]
    fn every_wire_type_reads_back_as_written() {
        let mut w = Writer::new();
        w.varint(1, 300);
        w.string(2, "héllo");
        w.fixed64(3, 0x0102_0304_0506_0708);
        w.fixed32(4, 7);
        w.varint(536_870_911, 1);
        let buf = w.into_bytes();
        let mut r = Reader::new(&buf);
        assert_eq!(r.next().unwrap(), Some(Field { number: 1, value: Value::Varint(300) }));
        assert_eq!(r.next().unwrap(), Some(Field { number: 2, value: Value::Bytes("héllo".as_bytes()) }));
        assert_eq!(r.next().unwrap(), Some(Field { number: 3, value: Value::Fixed64(0x0102_0304_0506_0708) }));
        assert_eq!(r.next().unwrap(), Some(Field { number: 4, value: Value::Fixed32(7) }));
        assert_eq!(r.next().unwrap(), Some(Field { number: 536_870_911, value: Value::Varint(1) }));
        assert_eq!(r.next().unwrap(), None);
    }

    #[test]
    fn broken_messages_are_errors_not_panics() {
        assert_eq!(Reader::new(&[0x0a, 0x05, b'a']).next(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[0x08]).next(), Err(WireError::Truncated));
        assert_eq!(
            Reader::new(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).next(),
            Err(WireError::LongVarint)
        );
        assert_eq!(Reader::new(&[0x0b]).next(), Err(WireError::WireType(3)));
        assert_eq!(Reader::new(&[0x00]).next(), Err(WireError::FieldZero));
        assert_eq!(read_varint(&[0x87, 0xcc, 0x01]), Some((26119, 3)));
    }
}
