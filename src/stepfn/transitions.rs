//! What each state-level event does to the tree: entering and leaving states, task attempt
//! steps, Map and Parallel attempts, iterations and branches, Map Runs.
//!
//! A new attempt starts at each `*Scheduled` task step (the first is attempt 0, later ones
//! are retries) and at each `MapStateStarted` / `ParallelStateStarted`; Step Functions does
//! not re-enter a state to retry it. A retry means the attempt before it failed, even where
//! no event says so (a Map retry follows the failed iteration directly).

use super::model::{Container, Event, Outcome, StateType, TaskFamily, TaskPhase};
use super::tree::{
    container_type, failure, merge_failure, note, Attempt, Data, Failure, ScopeId, ScopeKind, Span,
    State, StateId, Task, Tree,
};

impl Attempt {
    fn at(time: u64, observed: bool) -> Attempt {
        Attempt {
            span: Span {
                start: time,
                end: None,
                incomplete: !observed,
            },
            outcome: None,
            failure: None,
            task: None,
            scopes: Vec::new(),
            length: None,
            map_run_arn: None,
        }
    }
}

impl Tree {
    pub(super) fn enter(&mut self, e: &Event, base: ScopeId, ty: StateType) -> ScopeId {
        let t = e.time_unix_nano;
        let scope = match self.parallel_starts.get(&e.previous_id).copied() {
            Some(owner) => {
                let attempt = self
                    .states
                    .get(owner.0)
                    .and_then(|s| s.attempts.get(owner.1));
                let index = attempt.map_or(0, |a| a.scopes.len() as u64);
                self.new_scope(ScopeKind::Branch(index), owner, t)
            }
            None => base,
        };
        // A state still open when the next one in its scope starts lost its exit event.
        if let Some(previous) = self.scopes.get(scope).and_then(|s| s.current) {
            self.close_state(previous, t, false);
        }
        let id = self.states.len();
        self.states.push(State {
            name: e.details.name.clone().unwrap_or_default(),
            ty,
            scope,
            entered: Some(t),
            first_event: e.id,
            span: Span {
                start: t,
                end: None,
                incomplete: false,
            },
            redrive_count: e.redrive_count.unwrap_or(self.run.redrive_count),
            data: Data {
                input: e.details.input.clone(),
                input_truncated: e.details.input_truncated,
                ..Data::default()
            },
            attempts: Vec::new(),
            // A Fail state fails by definition; its Error is only known at the top level.
            failure: (ty == StateType::Fail).then(|| Failure {
                time: t,
                ..Failure::default()
            }),
            aborted: false,
            notes: Vec::new(),
            synthetic: false,
        });
        if let Some(s) = self.scopes.get_mut(scope) {
            s.current = Some(id);
        }
        scope
    }

    pub(super) fn exit(&mut self, e: &Event, base: ScopeId, ty: StateType) -> ScopeId {
        let t = e.time_unix_nano;
        let name = e.details.name.clone().unwrap_or_default();
        let Some(id) = self.find(base, |s| {
            s.span.end.is_none() && s.ty == ty && s.name == name
        }) else {
            // Entered before the input starts: the state is known only from its exit.
            self.missing_events = true;
            self.states.push(State {
                name,
                ty,
                scope: base,
                entered: None,
                first_event: e.id,
                span: Span {
                    start: t,
                    end: Some(t),
                    incomplete: true,
                },
                redrive_count: e.redrive_count.unwrap_or(self.run.redrive_count),
                data: Data {
                    output: e.details.output.clone(),
                    output_truncated: e.details.output_truncated,
                    ..Data::default()
                },
                attempts: Vec::new(),
                failure: None,
                aborted: false,
                notes: Vec::new(),
                synthetic: false,
            });
            return base;
        };
        if let Some(state) = self.states.get_mut(id) {
            state.span.close(t, true);
            state.data.output = e.details.output.clone();
            state.data.output_truncated = e.details.output_truncated;
        }
        self.close_state(id, t, false);
        self.state_scope(id)
    }

    pub(super) fn end_state(
        &mut self,
        id: StateId,
        t: u64,
        outcome: Option<Outcome>,
        observed: bool,
    ) {
        if let Some(state) = self.states.get_mut(id) {
            state.aborted |= outcome == Some(Outcome::Aborted);
            state.span.close(t, observed);
        }
        self.close_state(id, t, observed);
    }

