//! costlake as a command-line tool among the others: `--version` names the commit it was built
//! from, bash completes its commands from the script `costlake completions bash` prints, and
//! the page `costlake man` prints renders with `man -l`.

use std::process::Command;

use crate::query::stdout;

fn costlake(args: &[&str]) -> String {
    stdout(
        &Command::new(env!("CARGO_BIN_EXE_costlake"))
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let head = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        costlake(&["--version"]).trim(),
        format!("costlake {} ({})", env!("CARGO_PKG_VERSION"), head.trim())
    );
}

#[test]
fn bash_completes_commands_from_the_generated_script() {
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("costlake.bash");
    std::fs::write(&script, costlake(&["completions", "bash"])).unwrap();
    // As bash calls a completion function: the words so far, the one being completed.
    let complete = |line: &str| {
        let out = Command::new("bash")
            .args([
                "-c",
                "source \"$1\"; read -ra COMP_WORDS <<< \"$2\"; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); \
                 _costlake costlake \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"; \
                 printf '%s\\n' \"${COMPREPLY[@]}\"",
                "completion",
            ])
            .arg(&script)
            .arg(line)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("costlake qu"), "query\n");
    let flags = complete("costlake changes --si");
    assert_eq!(flags, "--since\n");
}

#[test]
fn the_man_page_renders() {
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("costlake.1");
    std::fs::write(&page, costlake(&["man"])).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "NAME",
        "costlake",
        "SUBCOMMANDS",
        "costlake-query(1)",
        "costlake-changes(1)",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
}
