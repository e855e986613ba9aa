//! Error values. Every message names the input and the field, so a user can find the
//! offending byte without a debugger.

use std::fmt;

/// Why an input could not be decoded. The caller passes the input through unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are not valid JSON (`input` names what was being read).
    Json {
        input: &'static str,
        message: String,
    },
    /// A required field is absent.
    MissingField { input: &'static str, field: String },
    /// A field has the wrong JSON type or an unusable value.
    InvalidField {
        input: &'static str,
        field: String,
        message: String,
    },
    /// The JSON is valid but matches no known AWS event shape.
    UnknownEvent { hint: String },
    /// Base64 that does not decode.
    Base64 {
        input: &'static str,
        field: String,
        message: String,
    },
    /// Gzip that does not inflate, or inflates past the configured bound.
    Gzip {
        input: &'static str,
        field: String,
        message: String,
    },
    /// OTLP protobuf or OTLP/JSON that does not decode.
    Otlp {
        encoding: &'static str,
        message: String,
    },
    /// The input is larger than a configured limit.
    TooLarge {
        input: &'static str,
        limit: usize,
        actual: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Json { input, message } => write!(f, "{input}: invalid json: {message}"),
            DecodeError::MissingField { input, field } => {
                write!(f, "{input}: missing field `{field}`")
            }
            DecodeError::InvalidField {
                input,
                field,
                message,
            } => {
                write!(f, "{input}: invalid field `{field}`: {message}")
            }
            DecodeError::UnknownEvent { hint } => {
                write!(f, "event: not a known aws event payload ({hint})")
            }
            DecodeError::Base64 {
                input,
                field,
                message,
            } => {
                write!(f, "{input}: field `{field}` is not valid base64: {message}")
            }
            DecodeError::Gzip {
                input,
                field,
                message,
            } => {
                write!(f, "{input}: field `{field}` is not valid gzip: {message}")
            }
            DecodeError::Otlp { encoding, message } => {
                write!(f, "otlp {encoding}: {message}")
            }
            DecodeError::TooLarge {
                input,
                limit,
                actual,
            } => {
                write!(
                    f,
                    "{input}: {actual} bytes exceeds the limit of {limit} bytes"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}
