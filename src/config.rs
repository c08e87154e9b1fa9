//! Settings that may come from flags, the environment or `costlake.toml` (in that order of
//! precedence), and the API key, which comes only from `COSTLAKE_API_KEY` or a key file.

use std::collections::HashMap;
use std::path::Path;

/// The settings file read from the working directory.
pub const CONFIG_FILE: &str = "costlake.toml";
pub const ENV_API_KEY: &str = "COSTLAKE_API_KEY";
pub const ENV_LAKE: &str = "COSTLAKE_LAKE";
pub const DEFAULT_LAKE: &str = "./costlake-data";

/// Keys `costlake.toml` may set.
const KNOWN_KEYS: &[&str] = &[
    "lake",
    "enrollment",
    "api_base",
    "api_key_file",
    "jobs",
    "settle_days",
    "datasets",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error(
        "no API key: set COSTLAKE_API_KEY or pass --api-key-file FILE (an enrollment key from the Azure portal: Cost Management + Billing → Usage + Charges → Manage API Access Keys)"
    )]
    NoKey,
}

/// The flat `key = value` settings of `costlake.toml` (strings quoted, numbers bare, `#`
/// comments). Unknown keys are an error so that a typo does not pass silently.
#[derive(Debug, Default, Clone)]
pub struct FileSettings {
    values: HashMap<String, String>,
}

impl FileSettings {
    /// Reads `costlake.toml` from `dir` if there is one.
    pub fn load(dir: &Path) -> Result<FileSettings, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => FileSettings::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileSettings::default()),
            Err(e) => Err(ConfigError::Read(path.display().to_string(), e)),
        }
    }

    pub fn parse(text: &str, file: &str) -> Result<FileSettings, ConfigError> {
        let mut values = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let err = |message: String| ConfigError::Syntax {
                file: file.to_string(),
                line: i + 1,
                message,
            };
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('[') {
                return Err(err(
                    "sections are not used; write plain `key = value` lines".into(),
                ));
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| err(format!("expected `key = value`, found `{line}`")))?;
            let key = key.trim();
            if !KNOWN_KEYS.contains(&key) {
                return Err(err(format!(
                    "unknown setting `{key}`; known: {}",
                    KNOWN_KEYS.join(", ")
                )));
            }
            let value = value.trim();
            let value = if let Some(inner) = value.strip_prefix('"') {
                inner
                    .strip_suffix('"')
                    .ok_or_else(|| err("unterminated string".into()))?
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
            } else if let Some(inner) = value.strip_prefix('[') {
                // A list of strings: ["a", "b"] → a,b
                let inner = inner
                    .strip_suffix(']')
                    .ok_or_else(|| err("unterminated list".into()))?;
                inner
                    .split(',')
                    .map(|s| s.trim().trim_matches('"'))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                value.to_string()
            };
            values.insert(key.to_string(), value);
        }
        Ok(FileSettings { values })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The lake location: the flag, else `COSTLAKE_LAKE`, else `lake` in the file, else
/// `./costlake-data`.
pub fn lake_location(flag: Option<&str>, file: &FileSettings) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var(ENV_LAKE).ok().filter(|s| !s.is_empty()))
        .or_else(|| file.get("lake").map(str::to_string))
        .unwrap_or_else(|| DEFAULT_LAKE.to_string())
}

/// The API key: the key file (flag, else file setting), else `COSTLAKE_API_KEY`.
pub fn api_key(key_file: Option<&Path>, file: &FileSettings) -> Result<String, ConfigError> {
    let key_file = key_file
        .map(Path::to_path_buf)
        .or_else(|| file.get("api_key_file").map(Into::into));
    if let Some(path) = key_file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::Read(path.display().to_string(), e))?;
        return Ok(text.trim().to_string());
    }
    std::env::var(ENV_API_KEY)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or(ConfigError::NoKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_settings() {
        let s = FileSettings::parse("# comment\nlake = \"/data/lake\" # where\nenrollment = 100\ndatasets = [\"usage_details\", \"price_sheet\"]\n", "t").unwrap();
        assert_eq!(s.get("lake"), Some("/data/lake"));
        assert_eq!(s.get("enrollment"), Some("100"));
        assert_eq!(s.get("datasets"), Some("usage_details,price_sheet"));
    }

    #[test]
    fn typos_are_errors() {
        let err = FileSettings::parse("lkae = 1", "costlake.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("costlake.toml:1") && err.contains("unknown setting `lkae`"),
            "{err}"
        );
        assert!(FileSettings::parse("lake = \"x", "t").is_err());
    }
}
