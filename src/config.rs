//! The one configuration every host shares: JSON, parsed by serde, validated once.
//!
//! Hosts read a JSON document (a file, an Envoy plugin configuration, a WIT constructor
//! argument), call [`Config::from_json`] and then `Processor::new`, which compiles it once
//! into `Settings` (limits as `usize`, resolved options): every check happens here, so
//! the hot path never re-reads or re-validates. Every
//! section and field is optional; an empty object `{}` gives the defaults, which are the
//! behaviour of `relink process` without `--config`: Datadog-compatible pointer links and
//! direct span links on, trace adoption off, the raw trigger event attribute removed from
//! the output. Unknown fields are errors, so a typo never silently falls back to a default.
//!
//! ```json
//! {
//!   "attributes": { "event": "relink.event", "s3_etag": "relink.s3.etag" },
//!   "pointer_links": { "enabled": true },
//!   "direct_links": { "enabled": true, "request_id_join": true },
//!   "adoption": { "enabled": false },
//!   "index": { "max_entries": 100000, "ttl_seconds": 900 },
//!   "dynamodb": { "tables": { "orders": ["pk", "sk"] } },
//!   "stepfunctions": { "enabled": true, "include_data": false, "lambda_join": "follow_adoption" }
//! }
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The whole configuration. See each section for its fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Attribute names relink reads and writes.
    pub attributes: Attributes,
    /// What happens to the raw trigger event attribute on output (privacy).
    pub event_attribute: EventAttribute,
    /// Datadog-compatible span-pointer links.
    pub pointer_links: PointerLinks,
    /// Real span links between producer and consumer spans, through the index.
    pub direct_links: DirectLinks,
    /// Links from queue, topic, bus and stream consumers to the contexts in their messages.
    pub messaging: Messaging,
    /// Re-parenting consumer traces under their producer span (opt-in).
    pub adoption: Adoption,
    /// Bounds of the pointer index used by direct links.
    pub index: Index,
    /// Routing attribute for a two-tier deployment.
    pub stamp: Stamp,
    /// DynamoDB key schemas, for writes whose recorded item holds more than its key.
    pub dynamodb: Dynamodb,
    /// Safety limits on input sizes and work per span.
    pub limits: Limits,
    /// Step Functions: execution logs and history to spans, Lambdas joined to their state.
    pub stepfunctions: Stepfunctions,
    /// Log enrichment: trace ids on Lambda and Step Functions log records.
    pub logs: Logs,
}

/// Attribute names. Each must be non-empty and distinct from the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attributes {
    /// The consumer span attribute holding the Lambda trigger event as a JSON string, as
    /// the shipped aws-lambda instrumentation hooks record it.
    /// Default `relink.event`. Example: `"faas.event"`.
    pub event: String,
    /// The producer span attribute holding the S3 response ETag (PutObject,
    /// CopyObject's `CopyObjectResult.ETag`, CompleteMultipartUpload), quoted or not.
    /// Default `relink.s3.etag`.
    pub s3_etag: String,
    /// The producer span attribute holding the written DynamoDB keys as DynamoDB JSON:
    /// one item `{"pk":{"S":"a"},"sk":{"N":"7"}}`, a list of items of the span's single
    /// table, or a map from table name to a list of items (BatchWriteItem,
    /// TransactWriteItems). Whole items are reduced to their key with [`Dynamodb::tables`].
    /// Default `relink.dynamodb.keys`.
    pub dynamodb_keys: String,
    /// The producer span attribute holding every message id a send returned, as a string
    /// array (or one string): SQS SendMessage(Batch) `MessageId`s, SNS Publish(Batch)
    /// `MessageId`s, EventBridge PutEvents `EventId`s, Kinesis PutRecord(s)
    /// `ShardId:SequenceNumber`, Step Functions StartExecution `executionArn`.
    /// `messaging.message.id` (and the older `messaging.message_id`) are read too.
    /// Default `relink.message_ids`.
    pub message_ids: String,
    /// The attribute stamp mode writes the routing key into. Default `relink.route`.
    pub route: String,
}