    /// Ends a state and everything open below it at `t`, without recursion (nesting depth
    /// is input-controlled).
    pub(super) fn close_state(&mut self, id: StateId, t: u64, observed: bool) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            let Some(state) = self.states.get_mut(id) else {
                continue;
            };
            state.span.close(t, observed || state.ty == StateType::Fail);
            let mut scopes = Vec::new();
            for attempt in &mut state.attempts {
                attempt.span.close(t, observed);
                scopes.extend(attempt.scopes.iter().copied());
            }
            for scope in scopes {
                if let Some(scope) = self.scopes.get_mut(scope) {
                    scope.span.close(t, observed);
                    stack.extend(scope.current);
                }
            }
        }
    }

    fn close_attempt(&mut self, id: StateId, index: usize, t: u64, observed: bool) {
        let Some(attempt) = self
            .states
            .get_mut(id)
            .and_then(|s| s.attempts.get_mut(index))
        else {
            return;
        };
        attempt.span.close(t, observed);
        let scopes = attempt.scopes.clone();
        for scope in scopes {
            let current = self.scopes.get_mut(scope).and_then(|s| {
                s.span.close(t, observed);
                s.current
            });
            if let Some(current) = current {
                self.close_state(current, t, observed);
            }
        }
    }

    /// The state collecting task steps whose Task state was never seen.
    fn orphan_state(&mut self, e: &Event) -> StateId {
        if let Some(id) = self.orphans {
            return id;
        }
        self.missing_events = true;
        let id = self.states.len();
        self.states.push(State {
            name: String::new(),
            ty: StateType::Task,
            scope: super::tree::ROOT,
            entered: None,
            first_event: e.id,
            span: Span {
                start: e.time_unix_nano,
                end: None,
                incomplete: true,
            },
            redrive_count: 0,
            data: Data::default(),
            attempts: Vec::new(),
            failure: None,
            aborted: false,
            notes: Vec::new(),
            synthetic: true,
        });
        self.orphans = Some(id);
        id
    }

    pub(super) fn task(
        &mut self,
        e: &Event,
        base: ScopeId,
        family: TaskFamily,
        phase: TaskPhase,
    ) -> ScopeId {
        let t = e.time_unix_nano;
        let id = match self.find_open(base, StateType::Task, None) {
            Some(id) => id,
            None => self.orphan_state(e),
        };
        let Some(state) = self.states.get_mut(id) else {
            return base;
        };
        let opens = matches!(phase, TaskPhase::Scheduled | TaskPhase::ScheduleFailed);
        if opens || state.attempts.last().is_none_or(|a| a.span.end.is_some()) {
            if let Some(last) = state.attempts.last_mut() {
                last.span.close(t, false);
            }
            state.attempts.push(Attempt::at(t, opens));
        }
        let scope = state.scope;
        let Some(attempt) = state.attempts.last_mut() else {
            return scope;
        };
        let task = attempt.task.get_or_insert_with(|| Task {
            family,
            resource_type: match family {
                TaskFamily::Lambda => Some("lambda".to_owned()),
                TaskFamily::Activity => Some("activity".to_owned()),
                TaskFamily::Task => None,
            },
            resource: None,
            region: None,
            notes: Vec::new(),
            output: None,
        });
        let d = &e.details;
        for (slot, value) in [
            (&mut task.resource_type, &d.resource_type),
            (&mut task.resource, &d.resource),
            (&mut task.region, &d.region),
        ] {
            if value.is_some() {
                slot.clone_from(value);
            }
        }
        match phase {
            TaskPhase::Started | TaskPhase::Submitted => task.notes.push(note(e, vec![])),
            TaskPhase::Succeeded => task.output.clone_from(&d.output),
            _ => {}
        }
        if phase.ends() {
            attempt.span.close(t, true);
            attempt.outcome = Some(match phase {
                TaskPhase::Succeeded => Outcome::Succeeded,
                TaskPhase::TimedOut => Outcome::TimedOut,
                _ => Outcome::Failed,
            });
            if phase.failed() {
                attempt.failure = Some(failure(e));
            }
        }
        scope
    }

    pub(super) fn container_started(&mut self, e: &Event, base: ScopeId, c: Container) -> ScopeId {
        let t = e.time_unix_nano;
        let Some(id) = self.find_open(base, container_type(c), None) else {
            self.missing_events = true;
            return base;
        };
        let previous = self.states.get(id).map_or(0, |s| s.attempts.len());
        if let Some(index) = previous.checked_sub(1) {
            // Starting again is a retry: the attempt before failed, whether or not it said so.
            self.close_attempt(id, index, t, true);
            if let Some(attempt) = self
                .states
                .get_mut(id)
                .and_then(|s| s.attempts.get_mut(index))
            {
                attempt.outcome.get_or_insert(Outcome::Failed);
            }
        }
        let Some(state) = self.states.get_mut(id) else {
            return base;
        };
        let mut attempt = Attempt::at(t, true);
        attempt.length = e.details.length;
        state.attempts.push(attempt);
        if c == Container::Parallel {
            self.parallel_starts.insert(e.id, (id, previous));
        }
        self.state_scope(id)
    }

    pub(super) fn end_attempt(&mut self, id: StateId, t: u64, outcome: Outcome, e: &Event) {
        let Some(state) = self.states.get_mut(id) else {
            return;
        };
        if state.attempts.last().is_none_or(|a| a.span.end.is_some()) {
            state.attempts.push(Attempt::at(t, false));
        }
        if outcome != Outcome::Succeeded {
            state.notes.push(note(e, vec![]));
        }
        let index = state.attempts.len().saturating_sub(1);
        if let Some(attempt) = state.attempts.last_mut() {
            attempt.outcome.get_or_insert(outcome);
            if outcome != Outcome::Succeeded {
                attempt.failure.get_or_insert_with(|| failure(e));
            }
        }
        self.close_attempt(id, index, t, true);
    }

    /// The Map state an iteration event names, with an attempt open to hold the iteration.
    fn map_for_iteration(&mut self, e: &Event, base: ScopeId) -> Option<(StateId, usize)> {
        let id = self.find_open(base, StateType::Map, e.details.name.as_deref());
        let Some(state) = id.and_then(|id| self.states.get_mut(id)) else {
            self.missing_events = true;
            return None;
        };
        if state.attempts.last().is_none_or(|a| a.span.end.is_some()) {
            state.attempts.push(Attempt::at(e.time_unix_nano, false));
        }
        Some((id?, state.attempts.len().saturating_sub(1)))
    }

    pub(super) fn iteration_started(&mut self, e: &Event, base: ScopeId) -> ScopeId {
        let Some((id, attempt)) = self.map_for_iteration(e, base) else {
            return base;
        };
        let count = self
            .states
            .get(id)
            .and_then(|s| s.attempts.get(attempt))
            .map_or(0, |a| a.scopes.len());
        let index = e.details.index.unwrap_or(count as u64);
        self.new_scope(ScopeKind::Iteration(index), (id, attempt), e.time_unix_nano)
    }

    pub(super) fn iteration_ended(
        &mut self,
        e: &Event,
        base: ScopeId,
        outcome: Outcome,
    ) -> ScopeId {
        let t = e.time_unix_nano;
        let Some((id, attempt)) = self.map_for_iteration(e, base) else {
            return base;
        };
        let candidates = self
            .states
            .get(id)
            .and_then(|s| s.attempts.get(attempt))
            .map(|a| a.scopes.clone());
        let open = candidates.unwrap_or_default().into_iter().rev().find(|s| {
            self.scopes.get(*s).is_some_and(|s| {
                s.span.end.is_none()
                    && e.details
                        .index
                        .is_none_or(|i| s.kind == ScopeKind::Iteration(i))
            })
        });
        let scope = match open {
            Some(scope) => scope,
            None => {
                self.missing_events = true;
                let index = e.details.index.unwrap_or(0);
                let scope = self.new_scope(ScopeKind::Iteration(index), (id, attempt), t);
                if let Some(s) = self.scopes.get_mut(scope) {
                    s.span.incomplete = true;
                }
                scope
            }
        };
        let current = self.scopes.get_mut(scope).and_then(|s| {
            s.span.close(t, true);
            s.outcome = Some(outcome);
            s.current
        });
        if let Some(current) =
            current.filter(|c| self.states.get(*c).is_some_and(|s| s.span.end.is_none()))
        {
            if outcome != Outcome::Succeeded {
                if let Some(state) = self.states.get_mut(current) {
                    let from_attempt = state.attempts.last().and_then(|a| a.failure.clone());
                    merge_failure(
                        &mut state.failure,
                        from_attempt.unwrap_or(Failure {
                            time: t,
                            ..Failure::default()
                        }),
                    );
                }
            }
            self.close_state(current, t, true);
        }
        scope
    }

    pub(super) fn map_run(&mut self, e: &Event, base: ScopeId) -> ScopeId {
        let Some((id, _)) = self.map_for_iteration(e, base) else {
            return base;
        };
        let Some(state) = self.states.get_mut(id) else {
            return base;
        };
        state.notes.push(note(e, vec![]));
        if let Some(attempt) = state.attempts.last_mut() {
            if e.details.map_run_arn.is_some() {
                attempt.map_run_arn.clone_from(&e.details.map_run_arn);
            }
            if matches!(e.kind, super::model::EventKind::MapRunEnded(o) if o != Outcome::Succeeded)
            {
                attempt.failure.get_or_insert_with(|| failure(e));
            }
        }
        state.scope
    }
}
