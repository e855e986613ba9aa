//! The relinking processor: OTLP traces in, the same traces out with producer and consumer
//! spans joined across S3, DynamoDB Streams, SQS, SNS, EventBridge, Kinesis, Step
//! Functions, Lambda `Invoke` and Lambda destinations.
//!
//! - [`evidence`] (with `sdk`, `trigger` and `invocation`): what a span proves; read-only.
//! - [`key`]: join keys (Datadog pointer hashes, namespaced ids) and rules.
//! - [`index`]: the bounded pointer index behind direct links.
//! - `plan`, `apply`, [`links`], [`adopt`], `stamp`: deciding and writing the changes.
//! - `fast`: binary protobuf without a decode: scan for evidence, read it from the flagged
//!   spans' bytes (`view`), write the edits into the bytes of the spans that change
//!   (`stand_in`) and splice them into the input.
//! - [`stepfn`]: Step Functions joins (a Lambda under its state, an execution under its
//!   StartExecution call).
//! - `event`: the event entry point, [`Processor::process_event`], for raw inputs (Lambda
//!   trigger events, Step Functions logs and history) with its [`EventContext`].
//! - [`counters`]: what hosts expose.
//!
//! What relink writes, so a user can audit every join:
//!
//! | where | attribute | meaning |
//! |---|---|---|
//! | span | `relink.rules` | rules that added a link or adopted the span: `aws.s3.object`, `aws.s3.request`, `aws.s3.key`, `aws.dynamodb.item`, `aws.sqs.message`, `aws.sns.message`, `aws.eventbridge.event`, `aws.kinesis.record`, `kafka.record`, `aws.stepfunctions.execution`, `aws.stepfunctions.state`, `aws.lambda.invocation`, `aws.lambda.destination`, `messaging.context`, `adoption` |
//! | span | `relink.pointer.hashes` | Datadog pointer hashes the span wrote or was triggered by. An S3 notification whose key is URL-encoded (`summer+trip%2F1.jpg`) gives two: the decoded key's (`summer trip/1.jpg`, what Datadog's producers hash, so relink joins them) and the key as written (what Datadog's Lambda consumers, datadog-lambda-js and the extension, hash, so relink's consumer pointer matches theirs); each also becomes a `ptr.dir=u` pointer link |
//! | span | `relink.matches` | match kinds of the links added: `exact` (same pointer hash or id), `request-id` (S3 request id; the Lambda `Invoke` call's request id as the invocation's `faas.invocation_id`; an invocation's `faas.invocation_id` as its destination record's `requestContext.requestId`), `heuristic` (bucket and key only), `context` (propagated in the message), `deterministic` (ids both sides compute: a Lambda and its Step Functions state) |
//! | span | `relink.original_trace_id` | the trace id before adoption |
//! | span | `relink.route` (configurable) | stamp mode's routing key |
//! | link | `ptr.kind`, `ptr.dir`, `ptr.hash`, `link.kind` | Datadog span pointer (zero ids) |
//! | link | `relink.rule`, `relink.match`, `relink.key`, `relink.peer` | a direct link: why, how, on which key, and whether the linked span is the `producer` or the `consumer` |
//! | link | `relink.context.format`, `relink.context.carrier`, `messaging.message.id` | a link to a context found in a message |
//! | link | `relink.context.carrier`, `aws.step_functions.execution.arn`, `aws.step_functions.state.name`, `.state.entered_time`, `.state.retry_count`, `.state.redrive_count`, `messaging.message.id` | a link from a Lambda to the state span that invoked it, or that sent a message of its trigger with the context object in `_datadog` (`relink.rule=aws.stepfunctions.state`; the carrier is `event`, `event.Payload`, `event._datadog` or, for a message, `event.messageAttributes._datadog`, `event.Sns.MessageAttributes._datadog`, `event.MessageAttributes._datadog` (SNS in SQS), `event.detail._datadog`, `event.kinesis.data._datadog`, with the message's id), and what its context object named |
//! | link | `relink.rule=adoption`, `relink.original_trace_id` | from an adopted root to its former trace |
//!
//! Guarantees: no span is dropped; ids change only by adoption; a request nothing applies
//! to is returned as the input bytes (not re-encoded); a request that cannot be decoded or
//! exceeds a `limits` bound is returned unchanged with the error, and counted; processing
//! the output again adds nothing. There is no clock and no randomness: time is an argument and no ids are made.
//!
//! Adoption needs the consumer trace's root in the batch that holds the consumer span
//! (the usual case: the Lambda invocation span is the root); spans of that trace exported
//! earlier keep their id, later ones are rewritten for `adoption.ttl_seconds`.
//!
//! One key, several producers: the index keeps the last producer processed for a key, and
//! span times are not compared. A Datadog DynamoDB pointer hashes the item's key alone, so
//! when one item is written twice before its stream consumers are processed, each consumer
//! joins (and with adoption moves under) the write processed last. A Datadog `ptr.dir=d`
//! link counts as a write only on a span whose operation writes the object (`sdk::writes`):
//! dd-trace-go puts one on S3 reads too.

