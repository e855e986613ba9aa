"""Semantic-conventions oracle: every attribute key on what relink makes is in the
OpenTelemetry attribute registry at the version relink states, or in relink's own
documented list; and no span kind or status contradicts the conventions.

- The registry is read from the published package PyPI `opentelemetry-semantic-conventions`
  (pinned in requirements.txt): every attribute constant of `opentelemetry.semconv.attributes`
  and `opentelemetry.semconv._incubating.attributes`. Its newest schema must be the version
  `src/inferred/conventions.md` states.
- relink's own keys are parsed from its documentation, so the docs and this test cannot
  drift: the `relink.*` table and the "outside the registry" table of
  `src/inferred/conventions.md`, and the "what relink writes" table of `src/processor/mod.rs`.
- What relink makes: `relink event --otlp` over every golden event, Step Functions and
  fixture payload (inferred spans, workflow spans), and the attributes and links relink added
  in every relinking golden case (`tests/golden/relink/*/expected-N.json` against
  `input-N.json`; tests/relink_golden.rs holds those equal to relink's output).
"""

import functools
import importlib
import json
import pathlib
import pkgutil
import re
import subprocess

import pytest

from conftest import REPO

CONVENTIONS = REPO / "src" / "inferred" / "conventions.md"
RELINK_DOC = REPO / "src" / "processor" / "mod.rs"
GOLDEN = REPO / "tests" / "golden"
FIXTURES = REPO / "tests" / "fixtures"

SPAN_KIND = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_ERROR = 2
KEY = re.compile(r"`([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)`")


# -- the registry ----------------------------------------------------------------------


