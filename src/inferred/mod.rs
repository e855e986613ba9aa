//! PLACEHOLDER: inferred spans.
