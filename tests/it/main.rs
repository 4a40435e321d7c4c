#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod admin;
mod admin_cli;
mod cimd;
mod cli;
mod client_auth;
mod client_emulations;
mod conformance;
mod discovery;
mod flows;
mod gateway;
mod hostile;
mod interop;
mod interop_mcp_remote;
mod interop_python;
mod interop_v2;
mod introspection;
mod policy;
mod prerequisites;
mod rate_limit;
mod redteam; // REDTEAM: security review regression tests
mod registration;
mod request_id;
mod static_clients;
mod store_contract;
mod support;
mod token_bindings;
