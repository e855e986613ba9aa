//! The relink configs shipped for the two-tier collector setup (host-examples/collector)
//! parse, validate and build a processor.

use relink::config::Config;

fn load(name: &str) -> Config {
    let path = format!(
        "{}/host-examples/collector/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let config = Config::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    if let Err(e) = relink::Processor::new(&config) {
        panic!("{path}: {e:?}");
    }
    config
}

#[test]
fn stamp_tier_config_only_stamps_and_keeps_the_event() {
    let c = load("relink-stamp.json");
    assert!(c.stamp.enabled);
    assert!(!c.direct_links.enabled && !c.pointer_links.enabled && !c.adoption.enabled);
    assert_eq!(c.event_attribute.output, relink::config::EventOutput::Keep);
}

#[test]
fn second_tier_config_links_and_adopts() {
    let c = load("relink-tier2.json");
    assert!(c.pointer_links.enabled && c.direct_links.enabled && c.adoption.enabled);
    assert!(!c.stamp.enabled);
    assert_eq!(c.adoption.ttl_seconds, 900);
}
