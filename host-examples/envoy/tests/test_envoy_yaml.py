"""host-examples/envoy/envoy.yaml checked by an outside parser of Envoy's v3 API.

PyPI `envoy-data-plane` holds dataclasses generated from Envoy's protos (betterproto2 with
pydantic, `extra="forbid"`): a Bootstrap parses strictly, every `typed_config` is unpacked
through its type URL, and an unknown field, a value of the wrong type, an unknown enum name
or a type URL no proto has fails the parse, as Envoy fails to load such a file. The
negative tests below prove each of those fails here. On top of the proto check: the wasm
filter's two StringValues are the JSON the filter reads (its host options, and the relink
configuration, validated by `relink process --config`), and the filter is told the same
buffer limits Envoy has.
"""

import copy
import json
import os
import pathlib
import subprocess
import warnings

import pytest
import yaml

# envoy-data-plane's generated classes use a pydantic idiom pydantic 2.12+ deprecates: noise
# at import, not a finding about envoy.yaml.
warnings.filterwarnings("ignore", message=r"Using `@model_validator` with mode='after'")

# Importing a module registers its messages for `Any` type URLs.
import envoy_data_plane.envoy.extensions.filters.http.router.v3  # noqa: F401
import envoy_data_plane.envoy.extensions.upstreams.http.v3  # noqa: F401
from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap
from envoy_data_plane.envoy.extensions.filters.http.wasm.v3 import Wasm
from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import (
    HttpConnectionManager,
)
from envoy_data_plane.envoy.extensions.wasm.v3 import FailurePolicy
from envoy_data_plane.google.protobuf import StringValue

REPO = pathlib.Path(__file__).resolve().parents[3]
ENVOY_YAML = REPO / "host-examples" / "envoy" / "envoy.yaml"
RELINK = pathlib.Path(os.environ.get("RELINK_BIN", REPO / "target" / "release" / "relink"))
# The filter's host options (`relink_envoy::body::Options`, deny_unknown_fields).
FILTER_OPTIONS = {
    "traces_path",
    "max_body_bytes",
    "per_connection_buffer_limit_bytes",
    "initial_stream_window_size",
}


def load():
    return yaml.safe_load(ENVOY_YAML.read_text())


def parse(document):
    return Bootstrap.from_dict(document)


def wasm_filter(bootstrap):
    listener = bootstrap.static_resources.listeners[0]
    hcm = listener.filter_chains[0].filters[0].typed_config.unpack()
    assert isinstance(hcm, HttpConnectionManager)
    names = [f.name for f in hcm.http_filters]
    assert names == ["envoy.filters.http.wasm", "envoy.filters.http.router"]
    wasm = hcm.http_filters[0].typed_config.unpack()
    assert isinstance(wasm, Wasm)
    return listener, hcm, wasm.config


def string_value(any_value):
    value = any_value.unpack()
    assert isinstance(value, StringValue), type(value)
    return value.value


def test_the_example_parses_strictly_with_every_typed_config_unpacked():
    bootstrap = parse(load())
    listener, hcm, plugin = wasm_filter(bootstrap)
    assert listener.address.socket_address.port_value == 4318
    assert plugin.vm_config.runtime == "envoy.wasm.runtime.v8"
    assert plugin.vm_config.code.local.filename.endswith("/relink-envoy.wasm")
    assert plugin.failure_policy == FailurePolicy.FAIL_RELOAD
    assert not plugin.fail_open, "Envoy rejects fail_open together with failure_policy"
    clusters = {c.name for c in bootstrap.static_resources.clusters}
    routes = hcm.route_config.virtual_hosts[0].routes
    assert {r.route.cluster for r in routes} <= clusters
    grpc = next(c for c in bootstrap.static_resources.clusters if c.name == "collector_grpc")
    options = grpc.typed_extension_protocol_options[
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ].unpack()
    assert options.explicit_http_config.http2_protocol_options is not None


def test_the_filter_is_told_envoys_limits_and_its_options_are_the_ones_it_reads():
    listener, hcm, plugin = wasm_filter(parse(load()))
    options = json.loads(string_value(plugin.vm_config.configuration))
    assert set(options) <= FILTER_OPTIONS, set(options) - FILTER_OPTIONS
    buffer_limit = listener.per_connection_buffer_limit_bytes
    window = hcm.http2_protocol_options.initial_stream_window_size
    assert options["per_connection_buffer_limit_bytes"] == buffer_limit
    assert options["initial_stream_window_size"] == window
    assert 0 < 2 * options["max_body_bytes"] <= min(buffer_limit, window)


def test_the_plugin_configuration_is_a_relink_configuration(tmp_path):
    _, _, plugin = wasm_filter(parse(load()))
    config = tmp_path / "relink.json"
    config.write_text(string_value(plugin.configuration))
    export = tmp_path / "export.json"
    export.write_text('{"resourceSpans": []}')

    def process(config_path):
        return subprocess.run(
            [str(RELINK), "process", "--in", str(export), "--config", str(config_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )

    accepted = process(config)
    assert accepted.returncode == 0, accepted.stderr
    # The same check refuses a misspelt relink field.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"indx": {"max_entries": 10}}))
    refused = process(bad)
    assert refused.returncode == 2
    assert "unknown field `indx`" in refused.stderr


def wasm_config(document):
    return document["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"
    ]["http_filters"][0]["typed_config"]


def listener(document):
    return document["static_resources"]["listeners"][0]


MUTATIONS = {
    "misspelt listener field": (
        lambda d: listener(d).__setitem__("per_connection_buffer_limit_byte", 1),
        "per_connection_buffer_limit_byte",
    ),
    "misspelt vm_config field": (
        lambda d: wasm_config(d)["config"]["vm_config"].__setitem__("runtim", "v8"),
        "runtim",
    ),
    "bad type URL": (
        lambda d: wasm_config(d).__setitem__(
            "@type", "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasmm"
        ),
        "Wasmm",
    ),
    "wrong value type": (
        lambda d: listener(d).__setitem__("per_connection_buffer_limit_bytes", "lots"),
        "integer",
    ),
    "unknown enum name": (
        lambda d: wasm_config(d)["config"].__setitem__("failure_policy", "FAIL_RELOADD"),
        "FAIL_RELOADD",
    ),
    "misspelt StringValue field": (
        lambda d: wasm_config(d)["config"]["configuration"].__setitem__(
            "valu", wasm_config(d)["config"]["configuration"].pop("value")
        ),
        "valu",
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_parser_refuses_what_envoy_refuses(name):
    mutate, mentioned = MUTATIONS[name]
    document = copy.deepcopy(load())
    mutate(document)
    with pytest.raises(Exception) as refused:
        parse(document)
    assert mentioned in str(refused.value), str(refused.value)
