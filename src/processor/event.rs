//! The event entry point: raw input bytes that are not OTLP, recognised from their shape,
//! turned into spans, and processed like any batch (so they are linked and indexed).
//! [`Processor::process_event`] is the one call the CLI and every host binding use.
//!
//! Accepted inputs, tried in this order:
//!
//! | input | shape | spans |
//! |---|---|---|
//! | GetExecutionHistory output | an object with an `events` array; the execution ARN from [`EventContext::execution_arn`], else a top-level `executionArn` (what `describe-execution` prints: merge the two outputs), else an error naming `executionArn` | the execution's workflow spans |
//! | Step Functions execution log lines | one line (an object with `execution_arn` and `type`), newline-delimited lines, or a JSON array of lines | the workflow spans of every execution in them |
//! | CloudWatch Logs subscription data of execution logs | the `awslogs.data` event, or the inflated documents (one, or several back to back as a Firehose delivery holds them) whose first log event is an execution log line | as log lines |
//! | other inflated subscription data | as above, other log lines | the CloudWatch Logs trigger's inferred span |
//! | a Lambda trigger event | anything [`crate::event::decode_event`] reads | the inferred spans, the first being the consumer ([`Processor::process_inferred`]) |
//!
//! A payload that only carries a Step Functions context object has no inferred span (the
//! state span stands for it) and gives an empty request. With `stepfunctions.enabled:
//! false`, history and log lines are refused and subscription data of execution logs is an
//! ordinary CloudWatch Logs trigger. Inputs over `limits.max_request_bytes` are refused.
//! Errors are counted like event attribute errors (`errors.event_json`, `event_unknown`,
//! `event_too_large`, `event_invalid`).

use super::{Counters, Processor};
use crate::error::DecodeError;
use crate::event::{decode_event_value_with, decode_logs_json, inflate_logs_data, Trigger};
use crate::inferred::{infer_request, InferOptions};
use crate::json::fields::pointer as json_pointer;
use crate::otlp::ExportTraceServiceRequest;
use crate::settings::Settings;
use crate::stepfn::{spans_from_history, spans_from_logs};
use serde_json::{Map, Value};

/// What the host knows about the input; every field is optional (`EventContext::default()`
/// knows nothing). New fields may be added: build it with `default()` and the `with_*`
/// methods, e.g. `EventContext::default().with_execution_arn(arn)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventContext {
    /// When the invoked Lambda started, in unix nanoseconds: inferred spans end there.
    pub invocation_start_unix_nano: Option<u64>,
    /// `service.name` of the inferred spans' resource (default: from the event's source).
    /// Step Functions spans are always reported under their state machine's name.
    pub service_name: Option<String>,
    /// The execution a GetExecutionHistory output belongs to (its output does not name
    /// it); wins over a top-level `executionArn`.
    pub execution_arn: Option<String>,
}

impl EventContext {
    pub fn with_invocation_start(mut self, unix_nano: u64) -> EventContext {
        self.invocation_start_unix_nano = Some(unix_nano);
        self
    }

    pub fn with_service_name(mut self, name: impl Into<String>) -> EventContext {
        self.service_name = Some(name.into());
        self
    }

    pub fn with_execution_arn(mut self, arn: impl Into<String>) -> EventContext {
        self.execution_arn = Some(arn.into());
        self
    }
}

/// The spans the bytes give, and the trigger whose inferred span is the first of them.
struct Read {
    request: ExportTraceServiceRequest,
    trigger: Option<Trigger>,
}

impl Read {
    fn workflow(request: ExportTraceServiceRequest) -> Read {
        Read {
            request,
            trigger: None,
        }
    }
}

impl Processor {
    /// Spans for a raw input (see the [module docs](self) for what is accepted), processed
    /// as one batch at `now_unix_nano`: an inferred trigger span is the consumer of its
    /// event, workflow spans are joined to their StartExecution call and indexed. On error
    /// nothing is changed but the error counters.
    pub fn process_event(
        &mut self,
        bytes: &[u8],
        ctx: &EventContext,
        now_unix_nano: u64,
    ) -> Result<ExportTraceServiceRequest, DecodeError> {
        self.process_event_observed(bytes, ctx, now_unix_nano, |_| ())
            .map(|(request, _)| request)
    }

    /// [`Processor::process_event`], also handing `made` the spans as made, before
    /// relinking (the playground draws both), and returning this call's counters.
    pub fn process_event_observed(
        &mut self,
        bytes: &[u8],
        ctx: &EventContext,
        now_unix_nano: u64,
        made: impl FnOnce(&ExportTraceServiceRequest),
    ) -> Result<(ExportTraceServiceRequest, Counters), DecodeError> {
        let call = Counters {
            requests: 1,
            ..Counters::default()
        };
        match read(bytes, ctx, &self.config) {
            Ok(Read {
                mut request,
                trigger,
            }) => {
                made(&request);
                let outcome = self.run(&mut request, now_unix_nano, trigger.as_ref(), call);
                self.counters.add(&outcome.counters);
                Ok((request, outcome.counters))
            }
            Err(e) => {
                let mut call = call;
                let errors = &mut call.errors;
                match e {
                    DecodeError::Json { .. } => errors.event_json += 1,
                    DecodeError::UnknownEvent { .. } => errors.event_unknown += 1,
                    DecodeError::TooLarge { .. } => errors.event_too_large += 1,
                    _ => errors.event_invalid += 1,
                }
                call.requests_unchanged = 1;
                call.index = self.gauges();
                self.counters.add(&call);
                Err(e)
            }
        }
    }
}

