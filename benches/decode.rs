//! Decoding usage pages into Arrow, and decoding plus writing Parquet: rows/s and MB/s of JSON.
//! The pages come from the emulator over loopback, once, before timing starts.

use costlake::decode::{DecodeError, RowDecoder, RowScanner};
use costlake::model::Dataset;
use costlake_emulator::{DEMO_KEY, Emulator, EmulatorConfig, PeriodId};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ROWS: u64 = 5000;

fn fetch_page() -> Vec<u8> {
    costlake::http::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let emu = Emulator::start(EmulatorConfig {
            periods: 1,
            last_period: Some(PeriodId(202401)),
            rows_per_period: ROWS,
            page_size: ROWS as usize,
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let url = format!(
            "{}/v3/enrollments/100/billingPeriods/202401/usagedetails",
            emu.base_url()
        );
        let body = reqwest::Client::new()
            .get(url)
            .header("Authorization", format!("bearer {DEMO_KEY}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        emu.stop().await;
        body.to_vec()
    })
}

fn decode(page: &[u8]) -> u64 {
    let mut decoder = RowDecoder::new(Dataset::UsageDetails);
    let mut scanner = RowScanner::new();
    let mut rows = 0;
    scanner
        .feed::<DecodeError>(page, |row| {
            decoder.push_row(row)?;
            if decoder.buffered_rows() >= 8192 {
                rows += decoder.finish().map_or(0, |b| b.num_rows() as u64);
            }
            Ok(())
        })
        .unwrap();
    rows + decoder.finish().map_or(0, |b| b.num_rows() as u64)
}

fn bench(c: &mut Criterion) {
    let page = fetch_page();
    let mut group = c.benchmark_group("usage_page");
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("decode_to_arrow_rows", |b| {
        b.iter(|| assert_eq!(decode(&page), ROWS))
    });
    group.throughput(Throughput::Bytes(page.len() as u64));
    group.bench_function("decode_to_arrow_bytes", |b| b.iter(|| decode(&page)));
    group.bench_function("decode_and_write_parquet", |b| {
        b.iter(|| {
            let mut decoder = RowDecoder::new(Dataset::UsageDetails);
            let mut scanner = RowScanner::new();
            scanner
                .feed::<DecodeError>(&page, |row| decoder.push_row(row))
                .unwrap();
            let batch = decoder.finish().unwrap();
            let mut buf = Vec::new();
            let mut writer = parquet::arrow::ArrowWriter::try_new(
                &mut buf,
                Dataset::UsageDetails.file_schema(),
                Some(costlake::lake::writer_properties(Dataset::UsageDetails)),
            )
            .unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
            buf.len()
        })
    });
    group.bench_function("parse_only_serde_json", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde_json::Value>(&page)
                .unwrap()
                .get("data")
                .map(|d| d.as_array().map(Vec::len))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
