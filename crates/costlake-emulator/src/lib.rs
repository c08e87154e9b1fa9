//! A faithful local emulator of the Azure billing APIs that costlake reads, behind one
//! deterministic synthetic enrollment (`generator`): the EA Reporting API on a loopback port
//! (routes from the library's endpoint table, bearer-key auth, the service's error bodies,
//! ETags and 304s, gzip, `nextLink` paging, injected faults and its own Swagger document), and
//! Cost Management export trees written into a folder or container (`exports`). Rows are
//! generated as they are requested, so any page of a ten-million-row period comes with flat
//! memory and the same request always returns the same bytes.
//!
//! It depends on the `costlake` library (its schema and model); the library never depends on
//! it. The CLI's `emulate` and `demo` use it, and so do the tests and benchmarks.

mod arm;
mod body;
mod config;
pub mod exports;
pub mod generator;
mod paging;
mod render;
mod routes;
pub mod swagger;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use tokio::sync::oneshot;

pub use config::{
    ArmConfig, DEFAULT_PAGE_SIZE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FEDERATED_TOKEN,
    DEMO_IDENTITY_HEADER, DEMO_KEY, DEMO_TENANT, EmulatorConfig, Fault, FaultConfig,
};
pub use costlake::model::PeriodId;
pub use generator::{Enrollment, EnrollmentSpec};

/// One request as the emulator saw it, for tests.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query as sent.
    pub uri: String,
    /// Whether an `Authorization` header was present.
    pub had_authorization: bool,
    /// When the request arrived.
    pub at: std::time::Instant,
    pub if_none_match: Option<String>,
    pub status: u16,
}

const MAX_LOGGED_REQUESTS: usize = 200_000;

pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) enrollment: Enrollment,
    pub(crate) attempts: Mutex<HashMap<String, u32>>,
    pub(crate) scripted: Mutex<Vec<(String, Fault)>>,
    pub(crate) log: Mutex<Vec<RequestRecord>>,
    pub(crate) arm: arm::State,
}

/// A running emulator bound to a loopback port.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Starts the emulator on an ephemeral loopback port.
    pub async fn start(config: EmulatorConfig) -> io::Result<Emulator> {
        Emulator::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn bind(config: EmulatorConfig, addr: SocketAddr) -> io::Result<Emulator> {
        let enrollment = Enrollment::new(config.spec());
        let shared = Arc::new(Shared {
            config,
            enrollment,
            attempts: Mutex::default(),
            scripted: Mutex::default(),
            log: Mutex::default(),
            arm: arm::State::default(),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Emulator {
            shared,
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the value for `--api-base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn enrollment(&self) -> &Enrollment {
        &self.shared.enrollment
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// Answers the next `times` requests whose path contains `path_contains` (case-insensitive)
    /// with `fault`.
    pub fn inject(&self, fault: Fault, path_contains: &str, times: usize) {
        let mut scripted = self.shared.scripted.lock().expect("fault lock");
        for _ in 0..times {
            scripted.push((path_contains.to_ascii_lowercase(), fault));
        }
    }

    /// The environment a client needs to sign in to the emulated tenant with its service
    /// principal and reach the emulated management host.
    pub fn sign_in_env(&self) -> Vec<(&'static str, String)> {
        let arm = &self.shared.config.arm;
        vec![
            ("AZURE_AUTHORITY_HOST", self.base_url()),
            ("AZURE_TENANT_ID", arm.tenant.clone()),
            ("AZURE_CLIENT_ID", arm.client_id.clone()),
            ("AZURE_CLIENT_SECRET", arm.client_secret.clone()),
        ]
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().expect("log lock").clone()
    }

    pub fn clear_requests(&self) {
        self.shared.log.lock().expect("log lock").clear();
    }

    /// Stops accepting connections and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until the task ends (Ctrl-C handling is the caller's).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// The largest request body read: token forms and report requests are a few hundred bytes.
const MAX_REQUEST_BODY: usize = 1 << 20;

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let at = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let uri = parts.uri.to_string();
    let headers = parts.headers.clone();
    let response = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(body) => match arm::route(&shared, &parts, &headers, &body).await {
            Some(response) => response,
            None => routes::route(&shared, &parts, &headers).await,
        },
        Err(_) => routes::error(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large.",
        ),
    };
    let mut log = shared.log.lock().expect("log lock");
    if log.len() < MAX_LOGGED_REQUESTS {
        log.push(RequestRecord {
            method,
            uri,
            had_authorization: headers.contains_key(header::AUTHORIZATION),
            at,
            if_none_match: headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            status: response.status().as_u16(),
        });
    }
    response
}
