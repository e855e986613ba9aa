//! The typed result of decoding an AWS event: what triggered the invocation, one item per
//! record, and for each item the upstream contexts, pointers and timestamps found in it.

use crate::pointer::Pointer;
use crate::propagation::{Found, TraceId};
use serde::Serialize;
use std::collections::BTreeMap;

/// The kind of event, printed as the top-level `kind` of `relink event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TriggerKind {
    #[serde(rename = "s3")]
    S3,
    #[serde(rename = "dynamodb")]
    Dynamodb,
    #[serde(rename = "sqs")]
    Sqs,
    #[serde(rename = "sns")]
    Sns,
    #[serde(rename = "eventbridge")]
    Eventbridge,
    #[serde(rename = "kinesis")]
    Kinesis,
    /// Amazon MSK or self-managed Apache Kafka.
    #[serde(rename = "kafka")]
    Kafka,
    #[serde(rename = "firehose")]
    Firehose,
    #[serde(rename = "apigateway-rest")]
    ApigatewayRest,
    #[serde(rename = "apigateway-http")]
    ApigatewayHttp,
    #[serde(rename = "apigateway-websocket")]
    ApigatewayWebsocket,
    #[serde(rename = "alb")]
    Alb,
    #[serde(rename = "function-url")]
    FunctionUrl,
    #[serde(rename = "vpc-lattice")]
    VpcLattice,
    #[serde(rename = "cloudwatch-logs")]
    CloudwatchLogs,
    /// A payload that only carries a Step Functions context object.
    #[serde(rename = "stepfunctions")]
    Stepfunctions,
    /// The record Lambda sends a destination after an asynchronous invocation.
    #[serde(rename = "lambda-destination")]
    LambdaDestination,
}

impl TriggerKind {
    /// The kind's name as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::S3 => "s3",
            TriggerKind::Dynamodb => "dynamodb",
            TriggerKind::Sqs => "sqs",
            TriggerKind::Sns => "sns",
            TriggerKind::Eventbridge => "eventbridge",
            TriggerKind::Kinesis => "kinesis",
            TriggerKind::Kafka => "kafka",
            TriggerKind::Firehose => "firehose",
            TriggerKind::ApigatewayRest => "apigateway-rest",
            TriggerKind::ApigatewayHttp => "apigateway-http",
            TriggerKind::ApigatewayWebsocket => "apigateway-websocket",
            TriggerKind::Alb => "alb",
            TriggerKind::FunctionUrl => "function-url",
            TriggerKind::VpcLattice => "vpc-lattice",
            TriggerKind::CloudwatchLogs => "cloudwatch-logs",
            TriggerKind::Stepfunctions => "stepfunctions",
            TriggerKind::LambdaDestination => "lambda-destination",
        }
    }
}

/// A decoded Lambda trigger event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// How the event reached the function when an intermediary re-shaped it, e.g.
    /// `eventbridge` for S3 notifications delivered through EventBridge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<&'static str>,
    pub source: Source,
    /// One item per record (one for single-record events such as HTTP requests).
    pub items: Vec<Item>,
    /// A Step Functions context object merged into the payload by the state that invoked
    /// the function (`Execution`, `State`, `StateMachine`), at the top level or nested
    /// under `Payload` or `_datadog`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_functions: Option<StepFunctionsContext>,
}

