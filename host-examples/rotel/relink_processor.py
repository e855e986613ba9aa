"""relink as a rotel trace processor: dist/relink.wasm run by PyPI `wasmtime` inside rotel.

rotel-agent (`--otlp-with-trace-processor relink_processor.py`) calls `process_spans` once
for every ResourceSpans of every request it receives, before batching, and keeps what the
function changed in place (the return value is ignored). This file only translates between
that object model and the component's bytes: it copies the ResourceSpans into an OTLP
`ExportTraceServiceRequest` (protobuf, `opentelemetry-proto`), runs the processor
resource's `process-traces` on it, and writes what relink changed back onto rotel's
objects. One component instance and one processor resource live for the whole process, so
the pointer index and the adoption remap span batches.

Environment: `RELINK_WASM` (the component; default `dist/relink.wasm` two folders above
this file), `RELINK_CONFIG` (relink configuration JSON) or `RELINK_CONFIG_FILE` (a file
holding it); `{}` when neither is set. `wasmtime` and `opentelemetry-proto` must be
importable by rotel's embedded interpreter (PYTHONPATH).

On any error the ResourceSpans leaves this processor as it arrived, and the first error is
printed on rotel's stderr, starting `relink:`. rotel's SDK (streamfold/rotel e6a2d53, the
build in the PyPI wheel 0.0.1a15) has marshalling quirks this file works around, each
found in rotel_python_processor_sdk/src:
- model/py_transform.rs `convert_value` rebuilds array values with `pop()`, so every array
  whose list was materialised in Python comes out reversed: resource attributes always,
  span, link and scope attributes once read. Arrays are therefore written back in reverse,
  also for data relink did not change.
- py/trace.rs `Span.events` resets each event's `dropped_attributes_count` when read, so
  events are not read (relink reads none) and never written.
- Reading an attribute without a value makes `AnyValue.value` panic (py/common.rs) and
  poisons the value's mutex, which stops rotel-agent when it converts the batch back, so
  a list holding one is always rewritten. The SDK cannot make a value-less (or empty)
  value: any list the processor rewrites leaves such attributes out, and says so once.
  OTel SDKs do not emit them.
"""

import os
import sys
import threading
import time
from functools import partial
from pathlib import Path

from rotel_sdk.open_telemetry.common.v1 import AnyValue, ArrayValue, KeyValue, KeyValueList
from rotel_sdk.open_telemetry.trace.v1 import Link

INTERFACE = "relink:processor/relinker@0.1.0"
# Span fields rotel exposes as plain settable values, written back when relink changed them.
SPAN_SCALARS = (
    "trace_id", "span_id", "trace_state", "parent_span_id", "flags", "name", "kind",
    "start_time_unix_nano", "end_time_unix_nano", "dropped_attributes_count",
    "dropped_events_count", "dropped_links_count",
)
_logged = False


def _log_once(message):
    global _logged
    if not _logged:
        _logged = True
        print(f"relink: {message} (later errors are not printed)", file=sys.stderr, flush=True)


class _Relinker:
    """The component instance and its one processor resource; calls are serialised."""

    def __init__(self, wasm, config_json):
        from wasmtime import Engine, Store, WasiConfig
        from wasmtime.component import Component, Linker, Variant

        self._variant = Variant
        engine = Engine()
        self._store = Store(engine)
        self._store.set_wasi(WasiConfig())
        linker = Linker(engine)
        linker.add_wasip2()
        instance = linker.instantiate(self._store, Component.from_file(engine, str(wasm)))
        iface = instance.get_export_index(self._store, INTERFACE)

        def export(name):
            return instance.get_func(self._store, instance.get_export_index(self._store, name, iface))

        self._process = export("[method]processor.process-traces")
        self._lock = threading.Lock()
        self._processor = self._call("create", export("[static]processor.create"), config_json)

    def _call(self, name, func, *args):
        result = func(self._store, *args)
        func.post_return(self._store)
        # A `result<T, error>` arrives untagged: the ok value, or the error as a Variant.
        if isinstance(result, self._variant):
            payload = "; ".join(result.payload) if isinstance(result.payload, list) else result.payload
            raise RuntimeError(f"{name}: {result.tag}: {payload}")
        return result

    def process(self, otlp):
        with self._lock:
            return self._call("process-traces", self._process, self._processor, otlp, "protobuf", time.time_ns())


def _load():
    wasm = os.environ.get("RELINK_WASM") or Path(__file__).resolve().parents[2] / "dist" / "relink.wasm"
    config = os.environ.get("RELINK_CONFIG")
    if config is None:
        path = os.environ.get("RELINK_CONFIG_FILE")
        config = Path(path).read_text() if path else "{}"
    return _Relinker(wasm, config)


