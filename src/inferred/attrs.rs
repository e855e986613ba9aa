//! Building OTLP attributes: typed constructors, an ordered list that skips absent
//! values, and the attributes every inferred span shares (`relink.*`, pointer hashes).

use crate::event::{Item, Trigger};
use crate::otlp::kv;
use crate::pointer::{Pointer, KIND_DYNAMODB_ITEM, KIND_S3_OBJECT};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, ArrayValue, KeyValue};

/// An ordered attribute list. Absent values are skipped, so call sites read as the
/// attribute table they implement.
#[derive(Debug, Default)]
pub(crate) struct Attrs(pub(crate) Vec<KeyValue>);

impl Attrs {
    pub(crate) fn new() -> Attrs {
        Attrs(Vec::new())
    }

    pub(crate) fn str(&mut self, key: &str, value: impl Into<String>) -> &mut Attrs {
        self.push(key, Value::StringValue(value.into()))
    }

    /// Adds a string attribute unless the value is absent or empty.
    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Attrs {
        match value {
            Some(v) if !v.is_empty() => self.str(key, v),
            _ => self,
        }
    }

    /// Adds an int attribute; values beyond `i64::MAX` (never seen in AWS payloads) are
    /// skipped rather than wrapped.
    pub(crate) fn int(&mut self, key: &str, value: u64) -> &mut Attrs {
        match i64::try_from(value) {
            Ok(v) => self.push(key, Value::IntValue(v)),
            Err(_) => self,
        }
    }

    pub(crate) fn opt_int(&mut self, key: &str, value: Option<u64>) -> &mut Attrs {
        match value {
            Some(v) => self.int(key, v),
            None => self,
        }
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Attrs {
        self.push(key, Value::BoolValue(value))
    }

    /// Adds a string-array attribute unless the list is empty.
    pub(crate) fn strs(&mut self, key: &str, values: &[String]) -> &mut Attrs {
        if values.is_empty() {
            return self;
        }
        let values = values
            .iter()
            .map(|v| AnyValue {
                value: Some(Value::StringValue(v.clone())),
            })
            .collect();
        self.push(key, Value::ArrayValue(ArrayValue { values }))
    }

    pub(crate) fn extend(&mut self, other: Attrs) -> &mut Attrs {
        self.0.extend(other.0);
        self
    }

    fn push(&mut self, key: &str, value: Value) -> &mut Attrs {
        self.0.push(kv::value(key, value));
        self
    }
}

/// The value every item shares, or `None` when items disagree or none has one.
pub(crate) fn uniform<'a>(
    items: &'a [Item],
    f: impl Fn(&'a Item) -> Option<&'a str>,
) -> Option<&'a str> {
    let mut values = items.iter().map(f);
    let first = values.next()??;
    values.all(|v| v == Some(first)).then_some(first)
}

/// Distinct values in first-seen order.
pub(crate) fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    out
}

/// `relink.inferred`, `relink.trigger.kind` and `relink.trigger.via`.
pub(crate) fn relink_span_attrs(trigger: &Trigger) -> Attrs {
    let mut a = Attrs::new();
    a.bool("relink.inferred", true)
        .str("relink.trigger.kind", trigger.kind.as_str())
        .opt_str("relink.trigger.via", trigger.via);
    a
}

/// `relink.pointer.kind` and `relink.pointer.hash` of one item: the kind of its first
/// hashable pointer and every hash of its hashable pointers (a DynamoDB item with a
/// binary key has two, and so has an S3 object whose notification URL-encoded its key). Message pointers have no hash; their id is written as
/// `messaging.message.id` by the messaging family.
pub(crate) fn pointer_attrs(item: &Item) -> Attrs {
    let mut kind: Option<&str> = None;
    let mut hashes: Vec<String> = Vec::new();
    for p in &item.pointers {
        let (k, hs) = match p {
            Pointer::S3Object(o) => (KIND_S3_OBJECT, o.hashes()),
            Pointer::DynamodbItem(d) => (KIND_DYNAMODB_ITEM, d.hashes()),
            Pointer::Message(_) => continue,
        };
        if hs.is_empty() {
            continue;
        }
        kind.get_or_insert(k);
        for h in hs {
            if !hashes.contains(&h) {
                hashes.push(h);
            }
        }
    }
    let mut a = Attrs::new();
    a.opt_str("relink.pointer.kind", kind)
        .strs("relink.pointer.hash", &hashes);
    a
}

/// Joins the parts that are present with a space: span names like `process orders`
/// degrade to `process` rather than `process ` when the destination is unknown.
pub(crate) fn join_name(parts: &[Option<&str>]) -> String {
    let present: Vec<&str> = parts
        .iter()
        .flatten()
        .copied()
        .filter(|p| !p.is_empty())
        .collect();
    present.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pointer::{DynamodbItem, KeyValue as DdbKey, Message, S3Object};

    #[test]
    fn absent_and_empty_values_are_skipped() {
        let mut a = Attrs::new();
        a.opt_str("a", None)
            .opt_str("b", Some(""))
            .opt_int("c", None)
            .strs("d", &[])
            .int("e", u64::MAX);
        assert!(a.0.is_empty());
    }

    #[test]
    fn uniform_needs_every_item_to_agree() {
        let item = |n: Option<&str>| Item {
            event_name: n.map(String::from),
            ..Default::default()
        };
        let same = [item(Some("INSERT")), item(Some("INSERT"))];
        assert_eq!(uniform(&same, |i| i.event_name.as_deref()), Some("INSERT"));
        let mixed = [item(Some("INSERT")), item(Some("MODIFY"))];
        assert_eq!(uniform(&mixed, |i| i.event_name.as_deref()), None);
        let missing = [item(Some("INSERT")), item(None)];
        assert_eq!(uniform(&missing, |i| i.event_name.as_deref()), None);
        assert_eq!(uniform(&[], |i: &Item| i.event_name.as_deref()), None);
    }

    #[test]
    fn pointer_attrs_collect_every_hash_of_hashable_pointers() {
        let item = Item {
            pointers: vec![
                Pointer::Message(Message {
                    service: "sqs",
                    id: "m".into(),
                }),
                Pointer::S3Object(S3Object {
                    bucket: "b".into(),
                    key: "k".into(),
                    ..Default::default()
                }),
                Pointer::DynamodbItem(DynamodbItem {
                    table: "t".into(),
                    keys: vec![("pk".into(), DdbKey::B("aGk=".into()))],
                    ..Default::default()
                }),
            ],
            ..Default::default()
        };
        let a = pointer_attrs(&item);
        let keys: Vec<&str> = a.0.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["relink.pointer.kind", "relink.pointer.hash"]);
        let Some(Value::StringValue(kind)) = a.0[0].value.as_ref().and_then(|v| v.value.clone())
        else {
            panic!("kind is a string")
        };
        assert_eq!(kind, KIND_DYNAMODB_ITEM);
        let Some(Value::ArrayValue(arr)) = a.0[1].value.as_ref().and_then(|v| v.value.clone())
        else {
            panic!("hash is an array")
        };
        assert_eq!(arr.values.len(), 2);
    }

    #[test]
    fn names_skip_missing_parts() {
        assert_eq!(join_name(&[Some("process"), Some("q")]), "process q");
        assert_eq!(join_name(&[Some("process"), None]), "process");
        assert_eq!(join_name(&[None, Some("")]), "");
    }
}
