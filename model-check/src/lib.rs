//! Model checking of the real engine with stateright: every transition calls the engine over a
//! store rebuilt from the model state (`store::ModelStore`: serializable transactions that can
//! conflict and fail), with a deterministic clock and random source.

pub mod combined;
pub mod model;
pub mod report;
pub mod store;
pub mod world;

pub use model::{Bounds, OidcModel, Scenario};
