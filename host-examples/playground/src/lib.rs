//! Browser binding: wasm-bindgen on `wasm32-unknown-unknown`, the JS API
//! the playground (host-examples/playground/) calls. Everything runs in the page; no byte
//! leaves the browser.
//!
//! ```js
//! import init, { Relink, checkConfig, otlpToJson } from "./pkg/relink.js";
//! await init();
//! const problems = JSON.parse(checkConfig(text));  // [{field, message}], [] when valid
//! const relink = new Relink(text);                 // throws Error(message) when invalid
//! const r = relink.processTraces(bytes, nowUnixNano);  // OTLP protobuf or OTLP/JSON
//! const e = relink.processEvent(bytes, nowUnixNano);   // a raw AWS trigger event
//! relink.processStepFunctionsLogs(bytes, now);         // execution log lines
//! relink.processStepFunctionsHistory(bytes, arn, now); // GetExecutionHistory output
//! r.error; r.inputJson; r.outputJson; r.output; r.encoding; r.counters;
//! JSON.parse(relink.counters());                   // cumulative
//! ```
//!
//! Times are `BigInt` unix nanoseconds (wasm-bindgen's `u64`). Results carry JSON strings
//! rather than JS objects so the page reads exactly what every other host prints. The
//! logic lives in [`Session`] and [`check_config_problems`], plain Rust tested natively;
//! the `#[wasm_bindgen]` items only convert.

pub mod session;

pub use session::{check_config_problems, Outcome, Session};
use wasm_bindgen::prelude::*;

/// A configured relink processor and its state (index, counters) across calls.
#[wasm_bindgen]
pub struct Relink {
    session: Session,
}

#[wasm_bindgen]
impl Relink {
    /// Parses and validates the configuration (JSON, `{}` for the defaults) and builds the
    /// processor. Throws an `Error` naming every invalid field.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<Relink, JsError> {
        Session::new(config_json)
            .map(|session| Relink { session })
            .map_err(|e| JsError::new(&e))
    }

    /// Relinks one OTLP `ExportTraceServiceRequest` (protobuf or OTLP/JSON, detected).
    #[wasm_bindgen(js_name = processTraces)]
    pub fn process_traces(&mut self, input: &[u8], now_unix_nano: u64) -> Processed {
        Processed(self.session.process_traces(input, now_unix_nano))
    }

    /// Infers the spans of one raw AWS trigger event and relinks them.
    #[wasm_bindgen(js_name = processEvent)]
    pub fn process_event(&mut self, input: &[u8], now_unix_nano: u64) -> Processed {
        Processed(self.session.process_event(input, now_unix_nano))
    }

    /// Builds the spans of the executions in Step Functions execution log lines and
    /// relinks them.
    #[wasm_bindgen(js_name = processStepFunctionsLogs)]
    pub fn process_step_functions_logs(&mut self, input: &[u8], now_unix_nano: u64) -> Processed {
        Processed(
            self.session
                .process_step_functions_logs(input, now_unix_nano),
        )
    }

    /// Builds the spans of one execution from its GetExecutionHistory output and relinks
    /// them; `executionArn` (or `undefined`) names the execution when the output does not.
    #[wasm_bindgen(js_name = processStepFunctionsHistory)]
    pub fn process_step_functions_history(
        &mut self,
        input: &[u8],
        execution_arn: Option<String>,
        now_unix_nano: u64,
    ) -> Processed {
        Processed(self.session.process_step_functions_history(
            input,
            execution_arn.as_deref(),
            now_unix_nano,
        ))
    }

    /// The cumulative counters since construction, as JSON.
    pub fn counters(&self) -> String {
        self.session.counters_json()
    }
}

/// The result of one call. `error` is set when the input could not be processed; the
/// output is then the input unchanged (traces) or empty (records relink makes spans of).
#[wasm_bindgen]
pub struct Processed(Outcome);

#[wasm_bindgen]
impl Processed {
    /// The output bytes, in the input's encoding.
    #[wasm_bindgen(getter)]
    pub fn output(&self) -> Vec<u8> {
        self.0.output.clone()
    }

    /// `"json"` or `"protobuf"`: the encoding of `output`.
    #[wasm_bindgen(getter)]
    pub fn encoding(&self) -> String {
        self.0.encoding.to_string()
    }

    /// The spans before relinking as OTLP/JSON (for an event or a Step Functions record:
    /// the spans relink made of it).
    #[wasm_bindgen(getter, js_name = inputJson)]
    pub fn input_json(&self) -> String {
        self.0.input_json.clone()
    }

    /// The spans after relinking as OTLP/JSON.
    #[wasm_bindgen(getter, js_name = outputJson)]
    pub fn output_json(&self) -> String {
        self.0.output_json.clone()
    }

    /// This call's counters as JSON.
    #[wasm_bindgen(getter)]
    pub fn counters(&self) -> String {
        self.0.counters_json.clone()
    }

    /// Why the input could not be processed, naming the input and the field.
    #[wasm_bindgen(getter)]
    pub fn error(&self) -> Option<String> {
        self.0.error.clone()
    }
}

/// Every problem of a configuration as a JSON array of `{"field", "message"}` (`field` is
/// null for JSON syntax and type errors, whose message gives line and column); `[]` when
/// the configuration is valid.
#[wasm_bindgen(js_name = checkConfig)]
pub fn check_config(config_json: &str) -> String {
    check_config_problems(config_json)
}

/// Any OTLP trace request (protobuf or OTLP/JSON, detected) as canonical OTLP/JSON.
#[wasm_bindgen(js_name = otlpToJson)]
pub fn otlp_to_json(input: &[u8]) -> Result<String, JsError> {
    session::otlp_to_json(input).map_err(|e| JsError::new(&e))
}

/// The relink crate version, shown in the page footer.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
