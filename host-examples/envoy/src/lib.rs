//! Envoy HTTP filter (`envoy.filters.http.wasm`, proxy-wasm ABI 0.2.1, the proxy-wasm Rust
//! SDK) that relinks OTLP trace exports on their way to a collector.
//!
//! Envoy gives every worker thread its own VM and root context: `on_vm_start` reads the host
//! options ([`body::Options`], from `vm_config.configuration`), `on_configure` reads the relink
//! configuration (the plugin `configuration`) and builds the `Processor` that the worker's
//! HTTP contexts share, so the pointer index is per worker. Per request, the headers tell
//! whether it is a trace export (`POST` to `traces_path` with an OTLP content type, or the
//! OTLP/gRPC `Export` method); its body is buffered (`Pause` until end of stream),
//! processed and replaced. Any error passes the original body on and is logged.
//!
//! The proxy-wasm contexts below are compiled for wasm32-wasip1 only (the SDK's host calls
//! exist only inside Envoy); [`body`], what they run on a request, is plain Rust on every
//! target, so the tests and the fuzzer drive exactly what the filter runs.
//!
//! Envoy behaviour this file is shaped by (read from Envoy's and proxy-wasm-cpp-host's source):
//! - Headers go upstream when `on_http_request_headers` returns, and stopping there stalls
//!   the body too, so `content-length` is removed up front (the upstream request is then
//!   chunked or HTTP/2-framed) instead of being fixed once the new body is known. Request
//!   headers are gone in the body phase: Envoy answers BadArgument and the SDK traps.
//! - A buffered body counts against Envoy's buffer limit (HTTP/1: the listener's
//!   `per_connection_buffer_limit_bytes`; HTTP/2: `initial_stream_window_size`); beyond it
//!   Envoy answers 413. So `max_body_bytes` stays below the limit, and a relinked body that
//!   would not fit is not set: Envoy re-checks the limit when the buffered body is replaced,
//!   so the export would be refused; the original passes on instead and is counted
//!   (`wasmcustom.relink_exports_over_buffer_limit`).
//! - HTTP/1 ends every body with a separate, empty call carrying `end_of_stream`, after the
//!   last chunk; HTTP/2 request trailers mean `end_of_stream` never comes with the body,
//!   and the buffered export then goes on unchanged when the trailers continue the stream
//!   (HTTP/1's are dropped by Envoy's codec unless `enable_trailers` is set).
//! - Header values are read as bytes: the SDK's string getters panic on non-UTF-8 values.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::get_unwrap,
        clippy::unwrap_in_result,
        clippy::panic_in_result_fn,
        clippy::exit,
        clippy::dbg_macro,
        clippy::print_stdout,
        clippy::print_stderr
    )
)]

pub mod body;

#[cfg(target_os = "wasi")]
mod filter {
    use crate::body::{classify, fits, parse_options, rewrite, BufferLimit, Export, Options};
    use proxy_wasm::hostcalls;
    use proxy_wasm::traits::{Context, HttpContext, RootContext};
    use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
    use relink::config::Config;
    use relink::Processor;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Envoy's stat for exports forwarded unchanged because the relinked body would not
    /// have fitted its buffer (`wasmcustom.` is Envoy's prefix for a module's own stats).
    const OVER_BUFFER_LIMIT_METRIC: &str = "relink_exports_over_buffer_limit";

    #[derive(Default)]
    struct Root {
        options: Rc<Options>,
        processor: Option<Rc<RefCell<Processor>>>,
        /// The counter behind [`OVER_BUFFER_LIMIT_METRIC`].
        over_limit_metric: Option<u32>,
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
                        .and_then(|c| Processor::new(&c))
                        .map_err(|e| e.to_string())
                });
            match built {
                Ok(processor) => {
                    self.processor = Some(Rc::new(RefCell::new(processor)));
                    self.over_limit_metric =
                        hostcalls::define_metric(MetricType::Counter, OVER_BUFFER_LIMIT_METRIC)
                            .ok();
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
                over_limit_metric: self.over_limit_metric,
                export: None,
                limit: self.options.buffer_limit(None),
                buffered: false,
            }))
        }

        fn get_type(&self) -> Option<ContextType> {
            Some(ContextType::HttpContext)
        }
    }

    struct Filter {
        options: Rc<Options>,
        processor: Option<Rc<RefCell<Processor>>>,
        over_limit_metric: Option<u32>,
        /// Set from the headers while a trace export's body is being buffered.
        export: Option<Export>,
        /// Envoy's buffer limit for this request's protocol.
        limit: BufferLimit,
        /// Whether Envoy holds the body in its buffer (the filter paused on an earlier
        /// chunk), where replacing it re-checks the limit.
        buffered: bool,
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
                    // Envoy answers NotFound for a property it does not have; any other
                    // failure leaves the protocol unknown (the smaller limit applies).
                    let protocol = hostcalls::get_property(vec!["request", "protocol"])
                        .ok()
                        .flatten();
                    self.limit = self.options.buffer_limit(protocol.as_deref());
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
                self.buffered = true;
                return Action::Pause;
            }
            self.export = None;
            let Some(body) = self.get_http_request_body(0, body_size) else {
                return Action::Continue;
            };
            match self.rewrite(export, &body) {
                Ok(Some(output)) if fits(output.len(), self.buffered, self.limit) => {
                    self.set_http_request_body(0, body_size, &output)
                }
                Ok(Some(output)) => {
                    if let Some(id) = self.over_limit_metric {
                        // Only a bad id fails, and the id is Envoy's own.
                        let _ = hostcalls::increment_metric(id, 1);
                    }
                    let BufferLimit { bytes, setting } = self.limit;
                    log(LogLevel::Warn, &format!("relinked body of {} bytes exceeds Envoy's buffer limit ({setting}: {bytes}); original body of {body_size} bytes passed through unchanged", output.len()));
                }
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
            rewrite(
                &mut processor,
                export,
                body,
                unix_nanos(self.get_current_time()),
            )
        }
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
}
