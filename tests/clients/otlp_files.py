"""OTLP trace files: write what the Python SDK exported, read what relink wrote.

Writing uses the OTLP exporter's own encoder (`encode_spans`, the code
opentelemetry-exporter-otlp-proto-* runs before sending), so the protobuf bytes are what
an application using this SDK puts on the wire. OTLP/JSON is protobuf's proto3 JSON
mapping with OTLP's two deviations (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
trace and span ids as lowercase hex instead of base64, enums as integers.

Reading decodes with the official `opentelemetry-proto` message classes, from either
encoding, so assertions never depend on which one relink answers with.
"""

import base64
import binascii
import json

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def encode(spans):
    """ExportTraceServiceRequest for SDK ReadableSpans (any number of resources)."""
    return encode_spans(spans)


def to_otlp_json(request):
    """ExportTraceServiceRequest -> OTLP/JSON document (a dict)."""
    doc = json_format.MessageToDict(request)
    for span in _json_spans(doc):
        _ids_to_hex(span)
        if "kind" in span:
            span["kind"] = PbSpan.SpanKind.Value(span["kind"])
        if "code" in span.get("status", {}):
            span["status"]["code"] = PbStatus.StatusCode.Value(span["status"]["code"])
        for link in span.get("links", []):
            _ids_to_hex(link)
    return doc


def from_otlp_json(doc):
    """OTLP/JSON document -> ExportTraceServiceRequest (hex ids back to base64 first)."""
    for span in _json_spans(doc):
        _ids_to_base64(span)
        for link in span.get("links", []):
            _ids_to_base64(link)
    return json_format.ParseDict(doc, ExportTraceServiceRequest(), ignore_unknown_fields=False)


def decode(data):
    """Bytes of either encoding -> ExportTraceServiceRequest."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        return from_otlp_json(json.loads(data.decode("utf-8")))
    request = ExportTraceServiceRequest()
    request.ParseFromString(data)
    return request


def spans(request):
    """[(resource attributes dict, scope name, Span)] for every span in a request."""
    out = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                out.append((resource, scope_spans.scope.name, span))
    return out


def attributes(key_values):
    """Repeated KeyValue -> {key: python value} (arrays as lists)."""
    return {kv.key: any_value(kv.value) for kv in key_values}


def any_value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind is None:
        return None
    return getattr(value, kind)


def _json_spans(doc):
    for resource_spans in doc.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            yield from scope_spans.get("spans", [])


def _ids_to_hex(obj):
    for key in _ID_KEYS:
        if key in obj:
            obj[key] = base64.b64decode(obj[key]).hex()


def _ids_to_base64(obj):
    for key in _ID_KEYS:
        if obj.get(key):
            try:
                obj[key] = base64.b64encode(bytes.fromhex(obj[key])).decode("ascii")
            except (ValueError, binascii.Error) as err:
                raise ValueError(f"OTLP/JSON {key} is not hex: {obj[key]!r}") from err
