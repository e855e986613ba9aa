//! The tree of an execution rendered as OTLP spans (see the module docs for names,
//! attributes and ids). Spans come out depth first: the execution, then each state followed
//! by what ran inside it, so a printed list reads as the workflow ran.

use super::ids::{execution_span_id, span_id_of, state_key, state_span_id};
use super::model::{Execution, Outcome, TaskFamily};
use super::tree::{Attempt, Data, Failure, Note, ScopeId, ScopeKind, StateId, Tree, ROOT};
use super::upstream::{self, Placement};
use super::Options;
use crate::otlp::kv;
use crate::propagation::SpanId;
use crate::time::format_rfc3339_millis;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use std::collections::HashSet;

/// The instrumentation scope of every span relink writes for Step Functions.
pub const SCOPE_NAME: &str = "relink.stepfn";

/// One `ResourceSpans` per execution: the state machine as resource, its spans in one scope.
pub fn resource_spans(execution: &Execution, options: &Options) -> ResourceSpans {
    let tree = Tree::build(execution);
    let placement = upstream::resolve(&execution.arn, tree.run.data.input.as_deref());
    let mut by_scope: Vec<Vec<StateId>> = vec![Vec::new(); tree.scopes.len()];
    for (id, state) in tree.states.iter().enumerate().filter(|(_, s)| !s.synthetic) {
        if let Some(list) = by_scope.get_mut(state.scope) {
            list.push(id);
        }
    }
    let mut writer = Writer {
        execution,
        tree: &tree,
        by_scope,
        options,
        placement,
        spans: Vec::new(),
        used: HashSet::new(),
    };
    writer.write();
    let arn = &execution.arn;
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                text("service.name", &arn.state_machine),
                text("cloud.provider", "aws"),
                text("cloud.region", &arn.region),
                text("cloud.account.id", &arn.account),
                text("cloud.resource_id", &arn.state_machine_arn()),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.into(),
                ..Default::default()
            }),
            spans: writer.spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// What is left to write, kept on a stack because nesting depth comes from the input.
enum Work {
    State(StateId, SpanId),
    Retry(StateId, usize, SpanId),
    Attempt(StateId, usize, SpanId),
    Scope(ScopeId, SpanId),
}

struct Writer<'a> {
    execution: &'a Execution,
    tree: &'a Tree,
    /// The states of each scope, in the order they were entered.
    by_scope: Vec<Vec<StateId>>,
    options: &'a Options,
    placement: Placement,
    spans: Vec<Span>,
    used: HashSet<SpanId>,
}

