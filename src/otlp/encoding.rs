//! The two OTLP/HTTP payload encodings, named by content type or detected from the bytes.
//!
//! Receivers should trust `Content-Type` first ([`Encoding::from_content_type`]); [`detect`]
//! is for inputs that arrive without one (files, log records, `raw_traces` bodies).

/// How an `ExportTraceServiceRequest` is serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Binary protobuf, `application/x-protobuf`.
    Protobuf,
    /// OTLP/JSON (the proto3 JSON mapping with OTLP's deviations), `application/json`.
    Json,
}

impl Encoding {
    /// The `Content-Type` OTLP/HTTP uses for this encoding, on requests and responses.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    /// The encoding a `Content-Type` header names, ignoring parameters (`; charset=utf-8`)
    /// and case. `application/protobuf` is accepted too: some clients send it.
    pub fn from_content_type(content_type: &str) -> Option<Encoding> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf")
            || essence.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// Lowercase name used in error messages (`otlp json: ...`).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
        }
    }
}

/// Guesses the encoding from the bytes alone.
///
/// OTLP/JSON is an object, so it starts with `{` after optional whitespace. A protobuf
/// `ExportTraceServiceRequest` starts with the tag of field 1 (`resource_spans`, wire type
/// LEN): `0x0a`. The two can collide, which is why this is more than a first-byte test:
/// - `{` (0x7b) as a protobuf tag is field 15 with wire type 3 (start group). The request
///   has no field 15 and no OTLP encoder emits groups, so a leading `{` is always JSON.
/// - `0x0a` is also `\n`, JSON whitespace. A request whose first `ResourceSpans` is 123
///   bytes long starts `0a 7b`, which reads as `"\n{"`. So when the input starts with a
///   whitespace byte, it is JSON only if the first non-whitespace byte is `{` *and* the
///   bytes do not walk as a well-formed sequence of protobuf fields ending exactly at the
///   end of the input; pretty-printed JSON essentially never does.
/// - Any other first byte cannot start JSON, so it is protobuf (and the decoder reports
///   what is wrong with it). Empty input is an empty protobuf request.
pub fn detect(bytes: &[u8]) -> Encoding {
    match bytes.first() {
        Some(b'{') => Encoding::Json,
        Some(b) if is_json_whitespace(*b) => {
            let first_non_ws = bytes.iter().find(|b| !is_json_whitespace(**b));
            if first_non_ws == Some(&b'{') && !is_protobuf_field_sequence(bytes) {
                Encoding::Json
            } else {
                Encoding::Protobuf
            }
        }
        _ => Encoding::Protobuf,
    }
}

fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// True when `bytes` is a sequence of protobuf fields (valid tags, wire types VARINT,
/// I64, LEN or I32) that ends exactly at the end of the input. Nested messages are not
/// walked: the top level is enough to tell protobuf from text.
fn is_protobuf_field_sequence(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some((tag, after_tag)) = read_varint(rest) else {
            return false;
        };
        if tag >> 3 == 0 || tag >> 3 > u64::from(u32::MAX >> 3) {
            return false;
        }
        let skip = match tag & 7 {
            0 => match read_varint(after_tag) {
                Some((_, after)) => after,
                None => return false,
            },
            1 => match after_tag.get(8..) {
                Some(after) => after,
                None => return false,
            },
            2 => {
                let Some((len, after_len)) = read_varint(after_tag) else {
                    return false;
                };
                match usize::try_from(len)
                    .ok()
                    .and_then(|len| after_len.get(len..))
                {
                    Some(after) => after,
                    None => return false,
                }
            }
            5 => match after_tag.get(4..) {
                Some(after) => after,
                None => return false,
            },
            _ => return false,
        };
        rest = skip;
    }
    true
}

/// A base-128 varint of at most 10 bytes and the bytes after it.
fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, bytes.get(i + 1..)?));
        }
    }
    None
}
