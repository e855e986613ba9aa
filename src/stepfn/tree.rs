//! The shape of an execution: which state each event belongs to, each state's attempts,
//! and the Map iterations and Parallel branches that run states of their own.
//!
//! States run one at a time within a *scope*: the execution itself, one Map iteration or
//! one Parallel branch. An event belongs to the scope of the event its `previous_event_id`
//! names, except where it opens one (`MapIterationStarted`; the first event after a
//! `ParallelStateStarted` starts a branch). Events that act on a state (exits, task steps,
//! Map/Parallel steps) find it by walking from that scope outwards to the states that own
//! it, matching name and type; a Map or Parallel state's own events often follow the last
//! event of one of its iterations, which is why the walk goes outwards.
//!
//! Missing events (Express logs at level ERROR, truncated histories) leave parts unknown:
//! a step whose state was never entered becomes an attempt without a state, a start or end
//! that was not observed is inferred from the nearest event and flagged `incomplete`.

use super::model::{Container, Event, EventKind, Execution, Outcome, StateType, TaskFamily};
use std::collections::HashMap;

pub type ScopeId = usize;
pub type StateId = usize;
pub const ROOT: ScopeId = 0;
/// How many of the latest states a broken event chain is matched against.
pub const FALLBACK_WINDOW: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Root,
    Iteration(u64),
    Branch(u64),
}

/// A failure: the event that reported it, its Error and Cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub time: u64,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// A timestamped note that becomes a span event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub time: u64,
    pub name: String,
    pub attributes: Vec<(&'static str, String)>,
}

/// Start and end of something; `incomplete` when either had to be inferred.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: Option<u64>,
    pub incomplete: bool,
}

impl Span {
    fn at(start: u64) -> Span {
        Span {
            start,
            end: None,
            incomplete: false,
        }
    }
    /// Ends the span at `time` if it is still open; `observed` says whether an event said so.
    pub(super) fn close(&mut self, time: u64, observed: bool) {
        if self.end.is_none() {
            self.end = Some(time.max(self.start));
            self.incomplete |= !observed;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: ScopeKind,
    /// The Map or Parallel state and its attempt this scope runs in.
    pub owner: Option<(StateId, usize)>,
    pub span: Span,
    pub outcome: Option<Outcome>,
    pub current: Option<StateId>,
}

/// Data sizes and, when asked for, the data itself, as Step Functions logged it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Data {
    pub input: Option<String>,
    pub input_truncated: bool,
    pub output: Option<String>,
    pub output_truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub family: TaskFamily,
    pub resource_type: Option<String>,
    pub resource: Option<String>,
    pub region: Option<String>,
    pub notes: Vec<Note>,
    pub output: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub span: Span,
    pub outcome: Option<Outcome>,
    pub failure: Option<Failure>,
    pub task: Option<Task>,
    pub scopes: Vec<ScopeId>,
    /// MapStateStarted `length`: the number of items.
    pub length: Option<u64>,
    pub map_run_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub name: String,
    pub ty: StateType,
    pub scope: ScopeId,
    /// The entered event's time; `None` when only later events were seen.
    pub entered: Option<u64>,
    /// The id of the event the state was first seen in (keys ids when `entered` is unknown).
    pub first_event: u64,
    pub span: Span,
    pub redrive_count: u64,
    pub data: Data,
    pub attempts: Vec<Attempt>,
    pub failure: Option<Failure>,
    pub aborted: bool,
    pub notes: Vec<Note>,
    /// Task steps whose state was never seen collect in one such state; it has no span.
    pub synthetic: bool,
}

/// The execution as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Run {
    pub span: Span,
    pub outcome: Option<Outcome>,
    pub failures: Vec<Failure>,
    pub redrive_count: u64,
    pub data: Data,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub run: Run,
    pub scopes: Vec<Scope>,
    pub states: Vec<State>,
    /// Events referred to by `previous_event_id` but absent.
    pub missing_events: bool,
    pub(super) event_scope: HashMap<u64, ScopeId>,
    pub(super) parallel_starts: HashMap<u64, (StateId, usize)>,
    pub(super) orphans: Option<StateId>,
}

impl Tree {
    /// Builds the tree of one execution's events (sorted by id).
    pub fn build(execution: &Execution) -> Tree {
        let first = execution.events.first().map_or(0, |e| e.time_unix_nano);
        let root = Scope {
            kind: ScopeKind::Root,
            owner: None,
            span: Span::at(first),
            outcome: None,
            current: None,
        };
        let mut tree = Tree {
            run: Run {
                span: Span {
                    start: first,
                    end: None,
                    incomplete: true,
                },
                ..Run::default()
            },
            scopes: vec![root],
            states: Vec::new(),
            missing_events: false,
            event_scope: HashMap::new(),
            parallel_starts: HashMap::new(),
            orphans: None,
        };
        for event in &execution.events {
            let scope = tree.apply(event);
            tree.event_scope.insert(event.id, scope);
        }
        let last = execution
            .events
            .iter()
            .map(|e| e.time_unix_nano)
            .max()
            .unwrap_or(first);
        tree.close_all(last, false);
        tree.run.span.close(last, false);
        tree
    }

