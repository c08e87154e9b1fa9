//! Settings that may come from flags, the environment or `costlake.toml` in the working
//! directory (in that order of precedence), and the API key, which comes only from
//! `COSTLAKE_API_KEY` or a key file. The file is TOML read by the `toml` crate; a key it does
//! not know is an error, so a typo does not pass silently.

use std::path::{Path, PathBuf};

use costlake::http::Limits;
use serde::Deserialize;

/// The settings file read from the working directory.
pub const CONFIG_FILE: &str = "costlake.toml";
pub const ENV_API_KEY: &str = "COSTLAKE_API_KEY";
pub const ENV_LAKE: &str = "COSTLAKE_LAKE";
pub const DEFAULT_LAKE: &str = "./costlake-data";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error(
        "no API key: set COSTLAKE_API_KEY or pass --api-key-file FILE (an enrollment key from the Azure portal: Cost Management + Billing → Usage + Charges → Manage API Access Keys)"
    )]
    NoKey,
}

/// What `costlake.toml` may set.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub lake: Option<String>,
    pub enrollment: Option<u64>,
    pub api_base: Option<String>,
    /// The billing account `sync` reads through the Cost Management APIs.
    pub billing_account: Option<String>,
    pub arm_base: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub jobs: Option<usize>,
    /// Memory for the buffers of `sync` and `ingest`, as `--memory` takes it ("256MB").
    #[serde(default, deserialize_with = "size")]
    pub memory: Option<u64>,
    pub settle_days: Option<i64>,
    /// How many times `sync` tries a failed request again.
    pub retries: Option<u32>,
    pub datasets: Option<Vec<String>>,
    /// The most one API answer may hold, decompressed, in MiB.
    pub max_answer_mib: Option<u64>,
    /// The longest wait for the next bytes of an answer, in seconds.
    pub read_timeout_secs: Option<u64>,
    /// The Ballista cluster (`df://HOST:PORT`) that runs statements, as `--cluster`.
    pub cluster: Option<String>,
}

/// A size written as `--memory` takes it.
fn size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(d)?;
    costlake::memory::parse_size(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
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

    /// The HTTP limits, the library's defaults where the file says nothing.
    pub fn limits(&self) -> Limits {
        let defaults = Limits::default();
        Limits {
            max_answer_bytes: self
                .max_answer_mib
                .map_or(defaults.max_answer_bytes, |mib| mib << 20),
            read_timeout: self
                .read_timeout_secs
                .map_or(defaults.read_timeout, std::time::Duration::from_secs),
            ..defaults
        }
    }

    pub fn parse(text: &str, file: &str) -> Result<FileSettings, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.to_string(),
            // The crate's message spans lines (the line, a caret); the first and the reason
            // read as one sentence.
            message: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
    }
}

/// The lake location: the flag, else `COSTLAKE_LAKE`, else `lake` in the file, else
/// `./costlake-data`.
pub fn lake_location(flag: Option<&str>, file: &FileSettings) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var(ENV_LAKE).ok().filter(|s| !s.is_empty()))
        .or_else(|| file.lake.clone())
        .unwrap_or_else(|| DEFAULT_LAKE.to_string())
}

/// The API key: the key file of the flag, else `COSTLAKE_API_KEY`, else the key file
/// `costlake.toml` names.
pub fn api_key(key_file: Option<&Path>, file: &FileSettings) -> Result<String, ConfigError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_string())
            .map_err(|e| ConfigError::Read(path.display().to_string(), e))
    };
    if let Some(path) = key_file {
        return read(path);
    }
    if let Some(key) = std::env::var(ENV_API_KEY)
        .ok()
        .filter(|k| !k.trim().is_empty())
    {
        return Ok(key);
    }
    match &file.api_key_file {
        Some(path) => read(path),
        None => Err(ConfigError::NoKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings() {
        let s = FileSettings::parse("# comment\nlake = \"/data/lake\" # where\nenrollment = 100\ndatasets = [\"usage_details\", \"price_sheet\"]\n", "t").unwrap();
        assert_eq!(s.lake.as_deref(), Some("/data/lake"));
        assert_eq!(s.enrollment, Some(100));
        assert_eq!(
            s.datasets.unwrap(),
            ["usage_details".to_string(), "price_sheet".to_string()]
        );
    }

    #[test]
    fn typos_are_errors() {
        let err = FileSettings::parse("lkae = 1", "costlake.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("costlake.toml") && err.contains("line 1") && err.contains("lkae"),
            "{err}"
        );
        assert!(FileSettings::parse("lake = \"x", "t").is_err());
        assert!(FileSettings::parse("enrollment = \"many\"", "t").is_err());
    }
}
