//! GetExecutionHistory output, as `aws stepfunctions get-execution-history` prints it:
//! `{"events": [{"id", "previousEventId", "timestamp", "type", "<type>EventDetails"}]}`.
//!
//! The output does not name the execution, so the caller passes its ARN, or the JSON carries
//! it as a top-level `executionArn` (what `describe-execution` prints; easy to merge in with
//! jq). `timestamp` is an ISO 8601 string (CLI v2: `2024-07-30T19:55:53.018000+00:00`) or
//! epoch seconds as a number (CLI v1, the SDKs' raw JSON: `1722369353.018`); the number is
//! read from its decimal text so milliseconds survive exactly (an f64 multiply would turn
//! `.018` into `.017999...` and change every state span id).

use super::model::{
    history_details_key, normalise, Details, Event, EventKind, Execution, ExecutionArn, Source,
};
use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{invalid, missing, opt_str, opt_u64, req_array};
use crate::time::parse_rfc3339;
use serde_json::{Number, Value};

pub(crate) const INPUT: &str = "stepfunctions history";

/// Reads history JSON. `execution_arn` wins over a top-level `executionArn`; with neither,
/// the error names `executionArn`. More than `max_events` events is [`DecodeError::TooLarge`].
pub fn read(
    bytes: &[u8],
    execution_arn: Option<&str>,
    max_events: usize,
) -> Result<Execution, DecodeError> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError::Json {
        input: INPUT,
        message: e.to_string(),
    })?;
    let arn = match execution_arn {
        Some(arn) => arn.to_owned(),
        None => opt_str(&root, "/executionArn", INPUT)?
            .ok_or_else(|| missing(INPUT, "/executionArn"))?
            .to_owned(),
    };
    let arn = ExecutionArn::parse(&arn, INPUT, "executionArn")?;
    let list = req_array(&root, "/events", INPUT)?;
    if list.len() > max_events {
        return Err(DecodeError::TooLarge {
            input: "stepfunctions history events",
            limit: max_events,
            actual: list.len(),
        });
    }
    let mut events = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        events.push(event(&root, &format!("/events/{i}"))?);
    }
    Ok(Execution {
        arn,
        events: normalise(events, INPUT)?,
        source: Source::History,
    })
}

fn event(root: &Value, base: &str) -> Result<Event, DecodeError> {
    let id = opt_u64(root, &format!("{base}/id"), INPUT)?
        .ok_or_else(|| missing(INPUT, &format!("{base}/id")))?;
    let previous_id = opt_u64(root, &format!("{base}/previousEventId"), INPUT)?.unwrap_or(0);
    let type_name = opt_str(root, &format!("{base}/type"), INPUT)?
        .ok_or_else(|| missing(INPUT, &format!("{base}/type")))?
        .to_owned();
    let time_path = format!("{base}/timestamp");
    let time_unix_nano = match json_pointer(root, &time_path) {
        None | Some(Value::Null) => return Err(missing(INPUT, &time_path)),
        Some(Value::String(s)) => parse_rfc3339(s),
        Some(Value::Number(n)) => epoch_seconds(n),
        Some(_) => None,
    }
    .ok_or_else(|| {
        invalid(
            INPUT,
            &time_path,
            "expected an ISO 8601 date-time or epoch seconds".into(),
        )
    })?;
    let kind = EventKind::parse(&type_name);
    let details_path = format!("{base}/{}", history_details_key(&type_name));
    let details = Details::parse(root, &details_path, INPUT)?;
    if kind.names_a_state() && details.name.is_none() {
        return Err(missing(INPUT, &format!("{details_path}/name")));
    }
    Ok(Event {
        id,
        previous_id,
        time_unix_nano,
        type_name,
        kind,
        details,
        redrive_count: None,
    })
}

