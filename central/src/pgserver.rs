//! A private PostgreSQL server for tests and benchmarks: `initdb` into a directory of its own,
//! `pg_ctl start` on a random loopback port, trust authentication for the `hallkit` role, and
//! a fresh database per caller. Debian's `postgresql` package provides the binaries; as root
//! the server runs as the `postgres` user, since PostgreSQL refuses to run as root.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    databases: AtomicUsize,
}

/// The newest installed PostgreSQL's binary directory.
pub fn find_binaries() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (Debian package postgresql)".to_string())?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn checked(out: Output, what: &str) -> io::Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        )))
    }
}

impl PgServer {
    /// Creates and starts a server under `dir` (which must be empty or absent).
    pub fn start(dir: &Path) -> io::Result<PgServer> {
        let bin = find_binaries().map_err(io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        let as_postgres = nix::unistd::geteuid().is_root();
        if as_postgres {
            checked(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir)
                    .output()?,
                "chown",
            )?;
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let server = PgServer {
            dir: dir.to_path_buf(),
            bin,
            port,
            as_postgres,
            databases: AtomicUsize::new(0),
        };
        let data = dir.join("data");
        checked(
            server
                .tool("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "hallkit", "-E", "UTF8", "--no-sync"])
                .output()?,
            "initdb",
        )?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            dir.display()
        );
        checked(
            server
                .tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-o", &opts, "-l"])
                .arg(dir.join("server.log"))
                .args(["-w", "-t", "60", "start"])
                .output()?,
            "pg_ctl start",
        )?;
        Ok(server)
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database and its URL.
    pub fn database(&self) -> io::Result<String> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("hallkit_{n}");
        let mut c = postgres::Client::connect(
            &format!("postgres://hallkit@127.0.0.1:{}/postgres", self.port),
            postgres::NoTls,
        )
        .map_err(io::Error::other)?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(io::Error::other)?;
        Ok(format!("postgres://hallkit@127.0.0.1:{}/{name}", self.port))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
