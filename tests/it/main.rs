#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod cli;
mod conformance;
mod discovery;
mod flows;
mod hostile;
mod interop;
mod interop_python;
mod interop_v2;
mod rate_limit;
mod registration;
mod store_contract;
mod support;
mod client_auth;
