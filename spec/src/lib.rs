//! The requirement catalog and the protocol vocabulary shared by every crate.
//!
//! No logic lives here: only names, wire strings and the normative statements
//! (with stable IDs) that tests, models and reports refer to.

pub mod catalog;
pub mod error_code;
pub mod vocabulary;

pub use catalog::{catalog, covers, Level, Requirement};
pub use error_code::ErrorCode;
pub use vocabulary::{ClientAuthMethod, GrantType, Prompt, ResponseMode, SigningAlg};
