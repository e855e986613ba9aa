//! JSON helpers every reader of input JSON shares: [`strict`] parsing (duplicate keys are
//! errors), typed [`fields`] that name the field in every error, and a [`borrowed`] tree
//! for the readers that skip the `Value`.

pub(crate) mod borrowed;
pub(crate) mod fields;
pub(crate) mod strict;
