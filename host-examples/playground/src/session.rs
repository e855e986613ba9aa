//! The browser binding's calls as plain Rust (no JS types), so they are tested natively;
//! `web.rs` only converts them to wasm-bindgen's types. A session is what the playground
//! holds between calls: one configured processor, whose index and counters carry over
//! from input to input, as in a collector. Inputs are OTLP requests, or records relink
//! makes spans of (a trigger event, Step Functions execution logs or history) and then
//! relinks like any other spans.

use relink::otlp::{self, Encoding, ExportTraceServiceRequest};
use relink::stepfn;
use relink::{Config, ConfigError, Counters, DecodeError, EventContext, Processor};
use serde::Serialize;

/// A configured processor.
pub struct Session {
    processor: Processor,
}

/// One call's result, every view of it the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The output in `encoding`: the input itself when nothing changed or on error.
    pub output: Vec<u8>,
    pub encoding: &'static str,
    /// The spans before relinking (for an event, the inferred spans) as OTLP/JSON; empty
    /// when the input could not be decoded.
    pub input_json: String,
    /// The spans after relinking as OTLP/JSON; empty when the input could not be decoded.
    pub output_json: String,
    /// This call's counters as JSON.
    pub counters_json: String,
    /// Why the input could not be processed.
    pub error: Option<String>,
}

/// One configuration problem, as the page lists it beside the editor.
#[derive(Debug, Serialize)]
struct Problem {
    /// The dotted field, or null for JSON syntax and type errors.
    field: Option<String>,
    message: String,
}

impl Session {
    /// Validates the configuration and builds the processor; the error names every
    /// invalid field.
    pub fn new(config_json: &str) -> Result<Session, String> {
        let config = Config::from_json(config_json).map_err(|e| e.to_string())?;
        let processor = relink::Processor::new(&config).map_err(|e| e.to_string())?;
        Ok(Session { processor })
    }

    /// Relinks one OTLP request (protobuf or OTLP/JSON, detected).
    pub fn process_traces(&mut self, input: &[u8], now_unix_nano: u64) -> Outcome {
        let processed = self.processor.process_traces(input, now_unix_nano);
        let error = processed.error.as_ref().map(ToString::to_string);
        let (input_json, output_json) = match error {
            Some(_) => (String::new(), String::new()),
            None => (
                otlp_to_json(input).unwrap_or_default(),
                otlp_to_json(&processed.output).unwrap_or_default(),
            ),
        };
        Outcome {
            encoding: processed.encoding.name(),
            output: processed.output.into_owned(),
            input_json,
            output_json,
            counters_json: to_json(&processed.counters),
            error,
        }
    }

    /// Decodes a raw AWS trigger event, infers its spans and relinks them. The output is
    /// OTLP/JSON; an event that does not decode gives no output and the decoder's error.
    pub fn process_event(&mut self, input: &[u8], now_unix_nano: u64) -> Outcome {
        self.process_raw(input, &EventContext::default(), now_unix_nano)
            .unwrap_or_else(|e| failed(&e))
    }

    /// Spans of the executions in Step Functions execution log lines (one line, lines, a
    /// JSON array of lines or decoded CloudWatch Logs subscription data), then relinked:
    /// the core's event entry point, so the configuration's `stepfunctions` settings apply.
    pub fn process_step_functions_logs(&mut self, input: &[u8], now_unix_nano: u64) -> Outcome {
        let processed = self.process_raw(input, &EventContext::default(), now_unix_nano);
        self.as_execution_record(processed, input, |bytes, options| {
            stepfn::spans_from_logs(bytes, options)
        })
    }

