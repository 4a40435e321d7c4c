//! Loading: TOML file, then the `DCR_BRIDGE_` environment (`__` nests), then `*_FILE`
//! indirections for secrets; unknown keys fail with the key named by figment.

use std::path::{Path, PathBuf};

use figment::providers::{Format as _, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;

use super::errors::ENV_SOURCE;
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
                let value = Value::from(content.trim().to_owned());
                figment = merge_env(figment, key, &env_key(stripped), value)?;
            } else {
                figment = merge_env(figment, key, &env_key(key), parse_env_value(value))?;
            }
        }
        let mut config: Self = figment
            .extract()
            .map_err(|e| ConfigError::from(Box::new(e)))?;
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
            if let Some(path) = &up.private_key_file {
                let content =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
                        var: format!("upstreams[{i}].private_key_file"),
                        path: path.clone(),
                        source,
                    })?;
                up.private_key_pem = Some(SecretString::from(content));
            }
        }
        self.resolve_client_secret_files()
    }
}

/// Merges one environment variable. `__` nests; a numeric segment indexes a list
/// (`DCR_BRIDGE_UPSTREAMS__0__CLIENT_ID`). figment cannot merge a table into a list (it reported
/// "found map, expected a sequence" with its internals), so for those the list is read back,
/// patched and merged whole.
fn merge_env(figment: Figment, var: &str, key: &str, value: Value) -> Result<Figment, ConfigError> {
    let segments: Vec<&str> = key.split("__").collect();
    let Some(list_at) = segments.iter().position(|s| s.parse::<usize>().is_ok()) else {
        let provider = EnvVar::new(var, Serialized::default(&segments.join("."), value));
        return Ok(figment.merge(provider));
    };
    let list_key = segments[..list_at].join(".");
    if list_key.is_empty() {
        return Err(invalid(
            var,
            "a configuration key cannot start with a list index",
        ));
    }
    let mut list = match figment.find_value(&list_key) {
        Ok(list) => list,
        Err(e) if matches!(e.kind, figment::error::Kind::MissingField(_)) => {
            return Err(invalid(
                var,
                format!(
                    "there is no `{list_key}` list to index into; define its entries in the \
                     configuration file, or set {ENV_PREFIX}{} to a whole TOML array",
                    segments[..list_at].join("__").to_ascii_uppercase()
                ),
            ));
        }
        Err(e) => return Err(ConfigError::from(Box::new(e))),
    };
    set_path(&mut list, &segments[list_at..], value)
        .map_err(|m| invalid(var, format!("`{list_key}`{m}")))?;
    Ok(figment.merge(EnvVar::new(var, Serialized::default(&list_key, list))))
}

/// Sets `path` (below a list) inside `target`; the error says what does not exist.
fn set_path(target: &mut Value, path: &[&str], value: Value) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        *target = value;
        return Ok(());
    };
    match (target, first.parse::<usize>()) {
        (Value::Array(_, items), Ok(i)) => {
            let len = items.len();
            let item = items.get_mut(i).ok_or_else(|| {
                format!(
                    " has {len} entr{} (indexes start at 0), so [{i}] does not exist",
                    if len == 1 { "y" } else { "ies" }
                )
            })?;
            set_path(item, rest, value).map_err(|m| format!("[{i}]{m}"))
        }
        (Value::Dict(_, dict), _) => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            set_path(entry, rest, value).map_err(|m| format!(".{first}{m}"))
        }
        (_, Ok(i)) => Err(format!(" is not a list, so [{i}] does not apply")),
        (_, Err(_)) => Err(format!(" is not a table, so .{first} does not apply")),
    }
}

/// A value from one environment variable, named after it so errors point at the variable
/// rather than at this source file.
struct EnvVar {
    name: String,
    data: Serialized<Value>,
}

impl EnvVar {
    fn new(var: &str, data: Serialized<Value>) -> Self {
        Self {
            name: format!("{ENV_SOURCE}{var}"),
            data,
        }
    }
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.data.data()
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
fn parse_env_value(raw: &str) -> Value {
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

fn toml_value(s: &str) -> Result<Value, Box<figment::Error>> {
    Figment::from(Toml::string(&format!("v = {s}")))
        .extract_inner::<Value>("v")
        .map_err(Box::new)
}
