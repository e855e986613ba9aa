//! Envoy HTTP filter (`envoy.filters.http.wasm`, proxy-wasm ABI 0.2.1, the proxy-wasm Rust
//! SDK) that relinks OTLP trace exports on their way to a collector.
//!
//! Envoy gives every worker thread its own VM and root context: `on_vm_start` reads the host
//! options ([`Options`], from `vm_config.configuration`), `on_configure` reads the relink
//! configuration (the plugin `configuration`) and builds the [`Processor`] that the worker's
//! HTTP contexts share, so the pointer index is per worker. Per request, the headers tell
//! whether it is a trace export (`POST` to `traces_path` with an OTLP content type, or the
//! OTLP/gRPC `Export` method); its body is buffered (`Pause` until end of stream),
//! processed and replaced. Any error passes the original body on and is logged.
//!
//! Envoy behaviour this file is shaped by (read from Envoy's and proxy-wasm-cpp-host's source):
//! - Headers go upstream when `on_http_request_headers` returns, and stopping there stalls
//!   the body too, so `content-length` is removed up front (the upstream request is then
//!   chunked or HTTP/2-framed) instead of being fixed once the new body is known. Request
//!   headers are gone in the body phase: Envoy answers BadArgument and the SDK traps.
//! - A buffered body counts against the listener's `per_connection_buffer_limit_bytes`;
//!   beyond it Envoy itself answers 413, so `max_body_bytes` must stay below that limit.
//! - Header values are read as bytes: the SDK's string getters panic on non-UTF-8 values.

use crate::config::Config;
use crate::otlp::{self, Encoding};
use crate::relink::Processor;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

/// `:path` of the OTLP/gRPC trace export method.
const GRPC_EXPORT_PATH: &[u8] = b"/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Host options: JSON in `vm_config.configuration`; absent or empty means the defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Options {
    /// `:path` of OTLP/HTTP trace exports (the query string is ignored). Default `/v1/traces`.
    traces_path: String,
    /// Bodies larger than this, as received (before gunzip), pass through untouched. Keep it
    /// below the listener's `per_connection_buffer_limit_bytes`. Default 524288, half of
    /// Envoy's default limit (1 MiB).
    max_body_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            traces_path: "/v1/traces".into(),
            max_body_bytes: 512 * 1024,
        }
    }
}

