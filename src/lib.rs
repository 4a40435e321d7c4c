//! dcr-bridge: an OAuth 2.1 authorization server that maps dynamically registered MCP clients
//! onto one pre-registered client at an enterprise IdP and issues its own audience-bound tokens.

pub mod clock;
pub mod config;
pub mod devidp;
pub mod idp;
pub mod oauth;
pub mod store;
pub mod telemetry;
