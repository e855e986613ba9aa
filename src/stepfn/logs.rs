//! Execution log lines, as Step Functions writes them to CloudWatch Logs (Standard and
//! Express, any log level, execution data included or not):
//! `{"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn",
//! "redrive_count"}`, every top-level value a string, `event_timestamp` in epoch
//! milliseconds.
//!
//! Accepted framings: one line, newline-delimited lines (a file, Fluent Bit output), a JSON
//! array of lines, or decoded CloudWatch Logs subscription data (`{"logEvents": [{"message":
//! "<line>"}]}`; inflating the base64/gzip is the caller's, see
//! [`crate::event::inflate_logs_data`]). A log stream interleaves executions, so lines are
//! grouped by `execution_arn`.

use super::ids::{execution_span_id, state_span_id};
use super::model::{normalise, Details, Event, EventKind, Execution, ExecutionArn, Source};
use super::upstream;
use crate::error::DecodeError;
use crate::json::fields::{invalid, missing, opt_str, opt_u64};
use crate::propagation::{SpanId, TraceId};
use crate::time::format_rfc3339_millis;
use serde_json::Value;

pub(crate) const INPUT: &str = "stepfunctions log";

/// Reads log lines in any accepted framing into executions, in order of first appearance.
/// More than `max_events` lines is [`DecodeError::TooLarge`].
pub fn read(bytes: &[u8], max_events: usize) -> Result<Vec<Execution>, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::Json {
        input: INPUT,
        message: e.to_string(),
    })?;
    let too_many = |actual: usize| match actual > max_events {
        true => Err(DecodeError::TooLarge {
            input: "stepfunctions log lines",
            limit: max_events,
            actual,
        }),
        false => Ok(()),
    };
    let mut lines: Vec<(String, Event)> = Vec::new();
    let mut push = |value: &Value, prefix: String| -> Result<(), DecodeError> {
        lines.push(line_event(value).map_err(|e| prefixed(e, &prefix))?);
        Ok(())
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => {
            too_many(items.len())?;
            for (i, item) in items.iter().enumerate() {
                push(item, format!("{i}."))?;
            }
        }
        Ok(root @ Value::Object(_)) if root.get("logEvents").is_some() => {
            let count = crate::json::fields::req_array(&root, "/logEvents", INPUT)?.len();
            too_many(count)?;
            for i in 0..count {
                let path = format!("/logEvents/{i}/message");
                let message = opt_str(&root, &path, INPUT)?.ok_or_else(|| missing(INPUT, &path))?;
                let value: Value = serde_json::from_str(message)
                    .map_err(|e| invalid(INPUT, &path, format!("not a json log line: {e}")))?;
                push(&value, format!("logEvents.{i}.message."))?;
            }
        }
        Ok(value @ Value::Object(_)) => push(&value, String::new())?,
        Ok(_) => {
            return Err(DecodeError::Json {
                input: INPUT,
                message: "expected log line objects".into(),
            })
        }
        Err(_) => {
            too_many(text.lines().filter(|l| !l.trim().is_empty()).count())?;
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let value: Value = serde_json::from_str(line).map_err(|e| DecodeError::Json {
                    input: INPUT,
                    message: format!("line {}: {e}", n + 1),
                })?;
                push(&value, format!("line {}.", n + 1))?;
            }
        }
    }
    group(lines)
}

fn group(lines: Vec<(String, Event)>) -> Result<Vec<Execution>, DecodeError> {
    let mut order: Vec<(String, Vec<Event>)> = Vec::new();
    for (arn, event) in lines {
        match order.iter_mut().find(|(a, _)| *a == arn) {
            Some((_, events)) => events.push(event),
            None => order.push((arn, vec![event])),
        }
    }
    order
        .into_iter()
        .map(|(arn, events)| {
            Ok(Execution {
                arn: ExecutionArn::parse(&arn, INPUT, "execution_arn")?,
                events: normalise(events, INPUT)?,
                source: Source::Logs,
            })
        })
        .collect()
}

