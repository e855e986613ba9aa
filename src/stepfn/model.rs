//! One event model for both inputs: execution log lines and GetExecutionHistory events
//! carry the same event types and the same details, only spelled differently, so both
//! readers produce [`Execution`]s of [`Event`]s and one builder turns them into spans.

use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{invalid, opt_str, opt_u64};
use serde_json::Value;

/// What the state's event names say it is (`TaskStateEntered` -> `Task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateType {
    Task,
    Pass,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    const ALL: [StateType; 8] = [
        StateType::Task,
        StateType::Pass,
        StateType::Choice,
        StateType::Wait,
        StateType::Succeed,
        StateType::Fail,
        StateType::Parallel,
        StateType::Map,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Task => "Task",
            StateType::Pass => "Pass",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

/// Which events a task attempt is told by: `Task*` (service integrations), `LambdaFunction*`
/// (a Lambda ARN as the state's Resource) or `Activity*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFamily {
    Task,
    Lambda,
    Activity,
}

/// A step of one task attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskPhase {
    Scheduled,
    ScheduleFailed,
    Started,
    StartFailed,
    Submitted,
    SubmitFailed,
    Succeeded,
    Failed,
    TimedOut,
}

impl TaskPhase {
    /// Whether the attempt is over after this step.
    pub fn ends(self) -> bool {
        !matches!(
            self,
            TaskPhase::Scheduled | TaskPhase::Started | TaskPhase::Submitted
        )
    }
    pub fn failed(self) -> bool {
        matches!(
            self,
            TaskPhase::ScheduleFailed
                | TaskPhase::StartFailed
                | TaskPhase::SubmitFailed
                | TaskPhase::Failed
                | TaskPhase::TimedOut
        )
    }
}

/// How something that ran came to an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Outcome {
    /// The status word DescribeExecution uses.
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Succeeded => "SUCCEEDED",
            Outcome::Failed => "FAILED",
            Outcome::TimedOut => "TIMED_OUT",
            Outcome::Aborted => "ABORTED",
        }
    }
}

/// A state that runs other states: the events bracketing each of its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Map,
    Parallel,
}

/// An event type, grouped by what it does to the span tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ExecutionStarted,
    ExecutionEnded(Outcome),
    ExecutionRedriven,
    StateEntered(StateType),
    StateExited(StateType),
    StateAborted(StateType),
    Task(TaskFamily, TaskPhase),
    ContainerStarted(Container),
    ContainerEnded(Container, Outcome),
    IterationStarted,
    IterationEnded(Outcome),
    MapRunStarted,
    MapRunEnded(Outcome),
    MapRunRedriven,
    EvaluationFailed,
    /// A type this version does not know; kept as a span event, never an error, so a new
    /// AWS event type does not break decoding.
    Unknown,
}

impl EventKind {
    /// Whether the event's details must name the state (`StateEnteredEventDetails.name`).
    pub fn names_a_state(self) -> bool {
        matches!(self, EventKind::StateEntered(_) | EventKind::StateExited(_))
    }

