'use strict';
// The consumer function of the real-client scenario ("processor"). The aws-lambda
// instrumentation wraps `handler` when this file is loaded, found by `_HANDLER` and
// `LAMBDA_TASK_ROOT` as on AWS Lambda, so it must be required after the instrumentation.
exports.handler = async (event) => ({ processed: Array.isArray(event?.Records) ? event.Records.length : 0 });