impl Writer<'_> {
    fn arn(&self) -> &str {
        &self.execution.arn.arn
    }

    fn write(&mut self) {
        let root = self.execution_span();
        let mut stack = vec![Work::Scope(ROOT, root)];
        if let Some(orphans) = self.tree.orphans {
            let count = self
                .tree
                .states
                .get(orphans)
                .map_or(0, |s| s.attempts.len());
            stack.extend((0..count).rev().map(|i| Work::Attempt(orphans, i, root)));
        }
        while let Some(work) = stack.pop() {
            match work {
                Work::Scope(scope, parent) => self.scope(scope, parent, &mut stack),
                Work::State(state, parent) => self.state(state, parent, &mut stack),
                Work::Retry(state, index, parent) => self.retry(state, index, parent, &mut stack),
                Work::Attempt(state, index, parent) => {
                    self.attempt(state, index, parent, &mut stack)
                }
            }
        }
    }

    fn execution_span(&mut self) -> SpanId {
        let run = &self.tree.run;
        let arn = &self.execution.arn;
        let id = execution_span_id(&arn.arn);
        let status = match run.outcome {
            Some(outcome) => outcome.status(),
            None => "RUNNING",
        };
        let mut attributes = vec![
            text(
                "aws.step_functions.state_machine.arn",
                &arn.state_machine_arn(),
            ),
            text("aws.step_functions.state_machine.name", &arn.state_machine),
            text("aws.step_functions.execution.arn", &arn.arn),
            text("aws.step_functions.execution.name", &arn.name),
            text(
                "aws.step_functions.execution.type",
                if arn.express { "EXPRESS" } else { "STANDARD" },
            ),
            text("aws.step_functions.execution.status", status),
            kv::int(
                "aws.step_functions.execution.redrive_count",
                run.redrive_count,
            ),
            text(
                "relink.step_functions.source",
                self.execution.source.as_str(),
            ),
        ];
        self.data(&mut attributes, "aws.step_functions.execution", &run.data);
        let p = &self.placement;
        for (key, value) in [
            (
                "aws.step_functions.parent_execution.arn",
                &p.parent_execution,
            ),
            ("aws.step_functions.root_execution.arn", &p.root_execution),
            ("relink.parent.carrier", &p.carrier),
        ] {
            if let Some(value) = value {
                attributes.push(text(key, value));
            }
        }
        let failure = match run.outcome {
            Some(Outcome::Succeeded) | None => None,
            Some(_) => run
                .failures
                .last()
                .cloned()
                .or_else(|| Some(Failure::default())),
        };
        let mut events: Vec<Note> = run.failures.iter().filter_map(exception).collect();
        events.extend(run.notes.iter().cloned());
        let incomplete = run.span.incomplete || self.tree.missing_events;
        let parent = self.placement.parent_span_id;
        let name = arn.state_machine.clone();
        self.push(Draft {
            id,
            parent,
            name,
            kind: span::SpanKind::Server,
            times: run.span,
            incomplete,
            attributes,
            failure,
            events,
        })
    }

    fn scope(&mut self, scope: ScopeId, parent: SpanId, stack: &mut Vec<Work>) {
        let states = self.by_scope.get(scope).cloned().unwrap_or_default();
        let Some(s) = self.tree.scopes.get(scope) else {
            return;
        };
        let id = match (s.kind, s.owner) {
            (ScopeKind::Root, _) | (_, None) => parent,
            (kind, Some((owner, attempt))) => {
                let Some(state) = self.tree.states.get(owner) else {
                    return;
                };
                let (name, label, key, index) = match kind {
                    ScopeKind::Iteration(i) => (
                        format!("{} iteration {i}", state.name),
                        "aws.step_functions.map.iteration.index",
                        "iteration",
                        i,
                    ),
                    ScopeKind::Branch(i) => (
                        format!("{} branch {i}", state.name),
                        "aws.step_functions.parallel.branch.index",
                        "branch",
                        i,
                    ),
                    ScopeKind::Root => return,
                };
                let id = span_id_of(&format!("{}#{key}#{index}#{attempt}", self.key(owner)));
                let attributes = vec![
                    text("aws.step_functions.state.name", &state.name),
                    kv::int(label, index),
                ];
                // A branch has no end event of its own: it failed when its last state did.
                let last_failed = s
                    .current
                    .and_then(|c| self.tree.states.get(c))
                    .is_some_and(|c| c.failure.is_some());
                let failure = match s.outcome {
                    Some(Outcome::Succeeded) => None,
                    None if !last_failed => None,
                    _ => Some(Failure::default()),
                };
                let (times, incomplete) = (s.span, s.span.incomplete);
                let kind = span::SpanKind::Internal;
                self.push(Draft {
                    id,
                    parent: Some(parent),
                    name,
                    kind,
                    times,
                    incomplete,
                    attributes,
                    failure,
                    events: Vec::new(),
                })
            }
        };
        stack.extend(states.into_iter().rev().map(|state| Work::State(state, id)));
    }

    /// `{execution ARN}#{state name}#{entered time}`, or for a state seen only from a later
    /// event, the name and that event's id.
    fn key(&self, id: StateId) -> String {
        match self.tree.states.get(id) {
            Some(s) => match s.entered {
                Some(t) => state_key(self.arn(), &s.name, &format_rfc3339_millis(t)),
                None => format!("{}#{}#event#{}", self.arn(), s.name, s.first_event),
            },
            None => String::new(),
        }
    }

    fn state_id(&self, id: StateId, retry: u64) -> SpanId {
        match self.tree.states.get(id) {
            Some(s) if s.synthetic => {
                span_id_of(&format!("{}#orphan#{}#{retry}", self.arn(), s.first_event))
            }
            Some(s) => match s.entered {
                Some(t) => state_span_id(
                    self.arn(),
                    &s.name,
                    &format_rfc3339_millis(t),
                    retry,
                    s.redrive_count,
                ),
                None => span_id_of(&format!("{}#{retry}", self.key(id))),
            },
            None => SpanId::default(),
        }
    }

    fn state_attributes(&self, id: StateId) -> Vec<KeyValue> {
        let Some(s) = self.tree.states.get(id) else {
            return Vec::new();
        };
        let mut attributes = vec![
            text("aws.step_functions.state.name", &s.name),
            text("aws.step_functions.state.type", s.ty.as_str()),
        ];
        if let Some(t) = s.entered {
            attributes.push(text(
                "aws.step_functions.state.entered_time",
                &format_rfc3339_millis(t),
            ));
        }
        if s.redrive_count > 0 {
            attributes.push(kv::int(
                "aws.step_functions.state.redrive_count",
                s.redrive_count,
            ));
        }
        attributes
    }

    fn state(&mut self, id: StateId, parent: SpanId, stack: &mut Vec<Work>) {
        let Some(s) = self.tree.states.get(id) else {
            return;
        };
        let span_id = self.state_id(id, 0);
        let mut attributes = self.state_attributes(id);
        self.data(&mut attributes, "aws.step_functions.state", &s.data);
        if let Some(length) = s.attempts.last().and_then(|a| a.length) {
            attributes.push(kv::int("aws.step_functions.map.item_count", length));
        }
        if let Some(arn) = s.attempts.iter().rev().find_map(|a| a.map_run_arn.as_ref()) {
            attributes.push(text("aws.step_functions.map_run.arn", arn));
        }
        let failure = s.failure.clone().or_else(|| {
            s.aborted.then(|| Failure {
                error: Some("aborted".into()),
                ..Failure::default()
            })
        });
        let mut events: Vec<Note> = s.failure.iter().filter_map(exception).collect();
        events.extend(s.notes.iter().cloned());
        let (name, times, incomplete) = (s.name.clone(), s.span, s.span.incomplete);
        let attempts = s.attempts.len();
        let draft = Draft {
            id: span_id,
            parent: Some(parent),
            name,
            kind: span::SpanKind::Internal,
            times,
            incomplete,
            attributes,
            failure,
            events,
        };
        let span_id = self.push(draft);
        for index in (0..attempts).rev() {
            stack.push(match index {
                0 => Work::Attempt(id, 0, span_id),
                i => Work::Retry(id, i, span_id),
            });
        }
    }

    /// A retry of a state: from the end of the attempt before to the end of this one, so the
    /// retry interval shows as the gap before the retried work; its id is the state span id
    /// with the retry count, which is what a Lambda invoked by the retry computes.
    fn retry(&mut self, id: StateId, index: usize, parent: SpanId, stack: &mut Vec<Work>) {
        let Some(s) = self.tree.states.get(id) else {
            return;
        };
        let Some(attempt) = s.attempts.get(index) else {
            return;
        };
        let previous_end = index
            .checked_sub(1)
            .and_then(|i| s.attempts.get(i))
            .and_then(|a| a.span.end);
        let mut span = attempt.span;
        span.start = previous_end.unwrap_or(span.start).min(span.start);
        let span_id = self.state_id(id, index as u64);
        let mut attributes = self.state_attributes(id);
        attributes.push(kv::int(
            "aws.step_functions.state.retry_count",
            index as u64,
        ));
        let name = format!("{} (retry {index})", s.name);
        let failure = attempt_failure(attempt);
        let kind = span::SpanKind::Internal;
        let draft = Draft {
            id: span_id,
            parent: Some(parent),
            name,
            kind,
            times: span,
            incomplete: span.incomplete,
            attributes,
            failure,
            events: Vec::new(),
        };
        let span_id = self.push(draft);
        stack.push(Work::Attempt(id, index, span_id));
    }

    /// An attempt's task span, then its iterations or branches, under `parent`.
    fn attempt(&mut self, id: StateId, index: usize, parent: SpanId, stack: &mut Vec<Work>) {
        let Some(s) = self.tree.states.get(id) else {
            return;
        };
        let Some(attempt) = s.attempts.get(index) else {
            return;
        };
        stack.extend(
            attempt
                .scopes
                .iter()
                .rev()
                .map(|scope| Work::Scope(*scope, parent)),
        );
        let Some(task) = &attempt.task else { return };
        let key = match s.synthetic {
            true => format!("{}#orphan#{}", self.arn(), s.first_event),
            false => self.key(id),
        };
        let span_id = span_id_of(&format!("{key}#task#{index}"));
        let resource_type = task.resource_type.as_deref().unwrap_or("unknown");
        let name = match (task.family, &task.resource) {
            (TaskFamily::Task, Some(resource)) => format!("{resource_type}:{resource}"),
            (TaskFamily::Task, None) => "task".to_owned(),
            (TaskFamily::Lambda, _) => "lambda:invoke".to_owned(),
            (TaskFamily::Activity, _) => "activity".to_owned(),
        };
        let mut attributes = vec![text("aws.step_functions.task.resource_type", resource_type)];
        if let Some(resource) = &task.resource {
            attributes.push(text("aws.step_functions.task.resource", resource));
        }
        // Steps whose state was never seen may belong to different states: no retry count.
        if !s.synthetic {
            attributes.push(text("aws.step_functions.state.name", &s.name));
            attributes.push(kv::int(
                "aws.step_functions.state.retry_count",
                index as u64,
            ));
        }
        attributes.extend(target_attributes(
            task.family,
            task.resource.as_deref(),
            task.region.as_deref(),
            task.output.as_deref(),
        ));
        if let Some(output) = &task.output {
            attributes.push(kv::int(
                "aws.step_functions.task.output.size",
                output.len() as u64,
            ));
            if self.options.include_data {
                attributes.push(text("aws.step_functions.task.output", output));
            }
        }
        let failure = attempt_failure(attempt);
        let mut events: Vec<Note> = attempt.failure.iter().filter_map(exception).collect();
        events.extend(task.notes.iter().cloned());
        events.sort_by_key(|n| n.time);
        let (times, incomplete) = (attempt.span, attempt.span.incomplete);
        self.push(Draft {
            id: span_id,
            parent: Some(parent),
            name,
            kind: span::SpanKind::Client,
            times,
            incomplete,
            attributes,
            failure,
            events,
        });
    }

    fn data(&self, attributes: &mut Vec<KeyValue>, prefix: &str, data: &Data) {
        for (what, value, truncated) in [
            ("input", &data.input, data.input_truncated),
            ("output", &data.output, data.output_truncated),
        ] {
            if let Some(value) = value {
                attributes.push(kv::int(
                    &format!("{prefix}.{what}.size"),
                    value.len() as u64,
                ));
                if self.options.include_data {
                    attributes.push(text(&format!("{prefix}.{what}"), value));
                }
            }
            if truncated {
                attributes.push(kv::boolean(&format!("{prefix}.{what}.truncated"), true));
            }
        }
    }

    /// Writes a span and returns its id: the drafted one, or when two state entries hash to
    /// the same id (concurrent Map iterations entering the same state in the same
    /// millisecond), a derived one, so ids stay unique; a Lambda of the later entry then
    /// computes the earlier entry's id, which cannot be told apart from its context object.
    fn push(&mut self, draft: Draft) -> SpanId {
        let Draft {
            mut id,
            parent,
            name,
            kind,
            times,
            incomplete,
            mut attributes,
            failure,
            events,
        } = draft;
        if !self.used.insert(id) {
            attributes.push(kv::boolean("relink.step_functions.id_collision", true));
            // The span's position in the output is unique and the same for the same input.
            let mut seed = self.spans.len();
            while !self.used.insert(id) {
                id = span_id_of(&format!("{}#collision#{seed}", id.to_hex()));
                seed = seed.wrapping_add(1);
            }
        }
        if let Some(failure) = &failure {
            attributes.push(text(
                "error.type",
                failure.error.as_deref().unwrap_or("_OTHER"),
            ));
            if let Some(cause) = &failure.cause {
                attributes.push(text("aws.step_functions.cause", cause));
            }
        }
        if incomplete {
            attributes.push(kv::boolean("relink.step_functions.incomplete", true));
        }
        self.spans.push(Span {
            trace_id: self.placement.trace_id.0.to_vec(),
            span_id: id.0.to_vec(),
            parent_span_id: parent.map(|p| p.0.to_vec()).unwrap_or_default(),
            name,
            kind: kind as i32,
            start_time_unix_nano: times.start,
            end_time_unix_nano: times.end.unwrap_or(times.start),
            attributes,
            events: events
                .into_iter()
                .map(|n| span::Event {
                    time_unix_nano: n.time,
                    name: n.name,
                    attributes: n.attributes.iter().map(|(k, v)| text(k, v)).collect(),
                    ..Default::default()
                })
                .collect(),
            status: failure.map(|f| Status {
                message: f.error.unwrap_or_default(),
                code: status::StatusCode::Error as i32,
            }),
            ..Default::default()
        });
        id
    }
}

