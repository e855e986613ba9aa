//! Options for inferring spans. Every field has a default that is right when the caller
//! knows nothing beyond the event.

/// How inferred spans are built. `InferOptions::default()` is the documented default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferOptions {
    /// `service.name` of every inferred span's resource, nested payloads included.
    /// Default `None`: each trigger's spans are reported under a name derived from its
    /// source: the source name (bucket, table, queue, topic, stream, delivery stream, API
    /// id, log group, event source), else `aws.{kind}` (`aws.sqs`, `aws.apigateway-http`).
    /// Example: `Some("orders-pipeline".into())`.
    pub service_name: Option<String>,
    /// When the invoked function started, in unix nanoseconds. Inferred spans end there
    /// (never before they start). Default `None`: a span ends when it starts; a span
    /// whose event carries no time starts (and ends) here, or at 0 when this is `None`.
    pub invocation_start_unix_nano: Option<u64>,
    /// Whether a single-message trigger whose message carries an upstream context uses that
    /// context as the span's parent (the messaging conventions' opt-in "creation context as
    /// parent"), so producer and consumer share one trace. The span links to the context
    /// either way. HTTP requests always take their header context as parent. Default `true`.
    pub parent_single_message: bool,
    /// The most links one span carries; further links are counted in
    /// `dropped_links_count`. Default 128, the OpenTelemetry SDKs' default link limit.
    pub max_links: usize,
}

impl Default for InferOptions {
    fn default() -> InferOptions {
        InferOptions {
            service_name: None,
            invocation_start_unix_nano: None,
            parent_single_message: true,
            max_links: 128,
        }
    }
}