impl Default for Attributes {
    fn default() -> Self {
        Attributes {
            event: "relink.event".into(),
            s3_etag: "relink.s3.etag".into(),
            dynamodb_keys: "relink.dynamodb.keys".into(),
            message_ids: "relink.message_ids".into(),
            route: "relink.route".into(),
        }
    }
}

/// What to do with the raw event attribute once it has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOutput {
    /// Drop the attribute: events carry user data (object keys, item images, bodies).
    #[default]
    Remove,
    /// Keep it unchanged (needed on the first tier of a two-tier deployment, so that the
    /// second tier can read it).
    Keep,
    /// Keep its first [`EventAttribute::truncate_bytes`] bytes (cut on a UTF-8 boundary).
    Truncate,
}

/// The raw event attribute on output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventAttribute {
    /// `remove` (default), `keep` or `truncate`.
    pub output: EventOutput,
    /// Bytes kept by `truncate`: 1 to 1048576. Default 256.
    pub truncate_bytes: u64,
}

impl Default for EventAttribute {
    fn default() -> Self {
        EventAttribute {
            output: EventOutput::Remove,
            truncate_bytes: 256,
        }
    }
}

/// Datadog-identical span-pointer links: zero trace and span ids, `link.kind=span-pointer`,
/// `ptr.kind`, `ptr.dir` (`d` on the write, `u` on the triggered invocation), `ptr.hash`.
/// Stateless, so they work on any number of instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PointerLinks {
    /// Default `true`.
    pub enabled: bool,
}

impl Default for PointerLinks {
    fn default() -> Self {
        PointerLinks { enabled: true }
    }
}

/// Real OTel span links through the index: whichever side of a pointer arrives second gets
/// a link to the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectLinks {
    /// Default `true`.
    pub enabled: bool,
    /// Join an S3 notification to the write whose `aws.request_id` equals the record's
    /// `responseElements.x-amz-request-id`, for producers that did not record the ETag.
    /// Default `true`.
    pub request_id_join: bool,
    /// Join an S3 notification to the latest write of the same bucket and key when neither
    /// the ETag nor the request id matches (match kind `heuristic`: an overwrite within the
    /// index TTL can mislink). Default `false`.
    pub heuristic_s3_key: bool,
    /// Join consumers to producers on the ids AWS hands back to the sender (SQS, SNS,
    /// EventBridge, Kinesis, Step Functions). Default `true`.
    pub message_ids: bool,
    /// Join a Lambda invocation span (`faas.invocation_id`) to the SDK `Invoke` call whose
    /// `aws.request_id` is the same: Lambda gives the invocation the call's request id,
    /// synchronous or asynchronous (`InvocationType: Event`, to which Lambda passes no
    /// `ClientContext`, where SDKs put the W3C context). An invocation span that something
    /// else started (a known trigger event, a message context, a Step Functions state, a
    /// `faas.trigger` other than `other`) takes no `index` entry for it; others take one.
    /// Default `true`.
    pub lambda_invocations: bool,
    /// Join the consumer of a Lambda destination record (the destination function, or the
    /// SQS, SNS or EventBridge consumer of one) to the invocation it reports: the span whose
    /// `faas.invocation_id` is the record's `requestContext.requestId`; likewise the consumer
    /// of an event Lambda sent the function's dead-letter queue (SQS, SNS), by its
    /// `RequestID` attribute. Lambda sends either without the invocation's trace context.
    /// Every invocation span that Lambda may have invoked asynchronously takes an `index`
    /// entry for it: all but those whose event or `faas.trigger` shows an HTTP request, an
    /// SQS queue or Firehose, or that a Step Functions state invoked. Default `true`.
    pub lambda_destinations: bool,
}

impl Default for DirectLinks {
    fn default() -> Self {
        DirectLinks {
            enabled: true,
            request_id_join: true,
            heuristic_s3_key: false,
            message_ids: true,
            lambda_invocations: true,
            lambda_destinations: true,
        }
    }
}

