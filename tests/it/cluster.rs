//! The lake's SQL on a Ballista cluster, through the real binary: one `costlake scheduler` and
//! two `costlake executor`s on loopback ports read a lake in Azurite (from the EA API and the
//! Cost Management APIs), and every saved query, a `focus` aggregate and `verify` answer
//! byte for byte as the single process does. An executor killed in the middle of a statement
//! ends it with a clear error or the same answer, never another; what the cluster cannot run
//! is refused in one sentence, never run here instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use costlake_emulator::DEMO_KEY;

use crate::common::start;
use crate::tools::{self, free_port};

/// A costlake process with its environment, its log in `log`, killed when dropped.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn start(args: &[&str], env: &[(&str, String)], log: PathBuf) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_costlake"));
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("costlake starts");
        Process { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Waits until something listens on `port`.
fn listening(port: u16, what: &Process) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port}:\n{}",
            what.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn costlake(args: &[&str], env: &[(&str, String)], dir: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_costlake"));
    command
        .args(args)
        .current_dir(dir)
        .env("COSTLAKE_API_KEY", DEMO_KEY);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scheduler and two executors on loopback ports, with the lake's credentials in their
/// environment (the client sends none).
struct Cluster {
    url: String,
    scheduler: Process,
    executors: Vec<Option<Process>>,
    work: Vec<PathBuf>,
}

impl Cluster {
    fn start(env: &[(&str, String)], dir: &Path) -> Cluster {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let scheduler = Process::start(
            &["scheduler", "--bind", &bind],
            env,
            dir.join("scheduler.log"),
        );
        listening(port, &scheduler);
        let mut executors = Vec::new();
        let mut work = Vec::new();
        for n in 1..=2 {
            let own = free_port();
            let work_dir = dir.join(format!("executor-{n}"));
            let executor = Process::start(
                &[
                    "executor",
                    "--scheduler",
                    &bind,
                    "--bind",
                    &format!("127.0.0.1:{own}"),
                    "--concurrency",
                    "2",
                    "--work-dir",
                    &work_dir.display().to_string(),
                ],
                env,
                dir.join(format!("executor-{n}.log")),
            );
            listening(own, &executor);
            executors.push(Some(executor));
            work.push(work_dir);
        }
        Cluster {
            url: format!("df://{bind}"),
            scheduler,
            executors,
            work,
        }
    }

    fn logs(&self) -> String {
        let mut all = format!("scheduler:\n{}", self.scheduler.log());
        for (n, e) in self.executors.iter().enumerate() {
            if let Some(e) = e {
                all += &format!("\nexecutor {}:\n{}", n + 1, e.log());
            }
        }
        all
    }
}

/// The same command here and on the cluster: both succeed with the same output, which is
/// returned.
fn same_on_cluster(args: &[&str], cluster: &Cluster, env: &[(&str, String)], dir: &Path) -> String {
    let here = text(&costlake(args, env, dir));
    let mut remote = args.to_vec();
    remote.extend(["--cluster", &cluster.url]);
    let there = text(&costlake(&remote, env, dir));
    assert_eq!(here.0, Some(0), "{args:?} in this process: {}", here.2);
    assert_eq!(
        there.0,
        Some(0),
        "{args:?} on the cluster: {}\n{}",
        there.2,
        cluster.logs()
    );
    assert_eq!(here.1, there.1, "{args:?}: the cluster answered otherwise");
    here.1
}

fn saved_queries() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".sql").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

// Multi-threaded: the emulator keeps serving while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_saved_query_answers_the_same_on_a_cluster() {
    let azurite = tools::azurite();
    tools::azurite_container(&azurite, "finops");
    let env = tools::azurite_env(&azurite);
    let dir = tempfile::tempdir().unwrap();
    let lake = "az://finops/lake";

    // A lake from the EA API and the Cost Management APIs (with reservations and balances),
    // signed in as the emulator's service principal: the three months up to this one.
    let emu = start(crate::cost_management::config(1500)).await;
    let base = emu.base_url();
    let sync = costlake(
        &[
            "sync",
            "--enrollment",
            "100",
            "--api-base",
            &base,
            "--lake",
            lake,
            "--quiet",
        ],
        &env,
        dir.path(),
    );
    tools::stdout_of("costlake sync", &sync);
    let mut signed_in = env.clone();
    signed_in.extend(emu.sign_in_env());
    let sync = costlake(
        &[
            "sync",
            "--billing-account",
            "100",
            "--arm-base",
            &base,
            "--lake",
            lake,
            "--settle-days",
            "0",
            "--quiet",
        ],
        &signed_in,
        dir.path(),
    );
    tools::stdout_of("costlake sync --billing-account", &sync);

    let cluster = Cluster::start(&env, dir.path());

    let mut answered = 0;
    for name in saved_queries() {
        let out = same_on_cluster(
            &["query", &name, "--lake", lake, "--format", "csv"],
            &cluster,
            &env,
            dir.path(),
        );
        if out.lines().count() > 1 {
            answered += 1;
        }
    }
    // Equal answers prove little if they are empty.
    assert!(
        answered >= saved_queries().len() - 3,
        "only {answered} saved queries returned rows"
    );

    let focus = same_on_cluster(
        &[
            "sql",
            "--lake",
            lake,
            "--format",
            "csv",
            "SELECT \"x_BillingPeriod\", \"x_SourceDataset\", count(*) AS charges, sum(\"BilledCost\") AS billed, \
             sum(\"EffectiveCost\") AS effective FROM focus GROUP BY 1, 2 ORDER BY 1, 2",
        ],
        &cluster,
        &env,
        dir.path(),
    );
    assert!(focus.lines().count() >= 4, "{focus}");
    let verify = same_on_cluster(&["verify", "--lake", lake], &cluster, &env, dir.path());
    assert!(verify.contains("reconcile exactly"), "{verify}");

    // Both executors did work: each wrote shuffle files.
    for work in &cluster.work {
        let files = crate::common::files_under(work);
        assert!(!files.is_empty(), "{} holds nothing", work.display());
    }

    refused_and_shown(&cluster, &env, lake, dir.path());
    an_executor_killed_mid_statement(cluster, &env, lake, dir.path());
}

