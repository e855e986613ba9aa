//! Amazon Resource Names as event payloads give them, split into the parts a [`Source`]
//! needs. Events name their resource by ARN (`eventSourceARN`, `TopicArn`,
//! `deliveryStreamArn`) and rarely by name, so names, regions and accounts come from here.

use super::Source;

/// The parts of `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits an ARN; `None` when the text is not one (test payloads carry values such as
/// `eventsource_arn` or `aws:lambda:events`).
pub(crate) fn parse(text: &str) -> Option<Arn<'_>> {
    let mut parts = text.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    Some(Arn {
        service,
        region,
        account,
        resource,
    })
}

impl<'a> Arn<'a> {
    /// The resource after a type prefix: `stream/NAME` gives `NAME` for `stream`.
    pub fn resource_after(&self, prefix: &str) -> Option<&'a str> {
        let resource: &'a str = self.resource;
        let rest = resource.strip_prefix(prefix)?.strip_prefix('/')?;
        let name = rest.split('/').next().unwrap_or(rest);
        (!name.is_empty()).then_some(name)
    }
}

/// A source named by an ARN: the ARN as given, and the region and account it holds when
/// it is one. `name` is the resource name the caller read from the ARN or the payload.
pub(crate) fn source(arn: Option<&str>, name: Option<&str>, region: Option<&str>) -> Source {
    let parsed = arn.and_then(parse);
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Source {
        arn: arn.map(str::to_owned),
        name: name.map(str::to_owned),
        region: region
            .map(str::to_owned)
            .or_else(|| parsed.and_then(|a| non_empty(a.region))),
        account: parsed.and_then(|a| non_empty(a.account)),
        ..Source::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_resource_arns() {
        let a = parse("arn:aws:dynamodb:us-east-1:123456789012:table/Example-Table/stream/2016-12-01T00:00:00.000");
        let a = a.expect("an arn");
        assert_eq!(
            (a.service, a.region, a.account),
            ("dynamodb", "us-east-1", "123456789012")
        );
        assert_eq!(a.resource_after("table"), Some("Example-Table"));
        assert_eq!(a.resource_after("stream"), None);
        let q = parse("arn:aws:sqs:us-west-2:123456789012:SQSQueue").expect("an arn");
        assert_eq!(q.resource, "SQSQueue");
        let s3 = parse("arn:aws:s3:::mybucket").expect("an arn");
        assert_eq!((s3.region, s3.account, s3.resource), ("", "", "mybucket"));
        // A resource may itself hold colons.
        let sub = parse("arn:aws:sns:eu-west-1:1:topic:sub-id").expect("an arn");
        assert_eq!(sub.resource, "topic:sub-id");
    }

    #[test]
    fn rejects_non_arns() {
        assert_eq!(parse("eventsource_arn"), None);
        assert_eq!(parse("aws:lambda:events"), None);
        assert_eq!(parse("arn:aws:sqs"), None);
        assert_eq!(
            parse("arn:aws:kinesis:r:a:stream/").and_then(|a| a.resource_after("stream")),
            None
        );
    }

    #[test]
    fn source_takes_region_and_account_from_the_arn() {
        let s = source(
            Some("arn:aws:sqs:us-west-2:123456789012:q"),
            Some("q"),
            None,
        );
        assert_eq!(
            s.arn.as_deref(),
            Some("arn:aws:sqs:us-west-2:123456789012:q")
        );
        assert_eq!(s.name.as_deref(), Some("q"));
        assert_eq!(s.region.as_deref(), Some("us-west-2"));
        assert_eq!(s.account.as_deref(), Some("123456789012"));
        let s3 = source(Some("arn:aws:s3:::b"), Some("b"), Some("eu-west-1"));
        assert_eq!(
            (s3.region.as_deref(), s3.account),
            (Some("eu-west-1"), None)
        );
        assert_eq!(source(Some("aws:lambda:events"), None, None).account, None);
    }
}
