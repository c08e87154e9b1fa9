//! The ingest side of `benches/compare.sh`: the same usage JSON through costlake's decode and
//! Parquet path (exactly what `sync` runs on each page), or through serde_json alone (the floor).
//!
//! ```text
//! cargo run --release --example ingest_json -- generate ROWS usage.json   # from the emulator
//! cargo run --release --example ingest_json -- costlake usage.json LAKE_DIR
//! cargo run --release --example ingest_json -- parse usage.json
//! ```
//! Each mode prints one JSON line: `{"rows": N, "bytes": B, "seconds": S}`.

use std::io::{Read, Write};
use std::time::Instant;

use costlake::decode::{DecodeError, ParallelDecoder, RowFormat, RowScanner};
use costlake::lake::Lake;
use costlake::model::Dataset;
use costlake::model::PartitionKey;
use costlake_emulator::{DEMO_KEY, Emulator, EmulatorConfig, PeriodId};

/// Rows per decoded chunk and Parquet batch, as in `sync`.
const BATCH_ROWS: usize = 8192;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let (rows, bytes) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", rows, out] => generate(rows.parse().expect("ROWS"), out).await,
        ["costlake", input, lake] => costlake_ingest(input, lake).await,
        ["parse", input] => parse_only(input),
        _ => {
            eprintln!("usage: ingest_json generate ROWS OUT | costlake IN LAKE | parse IN");
            std::process::exit(2);
        }
    };
    println!(
        "{{\"rows\": {rows}, \"bytes\": {bytes}, \"seconds\": {:.3}}}",
        started.elapsed().as_secs_f64()
    );
}

/// One period of `rows` v3 usage rows from the emulator, every page's rows spliced into one
/// JSON array.
async fn generate(rows: u64, out: &str) -> (u64, u64) {
    costlake::http::install_crypto_provider();
    let emu = Emulator::start(EmulatorConfig {
        periods: 1,
        last_period: Some(PeriodId(202401)),
        rows_per_period: rows,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut url = Some(format!(
        "{}/v3/enrollments/100/billingPeriods/202401/usagedetails",
        emu.base_url()
    ));
    let (mut written, mut bytes) = (0u64, 1u64);
    file.write_all(b"[").unwrap();
    while let Some(u) = url.take() {
        let page = client
            .get(&u)
            .header("Authorization", format!("bearer {DEMO_KEY}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut scanner = RowScanner::new();
        scanner
            .feed::<DecodeError>(&page, |row| {
                if written > 0 {
                    file.write_all(b",\n").unwrap();
                    bytes += 2;
                }
                file.write_all(row).unwrap();
                bytes += row.len() as u64;
                written += 1;
                Ok(())
            })
            .unwrap();
        url = scanner.next_link().unwrap();
    }
    file.write_all(b"]\n").unwrap();
    emu.stop().await;
    (written, bytes + 2)
}

/// The file read in 1 MiB chunks, rows decoded into Arrow batches (in parallel, as `sync`
/// does) and written as one Parquet partition: `sync`'s path without the network.
async fn costlake_ingest(input: &str, lake_dir: &str) -> (u64, u64) {
    let lake = Lake::open(lake_dir, true).await.unwrap();
    let key = PartitionKey {
        dataset: Dataset::UsageDetails,
        account: "100".into(),
        cost_type: None,
        period: Some(PeriodId(202401)),
    };
    let mut writer = lake.writer(&key).unwrap();
    let mut decoder = ParallelDecoder::with_format(
        Dataset::UsageDetails,
        RowFormat::JsonArray,
        BATCH_ROWS,
        writer.memory(),
    );
    let mut file = std::fs::File::open(input).unwrap();
    let mut chunk = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut chunk).unwrap();
        let last = n == 0;
        bytes += n as u64;
        decoder.feed_array(&chunk[..n]).unwrap();
        writer.write_decoded(&mut decoder, last).await.unwrap();
        if last {
            break;
        }
    }
    let written = writer.finish().await.unwrap();
    (written.rows, bytes)
}

/// The floor: serde_json parsing every byte of the file (into nothing).
fn parse_only(input: &str) -> (u64, u64) {
    let text = std::fs::read(input).unwrap();
    let rows: Vec<serde::de::IgnoredAny> = serde_json::from_slice(&text).unwrap();
    (rows.len() as u64, text.len() as u64)
}