# An exception escaping the import would stop rotel's trace pipeline: fail open instead.
try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
except Exception as e:  # pylint: disable=broad-except
    ExportTraceServiceRequest = None
    _log_once(f"opentelemetry-proto is not importable ({e}): batches pass through unchanged")
_RELINKER = None
if ExportTraceServiceRequest is not None:
    try:
        _RELINKER = _load()
    except Exception as e:  # pylint: disable=broad-except
        _log_once(f"not loaded ({type(e).__name__}: {e}): batches pass through unchanged")


def process_spans(resource_spans):
    if ExportTraceServiceRequest is None:
        return
    request = ExportTraceServiceRequest()
    try:
        targets = _read(resource_spans, request.resource_spans.add())
    except Exception as e:  # pylint: disable=broad-except
        _log_once(f"batch passed through: reading it failed: {type(e).__name__}: {e}")
        return
    before = request.resource_spans[0]
    after = before
    if _RELINKER is not None:
        try:
            relinked = ExportTraceServiceRequest.FromString(_RELINKER.process(request.SerializeToString()))
            if len(relinked.resource_spans) != 1:
                raise ValueError(f"{len(relinked.resource_spans)} resource spans came back for 1")
            after = relinked.resource_spans[0]
        except Exception as e:  # pylint: disable=broad-except
            _log_once(f"batch passed through unchanged: {e}")
    # Writes are planned in full before the first one, so a failure changes nothing.
    try:
        writes = _plan(targets, before, after)
    except Exception as e:  # pylint: disable=broad-except
        _log_once(f"batch passed through unchanged: {e}")
        try:
            writes = _plan(targets, before, before)
        except Exception:  # pylint: disable=broad-except
            return
    for write in writes:
        write()


class _Absent(Exception):
    """An attribute without a value: rotel's SDK panics reading it (see the module doc)."""


def _read(rs, pb):
    """Copies rotel's ResourceSpans into `pb`. Returns the rotel objects writes go to, each
    list with whether reading it met a value-less attribute (the list must be rewritten)."""
    pb.schema_url = rs.schema_url
    resource, resource_absent = rs.resource, False
    if resource is not None:
        pb.resource.SetInParent()
        resource_absent = _attributes_in(resource.attributes, pb.resource.attributes)
        pb.resource.dropped_attributes_count = resource.dropped_attributes_count
    scopes = []
    for ss in rs.scope_spans:
        spb = pb.scope_spans.add()
        spb.schema_url = ss.schema_url
        scope, scope_absent = ss.scope, False
        if scope is not None:
            spb.scope.SetInParent()
            spb.scope.name, spb.scope.version = scope.name, scope.version
            scope_absent = _attributes_in(scope.attributes, spb.scope.attributes)
            spb.scope.dropped_attributes_count = scope.dropped_attributes_count
        spans = [(span, *_span_in(span, spb.spans.add())) for span in ss.spans]
        scopes.append((scope, scope_absent, spans))
    return resource, resource_absent, scopes


def _span_in(span, pb):
    """Copies one span (not its events: see the module doc); returns whether its attributes
    and its links met a value-less attribute."""
    for field in SPAN_SCALARS:
        value = getattr(span, field)
        setattr(pb, field, bytes(value) if field.endswith("_id") else value)
    attributes_absent = _attributes_in(span.attributes, pb.attributes)
    links_absent = False
    for link in span.links:
        lpb = pb.links.add()
        lpb.trace_id, lpb.span_id = bytes(link.trace_id), bytes(link.span_id)
        lpb.trace_state, lpb.flags = link.trace_state, link.flags
        links_absent |= _attributes_in(link.attributes, lpb.attributes)
        lpb.dropped_attributes_count = link.dropped_attributes_count
    status = span.status
    if status is not None:
        pb.status.SetInParent()
        pb.status.code, pb.status.message = status.code, status.message
    return attributes_absent, links_absent


def _attributes_in(attributes, pb):
    absent = False
    for kv in attributes:
        absent |= _kv_in(kv, pb.add())
    return absent


def _kv_in(kv, pb):
    """Copies a KeyValue; returns whether it, or a KeyValue nested in it, has no value
    (then `pb` has none either)."""
    pb.key = kv.key
    try:
        value = _read_value(kv.value)
    except _Absent:
        return True
    return _value_in(value, pb.value)


def _read_value(any_value):
    try:
        return any_value.value
    except BaseException as e:  # pyo3's PanicException derives from BaseException
        if type(e).__name__ != "PanicException":
            raise
        raise _Absent() from None


