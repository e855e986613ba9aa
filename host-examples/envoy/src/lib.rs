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
//! - A buffered body counts against the listener's `per_connection_buffer_limit_bytes`;
//!   beyond it Envoy itself answers 413, so `max_body_bytes` must stay below that limit.
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
    use crate::body::{classify, parse_options, rewrite, Export, Options};
    use proxy_wasm::hostcalls;
    use proxy_wasm::traits::{Context, HttpContext, RootContext};
    use proxy_wasm::types::{Action, ContextType, LogLevel};
    use relink::config::Config;
    use relink::relink::Processor;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::{SystemTime, UNIX_EPOCH};

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