    /// The scope of the event `event` follows.
    fn base(&mut self, event: &Event) -> ScopeId {
        if event.previous_id == 0 {
            return ROOT;
        }
        match self.event_scope.get(&event.previous_id) {
            Some(scope) => *scope,
            None => {
                self.missing_events = true;
                ROOT
            }
        }
    }

    fn apply(&mut self, e: &Event) -> ScopeId {
        let base = self.base(e);
        let t = e.time_unix_nano;
        match e.kind {
            EventKind::ExecutionStarted => {
                self.run.span = Span::at(t);
                self.run.data.input = e.details.input.clone();
                self.run.data.input_truncated = e.details.input_truncated;
                ROOT
            }
            EventKind::ExecutionEnded(outcome) => {
                self.execution_ended(e, outcome);
                ROOT
            }
            EventKind::ExecutionRedriven => {
                self.run.redrive_count = e
                    .details
                    .redrive_count
                    .unwrap_or(self.run.redrive_count.saturating_add(1));
                self.run.outcome = None;
                self.run.span.end = None;
                let count = self.run.redrive_count.to_string();
                self.run.notes.push(note(
                    e,
                    vec![("aws.step_functions.execution.redrive_count", count)],
                ));
                ROOT
            }
            EventKind::StateEntered(ty) => self.enter(e, base, ty),
            EventKind::StateExited(ty) => self.exit(e, base, ty),
            EventKind::StateAborted(ty) => {
                match self.find(base, |s| s.span.end.is_none() && s.ty == ty) {
                    Some(id) => {
                        self.end_state(id, t, Some(Outcome::Aborted), true);
                        self.state_scope(id)
                    }
                    None => base,
                }
            }
            EventKind::Task(family, phase) => self.task(e, base, family, phase),
            EventKind::ContainerStarted(c) => self.container_started(e, base, c),
            EventKind::ContainerEnded(c, outcome) => {
                match self.find_open(base, container_type(c), None) {
                    Some(id) => {
                        self.end_attempt(id, t, outcome, e);
                        self.state_scope(id)
                    }
                    None => base,
                }
            }
            EventKind::IterationStarted => self.iteration_started(e, base),
            EventKind::IterationEnded(outcome) => self.iteration_ended(e, base, outcome),
            EventKind::MapRunStarted | EventKind::MapRunEnded(_) | EventKind::MapRunRedriven => {
                self.map_run(e, base)
            }
            EventKind::EvaluationFailed => {
                let target = e.details.state.clone();
                let found = self
                    .find(base, |s| {
                        s.span.end.is_none() && Some(&s.name) == target.as_ref()
                    })
                    .or_else(|| self.find(base, |s| Some(&s.name) == target.as_ref()));
                let failure = failure(e);
                // The exception event carries Error and Cause; the note marks when and where.
                let span_note = Note {
                    time: e.time_unix_nano,
                    name: e.type_name.clone(),
                    attributes: Vec::new(),
                };
                match found.and_then(|id| self.states.get_mut(id)) {
                    Some(state) => {
                        merge_failure(&mut state.failure, failure);
                        state.notes.push(span_note);
                    }
                    None => self.run.notes.push(span_note),
                }
                base
            }
            EventKind::Unknown => {
                let current = self.scopes.get(base).and_then(|s| s.current);
                match current.and_then(|id| self.states.get_mut(id)) {
                    Some(state) => state.notes.push(note(e, vec![])),
                    None => self.run.notes.push(note(e, vec![])),
                }
                base
            }
        }
    }

    pub(super) fn state_scope(&self, id: StateId) -> ScopeId {
        self.states.get(id).map_or(ROOT, |s| s.scope)
    }

