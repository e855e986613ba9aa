//! The Envoy filter's request handling, apart from the proxy-wasm calls (`lib.rs`): which
//! requests are trace exports, and an export body in, the new body out. Plain Rust on
//! every target, so the tests and the fuzzer (`fuzz_targets/envoy_body.rs`) drive exactly
//! what the filter runs on a body.

use relink::otlp::{ContentCoding, Encoding};
use relink::Processor;
use serde::Deserialize;
use std::borrow::Cow;

/// `:path` of the OTLP/gRPC trace export method.
const GRPC_EXPORT_PATH: &[u8] = b"/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Envoy's default `per_connection_buffer_limit_bytes` (1 MiB).
pub const ENVOY_DEFAULT_BUFFER_LIMIT: usize = 1024 * 1024;
/// Envoy's default HTTP/2 `initial_stream_window_size` (256 MiB).
pub const ENVOY_DEFAULT_STREAM_WINDOW: usize = 256 * 1024 * 1024;

/// Host options: JSON in `vm_config.configuration`; absent or empty means the defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// `:path` of OTLP/HTTP trace exports (the query string is ignored). Default `/v1/traces`.
    pub traces_path: String,
    /// Bodies larger than this, as received (before gunzip), pass through untouched.
    /// Default 524288: half of Envoy's default buffer limit, so that the chunk that crosses
    /// it still fits in Envoy's buffer (README "Sizing").
    pub max_body_bytes: usize,
    /// The listener's `per_connection_buffer_limit_bytes`, Envoy's limit on a buffered
    /// HTTP/1 request body (default 1048576, Envoy's default).
    pub per_connection_buffer_limit_bytes: usize,
    /// The HTTP connection manager's `http2_protocol_options.initial_stream_window_size`,
    /// Envoy's limit on a buffered HTTP/2 request body, so on every OTLP/gRPC export
    /// (default 268435456, Envoy's default).
    pub initial_stream_window_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            traces_path: "/v1/traces".into(),
            max_body_bytes: 512 * 1024,
            per_connection_buffer_limit_bytes: ENVOY_DEFAULT_BUFFER_LIMIT,
            initial_stream_window_size: ENVOY_DEFAULT_STREAM_WINDOW,
        }
    }
}

/// Envoy's limit on a buffered request body, for a request of this protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLimit {
    pub bytes: usize,
    /// The Envoy setting the limit comes from, for the log line.
    pub setting: &'static str,
}

impl Options {
    /// The limit Envoy applies to a buffered request body of this protocol (the
    /// `request.protocol` property: `HTTP/1.1`, `HTTP/2`, ...). HTTP/1 streams take the
    /// connection's limit (`codec_impl.cc`, the stream's `bufferLimit()`), HTTP/2 streams the
    /// stream window (`per_stream_buffer_limit_`); for any other or an unknown protocol the
    /// smaller of the two, so that the filter never counts on more than Envoy gives.
    pub fn buffer_limit(&self, protocol: Option<&[u8]>) -> BufferLimit {
        let http1 = BufferLimit {
            bytes: self.per_connection_buffer_limit_bytes,
            setting: "per_connection_buffer_limit_bytes",
        };
        let http2 = BufferLimit {
            bytes: self.initial_stream_window_size,
            setting: "initial_stream_window_size",
        };
        match protocol {
            Some(b"HTTP/1.0" | b"HTTP/1.1") => http1,
            Some(b"HTTP/2") => http2,
            _ if http2.bytes < http1.bytes => http2,
            _ => http1,
        }
    }
}

/// How a trace export's body is framed, from its headers.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    /// OTLP/HTTP: the body is one request in this encoding.
    Http(Encoding),
    /// OTLP/gRPC: length-prefixed protobuf messages.
    Grpc,
}

#[derive(Debug, Clone, Copy)]
pub struct Export {
    pub framing: Framing,
    /// `content-encoding` (the core's one policy: identity, gzip, x-gzip): decoded before,
    /// encoded again after.
    pub coding: ContentCoding,
}

/// A trace export's new body, `None` when nothing changed; `Err` passes the body on as it
/// is. A gzip body is inflated (within `limits.max_request_bytes`) and deflated again.
pub fn rewrite(
    processor: &mut Processor,
    export: Export,
    body: &[u8],
    now: u64,
) -> Result<Option<Vec<u8>>, String> {
    let limit = processor.settings().bounds.request_bytes;
    let plain = export
        .coding
        .decode(body, limit)
        .map_err(|e| e.to_string())?;
    let output = match export.framing {
        Framing::Http(encoding) => process(processor, &plain, encoding, now)?,
        Framing::Grpc => process_grpc(processor, &plain, now)?,
    };
    Ok(output.map(|o| export.coding.encode(o)))
}