/// What the cluster cannot run is said in one sentence, the shell says where statements run,
/// and `cluster` in costlake.toml is the default.
fn refused_and_shown(cluster: &Cluster, env: &[(&str, String)], lake: &str, dir: &Path) {
    let out = text(&costlake(
        &[
            "sql",
            "--lake",
            lake,
            "--cluster",
            &cluster.url,
            "SELECT * FROM history.changes",
        ],
        env,
        dir,
    ));
    assert_eq!(out.0, Some(1), "{}", out.2);
    assert_eq!(
        out.2.trim(),
        "costlake: the cluster runs statements over the lake's files, and `history.changes` lives only in this process; run the statement without --cluster"
    );

    let mut shell = Command::new(env!("CARGO_BIN_EXE_costlake"));
    shell
        .args(["--lake", lake, "--cluster", &cluster.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        shell.env(k, v);
    }
    let mut child = shell.spawn().unwrap();
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"\\cluster\n\\q\n").unwrap();
    }
    let out = text(&child.wait_with_output().unwrap());
    assert!(
        out.1.contains(&format!(
            "Statements run on the cluster at {}.",
            cluster.url
        )),
        "{}{}",
        out.1,
        out.2
    );

    // costlake.toml names the cluster: the same refusal shows it is used.
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("costlake.toml"),
        format!("lake = \"{lake}\"\ncluster = \"{}\"\n", cluster.url),
    )
    .unwrap();
    let out = text(&costlake(
        &["sql", "SELECT * FROM history.changes"],
        env,
        &project,
    ));
    assert!(out.2.contains("lives only in this process"), "{}", out.2);

    // A scheduler that is not there, said plainly.
    let port = free_port();
    let out = text(&costlake(
        &[
            "sql",
            "--lake",
            lake,
            "--cluster",
            &format!("df://127.0.0.1:{port}"),
            "SELECT 1",
        ],
        env,
        dir,
    ));
    assert_eq!(out.0, Some(1));
    assert!(
        out.2.contains(&format!(
            "cannot reach the cluster's scheduler at df://127.0.0.1:{port}: nothing listens there"
        )),
        "{}",
        out.2
    );
}

/// One executor killed while a statement runs: the statement ends with the same answer or
/// with costlake's error, and the remaining executor answers the next one exactly.
fn an_executor_killed_mid_statement(
    mut cluster: Cluster,
    env: &[(&str, String)],
    lake: &str,
    dir: &Path,
) {
    let args = ["query", "tag_coverage", "--lake", lake, "--format", "csv"];
    let here = text(&costlake(&args, env, dir));
    assert_eq!(here.0, Some(0), "{}", here.2);

    let mut remote = Command::new(env!("CARGO_BIN_EXE_costlake"));
    remote
        .args(args)
        .args(["--cluster", &cluster.url])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        remote.env(k, v);
    }
    let running = remote.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let killed = cluster.executors[0].take().unwrap();
    drop(killed);
    let there = text(&running.wait_with_output().unwrap());
    match there.0 {
        Some(0) => assert_eq!(here.1, there.1, "a wrong answer after an executor left"),
        _ => assert!(
            there.2.contains("the cluster stopped the statement"),
            "{}\n{}",
            there.2,
            cluster.logs()
        ),
    }

    let again = same_on_cluster(
        &[
            "query",
            "monthly_summary",
            "--lake",
            lake,
            "--format",
            "csv",
        ],
        &cluster,
        env,
        dir,
    );
    assert!(again.lines().count() > 1, "{again}");
}
