//! host-examples/envoy/envoy.yaml is a configuration Envoy accepts for the filter: the
//! wasm filter on the OTLP listener, V8, the module from a local file, both configurations as
//! StringValues; the relink JSON is valid for the core, and the filter starts with both and
//! relinks a request sent to the configured path.

mod common;

use common::*;
use relink::config::Config;
use relink::otlp::Encoding;
use relink_harness::envoy::{Request, Startup};
use serde_yaml::Value;

fn envoy_yaml() -> Value {
    let path = root().join("host-examples/envoy/envoy.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut at = v;
    for key in path {
        at = &at[*key];
    }
    at.as_str()
        .unwrap_or_else(|| panic!("{} is not a string: {at:?}", path.join(".")))
}

#[test]
fn the_example_configures_the_filter_as_envoy_expects() {
    let yaml = envoy_yaml();
    let listener = &yaml["static_resources"]["listeners"][0];
    assert_eq!(
        listener["address"]["socket_address"]["port_value"].as_u64(),
        Some(4318)
    );
    let hcm = &listener["filter_chains"][0]["filters"][0];
    assert_eq!(
        str_at(hcm, &["name"]),
        "envoy.filters.network.http_connection_manager"
    );
    let filters = hcm["typed_config"]["http_filters"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = filters.iter().map(|f| str_at(f, &["name"])).collect();
    assert_eq!(
        names,
        ["envoy.filters.http.wasm", "envoy.filters.http.router"]
    );
    let wasm = &filters[0]["typed_config"];
    assert_eq!(
        str_at(wasm, &["@type"]),
        "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
    );
    let config = &wasm["config"];
    assert_eq!(
        str_at(config, &["vm_config", "runtime"]),
        "envoy.wasm.runtime.v8"
    );
    assert!(
        str_at(config, &["vm_config", "code", "local", "filename"]).ends_with("/relink-envoy.wasm")
    );
    for at in [
        &config["configuration"],
        &config["vm_config"]["configuration"],
    ] {
        assert_eq!(
            str_at(at, &["@type"]),
            "type.googleapis.com/google.protobuf.StringValue"
        );
    }

    let relink_json = str_at(config, &["configuration", "value"]);
    if let Err(e) = Config::from_json(relink_json).and_then(|c| relink::Processor::new(&c)) {
        panic!("the example's relink configuration: {e}");
    }
    let options: serde_json::Value =
        serde_json::from_str(str_at(config, &["vm_config", "configuration", "value"]))
            .unwrap_or_else(|e| panic!("vm configuration: {e}"));
    // The filter is told Envoy's two limits as they are set, and keeps its body limit at
    // half of each (README "Sizing").
    let max_body = options["max_body_bytes"].as_u64().unwrap_or(0);
    let buffer_limit = listener["per_connection_buffer_limit_bytes"]
        .as_u64()
        .unwrap_or(1 << 20);
    let window = hcm["typed_config"]["http2_protocol_options"]["initial_stream_window_size"]
        .as_u64()
        .unwrap_or(256 << 20);
    assert_eq!(
        options["per_connection_buffer_limit_bytes"].as_u64(),
        Some(buffer_limit)
    );
    assert_eq!(options["initial_stream_window_size"].as_u64(), Some(window));
    assert!(
        0 < max_body && 2 * max_body <= buffer_limit.min(window),
        "max_body_bytes {max_body} must stay at half the limits ({buffer_limit}, {window})"
    );
    assert_eq!(str_at(config, &["failure_policy"]), "FAIL_RELOAD");

    let clusters: Vec<&str> = yaml["static_resources"]["clusters"]
        .as_sequence()
        .map(|s| s.iter().map(|c| str_at(c, &["name"])).collect())
        .unwrap_or_default();
    for route in hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
    {
        assert!(
            clusters.contains(&str_at(&route, &["route", "cluster"])),
            "{route:?} routes to a defined cluster"
        );
    }
}

#[test]
fn the_filter_starts_with_the_example_configuration_and_relinks() {
    let yaml = envoy_yaml();
    let config = &yaml["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"]["http_filters"][0]["typed_config"]["config"];
    let relink_json = str_at(config, &["configuration", "value"]);
    let vm_json = str_at(config, &["vm_config", "configuration", "value"]);
    let mut s = settings(relink_json);
    s.vm_configuration = vm_json.as_bytes().to_vec();
    let listener = &yaml["static_resources"]["listeners"][0];
    s.buffer_limit = listener["per_connection_buffer_limit_bytes"]
        .as_u64()
        .unwrap_or(0) as usize;
    s.stream_window = listener["filter_chains"][0]["filters"][0]["typed_config"]
        ["http2_protocol_options"]["initial_stream_window_size"]
        .as_u64()
        .unwrap_or(0) as usize;
    s.failure_policy = relink_harness::envoy::FailurePolicy::FailReload;
    let mut vm = host().start(&s).unwrap_or_else(|e| panic!("start: {e}"));
    assert_eq!(vm.startup(), Startup::Ready, "{:?}", vm.logs());

    let path = serde_json::from_str::<serde_json::Value>(vm_json)
        .ok()
        .and_then(|v| v["traces_path"].as_str().map(String::from));
    let producer = to_protobuf(&producer());
    let expected = native(relink_json, &[(&producer, Encoding::Protobuf)]);
    let request = Request::post(
        path.as_deref().unwrap_or(TRACES),
        &[("content-type", "application/x-protobuf")],
        vec![producer.clone()],
    );
    let exchange = vm.send(&request).unwrap_or_else(|e| panic!("send: {e}"));
    assert_ne!(exchange.upstream_body, producer);
    assert_eq!(exchange.upstream_body, expected[0]);
}
