//! The request content codings the relay reads: every one the Collector's OTLP receiver
//! reads by default, so an exporter set to any compression its Collector accepts loses no
//! batch here (a refusal is a 415, which exporters do not retry).
//!
//! Followed: `config/confighttp/compression.go` and `config/configgrpc/internal/
//! grpccompression/` of open-telemetry/opentelemetry-collector at 934999fb: `gzip`, `zstd`,
//! `zlib`, `deflate` (read as zlib, as RFC 9110 defines it), `snappy` (the block format, or
//! the framing format when the body starts with its stream identifier, as older Collectors
//! sent it), `x-snappy-framed`, `lz4` (the frame format). On gRPC, `grpc-encoding` `gzip`,
//! `zstd` and `snappy` (framed, as grpc-go's snappy compressor writes it).
//!
//! Every decoder stops once the output passes the limit, so a small body cannot expand
//! without bound; the core's one policy (identity, gzip, x-gzip) stays what the Envoy
//! filter reads, and it passes the others through unchanged.

use relink::otlp::{inflate, ContentCoding, InflateError};
use std::io::Read;

/// A request body's coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    /// `zlib` and `deflate`.
    Zlib,
    Zstd,
    /// `snappy`: the block format, or the framing format when the body says so.
    Snappy,
    /// `x-snappy-framed`.
    SnappyFramed,
    Lz4,
}

/// Why a body did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// It decodes past the limit.
    TooLarge,
    /// It is not valid in its coding (the decoder's message).
    Invalid(String),
}

/// The 10 bytes every snappy framing-format stream starts with (its stream identifier).
const SNAPPY_STREAM: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// The zstd window accepted at least: the Collector's exporters write 8 MiB windows.
const ZSTD_MIN_WINDOW: usize = 8 << 20;

impl Coding {
    /// The coding a `Content-Encoding` value names (absent or empty: identity), ignoring
    /// case; `None` for one the relay does not read.
    pub fn from_content_encoding(value: Option<&str>) -> Option<Coding> {
        // The core's names for the codings the Envoy filter reads too.
        match ContentCoding::from_header(value.map(str::as_bytes)) {
            Ok(ContentCoding::Identity) => return Some(Coding::Identity),
            Ok(ContentCoding::Gzip) => return Some(Coding::Gzip),
            Err(_) => {}
        }
        let name = value.unwrap_or_default().trim().to_ascii_lowercase();
        Some(match name.as_str() {
            "zlib" | "deflate" => Coding::Zlib,
            "zstd" => Coding::Zstd,
            "snappy" => Coding::Snappy,
            "x-snappy-framed" => Coding::SnappyFramed,
            "lz4" => Coding::Lz4,
            _ => return None,
        })
    }

    /// The coding of a gRPC message's `grpc-encoding` (absent: identity); `None` for one
    /// the relay does not read.
    pub fn from_grpc_encoding(value: Option<&str>) -> Option<Coding> {
        let name = value.unwrap_or_default().trim().to_ascii_lowercase();
        Some(match name.as_str() {
            "" | "identity" => Coding::Identity,
            "gzip" => Coding::Gzip,
            "zstd" => Coding::Zstd,
            "snappy" => Coding::SnappyFramed,
            _ => return None,
        })
    }

    /// The codings' names, for an error message and `grpc-accept-encoding`.
    pub const CONTENT_ENCODINGS: &'static str =
        "gzip, zstd, deflate, zlib, snappy, x-snappy-framed, lz4 or none";
    pub const GRPC_ENCODINGS: &'static str = "identity,gzip,zstd,snappy";