mod adopt;
mod apply;
mod attrs;
mod claims;
pub mod counters;
mod depth;
mod edits;
mod event;
pub mod evidence;
mod fast;
pub mod index;
mod invocation;
pub mod key;
pub mod links;
mod plan;
mod prepared;
mod sdk;
mod stamp;
mod stand_in;
pub mod stepfn;
mod trigger;
mod view;

pub use counters::Counters;
pub use event::EventContext;

use crate::config::{Config, ConfigError};
use crate::error::DecodeError;
use crate::event::Trigger;
use crate::otlp::splice::Sink;
use crate::otlp::{self, Encoding, ExportTraceServiceRequest};
use crate::settings::Settings;
use std::borrow::Cow;

/// The processor's state between calls.
pub(crate) struct State {
    pub index: index::Index,
    pub remap: adopt::Remap,
}

/// A configured processor. Build it with [`Processor::new`].
pub struct Processor {
    config: Settings,
    state: State,
    counters: Counters,
    /// The fast path applies edits to span bytes (`stand_in`); off, it decodes them.
    edit_span_bytes: bool,
}

/// The result of one call.
#[derive(Debug)]
pub struct Processed<'a> {
    /// The output: the input bytes themselves when nothing changed or on error.
    pub output: Cow<'a, [u8]>,
    /// The output's encoding (the input's).
    pub encoding: Encoding,
    /// This call's counts (gauges as after the call).
    pub counters: Counters,
    /// Why the input was passed through, if it could not be processed.
    pub error: Option<DecodeError>,
}

/// What [`Processor::process_traces_to`] reports: a [`Processed`] whose output went to the
/// sink.
#[derive(Debug)]
pub struct Written {
    /// The output's encoding (the input's).
    pub encoding: Encoding,
    /// This call's counts (gauges as after the call).
    pub counters: Counters,
    /// Why the input was passed through, if it could not be processed.
    pub error: Option<DecodeError>,
}

/// The result of processing a decoded request in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub changed: bool,
    pub counters: Counters,
}

impl Processor {
    /// Validates the configuration, compiles it once into [`Settings`] and builds a
    /// processor with an empty index.
    pub fn new(config: &Config) -> Result<Processor, ConfigError> {
        Settings::new(config).map(Processor::with_settings)
    }

    /// A processor running on settings already compiled.
    pub fn with_settings(settings: Settings) -> Processor {
        let index = index::Index::new(settings.index_entries, settings.index_ttl_seconds);
        let remap = adopt::Remap::new(settings.adoption_traces, settings.adoption_ttl_seconds);
        Processor {
            config: settings,
            state: State { index, remap },
            counters: Counters::default(),
            edit_span_bytes: true,
        }
    }

    /// Whether the protobuf fast path applies edits to the spans' bytes (the default) or
    /// decodes, edits and encodes each changed span; the output is the same bytes either
    /// way for spans encoded as the SDKs encode them. For equivalence tests.
    #[doc(hidden)]
    pub fn set_edit_span_bytes(&mut self, on: bool) {
        self.edit_span_bytes = on;
    }

    /// The configuration the processor was built from.
    pub fn config(&self) -> &Config {
        self.config.config()
    }

    /// The compiled settings it runs on.
    pub fn settings(&self) -> &Settings {
        &self.config
    }

