"""Decodes protobuf written by relink's Rust encoder with the Python opentelemetry-proto
package, so our bytes are checked by an independent protobuf implementation.

tests/otlp/lenient_input.pb is what `encode_protobuf(decode_json(lenient_input.json))`
produces; tests/otlp_lenient.rs fails if it no longer matches the encoder.

    pip install -r tests/clients/requirements.txt
    python -m pytest tests/clients/test_otlp_decode.py
"""

import math
import pathlib

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

DATA = pathlib.Path(__file__).resolve().parent.parent / "otlp"


def load():
    raw = (DATA / "lenient_input.pb").read_bytes()
    request = ExportTraceServiceRequest()
    request.ParseFromString(raw)
    return raw, request


def attrs(kvs):
    return {kv.key: kv.value for kv in kvs}


def test_reserializes_byte_identical():
    raw, request = load()
    assert request.SerializeToString() == raw


def test_resource_and_scope():
    _, request = load()
    assert len(request.resource_spans) == 1
    rs = request.resource_spans[0]
    res = attrs(rs.resource.attributes)
    assert res["service.name"].string_value == "relink-test"
    assert res["deployment.environment.name"].string_value == "ci"
    assert res["unset"].WhichOneof("value") is None
    assert not rs.resource.attributes[3].HasField("value")
    assert rs.resource.dropped_attributes_count == 3
    assert list(rs.resource.entity_refs[0].id_keys) == ["service.name"]
    ss = rs.scope_spans[0]
    assert (ss.scope.name, ss.scope.version, ss.scope.dropped_attributes_count) == ("relink", "0.1.0", 1)
    assert ss.schema_url == "https://opentelemetry.io/schemas/1.26.0"


def test_span_fields():
    _, request = load()
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.span_id.hex() == "eee19b7ec3c1b174"
    assert span.parent_span_id == b""
    assert span.trace_state == "rojo=00f067aa0ba902b7"
    assert span.flags == 769
    assert span.kind == Span.SpanKind.SPAN_KIND_CONSUMER
    assert span.start_time_unix_nano == 1714557600000000000
    assert span.end_time_unix_nano == 1714557600250000000
    assert (span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count) == (2, 1, 4)
    assert span.status.code == Status.StatusCode.STATUS_CODE_ERROR
    assert span.status.message == "AccessDenied"
    second = request.resource_spans[0].scope_spans[0].spans[1]
    assert second.parent_span_id.hex() == "eee19b7ec3c1b174"
    assert not second.HasField("status")


def test_attribute_values():
    _, request = load()
    a = attrs(request.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert a["aws.s3.key"].string_value == "dir/my file.txt"
    assert a["relink.int.number"].int_value == -17
    assert a["relink.int.string"].int_value == -(2**63)
    assert math.isinf(a["relink.double.string"].double_value) and a["relink.double.string"].double_value < 0
    assert a["relink.double.exponent"].double_value == 6.02214076e23
    assert a["relink.bytes.urlsafe"].bytes_value == b"\xff\xef"
    assert a["relink.bool"].bool_value is True
    assert a["relink.strindex"].string_value_strindex == 7
    inner = a["relink.kvlist"].kvlist_value.values[0]
    assert inner.key == "list"
    values = inner.value.array_value.values
    assert [v.WhichOneof("value") for v in values] == ["string_value", "double_value", None]
    assert values[1].double_value == 0.1


def test_events_and_links():
    _, request = load()
    span = request.resource_spans[0].scope_spans[0].spans[0]
    (event,) = span.events
    assert (event.time_unix_nano, event.name) == (1714557600100000000, "retry")
    assert event.attributes[0].value.int_value == 2
    (link,) = span.links
    assert link.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert link.span_id.hex() == "b7ad6b7169203331"
    assert link.trace_state == "congo=t61rcWkgMzE"
    assert (link.flags, link.dropped_attributes_count) == (257, 1)
    assert attrs(link.attributes)["relink.pointer.kind"].string_value == "aws.s3.object"
