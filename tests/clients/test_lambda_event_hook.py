"""The aws-lambda event hook, driven by the real opentelemetry-instrumentation-aws-lambda
wrapping `lambda_consumer.handler`, fed with real payloads from tests/fixtures."""

import json

from opentelemetry import context as context_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import aws_scenario
from conftest import REPO
from relink_hooks import RelinkEventSpanProcessor, relink_event_extractor, serialise_event

FIXTURES = REPO / "tests" / "fixtures" / "aws-lambda-rust-runtime"


def _fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _invoke(telemetry, event):
    telemetry.clear()
    aws_scenario.invoke_consumer(event)
    return {s.kind: s for s in telemetry.consumer_spans.get_finished_spans()}


def test_invocation_span_carries_the_s3_event(telemetry):
    event = _fixture("example-s3-event.json")
    spans = _invoke(telemetry, event)
    server = spans[SpanKind.SERVER]
    assert server.instrumentation_scope.name == "opentelemetry.instrumentation.aws_lambda"
    assert json.loads(server.attributes["relink.event"]) == event
    assert server.attributes["relink.event"] == json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    assert "relink.event.reduced" not in server.attributes


def test_sqs_event_goes_on_the_invocation_span_not_the_process_span(telemetry):
    event = _fixture("example-sqs-event.json")
    spans = _invoke(telemetry, event)
    assert json.loads(spans[SpanKind.SERVER].attributes["relink.event"]) == event
    # The instrumentation's own SQS `process` span is a child; it gets no copy.
    assert "relink.event" not in spans[SpanKind.CONSUMER].attributes
    assert spans[SpanKind.CONSUMER].parent.span_id == spans[SpanKind.SERVER].context.span_id


def test_event_within_the_bound_is_kept_whole():
    event = {"Records": [{"dynamodb": {"Keys": {"k": {"S": "v"}}, "NewImage": {"k": {"S": "v"}}}}]}
    text = '{"Records":[{"dynamodb":{"Keys":{"k":{"S":"v"}},"NewImage":{"k":{"S":"v"}}}}]}'
    assert serialise_event(event, max_bytes=len(text)) == (text, False, len(text))


def test_oversized_stream_event_drops_images_first():
    event = {"Records": [{"eventName": "MODIFY", "dynamodb": {
        "Keys": {"k": {"S": "v"}}, "NewImage": {"big": {"S": "x" * 500}}, "OldImage": {"big": {"S": "y" * 500}},
    }}]}
    text, reduced, size = serialise_event(event, max_bytes=200)
    assert text == '{"Records":[{"eventName":"MODIFY","dynamodb":{"Keys":{"k":{"S":"v"}}}}]}'
    assert reduced is True
    assert size == len(json.dumps(event, separators=(",", ":")))


def test_event_too_large_even_reduced_is_omitted_with_its_size():
    event = {"Records": [{"body": "z" * 300}]}
    assert serialise_event(event, max_bytes=100) == (None, False, 325)


def test_size_bound_counts_utf8_bytes_not_characters():
    event = {"k": "日本"}  # 10 characters, 14 bytes as compact UTF-8 JSON
    assert serialise_event(event, max_bytes=13) == (None, False, 14)
    assert serialise_event(event, max_bytes=14) == ('{"k":"日本"}', False, 14)


def _spans_under_extractor(event, scope, kind, max_bytes=65536):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RelinkEventSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ctx = relink_event_extractor(lambda _event: context_api.get_current(), max_bytes)(event)
    token = context_api.attach(ctx)
    try:
        provider.get_tracer(scope).start_span("s", kind=kind).end()
    finally:
        context_api.detach(token)
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes)


def test_processor_marks_reduced_and_omitted_events():
    reduced = _spans_under_extractor(
        {"Records": [{"dynamodb": {"Keys": {}, "NewImage": {"a": {"S": "x" * 200}}}}]},
        "opentelemetry.instrumentation.aws_lambda", SpanKind.SERVER, max_bytes=60)
    assert reduced == {"relink.event": '{"Records":[{"dynamodb":{"Keys":{}}}]}', "relink.event.reduced": True}
    omitted = _spans_under_extractor(
        {"x": "y" * 100}, "opentelemetry.instrumentation.aws_lambda", SpanKind.SERVER, max_bytes=10)
    assert omitted == {"relink.event.omitted_bytes": 108}


def test_processor_leaves_other_scopes_and_kinds_alone():
    event = {"a": 1}
    assert _spans_under_extractor(event, "my.app", SpanKind.SERVER) == {}
    assert _spans_under_extractor(event, "opentelemetry.instrumentation.aws_lambda", SpanKind.CONSUMER) == {}
    assert _spans_under_extractor(event, "opentelemetry.instrumentation.aws_lambda", SpanKind.SERVER) == {
        "relink.event": '{"a":1}'}


def test_extractor_keeps_the_wrapped_extractors_parent():
    event = {"headers": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
    from opentelemetry import trace

    ctx = relink_event_extractor()(event)
    parent = trace.get_current_span(ctx).get_span_context()
    assert (format(parent.trace_id, "032x"), format(parent.span_id, "016x")) == (
        "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