/// Links from message consumers (SQS, SNS, EventBridge, Kinesis) to the trace contexts
/// found in their messages (W3C, AWSTraceHeader, Datadog), one link per message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Messaging {
    /// Default `true`.
    pub enabled: bool,
    /// When a batch holds exactly one message with a context and the consumer trace has
    /// its root here, re-parent the consumer trace under that context instead of only
    /// linking (uses the adoption machinery and its TTL). Default `false`.
    pub parent_single_message: bool,
}

impl Default for Messaging {
    fn default() -> Self {
        Messaging {
            enabled: true,
            parent_single_message: false,
        }
    }
}

/// Re-parenting of consumer traces. When a consumer span is matched to a producer span
/// already seen, every span of the consumer trace (in this batch and, through a remap table,
/// in later batches) gets the producer's trace id; spans without a parent are parented
/// under the producer span; the original trace id stays in `relink.original_trace_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adoption {
    /// Default `false`. Requires `direct_links.enabled` (adoption follows direct matches).
    pub enabled: bool,
    /// How long a remapped trace keeps being rewritten, in seconds: 1 to 86400.
    /// Default 3600.
    pub ttl_seconds: u64,
    /// Remapped traces remembered at once (oldest forgotten first): 1 to 10000000.
    /// Default 100000.
    pub max_traces: u64,
}

impl Default for Adoption {
    fn default() -> Self {
        Adoption {
            enabled: false,
            ttl_seconds: 3600,
            max_traces: 100_000,
        }
    }
}

/// The pointer index: about 56 bytes per entry at capacity (see `relink::index`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Index {
    /// Entries kept at once, oldest evicted first: 1 to 50000000. Default 100000 (about
    /// 5.6 MB).
    pub max_entries: u64,
    /// Seconds an entry stays matchable: 1 to 86400. Default 900 (S3 notifications and
    /// stream records normally arrive within seconds; retries within minutes).
    pub ttl_seconds: u64,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            max_entries: 100_000,
            ttl_seconds: 900,
        }
    }
}

/// Which S3 identity stamp mode routes on. Both tiers must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum S3Route {
    /// The pointer hash (bucket, key, ETag). Producers that did not record the ETag fall
    /// back to their request id and then meet their consumer only by chance.
    #[default]
    Pointer,
    /// The request id, which every OTel AWS SDK instrumentation records and every direct
    /// S3 notification carries.
    RequestId,
}

/// Stamp mode: write the routing key of each trace into [`Attributes::route`], so a
/// load-balancing exporter (`routing_key: attributes`, `routing_attributes: [relink.route]`)
/// sends both sides of a pointer to the same second-tier instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stamp {
    /// Default `false`.
    pub enabled: bool,
    /// `pointer` (default) or `request_id`.
    pub s3_route: S3Route,
}

impl Default for Stamp {
    fn default() -> Self {
        Stamp {
            enabled: false,
            s3_route: S3Route::Pointer,
        }
    }
}

/// DynamoDB key schemas.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dynamodb {
    /// Table name to its key attribute names (partition key, then sort key if any).
    /// PutItem records the whole item, so relink needs the schema to hash only the key.
    /// Tables not listed are hashed as recorded when that has one or two attributes.
    /// Example: `{"orders": ["pk", "sk"], "users": ["id"]}`. Default empty.
    pub tables: BTreeMap<String, Vec<String>>,
}