/// Whether a request is a trace export this filter handles (`Ok(None)`: not one; `Err`: one
/// it cannot handle).
pub fn classify(
    options: &Options,
    method: &[u8],
    path: &[u8],
    content_type: &[u8],
    content_encoding: &[u8],
) -> Result<Option<Export>, String> {
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    let content_type = String::from_utf8_lossy(content_type);
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let framing = if method != b"POST" {
        return Ok(None);
    } else if path == GRPC_EXPORT_PATH
        && (essence == "application/grpc" || essence == "application/grpc+proto")
    {
        Framing::Grpc
    } else if path == options.traces_path.as_bytes() {
        match Encoding::from_content_type(&content_type) {
            Some(encoding) => Framing::Http(encoding),
            None => return Err(format!("trace export with content-type {content_type:?}")),
        }
    } else {
        return Ok(None);
    };
    let coding = ContentCoding::from_header(Some(content_encoding))
        .map_err(|e| format!("trace export: {e}"))?;
    Ok(Some(Export { framing, coding }))
}

/// One OTLP request through the core; `None` when it came out unchanged.
fn process(
    processor: &mut Processor,
    input: &[u8],
    encoding: Encoding,
    now: u64,
) -> Result<Option<Vec<u8>>, String> {
    let processed = processor.process_traces_as(input, encoding, now);
    if let Some(e) = processed.error {
        return Err(e.to_string());
    }
    // The core hands back the input itself (borrowed) when nothing changed: no need to
    // compare megabytes to know.
    match processed.output {
        Cow::Borrowed(_) => Ok(None),
        Cow::Owned(output) => Ok(Some(output)),
    }
}

/// gRPC framing: per message a compressed flag (1 byte), a big-endian length (4 bytes),
/// then the message. Compressed messages (`grpc-encoding`) are not handled.
fn process_grpc(
    processor: &mut Processor,
    body: &[u8],
    now: u64,
) -> Result<Option<Vec<u8>>, String> {
    let (mut rest, mut out, mut changed) = (body, Vec::with_capacity(body.len()), false);
    while let [flag, a, b, c, d, after @ ..] = rest {
        let len =
            usize::try_from(u32::from_be_bytes([*a, *b, *c, *d])).map_err(|e| e.to_string())?;
        let (Some(message), Some(next)) = (after.get(..len), after.get(len..)) else {
            return Err(format!(
                "grpc: message of {len} bytes truncated to {}",
                after.len()
            ));
        };
        if *flag != 0 {
            return Err("grpc: compressed message (grpc-encoding)".into());
        }
        let output = process(processor, message, Encoding::Protobuf, now)?;
        changed |= output.is_some();
        let output = output.as_deref().unwrap_or(message);
        let output_len = u32::try_from(output.len()).map_err(|_| "grpc: message over 4 GiB")?;
        out.push(0);
        out.extend_from_slice(&output_len.to_be_bytes());
        out.extend_from_slice(output);
        rest = next;
    }
    if !rest.is_empty() {
        return Err(format!(
            "grpc: {} trailing bytes, not a message prefix",
            rest.len()
        ));
    }
    Ok(changed.then_some(out))
}

pub fn parse_options(json: &str) -> Result<Options, String> {
    let options: Options = serde_json::from_str(json).map_err(|e| e.to_string())?;
    if !options.traces_path.starts_with('/') {
        return Err(format!(
            "`traces_path` {:?} must start with /",
            options.traces_path
        ));
    }
    if options.max_body_bytes == 0 {
        return Err("`max_body_bytes` must be at least 1".into());
    }
    // A body Envoy refuses (413) while it is being buffered never reaches the filter's
    // pass-through, so a `max_body_bytes` at or past a limit would turn exports away.
    for (name, limit) in [
        (
            "per_connection_buffer_limit_bytes",
            options.per_connection_buffer_limit_bytes,
        ),
        (
            "initial_stream_window_size",
            options.initial_stream_window_size,
        ),
    ] {
        if options.max_body_bytes >= limit {
            return Err(format!(
                "`max_body_bytes` ({}) must be below `{name}` ({limit}): Envoy refuses a buffered body past it",
                options.max_body_bytes
            ));
        }
    }
    Ok(options)
}

/// Whether a new body may replace the buffered one: Envoy re-checks its buffer watermark
/// when the buffered body is replaced and answers 413 past the limit, losing the export, so a
/// relinked body larger than the limit is dropped in favour of the original (which fitted).
/// A body Envoy did not buffer (the whole body in one call) is not checked by Envoy.
pub fn fits(new_len: usize, buffered: bool, limit: BufferLimit) -> bool {
    !buffered || new_len <= limit.bytes
}