@functools.cache
def registry():
    """{attribute key} of the published registry (stable and incubating)."""
    keys = set()
    for package in ("opentelemetry.semconv.attributes", "opentelemetry.semconv._incubating.attributes"):
        root = importlib.import_module(package)
        for info in pkgutil.iter_modules(root.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for name, value in vars(module).items():
                if name.isupper() and isinstance(value, str):
                    keys.add(value)
    return keys


@functools.cache
def deprecated():
    """{key: "Deprecated: ..."} for registry keys the package marks deprecated (its docstrings)."""
    found = {}
    pattern = re.compile(r'^[A-Z0-9_]+: Final = "([^"]+)"\n"""\n(Deprecated:[^\n]*)', re.M)
    for package in ("opentelemetry.semconv.attributes", "opentelemetry.semconv._incubating.attributes"):
        root = importlib.import_module(package)
        for directory in root.__path__:
            for source in pathlib.Path(directory).glob("*.py"):
                for key, note in pattern.findall(source.read_text(encoding="utf-8")):
                    found[key] = note
    return found


@functools.cache
def registry_enum(key):
    """The registry's allowed values of an enum attribute `key`, or None."""
    for package in ("opentelemetry.semconv.attributes", "opentelemetry.semconv._incubating.attributes"):
        root = importlib.import_module(package)
        for info in pkgutil.iter_modules(root.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for name, value in vars(module).items():
                if name.isupper() and value == key:
                    enum = getattr(module, "".join(p.title() for p in key.split(".")) + "Values", None)
                    if enum is not None:
                        return {member.value for member in enum}
    return None


def stated_version():
    match = re.search(r"semantic conventions\s+\*\*v(\d+\.\d+\.\d+)\*\*", CONVENTIONS.read_text(encoding="utf-8"))
    assert match, f"{CONVENTIONS} does not state the semantic-conventions version it follows"
    return match.group(1)


def test_the_registry_package_is_the_version_relink_states():
    from opentelemetry.semconv.schemas import Schemas

    newest = max(Schemas, key=lambda s: tuple(int(p) for p in s.value.rsplit("/", 1)[1].split(".")))
    assert newest.value == f"https://opentelemetry.io/schemas/{stated_version()}"
    assert len(registry()) > 500  # the whole registry, not one module


# -- relink's documented keys --------------------------------------------------------------


def table_column(text, header, column):
    """The backticked keys in column `column` of the markdown table after `header`."""
    start = text.index(header)
    keys, in_table = set(), False
    for line in text[start:].splitlines()[1:]:
        line = line.removeprefix("//!").strip()
        if line.startswith("|"):
            in_table = True
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) > column:
                keys |= set(KEY.findall(cells[column]))
        elif in_table:
            break
    return keys


@functools.cache
def documented():
    """{key: where it is documented} for relink's own and vendor keys."""
    conventions = CONVENTIONS.read_text(encoding="utf-8")
    relink = RELINK_DOC.read_text(encoding="utf-8")
    found = {}
    for key in table_column(conventions, "# `relink.*` attributes", 0):
        found[key] = "src/inferred/conventions.md, relink.* attributes"
    for key in table_column(conventions, "# Attributes outside the registry", 0):
        found[key] = "src/inferred/conventions.md, attributes outside the registry"
    # Only its relink.* keys: any other key there must be a registry key or listed outside it.
    for key in table_column(relink, "What relink writes", 1):
        if key.startswith("relink."):
            found.setdefault(key, "src/processor/mod.rs, what relink writes")
    return found


def test_documented_keys_are_relinks_own_not_registry_keys():
    docs = documented()
    assert len(docs) > 20
    outside = table_column(CONVENTIONS.read_text(encoding="utf-8"), "# Attributes outside the registry", 0)
    # A key listed as outside the registry that the registry has is a stale list.
    assert sorted(outside & registry()) == []
    for key in outside:
        assert not key.startswith("relink."), f"{key}: relink.* keys belong in the relink.* table"


# -- what relink makes ---------------------------------------------------------------------


def value(v):
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in v:
            return v[kind]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [value(x) for x in v["arrayValue"].get("values", [])]
    return None


def attributes(items):
    return {kv["key"]: value(kv.get("value") or {}) for kv in dicts(items) if isinstance(kv.get("key"), str)}


def spans_of(request):
    """[(resource attrs, scope name, span)] of an OTLP/JSON request."""
    out = []
    for rs in dicts(request.get("resourceSpans")):
        resource = attributes(rs.get("resource", {}).get("attributes"))
        for ss in dicts(rs.get("scopeSpans")):
            for span in dicts(ss.get("spans")):
                out.append((resource, ss.get("scope", {}).get("name", ""), span))
    return out


def dicts(items):
    """The objects of a JSON list (the malformed golden case holds other values too)."""
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


class Made:
    """Attribute keys and spans relink made, each with where it was seen."""

    def __init__(self):
        self.keys = {}  # key -> first place seen
        self.spans = []  # (place, resource, span) of spans relink made whole

    def key(self, key, place):
        self.keys.setdefault(key, place)

    def whole(self, request, place):
        for resource, _scope, span in spans_of(request):
            self.spans.append((place, resource, span))
            for key in resource:
                self.key(key, f"{place} (resource)")
            for key in attributes(span.get("attributes")):
                self.key(key, f"{place}: span {span.get('name')}")
            for link in dicts(span.get("links")):
                for key in attributes(link.get("attributes")):
                    self.key(key, f"{place}: link of {span.get('name')}")
            for event in dicts(span.get("events")):
                for key in attributes(event.get("attributes")):
                    self.key(key, f"{place}: event {event.get('name')} of {span.get('name')}")

    def added(self, before, after, place):
        """What relink added to the spans of `before` (spans it made are taken whole)."""
        old = {s["spanId"]: s for _r, _sc, s in spans_of(before) if "spanId" in s}
        new_only = {"resourceSpans": []}
        for rs in dicts(after.get("resourceSpans")):
            scopes = []
            for ss in dicts(rs.get("scopeSpans")):
                made = [s for s in dicts(ss.get("spans")) if s.get("spanId") not in old]
                for span in dicts(ss.get("spans")):
                    was = old.get(span.get("spanId"))
                    if was is None:
                        continue
                    for key in attributes(span.get("attributes")).keys() - attributes(was.get("attributes")).keys():
                        self.key(key, f"{place}: added to span {span.get('name')}")
                    had = {k for link in dicts(was.get("links")) for k in attributes(link.get("attributes"))}
                    for link in dicts(span.get("links")):
                        for key in attributes(link.get("attributes")).keys() - had:
                            self.key(key, f"{place}: link added to {span.get('name')}")
                if made:
                    scopes.append({**ss, "spans": made})
            if scopes:
                new_only["resourceSpans"].append({**rs, "scopeSpans": scopes})
        self.whole(new_only, place)


def relink_event(relink, path, execution_arn=None):
    command = [str(relink), "event", str(path), "--otlp"]
    if execution_arn:
        command += ["--execution-arn", execution_arn]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def made(relink_bin):
    found, counts = Made(), {"event": 0, "not an event": 0, "relink cases": 0}
    payloads = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".ndjson"))
    payloads += sorted(GOLDEN.joinpath("event").rglob("input.json"))
    for path in payloads:
        out = relink_event(relink_bin, path)
        counts["event" if out is not None else "not an event"] += 1
        if out is not None:
            found.whole(out, str(path.relative_to(REPO)))
    for case in sorted(p for p in GOLDEN.joinpath("stepfn").iterdir() if p.is_dir()):
        config = json.loads((case / "config.json").read_text()) if (case / "config.json").exists() else {}
        for path in sorted(case.glob("input*")):
            out = relink_event(relink_bin, path, config.get("execution_arn"))
            counts["event" if out is not None else "not an event"] += 1
            if out is not None:
                found.whole(out, str(path.relative_to(REPO)))
    for case in sorted(p for p in GOLDEN.joinpath("relink").iterdir() if p.is_dir()):
        counts["relink cases"] += 1
        for expected in sorted(case.glob("expected-*.json")):
            n = expected.name.removeprefix("expected-").removesuffix(".json")
            inputs = list(case.glob(f"input-{n}.json"))
            place = str(expected.relative_to(REPO))
            try:
                after = json.loads(expected.read_text())
                before = json.loads(inputs[0].read_text()) if inputs else None
            except ValueError:
                continue  # the malformed case: bytes relink passed through unchanged
            if inputs:
                if isinstance(before, dict) and isinstance(after, dict):
                    found.added(before, after, place)
            elif isinstance(after, dict):
                found.whole(after, place)  # event-N: every span is relink's
    # Every payload kind the suite holds went through; most fixtures are trigger events.
    assert counts["relink cases"] == 19, counts
    assert counts["event"] >= 100, counts
    return found