    /// Classifies a `type` value (`TaskStateEntered`, `LambdaFunctionFailed`, ...).
    pub fn parse(name: &str) -> EventKind {
        if let Some(rest) = name.strip_prefix("Execution") {
            return match rest {
                "Started" => EventKind::ExecutionStarted,
                "Redriven" => EventKind::ExecutionRedriven,
                _ => outcome(rest).map_or(EventKind::Unknown, EventKind::ExecutionEnded),
            };
        }
        for ty in StateType::ALL {
            if let Some(rest) = name
                .strip_prefix(ty.as_str())
                .and_then(|r| r.strip_prefix("State"))
            {
                let container = match ty {
                    StateType::Map => Some(Container::Map),
                    StateType::Parallel => Some(Container::Parallel),
                    _ => None,
                };
                return match (rest, container) {
                    ("Entered", _) => EventKind::StateEntered(ty),
                    ("Exited", _) => EventKind::StateExited(ty),
                    ("Aborted", _) => EventKind::StateAborted(ty),
                    ("Started", Some(c)) => EventKind::ContainerStarted(c),
                    (rest, Some(c)) => outcome(rest)
                        .map_or(EventKind::Unknown, |o| EventKind::ContainerEnded(c, o)),
                    _ => EventKind::Unknown,
                };
            }
        }
        if let Some(rest) = name.strip_prefix("MapIteration") {
            return match rest {
                "Started" => EventKind::IterationStarted,
                _ => outcome(rest).map_or(EventKind::Unknown, EventKind::IterationEnded),
            };
        }
        if let Some(rest) = name.strip_prefix("MapRun") {
            return match rest {
                "Started" => EventKind::MapRunStarted,
                "Redriven" => EventKind::MapRunRedriven,
                _ => outcome(rest).map_or(EventKind::Unknown, EventKind::MapRunEnded),
            };
        }
        if name == "EvaluationFailed" {
            return EventKind::EvaluationFailed;
        }
        let (family, rest) = if let Some(rest) = name.strip_prefix("LambdaFunction") {
            (TaskFamily::Lambda, rest)
        } else if let Some(rest) = name.strip_prefix("Activity") {
            (TaskFamily::Activity, rest)
        } else if let Some(rest) = name.strip_prefix("Task") {
            (TaskFamily::Task, rest)
        } else {
            return EventKind::Unknown;
        };
        let phase = match rest {
            "Scheduled" => TaskPhase::Scheduled,
            "ScheduleFailed" => TaskPhase::ScheduleFailed,
            "Started" => TaskPhase::Started,
            "StartFailed" => TaskPhase::StartFailed,
            "Submitted" => TaskPhase::Submitted,
            "SubmitFailed" => TaskPhase::SubmitFailed,
            "Succeeded" => TaskPhase::Succeeded,
            "Failed" => TaskPhase::Failed,
            "TimedOut" => TaskPhase::TimedOut,
            _ => return EventKind::Unknown,
        };
        EventKind::Task(family, phase)
    }
}

fn outcome(word: &str) -> Option<Outcome> {
    match word {
        "Succeeded" => Some(Outcome::Succeeded),
        "Failed" => Some(Outcome::Failed),
        "TimedOut" => Some(Outcome::TimedOut),
        "Aborted" => Some(Outcome::Aborted),
        _ => None,
    }
}

/// The history's details key for an event type: `stateEnteredEventDetails` for every
/// `*StateEntered`, `stateExitedEventDetails` for `*StateExited`, else the type with a
/// lowercase first letter followed by `EventDetails`.
pub fn history_details_key(type_name: &str) -> String {
    if type_name.ends_with("StateEntered") {
        return "stateEnteredEventDetails".into();
    }
    if type_name.ends_with("StateExited") {
        return "stateExitedEventDetails".into();
    }
    let mut chars = type_name.chars();
    let mut key: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .collect();
    key.push_str(chars.as_str());
    key.push_str("EventDetails");
    key
}

/// The details relink reads. Input and output are kept as the JSON text Step Functions
/// logged (absent when the execution does not log data); everything else is metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub name: Option<String>,
    pub input: Option<String>,
    pub input_truncated: bool,
    pub output: Option<String>,
    pub output_truncated: bool,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub resource_type: Option<String>,
    pub resource: Option<String>,
    pub region: Option<String>,
    pub index: Option<u64>,
    pub length: Option<u64>,
    pub map_run_arn: Option<String>,
    pub redrive_count: Option<u64>,
    /// EvaluationFailed: the state whose expression failed.
    pub state: Option<String>,
    pub worker_name: Option<String>,
}

