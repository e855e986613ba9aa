//! PLACEHOLDER: OTLP codecs.
