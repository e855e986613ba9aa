//! A small compact JSON writer: deterministic bytes, proto3 JSON scalar forms, and the
//! proto3 rule that fields holding their default value are omitted.
//!
//! A hand-written writer rather than serde: field order is fixed by the code (proto
//! declaration order), so the same request always gives the same bytes, which golden
//! files rely on.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Text that should have been UTF-8 is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8;

/// Output buffer plus whether the next value needs a `,` before it.
pub(crate) struct Writer {
    out: Vec<u8>,
    comma: bool,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            out: Vec::new(),
            comma: false,
        }
    }

    pub(crate) fn with_capacity(capacity: usize) -> Writer {
        Writer {
            out: Vec::with_capacity(capacity),
            comma: false,
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }

    fn sep(&mut self) {
        if self.comma {
            self.out.push(b',');
        }
    }

    pub(crate) fn begin_object(&mut self) {
        self.sep();
        self.out.push(b'{');
        self.comma = false;
    }

    pub(crate) fn end_object(&mut self) {
        self.out.push(b'}');
        self.comma = true;
    }

    pub(crate) fn begin_array(&mut self) {
        self.sep();
        self.out.push(b'[');
        self.comma = false;
    }

    pub(crate) fn end_array(&mut self) {
        self.out.push(b']');
        self.comma = true;
    }

    /// Writes `"key":`; the value written next belongs to it. Keys are the schema's field
    /// names, plain ASCII identifiers, so they are copied without escaping.
    pub(crate) fn key(&mut self, key: &str) {
        self.sep();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.comma = false;
    }

    pub(crate) fn string(&mut self, s: &str) {
        self.sep();
        escape(&mut self.out, s.as_bytes());
        self.comma = true;
    }

    /// Writes bytes that must be UTF-8 as a string, checking them while escaping (one
    /// pass over text straight from the wire). On `Err` the output is unusable.
    pub(crate) fn utf8_string(&mut self, bytes: &[u8]) -> Result<(), NotUtf8> {
        self.sep();
        if escape(&mut self.out, bytes) && std::str::from_utf8(bytes).is_err() {
            return Err(NotUtf8);
        }
        self.comma = true;
        Ok(())
    }

    /// [`Writer::str_field`] of bytes that must be UTF-8, as [`Writer::utf8_string`].
    pub(crate) fn utf8_field(&mut self, key: &str, bytes: &[u8]) -> Result<(), NotUtf8> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.key(key);
        self.utf8_string(bytes)
    }

    fn raw(&mut self, token: &str) {
        self.sep();
        self.out.extend_from_slice(token.as_bytes());
        self.comma = true;
    }

    pub(crate) fn bool(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }

    /// A 32-bit integer: a JSON number.
    pub(crate) fn int32(&mut self, n: impl Into<i64>) {
        self.sep();
        signed(&mut self.out, n.into());
        self.comma = true;
    }

    /// A 64-bit integer: a decimal string, as proto3 JSON requires (JavaScript numbers
    /// lose precision past 2^53).
    pub(crate) fn int64(&mut self, n: i64) {
        self.sep();
        self.out.push(b'"');
        signed(&mut self.out, n);
        self.out.push(b'"');
        self.comma = true;
    }

    /// An unsigned 64-bit integer, as [`Writer::int64`].
    pub(crate) fn uint64(&mut self, n: u64) {
        self.sep();
        self.out.push(b'"');
        decimal(&mut self.out, n);
        self.out.push(b'"');
        self.comma = true;
    }

    /// A double: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub(crate) fn double(&mut self, d: f64) {
        if d.is_nan() {
            self.string("NaN");
        } else if d.is_infinite() {
            self.string(if d > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            // Finite, so from_f64 succeeds; its Display is the shortest string that
            // parses back to the same double.
            match serde_json::Number::from_f64(d) {
                Some(n) => self.raw(&n.to_string()),
                None => self.string("NaN"),
            }
        }
    }

    pub(crate) fn base64(&mut self, bytes: &[u8]) {
        self.string(&STANDARD.encode(bytes));
    }

    // Field helpers: each omits a default value, as proto3 JSON output does.

    pub(crate) fn str_field(&mut self, key: &str, s: &str) {
        if !s.is_empty() {
            self.key(key);
            self.string(s);
        }
    }

    pub(crate) fn u32_field(&mut self, key: &str, n: u32) {
        if n != 0 {
            self.key(key);
            self.int32(n);
        }
    }

    pub(crate) fn i32_field(&mut self, key: &str, n: i32) {
        if n != 0 {
            self.key(key);
            self.int32(n);
        }
    }

    pub(crate) fn u64_field(&mut self, key: &str, n: u64) {
        if n != 0 {
            self.key(key);
            self.uint64(n);
        }
    }

    pub(crate) fn i64_field(&mut self, key: &str, n: i64) {
        if n != 0 {
            self.key(key);
            self.int64(n);
        }
    }

    /// A trace or span id as lowercase hex (OTLP's deviation from base64).
    pub(crate) fn id_field(&mut self, key: &str, id: &[u8]) {
        if !id.is_empty() {
            self.key(key);
            self.out.push(b'"');
            for b in id {
                self.out.push(hex_digit(b >> 4));
                self.out.push(hex_digit(b & 0xf));
            }
            self.out.push(b'"');
            self.comma = true;
        }
    }

    /// A present sub-message is written even when all its fields are default (`{}`):
    /// presence is information, and protobuf keeps it too.
    pub(crate) fn message_field<T>(
        &mut self,
        key: &str,
        value: Option<&T>,
        write: impl Fn(&mut Writer, &T),
    ) {
        if let Some(value) = value {
            self.key(key);
            write(self, value);
        }
    }

    pub(crate) fn list_field<T>(
        &mut self,
        key: &str,
        items: &[T],
        write: impl Fn(&mut Writer, &T),
    ) {
        if !items.is_empty() {
            self.key(key);
            self.begin_array();
            for item in items {
                write(self, item);
            }
            self.end_array();
        }
    }
}

