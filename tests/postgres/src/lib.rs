//! A real PostgreSQL for tests: Debian's server binaries, a cluster initialised in a temporary
//! directory, listening on a free loopback port with password (SCRAM) authentication, stopped
//! and removed when dropped. PostgreSQL refuses to run as root, so under root (CI) the cluster
//! belongs to the `postgres` user the package creates and is run as that user.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The superuser's name and password in every test cluster.
pub const SUPERUSER: &str = "opsdeck_test";
/// Not a secret: the cluster lives for one test and listens on loopback only.
pub const SUPERUSER_PASSWORD: &str = "cluster-password-for-tests";

/// A running cluster; stopped and deleted on drop.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    run_as_postgres: bool,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// A fresh cluster, or `None` (said in one line on stderr) where PostgreSQL is not
    /// installed. Under `CI` it must be: the run fails instead.
    pub fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// A fresh cluster (or `None`, as [`Cluster::start`]) that speaks TLS with the server
    /// certificate and key in these files, and refuses any connection over TCP without it.
    pub fn start_with_tls(certificate: &Path, key: &Path) -> Option<Self> {
        Self::start_with(Some((certificate, key)))
    }

    fn start_with(tls: Option<(&Path, &Path)>) -> Option<Self> {
        let Some(bin) = server_binaries() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is not installed (Debian package postgresql; `make deps` installs it) and CI is set"
            );
            eprintln!("skipped: PostgreSQL is not installed (Debian package postgresql)");
            return None;
        };
        let run_as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("opsdeck-pg-")
            .tempdir()
            .expect("a temporary directory");
        let data = dir.path().join("data");
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, SUPERUSER_PASSWORD).expect("the password file");
        if run_as_postgres {
            // The cluster's user must reach and own its directory.
            chown_to_postgres(dir.path());
            chown_to_postgres(&password_file);
        }
        let cluster = |port| Self {
            bin: bin.clone(),
            data: data.clone(),
            run_as_postgres,
            port,
            _dir: dir,
        };
        let mut cluster = cluster(0);
        cluster.run(
            "initdb",
            &[
                "--pgdata",
                path(&data),
                "--username",
                SUPERUSER,
                "--pwfile",
                path(&password_file),
                "--auth-host",
                "scram-sha-256",
                "--auth-local",
                "trust",
                "--encoding",
                "UTF8",
                "--no-instructions",
            ],
        );
        cluster.port = free_port();
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c max_connections=60",
            cluster.port,
            path(&cluster.data)
        );
        if let Some((certificate, key)) = tls {
            cluster.require_tls(certificate, key);
            options += " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key";
        }
        cluster.run(
            "pg_ctl",
            &[
                "start",
                "--pgdata",
                path(&data),
                "--wait",
                "--timeout",
                "60",
                "--silent",
                "--log",
                path(&data.join("server.log")),
                "-o",
                &options,
            ],
        );
        Some(cluster)
    }

    /// Puts the certificate and key in the data directory, the key readable by the cluster's
    /// user alone (the server refuses any other), and lets TCP clients in over TLS only.
    fn require_tls(&self, certificate: &Path, key: &Path) {
        let (certificate_copy, key_copy) =
            (self.data.join("server.crt"), self.data.join("server.key"));
        std::fs::copy(certificate, &certificate_copy).expect("the server certificate");
        std::fs::copy(key, &key_copy).expect("the server key");
        std::fs::set_permissions(&key_copy, std::fs::Permissions::from_mode(0o600))
            .expect("the key's mode");
        if self.run_as_postgres {
            chown_to_postgres(&certificate_copy);
            chown_to_postgres(&key_copy);
        }
        let rules = self.data.join("pg_hba.conf");
        let tls_only: String = std::fs::read_to_string(&rules)
            .expect("initdb's pg_hba.conf")
            .lines()
            .map(|line| match line.strip_prefix("host ") {
                Some(rest) => format!("hostssl {rest}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&rules, tls_only).expect("pg_hba.conf");
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `database` as `user`, without a password (tests hand it over as Opsdeck
    /// would: from the environment or the keychain).
    pub fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database, named uniquely in this cluster.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("opsdeck_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// Runs `sql` in `database` as the superuser, through the cluster's socket; panics with
    /// psql's words when it fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = self.run(
            "psql",
            &[
                "--host",
                path(&self.data),
                "--port",
                &self.port.to_string(),
                "--username",
                SUPERUSER,
                "--dbname",
                database,
                "--no-psqlrc",
                "--tuples-only",
                "--no-align",
                "--set",
                "ON_ERROR_STOP=1",
                "--command",
                sql,
            ],
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// `program` from the server's binaries, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let binary = self.bin.join(program);
        let mut command = if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&binary);
            command
        } else {
            Command::new(&binary)
        };
        // A working directory the cluster's user can enter.
        command.current_dir("/");
        command
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
        );
        output
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.port == 0 {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let _ = self
            .command("pg_ctl")
            .args([
                "stop",
                "--pgdata",
                path(&self.data),
                "--mode",
                "immediate",
                "--silent",
            ])
            .status();
        while self.data.join("postmaster.pid").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The directory of `initdb`, `pg_ctl` and `psql`: Debian keeps the server's out of PATH, one
/// directory a major version; the newest is taken.
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn chown_to_postgres(path: &Path) {
    let status = Command::new("chown")
        .args(["postgres:postgres", &path.display().to_string()])
        .status()
        .expect("chown");
    assert!(status.success(), "chown postgres {}", path.display());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_and_is_gone_when_dropped() {
        let Some(cluster) = Cluster::start() else {
            return;
        };
        let database = cluster.create_database();
        assert_eq!(cluster.psql(&database, "SELECT 40 + 2"), "42");
        let data = cluster.data.clone();
        drop(cluster);
        assert!(!data.exists());
    }
}
