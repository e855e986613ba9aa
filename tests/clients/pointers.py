"""Reference Datadog-compatible span pointer hashes, to state what relink must write.

hash = first 32 lowercase hex chars of SHA-256(elements joined by "|"):
  - S3 object: bucket, key (URL-decoded, as the writer named it), ETag without one pair
    of surrounding quotes;
  - DynamoDB item: table, then key name and value for each key attribute sorted by name
    (byte order), padded with "", "" when the table has one key; S as UTF-8, N as its
    text, B as the raw bytes.
"""

import base64
import hashlib


def pointer_hash(*elements):
    parts = [e if isinstance(e, bytes) else e.encode("utf-8") for e in elements]
    return hashlib.sha256(b"|".join(parts)).hexdigest()[:32]


def s3_pointer(bucket, key, etag):
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        etag = etag[1:-1]
    return pointer_hash(bucket, key, etag)


def dynamodb_pointer(table, keys):
    """keys: DynamoDB JSON, `{"pk": {"S": "a"}}`, B values base64 as in streams."""
    elements = [table]
    for name in sorted(keys, key=lambda n: n.encode("utf-8")):
        ((kind, value),) = keys[name].items()
        elements += [name, base64.b64decode(value) if kind == "B" else value]
    if len(keys) == 1:
        elements += ["", ""]
    return pointer_hash(*elements)