    /// Spans of one execution from its GetExecutionHistory output, then relinked.
    /// `execution_arn` names the execution when the output does not (`executionArn`).
    pub fn process_step_functions_history(
        &mut self,
        input: &[u8],
        execution_arn: Option<&str>,
        now_unix_nano: u64,
    ) -> Outcome {
        let ctx = match execution_arn {
            Some(arn) => EventContext::default().with_execution_arn(arn),
            None => EventContext::default(),
        };
        let processed = self.process_raw(input, &ctx, now_unix_nano);
        self.as_execution_record(processed, input, |bytes, options| {
            stepfn::spans_from_history(bytes, execution_arn, options)
        })
    }

    /// The event entry point detects what the bytes are. When the page said they are an
    /// execution record and they are no event the entry point knows, the record reader's
    /// own error names the field that is wrong.
    fn as_execution_record(
        &self,
        processed: Result<Outcome, DecodeError>,
        input: &[u8],
        read: impl FnOnce(&[u8], &stepfn::Options) -> Result<ExportTraceServiceRequest, DecodeError>,
    ) -> Outcome {
        match processed {
            Ok(outcome) => outcome,
            Err(unknown @ DecodeError::UnknownEvent { .. }) => {
                match read(input, &self.processor.settings().stepfn) {
                    Err(e) => failed(&e),
                    Ok(_) => failed(&unknown),
                }
            }
            Err(e) => failed(&e),
        }
    }

    /// Any raw input through the core's event entry point, keeping the spans as made.
    fn process_raw(
        &mut self,
        input: &[u8],
        ctx: &EventContext,
        now_unix_nano: u64,
    ) -> Result<Outcome, DecodeError> {
        let mut input_json = String::new();
        let made =
            |spans: &ExportTraceServiceRequest| input_json = json_string(otlp::encode_json(spans));
        let (request, counters) =
            self.processor
                .process_event_observed(input, ctx, now_unix_nano, made)?;
        Ok(made_outcome(&request, input_json, &counters))
    }

    /// The cumulative counters as JSON.
    pub fn counters_json(&self) -> String {
        to_json(self.processor.counters())
    }
}

/// Every problem of a configuration as a JSON array of `{"field", "message"}`.
pub fn check_config_problems(config_json: &str) -> String {
    let problems: Vec<Problem> = match Config::from_json(config_json) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .errors()
            .into_iter()
            .map(|p| Problem {
                field: field_of(p),
                message: p.to_string(),
            })
            .collect(),
    };
    to_json(&problems)
}

/// Any OTLP trace request (protobuf or OTLP/JSON, detected) as canonical OTLP/JSON.
pub fn otlp_to_json(input: &[u8]) -> Result<String, String> {
    let request = otlp::decode(input, otlp::detect(input)).map_err(|e| e.to_string())?;
    Ok(json_string(otlp::encode_json(&request)))
}

/// The outcome of spans relink made (from an event or an execution record): OTLP/JSON.
fn made_outcome(
    request: &ExportTraceServiceRequest,
    input_json: String,
    counters: &Counters,
) -> Outcome {
    let output = otlp::encode_json(request);
    Outcome {
        output_json: json_string(output.clone()),
        output,
        encoding: Encoding::Json.name(),
        input_json,
        counters_json: to_json(counters),
        error: None,
    }
}

/// An input nothing could be made of: no output, no call counted.
fn failed(error: &DecodeError) -> Outcome {
    Outcome {
        output: Vec::new(),
        encoding: Encoding::Json.name(),
        input_json: String::new(),
        output_json: String::new(),
        counters_json: to_json(&Counters::default()),
        error: Some(error.to_string()),
    }
}

fn field_of(problem: &ConfigError) -> Option<String> {
    match problem {
        ConfigError::Empty { field }
        | ConfigError::OutOfRange { field, .. }
        | ConfigError::Duplicate { field, .. }
        | ConfigError::Requires { field, .. }
        | ConfigError::KeySchema { field, .. } => Some(field.clone()),
        _ => None,
    }
}

/// The JSON encoders write UTF-8; a lossy conversion only guards the type change.
fn json_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Serializing these plain structs cannot fail; `{}` stands in if it ever did.
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