/// Safety limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Requests larger than this (as received, before inflating gzip) pass through
    /// unchanged and count as an error: 1 to 1073741824. Default 16777216 (16 MiB).
    pub max_request_bytes: u64,
    /// gzip request bodies are inflated up to this many bytes; a body that inflates past
    /// it (a gzip bomb) passes through unchanged and counts as an error. Also bounds the
    /// CloudWatch Logs subscription data inflated from event attributes. 1 to 1073741824.
    /// Default 67108864 (64 MiB, the bound the OTLP specification recommends).
    pub max_decompressed_bytes: u64,
    /// Event attributes (and raw events) larger than this are not decoded (counted): 1 to
    /// 67108864. Default 6291456 (6 MiB, the largest payload Lambda invokes a function with:
    /// an SQS, Kinesis or DynamoDB batch can fill it).
    pub max_event_bytes: u64,
    /// Nesting depth of attribute values (arrays and key-value lists inside arrays and
    /// key-value lists) in a request, and of the JSON in event attributes. A deeper request
    /// passes through unchanged and counts as a decode error; a deeper event attribute is
    /// not decoded (counted as too large). 1 to 128. Default 64: DynamoDB items nest up to
    /// 32 levels, which is 64 JSON levels in a stream record's image. The codecs stop at
    /// their own bounds whatever this says (protobuf 100 message levels, JSON 128).
    pub max_nesting: u64,
    /// Attributes examined per span when looking for evidence: 1 to 100000. Default 256.
    pub max_attributes_scanned: u64,
    /// Links a span may end up with; links beyond are not added (counted): 1 to 100000.
    /// Default 128 (OTel SDKs' default link limit).
    pub max_links_per_span: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_event_bytes: 6 * 1024 * 1024,
            max_nesting: 64,
            max_attributes_scanned: 256,
            max_links_per_span: 128,
        }
    }
}

/// How a Lambda invoked by a Step Functions state joins that state's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LambdaJoin {
    /// `parent` when `adoption.enabled`, else `link` (default).
    #[default]
    FollowAdoption,
    /// A span link to the state span; ids are left alone.
    Link,
    /// The link, and the Lambda's trace is adopted into the workflow's trace with its root
    /// parented under the state span (the adoption machinery and its TTL, also when
    /// `adoption.enabled` is false).
    Parent,
}

/// Step Functions workflow tracing: execution logs and history become spans (through the
/// event entry point), and the spans of the Lambdas a state invokes join that state's span.
/// Both sides compute the same deterministic ids (see `stepfn::ids`), so this join needs
/// no index and works on any number of instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stepfunctions {
    /// Default `true`. When `false`, relink knows nothing of workflows: the event entry
    /// point refuses execution logs and history, and a Lambda whose event carries a context
    /// object is joined (by the execution ARN, a direct link) to the StartExecution call
    /// that started its execution instead of to its state.
    pub enabled: bool,
    /// Write execution, state and task input and output as span attributes; otherwise
    /// only their sizes. They may hold personal or secret data. Default `false`.
    pub include_data: bool,
    /// Execution log lines or history events read from one input; larger inputs are
    /// refused: 1 to 1000000. Default 25000 (the history limit of a Standard execution).
    pub max_events: u64,
    /// `follow_adoption` (default), `link` or `parent`: whether a Lambda invoked by a state
    /// gets a link to the state span or becomes its child (see [`LambdaJoin`]). Example:
    /// `"link"` keeps Lambda traces apart even with `adoption.enabled`.
    pub lambda_join: LambdaJoin,
}

impl Default for Stepfunctions {
    fn default() -> Self {
        Stepfunctions {
            enabled: true,
            include_data: false,
            max_events: crate::stepfn::DEFAULT_MAX_EVENTS as u64,
            lambda_join: LambdaJoin::FollowAdoption,
        }
    }
}

/// Log enrichment (trace ids on Lambda and Step Functions log records, [`crate::logs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Logs {
    /// Lambda request ids whose trace is remembered, so a function's own log lines (which
    /// carry only the request id) get the trace its `platform.start` event stated:
    /// 0 to 1000000 (0 remembers none). Default 10000.
    pub max_requests: u64,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            max_requests: 10_000,
        }
    }
}

