//! The terminal's background work as named, supervised tasks. A task that fails — returns an
//! error, panics, or ends while the terminal still runs — is logged by name and recorded as a
//! `system.task.failed` event, then either restarted after a jittered pause or, for work the
//! terminal cannot do without, turned into a request to stop the terminal in order. Nothing is
//! ever gone silently.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kiosk_protocol::{Event, EventKind};
use tokio::sync::watch;

use crate::centre::Backoff;
use crate::runtime::EventBus;

/// What to do when a task fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Start it again after a pause that grows with repeated failures.
    Restart,
    /// Ask the terminal to stop in order (the service manager restarts it).
    StopTerminal,
}

/// A task's body: runs until `stop` turns true, then returns `Ok`.
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

type Factory = Arc<dyn Fn(watch::Receiver<bool>) -> TaskFuture + Send + Sync>;

struct Supervised {
    name: &'static str,
    join: tokio::task::JoinHandle<()>,
}

pub struct Supervisor {
    handle: tokio::runtime::Handle,
    stop: watch::Sender<bool>,
    stop_terminal: watch::Sender<Option<String>>,
    bus: EventBus,
    tasks: Vec<Supervised>,
}

impl Supervisor {
    /// `stop_terminal` receives the reason when a task with [`OnFailure::StopTerminal`] fails.
    pub fn new(
        handle: tokio::runtime::Handle,
        bus: EventBus,
        stop_terminal: watch::Sender<Option<String>>,
    ) -> Supervisor {
        Supervisor {
            handle,
            stop: watch::channel(false).0,
            stop_terminal,
            bus,
            tasks: Vec::new(),
        }
    }

    /// What a task may use to ask the terminal to stop (a remote restart).
    pub fn stop_terminal(&self) -> watch::Sender<Option<String>> {
        self.stop_terminal.clone()
    }

    /// Starts `make`'s task under `name`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        policy: OnFailure,
        make: impl Fn(watch::Receiver<bool>) -> TaskFuture + Send + Sync + 'static,
    ) {
        let make: Factory = Arc::new(make);
        let (stop, bus, stop_terminal, handle) = (
            self.stop.clone(),
            self.bus.clone(),
            self.stop_terminal.clone(),
            self.handle.clone(),
        );
        let join = self.handle.spawn(async move {
            let mut backoff = Backoff::new(
                Duration::from_millis(500),
                Duration::from_secs(60),
                name.len() as u64 ^ std::process::id() as u64,
            );
            let mut failures = 0u64;
            loop {
                let rx = stop.subscribe();
                let body = handle.spawn((make)(rx));
                let outcome = body.await;
                let stopping = *stop.borrow();
                let why = match outcome {
                    Ok(Ok(())) if stopping => return,
                    Ok(Ok(())) => "ended while the terminal runs".to_string(),
                    Ok(Err(e)) => e,
                    Err(e) if e.is_panic() => format!("panicked: {}", panic_text(e.into_panic())),
                    Err(e) => format!("was cancelled: {e}"),
                };
                if stopping {
                    tracing::warn!(task = name, %why, "task ended badly while the terminal stops");
                    return;
                }
                failures += 1;
                tracing::error!(task = name, %why, failures, ?policy, "terminal task failed");
                bus.emit(
                    Event::new(EventKind::TaskFailed, bus.now())
                        .field("task", name)
                        .field("why", why.clone())
                        .field("failures", failures)
                        .field(
                            "action",
                            match policy {
                                OnFailure::Restart => "restart",
                                OnFailure::StopTerminal => "stop-terminal",
                            },
                        ),
                );
                match policy {
                    OnFailure::StopTerminal => {
                        let _ = stop_terminal.send(Some(format!("task {name} {why}")));
                        return;
                    }
                    OnFailure::Restart => {
                        let pause = backoff.next_delay();
                        let mut rx = stop.subscribe();
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = rx.wait_for(|s| *s) => return,
                        }
                    }
                }
            }
        });
        self.tasks.push(Supervised { name, join });
    }

    /// The names of the tasks, in the order they were started.
    pub fn names(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|t| t.name).collect()
    }

    /// Tells every task to stop and waits up to `grace` for each; a task that does not end by
    /// then is aborted and named in the log.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let abort = t.join.abort_handle();
            if tokio::time::timeout(grace, t.join).await.is_err() {
                tracing::warn!(task = t.name, "task did not stop in time; aborted");
                abort.abort();
            }
        }
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Boxes a task body.
pub fn task(f: impl Future<Output = Result<(), String>> + Send + 'static) -> TaskFuture {
    Box::pin(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::clock::SystemClock;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_task_is_named_restarted_or_stops_the_terminal() {
        let bus = EventBus::new(SystemClock::shared());
        let mut events = bus.subscribe();
        let (stop_terminal, mut asked) = watch::channel(None);
        let mut sup = Supervisor::new(tokio::runtime::Handle::current(), bus, stop_terminal);
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        sup.spawn("flaky", OnFailure::Restart, move |mut stop| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            task(async move {
                match n {
                    0 => panic!("first run breaks"),
                    1 => Err("second run fails".into()),
                    _ => {
                        let _ = stop.wait_for(|s| *s).await;
                        Ok(())
                    }
                }
            })
        });
        // Two failures, two events naming the task, then it runs.
        for want in ["panicked: first run breaks", "second run fails"] {
            let e = loop {
                let e = events.recv().await.unwrap();
                if e.kind == EventKind::TaskFailed {
                    break e;
                }
            };
            assert_eq!(e.fields["task"], "flaky");
            assert_eq!(e.fields["why"], want);
            assert_eq!(e.fields["action"], "restart");
        }
        while runs.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A vital task that ends on its own asks the terminal to stop.
        sup.spawn("vital", OnFailure::StopTerminal, |_| task(async { Ok(()) }));
        let reason = asked.wait_for(|r| r.is_some()).await.unwrap().clone();
        assert_eq!(
            reason.as_deref(),
            Some("task vital ended while the terminal runs")
        );
        assert_eq!(sup.names(), vec!["flaky", "vital"]);
        tokio::time::timeout(Duration::from_secs(10), sup.stop(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "not restarted after the stop"
        );
    }
}
