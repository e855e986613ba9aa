"""host-examples/collector: the two-tier collector config is well formed, and the relink
configs it names do what the tiers need on the real-client scenario's spans."""

import json

import pytest
import yaml

import otlp_files
from conftest import REPO
from test_real_clients import relinked_pairs, requires_relink, run_relink

COLLECTOR = REPO / "host-examples" / "collector"


def documents():
    text = (COLLECTOR / "two-tier.yaml").read_text(encoding="utf-8")
    return list(yaml.safe_load_all(text))


def test_two_tier_yaml_holds_the_two_tiers():
    tier1, tier2 = documents()
    assert set(tier1["service"]["pipelines"]) == {"traces/in", "traces/route"}
    assert set(tier2["service"]["pipelines"]) == {"traces"}


@pytest.mark.parametrize("tier", [0, 1])
def test_every_pipeline_component_is_defined(tier):
    doc = documents()[tier]
    for name, pipeline in doc["service"]["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section) or []:
                assert component in (doc.get(section) or {}), f"{name}: {section} {component} undefined"


def test_tier1_routes_by_the_relink_route_attribute():
    tier1, _ = documents()
    lb = tier1["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "attributes"
    assert lb["routing_attributes"] == ["relink.route"]
    assert "otlp" in lb["protocol"]
    assert "dns" in lb["resolver"] and lb["resolver"]["dns"]["port"] == 4317
    # stamp relay round trip: out through the relay, back in on otlp/stamped
    assert tier1["exporters"]["otlphttp/relink-stamp"]["endpoint"] == "http://127.0.0.1:4320"
    assert tier1["receivers"]["otlp/stamped"]["protocols"]["http"]["endpoint"] == "127.0.0.1:4319"
    assert tier1["service"]["pipelines"]["traces/route"]["exporters"] == ["loadbalancing"]


def test_tier2_feeds_the_relink_relay_on_4318():
    _, tier2 = documents()
    assert tier2["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert tier2["exporters"]["otlphttp/relink"]["endpoint"] == "http://127.0.0.1:4318"


def test_relink_configs_are_json_with_the_tier_roles():
    stamp = json.loads((COLLECTOR / "relink-stamp.json").read_text(encoding="utf-8"))
    tier2 = json.loads((COLLECTOR / "relink-tier2.json").read_text(encoding="utf-8"))
    assert stamp["stamp"]["enabled"] is True
    assert stamp["event_attribute"]["output"] == "keep"  # tier 2 still needs the event
    assert stamp["direct_links"]["enabled"] is False and stamp["adoption"]["enabled"] is False
    assert tier2["adoption"]["enabled"] is True and tier2["direct_links"]["enabled"] is True


@requires_relink
def test_stamp_tier_routes_each_trace_with_its_first_write(scenario, tmp_path):
    """The load-balancing exporter routes whole traces, so stamp mode gives every span of a
    trace one route: the first pointer in it. A consumer then meets the producer whose
    first write triggered it; later writes of the same producer trace (CopyObject and
    CompleteMultipartUpload after PutObject) are routed with PutObject and meet their
    consumers only when the routes hash to the same instance (pointer links do not care)."""
    config = json.loads((COLLECTOR / "relink-stamp.json").read_text(encoding="utf-8"))
    output = run_relink(scenario, tmp_path, config=config)
    routes, by_trace = {}, {}
    for _r, _scope, span in otlp_files.spans(output):
        attrs = otlp_files.attributes(span.attributes)
        assert attrs.get("relink.route"), span.name
        assert "relink.event" not in attrs or attrs["relink.event"].startswith('{"Records"')
        assert not span.links  # the stamp tier only stamps
        routes[span.span_id] = attrs["relink.route"]
        by_trace.setdefault(span.trace_id, set()).add(attrs["relink.route"])
    assert all(len(r) == 1 for r in by_trace.values())
    met = {p.name for pointer, p, c in relinked_pairs(scenario, output)
           if routes[p.span_id] == routes[c.span_id] == pointer}
    assert met == {"S3.PutObject", "DynamoDB.PutItem"}
    events = [otlp_files.attributes(s.attributes).get("relink.event") for _r, _sc, s in otlp_files.spans(output)]
    assert sum(e is not None for e in events) == 5  # kept for tier 2
