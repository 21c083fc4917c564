//! `PgServer`: a throwaway PostgreSQL server for tests (feature `pg-test-server`), started
//! from the system's server binaries on a temp dir, listening on 127.0.0.1 on a free port,
//! with password authentication over TCP (so a wrong password really fails).
//!
//! As root (the server refuses to run as root) the server runs as the `postgres` user through
//! `runuser`, on a temp dir handed to that user. It never skips: when it cannot start, it
//! panics saying why. One server per test binary ([`PgServer::shared`]) and one database per
//! test ([`PgServer::url`]) keep tests fast and apart. A watchdog process stops the server and
//! removes its directory when the test process exits (a `static` server is never dropped).

use crate::postgres::{PgUrl, SslMode};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The role tests connect as (owner of the databases [`PgServer::url`] creates).
pub const ROLE: &str = "automl_test";
/// Its password.
pub const PASSWORD: &str = "pw-Owner-3q9";
/// A role with no DDL rights (see [`PgServer::worker_url`]).
pub const WORKER_ROLE: &str = "automl_worker";
/// Its password.
pub const WORKER_PASSWORD: &str = "pw-Worker-8z2";
const SUPERUSER_PASSWORD: &str = "pw-Super-5k1";

/// A running PostgreSQL server on a temp dir. Dropping it stops the server.
pub struct PgServer {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    as_postgres: bool,
    next_db: AtomicU64,
    admin: Mutex<Option<postgres::Client>>,
    watchdog: Mutex<Option<Child>>,
    tls: bool,
}