fn read(bytes: &[u8], ctx: &EventContext, config: &Settings) -> Result<Read, DecodeError> {
    let bytes = crate::json::without_bom(bytes);
    let limit = config.bounds.request_bytes;
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            input: "event",
            limit,
            actual: bytes.len(),
        });
    }
    let sfn = config.stepfunctions.enabled;
    let options = &config.stepfn;
    let workflow =
        |result: Result<ExportTraceServiceRequest, DecodeError>| result.map(Read::workflow);
    let value = match crate::json::strict::from_slice(bytes) {
        Ok(value) => value,
        // Several JSON values back to back: NDJSON log lines, or subscription documents as
        // Firehose concatenates them.
        Err(e) => {
            let first = serde_json::Deserializer::from_slice(bytes)
                .into_iter::<Value>()
                .next();
            return match first {
                Some(Ok(v)) if is_subscription(&v) => subscription(bytes, ctx, config),
                Some(Ok(v)) if is_log_line(&v) => match sfn {
                    true => workflow(spans_from_logs(bytes, options)),
                    false => Err(disabled("execution log lines")),
                },
                _ => Err(DecodeError::Json {
                    input: "event",
                    message: e.to_string(),
                }),
            };
        }
    };
    match &value {
        Value::Array(lines) if lines.first().is_some_and(is_log_line) => {
            return match sfn {
                true => workflow(spans_from_logs(bytes, options)),
                false => Err(disabled("execution log lines")),
            };
        }
        Value::Object(o) if o.get("events").is_some_and(Value::is_array) => {
            return match sfn {
                true => workflow(spans_from_history(
                    bytes,
                    ctx.execution_arn.as_deref(),
                    options,
                )),
                false => Err(disabled("an execution history")),
            };
        }
        v if is_log_line(v) => {
            return match sfn {
                true => workflow(spans_from_logs(bytes, options)),
                false => Err(disabled("an execution log line")),
            };
        }
        v if is_subscription(v) => return subscription(bytes, ctx, config),
        _ => {}
    }
    if let (true, Some(data)) = (
        sfn,
        json_pointer(&value, "/awslogs/data").and_then(Value::as_str),
    ) {
        let inflated = inflate_logs_data(data, config.bounds.decompressed_bytes)?;
        if let Some(merged) = execution_log_events(&inflated) {
            return workflow(spans_from_logs(&merged, options));
        }
    }
    let limit = config.bounds.event_bytes;
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            input: "event",
            limit,
            actual: bytes.len(),
        });
    }
    let trigger = decode_event_value_with(&value, config.bounds.decompressed_bytes)?;
    Ok(inferred(trigger, ctx, config))
}

/// Inflated subscription data: execution logs become workflow spans, other logs the
/// CloudWatch Logs trigger.
fn subscription(bytes: &[u8], ctx: &EventContext, config: &Settings) -> Result<Read, DecodeError> {
    if config.stepfunctions.enabled {
        if let Some(merged) = execution_log_events(bytes) {
            return spans_from_logs(&merged, &config.stepfn).map(Read::workflow);
        }
    }
    let trigger = decode_logs_json(bytes)?;
    Ok(inferred(trigger, ctx, config))
}

fn inferred(trigger: Trigger, ctx: &EventContext, config: &Settings) -> Read {
    let options = InferOptions {
        service_name: ctx.service_name.clone(),
        invocation_start_unix_nano: ctx.invocation_start_unix_nano,
        max_links: config.bounds.links_per_span,
        ..InferOptions::default()
    };
    Read {
        request: infer_request(&trigger, &options),
        trigger: Some(trigger),
    }
}

/// A Step Functions execution log line: an object with `execution_arn` and `type`.
fn is_log_line(v: &Value) -> bool {
    v.get("execution_arn").is_some() && v.get("type").is_some()
}

/// A CloudWatch Logs subscription document (inflated; control messages included).
fn is_subscription(v: &Value) -> bool {
    v.get("messageType").is_some() && v.get("logEvents").is_some()
}

/// When the subscription documents in `bytes` hold execution log lines (the first log
/// event's message is one), their log events as one document (`{"logEvents": [...]}`)
/// for [`spans_from_logs`], which names a bad line by its index in the merged list.
fn execution_log_events(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut events = Vec::new();
    for document in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>() {
        let Ok(Value::Object(mut document)) = document else {
            return None;
        };
        match document.remove("logEvents") {
            Some(Value::Array(list)) => events.extend(list),
            _ => return None,
        }
    }
    let first = events.first()?.get("message")?.as_str()?;
    let line: Value = serde_json::from_str(first).ok()?;
    if !is_log_line(&line) {
        return None;
    }
    let mut merged = Map::new();
    merged.insert("logEvents".into(), Value::Array(events));
    serde_json::to_vec(&Value::Object(merged)).ok()
}

fn disabled(what: &str) -> DecodeError {
    DecodeError::UnknownEvent {
        hint: format!("step functions {what}, which `stepfunctions.enabled: false` turns off"),
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