/// The lowercase hex digit of a nibble.
fn hex_digit(nibble: u8) -> u8 {
    if nibble < 10 {
        b'0' + nibble
    } else {
        b'a' + nibble - 10
    }
}

/// `n` in decimal, without allocating (the numbers of a span are most of its output).
fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let start = out.len();
    loop {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(digits) = out.get_mut(start..) {
        digits.reverse();
    }
}

fn signed(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    decimal(out, n.unsigned_abs());
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of the word is below 0x20, `"` or `\\` (exact: the zero-byte test of
/// "Bit Twiddling Hacks", which has no false positives as a yes/no answer).
#[inline(always)]
fn needs_escape(word: u64) -> bool {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    (control | zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\')))) != 0
}

/// Writes `bytes` as a JSON string: only `"`, `\\` and control characters are escaped,
/// so UTF-8 is copied through untouched. Runs of eight bytes with nothing to escape are
/// skipped a word at a time. Returns whether any byte was not ASCII (the caller then
/// knows whether UTF-8 validity is in question).
fn escape(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    out.push(b'"');
    let mut high = 0u64;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            high |= word;
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes.get(i).copied().unwrap_or(0);
        high |= u64::from(b);
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if escaped.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xf));
        } else {
            out.extend_from_slice(escaped);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
    high & HIGH != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl Fn(&mut Writer)) -> String {
        let mut w = Writer::new();
        f(&mut w);
        String::from_utf8_lossy(&w.finish()).into_owned()
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_controls_only() {
        // DEL and non-ASCII need no escape in JSON and are copied as they are.
        assert_eq!(
            written(|w| w.string("a\"b\\c\nd\u{1}é\u{7f}")),
            "\"a\\\"b\\\\c\\nd\\u0001é\u{7f}\""
        );
    }

    #[test]
    fn doubles_follow_proto3_json() {
        let out = written(|w| {
            w.begin_object();
            w.key("a");
            w.double(f64::NAN);
            w.key("b");
            w.double(f64::NEG_INFINITY);
            w.key("c");
            w.double(1.0);
            w.key("d");
            w.double(-0.1);
            w.key("e");
            w.double(1e300);
            w.end_object();
        });
        assert_eq!(
            out,
            r#"{"a":"NaN","b":"-Infinity","c":1.0,"d":-0.1,"e":1e+300}"#
        );
    }

    #[test]
    fn defaults_are_omitted_and_commas_placed() {
        let out = written(|w| {
            w.begin_object();
            w.str_field("empty", "");
            w.u32_field("zero", 0);
            w.u64_field("big", u64::MAX);
            w.i32_field("neg", -3);
            w.list_field("none", &[] as &[u8], |_, _| {});
            w.list_field("ids", &[[0xABu8, 0x01]], |w, id| w.string(&hex::encode(id)));
            w.message_field("present", Some(&()), |w, _| {
                w.begin_object();
                w.end_object();
            });
            w.end_object();
        });
        assert_eq!(
            out,
            r#"{"big":"18446744073709551615","neg":-3,"ids":["ab01"],"present":{}}"#
        );
    }
}
