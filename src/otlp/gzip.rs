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

/// Inflates a gzip body, reading at most `limit` inflated bytes.
///
/// Concatenated gzip members are inflated in turn, as `Content-Encoding: gzip` allows.
/// More than `limit` bytes is an error, reported as soon as byte `limit + 1` appears, so
/// memory stays bounded by `limit` whatever the compression ratio.
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| gzip_error(e.to_string()))?;
    if out.len() > limit {
        return Err(gzip_error(format!(
            "inflates past the limit of {limit} bytes"
        )));
    }
    Ok(out)
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