/// A span about to be written.
struct Draft {
    id: SpanId,
    parent: Option<SpanId>,
    name: String,
    kind: span::SpanKind,
    times: super::tree::Span,
    incomplete: bool,
    attributes: Vec<KeyValue>,
    failure: Option<Failure>,
    events: Vec<Note>,
}

fn attempt_failure(attempt: &Attempt) -> Option<Failure> {
    match attempt.outcome {
        Some(Outcome::Succeeded) | None => None,
        Some(_) => attempt.failure.clone().or_else(|| Some(Failure::default())),
    }
}

/// The OTel `exception` event for a failure: Error as type, Cause as message; none when
/// Step Functions did not say what failed (the span status still says that it did).
fn exception(failure: &Failure) -> Option<Note> {
    if !failure.is_known() {
        return None;
    }
    let mut attributes = Vec::new();
    if let Some(error) = &failure.error {
        attributes.push(("exception.type", error.clone()));
    }
    if let Some(cause) = &failure.cause {
        attributes.push(("exception.message", cause.clone()));
    }
    Some(Note {
        time: failure.time,
        name: "exception".into(),
        attributes,
    })
}

/// What a task called, in semantic-convention terms where they exist: a Lambda function
/// (`faas.invoked_*`), an activity, a child execution (from a `states:startExecution`
/// task's output, when the execution logs data).
fn target_attributes(
    family: TaskFamily,
    resource: Option<&str>,
    region: Option<&str>,
    output: Option<&str>,
) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let arn_part = |arn: &str, i: usize| arn.split(':').nth(i).map(str::to_owned);
    match (family, resource) {
        (TaskFamily::Lambda, Some(arn)) => {
            out.push(text("faas.invoked_provider", "aws"));
            if let Some(name) = arn_part(arn, 6) {
                out.push(text("faas.invoked_name", &name));
            }
            if let Some(region) = arn_part(arn, 3)
                .filter(|r| !r.is_empty())
                .or(region.map(str::to_owned))
            {
                out.push(text("faas.invoked_region", &region));
            }
        }
        (TaskFamily::Activity, Some(arn)) => out.push(text("aws.step_functions.activity.arn", arn)),
        (TaskFamily::Task, Some(resource)) if resource.starts_with("startExecution") => {
            let child = output
                .and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok())
                .and_then(|v| {
                    v.get("ExecutionArn")
                        .and_then(|a| a.as_str())
                        .map(str::to_owned)
                });
            if let Some(child) = child {
                out.push(text("aws.step_functions.child_execution.arn", &child));
            }
        }
        _ => {}
    }
    out
}

fn text(key: &str, value: &str) -> KeyValue {
    kv::string(key, value)
}
