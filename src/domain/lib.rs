//! Domain types and rules. Nothing here does I/O: no files, no network, no database.

pub mod actions;
pub mod alerts;
pub mod delivery;
pub mod documents;
pub mod entity;
pub mod entity_ref;
pub mod freshness;
pub mod gaps;
pub mod label_selector;
pub mod links;
pub mod merge;
pub mod oncall;
pub mod org;
pub mod relations;
pub mod rollback;
pub mod runbooks;
pub mod scorecards;
pub mod suspects;
pub mod text;

pub use entity::{Entity, Link, Metadata};
pub use entity_ref::{EntityRef, RefError, DEFAULT_NAMESPACE};
pub use freshness::{Health, Quota, SyncTimes};
pub use gaps::{ownership_gaps, platform_wiring, Gap};
pub use relations::{relations_of, Relation, RelationType};
