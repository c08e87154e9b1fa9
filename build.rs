//! Names the commit the binary is built from, for `costlake --version`: `git rev-parse` of the
//! checkout, or "unknown commit" where there is none (a source tarball).

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|commit| !commit.is_empty())
        .unwrap_or_else(|| "unknown commit".into());
    println!("cargo:rustc-env=COSTLAKE_COMMIT={commit}");
    // A commit or a checkout moves these. Cargo runs a build script again on every build while
    // a path it watches is missing, so only those present are named.
    println!("cargo:rerun-if-changed=build.rs");
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
