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
    // A commit or a checkout moves these.
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-changed=.git/packed-refs");
}
