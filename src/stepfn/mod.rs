//! Step Functions workflow tracing: spans for every execution, state and task attempt, built
//! from the execution's own record, with ids the invoked Lambdas compute too.
//!
//! A Step Functions execution is a black box between the Lambdas it calls. Its execution
//! log lines ([`spans_from_logs`]) or its GetExecutionHistory output ([`spans_from_history`])
//! say what ran when; relink turns them into spans whose ids follow Datadog's deterministic
//! rules ([`ids`]), so a Lambda that finds the context object in its event
//! ([`parent_for_lambda`]) lands under the state span that invoked it, in the same trace.
//!
//! Spans, in one trace per execution (an upstream trace found in the execution input wins,
//! see [`upstream`]), one `ResourceSpans` per execution (`service.name` = state machine
//! name, `cloud.provider`, `cloud.region`, `cloud.account.id`, `cloud.resource_id` = state
//! machine ARN), scope `relink.stepfn`:
//!
//! | span | name | kind | parent |
//! |---|---|---|---|
//! | execution | state machine name | SERVER | upstream span, if any |
//! | state entry | state name | INTERNAL | execution, iteration or branch |
//! | retry n of a state | `{state} (retry {n})` | INTERNAL | the state |
//! | task attempt | `{resourceType}:{resource}`, `lambda:invoke`, `activity` | CLIENT | state or retry |
//! | Map iteration | `{state} iteration {i}` | INTERNAL | Map state or its retry |
//! | Parallel branch | `{state} branch {i}` (in order of first event) | INTERNAL | Parallel state or its retry |
//!
//! Attributes (OTel semantic conventions where one exists, else `aws.step_functions.*` for
//! facts Step Functions reports and `relink.*` for relink's own):
//! - execution: `aws.step_functions.state_machine.arn` (semconv), `.state_machine.name`,
//!   `.execution.arn`, `.execution.name`, `.execution.type` (STANDARD/EXPRESS),
//!   `.execution.status` (SUCCEEDED, FAILED, TIMED_OUT, ABORTED, RUNNING),
//!   `.execution.redrive_count`, `.parent_execution.arn` and `.root_execution.arn` for nested
//!   executions, `relink.parent.carrier` (where the parent was found),
//!   `relink.step_functions.source` (`logs` or `history`);
//! - states: `aws.step_functions.state.name`, `.state.type`, `.state.entered_time` (the string
//!   the span id hashes), `.state.redrive_count` (when not 0), `.state.retry_count` (retries
//!   and task attempts), `.map.item_count`, `.map_run.arn`, `.map.iteration.index`,
//!   `.parallel.branch.index`;
//! - tasks: `aws.step_functions.task.resource_type`, `.task.resource`, `.task.output.size`,
//!   `faas.invoked_provider`/`faas.invoked_name`/`faas.invoked_region` (semconv) for Lambda
//!   functions, `aws.step_functions.activity.arn` (semconv), `.child_execution.arn`; the
//!   `TaskStarted`/`TaskSubmitted` (and Lambda/Activity) steps as span events;
//! - data: `{execution,state}.{input,output}.size` in bytes and `.truncated`; the data itself
//!   (`...input`, `...output`) only with [`Options::include_data`];
//! - failures: status ERROR with the Error as message, `error.type` (semconv; `_OTHER` when
//!   Step Functions gives none), `aws.step_functions.cause`, and an `exception` event
//!   (`exception.type` = Error, `exception.message` = Cause);
//! - `relink.step_functions.incomplete` = true on a span whose start or end was not observed
//!   (missing events: Express logs at level ERROR, truncated histories, running executions);
//! - `relink.step_functions.id_collision` = true on a span whose deterministic id was already
//!   taken (concurrent Map iterations entering the same state in the same millisecond hash
//!   alike; the later one gets a derived id, and a Lambda it invoked, which cannot tell the
//!   two apart from its context object, lands under the earlier one).
//!
//! A Wait state's span lasts the wait; a retry span starts where the failed attempt ended,
//! so the retry interval is visible. Log shippers stamp execution log records with the ids of
//! the span they describe through [`log_record_ids`].

mod history;
pub mod ids;
mod logs;
mod model;
mod spans;
mod transitions;
mod tree;
pub mod upstream;

pub use ids::{execution_span_id, parent_for_lambda, state_span_id, trace_id_for};
pub use logs::log_record_ids;
pub use spans::SCOPE_NAME;

use crate::error::DecodeError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// The most events read from one input: Step Functions' own history limit for a Standard
/// execution.
pub const DEFAULT_MAX_EVENTS: usize = 25_000;

/// How spans are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Write execution, state and task input/output as span attributes (default `false`:
    /// only their sizes). Data may hold personal or secret values.
    pub include_data: bool,
    /// Inputs with more events are refused with [`DecodeError::TooLarge`] (default
    /// [`DEFAULT_MAX_EVENTS`]).
    pub max_events: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            include_data: false,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// Spans for every execution in execution log lines (one line, newline-delimited lines, a
/// JSON array of lines, or decoded CloudWatch Logs subscription data).
pub fn spans_from_logs(
    bytes: &[u8],
    options: &Options,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    let executions = logs::read(bytes, options.max_events)?;
    Ok(ExportTraceServiceRequest {
        resource_spans: executions
            .iter()
            .map(|e| spans::resource_spans(e, options))
            .collect(),
    })
}

/// Spans for one execution from its GetExecutionHistory output. `execution_arn` is needed
/// because the output does not name the execution; `None` reads a top-level `executionArn`.
pub fn spans_from_history(
    bytes: &[u8],
    execution_arn: Option<&str>,
    options: &Options,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    let execution = history::read(bytes, execution_arn, options.max_events)?;
    Ok(ExportTraceServiceRequest {
        resource_spans: vec![spans::resource_spans(&execution, options)],
    })
}
