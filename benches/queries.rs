//! Every shipped saved query over a generated lake (three periods of usage from the emulator,
//! synced once before timing starts), executed through the same session as `costlake query`.

use std::collections::HashMap;

use costlake::engine::{BUILTIN, Session};
use costlake::http::ApiKey;
use costlake::model::Dataset;
use costlake::source::SyncSettings;
use costlake::source::ea_api::SyncOptions;
use costlake_emulator::{DEMO_KEY, Emulator, EmulatorConfig, PeriodId};
use criterion::{Criterion, criterion_group, criterion_main};

/// Usage rows per period (`COSTLAKE_BENCH_ROWS` overrides).
fn rows() -> u64 {
    std::env::var("COSTLAKE_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200_000)
}

async fn lake(dir: &std::path::Path) {
    costlake::http::install_crypto_provider();
    let emu = Emulator::start(EmulatorConfig {
        periods: 3,
        last_period: Some(PeriodId(202403)),
        rows_per_period: rows(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let report = costlake::source::ea_api::sync(
        &SyncOptions {
            enrollment: 100,
            api_base: emu.base_url(),
            key: ApiKey::new(DEMO_KEY).unwrap(),
            settings: SyncSettings {
                jobs: 2,
                ..SyncSettings::new(dir.display().to_string(), Dataset::ALL.to_vec())
            },
        },
        &costlake::source::Silent,
    )
    .await
    .unwrap();
    assert!(report.ok());
    emu.stop().await;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(lake(dir.path()));
    let session = rt
        .block_on(Session::open(&dir.path().display().to_string(), None))
        .unwrap();
    let mut group = c.benchmark_group("saved_query");
    group.sample_size(10);
    for (name, _) in BUILTIN {
        let q = session.saved(name).unwrap();
        let params: HashMap<_, _> = rt.block_on(session.bind(&q, &[])).unwrap();
        group.bench_function(*name, |b| {
            b.iter(|| rt.block_on(session.collect(&q.sql, &params)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
