//! `costlake emulate`: the emulator on a loopback port, or its export tree written out.

use std::process::ExitCode;

use costlake::lake::Lake;
use costlake_emulator::{self as emulator, Emulator, EmulatorConfig, Fault, FaultConfig};

use crate::args::EmulateArgs;

pub async fn run(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    let config = EmulatorConfig {
        enrollment: args.enrollment,
        key: args
            .key
            .clone()
            .unwrap_or_else(|| emulator::DEMO_KEY.to_string()),
        seed: args.seed,
        periods: args.periods,
        last_period: args.last_period,
        rows_per_period: args.rows_per_period,
        page_size: args.page_size,
        faults: FaultConfig {
            rate: args
                .fault_rate
                .unwrap_or(if args.faults.is_empty() { 0.0 } else { 0.1 }),
            kinds: if args.faults.is_empty() {
                Fault::ALL.to_vec()
            } else {
                args.faults
            },
            slow: std::time::Duration::from_secs(args.slow_secs),
            ..FaultConfig::default()
        },
        ..EmulatorConfig::default()
    };
    if let Some(target) = &args.exports {
        let started = std::time::Instant::now();
        let store = Lake::open(target, true).await?.store();
        let opts = emulator::exports::ExportTreeOptions {
            part_rows: args.part_rows,
            types: args.export_types.clone(),
            format: args.export_format,
            commitments: args.commitments,
            ..Default::default()
        };
        let written = emulator::exports::write_tree(&config.enrollment(), store, &opts).await?;
        println!(
            "wrote {} export runs ({} files, {:.1} MB) of enrollment {} into {target} in {:.1} s",
            written.runs,
            written.files,
            written.bytes as f64 / 1e6,
            config.enrollment,
            started.elapsed().as_secs_f64()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let emu = Emulator::bind(config, ([127, 0, 0, 1], args.port).into()).await?;
    print_banner(&emu, args.key.is_none());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = emu.wait() => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn print_banner(emu: &Emulator, show_key: bool) {
    let e = emu.enrollment();
    let base = emu.base_url();
    println!("EA Reporting API emulator listening on {base}");
    println!(
        "  enrollment {}  seed {}  {} periods ({}..{})  {} usage rows per period",
        e.spec.number,
        e.spec.seed,
        e.periods.len(),
        e.periods[0].id,
        e.periods[e.periods.len() - 1].id,
        e.spec.rows_per_period
    );
    if show_key {
        println!("  API key (demo): {}", emulator::DEMO_KEY);
    }
    println!(
        "  try: curl -H 'Authorization: bearer <key>' {base}/v2/enrollments/{}/billingperiods",
        e.spec.number
    );
    println!("  swagger: {base}/swagger/docs/v3");
    println!();
    println!(
        "Cost Management APIs and Microsoft Entra ID sign-in on the same address; a client needs:"
    );
    for (name, value) in emu.sign_in_env() {
        println!("  export {name}={value}");
    }
    println!(
        "  costlake sync --billing-account {} --arm-base {base}",
        e.spec.number
    );
}
