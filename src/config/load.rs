//! Loading: TOML file, then the `DCR_BRIDGE_` environment (`__` nests), then `*_FILE`
//! indirections for secrets; unknown keys fail with the key named by figment.

use std::path::{Path, PathBuf};

use figment::providers::{Format as _, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;

use super::{invalid, Config, ConfigError, ENV_PREFIX};

impl Config {
    /// Loads configuration from an optional TOML file and the process environment.
    ///
    /// # Errors
    /// Syntax errors, unknown keys, unreadable `*_FILE` secrets and invalid values.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Config::load`], with the environment passed in (tests).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        let mut figment = Figment::new();
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        // The environment snapshot is merged key by key (not through figment's `Env`, which
        // reads the live process environment) so that tests are hermetic. Keys the program
        // itself uses (config path, log filter, test settings) are not configuration keys.
        for (key, value) in &env {
            if is_reserved_env(key) {
                continue;
            }
            if let Some(stripped) = key.strip_suffix("_FILE") {
                let path = PathBuf::from(value);
                let content =
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                        var: key.clone(),
                        path: path.clone(),
                        source,
                    })?;
                let dotted = env_key(stripped).replace("__", ".");
                figment = figment.merge(Serialized::default(&dotted, content.trim().to_owned()));
            } else {
                let dotted = env_key(key).replace("__", ".");
                figment = figment.merge(Serialized::default(&dotted, parse_env_value(value)));
            }
        }
        let mut config: Self = figment.extract().map_err(Box::new)?;
        config.resolve_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        for (i, up) in self.upstreams.iter_mut().enumerate() {
            if let Some(path) = &up.client_secret_file {
                if up.client_secret.is_some() {
                    return Err(invalid(
                        format!("upstreams[{i}].client_secret_file"),
                        "give client_secret or client_secret_file, not both",
                    ));
                }
                let content =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
                        var: format!("upstreams[{i}].client_secret_file"),
                        path: path.clone(),
                        source,
                    })?;
                up.client_secret = Some(SecretString::from(content.trim().to_owned()));
            }
        }
        self.resolve_client_secret_files()
    }
}

fn env_key(var: &str) -> String {
    var.trim_start_matches(ENV_PREFIX).to_ascii_lowercase()
}

/// Variables under our prefix that are not configuration keys.
fn is_reserved_env(var: &str) -> bool {
    let k = env_key(var);
    k == "config" || k == "log" || k.starts_with("test_")
}

/// Environment values are strings; let `true`, numbers and TOML arrays keep their type.
fn parse_env_value(raw: &str) -> figment::value::Value {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') {
        if let Ok(v) = toml_value(trimmed) {
            return v;
        }
    }
    match trimmed {
        "true" => return true.into(),
        "false" => return false.into(),
        _ => {}
    }
    if let Ok(n) = trimmed.parse::<i64>() {
        return n.into();
    }
    raw.to_owned().into()
}

fn toml_value(s: &str) -> Result<figment::value::Value, Box<figment::Error>> {
    Figment::from(Toml::string(&format!("v = {s}")))
        .extract_inner::<figment::value::Value>("v")
        .map_err(Box::new)
}