    /// Cumulative counters since the processor was built.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Processes an OTLP `ExportTraceServiceRequest` whose encoding is detected from the
    /// bytes. A gzip body (`Content-Encoding: gzip`, recognised by its magic number) is
    /// inflated up to `limits.max_decompressed_bytes`, and a changed output is gzip too.
    pub fn process_traces<'a>(&mut self, input: &'a [u8], now_unix_nano: u64) -> Processed<'a> {
        self.process_body(input, None, now_unix_nano, true)
    }

    /// [`Processor::process_traces`], writing the output to `sink` instead of returning it:
    /// the same bytes, counters and error. A protobuf request on the fast path is written
    /// as the input's bytes with the changed spans spliced in, so the host never holds a
    /// second copy of the request (the CLI streams its output file this way). A sink error
    /// stops the writing; the request is processed (the index and counters hold it).
    pub fn process_traces_to<S: Sink>(
        &mut self,
        input: &[u8],
        now_unix_nano: u64,
        sink: &mut S,
    ) -> Result<Written, S::Error> {
        if self.fast_path_takes(input, None) {
            if let Some(written) = fast::rewrite_to(self, input, now_unix_nano, sink) {
                return Ok(Written {
                    encoding: Encoding::Protobuf,
                    counters: written?,
                    error: None,
                });
            }
        }
        let processed = self.process_traces(input, now_unix_nano);
        sink.put(&processed.output)?;
        Ok(Written {
            encoding: processed.encoding,
            counters: processed.counters,
            error: processed.error,
        })
    }

    /// Whether `process_body` takes the fast path on `input` as it arrived (not gzip).
    fn fast_path_takes(&self, input: &[u8], encoding: Option<Encoding>) -> bool {
        input.len() <= self.config.bounds.request_bytes
            && !otlp::is_gzip(input)
            && encoding.unwrap_or_else(|| otlp::detect(input)) == Encoding::Protobuf
            && !self.config.stamp.enabled
    }

    /// Reads the evidence of a binary protobuf request without changing the processor (its
    /// index, remap table and counters stay as they are), as bytes for
    /// [`Processor::process_traces_prepared`] on a processor built from the same
    /// configuration: the part of relinking that can run beside the processor that holds
    /// the state. `None` when the request does not take the fast path (another encoding,
    /// gzip, over `limits.max_request_bytes`, stamp mode, a request the scanner refuses):
    /// process it without preparing.
    pub fn prepare_traces(&self, input: &[u8], encoding: Option<Encoding>) -> Option<Vec<u8>> {
        if !self.fast_path_takes(input, encoding) {
            return None;
        }
        fast::prepare(self, input)
    }

    /// [`Processor::process_traces_as`] with the evidence [`Processor::prepare_traces`] read
    /// from these same bytes: the same output, counters and state, without reading the
    /// evidence again. Prepared bytes that are not `prepare_traces`' output for this input
    /// are ignored (the evidence is read here).
    pub fn process_traces_prepared<'a>(
        &mut self,
        input: &'a [u8],
        encoding: Encoding,
        prepared: &[u8],
        now_unix_nano: u64,
    ) -> Processed<'a> {
        if self.fast_path_takes(input, Some(encoding)) {
            if let Some(prepared) = prepared::Prepared::decode(prepared) {
                if let Some(done) = fast::process(self, input, now_unix_nano, Some(prepared)) {
                    return done;
                }
            }
        }
        self.process_traces_as(input, encoding, now_unix_nano)
    }

    /// Processes a request in a known encoding (e.g. from `Content-Type`); the output is in
    /// the same encoding, and gzip when the input is.
    ///
    /// Binary protobuf takes the fast path (see `fast`) unless stamp mode is on, which
    /// touches every span anyway; its output decodes to the same request as
    /// [`Processor::process_traces_full`]'s, with the same counters.
    pub fn process_traces_as<'a>(
        &mut self,
        input: &'a [u8],
        encoding: Encoding,
        now_unix_nano: u64,
    ) -> Processed<'a> {
        self.process_body(input, Some(encoding), now_unix_nano, true)
    }

    /// The reference path: decodes the whole request, rewrites it, and re-encodes it when
    /// anything changed. [`Processor::process_traces_as`] gives the same result, usually
    /// faster; this one stays callable for equivalence tests and benchmarks.
    #[doc(hidden)]
    pub fn process_traces_full<'a>(
        &mut self,
        input: &'a [u8],
        encoding: Encoding,
        now_unix_nano: u64,
    ) -> Processed<'a> {
        self.process_body(input, Some(encoding), now_unix_nano, false)
    }

    fn process_body<'a>(
        &mut self,
        input: &'a [u8],
        encoding: Option<Encoding>,
        now_unix_nano: u64,
        fast_path: bool,
    ) -> Processed<'a> {
        let mut call = Counters {
            requests: 1,
            ..Counters::default()
        };
        let bounds = self.config.bounds;
        let gzipped = otlp::is_gzip(input);
        if input.len() > bounds.request_bytes {
            call.errors.request_too_large += 1;
            let e = DecodeError::TooLarge {
                input: "otlp request",
                limit: bounds.request_bytes,
                actual: input.len(),
            };
            let encoding = encoding.unwrap_or_else(|| otlp::detect(input));
            return self.finish(Cow::Borrowed(input), encoding, call, Some(e));
        }
        let inflated;
        let body = if gzipped {
            match otlp::gunzip(input, bounds.decompressed_bytes) {
                Ok(bytes) => {
                    inflated = bytes;
                    inflated.as_slice()
                }
                Err(e) => {
                    call.errors.request_decode += 1;
                    let encoding = encoding.unwrap_or(Encoding::Protobuf);
                    return self.finish(Cow::Borrowed(input), encoding, call, Some(e));
                }
            }
        } else {
            input
        };
        let encoding = encoding.unwrap_or_else(|| otlp::detect(body));
        if fast_path && encoding == Encoding::Protobuf && !self.config.stamp.enabled {
            if let Some(done) = fast::process(self, body, now_unix_nano, None) {
                // Unchanged is the input as it arrived; a changed body is gzip again when
                // the input was.
                let output = match done.output {
                    Cow::Borrowed(_) => Cow::Borrowed(input),
                    Cow::Owned(bytes) if gzipped => Cow::Owned(otlp::gzip(&bytes)),
                    Cow::Owned(bytes) => Cow::Owned(bytes),
                };
                return Processed {
                    output,
                    encoding: done.encoding,
                    counters: done.counters,
                    error: done.error,
                };
            }
        }
        // Strictly: a protobuf request prost refuses only for strings that are not UTF-8 is
        // relinked repaired (below), not read here.
        let strict = match encoding {
            Encoding::Protobuf => otlp::decode_protobuf(body),
            Encoding::Json => otlp::decode_json(body),
        };
        let max_nesting = bounds.nesting;
        let decoded =
            strict.and_then(
                |request| match depth::request_too_deep(&request, max_nesting) {
                    None => Ok(request),
                    Some((at, depth)) => Err(DecodeError::Otlp {
                        encoding: encoding.name(),
                        message: format!(
                            "{at}: a value nested {depth} levels deep exceeds \
                         limits.max_nesting ({max_nesting})"
                        ),
                    }),
                },
            );
        let mut request = match decoded {
            Ok(r) => r,
            Err(e) => {
                let repaired = match encoding {
                    Encoding::Protobuf => otlp::repair_strings(body, bounds.request_bytes),
                    Encoding::Json => None,
                };
                if let Some(repaired) = repaired {
                    return self.process_repaired(input, &repaired, now_unix_nano, fast_path);
                }
                call.errors.request_decode += 1;
                return self.finish(Cow::Borrowed(input), encoding, call, Some(e));
            }
        };
        let outcome = self.run(&mut request, now_unix_nano, None, call);
        let output = match outcome.changed {
            true if gzipped => Cow::Owned(otlp::gzip(&otlp::encode(&request, encoding))),
            true => Cow::Owned(otlp::encode(&request, encoding)),
            false => Cow::Borrowed(input),
        };
        self.finish(output, encoding, outcome.counters, None)
    }

    /// A binary request whose only fault was strings that are not UTF-8, processed as its
    /// repaired bytes (`repaired`, at most `limits.max_request_bytes`), as any request is:
    /// the output is those bytes relinked, gzip again when `input` was, and never the input
    /// itself. An error (the repaired request nested too deep) passes `input` through.
    fn process_repaired<'a>(
        &mut self,
        input: &'a [u8],
        repaired: &[u8],
        now_unix_nano: u64,
        fast_path: bool,
    ) -> Processed<'a> {
        let done = self.process_body(repaired, Some(Encoding::Protobuf), now_unix_nano, fast_path);
        let Processed {
            output,
            encoding,
            mut counters,
            error,
        } = done;
        if error.is_some() {
            let output = Cow::Borrowed(input);
            return Processed {
                output,
                encoding,
                counters,
                error,
            };
        }
        // The call has been added to the processor's counters as an ordinary one.
        counters.requests_repaired = 1;
        self.counters.requests_repaired += 1;
        if counters.requests_unchanged == 1 {
            counters.requests_unchanged = 0;
            self.counters.requests_unchanged = self.counters.requests_unchanged.saturating_sub(1);
        }
        let bytes = output.into_owned();
        let output = match otlp::is_gzip(input) {
            true => Cow::Owned(otlp::gzip(&bytes)),
            false => Cow::Owned(bytes),
        };
        Processed {
            output,
            encoding,
            counters,
            error: None,
        }
    }

    /// Processes a decoded request in place.
    pub fn process_request(
        &mut self,
        request: &mut ExportTraceServiceRequest,
        now_unix_nano: u64,
    ) -> Outcome {
        let call = Counters {
            requests: 1,
            ..Counters::default()
        };
        let outcome = self.run(request, now_unix_nano, None, call);
        self.counters.add(&outcome.counters);
        outcome
    }

    /// Processes spans inferred from a raw event (the event entry point): the request's
    /// first span is the consumer (the inferred trigger span), and `trigger` its evidence.
    pub fn process_inferred(
        &mut self,
        trigger: &Trigger,
        request: &mut ExportTraceServiceRequest,
        now_unix_nano: u64,
    ) -> Outcome {
        let call = Counters {
            requests: 1,
            ..Counters::default()
        };
        let outcome = self.run(request, now_unix_nano, Some(trigger), call);
        self.counters.add(&outcome.counters);
        outcome
    }

    fn run(
        &mut self,
        request: &mut ExportTraceServiceRequest,
        now_unix_nano: u64,
        trigger: Option<&Trigger>,
        mut call: Counters,
    ) -> Outcome {
        let now_secs = u32::try_from(now_unix_nano / 1_000_000_000).unwrap_or(u32::MAX);
        let (spans, evidence) = plan::read_request(request, &self.config);
        call.spans_in = spans.len() as u64;
        call.spans_out = call.spans_in;
        let consumer = trigger.filter(|_| !spans.is_empty()).map(|t| (0, t));
        let edits = plan::plan(
            &mut self.state,
            &self.config,
            &spans,
            evidence,
            consumer,
            now_secs,
            &mut call,
        );
        let refs: Vec<edits::SpanRef> = spans.iter().map(|(r, _)| *r).collect();
        let changed = apply::apply(
            request,
            &refs,
            edits,
            &self.state.remap,
            &self.config,
            &mut call,
        );
        self.settle(changed, call)
    }

    /// A fast-path call's counters once its spans are applied, added to the processor's
    /// (the fast path returns without [`Processor::finish`]).
    fn finish_call(&mut self, changed: bool, call: Counters) -> Counters {
        let outcome = self.settle(changed, call);
        self.counters.add(&outcome.counters);
        outcome.counters
    }

    /// A call's outcome once its spans are applied: the unchanged flag and the gauges.
    fn settle(&self, changed: bool, mut call: Counters) -> Outcome {
        if !changed {
            call.requests_unchanged = 1;
        }
        call.index = self.gauges();
        Outcome {
            changed,
            counters: call,
        }
    }

    fn gauges(&self) -> counters::IndexGauges {
        counters::IndexGauges {
            entries: self.state.index.len() as u64,
            evicted: self.state.index.evicted(),
            expired: self.state.index.expired(),
            memory_bytes: self.state.index.memory_bytes() as u64,
            remapped_traces: self.state.remap.len() as u64,
        }
    }

    fn finish<'a>(
        &mut self,
        output: Cow<'a, [u8]>,
        encoding: Encoding,
        mut call: Counters,
        error: Option<DecodeError>,
    ) -> Processed<'a> {
        if error.is_some() {
            call.requests_unchanged = 1;
            call.index = self.gauges();
        }
        self.counters.add(&call);
        Processed {
            output,
            encoding,
            counters: call,
            error,
        }
    }
}

#[cfg(test)]
#[path = "stepfn_tests.rs"]
mod stepfn_tests;
#[cfg(test)]
mod tests;
