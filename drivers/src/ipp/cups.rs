//! A private CUPS scheduler on loopback, for tests, benchmarks and the sim profile: its own
//! configuration, spool and state under one directory, a random port, and a cups-pdf queue (the
//! real IPP endpoint the protocols note describes). Dropped, it stops the scheduler.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct CupsServer {
    root: PathBuf,
    port: u16,
    child: Child,
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// Whether this machine has the CUPS scheduler and the cups-pdf backend.
pub fn available() -> Result<(), String> {
    for (what, p) in [
        ("cupsd (Debian package cups-daemon)", tool("cupsd")),
        ("lpadmin (cups-client)", tool("lpadmin")),
        (
            "the cups-pdf backend (printer-driver-cups-pdf)",
            PathBuf::from("/usr/lib/cups/backend/cups-pdf"),
        ),
    ] {
        if !p.exists() {
            return Err(format!("{what} is not installed"));
        }
    }
    Ok(())
}

const PPD: &str = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd";

impl CupsServer {
    /// Starts `cupsd -f` with everything under `root`.
    pub fn start(root: &Path) -> io::Result<CupsServer> {
        available().map_err(io::Error::other)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        for d in ["spool", "tmp", "cache", "state", "log"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        // cupsd resolves ServerRoot and the other paths itself: they must be absolute.
        let root = &root.canonicalize()?;
        use std::os::unix::fs::PermissionsExt;
        // Filters run as the lp user: they need to reach the tree and write temporary files.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
        std::fs::write(
            root.join("cupsd.conf"),
            format!(
                "Listen 127.0.0.1:{port}\nLogLevel info\nWebInterface No\nBrowsing No\n\
                 DefaultAuthType None\nMaxJobs 0\nPreserveJobHistory Yes\n\
                 <Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
                 <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
            ),
        )?;
        let r = root.display();
        std::fs::write(
            root.join("cups-files.conf"),
            format!(
                "ServerRoot {r}\nStateDir {r}/state\nCacheDir {r}/cache\nRequestRoot {r}/spool\n\
                 TempDir {r}/tmp\nErrorLog {r}/log/error_log\nAccessLog {r}/log/access_log\n\
                 PageLog {r}/log/page_log\nPrintcap {r}/printcap\nFileDevice Yes\n\
                 ServerBin /usr/lib/cups\nDataDir /usr/share/cups\n"
            ),
        )?;
        let mut cmd = Command::new(tool("cupsd"));
        cmd.arg("-f")
            .arg("-c")
            .arg(root.join("cupsd.conf"))
            .arg("-s")
            .arg(root.join("cups-files.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The scheduler must not outlive the terminal, however the terminal ends.
        let child = kiosk_hal::child::spawn_tied(cmd)?;
        let mut server = CupsServer {
            root: root.to_path_buf(),
            port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(io::Error::other(format!(
                    "cupsd exited with {status}; see {}/log/error_log",
                    root.display()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(
                    "cupsd did not start listening within 15 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn uri(&self, printer: &str) -> String {
        format!("ipp://127.0.0.1:{}/printers/{printer}", self.port)
    }

    /// Adds an enabled queue that prints through cups-pdf (or, without root, to /dev/null
    /// through the same PPD's filters), and returns its IPP URI.
    pub fn add_printer(&self, name: &str) -> io::Result<String> {
        let device = if nix::unistd::geteuid().is_root() {
            "cups-pdf:/"
        } else {
            // Backends that are not world-executable (cups-pdf) only run for a root scheduler.
            "file:///dev/null"
        };
        self.admin(
            "lpadmin",
            &[
                "-p",
                name,
                "-E",
                "-v",
                device,
                "-m",
                PPD,
                "-o",
                "printer-error-policy=abort-job",
            ],
        )?;
        Ok(self.uri(name))
    }

    /// Stops a queue as an operator would (`cupsdisable`): jobs wait, the printer says why.
    pub fn stop_printer(&self, name: &str, reason: &str) -> io::Result<()> {
        self.admin("cupsdisable", &["-r", reason, name])
    }

    pub fn start_printer(&self, name: &str) -> io::Result<()> {
        self.admin("cupsenable", &[name])
    }

    fn admin(&self, tool_name: &str, args: &[&str]) -> io::Result<()> {
        let out = Command::new(tool(tool_name))
            .arg("-h")
            .arg(self.host())
            .args(args)
            .output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{tool_name} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.root.join("log/error_log")).unwrap_or_default()
    }
}

impl Drop for CupsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
