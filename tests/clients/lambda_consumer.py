"""The consumer function of the real-client scenario ("processor").

opentelemetry-instrumentation-aws-lambda wraps `lambda_consumer.handler` in place (it is
named by `_HANDLER`, as on AWS Lambda), so tests must call it as
`lambda_consumer.handler(...)` after instrumenting, never through an earlier reference.
"""


def handler(event, context):  # pylint: disable=unused-argument
    records = event.get("Records", []) if isinstance(event, dict) else []
    return {"processed": len(records)}
