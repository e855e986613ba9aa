//! JSON helpers every reader of input JSON shares: [`strict`] parsing (duplicate keys are
//! errors), typed [`fields`] that name the field in every error, and a [`borrowed`] tree
//! for the readers that skip the `Value`.

pub(crate) mod borrowed;
pub(crate) mod fields;
pub(crate) mod strict;

/// An event's bytes without a leading UTF-8 byte order mark. JSON texts must not start with
/// one, but RFC 8259 lets parsers ignore it, and files saved by Windows tools (the .NET
/// Lambda samples) carry it.
pub(crate) fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}
