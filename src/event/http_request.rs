//! Facts every HTTP-shaped trigger shares: headers (single- and multi-valued), query
//! strings, request epochs and the region hidden in an AWS endpoint's domain name.
//!
//! API Gateway REST and WebSocket, HTTP APIs, ALB and function URLs each spell these a
//! little differently; the decoders call these helpers so the same header or epoch is read
//! the same way whatever the trigger.

use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{invalid, join, opt_u64};
use crate::propagation::{from_base64_datadog, from_headers, Found};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// Everything but RFC 3986 unreserved characters is escaped when a decoded query string
/// is written back out, so the result parses back to the same parameters.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Below this an epoch given as milliseconds would be before March 1973: such a value is
/// seconds (SAM local writes `requestTimeEpoch` and `timeEpoch` in seconds).
const MIN_PLAUSIBLE_MILLIS: u64 = 100_000_000_000;

/// The request headers, in the order the event lists them. Names keep their case; look-ups
/// ignore it, as HTTP does.
#[derive(Debug)]
pub(super) struct Headers<'a> {
    list: Vec<(&'a str, &'a str)>,
}

impl<'a> Headers<'a> {
    /// Reads `multiValueHeaders` (every value) and `headers`. A name present in both is
    /// taken from `multiValueHeaders` only, which holds every value API Gateway and ALB
    /// received; `headers` keeps just the last one. Names only in `headers` (a client
    /// library may add them to a test event) are kept too.
    pub(super) fn read(event: &'a Value, input: &'static str) -> Result<Headers<'a>, DecodeError> {
        let mut list = multi_valued(event, "/multiValueHeaders", input)?;
        let multi_count = list.len();
        if let Some(single) = object_or_null(event, "/headers", input)? {
            for (name, value) in single {
                let path = join("/headers", name);
                if matches!(value, Value::Null) {
                    continue;
                }
                let value = header_value(value, &path, input)?;
                let known = list
                    .iter()
                    .take(multi_count)
                    .any(|(n, _)| n.eq_ignore_ascii_case(name));
                if !known {
                    list.push((name.as_str(), value));
                }
            }
        }
        Ok(Headers { list })
    }

    /// The first value of a header, by case-insensitive name.
    pub(super) fn get(&self, name: &str) -> Option<&'a str> {
        self.list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Upstream trace contexts in the headers (W3C, Datadog, X-Ray).
    pub(super) fn contexts(&self) -> Vec<Found> {
        from_headers(self.list.iter().copied(), "headers")
    }

    /// The contexts an API Gateway integration joins: its Lambda authorizer's
    /// ([`authorizer_contexts`]) first, as datadog-lambda reads them before the headers,
    /// then the headers' (one naming the same span as the authorizer's is left out).
    pub(super) fn contexts_after_authorizer(&self, event: &Value, api: Api) -> Vec<Found> {
        let mut found = authorizer_contexts(event, api);
        for f in self.contexts() {
            if !found.iter().any(|a| a.repeats(&f)) {
                found.push(f);
            }
        }
        found
    }

    /// The `X-Forwarded-Proto` value: how the client reached the load balancer.
    pub(super) fn scheme(&self) -> Option<String> {
        non_empty(self.get("x-forwarded-proto"))
    }

    /// The original client: the first address of `X-Forwarded-For`.
    pub(super) fn forwarded_for(&self) -> Option<String> {
        let first = self.get("x-forwarded-for")?.split(',').next()?;
        non_empty(Some(first.trim()))
    }
}

/// Which API Gateway API an event came through: where its authorizer context sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    /// REST and WebSocket APIs: `requestContext.authorizer` holds the context itself.
    Rest,
    /// HTTP APIs: a Lambda authorizer's context is under `requestContext.authorizer.lambda`.
    Http,
}

/// Datadog's traced Lambda authorizer returns its own context in the authorizer context
/// (`_datadog`: base64 JSON of its `x-datadog-*` headers), which API Gateway passes to the
/// integration; the integration is its child (datadog-lambda's
/// `get_injected_authorizer_data`). API Gateway caches authorizer answers, and a cached one
/// names a span of an earlier request's trace, so it counts only when the authorizer ran
/// for this request, as datadog-lambda tells: `integrationLatency` above 0 (REST), or the
/// `x-datadog-authorizing-requestid` it wrote equal to this request's `requestId`.
/// Anything else (absent, not base64 JSON, cached) gives no context.
pub(super) fn authorizer_contexts(event: &Value, api: Api) -> Vec<Found> {
    let pointer = match api {
        Api::Rest => "/requestContext/authorizer/_datadog",
        Api::Http => "/requestContext/authorizer/lambda/_datadog",
    };
    let Some(text) = event.pointer(pointer).and_then(Value::as_str) else {
        return Vec::new();
    };
    let carrier = pointer.trim_start_matches('/').replace('/', ".");
    let (found, object) = from_base64_datadog(text, &carrier);
    let Some(object) = object else {
        return Vec::new();
    };
    let ran_now = event
        .pointer("/requestContext/authorizer/integrationLatency")
        .and_then(Value::as_f64)
        .is_some_and(|latency| latency > 0.0);
    let request = event
        .pointer("/requestContext/requestId")
        .and_then(Value::as_str);
    let for_this_request = object
        .get("x-datadog-authorizing-requestid")
        .and_then(Value::as_str)
        .is_some_and(|id| Some(id) == request);
    match ran_now || for_this_request {
        true => found,
        false => Vec::new(),
    }
}