/// Epoch seconds from a JSON number's decimal text, exact to the nanosecond.
pub(crate) fn epoch_seconds(n: &Number) -> Option<u64> {
    let text = n.to_string();
    let (secs, frac) = match text.split_once('.') {
        Some((s, f)) => (s, f),
        None => (text.as_str(), ""),
    };
    if secs.is_empty()
        || !secs.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        // Exponent forms only appear for values far outside any plausible timestamp.
        return None;
    }
    let mut nanos: u64 = 0;
    let mut scale = 100_000_000u64;
    for c in frac.bytes().take(9) {
        nanos += u64::from(c - b'0') * scale;
        scale /= 10;
    }
    secs.parse::<u64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_keep_milliseconds() {
        let n: Number = serde_json::from_str("1722369353.018").unwrap_or_else(|_| Number::from(0));
        assert_eq!(epoch_seconds(&n), Some(1_722_369_353_018_000_000));
        assert_eq!(
            epoch_seconds(&Number::from(1_722_369_353u64)),
            Some(1_722_369_353_000_000_000)
        );
        let negative: Number = serde_json::from_str("-1.5").unwrap_or_else(|_| Number::from(0));
        assert_eq!(epoch_seconds(&negative), None);
    }

    #[test]
    fn reads_cli_v2_and_v1_timestamps() {
        let json = br#"{"executionArn": "arn:aws:states:us-east-1:1:execution:M:e", "events": [
            {"id": 1, "previousEventId": 0, "timestamp": "2024-07-30T19:55:53.018000+00:00", "type": "ExecutionStarted",
             "executionStartedEventDetails": {"input": "{}", "inputDetails": {"truncated": false}}},
            {"id": 2, "previousEventId": 0, "timestamp": 1722369353.025, "type": "PassStateEntered",
             "stateEnteredEventDetails": {"name": "P"}}]}"#;
        let exec = read(json, None, 10);
        let Ok(exec) = exec else { panic!("{exec:?}") };
        assert_eq!(exec.arn.state_machine, "M");
        let times: Vec<u64> = exec.events.iter().map(|e| e.time_unix_nano).collect();
        assert_eq!(
            times,
            [1_722_369_353_018_000_000, 1_722_369_353_025_000_000]
        );
        assert_eq!(
            exec.events.get(1).and_then(|e| e.details.name.as_deref()),
            Some("P")
        );
        assert_eq!(
            exec.events.first().and_then(|e| e.details.input.as_deref()),
            Some("{}")
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = |json: &str, arn: Option<&str>| {
            read(json.as_bytes(), arn, 10)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let arn = Some("arn:aws:states:us-east-1:1:execution:M:e");
        assert_eq!(
            err(r#"{"events": []}"#, None),
            Err("stepfunctions history: missing field `executionArn`".into())
        );
        assert_eq!(
            err(r#"{"events": 3}"#, arn),
            Err(
                "stepfunctions history: invalid field `events`: expected an array, found a number"
                    .into()
            )
        );
        assert_eq!(
            err(r#"{"events": [{"id": 1, "type": "ExecutionStarted", "timestamp": "timestamp"}]}"#, arn),
            Err("stepfunctions history: invalid field `events.0.timestamp`: expected an ISO 8601 date-time or epoch seconds".into())
        );
        assert_eq!(
            err(r#"{"events": [{"id": "[0]", "type": "PassStateEntered", "timestamp": 1}]}"#, arn),
            Err("stepfunctions history: invalid field `events.0.id`: \"[0]\" is not an unsigned integer".into())
        );
        assert_eq!(
            err(r#"{"events": [{"id": 1, "type": "PassStateEntered", "timestamp": 1, "stateEnteredEventDetails": {"name": 7}}]}"#, arn),
            Err("stepfunctions history: invalid field `events.0.stateEnteredEventDetails.name`: expected a string, found a number".into())
        );
        assert_eq!(
            read(br#"{"events": [1, 2]}"#, arn, 1).map(|_| ()),
            Err(DecodeError::TooLarge {
                input: "stepfunctions history events",
                limit: 1,
                actual: 2
            })
        );
    }
}
