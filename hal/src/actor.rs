//! One thread per device: blocking device I/O never runs on the async executor.
//!
//! A driver implements [`Device`]; [`DeviceHandle::spawn`] moves it onto its own thread, which
//! serialises commands from any number of callers, polls health when idle (a failed poll drops
//! the link and the next poll reopens it: hot-plug by polling), and forwards unsolicited input
//! such as scanned codes to subscribers.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::device::{
    CancelToken, ClaimLock, CommandError, DeviceInfo, HealthReport, HealthWatch, ProgressSink,
};

/// A device-specific action a technician or a flow can invoke by name (`scan`, `light`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionSpec {
    pub name: &'static str,
    pub summary: &'static str,
    /// `key=meaning` lines for the help text.
    pub args: &'static [&'static str],
}

/// What a running command gets besides its arguments.
#[derive(Clone)]
pub struct CommandContext {
    pub cancel: CancelToken,
    pub progress: ProgressSink,
    pub timeout: Duration,
}

impl CommandContext {
    pub fn with_timeout(timeout: Duration) -> Self {
        CommandContext {
            cancel: CancelToken::new(),
            progress: ProgressSink::none(),
            timeout,
        }
    }
}

/// Input a device produced on its own: a scanned code, a sensor edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInput {
    pub device: String,
    pub kind: String,
    pub data: Value,
}

/// What every driver implements. Runs only on its actor thread, so it may block.
pub trait Device: Send + 'static {
    fn info(&self) -> DeviceInfo;
    /// Checks the device and returns its health. On a lost link it should try to reopen it.
    fn poll(&mut self) -> HealthReport;
    /// Exercises the device without side effects a citizen would notice.
    fn self_test(&mut self, ctx: &CommandContext) -> Result<Value, CommandError>;
    fn actions(&self) -> Vec<ActionSpec>;
    fn run(
        &mut self,
        action: &str,
        args: &Value,
        ctx: &CommandContext,
    ) -> Result<Value, CommandError>;
    /// True for devices that push data unasked; the actor then calls `take_input` often.
    fn produces_input(&self) -> bool {
        false
    }
    /// Collects unsolicited input, waiting at most `budget`.
    fn take_input(&mut self, _budget: Duration) -> Vec<DeviceInput> {
        Vec::new()
    }
    /// For a device whose input is sampled (pins read at once, not a line to wait on): how
    /// often to sample. The actor then waits for commands between samples and calls
    /// `take_input` with no budget, so a command is served at once, not after a sleep.
    fn sample_every(&self) -> Option<Duration> {
        None
    }
}

enum Cmd {
    Run {
        action: String,
        args: Value,
        ctx: CommandContext,
        reply: mpsc::Sender<Result<Value, CommandError>>,
    },
    Stop,
}

/// The application's side of a running device.
pub struct DeviceHandle {
    info: Arc<Mutex<DeviceInfo>>,
    actions: Vec<ActionSpec>,
    health: HealthWatch,
    inputs: tokio::sync::broadcast::Sender<DeviceInput>,
    claim: ClaimLock,
    tx: mpsc::Sender<Cmd>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

const INPUT_TICK: Duration = Duration::from_millis(50);

impl DeviceHandle {
    pub fn spawn(device: Box<dyn Device>, poll_interval: Duration) -> DeviceHandle {
        let info = device.info();
        let actions = device.actions();
        let health = HealthWatch::new(info.id.clone());
        let (inputs, _) = tokio::sync::broadcast::channel(256);
        let (tx, rx) = mpsc::channel();
        let shared_info = Arc::new(Mutex::new(info.clone()));
        let thread = {
            let health = health.clone();
            let inputs = inputs.clone();
            let shared_info = shared_info.clone();
            std::thread::Builder::new()
                .name(format!("dev-{}", info.id))
                .spawn(move || actor_loop(device, rx, health, inputs, shared_info, poll_interval))
                .ok()
        };
        DeviceHandle {
            info: shared_info,
            actions,
            health,
            inputs,
            claim: ClaimLock::new(),
            tx,
            thread: Mutex::new(thread),
        }
    }

