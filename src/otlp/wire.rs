//! The protobuf wire format, read in place: fields with their absolute byte offsets, no
//! allocation, and the varint writer the splicer needs.
//!
//! The reader is at least as strict as prost on everything it accepts (varints of at most
//! ten bytes with no overflow, keys that fit in `u32` with a non-zero tag, lengths inside
//! the enclosing message) and stricter where being exact would not pay: group wire types,
//! which no OTLP encoder emits, are refused. Refusal is not an error report; the caller
//! hands the input to the full decoder, which says in prost's words what is wrong.

/// The input is not something the in-place reader vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The value part of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Varint(u64),
    /// Eight bytes (fixed64, sfixed64, double).
    I64,
    /// Four bytes (fixed32, sfixed32, float).
    I32,
    /// Length-delimited: the payload is `input[start..end]`.
    Len {
        start: usize,
        end: usize,
    },
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub tag: u32,
    /// Offset of the field's key.
    pub start: usize,
    /// Offset just past the key (where a length prefix starts, for `Len`).
    pub after_key: usize,
    pub value: Value,
}

/// The fields of one message, in wire order. Offsets are relative to the buffer the
/// reader was made from, which is the whole input truncated at the message's end, so a
/// field can never reach past its message.
pub struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// The fields of `input[start..end]`.
    pub fn new(input: &'a [u8], start: usize, end: usize) -> Result<Fields<'a>, Malformed> {
        let data = input.get(..end).ok_or(Malformed)?;
        if start > end {
            return Err(Malformed);
        }
        Ok(Fields { data, pos: start })
    }

    /// The next field, or `None` at the end of the message.
    #[inline(always)]
    pub fn next_field(&mut self) -> Result<Option<Field>, Malformed> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let start = self.pos;
        let key = read_varint(self.data, &mut self.pos)?;
        if key > u64::from(u32::MAX) || key >> 3 == 0 {
            return Err(Malformed);
        }
        let tag = (key >> 3) as u32;
        let after_key = self.pos;
        let value = match key & 7 {
            0 => Value::Varint(read_varint(self.data, &mut self.pos)?),
            1 => {
                self.skip(8)?;
                Value::I64
            }
            2 => {
                let len = read_varint(self.data, &mut self.pos)?;
                let start = self.pos;
                let len = usize::try_from(len).map_err(|_| Malformed)?;
                self.skip(len)?;
                Value::Len {
                    start,
                    end: self.pos,
                }
            }
            5 => {
                self.skip(4)?;
                Value::I32
            }
            _ => return Err(Malformed),
        };
        Ok(Some(Field {
            tag,
            start,
            after_key,
            value,
        }))
    }

    /// Offset just past the last field read.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn skip(&mut self, n: usize) -> Result<(), Malformed> {
        let end = self.pos.checked_add(n).ok_or(Malformed)?;
        if end > self.data.len() {
            return Err(Malformed);
        }
        self.pos = end;
        Ok(())
    }
}

/// A base-128 varint at `*pos`, advancing past it. Ten bytes at most, and the tenth may
/// only carry the top bit of a `u64` (prost's overflow rule).
#[inline(always)]
pub fn read_varint(data: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
    let first = *data.get(*pos).ok_or(Malformed)?;
    if first < 0x80 {
        *pos += 1;
        return Ok(u64::from(first));
    }
    let mut value = u64::from(first & 0x7f);
    for i in 1..10 {
        let b = *data.get(*pos + i).ok_or(Malformed)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if i == 9 && b >= 2 {
                return Err(Malformed);
            }
            *pos += i + 1;
            return Ok(value);
        }
    }
    Err(Malformed)
}

/// Appends `value` as a canonical varint.
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// `value` as a canonical varint in a stack buffer, with its length (at most 10).
pub fn varint_bytes(mut value: u64) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    for b in buf.iter_mut() {
        n += 1;
        if value < 0x80 {
            *b = value as u8;
            break;
        }
        *b = (value as u8 & 0x7f) | 0x80;
        value >>= 7;
    }
    (buf, n)
}

/// Bytes `value` takes as a canonical varint.
pub fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(bytes: &[u8]) -> Result<Vec<Field>, Malformed> {
        let mut f = Fields::new(bytes, 0, bytes.len())?;
        let mut out = Vec::new();
        while let Some(field) = f.next_field()? {
            out.push(field);
        }
        Ok(out)
    }

    #[test]
    fn varints_round_trip_and_overflow_is_refused() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let (buf, n) = varint_bytes(v);
            assert_eq!(&buf[..n], out.as_slice(), "{v}");
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Ok(v));
            assert_eq!(pos, out.len());
        }
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(read_varint(&too_big, &mut 0), Err(Malformed));
        let eleven = [
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ];
        assert_eq!(read_varint(&eleven, &mut 0), Err(Malformed));
        assert_eq!(read_varint(&[0x80], &mut 0), Err(Malformed));
        // A padded (non-canonical) varint is valid, as in prost.
        assert_eq!(read_varint(&[0x81, 0x00], &mut 0), Ok(1));
    }

    #[test]
    fn reads_each_wire_type_with_offsets() {
        // field 1 varint 150, field 2 "hi", field 3 fixed64, field 4 fixed32
        let bytes = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3,
            4,
        ];
        let got = fields(&bytes).unwrap_or_default();
        assert_eq!(
            got,
            vec![
                Field {
                    tag: 1,
                    start: 0,
                    after_key: 1,
                    value: Value::Varint(150)
                },
                Field {
                    tag: 2,
                    start: 3,
                    after_key: 4,
                    value: Value::Len { start: 5, end: 7 }
                },
                Field {
                    tag: 3,
                    start: 7,
                    after_key: 8,
                    value: Value::I64
                },
                Field {
                    tag: 4,
                    start: 16,
                    after_key: 17,
                    value: Value::I32
                },
            ]
        );
    }

    #[test]
    fn refuses_groups_zero_tags_and_overruns() {
        assert_eq!(fields(&[0x0b, 0x0c]), Err(Malformed)); // start group, end group
        assert_eq!(fields(&[0x00, 0x00]), Err(Malformed)); // tag 0
        assert_eq!(fields(&[0x12, 0x05, b'a']), Err(Malformed)); // length past the end
        assert_eq!(fields(&[0x19, 1, 2]), Err(Malformed)); // short fixed64
                                                           // A key above u32::MAX.
        assert_eq!(
            fields(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00]),
            Err(Malformed)
        );
        // A message ends where its reader ends, even inside a longer buffer.
        let bytes = [0x12, 0x02, b'a', b'b'];
        let mut f = Fields::new(&bytes, 0, 3).unwrap_or(Fields { data: &[], pos: 0 });
        assert_eq!(f.next_field(), Err(Malformed));
        assert_eq!(fields(&[]), Ok(Vec::new()));
    }
}
