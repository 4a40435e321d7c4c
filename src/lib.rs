//! dcr-bridge: an OAuth 2.1 authorization server that maps dynamically registered MCP clients
//! onto one pre-registered client at an enterprise IdP and issues its own audience-bound tokens.

pub mod account;
pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dev;
pub mod devidp;
pub mod gateway;
pub mod healthcheck;
pub mod http;
pub mod idp;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod seed;
pub mod store;
pub mod telemetry;