    pub fn info(&self) -> DeviceInfo {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn id(&self) -> String {
        self.info().id
    }

    pub fn actions(&self) -> &[ActionSpec] {
        &self.actions
    }

    pub fn health(&self) -> HealthReport {
        self.health.current()
    }

    pub fn health_watch(&self) -> &HealthWatch {
        &self.health
    }

    pub fn subscribe_input(&self) -> tokio::sync::broadcast::Receiver<DeviceInput> {
        self.inputs.subscribe()
    }

    pub fn claim_lock(&self) -> &ClaimLock {
        &self.claim
    }

    /// Runs an action on the device thread and waits for its one completion. The wait is bounded
    /// by the command's timeout plus a grace period, so a wedged driver cannot hang a flow.
    pub fn call(
        &self,
        action: &str,
        args: Value,
        ctx: CommandContext,
    ) -> Result<Value, CommandError> {
        let (reply, rx) = mpsc::channel();
        let limit = ctx.timeout + Duration::from_secs(2);
        let cancel = ctx.cancel.clone();
        self.tx
            .send(Cmd::Run {
                action: action.to_string(),
                args,
                ctx,
                reply,
            })
            .map_err(|_| CommandError::not_ready("device thread has stopped"))?;
        match rx.recv_timeout(limit) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => {
                cancel.cancel();
                Err(CommandError::timeout(format!(
                    "device did not complete {action} within {limit:?}"
                )))
            }
            Err(RecvTimeoutError::Disconnected) => Err(CommandError::hardware(
                "device thread ended during the command",
            )),
        }
    }

    /// Asks for an immediate health poll by running the built-in `poll` action.
    pub fn poll_now(&self) -> Result<HealthReport, CommandError> {
        let v = self.call(
            "poll",
            Value::Null,
            CommandContext::with_timeout(Duration::from_secs(5)),
        )?;
        serde_json::from_value(v).map_err(|e| CommandError::invalid(e.to_string()))
    }