/// The `(name, value)` pairs of an object of string arrays (`multiValueHeaders`,
/// `multiValueQueryStringParameters`), every value in order; a `null` array is none.
fn multi_valued<'a>(
    event: &'a Value,
    at: &str,
    input: &'static str,
) -> Result<Vec<(&'a str, &'a str)>, DecodeError> {
    let mut pairs = Vec::new();
    let Some(multi) = object_or_null(event, at, input)? else {
        return Ok(pairs);
    };
    for (name, values) in multi {
        let path = join(at, name);
        match values {
            Value::Null => {}
            Value::Array(values) => {
                for (index, value) in values.iter().enumerate() {
                    let item = join(&path, &index.to_string());
                    pairs.push((name.as_str(), header_value(value, &item, input)?));
                }
            }
            other => {
                return Err(crate::json::fields::wrong_type(
                    input,
                    &path,
                    "an array of strings",
                    other,
                ))
            }
        }
    }
    Ok(pairs)
}

/// The query string of an event whose parameters are given as objects
/// (`multiValueQueryStringParameters` preferred, else `queryStringParameters`), keys in
/// sorted order so the same event always gives the same string. API Gateway has decoded
/// the values, so `encode` escapes them again; ALB passes them as received, so it does not.
/// `None` when the event has no parameters.
pub(super) fn query_string(
    event: &Value,
    input: &'static str,
    encode: bool,
) -> Result<Option<String>, DecodeError> {
    query_string_at(event, "/queryStringParameters", input, encode)
}

/// [`query_string`] with the single-valued parameters at `single_path` (VPC Lattice 1.0
/// writes `query_string_parameters`).
pub(super) fn query_string_at(
    event: &Value,
    single_path: &str,
    input: &'static str,
    encode: bool,
) -> Result<Option<String>, DecodeError> {
    let mut pairs = multi_valued(event, "/multiValueQueryStringParameters", input)?;
    if pairs.is_empty() {
        if let Some(single) = object_or_null(event, single_path, input)? {
            for (name, value) in single {
                let path = join(single_path, name);
                if !matches!(value, Value::Null) {
                    pairs.push((name.as_str(), header_value(value, &path, input)?));
                }
            }
        }
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    // A stable sort keeps each key's values in the order the event gave them.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let escape = |s: &str| -> String {
        if encode {
            utf8_percent_encode(s, QUERY_COMPONENT).to_string()
        } else {
            s.to_owned()
        }
    };
    let joined: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect();
    Ok(Some(joined.join("&")))
}

/// An epoch in milliseconds (`requestTimeEpoch`, `timeEpoch`) as unix nanoseconds. Zero
/// (console test events) means unknown; values too small to be milliseconds are seconds.
pub(super) fn epoch_millis(
    event: &Value,
    path: &str,
    input: &'static str,
) -> Result<Option<u64>, DecodeError> {
    let nanos = match opt_u64(event, path, input)? {
        None | Some(0) => return Ok(None),
        Some(secs) if secs < MIN_PLAUSIBLE_MILLIS => secs.checked_mul(1_000_000_000),
        Some(millis) => millis.checked_mul(1_000_000),
    };
    nanos
        .map(Some)
        .ok_or_else(|| invalid(input, path, "epoch is out of range".into()))
}

/// The region in an AWS endpoint name: `{id}.execute-api.{region}.amazonaws.com`,
/// `{id}.lambda-url.{region}.on.aws`. `None` for custom domains and anything else.
pub(super) fn region_from_domain(domain: &str, service: &str) -> Option<String> {
    let mut labels = domain.split('.');
    let _id = labels.next()?;
    if labels.next()? != service {
        return None;
    }
    let region = labels.next()?;
    let plausible = region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    plausible.then(|| region.to_owned())
}

