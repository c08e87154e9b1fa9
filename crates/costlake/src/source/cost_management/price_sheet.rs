//! A month's EA price sheet through the Cost Management download into `export_price_sheet`:
//! `POST …/billingPeriods/{yyyyMM}/…/pricesheets/default/download`, its operation polled
//! ([`lro`](super::lro)) to `{status, properties: {downloadUrl, validTill}}` (or the MCA shape
//! `{downloadUrl, expiryTime}`), then the link's ZIP, fetched with no `Authorization` header,
//! whose CSV files go one at a time through the CSV reader `ingest` uses. An entry that would
//! inflate past [`MAX_INFLATION`] times its compressed size is refused as a bomb; a link that
//! has expired asks for the download again.

use std::io::Read;

use serde::Deserialize;

use super::super::exports::csv::{CsvPart, read_stream};
use super::super::exports::csv::{INFLATION_FLOOR, MAX_INFLATION};
use super::super::{Fetched, UnitContext, UnitError};
use super::lro::Status;
use super::report::MAX_REPORTS;
use super::{COST_DETAILS_API_VERSION, CostManagement};
use crate::http::{Answer, HttpError, Reply};
use crate::model::Dataset;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Download {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    properties: Option<Link>,
    /// The MCA answer puts the link at the top.
    #[serde(default)]
    download_url: Option<String>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Link {
    #[serde(default)]
    download_url: Option<String>,
}

/// The link of a finished download; `None` while it runs.
fn finished(reply: &Reply) -> Result<Option<String>, UnitError> {
    let d: Download = serde_json::from_slice(&reply.body).map_err(|e| {
        format!("the price sheet operation's answer is not what the API sends: {e}")
    })?;
    let link = d.properties.and_then(|p| p.download_url).or(d.download_url);
    // The MCA answer may carry the link with no status: that is a finished download.
    let status = match (d.status.as_deref(), &link) {
        (None, Some(_)) => Status::Completed,
        (status, _) => Status::of(status),
    };
    match (status, link) {
        (Status::Failed, _) => Err(format!(
            "the service could not make the price sheet: {}",
            d.error.map(|e| e.to_string()).unwrap_or_default()
        )
        .into()),
        (Status::Completed, Some(link)) => Ok(Some(link)),
        (Status::Completed, None) => {
            Err("the price sheet operation completed without a download link".into())
        }
        (Status::Running, _) => Ok(None),
        (Status::NoData | Status::Unknown, _) => Err(format!(
            "the price sheet operation has a status costlake does not know: {}",
            d.status.unwrap_or_default()
        )
        .into()),
    }
}

pub(super) async fn price_sheet(
    src: &CostManagement,
    closed: bool,
    ctx: &mut UnitContext<'_>,
) -> Result<Fetched, UnitError> {
    let period = ctx.key.period.expect("price sheets are per month");
    let url = src.url(
        &format!(
            "{}/{}/{period}/{}",
            src.scope(),
            super::routes::BILLING_PERIODS,
            super::routes::PRICE_SHEET_DOWNLOAD
        ),
        COST_DETAILS_API_VERSION,
    )?;
    for _ in 0..MAX_REPORTS {
        let Some(link) = super::lro::run(src, ctx, &url, None, finished).await? else {
            ctx.warn(format!(
                "{}: the API has no price sheet for {period}",
                ctx.key
            ));
            return Ok(Fetched::Kept);
        };
        let link = reqwest::Url::parse(&link)
            .map_err(|e| format!("{}: the price sheet link is not a URL ({e})", ctx.key))?;
        let zip = match src.blobs.get_bytes(&link, None, &mut ctx.retries).await {
            Ok(Answer::Body { body, .. }) => body,
            Ok(Answer::NotModified) => return Err("304 to a plain GET of the price sheet".into()),
            // A SAS link past its expiry: ask for the download again.
            Err(HttpError::Unauthorized { .. }) => {
                ctx.retries += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut writer = ctx.writer()?;
        // Held whole while its entries are read; the unit holds nothing else of the budget yet.
        writer.pin(writer.memory().reserve(zip.len() as u64).await);
        match read_zip(&zip, &mut writer).await {
            Ok(rounded) => {
                let file = writer.finish().await?;
                return Ok(super::written(
                    file,
                    rounded,
                    None,
                    COST_DETAILS_API_VERSION,
                    closed,
                ));
            }
            Err(e) => {
                writer.abort().await;
                return Err(format!("{}: {e}", ctx.key).into());
            }
        }
    }
    Err(format!(
        "{}: {MAX_REPORTS} price sheet links expired before they could be read",
        ctx.key
    )
    .into())
}

/// Reads every CSV file of the ZIP into the writer, in the archive's order.
async fn read_zip(zip: &[u8], writer: &mut crate::lake::PartitionWriter) -> Result<u64, UnitError> {
    let count = archive(zip)?.len();
    let mut header: Option<Vec<String>> = None;
    let mut rounded = 0;
    for i in 0..count {
        // One entry in memory at a time; the archive is opened again for each (its directory
        // is small), so nothing borrowed from it lives across an await.
        let Some((name, data)) = entry(zip, i)? else {
            continue;
        };
        let csv = CsvPart {
            dataset: Dataset::ExportPriceSheet,
            file: &name,
            gzip: false,
            header: header.as_deref(),
        };
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(data))]);
        let read = read_stream(stream, &csv, writer).await?;
        rounded += read.rounded;
        header = read.header;
    }
    Ok(rounded)
}

fn archive(zip: &[u8]) -> Result<zip::ZipArchive<std::io::Cursor<&[u8]>>, UnitError> {
    zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| format!("the price sheet is not a ZIP archive: {e}").into())
}

/// Entry `i` of the ZIP if it is a CSV file: its name and inflated bytes.
fn entry(zip: &[u8], i: usize) -> Result<Option<(String, Vec<u8>)>, UnitError> {
    let mut archive = archive(zip)?;
    let mut file = archive
        .by_index(i)
        .map_err(|e| format!("entry {i} of the price sheet ZIP: {e}"))?;
    let name = file
        .name()
        .map_err(|e| format!("entry {i} of the price sheet ZIP has no readable name: {e}"))?
        .into_owned();
    if file.is_dir() || !name.to_ascii_lowercase().ends_with(".csv") {
        return Ok(None);
    }
    let limit = INFLATION_FLOOR.max(MAX_INFLATION * file.compressed_size());
    let mut data = Vec::new();
    (&mut file)
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("{name} in the price sheet ZIP: {e}"))?;
    if data.len() as u64 > limit {
        return Err(format!(
            "{name} in the price sheet ZIP inflates more than {MAX_INFLATION} times its size; refused as a decompression bomb"
        )
        .into());
    }
    Ok(Some((name, data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(name, options).unwrap();
        zip.write_all(data).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_bomb_is_refused_and_a_price_sheet_read() {
        let bomb = zip_of("prices.csv", &vec![b'a'; 40 << 20]);
        assert!(bomb.len() < 200 << 10, "{}", bomb.len());
        let err = entry(&bomb, 0).unwrap_err().to_string();
        assert!(err.contains("decompression bomb"), "{err}");
        let sheet = zip_of("prices.csv", b"MeterId,UnitPrice\nm,1.5\n");
        let (name, data) = entry(&sheet, 0).unwrap().unwrap();
        assert_eq!(
            (name.as_str(), data.as_slice()),
            ("prices.csv", &b"MeterId,UnitPrice\nm,1.5\n"[..])
        );
        assert!(entry(&zip_of("readme.txt", b"x"), 0).unwrap().is_none());
        assert!(archive(b"not a zip").is_err());
    }
}
