//! Logging setup: `RUST_LOG`-style filter from `DCR_BRIDGE_LOG` (default `info`), text or JSON.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls are no-ops (tests call it repeatedly).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("DCR_BRIDGE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
