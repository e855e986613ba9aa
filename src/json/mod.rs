//! JSON helpers every reader of input JSON shares: [`strict`] parsing (duplicate keys are
//! errors) and typed [`fields`] that name the field in every error.

pub(crate) mod fields;
pub(crate) mod strict;
