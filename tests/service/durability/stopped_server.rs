//! A PostgreSQL server of the test's own, stopped cleanly and by a crash, between commands and
//! in the middle of a bulk invitation: commands fail with a store error and write nothing, and
//! the same `Roster` carries on once the server is back (spec: ERR-2).

use std::{
    process::{Command, Stdio},
    sync::Arc,
    time::Duration as StdDuration,
};

use orgroster::{DynStore, RecordingMailer};
use uuid::Uuid;

use crate::fixture::licensed_organization;
use crate::pg;

use super::{invite, is_backend_failure, paste, pool_user, roster_on, snapshot, spawn_bulk};

/// A PostgreSQL cluster of the test's own, in a temporary directory on a free port, so a test
/// may stop and start the server (the shared server is not ours to stop). Stopped and removed
/// on drop, whatever the test did.
#[cfg(feature = "postgres")]
struct OwnedCluster {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    /// Run the server's programs as `postgres` (they refuse to run as root).
    as_postgres: bool,
}

#[cfg(feature = "postgres")]
impl OwnedCluster {
    /// Creates and starts a cluster, or `None` when the server's programs are not installed.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .find(|bin| bin.join("initdb").exists())?;
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        let dir = std::env::temp_dir().join(format!("orgroster-cluster-{}", Uuid::now_v7()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Self {
            bin,
            dir,
            port,
            as_postgres: root,
        };
        std::fs::create_dir_all(&cluster.dir).expect("the cluster's directory");
        if root {
            // The server's files are postgres's; the directory is made by root.
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(&cluster.dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown of {}", cluster.dir.display());
        }
        let initdb = cluster.bin.join("initdb");
        cluster.run(
            &initdb.to_string_lossy(),
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.start_server();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data()
        );
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        self.pg_ctl(&[
            "-D",
            &self.data(),
            "-l",
            &log,
            "-o",
            &options,
            "-w",
            "start",
        ]);
    }

    /// Stops the server: `fast` (clients cut off, a clean shutdown) or `immediate` (a crash:
    /// recovery from the WAL at the next start).
    fn stop_server(&self, mode: &str) {
        self.pg_ctl(&["-D", &self.data(), "-m", mode, "-w", "stop"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = self.bin.join("pg_ctl");
        self.run(&pg_ctl.to_string_lossy(), args);
    }

    /// `program` as the user the server's programs run as.
    fn command(&self, program: &str) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("the server's programs run");
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[cfg(feature = "postgres")]
impl Drop for OwnedCluster {
    fn drop(&mut self) {
        // Not `stop_server`: a drop must not panic, whatever state the server is in.
        let pg_ctl = self.bin.join("pg_ctl");
        let _ = self
            .command(&pg_ctl.to_string_lossy())
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// spec: ERR-2 — the database server itself goes away, cleanly and by a crash, between
/// commands and in the middle of a bulk invitation: every command meanwhile fails with a store
/// error and writes nothing, a commit is whole or absent, and once the server is back the same
/// `Roster` (no restart of the host) carries on.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_stopped_server_fails_commands_and_the_host_carries_on_when_it_is_back() {
    if pg::url().is_none() {
        eprintln!("skipped: set {} to run it", pg::URL_VAR);
        return;
    }
    let Some(cluster) = tokio::task::spawn_blocking(OwnedCluster::start)
        .await
        .expect("starting a cluster")
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI: the PostgreSQL server programs (initdb, pg_ctl) are not installed"
        );
        eprintln!("skipped: no PostgreSQL server programs under /usr/lib/postgresql");
        return;
    };
    use std::str::FromStr as _;
    let cluster = Arc::new(cluster);
    let options =
        orgroster::sqlx::postgres::PgConnectOptions::from_str(&cluster.url()).expect("a URL");
    // A short acquire timeout: while the server is down, a command gives up after it.
    let pool = orgroster::sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(StdDuration::from_secs(2))
        .connect_with(options)
        .await
        .expect("the cluster is up");
    let store = orgroster::PostgresStore::new(pool);
    store.migrate().await.expect("migrate");
    let store: Arc<DynStore> = Arc::new(store);
    let roster = roster_on(Arc::clone(&store), RecordingMailer::new());
    let founder = pool_user(0);
    let org = licensed_organization(&roster, &founder, "Outage", None).await;
    invite(&roster, &founder, org, "before@example.com")
        .await
        .expect("the server is up");

    for mode in ["fast", "immediate"] {
        // 1. Between commands: down, every command fails, and writes nothing.
        let before = snapshot(&*store, org).await;
        let stopping = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || stopping.stop_server(mode))
            .await
            .expect("stopping the server");
        for i in 0..2 {
            let down = invite(
                &roster,
                &founder,
                org,
                &format!("down-{mode}-{i}@example.com"),
            )
            .await;
            let err = down.expect_err("no server, no commit");
            assert!(is_backend_failure(&err), "{mode}: unexpected {err:?}");
        }
        let starting = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || starting.start_server())
            .await
            .expect("starting the server");
        assert_eq!(
            snapshot(&*store, org).await,
            before,
            "ERR-2: a command against a stopped server wrote something"
        );
        invite(&roster, &founder, org, &format!("back-{mode}@example.com"))
            .await
            .expect("the server is back: the next command works");

        // 2. In the middle of a bulk invitation of 20,000: whole or absent.
        let before = snapshot(&*store, org).await;
        let bulk = paste(&format!("outage-{mode}"), 20_000);
        let task = spawn_bulk(&roster, &founder, org, bulk);
        tokio::time::sleep(StdDuration::from_millis(150)).await;
        let stopping = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || stopping.stop_server(mode))
            .await
            .expect("stopping the server");
        let result = task.await.expect("the command does not panic");
        let starting = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || starting.start_server())
            .await
            .expect("starting the server");
        let after = snapshot(&*store, org).await;
        let written = after.invitations.len() - before.invitations.len();
        match &result {
            Ok(report) => {
                assert_eq!(report.invited.len(), 20_000);
                assert_eq!(written, 20_000, "{mode}: an acknowledged commit was lost");
            }
            Err(e) => {
                assert!(is_backend_failure(e), "{mode}: unexpected {e:?}");
                assert!(
                    written == 0 || written == 20_000,
                    "ERR-2 ({mode}): {written} of 20,000 invitations written"
                );
            }
        }
        eprintln!(
            "stop ({mode}) mid-bulk: {}",
            if result.is_ok() {
                "the commit finished first"
            } else {
                "the command failed"
            }
        );
        invite(&roster, &founder, org, &format!("after-{mode}@example.com"))
            .await
            .expect("the server is back: the next command works");
    }
    drop(roster);
    drop(store);
}