def _value_in(value, pb):
    kind = type(value)
    if value is None:
        pb.SetInParent()
    elif kind is str:
        pb.string_value = value
    elif kind is bool:
        pb.bool_value = value
    elif kind is int:
        pb.int_value = value
    elif kind is float:
        pb.double_value = value
    elif kind in (bytes, list):
        pb.bytes_value = bytes(value)
    elif kind is ArrayValue:
        pb.array_value.SetInParent()
        # Array items are never value-less (rotel stores each as Some).
        return any([_value_in(_read_value(value[i]), pb.array_value.values.add()) for i in range(len(value))])
    elif kind is KeyValueList:
        # By index: KeyValueList's iterator underflows on an empty list.
        pb.kvlist_value.SetInParent()
        return any([_kv_in(value[i], pb.kvlist_value.values.add()) for i in range(len(value))])
    else:
        raise TypeError(f"attribute value of type {kind.__name__}")
    return False


def _plan(targets, before, after):
    """The writes that turn rotel's objects (read as `before`) into `after`."""
    resource, resource_absent, scopes = targets
    if before.schema_url != after.schema_url or before.HasField("resource") != after.HasField("resource"):
        raise ValueError("relink changed the resource or its schema url")
    if len(before.scope_spans) != len(after.scope_spans):
        raise ValueError("relink changed the number of scopes")
    writes = []
    if resource is not None:
        _list_writes(resource.attributes, before.resource.attributes, after.resource.attributes, _kv_out, resource_absent, writes)
        _scalar_writes(resource, before.resource, after.resource, ("dropped_attributes_count",), writes)
    for (scope, scope_absent, spans), sb, sa in zip(scopes, before.scope_spans, after.scope_spans):
        if sb.schema_url != sa.schema_url or sb.HasField("scope") != sa.HasField("scope") or len(sb.spans) != len(sa.spans):
            raise ValueError("relink changed a scope's schema url, scope or number of spans")
        if scope is not None:
            _list_writes(scope.attributes, sb.scope.attributes, sa.scope.attributes, _kv_out, scope_absent, writes)
            _scalar_writes(scope, sb.scope, sa.scope, ("name", "version", "dropped_attributes_count"), writes)
        for (span, attributes_absent, links_absent), b, a in zip(spans, sb.spans, sa.spans):
            if b.status != a.status or len(a.events):
                raise ValueError(f"relink changed the status or events of span {b.span_id.hex()}")
            _scalar_writes(span, b, a, SPAN_SCALARS, writes)
            _list_writes(span.attributes, b.attributes, a.attributes, _kv_out, attributes_absent, writes)
            _list_writes(span.links, b.links, a.links, _link_out, links_absent, writes)
    return writes


def _scalar_writes(target, before, after, fields, writes):
    for field in fields:
        if getattr(before, field) != getattr(after, field):
            writes.append(partial(setattr, target, field, getattr(after, field)))


def _list_writes(target, before, after, build, absent, writes):
    """Rewrites rotel list `target` (read as `before`) as `after` when they differ, when an
    item holds an array, or when reading met a value-less attribute (see the module doc)."""
    if not absent and list(before) == list(after) and not any(_has_array(item) for item in after):
        return
    items = [item for item in map(build, after) if item is not None]
    writes.extend(partial(target.__delitem__, i) for i in reversed(range(len(before))))
    writes.extend(partial(target.append, item) for item in items)


def _has_array(message):
    """Whether an attribute or link holds an array value at any depth."""
    pending = [kv.value for kv in getattr(message, "attributes", [message])]
    while pending:
        value = pending.pop()
        kind = value.WhichOneof("value")
        if kind == "array_value":
            return True
        if kind == "kvlist_value":
            pending.extend(kv.value for kv in value.kvlist_value.values)
    return False


def _link_out(pb):
    link = Link()
    link.trace_id, link.span_id = pb.trace_id, pb.span_id
    link.trace_state, link.flags = pb.trace_state, pb.flags
    link.dropped_attributes_count = pb.dropped_attributes_count
    attributes = link.attributes
    for kv in map(_kv_out, pb.attributes):
        if kv is not None:
            attributes.append(kv)
    return link


def _kv_out(pb):
    """A rotel KeyValue, or None for one without a value (rotel's SDK cannot make one)."""
    if pb.value.WhichOneof("value") is None:
        _log_once("an attribute without a value: rotel's SDK cannot carry one, it is dropped")
        return None
    return KeyValue(pb.key, _value_out(pb.value))


def _value_out(pb):
    kind = pb.WhichOneof("value")
    if kind is None:
        raise ValueError("rotel's SDK cannot write an empty array item")
    if kind == "array_value":
        array = ArrayValue()
        # Reversed: rotel reverses it again on the way out (see the module doc).
        for item in reversed(pb.array_value.values):
            array.append(_value_out(item))
        return AnyValue(array)
    if kind == "kvlist_value":
        kvlist = KeyValueList()
        for kv in map(_kv_out, pb.kvlist_value.values):
            if kv is not None:
                kvlist.append(kv)
        return AnyValue(kvlist)
    return AnyValue(getattr(pb, kind))