    /// Walks from `scope` outwards (each scope's current state, then the state owning the
    /// scope, then that state's scope) for a state matching `pred`; falls back to the latest
    /// matching state among the last [`FALLBACK_WINDOW`] entered, for inputs whose chain of
    /// previous events is broken (bounded, so hostile input cannot make this quadratic).
    pub(super) fn find(&self, scope: ScopeId, pred: impl Fn(&State) -> bool) -> Option<StateId> {
        let mut at = Some(scope);
        // Owners are created before the scopes they own, so the walk ends; the bound is a belt.
        let mut guard = self.scopes.len();
        while let (Some(scope_id), Some(left)) = (at, guard.checked_sub(1)) {
            guard = left;
            let scope = self.scopes.get(scope_id)?;
            if let Some(id) = scope
                .current
                .filter(|id| self.states.get(*id).is_some_and(&pred))
            {
                return Some(id);
            }
            let owner = scope.owner.map(|(id, _)| id);
            if let Some(id) = owner.filter(|id| self.states.get(*id).is_some_and(&pred)) {
                return Some(id);
            }
            at = owner.map(|id| self.state_scope(id));
        }
        let skip = self.states.len().saturating_sub(FALLBACK_WINDOW);
        let recent = self.states.iter().enumerate().skip(skip);
        recent
            .rev()
            .find(|(_, s)| !s.synthetic && pred(s))
            .map(|(id, _)| id)
    }

    /// An open state of type `ty`, named `name` when given.
    pub(super) fn find_open(
        &self,
        scope: ScopeId,
        ty: StateType,
        name: Option<&str>,
    ) -> Option<StateId> {
        self.find(scope, |s| {
            s.span.end.is_none() && s.ty == ty && !s.synthetic && name.is_none_or(|n| s.name == n)
        })
    }

    pub(super) fn new_scope(
        &mut self,
        kind: ScopeKind,
        owner: (StateId, usize),
        start: u64,
    ) -> ScopeId {
        let id = self.scopes.len();
        self.scopes.push(Scope {
            kind,
            owner: Some(owner),
            span: Span::at(start),
            outcome: None,
            current: None,
        });
        if let Some(attempt) = self
            .states
            .get_mut(owner.0)
            .and_then(|s| s.attempts.get_mut(owner.1))
        {
            attempt.scopes.push(id);
        }
        id
    }

    fn execution_ended(&mut self, e: &Event, outcome: Outcome) {
        let t = e.time_unix_nano;
        self.run.outcome = Some(outcome);
        self.run.data.output = e.details.output.clone();
        self.run.data.output_truncated = e.details.output_truncated;
        if outcome != Outcome::Succeeded {
            let failure = failure(e);
            // The state running at the top level is the one that failed the execution.
            let current = self.scopes.get(ROOT).and_then(|s| s.current);
            if let Some(state) = current
                .and_then(|id| self.states.get_mut(id))
                .filter(|s| s.span.end.is_none())
            {
                let from_attempt = state.attempts.last().and_then(|a| a.failure.clone());
                merge_failure(
                    &mut state.failure,
                    from_attempt
                        .filter(Failure::is_known)
                        .unwrap_or_else(|| failure.clone()),
                );
                state.span.close(t, true);
            }
            self.run.failures.push(failure);
        }
        self.close_all(t, outcome != Outcome::Succeeded);
        self.run.span.close(t, true);
    }

    /// Ends everything still open at `time`; `observed` when an event ended it all.
    pub(super) fn close_all(&mut self, time: u64, observed: bool) {
        for state in &mut self.states {
            for attempt in &mut state.attempts {
                attempt.span.close(time, observed);
            }
            state
                .span
                .close(time, observed || state.ty == StateType::Fail);
        }
        for scope in &mut self.scopes {
            scope.span.close(time, observed);
        }
    }
}

pub(super) fn container_type(c: Container) -> StateType {
    match c {
        Container::Map => StateType::Map,
        Container::Parallel => StateType::Parallel,
    }
}

/// Keeps a failure that says what went wrong over one that does not.
pub(super) fn merge_failure(slot: &mut Option<Failure>, failure: Failure) {
    if slot.as_ref().is_none_or(|f| !f.is_known()) {
        *slot = Some(failure);
    }
}

impl Failure {
    /// Whether Step Functions said what the failure was.
    pub fn is_known(&self) -> bool {
        self.error.is_some() || self.cause.is_some()
    }
}

pub(super) fn failure(e: &Event) -> Failure {
    Failure {
        time: e.time_unix_nano,
        error: e.details.error.clone(),
        cause: e.details.cause.clone(),
    }
}

/// A span event named after the event type, carrying the details worth keeping.
pub(super) fn note(e: &Event, mut attributes: Vec<(&'static str, String)>) -> Note {
    let d = &e.details;
    for (key, value) in [
        ("error.type", &d.error),
        ("aws.step_functions.cause", &d.cause),
        ("aws.step_functions.map_run.arn", &d.map_run_arn),
        ("aws.step_functions.activity.worker_name", &d.worker_name),
    ] {
        if let Some(value) = value {
            attributes.push((key, value.clone()));
        }
    }
    Note {
        time: e.time_unix_nano,
        name: e.type_name.clone(),
        attributes,
    }
}