/// One log line: its execution ARN and its event.
fn line_event(v: &Value) -> Result<(String, Event), DecodeError> {
    if !v.is_object() {
        return Err(invalid(INPUT, "", "expected a log line object".into()));
    }
    let required = |key: &str| -> Result<u64, DecodeError> {
        let path = format!("/{key}");
        opt_u64(v, &path, INPUT)?.ok_or_else(|| missing(INPUT, &path))
    };
    let id = required("id")?;
    let millis = required("event_timestamp")?;
    let time_unix_nano = millis.checked_mul(1_000_000).ok_or_else(|| {
        invalid(
            INPUT,
            "/event_timestamp",
            format!("{millis} is out of range"),
        )
    })?;
    let arn =
        opt_str(v, "/execution_arn", INPUT)?.ok_or_else(|| missing(INPUT, "/execution_arn"))?;
    let type_name = opt_str(v, "/type", INPUT)?
        .ok_or_else(|| missing(INPUT, "/type"))?
        .to_owned();
    let details = Details::parse(v, "/details", INPUT)?;
    let kind = EventKind::parse(&type_name);
    if kind.names_a_state() && details.name.is_none() {
        return Err(missing(INPUT, "/details/name"));
    }
    let event = Event {
        id,
        previous_id: opt_u64(v, "/previous_event_id", INPUT)?.unwrap_or(0),
        time_unix_nano,
        kind,
        type_name,
        details,
        redrive_count: opt_u64(v, "/redrive_count", INPUT)?,
    };
    Ok((arn.to_owned(), event))
}

/// Puts where the line was (`3.`, `line 4.`) in front of the field an error names.
fn prefixed(err: DecodeError, prefix: &str) -> DecodeError {
    let join = |field: String| match field.is_empty() {
        true => prefix.trim_end_matches('.').to_owned(),
        false => format!("{prefix}{field}"),
    };
    match err {
        DecodeError::MissingField { input, field } => DecodeError::MissingField {
            input,
            field: join(field),
        },
        DecodeError::InvalidField {
            input,
            field,
            message,
        } => DecodeError::InvalidField {
            input,
            field: join(field),
            message,
        },
        other => other,
    }
}

