"""DynamoDB primary keys as the DynamoDB JSON relink reads (`{"pk":{"S":"a"}}`).

The botocore request hook sees the operation parameters before botocore (or boto3's
resource layer) serialises them, so a key value arrives in one of two forms:
  - low-level client: already typed, `{"S": "a"}`, `{"N": "7"}`, `{"B": b"..."}`;
  - boto3 resource / Table API: a plain Python value, `"a"`, `Decimal("7")`, `b"..."`,
    `boto3.dynamodb.types.Binary(b"...")`.
Key attributes can only be S, N or B, so both forms map to one typed value without
ambiguity. B is written base64-encoded, exactly as DynamoDB Streams deliver it. N is kept
as the caller wrote it (no normalisation), because DynamoDB Streams and Datadog's pointer
hash use the number's text as given.

Every function returns None instead of raising: a hook must never break the AWS call.
"""

import base64
import json
from decimal import Decimal

_SCALAR_TYPES = ("S", "N", "B")


def typed_key_value(value):
    """One key attribute value as `{"S"|"N"|"B": str}`, or None when it is not a key type."""
    if isinstance(value, dict):
        if len(value) != 1:
            return None
        ((kind, inner),) = value.items()
        if kind not in _SCALAR_TYPES:
            return None
        if kind == "B":
            raw = _binary(inner)
            return None if raw is None else {"B": base64.b64encode(raw).decode("ascii")}
        if kind == "N" and isinstance(inner, (int, Decimal)) and not isinstance(inner, bool):
            return {"N": str(inner)}
        return {kind: inner} if isinstance(inner, str) else None
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    raw = _binary(value)
    if raw is not None:
        return {"B": base64.b64encode(raw).decode("ascii")}
    return None


def _binary(value):
    """Raw bytes of a binary value: bytes, bytearray, boto3 Binary, or str (UTF-8, as botocore sends it)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    inner = getattr(value, "value", None)  # boto3.dynamodb.types.Binary
    if isinstance(inner, (bytes, bytearray)):
        return bytes(inner)
    return None


def typed_keys(key):
    """A whole `Key` mapping as typed values, or None if any attribute is not a key type."""
    if not isinstance(key, dict) or not key:
        return None
    out = {}
    for name, value in key.items():
        typed = typed_key_value(value)
        if typed is None or not isinstance(name, str):
            return None
        out[name] = typed
    return out


def keys_from_item(item, key_names):
    """The key attributes of a full item, given the table's key attribute names."""
    if not isinstance(item, dict) or not key_names:
        return None
    picked = {}
    for name in key_names:
        if name not in item:
            return None
        picked[name] = item[name]
    return typed_keys(picked)


def to_json(keys):
    """Compact DynamoDB JSON with attribute names sorted, so equal keys give equal text."""
    return json.dumps(keys, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_names_from_schema(key_schema):
    """Attribute names from a `KeySchema` list (CreateTable / DescribeTable), HASH first."""
    if not isinstance(key_schema, list):
        return None
    ordered = sorted(
        (entry for entry in key_schema if isinstance(entry, dict)),
        key=lambda entry: 0 if entry.get("KeyType") == "HASH" else 1,
    )
    names = tuple(entry.get("AttributeName") for entry in ordered)
    if not names or not all(isinstance(name, str) for name in names):
        return None
    return names
