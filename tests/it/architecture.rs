//! The layout is the architecture: the library depends on neither the emulator nor the
//! command, in its manifest or in its source; the emulator and the command depend on the
//! library.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Each workspace package's name and the names of its dependencies (every kind).
fn dependencies() -> Vec<(String, Vec<String>)> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(ROOT)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_library_depends_on_neither_the_emulator_nor_the_command() {
    let packages = dependencies();
    let deps = |name: &str| -> &Vec<String> {
        &packages
            .iter()
            .find(|(p, _)| p == name)
            .unwrap_or_else(|| panic!("no package {name} in the workspace"))
            .1
    };
    for forbidden in ["costlake-emulator", "costlake-cli"] {
        assert!(
            !deps("costlake").contains(&forbidden.to_string()),
            "the library must not depend on {forbidden}"
        );
    }
    assert!(deps("costlake-emulator").contains(&"costlake".to_string()));
    assert!(deps("costlake-cli").contains(&"costlake".to_string()));
    let library = Path::new(ROOT).join("crates/costlake/src");
    for file in rust_files(&library) {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in ["costlake_emulator", "costlake_cli"] {
            assert!(
                !text.contains(forbidden),
                "{} names {forbidden}",
                file.display()
            );
        }
    }
}

/// The library never prints: it returns reports and writes where it is told.
#[test]
fn the_library_never_prints() {
    let library = Path::new(ROOT).join("crates/costlake/src");
    for file in rust_files(&library) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for call in [
                "println!",
                "eprintln!",
                "print!(",
                "eprint!(",
                "std::io::stdout",
                "std::io::stderr",
                "dbg!",
            ] {
                assert!(
                    !code.contains(call),
                    "{}:{}: {}",
                    file.display(),
                    n + 1,
                    line.trim()
                );
            }
        }
    }
}