impl Details {
    /// Reads the details object at JSON pointer `base` of `root` (absent means empty).
    pub fn parse(root: &Value, base: &str, input: &'static str) -> Result<Details, DecodeError> {
        match json_pointer(root, base) {
            None | Some(Value::Null) => return Ok(Details::default()),
            Some(Value::Object(_)) => {}
            Some(_) => return Err(invalid(input, base, "expected an object".into())),
        }
        let s = |key: &str| -> Result<Option<String>, DecodeError> {
            Ok(opt_str(root, &format!("{base}/{key}"), input)?.map(str::to_owned))
        };
        let truncated = |key: &str| -> Result<bool, DecodeError> {
            let path = format!("{base}/{key}/truncated");
            match json_pointer(root, &path) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(invalid(input, &path, "expected a boolean".into())),
            }
        };
        Ok(Details {
            name: s("name")?,
            input: s("input")?,
            input_truncated: truncated("inputDetails")?,
            output: s("output")?,
            output_truncated: truncated("outputDetails")?,
            error: s("error")?,
            cause: s("cause")?,
            resource_type: s("resourceType")?,
            resource: s("resource")?,
            region: s("region")?,
            index: opt_u64(root, &format!("{base}/index"), input)?,
            length: opt_u64(root, &format!("{base}/length"), input)?,
            map_run_arn: s("mapRunArn")?,
            redrive_count: opt_u64(root, &format!("{base}/redriveCount"), input)?,
            state: s("state")?,
            worker_name: s("workerName")?,
        })
    }
}

/// One execution event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    /// 0 when the event names no predecessor.
    pub previous_id: u64,
    pub time_unix_nano: u64,
    pub type_name: String,
    pub kind: EventKind,
    pub details: Details,
    /// The log line's `redrive_count`; history events carry none (the builder counts
    /// `ExecutionRedriven` events instead).
    pub redrive_count: Option<u64>,
}

/// Where the events came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Logs,
    History,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Logs => "logs",
            Source::History => "history",
        }
    }
}

/// The events of one execution, sorted by id, duplicates removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: ExecutionArn,
    pub events: Vec<Event>,
    pub source: Source,
}

/// The parts of an execution ARN: `arn:{partition}:states:{region}:{account}:execution:
/// {state machine}:{name}` (Standard; a Distributed Map child's state machine part is
/// `{state machine}/{map run label}`) or `...:express:{state machine}:{name}:{uuid}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionArn {
    pub arn: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    pub express: bool,
    pub state_machine: String,
    pub name: String,
}

impl ExecutionArn {
    /// Parses an execution ARN; `field` names it in the error.
    pub fn parse(arn: &str, input: &'static str, field: &str) -> Result<ExecutionArn, DecodeError> {
        let parts: Vec<&str> = arn.split(':').collect();
        let bad = || DecodeError::InvalidField {
            input,
            field: field.to_owned(),
            message: format!("{arn:?} is not a step functions execution arn"),
        };
        let [prefix, partition, service, region, account, kind, machine, name, rest @ ..] =
            parts.as_slice()
        else {
            return Err(bad());
        };
        let express = match *kind {
            "execution" => false,
            "express" => true,
            _ => return Err(bad()),
        };
        if *prefix != "arn"
            || *service != "states"
            || machine.is_empty()
            || name.is_empty()
            || rest.len() > 1
        {
            return Err(bad());
        }
        let state_machine = machine.split('/').next().unwrap_or(machine);
        Ok(ExecutionArn {
            arn: arn.to_owned(),
            partition: (*partition).to_owned(),
            region: (*region).to_owned(),
            account: (*account).to_owned(),
            express,
            state_machine: state_machine.to_owned(),
            name: (*name).to_owned(),
        })
    }

    pub fn state_machine_arn(&self) -> String {
        format!(
            "arn:{}:states:{}:{}:stateMachine:{}",
            self.partition, self.region, self.account, self.state_machine
        )
    }
}