#[derive(Default)]
struct Root {
    options: Rc<Options>,
    processor: Option<Rc<RefCell<Processor>>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        match utf8(self.get_vm_configuration(), "vm configuration")
            .and_then(|json| parse_options(&json))
        {
            Ok(options) => {
                self.options = Rc::new(options);
                true
            }
            Err(e) => {
                log(LogLevel::Error, &format!("invalid vm configuration: {e}"));
                false
            }
        }
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let built =
            utf8(self.get_plugin_configuration(), "plugin configuration").and_then(|json| {
                Config::from_json(&json)
                    .and_then(|c| c.build())
                    .map_err(|e| e.to_string())
            });
        match built {
            Ok(processor) => {
                self.processor = Some(Rc::new(RefCell::new(processor)));
                true
            }
            Err(e) => {
                log(
                    LogLevel::Error,
                    &format!("invalid plugin configuration: {e}"),
                );
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Filter {
            options: Rc::clone(&self.options),
            processor: self.processor.clone(),
            export: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// How a trace export's body is framed, from its headers.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// OTLP/HTTP: the body is one request in this encoding.
    Http(Encoding),
    /// OTLP/gRPC: length-prefixed protobuf messages.
    Grpc,
}

#[derive(Debug, Clone, Copy)]
struct Export {
    framing: Framing,
    /// `content-encoding: gzip`: inflate before, deflate after.
    gzip: bool,
}

struct Filter {
    options: Rc<Options>,
    processor: Option<Rc<RefCell<Processor>>>,
    /// Set from the headers while a trace export's body is being buffered.
    export: Option<Export>,
}

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if end_of_stream || self.processor.is_none() {
            return Action::Continue;
        }
        let header = |name: &str| self.get_http_request_header_bytes(name).unwrap_or_default();
        let (method, path) = (header(":method"), header(":path"));
        match classify(
            &self.options,
            &method,
            &path,
            &header("content-type"),
            &header("content-encoding"),
        ) {
            Ok(Some(export)) => {
                self.set_http_request_header("content-length", None);
                self.export = Some(export);
            }
            Ok(None) => {}
            Err(e) => log(LogLevel::Warn, &format!("{e}; passed through unchanged")),
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(export) = self.export else {
            return Action::Continue;
        };
        if body_size > self.options.max_body_bytes {
            self.export = None;
            let limit = self.options.max_body_bytes;
            log(LogLevel::Warn, &format!("request body of {body_size} bytes exceeds max_body_bytes ({limit}); passed through unchanged"));
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.export = None;
        let Some(body) = self.get_http_request_body(0, body_size) else {
            return Action::Continue;
        };
        match self.rewrite(export, &body) {
            Ok(Some(output)) => self.set_http_request_body(0, body_size, &output),
            Ok(None) => {}
            Err(e) => log(
                LogLevel::Warn,
                &format!("{e}; body passed through unchanged"),
            ),
        }
        Action::Continue
    }
}

impl Filter {
    /// The new body, `None` when nothing changed.
    fn rewrite(&self, export: Export, body: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let shared = self
            .processor
            .as_ref()
            .ok_or("no processor: the plugin is not configured")?;
        let mut processor = shared
            .try_borrow_mut()
            .map_err(|_| "processor already in use")?;
        let now = unix_nanos(self.get_current_time());
        let limit =
            usize::try_from(processor.config().limits.max_request_bytes).unwrap_or(usize::MAX);
        let plain = match export.gzip {
            true => Cow::Owned(otlp::gunzip(body, limit).map_err(|e| e.to_string())?),
            false => Cow::Borrowed(body),
        };
        let output = match export.framing {
            Framing::Http(encoding) => process(&mut processor, &plain, encoding, now)?,
            Framing::Grpc => process_grpc(&mut processor, &plain, now)?,
        };
        Ok(output.map(|o| if export.gzip { otlp::gzip(&o) } else { o }))
    }
}

/// Whether a request is a trace export this filter handles (`Ok(None)`: not one; `Err`: one
/// it cannot handle).
fn classify(
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
    let gzip = if content_encoding.is_empty() || content_encoding.eq_ignore_ascii_case(b"identity")
    {
        false
    } else if content_encoding.eq_ignore_ascii_case(b"gzip") {
        true
    } else {
        return Err(format!(
            "trace export with content-encoding {:?}",
            String::from_utf8_lossy(content_encoding)
        ));
    };
    Ok(Some(Export { framing, gzip }))
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
    Ok((processed.output.as_ref() != input).then(|| processed.output.into_owned()))
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

fn parse_options(json: &str) -> Result<Options, String> {
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
    Ok(options)
}

/// A configuration buffer as text; absent or blank means `{}` (the defaults).
fn utf8(bytes: Option<Vec<u8>>, what: &str) -> Result<String, String> {
    let text = String::from_utf8(bytes.unwrap_or_default())
        .map_err(|e| format!("{what} is not UTF-8: {e}"))?;
    Ok(if text.trim().is_empty() {
        "{}".into()
    } else {
        text
    })
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

fn log(level: LogLevel, message: &str) {
    // Envoy answers Ok for every level the SDK defines; nothing to do if it did not.
    let _ = hostcalls::log(level, message);
}

/// The module's entry point: the only `unsafe` in this binding.
mod shim {
    use super::Root;
    use proxy_wasm::traits::RootContext;
    use proxy_wasm::types::LogLevel;

    extern "C" {
        /// Runs the static constructors wasm-ld collected (wasi-libc's and std's).
        fn __wasm_call_ctors();
    }

    /// WASI reactor initialisation. Envoy (proxy-wasm-cpp-host `startVm`) calls it once,
    /// before any other export, as the SDK's `main!` macro expects.
    #[no_mangle]
    pub extern "C" fn _initialize() {
        // SAFETY: wasm-ld defines `__wasm_call_ctors` in every wasm32-wasip1 module; it takes
        // no arguments and must run exactly once before other code, which holds because the
        // host calls `_initialize` once, first. Defining `_initialize` here is what stops
        // wasm-ld from wrapping every export in its own constructor call.
        unsafe { __wasm_call_ctors() };
        proxy_wasm::set_log_level(LogLevel::Info);
        proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
    }
}
