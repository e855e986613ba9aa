//! 16-byte trace ids and 8-byte span ids, serialized as lowercase hex as OTLP/JSON does.

use serde::{Serialize, Serializer};
use std::fmt;

/// A 16-byte trace id. All-zero is invalid in W3C and never produced by a parser here.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// Parses exactly 32 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<TraceId> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(TraceId(out))
    }
    /// Builds from the high and low 64-bit halves (Datadog's 128-bit split).
    /// Parses exactly 32 lowercase hex digits, the only form W3C and X-Ray headers allow.
    pub fn from_lower_hex(s: &str) -> Option<TraceId> {
        if is_lower_hex(s) {
            TraceId::from_hex(s)
        } else {
            None
        }
    }
    pub fn from_u64_pair(high: u64, low: u64) -> TraceId {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&high.to_be_bytes());
        out[8..].copy_from_slice(&low.to_be_bytes());
        TraceId(out)
    }
    pub fn high(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_be_bytes([a, b, c, d, e, f, g, h])
    }
    pub fn low(&self) -> u64 {
        let [.., a, b, c, d, e, f, g, h] = self.0;
        u64::from_be_bytes([a, b, c, d, e, f, g, h])
    }
    pub fn is_valid(&self) -> bool {
        self.0 != [0; 16]
    }
    pub fn to_hex(&self) -> String {
        lower_hex(&self.0)
    }
}

impl SpanId {
    /// Parses exactly 16 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<SpanId> {
        let mut out = [0u8; 8];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(SpanId(out))
    }
    /// Parses exactly 16 lowercase hex digits, the only form W3C and X-Ray headers allow.
    pub fn from_lower_hex(s: &str) -> Option<SpanId> {
        if is_lower_hex(s) {
            SpanId::from_hex(s)
        } else {
            None
        }
    }
    pub fn from_u64(v: u64) -> SpanId {
        SpanId(v.to_be_bytes())
    }
    pub fn as_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }
    pub fn is_valid(&self) -> bool {
        self.0 != [0; 8]
    }
    pub fn to_hex(&self) -> String {
        lower_hex(&self.0)
    }
}

/// True when `s` is non-empty and only `0-9a-f`.
pub(crate) fn is_lower_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self.to_hex())
    }
}
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl Serialize for TraceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl Serialize for SpanId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// `bytes` as lowercase hex: what `hex::encode` gives, without its per-char `String`
/// building (ids and keys are hexed once per link relink writes).
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    let digit = |n: u8| char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 });
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0xf));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_hex_is_hex_encode() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(super::lower_hex(&all), hex::encode(&all));
        assert_eq!(super::lower_hex(&[]), "");
    }
}