    /// Stops the device thread and waits for it; later calls answer "not ready". Idempotent.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Cmd::Stop);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for DeviceHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn actor_loop(
    mut device: Box<dyn Device>,
    rx: mpsc::Receiver<Cmd>,
    health: HealthWatch,
    inputs: tokio::sync::broadcast::Sender<DeviceInput>,
    info: Arc<Mutex<DeviceInfo>>,
    poll_interval: Duration,
) {
    let mut next_poll = Instant::now();
    let sampled = device.sample_every().filter(|_| device.produces_input());
    let mut next_sample = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_poll {
            health.publish(device.poll());
            *info.lock().unwrap_or_else(|p| p.into_inner()) = device.info();
            next_poll = Instant::now() + poll_interval;
        }
        let until_poll = next_poll.saturating_duration_since(Instant::now());
        let wait = match sampled {
            Some(_) => until_poll.min(next_sample.saturating_duration_since(Instant::now())),
            None if device.produces_input() => Duration::ZERO,
            None => until_poll,
        };
        match rx.recv_timeout(wait) {
            Ok(Cmd::Run {
                action,
                args,
                ctx,
                reply,
            }) => {
                let result = match action.as_str() {
                    "poll" => {
                        let r = device.poll();
                        health.publish(r.clone());
                        next_poll = Instant::now() + poll_interval;
                        serde_json::to_value(r).map_err(|e| CommandError::invalid(e.to_string()))
                    }
                    "self-test" => device.self_test(&ctx),
                    _ => device.run(&action, &args, &ctx),
                };
                // A failure that lost the link shows on the next poll; poll soon after an error.
                if result.is_err() {
                    next_poll = next_poll.min(Instant::now() + Duration::from_millis(100));
                }
                let _ = reply.send(result);
            }
            Ok(Cmd::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let taken = match sampled {
            Some(every) if Instant::now() >= next_sample => {
                next_sample = Instant::now() + every;
                device.take_input(Duration::ZERO)
            }
            Some(_) => Vec::new(),
            None if device.produces_input() => device.take_input(INPUT_TICK),
            None => Vec::new(),
        };
        for input in taken {
            // No subscriber is fine: nobody is waiting for a scan right now.
            let _ = inputs.send(input);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{CompletionCode, DeviceKind, Health};
    use serde_json::json;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counter {
        polls: Arc<AtomicU32>,
    }

    impl Device for Counter {
        fn info(&self) -> DeviceInfo {
            DeviceInfo::new("c", DeviceKind::Board, "test")
        }
        fn poll(&mut self) -> HealthReport {
            let n = self.polls.fetch_add(1, Ordering::SeqCst);
            HealthReport::new(if n == 0 {
                Health::Offline
            } else {
                Health::Online
            })
        }
        fn self_test(&mut self, _: &CommandContext) -> Result<Value, CommandError> {
            Ok(json!({"ok": true}))
        }
        fn actions(&self) -> Vec<ActionSpec> {
            vec![ActionSpec {
                name: "wait",
                summary: "waits until canceled",
                args: &[],
            }]
        }
        fn run(
            &mut self,
            action: &str,
            _: &Value,
            ctx: &CommandContext,
        ) -> Result<Value, CommandError> {
            match action {
                "wait" => loop {
                    ctx.cancel.check()?;
                    std::thread::sleep(Duration::from_millis(5));
                },
                other => Err(CommandError::unsupported(other.to_string())),
            }
        }
    }

    /// Pins read on demand: records every budget it was handed and counts the samples.
    struct Sampled {
        budgets: Arc<Mutex<Vec<Duration>>>,
    }

    impl Device for Sampled {
        fn info(&self) -> DeviceInfo {
            DeviceInfo::new("s", DeviceKind::Board, "test")
        }
        fn poll(&mut self) -> HealthReport {
            HealthReport::new(Health::Online)
        }
        fn self_test(&mut self, _: &CommandContext) -> Result<Value, CommandError> {
            Ok(json!({"ok": true}))
        }
        fn actions(&self) -> Vec<ActionSpec> {
            Vec::new()
        }
        fn run(&mut self, _: &str, _: &Value, _: &CommandContext) -> Result<Value, CommandError> {
            Ok(json!({"samples": self.budgets.lock().unwrap().len()}))
        }
        fn produces_input(&self) -> bool {
            true
        }
        fn take_input(&mut self, budget: Duration) -> Vec<DeviceInput> {
            self.budgets.lock().unwrap().push(budget);
            Vec::new()
        }
        fn sample_every(&self) -> Option<Duration> {
            Some(Duration::from_millis(5))
        }
    }

    #[test]
    fn a_sampled_device_is_sampled_without_sleeping_inside_the_actor() {
        let budgets = Arc::new(Mutex::new(Vec::new()));
        let h = DeviceHandle::spawn(
            Box::new(Sampled {
                budgets: budgets.clone(),
            }),
            Duration::from_secs(60),
        );
        let ctx = || CommandContext::with_timeout(Duration::from_secs(5));
        let first = h.call("count", Value::Null, ctx()).unwrap()["samples"]
            .as_u64()
            .unwrap();
        std::thread::sleep(Duration::from_millis(60));
        let later = h.call("count", Value::Null, ctx()).unwrap()["samples"]
            .as_u64()
            .unwrap();
        h.shutdown();
        assert!(later > first, "the pins were not sampled between commands");
        // The actor waits on its commands between samples: the device never sleeps in it.
        let b = budgets.lock().unwrap();
        assert!(b.iter().all(|d| d.is_zero()), "{b:?}");
    }

    #[test]
    fn commands_polls_cancel_and_shutdown() {
        let polls = Arc::new(AtomicU32::new(0));
        let h = DeviceHandle::spawn(
            Box::new(Counter {
                polls: polls.clone(),
            }),
            Duration::from_millis(20),
        );
        assert_eq!(h.poll_now().unwrap().health, Health::Online);
        assert_eq!(
            h.call(
                "self-test",
                Value::Null,
                CommandContext::with_timeout(Duration::from_secs(1))
            )
            .unwrap(),
            json!({"ok": true})
        );
        let err = h
            .call(
                "explode",
                Value::Null,
                CommandContext::with_timeout(Duration::from_secs(1)),
            )
            .unwrap_err();
        assert_eq!(err.code, CompletionCode::Unsupported);

        let ctx = CommandContext::with_timeout(Duration::from_secs(10));
        let cancel = ctx.cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            cancel.cancel();
        });
        assert_eq!(
            h.call("wait", Value::Null, ctx).unwrap_err().code,
            CompletionCode::Canceled
        );
        t.join().unwrap();

        std::thread::sleep(Duration::from_millis(60));
        assert!(
            polls.load(Ordering::SeqCst) >= 3,
            "idle polling did not run"
        );
        h.shutdown();
        assert_eq!(
            h.call(
                "self-test",
                Value::Null,
                CommandContext::with_timeout(Duration::from_secs(1))
            )
            .unwrap_err()
            .code,
            CompletionCode::NotReady
        );
    }
}
