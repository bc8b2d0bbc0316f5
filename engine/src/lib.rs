//! A deterministic, sans-IO OpenID Connect / OAuth 2 protocol engine.
//!
//! Inputs are typed requests plus an [`Env`] (the time and a random source); outputs are typed
//! outcomes the HTTP adapter renders. No clock, OS randomness, network or disk is touched here:
//! all state goes through a [`Store`] transaction.

pub mod activation;
pub mod admin;
pub mod audit;
pub mod authorize;
pub mod claims_request;
pub mod client;
pub mod client_auth;
pub mod client_keys;
pub mod code;
pub mod config;
pub mod consent;
pub mod cors;
pub mod engine;
pub mod env;
pub mod error;
pub mod fixtures;
pub mod grant;
pub mod introspect;
pub mod jose;
pub mod logout;
pub mod mutants;
pub mod organization;
pub mod password;
pub mod pkce;
pub mod provisioning;
pub mod purge;
pub mod redirect;
pub mod refresh;
pub mod registration;
pub mod resource;
pub mod revoke;
pub mod scope;
pub mod secret;
pub mod session;
pub mod signing;
pub mod store;
pub mod tenant;
pub mod token;
pub mod tokens;
pub mod user;
pub mod userinfo;

pub use authorize::{AuthorizationRequest, AuthorizeOutcome, ConsentPage, LoginOutcome, LoginPage, NewSession};
pub use client::{ClientRecord, ClientSpec};
pub use client_auth::ClientCredentials;
pub use config::EngineConfig;
pub use engine::Engine;
pub use env::{Env, RandomSource, SeededRandom, UnixTime};
pub use error::{EngineError, ProtocolError, Result};
pub use redirect::{RedirectResponse, RedirectTarget};
pub use store::{MemStore, Store};
pub use tenant::{Branding, TenantRecord};
pub use user::{UserProfile, UserRecord};
