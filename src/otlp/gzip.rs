//! gzip for OTLP/HTTP bodies (`Content-Encoding: gzip`), bounded against gzip bombs.
//!
//! The OTLP specification requires receivers to limit the body size *after*
//! decompression (64 MiB recommended), so inflation stops as soon as it passes the limit
//! instead of inflating everything and measuring afterwards.

use crate::error::DecodeError;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{Read, Write};

/// The limit the OTLP specification recommends for a request body after decompression.
pub const DEFAULT_INFLATED_LIMIT: usize = 64 * 1024 * 1024;

/// True when the bytes start with the gzip magic number (`1f 8b`).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Why a gzip body did not inflate: hosts answer the two differently (413 and 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// It inflates past the limit.
    TooLarge { limit: usize },
    /// It is not valid gzip (the inflater's message).
    Invalid(String),
}

impl std::fmt::Display for InflateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InflateError::TooLarge { limit } => {
                write!(f, "inflates past the limit of {limit} bytes")
            }
            InflateError::Invalid(message) => f.write_str(message),
        }
    }
}

/// Inflates a gzip body, reading at most `limit` inflated bytes.
///
/// Concatenated gzip members are inflated in turn, as `Content-Encoding: gzip` allows.
/// More than `limit` bytes is an error, reported as soon as byte `limit + 1` appears, so
/// memory stays bounded by `limit` whatever the compression ratio.
pub fn inflate(bytes: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| InflateError::Invalid(e.to_string()))?;
    if out.len() > limit {
        return Err(InflateError::TooLarge { limit });
    }
    Ok(out)
}

/// [`inflate`], its error as the decode error the core reports for a request body.
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    inflate(bytes, limit).map_err(|e| gzip_error(e.to_string()))
}

/// Compresses bytes as one gzip member (default level, mtime 0, so the output is
/// deterministic).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2 + 32),
        Compression::default(),
    );
    // Writing into a Vec cannot fail and deflate only errors on API misuse, so the
    // empty fallback is never taken; it exists so that no path can panic.
    let written = encoder.write_all(bytes).is_ok();
    match encoder.finish() {
        Ok(out) if written => out,
        _ => Vec::new(),
    }
}

fn gzip_error(message: String) -> DecodeError {
    DecodeError::Gzip {
        input: "otlp",
        field: "body".into(),
        message,
    }
}
