//! Debian's Chromium, headless, driven through ChromeDriver's W3C WebDriver API on a loopback
//! port (`tests/setup.sh` installs both): open a page, run a script in it, read its console,
//! take a screenshot. Chromium starts with the flags that keep it off the network: the page
//! under test is a local file, and nothing else may load.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::tools::{Server, free_port, require_program};

pub const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium's flags: headless, no sandbox (the tests may run as root), and no background
/// connections, which this machine's closed network refuses.
pub fn chromium_flags(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1200,1600",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// One browser session.
pub struct Browser {
    // Dropped last: the session is closed first.
    _driver: Server,
    _profile: tempfile::TempDir,
    base: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Browser {
    pub fn open() -> Browser {
        require_program(CHROMIUM);
        require_program(CHROMEDRIVER);
        costlake::http::install_crypto_provider();
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command.arg(format!("--port={port}"));
        let driver = Server::start(command, port, "chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            base: driver.url(),
            _driver: driver,
            client: reqwest::Client::new(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
            _profile: profile,
        };
        let session = browser.call(
            reqwest::Method::POST,
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": chromium_flags(browser._profile.path()),
                },
                "goog:loggingPrefs": {"browser": "ALL"},
            }}}),
        );
        let id = session["sessionId"].as_str().unwrap().to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut reply: Value = self.runtime.block_on(async {
            let mut request = self.client.request(method, &url);
            if !body.is_null() {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            response.json().await.unwrap()
        });
        let value = reply["value"].take();
        assert!(value.get("error").is_none(), "WebDriver {path}: {}", value);
        value
    }

    /// Opens a file in the browser.
    pub fn open_file(&self, file: &Path) {
        let url = format!("file://{}", file.canonicalize().unwrap().display());
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// The console's messages since the last call: (level, message).
    pub fn console(&self) -> Vec<(String, String)> {
        let entries = self.call(reqwest::Method::POST, "/se/log", json!({"type": "browser"}));
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or("").to_string(),
                    e["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// The window as a PNG image.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let text = self.call(reqwest::Method::GET, "/screenshot", Value::Null);
        base64::engine::general_purpose::STANDARD
            .decode(text.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = self.base.clone();
        let client = self.client.clone();
        let _ = self
            .runtime
            .block_on(async move { client.delete(url).send().await });
    }
}
