pub mod app;
pub mod cimd_doc;
pub mod conformance;
pub mod db;
pub mod deploy;
pub mod fake_browser;
pub mod github;
pub mod install;
pub mod interop;
pub mod mcp_echo;
pub mod mcp_server;
pub mod node;
pub mod pinned_node;
pub mod prereq;
pub mod private_pg;
pub mod process;
pub mod python;
pub mod replicas;
pub mod yaml;

/// `<crate>/tests/<name>`.
pub fn tests_dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}
