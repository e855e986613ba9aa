//! `Content-Encoding` of OTLP/HTTP bodies that relink decodes and encodes again: what the
//! Envoy filter relinks (it passes a body in any other coding on unchanged). The relay,
//! which must read every body it acknowledges, also reads the other codings the
//! Collector's receiver reads (`host-examples/relay/src/codings.rs`).
//!
//! OTLP/HTTP names `gzip` (and no coding); HTTP names `x-gzip` an alias of `gzip`
//! (RFC 9110, 8.4.1.3). Names are case-insensitive. Anything else is refused by name.

use super::gzip::{gunzip, gzip};
use crate::error::DecodeError;
use std::borrow::Cow;
use std::fmt;

/// A body's content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCoding {
    Identity,
    Gzip,
}

/// A `Content-Encoding` relink does not read, as it was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedCoding(pub String);

impl fmt::Display for UnsupportedCoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "content-encoding `{}` is not supported (use gzip or none)",
            self.0
        )
    }
}

impl std::error::Error for UnsupportedCoding {}

impl ContentCoding {
    /// The coding a `Content-Encoding` header value names; an absent header is
    /// `Identity`, as is an empty value.
    pub fn from_header(value: Option<&[u8]>) -> Result<ContentCoding, UnsupportedCoding> {
        let name = value.unwrap_or_default().trim_ascii();
        if name.is_empty() || name.eq_ignore_ascii_case(b"identity") {
            Ok(ContentCoding::Identity)
        } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
            Ok(ContentCoding::Gzip)
        } else {
            Err(UnsupportedCoding(
                String::from_utf8_lossy(name).into_owned(),
            ))
        }
    }

    /// The body decoded: itself for `Identity`, inflated to at most `limit` bytes for
    /// `Gzip` (a body that inflates further is an error, found as soon as it does).
    pub fn decode(self, body: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, DecodeError> {
        match self {
            ContentCoding::Identity => Ok(Cow::Borrowed(body)),
            ContentCoding::Gzip => gunzip(body, limit).map(Cow::Owned),
        }
    }

    /// A body encoded in this coding.
    pub fn encode(self, body: Vec<u8>) -> Vec<u8> {
        match self {
            ContentCoding::Identity => body,
            ContentCoding::Gzip => gzip(&body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_http_defines_them() {
        let coding = |v: &str| ContentCoding::from_header(Some(v.as_bytes()));
        assert_eq!(
            ContentCoding::from_header(None),
            Ok(ContentCoding::Identity)
        );
        assert_eq!(coding(""), Ok(ContentCoding::Identity));
        assert_eq!(coding("Identity"), Ok(ContentCoding::Identity));
        assert_eq!(coding("gzip"), Ok(ContentCoding::Gzip));
        assert_eq!(coding(" GZIP "), Ok(ContentCoding::Gzip));
        assert_eq!(coding("x-gzip"), Ok(ContentCoding::Gzip));
        assert_eq!(coding("br"), Err(UnsupportedCoding("br".into())));
        assert_eq!(
            coding("deflate").map_err(|e| e.to_string()),
            Err("content-encoding `deflate` is not supported (use gzip or none)".into())
        );
    }

    #[test]
    fn round_trips_within_the_limit() {
        let body = b"{\"resourceSpans\":[]}".to_vec();
        let packed = ContentCoding::Gzip.encode(body.clone());
        assert_eq!(
            ContentCoding::Gzip.decode(&packed, body.len()).unwrap(),
            body.as_slice()
        );
        assert!(ContentCoding::Gzip.decode(&packed, body.len() - 1).is_err());
        assert!(matches!(
            ContentCoding::Identity.decode(&body, 0),
            Ok(Cow::Borrowed(_))
        ));
    }
}
