//! Wraps inferred spans in an `ExportTraceServiceRequest`: one `ResourceSpans` per
//! service (the trigger's, then each nested payload's service in order of appearance),
//! each with one `ScopeSpans` for the `relink` scope.

use super::assemble::{infer, Inferred};
use super::attrs::Attrs;
use super::InferOptions;
use crate::event::{Source, Trigger};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// The semantic conventions release the attributes follow.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.44.0";

/// The instrumentation scope name of every inferred span.
pub const SCOPE_NAME: &str = "relink";

/// The spans inferred for `trigger` (see the [module docs](super)): the trigger's own span
/// first, then one per nested payload. Empty for a trigger that gets no span.
pub fn infer_spans(trigger: &Trigger, opts: &InferOptions) -> Vec<Span> {
    infer(trigger, opts).into_iter().map(|i| i.span).collect()
}

/// [`infer_spans`] as an OTLP export request, with resource attributes `service.name`,
/// `cloud.provider=aws`, and `cloud.region` / `cloud.account.id` when the source or its
/// ARN gives them.
pub fn infer_request(trigger: &Trigger, opts: &InferOptions) -> ExportTraceServiceRequest {
    let mut groups: Vec<(ResourceKey, Vec<Span>)> = Vec::new();
    for Inferred { trigger, span } in infer(trigger, opts) {
        let key = ResourceKey::of(trigger, opts);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, spans)) => spans.push(span),
            None => groups.push((key, vec![span])),
        }
    }
    let resource_spans = groups
        .into_iter()
        .map(|(key, spans)| ResourceSpans {
            resource: Some(key.resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    attributes: Vec::new(),
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: SCHEMA_URL.to_string(),
            }],
            schema_url: SCHEMA_URL.to_string(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// What tells one inferred span's resource from another's.
#[derive(PartialEq, Eq)]
struct ResourceKey {
    service_name: String,
    region: Option<String>,
    account: Option<String>,
}

impl ResourceKey {
    fn of(trigger: &Trigger, opts: &InferOptions) -> ResourceKey {
        let source = &trigger.source;
        let service_name = match (&opts.service_name, source.name.as_deref()) {
            (Some(name), _) => name.clone(),
            (None, Some(name)) if !name.is_empty() => name.to_string(),
            _ => format!("aws.{}", trigger.kind.as_str()),
        };
        ResourceKey {
            service_name,
            region: non_empty(source.region.as_deref()).or_else(|| arn_field(source, 3)),
            account: non_empty(source.account.as_deref()).or_else(|| arn_field(source, 4)),
        }
    }

    fn resource(self) -> Resource {
        let mut a = Attrs::new();
        a.str("service.name", self.service_name)
            .str("cloud.provider", "aws")
            .opt_str("cloud.region", self.region.as_deref())
            .opt_str("cloud.account.id", self.account.as_deref());
        Resource {
            attributes: a.0,
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// Field `n` of `arn:partition:service:region:account:resource`, when not empty (S3
/// bucket ARNs leave region and account empty).
fn arn_field(source: &Source, n: usize) -> Option<String> {
    let arn = source.arn.as_deref()?;
    if !arn.starts_with("arn:") {
        return None;
    }
    non_empty(arn.split(':').nth(n))
}
