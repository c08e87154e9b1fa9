//! The outside tools some tests run beside costlake, installed (pinned) into `.test-tools/` by
//! `tests/setup.sh`: a Python venv (DuckDB, pyarrow, pandas, pyspark, moto, the Azure SDK) and
//! Azurite. Missing tools fail the test with the command that installs them; nothing is skipped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn tools_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".test-tools")
}

fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `tests/setup.sh` (or `tests/run`, which runs it) to install the pinned test tools",
        path.display()
    );
    path
}

/// A program the system's packages install (`tests/setup.sh` installs them with apt).
pub fn require_program(path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    assert!(
        path.exists(),
        "{} is missing: run `tests/setup.sh` (or `tests/run`), which installs Debian's chromium, chromium-driver and poppler-utils",
        path.display()
    );
    path
}

/// The test venv's Python.
pub fn python() -> PathBuf {
    require(tools_dir().join("venv/bin/python"))
}

/// Runs `python -c CODE ARGS…` in the test venv; panics with its stderr when it fails.
pub fn run_python(code: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    stdout_of("python", &out)
}

pub fn stdout_of(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process on a loopback port, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(mut command: Command, port: u16, what: &str) -> Server {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{what} exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "{what} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Azurite's blob service, in memory.
pub fn azurite() -> Server {
    let bin = require(tools_dir().join("node/node_modules/.bin/azurite-blob"));
    let port = free_port();
    let mut command = Command::new(bin);
    command.args([
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--silent",
    ]);
    Server::start(command, port, "Azurite")
}

/// Azurite's well-known development account (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The environment that points costlake's `az://` URLs at `server`.
pub fn azurite_env(server: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
        ("AZURITE_BLOB_STORAGE_URL", server.url()),
    ]
}

/// Creates a container in Azurite (object_store writes blobs but does not make containers).
pub fn azurite_container(server: &Server, name: &str) {
    run_python(
        "import sys\nfrom azure.storage.blob import BlobServiceClient\n\
         cs = f'DefaultEndpointsProtocol=http;AccountName={sys.argv[2]};AccountKey={sys.argv[3]};BlobEndpoint={sys.argv[1]}/{sys.argv[2]};'\n\
         BlobServiceClient.from_connection_string(cs).create_container(sys.argv[4])",
        &[&server.url(), AZURITE_ACCOUNT, AZURITE_KEY, name],
    );
}

/// moto's S3-compatible server.
pub fn moto() -> Server {
    let port = free_port();
    let mut command = Command::new(python());
    command.args([
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    Server::start(command, port, "moto")
}

/// Creates a bucket in moto.
pub fn moto_bucket(server: &Server, name: &str) {
    run_python(
        "import sys, boto3\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         s3.create_bucket(Bucket=sys.argv[2])",
        &[&server.url(), name],
    );
}

/// The FOCUS validator's verdict on one file: its rule counts and each failing rule's line.
#[derive(Debug)]
pub struct FocusVerdict {
    pub passed: u32,
    pub skipped: u32,
    /// Rule id → the validator's line for it.
    pub failed: std::collections::BTreeMap<String, String>,
    pub output: String,
}

/// Runs the FinOps Foundation's `focus-validator` (FOCUS 1.2 rules, the ones bundled with the
/// pinned release, no download) on a Parquet file. It exits 0 whatever it finds, so the verdict
/// is read from its report: the `Total: … | Pass: … | Fail: … | Skipped: …` line and one
/// `❌ RULE: FAIL` line per failing rule, which must agree.
pub fn focus_validator(file: &std::path::Path) -> FocusVerdict {
    let bin = require(tools_dir().join("focus-venv/bin/focus-validator"));
    let package = require(tools_dir().join("focus-run/focus_validator"));
    // It opens `focus_validator/rules/currency_codes.csv` relative to its working directory
    // and writes its log there: a folder per run.
    let run = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(package, run.path().join("focus_validator")).unwrap();
    let out = Command::new(bin)
        .args([
            "--block-download",
            "--validate-version",
            "1.2",
            "--show-violations",
        ])
        .arg("--data-file")
        .arg(file)
        .current_dir(run.path())
        .output()
        .unwrap();
    let output = stdout_of("focus-validator", &out);
    let count = |label: &str| -> u32 {
        let line = output
            .lines()
            .find(|l| l.trim_start().starts_with("Total:"))
            .unwrap_or_else(|| panic!("no totals in the validator's report:\n{output}"));
        line.split('|')
            .find_map(|part| part.trim().strip_prefix(label))
            .and_then(|n| n.trim_start_matches(':').trim().parse().ok())
            .unwrap_or_else(|| panic!("no {label} count in {line}"))
    };
    let failed: std::collections::BTreeMap<String, String> = output
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("❌ ")?;
            let (id, _) = rest.split_once(": FAIL")?;
            Some((id.to_string(), l.trim().to_string()))
        })
        .collect();
    let verdict = FocusVerdict {
        passed: count("Pass"),
        skipped: count("Skipped"),
        failed,
        output: output.clone(),
    };
    assert_eq!(
        count("Fail") as usize,
        verdict.failed.len(),
        "the failing rules listed and counted differ:\n{output}"
    );
    verdict
}