/// The resource that emitted the event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Source {
    /// Bucket, table, queue, topic, stream or delivery stream ARN; the target group ARN of
    /// an ALB; the state machine ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Bucket, table, queue, topic, stream, API id, log group, event bus source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// API Gateway stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// HTTP route template (`/items/{id}`, `GET /items/{id}`, `$default`, `$connect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// One record of the event.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Item {
    /// Message id, event id, record eventID, request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `ObjectCreated:Put`, `INSERT`, an EventBridge detail-type, an HTTP method and path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// The event's own time in unix nanoseconds: SQS SentTimestamp, S3 eventTime, DynamoDB
    /// ApproximateCreationDateTime, API Gateway requestTimeEpoch, SNS Timestamp, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_unix_nano: Option<u64>,
    /// Upstream trace contexts, in the order found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<Found>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pointers: Vec<Pointer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// An event carried in this record's body (S3 in SQS, SNS in SQS, EventBridge in SQS,
    /// S3 in SNS, a Lambda destination record in SQS, SNS or EventBridge), decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Box<Trigger>>,
    /// The Step Functions context object a state put in this message's `_datadog` carrier
    /// (SQS or SNS attribute, EventBridge `detail`): the state that sent it. The context
    /// its consumer joins (the state span) is in `contexts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_functions: Option<StepFunctionsContext>,
}

/// Kind-specific facts an inferred span needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Detail {
    Http(HttpRequest),
    Message(MessageDetail),
    S3(S3Detail),
    Dynamodb(DynamodbDetail),
    Log(LogEvent),
}

/// An HTTP request (API Gateway, ALB, function URL) or WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct HttpRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The request path as received (without query).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The raw query string, without `?`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// `HTTP/1.1`, as the event gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// WebSocket: `CONNECT`, `MESSAGE`, `DISCONNECT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// The domain name the API was called on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// A message from a queue, topic, bus or stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MessageDetail {
    /// Body size in bytes (decoded bytes for Kinesis and Firehose).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_size: Option<u64>,
    /// Kinesis partition key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    /// Kinesis sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// Kafka partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<u64>,
    /// Kafka offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// SQS ApproximateReceiveCount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_count: Option<u64>,
    /// SQS FIFO MessageGroupId.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// SNS Subject, EventBridge source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// String-valued message attributes (names and values), excluding trace carriers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The body parsed as JSON when it is JSON (Kinesis/Firehose data decoded first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_json: Option<serde_json::Value>,
}

/// An S3 notification record beyond its pointer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct S3Detail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

/// A DynamoDB stream record beyond its pointer.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DynamodbDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_view_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// NewImage and OldImage as DynamoDB JSON, when the stream carries them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_image: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_image: Option<serde_json::Value>,
}

/// A CloudWatch Logs event from subscription data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LogEvent {
    pub log_group: String,
    pub log_stream: String,
    pub message: String,
}

/// The Step Functions context object (`$$`) a state passes to the function it invokes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StepFunctionsContext {
    pub execution_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_name: Option<String>,
    /// ISO 8601 as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_machine_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_machine_name: Option<String>,
    pub state_name: String,
    /// ISO 8601 exactly as given: the deterministic span id hashes this string.
    pub state_entered_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_execution_id: Option<String>,
    /// The trace an upstream Lambda started, when the `_datadog` object holding the
    /// context has `x-datadog-trace-id`, with `_dd.p.tid` in `x-datadog-tags`, but no
    /// parent id: Datadog's form for an execution started by a Lambda, whose state spans
    /// belong to that trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_trace_id: Option<TraceId>,
    /// An upstream context in the `_datadog` object holding the context (headers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<Found>,
    /// The trace the execution's input places the execution in, as relink's workflow
    /// spans are placed (`stepfn::upstream`): a parent workflow's context object (at the
    /// top of the input, under `_datadog` or `CONTEXT`), trace headers (`_datadog`,
    /// `traceparent`), a Datadog trace id, or `AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`.
    /// The Lambda joins it when nothing beside the context object names a trace and no
    /// `RootExecutionId` other than the execution's own names a root. Datadog's Lambda
    /// libraries read only `_datadog.x-datadog-trace-id` there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_trace_id: Option<TraceId>,
    /// Where in the input [`StepFunctionsContext::input_trace_id`] was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_carrier: Option<String>,
    /// The root execution of that trace, when the input names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_root_execution: Option<String>,
    /// Where the object was found: ``, `Payload`, `_datadog`.
    pub carrier: String,
}