/// The ids of the span one execution log line describes, from that line alone, so a log
/// shipper can stamp `trace_id`/`span_id` on each record without keeping state:
/// - a `*StateEntered` line: its state span (the deterministic state span id; retry count 0,
///   the line's redrive count);
/// - any other line: the execution span (a state's later lines do not repeat its entered
///   time, so their state span cannot be computed from the line).
///
/// The trace is the execution's own (root = itself), or the upstream trace when the line
/// is an `ExecutionStarted` whose input carries one. Lines of a nested execution or of an
/// execution started with trace context are therefore only correlated to their own trace.
/// `None` when the line is not an execution log line.
pub fn log_record_ids(line: &str) -> Option<(TraceId, SpanId)> {
    let value: Value = serde_json::from_str(line).ok()?;
    let (arn, event) = line_event(&value).ok()?;
    let parsed = ExecutionArn::parse(&arn, INPUT, "execution_arn").ok()?;
    let trace_id = match (&event.kind, &event.details.input) {
        (EventKind::ExecutionStarted, Some(input)) => {
            upstream::resolve(&parsed, Some(input)).trace_id
        }
        _ => super::ids::trace_id_for_root(&arn),
    };
    let span_id = match (&event.kind, &event.details.name) {
        (EventKind::StateEntered(_), Some(name)) => state_span_id(
            &arn,
            name,
            &format_rfc3339_millis(event.time_unix_nano),
            0,
            event.redrive_count.unwrap_or(0),
        ),
        _ => execution_span_id(&arn),
    };
    Some((trace_id, span_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stepfn::ids::trace_id_for_root;

    const ARN: &str = "arn:aws:states:eu-central-1:123456789012:express:LoggingAndMaskingWorkflow:cli-test-run:4135929f-8d60-4ea5-b3c3-b243bec43271";
    const ENTERED: &str = r#"{"id":"2","type":"PassStateEntered","details":{"input":"{}","inputDetails":{"truncated":false},"name":"LogInput"},"previous_event_id":"0","event_timestamp":"1713959670680","execution_arn":"arn:aws:states:eu-central-1:123456789012:express:LoggingAndMaskingWorkflow:cli-test-run:4135929f-8d60-4ea5-b3c3-b243bec43271","redrive_count":"0"}"#;

    #[test]
    fn reads_every_framing() {
        let one = read(ENTERED.as_bytes(), 10);
        let ndjson = read(
            format!(
                "{ENTERED}\n\n{}\n",
                ENTERED.replace("\"id\":\"2\"", "\"id\":\"3\"")
            )
            .as_bytes(),
            10,
        );
        let array = read(format!("[{ENTERED}]").as_bytes(), 10);
        let message = serde_json::to_string(ENTERED).unwrap_or_default();
        let subscription = read(format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":[{{"id":"1","timestamp":1,"message":{message}}}]}}"#).as_bytes(), 10);
        fn count(r: &Result<Vec<Execution>, DecodeError>) -> Result<usize, &DecodeError> {
            r.as_ref().map(|x| x.iter().map(|e| e.events.len()).sum())
        }
        assert_eq!(
            (
                count(&one),
                count(&ndjson),
                count(&array),
                count(&subscription)
            ),
            (Ok(1), Ok(2), Ok(1), Ok(1))
        );
        let Ok(one) = one else { panic!() };
        let event = one.first().and_then(|e| e.events.first());
        assert_eq!(
            event.map(|e| (e.id, e.time_unix_nano, e.redrive_count)),
            Some((2, 1_713_959_670_680_000_000, Some(0)))
        );
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let err = |text: &str| {
            read(text.as_bytes(), 10)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let bad_time = ENTERED.replace("1713959670680", "timestamp");
        assert_eq!(
            err(&format!("{ENTERED}\n{bad_time}")),
            Err("stepfunctions log: invalid field `line 2.event_timestamp`: \"timestamp\" is not an unsigned integer".into())
        );
        assert_eq!(
            err(&format!(
                "[{}]",
                ENTERED.replace("\"type\":\"PassStateEntered\",", "")
            )),
            Err("stepfunctions log: missing field `0.type`".into())
        );
        assert_eq!(
            err("[3]"),
            Err("stepfunctions log: invalid field `0`: expected a log line object".into())
        );
        assert_eq!(
            err(&ENTERED.replace("\"execution_arn\":\"arn:aws:states", "\"execution_arn\":\"arn:aws:sqs")),
            Err(format!("stepfunctions log: invalid field `execution_arn`: {:?} is not a step functions execution arn", ARN.replace("arn:aws:states", "arn:aws:sqs")))
        );
        assert_eq!(
            err("{not json\n"),
            Err(
                "stepfunctions log: invalid json: line 1: key must be a string at line 1 column 2"
                    .into()
            )
        );
    }

    #[test]
    fn record_ids_for_state_entered_and_other_lines() {
        let ids = log_record_ids(ENTERED);
        let expected_span = state_span_id(ARN, "LogInput", "2024-04-24T11:54:30.680Z", 0, 0);
        assert_eq!(ids, Some((trace_id_for_root(ARN), expected_span)));
        let exited = ENTERED.replace("PassStateEntered", "PassStateExited");
        assert_eq!(
            log_record_ids(&exited),
            Some((trace_id_for_root(ARN), execution_span_id(ARN)))
        );
        assert_eq!(log_record_ids("{}"), None);
        assert_eq!(log_record_ids("not json"), None);
    }
}
