"""Instrumentation hooks that record what relink joins on (see ../README.md).

- `BotocoreHooks` / `request_hook` / `response_hook`: for
  `opentelemetry.instrumentation.botocore.BotocoreInstrumentor().instrument(...)`.
- `relink_event_extractor` + `RelinkEventSpanProcessor`: for
  `opentelemetry.instrumentation.aws_lambda.AwsLambdaInstrumentor`, put the trigger
  event on the invocation span as `relink.event`.
"""

from .botocore_hooks import BotocoreHooks, request_hook, response_hook
from .lambda_event import RelinkEventSpanProcessor, relink_event_extractor, serialise_event

__all__ = [
    "BotocoreHooks",
    "RelinkEventSpanProcessor",
    "relink_event_extractor",
    "request_hook",
    "response_hook",
    "serialise_event",
]
