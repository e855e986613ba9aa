//! Span pointers: one piece of data both the producer and the consumer can name.
//!
//! The hash is Datadog's span-pointer hash, so relink's pointer links join with spans
//! written by Datadog tracers: the first 32 lowercase hex digits of
//! SHA-256(elements joined by `|`).

use serde::Serialize;
use sha2::{Digest, Sha256};

/// `ptr.kind` of an S3 object pointer.
pub const KIND_S3_OBJECT: &str = "aws.s3.object";
/// `ptr.kind` of a DynamoDB item pointer.
pub const KIND_DYNAMODB_ITEM: &str = "aws.dynamodb.item";

/// A DynamoDB key attribute value, as the wire format types it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum KeyValue {
    /// String.
    S(String),
    /// Number, exactly as given (no normalisation: `1.50` stays `1.50`).
    N(String),
    /// Binary, as the base64 text the JSON carries.
    B(String),
}

/// An S3 object version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct S3Object {
    pub bucket: String,
    /// The object key, URL-decoded (notifications URL-encode it).
    pub key: String,
    /// The key as an S3 notification wrote it (URL-encoded), when that differs from `key`:
    /// Datadog's Lambda consumers hash this form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_encoded: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// `x-amz-request-id` of the write, equal to the producer span's `aws.request_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_request_id: Option<String>,
    /// The event reports something done to this existing version (a restore, an ACL or tag
    /// change, a deletion), not its write: it carries the same ETag, but the write is not
    /// its cause, so it has no pointer hash. Datadog's Lambda libraries for Python and
    /// Node (datadog-lambda-python, datadog-lambda-js) likewise point only from
    /// `ObjectCreated:*`; the Datadog Lambda extension (bottlecap, `s3_event.rs`) points
    /// from any record with a key and an ETag, so a restore's consumer traced by the
    /// extension links to the object's write and relink's does not. Its request id still
    /// names the request that caused it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub later_event: bool,
}

/// A DynamoDB item change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DynamodbItem {
    pub table: String,
    /// Primary key attributes (one or two), in the order the payload gives them.
    pub keys: Vec<(String, KeyValue)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// Unix nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_creation_time: Option<u64>,
}

/// A message id that AWS hands the producer and repeats to the consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `sqs`, `sns`, `eventbridge`, `kinesis`, `kafka`, or `lambda`: the request id Lambda
    /// gave an invocation, repeated in its destination record or dead letter.
    pub service: &'static str,
    /// Message id, event id, (Kinesis) `shardId:sequenceNumber`, request id.
    pub id: String,
}

/// A pointer found in an event or on a span. It serializes with its `hashes` (the
/// Datadog-compatible `ptr.hash` values relink writes for it), so `relink event` shows
/// what to compare with a Datadog span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pointer {
    S3Object(S3Object),
    DynamodbItem(DynamodbItem),
    Message(Message),
}

/// How a pointer is printed: its fields and its hashes.
#[derive(Serialize)]
#[serde(tag = "kind")]
enum PointerView<'a> {
    #[serde(rename = "aws.s3.object")]
    S3Object {
        #[serde(flatten)]
        object: &'a S3Object,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        hashes: Vec<String>,
    },
    #[serde(rename = "aws.dynamodb.item")]
    DynamodbItem {
        #[serde(flatten)]
        item: &'a DynamodbItem,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        hashes: Vec<String>,
    },
    #[serde(rename = "aws.message")]
    Message(&'a Message),
}

impl Serialize for Pointer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Pointer::S3Object(object) => PointerView::S3Object {
                object,
                hashes: object.hashes(),
            },
            Pointer::DynamodbItem(item) => PointerView::DynamodbItem {
                item,
                hashes: item.hashes(),
            },
            Pointer::Message(m) => PointerView::Message(m),
        }
        .serialize(serializer)
    }
}

/// Datadog's pointer hash of already-joined elements.
pub fn hash_elements(elements: &[&[u8]]) -> String {
    crate::propagation::lower_hex(&hash_bytes(elements))
}

/// The 16 bytes [`hash_elements`] writes in hex: the first half of the SHA-256 of the
/// elements joined with `|`.
pub fn hash_bytes(elements: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            h.update(b"|");
        }
        h.update(e);
    }
    let digest = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    out
}

/// Removes one pair of surrounding double quotes, as S3 ETags carry them.
pub fn trim_etag(etag: &str) -> &str {
    etag.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(etag)
}

impl S3Object {
    /// The pointer hash of the (decoded) key, as Datadog's producers write it; `None`
    /// without an ETag or for a [later event](S3Object::later_event) (then only the
    /// request-id join applies).
    pub fn hash(&self) -> Option<String> {
        let etag = self.etag.as_deref().filter(|_| !self.later_event)?;
        Some(crate::propagation::lower_hex(&s3_hash(
            &self.bucket,
            &self.key,
            etag,
        )))
    }

