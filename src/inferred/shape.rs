//! What a family of triggers decides about its span ([`Shape`]); each family module makes
//! one and [`super::family`] picks the family.

use super::attrs::Attrs;
use crate::event::{Item, Trigger};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// A family's description of the span for one trigger.
pub(crate) struct Shape {
    pub(crate) kind: SpanKind,
    pub(crate) name: String,
    /// `faas.trigger`: `http`, `pubsub`, `datasource` or `timer`.
    pub(crate) faas_trigger: &'static str,
    /// Attributes describing the whole trigger; written right after `faas.trigger`.
    pub(crate) attrs: Attrs,
    /// HTTP requests take their header context as parent whatever
    /// `parent_single_message` says, and do not link to it again.
    pub(crate) http: bool,
    /// Attributes of one item: on its links, and on the span when it is the only item.
    pub(crate) item_attrs: fn(&Trigger, &Item) -> Attrs,
}