/// `"GET /path"`, or the method alone when there is no path.
pub(super) fn event_name(method: Option<&str>, path: Option<&str>) -> Option<String> {
    match (method, path) {
        (Some(m), Some(p)) => Some(format!("{m} {p}")),
        (Some(m), None) => Some(m.to_owned()),
        (None, _) => None,
    }
}

/// An optional string that is absent when empty (API Gateway writes `""` for unknowns).
pub(super) fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn object_or_null<'a>(
    event: &'a Value,
    path: &str,
    input: &'static str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, DecodeError> {
    match json_pointer(event, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(crate::json::fields::wrong_type(
            input,
            path,
            "an object",
            other,
        )),
    }
}

fn header_value<'a>(
    value: &'a Value,
    path: &str,
    input: &'static str,
) -> Result<&'a str, DecodeError> {
    match value {
        Value::String(s) => Ok(s.as_str()),
        other => Err(crate::json::fields::wrong_type(
            input, path, "a string", other,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_value_headers_win_and_single_only_names_are_kept() -> Result<(), DecodeError> {
        let event = json!({
            "headers": {"Host": "last", "X-Only-Single": "s"},
            "multiValueHeaders": {"host": ["first", "last"]}
        });
        let headers = Headers::read(&event, "test")?;
        assert_eq!(
            headers.list,
            vec![("host", "first"), ("host", "last"), ("X-Only-Single", "s")]
        );
        assert_eq!(headers.get("HOST"), Some("first"));
        Ok(())
    }

    #[test]
    fn header_of_wrong_type_names_the_field() {
        let event = json!({"headers": {"Host": 1}});
        let err = Headers::read(&event, "test").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("test: invalid field `headers.Host`: expected a string, found a number")
        );
        let event = json!({"multiValueHeaders": {"a/b": "x"}});
        let err = Headers::read(&event, "test").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("test: invalid field `multiValueHeaders.a/b`: expected an array of strings, found a string")
        );
    }

    #[test]
    fn forwarded_for_and_scheme() -> Result<(), DecodeError> {
        let event = json!({"headers": {"X-Forwarded-For": " 1.2.3.4 , 5.6.7.8", "X-Forwarded-Proto": "https"}});
        let headers = Headers::read(&event, "test")?;
        assert_eq!(headers.forwarded_for().as_deref(), Some("1.2.3.4"));
        assert_eq!(headers.scheme().as_deref(), Some("https"));
        let empty = json!({"headers": {"X-Forwarded-For": ""}});
        assert_eq!(Headers::read(&empty, "test")?.forwarded_for(), None);
        Ok(())
    }

    #[test]
    fn query_strings_are_sorted_and_escaped_when_asked() {
        let event = json!({
            "queryStringParameters": {"b": "ignored"},
            "multiValueQueryStringParameters": {"b": ["x y", "2"], "a": ["?&="]}
        });
        assert_eq!(
            query_string(&event, "t", true),
            Ok(Some("a=%3F%26%3D&b=x%20y&b=2".into()))
        );
        assert_eq!(
            query_string(&event, "t", false),
            Ok(Some("a=?&=&b=x y&b=2".into()))
        );
        let single =
            json!({"queryStringParameters": {"k": "v"}, "multiValueQueryStringParameters": null});
        assert_eq!(query_string(&single, "t", true), Ok(Some("k=v".into())));
        assert_eq!(
            query_string(&json!({"queryStringParameters": {}}), "t", true),
            Ok(None)
        );
    }

    #[test]
    fn epochs_in_millis_seconds_or_zero() {
        let event = json!({"ms": 1583798639428u64, "s": 1637063673, "zero": 0, "huge": u64::MAX});
        assert_eq!(
            epoch_millis(&event, "/ms", "t"),
            Ok(Some(1_583_798_639_428_000_000))
        );
        assert_eq!(
            epoch_millis(&event, "/s", "t"),
            Ok(Some(1_637_063_673_000_000_000))
        );
        assert_eq!(epoch_millis(&event, "/zero", "t"), Ok(None));
        assert_eq!(epoch_millis(&event, "/missing", "t"), Ok(None));
        let err = epoch_millis(&event, "/huge", "t")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("t: invalid field `huge`: epoch is out of range")
        );
    }

    #[test]
    fn regions_from_endpoint_domains() {
        let r = |d| region_from_domain(d, "execute-api");
        assert_eq!(
            r("gy415nuibc.execute-api.us-east-2.amazonaws.com").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(r("1234567890.execute-api.{dns_suffix}"), None);
        assert_eq!(r("api.example.com"), None);
        assert_eq!(r("localhost"), None);
        let u = region_from_domain("abc.lambda-url.eu-south-1.on.aws", "lambda-url");
        assert_eq!(u.as_deref(), Some("eu-south-1"));
    }
}
