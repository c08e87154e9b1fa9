//! One writer per lake. `sync` and `ingest` hold a lease for their whole run: on a local disk
//! an advisory lock on `_costlake/writer.lock` (the kernel drops it when the process dies, so
//! a killed writer never blocks the next), on an object store a `_costlake/lease.json` object
//! created only if absent and renewed only if unchanged (conditional writes with ETags), with
//! an expiry that a heartbeat keeps ahead, so the lease of a killed writer lapses by itself.
//! A second writer exits with a sentence that names the holder. The manifest's own updates
//! are compare-and-swap as well ([`super::manifest`]), so even a writer that lost its lease
//! never loses another's entry; it stops before its next commit.

use std::io::{Read, Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use super::manifest::STATE_DIR;
use super::{Lake, LakeError};

/// How long an object-store lease lasts without a heartbeat: long enough for a slow store,
/// short enough that a killed writer's lake is free again within a minute.
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// How often a held lease is renewed: three chances before it lapses.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Who holds a lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub command: String,
    pub pid: u32,
    pub host: String,
    pub since: DateTime<Utc>,
    /// When an object-store lease lapses unless renewed.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`costlake {}` (process {} on {}) since {}",
            self.command,
            self.pid,
            self.host,
            self.since.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

impl Holder {
    fn me(command: &str) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "an unnamed host".into());
        Holder {
            command: command.to_string(),
            pid: std::process::id(),
            host,
            since: Utc::now(),
            expires: None,
        }
    }
}

/// The task renewing an object-store lease, stopped when the lease is given back or dropped.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A held lease: released when dropped (the lock) or by [`Lease::release`] (the object).
pub struct Lease {
    held: Held,
    lost: Arc<AtomicBool>,
}

enum Held {
    /// The locked file: the lock lasts as long as it is open.
    Local { _lock: std::fs::File },
    Object {
        heartbeat: Heartbeat,
        lake: Box<Lake>,
        version: Arc<tokio::sync::Mutex<UpdateVersion>>,
    },
}

fn lease_path() -> Path {
    Path::from(format!("{STATE_DIR}/lease.json"))
}

/// Reads of a locked file's holder, 5 ms apart, before the message names no one.
const HOLDER_READS: u32 = 20;

impl Lake {
    /// Takes the lake for `command`'s run, or says who has it.
    pub async fn lease(&self, command: &str) -> Result<Lease, LakeError> {
        let me = Holder::me(command);
        let held = match &self.local_root {
            Some(root) => Held::Local {
                _lock: self.lock_local(root, &me)?,
            },
            None => self.lease_object(me).await?,
        };
        Ok(Lease {
            held,
            lost: self.lease_lost.clone(),
        })
    }

    fn lock_local(&self, root: &std::path::Path, me: &Holder) -> Result<std::fs::File, LakeError> {
        let err = |e: std::io::Error| LakeError::Location {
            location: self.location.clone(),
            message: format!("cannot lock it for writing: {e}"),
        };
        let dir = root.join(STATE_DIR);
        std::fs::create_dir_all(&dir).map_err(err)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("writer.lock"))
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder writes its name just after it takes the lock: a file read in
                // between is empty, so read again for a moment before naming no one.
                let mut holder = None;
                for _ in 0..HOLDER_READS {
                    let mut text = String::new();
                    file.rewind().map_err(err)?;
                    file.read_to_string(&mut text).map_err(err)?;
                    holder = serde_json::from_str::<Holder>(&text).ok();
                    if holder.is_some() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                let holder =
                    holder.map_or_else(|| "another costlake process".into(), |h| h.to_string());
                return Err(self.busy(holder));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        file.set_len(0).map_err(err)?;
        file.rewind().map_err(err)?;
        file.write_all(&serde_json::to_vec(me).expect("holder serializes"))
            .map_err(err)?;
        Ok(file)
    }

    fn busy(&self, holder: String) -> LakeError {
        LakeError::Busy {
            location: self.location.clone(),
            holder,
        }
    }

    async fn lease_object(&self, mut me: Holder) -> Result<Held, LakeError> {
        let path = lease_path();
        me.expires = Some(Utc::now() + LEASE_TTL);
        let body = |h: &Holder| PutPayload::from(serde_json::to_vec(h).expect("serializes"));
        let created = self
            .store
            .put_opts(&path, body(&me), PutMode::Create.into())
            .await;
        let result = match created {
            Err(object_store::Error::AlreadyExists { .. }) => {
                // Someone holds it, or held it and died: take it over only if it lapsed, and
                // only if it is still the lease read here.
                let got = self.store.get(&path).await.map_err(|e| self.store_err(e))?;
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let bytes = got.bytes().await.map_err(|e| self.store_err(e))?;
                let holder: Option<Holder> = serde_json::from_slice(&bytes).ok();
                if let Some(h) = &holder
                    && h.expires.is_some_and(|t| t > Utc::now())
                {
                    return Err(self.busy(h.to_string()));
                }
                self.store
                    .put_opts(&path, body(&me), PutMode::Update(version).into())
                    .await
            }
            other => other,
        };
        let put = match result {
            Ok(put) => put,
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => return Err(self.busy("another costlake process, just now".into())),
            Err(e) => return Err(self.store_err(e)),
        };
        let version = Arc::new(tokio::sync::Mutex::new(UpdateVersion {
            e_tag: put.e_tag,
            version: put.version,
        }));
        let heartbeat = {
            let (lake, version) = (self.clone(), version.clone());
            Heartbeat(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    me.expires = Some(Utc::now() + LEASE_TTL);
                    let mut held = version.lock().await;
                    let renewed = lake
                        .store
                        .put_opts(&path, body(&me), PutMode::Update(held.clone()).into())
                        .await;
                    match renewed {
                        Ok(put) => {
                            *held = UpdateVersion {
                                e_tag: put.e_tag,
                                version: put.version,
                            }
                        }
                        Err(e) => {
                            tracing::warn!("the lake's lease could not be renewed: {e}");
                            lake.lease_lost.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            }))
        };
        Ok(Held::Object {
            heartbeat,
            lake: Box::new(self.clone()),
            version,
        })
    }

    /// The error for a commit after the lease lapsed.
    pub(super) fn check_lease(&self) -> Result<(), LakeError> {
        if self.lease_lost.load(Ordering::SeqCst) {
            return Err(self.busy(
                "another writer: this run's lease lapsed (the store did not take its renewal)"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl Lease {
    /// Gives the lake back: the object-store lease is deleted if it is still this one.
    pub async fn release(self) {
        if let Held::Object {
            heartbeat,
            lake,
            version,
        } = self.held
        {
            drop(heartbeat);
            let path = lease_path();
            let ours = version.lock().await.e_tag.clone();
            if let Ok(meta) = lake.store.head(&path).await
                && meta.e_tag == ours
                && !self.lost.load(Ordering::SeqCst)
            {
                let _ = lake.store.delete(&path).await;
            }
        }
    }
}
