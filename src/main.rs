//! Thin shim over the library: parse the command line, run, print errors.

use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = dcr_bridge::cli::Cli::parse();
    match dcr_bridge::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dcr-bridge: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
