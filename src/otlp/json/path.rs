//! Field paths for OTLP/JSON errors (`resourceSpans[0].scopeSpans[1].spans[3].traceId`).
//!
//! A path is a chain of borrowed links built on the stack as the decoder descends, so a
//! successful decode allocates nothing for it; it is rendered only when an error occurs.

use crate::error::DecodeError;
use std::fmt;

/// Where the decoder is in the request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub(crate) fn field(&'a self, name: &'static str) -> Path<'a> {
        Path::Field(self, name)
    }

    pub(crate) fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }

    /// An OTLP/JSON decode error at this path.
    pub(crate) fn error(&self, message: impl fmt::Display) -> DecodeError {
        let at = self.to_string();
        let at = if at.is_empty() {
            "request"
        } else {
            at.as_str()
        };
        DecodeError::Otlp {
            encoding: "json",
            message: format!("{at}: {message}"),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}
