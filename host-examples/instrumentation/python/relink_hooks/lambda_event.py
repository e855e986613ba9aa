"""Puts a Lambda's trigger event, as JSON, on its invocation span (`relink.event`).

opentelemetry-instrumentation-aws-lambda (0.66b1, read from its source) has no request
hook: its only per-invocation callback is `event_context_extractor(event) -> Context`,
called before the invocation span starts, and the Context it returns is the one attached
while the span starts. So the event travels in two steps:
  1. `relink_event_extractor(...)` wraps the extractor in use and stores the serialised
     event in the returned Context under a private key;
  2. `RelinkEventSpanProcessor`, added to the TracerProvider, copies it onto the
     invocation span in `on_start`: the SERVER span of the
     `opentelemetry.instrumentation.aws_lambda` scope (the SQS `process` CONSUMER span the
     instrumentation starts as its child is left alone).

Size bound: the compact JSON is kept when it is at most `max_bytes` UTF-8 bytes (default
65536). Above that, DynamoDB stream images (`NewImage`, `OldImage`: relink needs only
`Keys`) are dropped and the result marked `relink.event.reduced=true`; if still too large,
no event is stored and `relink.event.omitted_bytes` says how large it was.
"""

import json

from opentelemetry import context as context_api
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import SpanKind

EVENT_ATTRIBUTE = "relink.event"
REDUCED_ATTRIBUTE = "relink.event.reduced"
OMITTED_ATTRIBUTE = "relink.event.omitted_bytes"
DEFAULT_MAX_BYTES = 65536
LAMBDA_SCOPE = "opentelemetry.instrumentation.aws_lambda"

_CONTEXT_KEY = context_api.create_key("relink.event")


def serialise_event(event, max_bytes=DEFAULT_MAX_BYTES):
    """(json_text or None, reduced: bool, size_in_bytes) for one trigger event."""
    text = _compact(event)
    if text is None:
        return None, False, 0
    size = len(text.encode("utf-8"))
    if size <= max_bytes:
        return text, False, size
    reduced = _compact(_without_images(event))
    if reduced is not None and len(reduced.encode("utf-8")) <= max_bytes:
        return reduced, True, size
    return None, False, size


def relink_event_extractor(extractor=None, max_bytes=DEFAULT_MAX_BYTES):
    """An `event_context_extractor` that also carries the event to the invocation span.

    extractor: the extractor to wrap (default: the instrumentation's own, which reads
    HTTP headers); its Context is returned with the event added.
    """
    if extractor is None:
        from opentelemetry.instrumentation.aws_lambda import (  # pylint: disable=import-outside-toplevel
            _default_event_context_extractor,
        )

        extractor = _default_event_context_extractor

    def extract(lambda_event):
        ctx = extractor(lambda_event)
        try:
            stored = serialise_event(lambda_event, max_bytes)
        except Exception:  # pylint: disable=broad-except
            return ctx
        return context_api.set_value(_CONTEXT_KEY, stored, ctx)

    return extract


class RelinkEventSpanProcessor(SpanProcessor):
    """Copies the event stored by `relink_event_extractor` onto the invocation span."""

    def __init__(self, attribute=EVENT_ATTRIBUTE):
        self._attribute = attribute

    def on_start(self, span, parent_context=None):
        scope = getattr(span, "instrumentation_scope", None)
        if span.kind is not SpanKind.SERVER or getattr(scope, "name", None) != LAMBDA_SCOPE:
            return
        stored = context_api.get_value(_CONTEXT_KEY, parent_context)
        if not isinstance(stored, tuple) or len(stored) != 3:
            return
        text, reduced, size = stored
        if text is not None:
            span.set_attribute(self._attribute, text)
            if reduced:
                span.set_attribute(REDUCED_ATTRIBUTE, True)
        elif size:
            span.set_attribute(OMITTED_ATTRIBUTE, size)


def _compact(value):
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return None


def _without_images(event):
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return event
    records = []
    for record in event["Records"]:
        stream = record.get("dynamodb") if isinstance(record, dict) else None
        if isinstance(stream, dict):
            stream = {k: v for k, v in stream.items() if k not in ("NewImage", "OldImage")}
            record = {**record, "dynamodb": stream}
        records.append(record)
    return {**event, "Records": records}