/// Why a configuration was rejected. Messages are lowercase and name the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Not valid JSON, a wrong type, or an unknown field (serde names it).
    Json { message: String },
    /// A name that must not be empty is.
    Empty { field: String },
    /// A number outside its documented range.
    OutOfRange {
        field: String,
        min: u64,
        max: u64,
        actual: u64,
    },
    /// Two attribute names (or two key names of a table) are the same.
    Duplicate {
        field: String,
        other: String,
        value: String,
    },
    /// An option that only works together with another one that is off.
    Requires { field: String, requires: String },
    /// A DynamoDB key schema that is not one or two names.
    KeySchema { field: String, actual: usize },
    /// More than one of the above, in field order.
    Several(Vec<ConfigError>),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Json { message } => write!(f, "config: invalid json: {message}"),
            ConfigError::Empty { field } => write!(f, "config: `{field}` must not be empty"),
            ConfigError::OutOfRange {
                field,
                min,
                max,
                actual,
            } => {
                write!(f, "config: `{field}` is {actual}, expected {min} to {max}")
            }
            ConfigError::Duplicate {
                field,
                other,
                value,
            } => {
                write!(f, "config: `{field}` and `{other}` are both {value:?}")
            }
            ConfigError::Requires { field, requires } => {
                write!(f, "config: `{field}` requires `{requires}`")
            }
            ConfigError::KeySchema { field, actual } => {
                write!(
                    f,
                    "config: `{field}` has {actual} key names, expected 1 or 2"
                )
            }
            ConfigError::Several(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// The individual problems (one for a single error).
    pub fn errors(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several(all) => all.iter().collect(),
            one => vec![one],
        }
    }
}