    pub fn name(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Zlib => "zlib",
            Coding::Zstd => "zstd",
            Coding::Snappy => "snappy",
            Coding::SnappyFramed => "x-snappy-framed",
            Coding::Lz4 => "lz4",
        }
    }

    /// `body` decoded, at most `limit` bytes (identity: the body itself).
    pub fn decode(self, body: Vec<u8>, limit: usize) -> Result<Vec<u8>, DecodeError> {
        let stream = |reader: &mut dyn Read| read_bounded(reader, limit);
        match self {
            Coding::Identity => Ok(body),
            Coding::Gzip => inflate(&body, limit).map_err(|e| match e {
                InflateError::TooLarge { .. } => DecodeError::TooLarge,
                InflateError::Invalid(message) => DecodeError::Invalid(message),
            }),
            Coding::Zlib => stream(&mut flate2::read::ZlibDecoder::new(body.as_slice())),
            Coding::Zstd => zstd(&body, limit),
            Coding::Snappy if body.starts_with(SNAPPY_STREAM) => {
                stream(&mut snap::read::FrameDecoder::new(body.as_slice()))
            }
            Coding::Snappy => {
                let size = snap::raw::decompress_len(&body)
                    .map_err(|e| DecodeError::Invalid(e.to_string()))?;
                if size > limit {
                    return Err(DecodeError::TooLarge);
                }
                snap::raw::Decoder::new()
                    .decompress_vec(&body)
                    .map_err(|e| DecodeError::Invalid(e.to_string()))
            }
            Coding::SnappyFramed => stream(&mut snap::read::FrameDecoder::new(body.as_slice())),
            Coding::Lz4 => lz4(&body, limit),
        }
    }
}

/// Everything `reader` gives, refused once past `limit`.
fn read_bounded(reader: &mut dyn Read, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    read_into(reader, &mut out, limit)?;
    Ok(out)
}

/// Appends everything `reader` gives to `out`, refused once `out` passes `limit`.
fn read_into(reader: &mut dyn Read, out: &mut Vec<u8>, limit: usize) -> Result<(), DecodeError> {
    let room = limit.saturating_sub(out.len());
    let cap = u64::try_from(room).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(out)
        .map_err(|e| DecodeError::Invalid(e.to_string()))?;
    match out.len() > limit {
        true => Err(DecodeError::TooLarge),
        false => Ok(()),
    }
}

/// A body read as a slice, noting whether a read ever asked for more than was left: a
/// decoder that does so was cut short mid-frame.
struct Exact<'a> {
    rest: &'a [u8],
    short: bool,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.rest.len());
        self.short |= n < buf.len();
        let (now, later) = self.rest.split_at(n);
        if let Some(to) = buf.get_mut(..n) {
            to.copy_from_slice(now);
        }
        self.rest = later;
        Ok(n)
    }
}

/// Every frame of an lz4 body, as Go's reader takes them: a frame cut short, or bytes
/// after the last frame that are not one, are invalid.
fn lz4(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let mut frame = lz4_flex::frame::FrameDecoder::new(Exact { rest, short: false });
        read_into(&mut frame, &mut out, limit)?;
        let source = frame.into_inner();
        // A whole frame is read exactly up to its end mark (and checksum), never past it.
        if source.short {
            return Err(DecodeError::Invalid("an lz4 frame is cut short".into()));
        }
        if source.rest.len() == rest.len() {
            return Err(DecodeError::Invalid("bytes after the lz4 frames".into()));
        }
        rest = source.rest;
    }
    Ok(out)
}