/// Sorts by id and drops exact repeats (log delivery is at-least-once); two different
/// events with one id make the input inconsistent.
pub fn normalise(mut events: Vec<Event>, input: &'static str) -> Result<Vec<Event>, DecodeError> {
    events.sort_by_key(|e| e.id);
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    for event in events {
        match out.last() {
            Some(last) if last.id == event.id && *last == event => {}
            Some(last) if last.id == event.id => {
                return Err(DecodeError::InvalidField {
                    input,
                    field: "id".into(),
                    message: format!("event id {} is given to two different events", event.id),
                })
            }
            _ => out.push(event),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_documented_type() {
        use EventKind as K;
        assert_eq!(
            EventKind::parse("TaskStateEntered"),
            K::StateEntered(StateType::Task)
        );
        assert_eq!(
            EventKind::parse("TaskStateAborted"),
            K::StateAborted(StateType::Task)
        );
        assert_eq!(
            EventKind::parse("SucceedStateExited"),
            K::StateExited(StateType::Succeed)
        );
        assert_eq!(
            EventKind::parse("MapStateStarted"),
            K::ContainerStarted(Container::Map)
        );
        assert_eq!(
            EventKind::parse("ParallelStateFailed"),
            K::ContainerEnded(Container::Parallel, Outcome::Failed)
        );
        assert_eq!(EventKind::parse("PassStateStarted"), K::Unknown);
        assert_eq!(
            EventKind::parse("TaskTimedOut"),
            K::Task(TaskFamily::Task, TaskPhase::TimedOut)
        );
        assert_eq!(
            EventKind::parse("LambdaFunctionStartFailed"),
            K::Task(TaskFamily::Lambda, TaskPhase::StartFailed)
        );
        assert_eq!(
            EventKind::parse("ActivityScheduleFailed"),
            K::Task(TaskFamily::Activity, TaskPhase::ScheduleFailed)
        );
        assert_eq!(
            EventKind::parse("MapIterationAborted"),
            K::IterationEnded(Outcome::Aborted)
        );
        assert_eq!(EventKind::parse("MapRunRedriven"), K::MapRunRedriven);
        assert_eq!(
            EventKind::parse("ExecutionTimedOut"),
            K::ExecutionEnded(Outcome::TimedOut)
        );
        assert_eq!(EventKind::parse("ExecutionRedriven"), K::ExecutionRedriven);
        assert_eq!(EventKind::parse("EvaluationFailed"), K::EvaluationFailed);
        assert_eq!(EventKind::parse("SomethingNew"), K::Unknown);
    }

    #[test]
    fn history_keys() {
        assert_eq!(
            history_details_key("PassStateEntered"),
            "stateEnteredEventDetails"
        );
        assert_eq!(
            history_details_key("MapStateExited"),
            "stateExitedEventDetails"
        );
        assert_eq!(
            history_details_key("MapIterationFailed"),
            "mapIterationFailedEventDetails"
        );
        assert_eq!(
            history_details_key("LambdaFunctionScheduled"),
            "lambdaFunctionScheduledEventDetails"
        );
    }

    #[test]
    fn parses_arns() {
        let std = ExecutionArn::parse(
            "arn:aws:states:us-east-1:123:execution:Machine:run-1",
            "t",
            "arn",
        );
        let Ok(std) = std else { panic!("{std:?}") };
        assert_eq!(
            (std.express, std.state_machine.as_str(), std.name.as_str()),
            (false, "Machine", "run-1")
        );
        assert_eq!(
            std.state_machine_arn(),
            "arn:aws:states:us-east-1:123:stateMachine:Machine"
        );
        let exp = ExecutionArn::parse(
            "arn:aws:states:eu-central-1:1:express:M:cli-test-run:4135929f",
            "t",
            "arn",
        );
        assert_eq!(
            exp.map(|a| (a.express, a.name)),
            Ok((true, "cli-test-run".to_owned()))
        );
        let child = ExecutionArn::parse(
            "arn:aws:states:us-east-1:1:execution:M/label:uuid",
            "t",
            "arn",
        );
        assert_eq!(child.map(|a| a.state_machine), Ok("M".to_owned()));
        let bad = ExecutionArn::parse(
            "arn:aws:lambda:us-east-1:1:function:f",
            "t",
            "execution_arn",
        );
        assert_eq!(
            bad.map_err(|e| e.to_string()),
            Err("t: invalid field `execution_arn`: \"arn:aws:lambda:us-east-1:1:function:f\" is not a step functions execution arn".to_owned())
        );
    }
}