/// The directory of the server binaries: /usr/lib/postgresql/15/bin, else `pg_config
/// --bindir`, else the newest /usr/lib/postgresql/*/bin.
fn find_bindir() -> PathBuf {
    let v15 = PathBuf::from("/usr/lib/postgresql/15/bin");
    if v15.join("postgres").exists() {
        return v15;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("postgres").exists() {
            return p;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "PgServer: no PostgreSQL server binaries (looked in /usr/lib/postgresql/*/bin and `pg_config --bindir`); install the postgresql package"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("PgServer: cannot find a free port on 127.0.0.1: {e}"))
}

fn run(mut cmd: Command, what: &str, log: Option<&Path>) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("PgServer: cannot run {what}: {e}"));
    if !out.status.success() {
        let log = log
            .and_then(|l| std::fs::read_to_string(l).ok())
            .map(|s| {
                let lines: Vec<&str> = s.lines().collect();
                lines[lines.len().saturating_sub(20)..].join("\n")
            })
            .unwrap_or_default();
        panic!(
            "PgServer: {what} failed ({}):\n{}{}\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl PgServer {
    /// The server of this test binary, started on first use.
    pub fn shared() -> &'static PgServer {
        static SERVER: OnceLock<PgServer> = OnceLock::new();
        SERVER.get_or_init(PgServer::start)
    }

    /// initdb and start a new server without TLS. Panics (never skips) when it cannot.
    pub fn start() -> PgServer {
        PgServer::start_inner(false)
    }

    /// As [`PgServer::start`], with TLS on: a self-signed certificate for `localhost` and
    /// 127.0.0.1 (made with the `openssl` command), whose file [`PgServer::root_cert`] gives.
    pub fn start_with_tls() -> PgServer {
        PgServer::start_inner(true)
    }

    /// The certificate of a TLS server (to pass as `sslrootcert`).
    pub fn root_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    fn start_inner(tls: bool) -> PgServer {
        let bindir = find_bindir();
        let tmp = tempfile::Builder::new()
            .prefix("automl-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("PgServer: cannot create a temp dir: {e}"));
        let dir = tmp.path().to_path_buf();
        let as_postgres = is_root();
        std::fs::create_dir(dir.join("sock")).unwrap();
        std::fs::write(dir.join("pw"), SUPERUSER_PASSWORD).unwrap();
        if tls {
            let mut c = Command::new("openssl");
            c.args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("server.key"))
            .arg("-out")
            .arg(dir.join("server.crt"));
            run(c, "openssl req (the test server's certificate)", None);
            let mut c = Command::new("chmod");
            c.arg("600").arg(dir.join("server.key"));
            run(c, "chmod of the server key", None);
        }
        if as_postgres {
            let mut c = Command::new("chown");
            c.args(["-R", "postgres:"]).arg(&dir);
            run(c, "chown of the temp dir to postgres", None);
        }
        let server = PgServer {
            dir,
            _tmp: tmp,
            bindir,
            port: free_port(),
            as_postgres,
            next_db: AtomicU64::new(0),
            admin: Mutex::new(None),
            watchdog: Mutex::new(None),
            tls,
        };
        let mut c = server.pg_cmd("initdb");
        c.arg("-D")
            .arg(server.data())
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .arg(format!("--pwfile={}", server.dir.join("pw").display()));
        run(c, "initdb", None);
        server.start_again();
        server.spawn_watchdog();
        server.admin(|c| {
            c.batch_execute(&format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}';
                 CREATE ROLE {WORKER_ROLE} LOGIN PASSWORD '{WORKER_PASSWORD}';"
            ))
        });
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// A command running a server binary as the user that may run the server.
    fn pg_cmd(&self, prog: &str) -> Command {
        let exe = self.bindir.join(prog);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.stdin(Stdio::null());
        c
    }

    fn pg_ctl(&self, action: &str) -> Command {
        let mut c = self.pg_cmd("pg_ctl");
        c.arg("-D").arg(self.data()).args(["-w", "-t", "60"]);
        if action == "start" {
            let mut opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                self.port,
                self.dir.join("sock").display()
            );
            if self.tls {
                opts.push_str(&format!(
                    " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                    self.root_cert().display(),
                    self.dir.join("server.key").display()
                ));
            }
            c.arg("-l").arg(self.log()).arg("-o").arg(opts);
        } else {
            c.args(["-m", "fast"]);
        }
        c.arg(action);
        c
    }

    /// Stop the server and remove its directory when this process exits, whatever way.
    fn spawn_watchdog(&self) {
        let stop = format!(
            "{}'{}' -D '{}' -m immediate stop",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            self.bindir.join("pg_ctl").display(),
            self.data().display()
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = self.dir.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("PgServer: cannot start the watchdog: {e}"));
        *self.watchdog.lock().unwrap() = Some(child);
    }

    /// Run `f` on a superuser connection to the `postgres` database.
    fn admin<T>(&self, f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>) -> T {
        let mut g = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|c| c.is_closed()) {
            let c = postgres::Config::new()
                .host("127.0.0.1")
                .port(self.port)
                .user("postgres")
                .password(SUPERUSER_PASSWORD)
                .dbname("postgres")
                .connect(postgres::NoTls)
                .unwrap_or_else(|e| panic!("PgServer: cannot connect as the superuser: {e}"));
            *g = Some(c);
        }
        let c = g.as_mut().unwrap();
        f(c).unwrap_or_else(|e| panic!("PgServer: admin statement failed: {e:?}"))
    }

    /// The TCP port (the Unix socket in [`PgServer::socket_dir`] has the same number).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the server's Unix socket (local connections are trusted, no password).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// A URL of this server for `user`/`password` and database `db` (TLS off: the server has none).
    pub fn url_for(&self, user: &str, password: &str, db: &str) -> PgUrl {
        PgUrl::parse(&format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        ))
        .unwrap()
        .with_sslmode(SslMode::Disable)
    }

    /// A fresh, empty database owned by [`ROLE`], and its URL (as [`ROLE`]).
    pub fn url(&self) -> PgUrl {
        self.create_database()
    }

    /// Create a fresh, empty database owned by [`ROLE`]; its URL (as [`ROLE`]).
    pub fn create_database(&self) -> PgUrl {
        let name = format!(
            "automl_t{}_{}",
            std::process::id(),
            self.next_db.fetch_add(1, Ordering::SeqCst)
        );
        self.admin(|c| c.batch_execute(&format!("CREATE DATABASE {name} OWNER {ROLE}")));
        self.url_for(ROLE, PASSWORD, &name)
    }

    /// The URL of `db` (a URL from [`PgServer::url`]) for [`WORKER_ROLE`], granted what
    /// docs/distributed.md grants a worker on every table that exists now: SELECT, INSERT and
    /// UPDATE, no DELETE and no DDL (it cannot create, alter or empty tables).
    pub fn worker_url(&self, db: &PgUrl) -> PgUrl {
        let name = db.dbname().expect("a database URL");
        let mut c = db.config();
        c.ssl_mode(postgres::config::SslMode::Disable);
        let mut owner = c
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("PgServer: cannot connect to {db}: {e}"));
        owner
            .batch_execute(&format!(
                "GRANT CONNECT ON DATABASE {name} TO {WORKER_ROLE};
                 GRANT USAGE ON SCHEMA public TO {WORKER_ROLE};
                 GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {WORKER_ROLE};"
            ))
            .unwrap_or_else(|e| panic!("PgServer: grants to the worker role failed: {e:?}"));
        self.url_for(WORKER_ROLE, WORKER_PASSWORD, name)
    }

    /// Stop the server (fast shutdown: connections are closed).
    pub fn stop(&self) {
        *self.admin.lock().unwrap_or_else(|p| p.into_inner()) = None;
        run(self.pg_ctl("stop"), "pg_ctl stop", Some(&self.log()));
    }

    /// Start the stopped server again on the same directory and port.
    pub fn start_again(&self) {
        run(self.pg_ctl("start"), "pg_ctl start", Some(&self.log()));
    }

    /// Stop and start again.
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        *self.admin.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let _ = self.pg_ctl("stop").output();
        if let Some(mut w) = self
            .watchdog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}