    /// Every hash of this object: [`S3Object::hash`], then, when the notification's key
    /// differs from the decoded one (`key_encoded`), the hash of the key as the
    /// notification wrote it, which Datadog's Lambda consumers (datadog-lambda-js, the
    /// Datadog extension) write. Empty without an ETag, and for a later event.
    pub fn hashes(&self) -> Vec<String> {
        in_hex(&self.hash_bytes())
    }

    /// [`S3Object::hashes`] as the 16 bytes each hex string spells (what an index keys on).
    pub fn hash_bytes(&self) -> Vec<[u8; 16]> {
        let Some(etag) = self.etag.as_deref().filter(|_| !self.later_event) else {
            return Vec::new();
        };
        let mut out = vec![s3_hash(&self.bucket, &self.key, etag)];
        if let Some(encoded) = self.key_encoded.as_deref().filter(|k| *k != self.key) {
            out.push(s3_hash(&self.bucket, encoded, etag));
        }
        out
    }
}

/// Pointer hashes as they are written (32 lowercase hex digits each).
fn in_hex(hashes: &[[u8; 16]]) -> Vec<String> {
    hashes
        .iter()
        .map(|h| crate::propagation::lower_hex(h))
        .collect()
}

/// The pointer hash of an S3 object version, as 16 bytes: bucket, key and ETag (its
/// surrounding quotes removed) joined.
pub fn s3_hash(bucket: &str, key: &str, etag: &str) -> [u8; 16] {
    hash_bytes(&[
        bucket.as_bytes(),
        key.as_bytes(),
        trim_etag(etag).as_bytes(),
    ])
}

/// How a binary key's value is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    /// The base64 text, as the event gives it.
    Base64,
    /// The decoded bytes.
    Raw,
    /// The decoded bytes read as UTF-8 text, malformed sequences replaced.
    Lossy,
}

impl DynamodbItem {
    /// The pointer hashes of this item. Binary keys give two: Datadog's Python and JS
    /// tracers hash the base64 text, its Rust extension hashes the decoded bytes; relink
    /// matches either. Bytes that are not UTF-8 give a third: dd-trace-js and dd-trace-java
    /// join a `Buffer` or `byte[]` key as text, each malformed sequence replaced by U+FFFD.
    /// `None` entries are never produced; an item with no or more than two keys has no
    /// pointer.
    pub fn hashes(&self) -> Vec<String> {
        in_hex(&self.hash_bytes())
    }