impl Config {
    /// Parses and validates a JSON configuration.
    pub fn from_json(json: &str) -> Result<Config, ConfigError> {
        // Windows editors save UTF-8 with a byte order mark; JSON readers may ignore it.
        let json = json.strip_prefix('\u{feff}').unwrap_or(json);
        let json_error = |e: serde_json::Error| ConfigError::Json {
            message: e.to_string(),
        };
        // A first, untyped pass rejects what serde's derive would accept silently: a key
        // given twice in a map, and arrays in place of objects (fields by position, so
        // `[]` would be the default configuration).
        let shape = crate::json::strict::from_str(json).map_err(json_error)?;
        check_shape(&shape)?;
        let config: Config = serde_json::from_str(json).map_err(json_error)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field and reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        self.check_attributes(&mut errors);
        if self.event_attribute.output == EventOutput::Truncate {
            range(
                &mut errors,
                "event_attribute.truncate_bytes",
                self.event_attribute.truncate_bytes,
                1,
                1 << 20,
            );
        }
        if self.adoption.enabled && !self.direct_links.enabled {
            errors.push(requires("adoption.enabled", "direct_links.enabled"));
        }
        let sfn = &self.stepfunctions;
        if sfn.lambda_join == LambdaJoin::Parent && !sfn.enabled {
            errors.push(requires(
                "stepfunctions.lambda_join",
                "stepfunctions.enabled",
            ));
        }
        if self.messaging.parent_single_message && !self.messaging.enabled {
            errors.push(requires(
                "messaging.parent_single_message",
                "messaging.enabled",
            ));
        }
        // Every option that re-parents traces uses the adoption machinery and its bounds.
        if self.adoption.enabled
            || self.messaging.parent_single_message
            || sfn.lambda_join == LambdaJoin::Parent
        {
            range(
                &mut errors,
                "adoption.ttl_seconds",
                self.adoption.ttl_seconds,
                1,
                86_400,
            );
            range(
                &mut errors,
                "adoption.max_traces",
                self.adoption.max_traces,
                1,
                10_000_000,
            );
        }
        range(
            &mut errors,
            "logs.max_requests",
            self.logs.max_requests,
            0,
            1_000_000,
        );
        range(
            &mut errors,
            "index.max_entries",
            self.index.max_entries,
            1,
            50_000_000,
        );
        range(
            &mut errors,
            "index.ttl_seconds",
            self.index.ttl_seconds,
            1,
            86_400,
        );
        for (table, keys) in &self.dynamodb.tables {
            let field = format!("dynamodb.tables.{table}");
            if table.is_empty() {
                errors.push(ConfigError::Empty {
                    field: "dynamodb.tables (table name)".into(),
                });
            }
            if keys.is_empty() || keys.len() > 2 {
                errors.push(ConfigError::KeySchema {
                    field: field.clone(),
                    actual: keys.len(),
                });
            }
            if keys.iter().any(String::is_empty) {
                errors.push(ConfigError::Empty {
                    field: format!("{field} (key name)"),
                });
            }
            if let [a, b] = keys.as_slice() {
                if a == b && !a.is_empty() {
                    errors.push(ConfigError::Duplicate {
                        field: format!("{field}[0]"),
                        other: format!("{field}[1]"),
                        value: a.clone(),
                    });
                }
            }
        }
        range(
            &mut errors,
            "stepfunctions.max_events",
            self.stepfunctions.max_events,
            1,
            1_000_000,
        );
        let l = &self.limits;
        range(
            &mut errors,
            "limits.max_request_bytes",
            l.max_request_bytes,
            1,
            1 << 30,
        );
        range(
            &mut errors,
            "limits.max_decompressed_bytes",
            l.max_decompressed_bytes,
            1,
            1 << 30,
        );
        range(
            &mut errors,
            "limits.max_event_bytes",
            l.max_event_bytes,
            1,
            64 << 20,
        );
        range(&mut errors, "limits.max_nesting", l.max_nesting, 1, 128);
        range(
            &mut errors,
            "limits.max_attributes_scanned",
            l.max_attributes_scanned,
            1,
            100_000,
        );
        range(
            &mut errors,
            "limits.max_links_per_span",
            l.max_links_per_span,
            1,
            100_000,
        );
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Several(errors)),
        }
    }

    /// Whether a Lambda invoked by a Step Functions state is parented under the state span
    /// (`stepfunctions.lambda_join`, following `adoption.enabled` by default) or linked.
    pub fn stepfunctions_parent(&self) -> bool {
        match self.stepfunctions.lambda_join {
            LambdaJoin::FollowAdoption => self.adoption.enabled,
            LambdaJoin::Link => false,
            LambdaJoin::Parent => true,
        }
    }

    fn check_attributes(&self, errors: &mut Vec<ConfigError>) {
        let a = &self.attributes;
        let named = [
            ("attributes.event", &a.event),
            ("attributes.s3_etag", &a.s3_etag),
            ("attributes.dynamodb_keys", &a.dynamodb_keys),
            ("attributes.message_ids", &a.message_ids),
            ("attributes.route", &a.route),
        ];
        for (i, (field, value)) in named.iter().enumerate() {
            if value.is_empty() {
                errors.push(ConfigError::Empty {
                    field: (*field).into(),
                });
                continue;
            }
            if let Some((other, _)) = named.iter().take(i).find(|(_, v)| v == value) {
                errors.push(ConfigError::Duplicate {
                    field: (*other).into(),
                    other: (*field).into(),
                    value: (*value).clone(),
                });
            }
        }
    }
}

/// The document and every section must be objects.
fn check_shape(value: &serde_json::Value) -> Result<(), ConfigError> {
    let not_object = |what: String| ConfigError::Json {
        message: format!("{what} must be an object, got an array"),
    };
    match value {
        serde_json::Value::Array(_) => Err(not_object("the configuration".into())),
        serde_json::Value::Object(sections) => match sections.iter().find(|(_, v)| v.is_array()) {
            Some((name, _)) => Err(not_object(format!("`{name}`"))),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn range(errors: &mut Vec<ConfigError>, field: &str, actual: u64, min: u64, max: u64) {
    if actual < min || actual > max {
        errors.push(ConfigError::OutOfRange {
            field: field.into(),
            min,
            max,
            actual,
        });
    }
}

fn requires(field: &str, requires: &str) -> ConfigError {
    ConfigError::Requires {
        field: field.into(),
        requires: requires.into(),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
