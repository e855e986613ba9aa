//! Spans for storage events: S3 notifications (direct or through EventBridge) and
//! DynamoDB stream records.
//!
//! One CONSUMER span per invocation with `faas.trigger=datasource` and the FaaS
//! datasource attributes (`faas.document.*`), named `{event name} {bucket or table}`
//! (`ObjectCreated:Put photos`, `INSERT orders`). The conventions name no storage-event
//! span; the event name is the operation the storage performed and is low-cardinality.
//! A batch whose items differ joins the distinct names, sorted, with `,`
//! (`INSERT,MODIFY orders`).

use super::attrs::{distinct, join_name, uniform, Attrs};
use super::shape::Shape;
use crate::event::{Item, Trigger, TriggerKind};
use crate::pointer::{Pointer, S3Object};
use crate::time::format_rfc3339_millis;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

pub(crate) fn shape(trigger: &Trigger) -> Shape {
    let items = &trigger.items;
    let single = items.first().filter(|_| items.len() == 1);
    let s3 = trigger.kind == TriggerKind::S3;
    let collection = trigger.source.name.as_deref().or_else(|| {
        uniform(items, |i| {
            i.pointers.iter().find_map(|p| match p {
                Pointer::S3Object(o) => Some(o.bucket.as_str()),
                Pointer::DynamodbItem(d) => Some(d.table.as_str()),
                Pointer::Message(_) => None,
            })
        })
    });
    let operation = uniform(items, |i| {
        let name = i.event_name.as_deref()?;
        if s3 {
            s3_operation(name)
        } else {
            dynamodb_operation(name)
        }
    });
    let mut names = distinct(items.iter().filter_map(|i| i.event_name.as_deref()));
    names.sort();
    let names = names.join(",");

    let mut a = Attrs::new();
    if s3 {
        a.opt_str("aws.s3.bucket", collection);
    } else if let Some(table) = collection {
        a.strs("aws.dynamodb.table_names", &[table.to_string()]);
    }
    a.opt_str("faas.document.collection", collection)
        .opt_str("faas.document.operation", operation);
    if let Some(item) = single {
        if s3 {
            a.opt_str(
                "faas.document.name",
                s3_object(item).map(|o| o.key.as_str()),
            );
        }
        let time = item.time_unix_nano.map(format_rfc3339_millis);
        a.opt_str("faas.document.time", time.as_deref());
    }
    Shape {
        kind: SpanKind::Consumer,
        name: join_name(&[Some(names.as_str()), collection]),
        faas_trigger: "datasource",
        attrs: a,
        http: false,
        item_attrs,
    }
}

/// S3: the object key and the write's request ids, which equal the producer span's
/// `aws.request_id` / `aws.extended_request_id`. DynamoDB items are identified by their
/// pointer hash alone.
fn item_attrs(_trigger: &Trigger, item: &Item) -> Attrs {
    let mut a = Attrs::new();
    if let Some(o) = s3_object(item) {
        a.opt_str("aws.s3.key", Some(o.key.as_str()))
            .opt_str("aws.request_id", o.request_id.as_deref())
            .opt_str("aws.extended_request_id", o.extended_request_id.as_deref());
    }
    a
}

fn s3_object(item: &Item) -> Option<&S3Object> {
    item.pointers.iter().find_map(|p| match p {
        Pointer::S3Object(o) => Some(o),
        _ => None,
    })
}

/// `faas.document.operation` of an S3 event name, in either the notification form
/// (`ObjectCreated:Put`) or the EventBridge form (`Object Created`).
fn s3_operation(event_name: &str) -> Option<&'static str> {
    let n: String = event_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| n.starts_with(p));
    if starts(&["objectcreated"]) {
        Some("insert")
    } else if starts(&[
        "objectremoved",
        "objectdeleted",
        "objectexpired",
        "lifecycleexpiration",
    ]) {
        Some("delete")
    } else if starts(&[
        "objectrestore",
        "objecttag",
        "objectacl",
        "objectstorageclass",
        "objectaccesstier",
        "lifecycletransition",
        "intelligenttiering",
    ]) {
        Some("edit")
    } else {
        None
    }
}

fn dynamodb_operation(event_name: &str) -> Option<&'static str> {
    match event_name {
        "INSERT" => Some("insert"),
        "MODIFY" => Some("edit"),
        "REMOVE" => Some("delete"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_operations() {
        let cases = [
            ("ObjectCreated:Put", Some("insert")),
            ("ObjectCreated:CompleteMultipartUpload", Some("insert")),
            ("Object Created", Some("insert")),
            ("ObjectRemoved:DeleteMarkerCreated", Some("delete")),
            ("Object Deleted", Some("delete")),
            ("Object Expired", Some("delete")),
            ("LifecycleExpiration:Delete", Some("delete")),
            ("ObjectRestore:Completed", Some("edit")),
            ("Object Restore Completed", Some("edit")),
            ("ObjectTagging:Put", Some("edit")),
            ("Object Tags Added", Some("edit")),
            ("ObjectAcl:Put", Some("edit")),
            ("Object ACL Updated", Some("edit")),
            ("Object Storage Class Changed", Some("edit")),
            ("LifecycleTransition", Some("edit")),
            ("IntelligentTiering", Some("edit")),
            ("Replication:OperationFailedReplication", None),
            ("s3:TestEvent", None),
        ];
        for (name, want) in cases {
            assert_eq!(s3_operation(name), want, "{name}");
        }
    }

    #[test]
    fn dynamodb_operations() {
        assert_eq!(dynamodb_operation("INSERT"), Some("insert"));
        assert_eq!(dynamodb_operation("MODIFY"), Some("edit"));
        assert_eq!(dynamodb_operation("REMOVE"), Some("delete"));
        assert_eq!(dynamodb_operation("insert"), None);
    }
}
