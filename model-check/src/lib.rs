//! Model checking of the real engine with stateright: every transition calls the engine over a
//! MemStore rebuilt from the model state, with a deterministic clock and random source.

pub mod model;
pub mod report;
pub mod world;

pub use model::{Bounds, OidcModel, Scenario};