    /// [`DynamodbItem::hashes`] as the 16 bytes each hex string spells.
    pub fn hash_bytes(&self) -> Vec<[u8; 16]> {
        use base64::Engine;
        let mut keys: Vec<&(String, KeyValue)> = self.keys.iter().collect();
        if keys.is_empty() || keys.len() > 2 {
            return Vec::new();
        }
        keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let has_binary = keys.iter().any(|(_, v)| matches!(v, KeyValue::B(_)));
        let mut variants = vec![Binary::Base64];
        if has_binary {
            variants.extend([Binary::Raw, Binary::Lossy]);
        }
        let mut out = Vec::with_capacity(variants.len());
        for binary in variants {
            let mut values: Vec<Vec<u8>> = Vec::with_capacity(2);
            for (_, v) in &keys {
                let bytes = match (v, binary) {
                    (KeyValue::S(s) | KeyValue::N(s), _) => s.as_bytes().to_vec(),
                    (KeyValue::B(b64), Binary::Base64) => b64.as_bytes().to_vec(),
                    (KeyValue::B(b64), _) => {
                        match base64::engine::general_purpose::STANDARD.decode(b64) {
                            Ok(raw) if binary == Binary::Raw => raw,
                            Ok(raw) => String::from_utf8_lossy(&raw).into_owned().into_bytes(),
                            Err(_) => continue,
                        }
                    }
                };
                values.push(bytes);
            }
            if values.len() != keys.len() {
                continue;
            }
            let (Some(first), Some(v1)) = (keys.first(), values.first()) else {
                continue;
            };
            let (k1, v1) = (first.0.as_bytes(), v1.as_slice());
            let (k2, v2): (&[u8], &[u8]) = match (keys.get(1), values.get(1)) {
                (Some(k), Some(v)) => (k.0.as_bytes(), v.as_slice()),
                _ => (b"", b""),
            };
            let h = hash_bytes(&[self.table.as_bytes(), k1, v1, k2, v2]);
            if !out.contains(&h) {
                out.push(h);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, key: &str, etag: &str) -> Option<String> {
        S3Object {
            bucket: bucket.into(),
            key: key.into(),
            etag: Some(etag.into()),
            ..Default::default()
        }
        .hash()
    }
    fn ddb(table: &str, keys: &[(&str, KeyValue)]) -> Vec<String> {
        DynamodbItem {
            table: table.into(),
            keys: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        }
        .hashes()
    }

    #[test]
    fn datadog_test_vectors() {
        assert_eq!(hash_elements(&[b"foo"]), "2c26b46b68ffc68ff99b453c1d304134");
        assert_eq!(
            hash_elements(&[b"foo", b"bar"]),
            "0fc7e25e075c7849f89b9729d1aeada1"
        );
        let want = Some("e721375466d4116ab551213fdea08413".to_string());
        assert_eq!(s3("some-bucket", "some-key.data", "ab12ef34"), want);
        assert_eq!(s3("some-bucket", "some-key.data", "\"ab12ef34\""), want);
        assert_eq!(
            s3("some-bucket", "some-key.你好", "ab12ef34").as_deref(),
            Some("d1333a04b9928ab462b5c6cadfa401f4")
        );
        assert_eq!(
            s3("some-bucket", "some-key.data", "ab12ef34-5").as_deref(),
            Some("2b90dffc37ebc7bc610152c3dc72af9f")
        );
        assert_eq!(
            ddb(
                "some-table",
                &[("some-key", KeyValue::S("some-value".into()))]
            ),
            vec!["7f1aee721472bcb48701d45c7c7f7821"]
        );
        assert_eq!(
            ddb("some-table", &[("some-key", KeyValue::N("123.456".into()))]),
            vec!["434a6dba3997ce4dbbadc98d87a0cc24"]
        );
        assert_eq!(
            ddb(
                "some-table",
                &[
                    ("some-key", KeyValue::S("some-value".into())),
                    ("other-key", KeyValue::N("123".into()))
                ]
            ),
            vec!["7aa1b80b0e49bd2078a5453399f4dd67"]
        );
        assert_eq!(
            ddb(
                "unknown-table",
                &[("some-key", KeyValue::S("some-value".into()))]
            ),
            vec!["d8840182e4052ee105348b033e0a6810"]
        );
    }

    #[test]
    fn encoded_keys_hash_both_ways() {
        // Expected values computed outside relink with Python's hashlib:
        // sha256(b"example-bucket|<key>|0123456789abcdef0123456789abcdef").hexdigest()[:32].
        let mut o = S3Object {
            bucket: "example-bucket".into(),
            key: "dir/my file 你.txt".into(),
            etag: Some("\"0123456789abcdef0123456789abcdef\"".into()),
            ..Default::default()
        };
        let decoded = "920e9ac72ad748f5ba114c482a9df098";
        let encoded = "37c2cb8ef0d98b8b6d40113bcb178af9";
        assert_eq!(o.hashes(), vec![decoded.to_string()]);
        o.key_encoded = Some("dir%2Fmy+file+%E4%BD%A0.txt".into());
        assert_eq!(o.hashes(), vec![decoded.to_string(), encoded.to_string()]);
        assert_eq!(
            o.hash().as_deref(),
            Some(decoded),
            "producers hash the real key"
        );
        let json = serde_json::to_value(Pointer::S3Object(o.clone())).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "aws.s3.object",
                "bucket": "example-bucket",
                "key": "dir/my file 你.txt",
                "key_encoded": "dir%2Fmy+file+%E4%BD%A0.txt",
                "etag": "\"0123456789abcdef0123456789abcdef\"",
                "hashes": [decoded, encoded],
            })
        );
        // The same key twice is one hash.
        o.key_encoded = Some(o.key.clone());
        assert_eq!(o.hashes(), vec![decoded.to_string()]);
    }

    #[test]
    fn s3_without_etag_has_no_hash() {
        let o = S3Object {
            bucket: "b".into(),
            key: "k".into(),
            ..Default::default()
        };
        assert_eq!(o.hash(), None);
    }

    #[test]
    fn binary_keys_hash_both_ways() {
        // "aGk=" is base64 for "hi".
        let hs = ddb("t", &[("pk", KeyValue::B("aGk=".into()))]);
        assert_eq!(hs.len(), 2);
        assert_eq!(hs[0], hash_elements(&[b"t", b"pk", b"aGk=", b"", b""]));
        assert_eq!(hs[1], hash_elements(&[b"t", b"pk", b"hi", b"", b""]));
    }

    /// dd-trace-js joins a `Buffer` key as UTF-8 text: the bytes ff 00 80 41 hash as
    /// U+FFFD 00 U+FFFD 41 (the hash is the one Node computes for
    /// `generatePointerHash(['t', 'pk', Buffer.from([0xff, 0x00, 0x80, 0x41]), '', ''])`).
    /// Bytes that are UTF-8 give no third hash: it would be the raw bytes' again.
    #[test]
    fn binary_keys_that_are_not_utf8_also_hash_as_text() {
        let hs = ddb("t", &[("pk", KeyValue::B("/wCAQQ==".into()))]);
        assert_eq!(
            hs.get(1),
            Some(&hash_elements(&[
                b"t",
                b"pk",
                &[0xff, 0, 0x80, 0x41],
                b"",
                b""
            ]))
        );
        assert_eq!(
            hs.get(2).map(String::as_str),
            Some("df957072b91f977b49cdb1fa5629b3e5")
        );
        assert_eq!(hs.len(), 3);
        assert_eq!(ddb("t", &[("pk", KeyValue::B("aGk=".into()))]).len(), 2);
    }

    #[test]
    fn three_keys_have_no_pointer() {
        let v = KeyValue::S("x".into());
        assert!(ddb("t", &[("a", v.clone()), ("b", v.clone()), ("c", v)]).is_empty());
    }
}