def test_every_key_relink_writes_is_in_the_registry_or_documented(made):
    registered, docs = registry(), documented()
    unknown = sorted(f"{key}  (seen: {place})" for key, place in made.keys.items()
                     if key not in registered and key not in docs)
    assert unknown == [], "keys neither in the semconv registry v" + stated_version() + \
        " nor documented as relink's own:\n" + "\n".join(unknown)
    old = sorted(f"{key}: {deprecated()[key]}  (seen: {place})" for key, place in made.keys.items() if key in deprecated())
    assert old == [], "deprecated registry keys:\n" + "\n".join(old)
    assert "http.method" in deprecated()  # the parse finds the package's deprecations
    assert len(made.keys) > 60, sorted(made.keys)


def kind(span):
    return SPAN_KIND.get(span.get("kind", 0), "UNSPECIFIED")


def test_span_kinds_and_statuses_follow_the_conventions(made):
    problems = []
    operation_types = registry_enum("messaging.operation.type")
    triggers = registry_enum("faas.trigger")
    assert operation_types and triggers
    for place, _resource, span in made.spans:
        a, k, name = attributes(span.get("attributes")), kind(span), f"{place}: {span.get('name')}"
        op = a.get("messaging.operation.type")
        if op is not None:
            if op not in operation_types:
                problems.append(f"{name}: messaging.operation.type={op} is not a registry value")
            want = {"process": {"CONSUMER"}, "receive": {"CONSUMER", "CLIENT"}, "send": {"PRODUCER", "CLIENT"},
                    "create": {"PRODUCER"}, "settle": {"CLIENT"}}.get(op)
            if want and k not in want:
                problems.append(f"{name}: messaging {op} span is {k}, the conventions say {sorted(want)}")
        if "http.route" in a and k != "SERVER":
            problems.append(f"{name}: http.route on a {k} span (server spans only)")
        if "http.request.method" in a and "url.full" not in a and k != "SERVER":
            problems.append(f"{name}: an HTTP server request span is {k}, not SERVER")
        if any(key.startswith("faas.invoked_") for key in a) and k != "CLIENT":
            problems.append(f"{name}: faas.invoked_* on a {k} span (the invoking client span)")
        if "faas.trigger" in a and a["faas.trigger"] not in triggers:
            problems.append(f"{name}: faas.trigger={a['faas.trigger']} is not a registry value")
        status = span.get("status", {})
        if "error.type" in a and status.get("code") != STATUS_ERROR:
            problems.append(f"{name}: error.type={a['error.type']} but status is not ERROR")
        if status.get("message") and status.get("code") != STATUS_ERROR:
            problems.append(f"{name}: a status description without status ERROR")
        if a.get("relink.inferred") is True and status.get("code", 0) != 0:
            problems.append(f"{name}: an inferred span with a status (the event does not say the outcome)")
    assert problems == [], "\n".join(problems)
    assert len(made.spans) > 100
