//! Child processes that never outlive the terminal.
//!
//! The sim profile starts a private `cupsd`, later a browser; if the terminal dies without its
//! ordered stop (killed, or ended by a library that calls `exit`), those children must go with
//! it. Linux's `PR_SET_PDEATHSIG` signals a child when the *thread* that forked it ends, not the
//! process, so every tied child is forked from one thread that lives as long as the process:
//! the signal then comes exactly when the terminal's process is gone.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Request = (Command, mpsc::Sender<io::Result<Child>>);

/// The one forking thread, started on first use.
fn spawner() -> &'static Mutex<mpsc::Sender<Request>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        let started = std::thread::Builder::new()
            .name("tied-children".into())
            .spawn(move || {
                // This thread must never end while the process runs: it waits for requests
                // forever (the sender lives in a static).
                for (mut cmd, reply) in rx {
                    let _ = reply.send(spawn_here(&mut cmd));
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the child-process thread");
        }
        Mutex::new(tx)
    })
}

fn spawn_here(cmd: &mut Command) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid, raise).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody will signal us.
            if libc::getppid() != parent {
                libc::raise(libc::SIGTERM);
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Starts `cmd` as a child that receives SIGTERM when this process ends, however it ends.
pub fn spawn_tied(cmd: Command) -> io::Result<Child> {
    let (tx, rx) = mpsc::channel();
    spawner()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, tx))
        .map_err(|_| io::Error::other("the child-process thread is not running"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the child-process thread did not answer"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn alive(pid: u32) -> bool {
        // Signal 0 checks existence; a zombie still exists, so look at its state too.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        !stat.is_empty() && !stat.contains(") Z ")
    }

    #[test]
    fn a_tied_child_survives_its_requesting_thread() {
        // Spawned from a short-lived thread, the child must live on: the signal is tied to the
        // process, not to the thread that asked.
        let child = std::thread::spawn(|| {
            let mut c = Command::new("sleep");
            c.arg("30");
            spawn_tied(c).unwrap()
        })
        .join()
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            alive(child.id()),
            "the child died with the thread that asked for it"
        );
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_tied_child_ends_when_its_process_is_killed() {
        // A middle process (a shell) starts a tied grandchild through this very function by
        // re-running this test binary in a helper mode, then is killed with SIGKILL: no
        // destructor runs, yet the grandchild must get SIGTERM.
        if let Ok(out) = std::env::var("HALLKIT_TIED_CHILD_HELPER") {
            let mut c = Command::new("sleep");
            c.arg("60");
            let mut child = spawn_tied(c).unwrap();
            std::fs::write(out, child.id().to_string()).unwrap();
            // Killed before this returns; the wait only keeps the child reaped if it is not.
            let _ = child.wait();
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let mut helper = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child::tests::a_tied_child_ends_when_its_process_is_killed",
                "--nocapture",
            ])
            .env("HALLKIT_TIED_CHILD_HELPER", &pid_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let pid: u32 = loop {
            if let Some(p) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "the helper never started its child"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(alive(pid));
        helper.kill().unwrap();
        helper.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while alive(pid) {
            assert!(
                Instant::now() < deadline,
                "the grandchild outlived its killed parent"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