/// Every frame of a zstd body (a stream may hold several, and skippable frames anywhere).
fn zstd(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
    let window = u64::try_from(limit.max(ZSTD_MIN_WINDOW)).unwrap_or(u64::MAX);
    let (mut source, mut out) = (body, Vec::new());
    while !source.is_empty() {
        match ruzstd::decoding::StreamingDecoder::new_with_max_window_size(&mut source, window) {
            Ok(mut frame) => {
                read_into(&mut frame, &mut out, limit)?;
                let (sent, computed) = (
                    frame.decoder.get_checksum_from_data(),
                    frame.decoder.get_calculated_checksum(),
                );
                if sent.is_some() && sent != computed {
                    return Err(DecodeError::Invalid("zstd frame checksum mismatch".into()));
                }
            }
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                let length = usize::try_from(length).unwrap_or(usize::MAX);
                source = source.get(length..).ok_or_else(|| {
                    DecodeError::Invalid("a skippable frame runs past the body".into())
                })?;
            }
            Err(e) => return Err(DecodeError::Invalid(e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"resourceSpans resourceSpans resourceSpans scopeSpans spans";

    fn all_ok(coding: Coding, body: Vec<u8>) {
        assert_eq!(
            coding.decode(body.clone(), TEXT.len()),
            Ok(TEXT.to_vec()),
            "{coding:?}"
        );
        assert_eq!(
            coding.decode(body, TEXT.len() - 1),
            Err(DecodeError::TooLarge),
            "{coding:?}"
        );
    }

    #[test]
    fn every_coding_decodes_within_its_limit() {
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(TEXT).unwrap_or_default();
        all_ok(Coding::Zlib, zlib.finish().unwrap_or_default());
        all_ok(Coding::Gzip, relink::otlp::gzip(TEXT));
        // Two frames, a skippable frame between them.
        let half = TEXT.len() / 2;
        let level = ruzstd::encoding::CompressionLevel::Fastest;
        let mut zstd = ruzstd::encoding::compress_to_vec(&TEXT[..half], level);
        zstd.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        zstd.extend(ruzstd::encoding::compress_to_vec(&TEXT[half..], level));
        all_ok(Coding::Zstd, zstd);
        let block = snap::raw::Encoder::new()
            .compress_vec(TEXT)
            .unwrap_or_default();
        all_ok(Coding::Snappy, block);
        let mut framed = snap::write::FrameEncoder::new(Vec::new());
        framed.write_all(TEXT).unwrap_or_default();
        let framed = framed.into_inner().unwrap_or_default();
        all_ok(Coding::Snappy, framed.clone());
        all_ok(Coding::SnappyFramed, framed);
        // Two lz4 frames: both are read.
        let frame = |text: &[u8]| {
            let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
            lz4.write_all(text).unwrap_or_default();
            lz4.finish().unwrap_or_default()
        };
        let two = [frame(&TEXT[..half]), frame(&TEXT[half..])].concat();
        all_ok(Coding::Lz4, two.clone());
        // Cut short, or followed by bytes that are not a frame: invalid, not a quiet 200.
        for bad in [
            two[..two.len() - 2].to_vec(),
            [&two[..], b"trailing"].concat(),
        ] {
            assert!(
                matches!(
                    Coding::Lz4.decode(bad, 1 << 20),
                    Err(DecodeError::Invalid(_))
                ),
                "lz4"
            );
        }
        assert_eq!(Coding::Identity.decode(TEXT.to_vec(), 0), Ok(TEXT.to_vec()));
    }

    #[test]
    fn broken_bodies_are_invalid_not_too_large() {
        for coding in [
            Coding::Gzip,
            Coding::Zlib,
            Coding::Zstd,
            Coding::Snappy,
            Coding::SnappyFramed,
            Coding::Lz4,
        ] {
            let got = coding.decode(b"\x00\x01 not compressed".to_vec(), 1 << 20);
            assert!(
                matches!(got, Err(DecodeError::Invalid(_))),
                "{coding:?}: {got:?}"
            );
        }
        // A zstd frame whose content checksum does not match its content.
        let mut sealed =
            ruzstd::encoding::compress_to_vec(TEXT, ruzstd::encoding::CompressionLevel::Fastest);
        if let Some(last) = sealed.last_mut() {
            *last ^= 0xff;
        }
        assert!(matches!(
            Coding::Zstd.decode(sealed, 1 << 20),
            Err(DecodeError::Invalid(_))
        ));
        // A snappy block announcing 1 GiB is refused before anything is allocated.
        let announced = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00];
        assert_eq!(
            Coding::Snappy.decode(announced.to_vec(), 1 << 20),
            Err(DecodeError::TooLarge)
        );
    }

    #[test]
    fn names_as_the_collector_reads_them() {
        let http = |v: &str| Coding::from_content_encoding(Some(v));
        assert_eq!(Coding::from_content_encoding(None), Some(Coding::Identity));
        assert_eq!(http("x-gzip"), Some(Coding::Gzip));
        assert_eq!(http("Deflate"), Some(Coding::Zlib));
        assert_eq!(http(" zstd "), Some(Coding::Zstd));
        assert_eq!(http("x-snappy-framed"), Some(Coding::SnappyFramed));
        assert_eq!(http("lz4"), Some(Coding::Lz4));
        assert_eq!(http("br"), None);
        let grpc = |v: &str| Coding::from_grpc_encoding(Some(v));
        assert_eq!(grpc("snappy"), Some(Coding::SnappyFramed));
        assert_eq!(grpc("zstd"), Some(Coding::Zstd));
        assert_eq!(grpc("deflate"), None);
    }
}
