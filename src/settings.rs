//! A validated [`Config`] compiled once into what the hot path reads: limits as `usize`,
//! the Step Functions options, the resolved join policy (Vector's split of a config struct
//! that documents from a runtime struct that runs). Only [`Settings::new`] makes one,
//! after validation, so a `Settings` is always valid.
//!
//! `Settings` dereferences to the `Config` it was compiled from for the options used as
//! they are (attribute names, switches); the fields below are the ones that needed work.

use crate::config::{Config, ConfigError};
use crate::stepfn;
use std::ops::Deref;

/// The compiled configuration a `Processor` runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    config: Config,
    /// `limits`, as sizes.
    pub bounds: Bounds,
    /// `stepfunctions.include_data` and `max_events` for the span builder.
    pub stepfn: stepfn::Options,
    /// Whether a Lambda invoked by a Step Functions state is parented under the state span
    /// (`stepfunctions.lambda_join`, resolved against `adoption.enabled`).
    pub stepfunctions_parent: bool,
    /// `event_attribute.truncate_bytes`.
    pub event_truncate_bytes: usize,
    /// `index`: entries and TTL of the pointer index.
    pub index_entries: usize,
    pub index_ttl_seconds: u32,
    /// `adoption`: traces remembered and for how long.
    pub adoption_traces: usize,
    pub adoption_ttl_seconds: u32,
    /// `logs.max_requests`.
    pub log_requests: usize,
}

/// `limits` as sizes (see [`crate::config::Limits`] for each one's meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub request_bytes: usize,
    pub decompressed_bytes: usize,
    pub event_bytes: usize,
    pub nesting: usize,
    pub attributes_scanned: usize,
    pub links_per_span: usize,
}

impl Settings {
    /// Validates the configuration (every problem at once) and compiles it.
    pub fn new(config: &Config) -> Result<Settings, ConfigError> {
        config.validate()?;
        Ok(Settings::compile(config))
    }

    fn compile(config: &Config) -> Settings {
        let l = &config.limits;
        Settings {
            bounds: Bounds {
                request_bytes: size(l.max_request_bytes),
                decompressed_bytes: size(l.max_decompressed_bytes),
                event_bytes: size(l.max_event_bytes),
                nesting: size(l.max_nesting),
                attributes_scanned: size(l.max_attributes_scanned),
                links_per_span: size(l.max_links_per_span),
            },
            stepfn: stepfn::Options {
                include_data: config.stepfunctions.include_data,
                max_events: size(config.stepfunctions.max_events),
            },
            stepfunctions_parent: config.stepfunctions_parent(),
            event_truncate_bytes: size(config.event_attribute.truncate_bytes),
            index_entries: size(config.index.max_entries),
            index_ttl_seconds: seconds(config.index.ttl_seconds),
            adoption_traces: size(config.adoption.max_traces),
            adoption_ttl_seconds: seconds(config.adoption.ttl_seconds),
            log_requests: size(config.logs.max_requests),
            config: config.clone(),
        }
    }

    /// The configuration these settings were compiled from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The log enricher these settings describe (`logs`); one per processor.
    pub fn enricher(&self) -> crate::logs::Enricher {
        crate::logs::Enricher::new(self.log_requests)
    }
}

/// The default configuration, which is valid, compiled.
impl Default for Settings {
    fn default() -> Settings {
        Settings::compile(&Config::default())
    }
}

impl Deref for Settings {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

/// Validated ranges fit any `usize` a target has (at most 2^30); saturate all the same.
fn size(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn seconds(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
