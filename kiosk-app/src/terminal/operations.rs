//! The terminal's operations tasks: the USB allow-list sweep and the service manager's
//! watchdog.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::runtime::Runtime;
use crate::services::usb_guard::{UsbGuard, UsbPolicy};

use super::tasks::{task, OnFailure, Supervisor};

/// Starts the USB sweep when the config has `[usb]`.
pub fn spawn_usb_guard(sup: &mut Supervisor, config: &Config, runtime: &Arc<Runtime>) {
    let Some(cfg) = &config.usb else {
        return;
    };
    let policy = UsbPolicy::new(cfg, config.devices.iter().filter_map(|d| d.usb.clone()));
    let guard = Arc::new(std::sync::Mutex::new(UsbGuard::new(
        policy,
        cfg.sysfs.clone(),
    )));
    let every = Duration::from_millis(cfg.scan_interval_ms);
    let bus = runtime.events.clone();
    sup.spawn("usb-guard", OnFailure::Restart, move |mut stop| {
        let (guard, bus) = (guard.clone(), bus.clone());
        task(async move {
            let mut warned = false;
            loop {
                let (g, now) = (guard.clone(), bus.now());
                let swept = tokio::task::spawn_blocking(move || {
                    g.lock().unwrap_or_else(|p| p.into_inner()).sweep(now)
                })
                .await
                .map_err(|e| e.to_string())?;
                match swept {
                    Ok(events) => {
                        warned = false;
                        events.into_iter().for_each(|e| bus.emit(e));
                    }
                    // A host without USB (a VM) has no tree: said once, then quiet.
                    Err(e) if !warned => {
                        tracing::warn!(error = %e, "the USB device tree cannot be read");
                        warned = true;
                    }
                    Err(_) => {}
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        })
    });
}

/// Feeds systemd's watchdog (`WatchdogSec=` in the unit) while the terminal keeps its
/// promises: the async runtime turns over and the journal recorder lives. When either stops,
/// the pings stop and systemd kills and restarts the kiosk.
pub fn spawn_watchdog(sup: &mut Supervisor, recording: Arc<std::sync::atomic::AtomicBool>) {
    let Some(every) = super::systemd::watchdog_interval() else {
        return;
    };
    sup.spawn("watchdog", OnFailure::Restart, move |mut stop| {
        let recording = recording.clone();
        task(async move {
            let notifier = super::systemd::Notifier::from_env();
            loop {
                if recording.load(std::sync::atomic::Ordering::SeqCst) {
                    if let Err(e) = notifier.notify("WATCHDOG=1") {
                        tracing::warn!(error = %e, "the watchdog was not fed");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        })
    });
}

/// Tells the centre how the last update ended (once), and when this start is a new version's
/// first, runs its health gate: every device normal or warning, the journal's queue empty,
/// the screen idle. Passing commits it; not passing within `health_gate_s` stops the
/// terminal with a failure, and systemd's restart rolls it back (`kiosk update boot-check`).
pub fn spawn_update_gate(
    sup: &mut Supervisor,
    config: &Config,
    runtime: &Arc<Runtime>,
    journal: &crate::journal::Journal,
    host: Arc<crate::flows::host::Host>,
) {
    let Some(cfg) = &config.update else {
        return;
    };
    let slots = Arc::new(crate::update::Slots::new(cfg.base.clone()));
    report_outcome(&slots, runtime);
    let pending = match (slots.state(), slots.current()) {
        (Ok(s), Ok(current)) => s.pending.filter(|p| p.slot == current),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "the update slots cannot be read");
            None
        }
    };
    let Some(pending) = pending else {
        return;
    };
    tracing::info!(version = %pending.version, "a new version's first start: running its health gate");
    let limit = Duration::from_secs(cfg.health_gate_s);
    let (runtime, journal) = (runtime.clone(), journal.clone());
    sup.spawn(
        "update-health-gate",
        OnFailure::StopTerminal,
        move |mut stop| {
            let (slots, runtime, journal, host) = (
                slots.clone(),
                runtime.clone(),
                journal.clone(),
                host.clone(),
            );
            task(async move {
                let started = std::time::Instant::now();
                loop {
                    let why = gate_failure(&runtime, &journal, &host).await;
                    match why {
                        None => {
                            let s = slots.clone();
                            let done = tokio::task::spawn_blocking(move || {
                                s.commit(&crate::update::no_faults)
                            })
                            .await
                            .map_err(|e| e.to_string())?;
                            done.map_err(|e| format!("committing the update: {e}"))?;
                            report_outcome(&slots, &runtime);
                            // Done; a supervised task stays until the terminal stops.
                            let _ = stop.wait_for(|s| *s).await;
                            return Ok(());
                        }
                        Some(why) if started.elapsed() > limit => {
                            return Err(format!(
                                "the new version did not pass its health gate in {} s: {why}",
                                limit.as_secs()
                            ));
                        }
                        Some(_) => {}
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = stop.wait_for(|s| *s) => return Ok(()),
                    }
                }
            })
        },
    );
}

/// What keeps the gate shut, or `None` when the terminal is well.
async fn gate_failure(
    runtime: &Runtime,
    journal: &crate::journal::Journal,
    host: &crate::flows::host::Host,
) -> Option<String> {
    use kiosk_hal::CentreState;
    if let Some(d) = runtime
        .snapshot()
        .into_iter()
        .find(|d| !matches!(d.centre_state, CentreState::Normal | CentreState::Warning))
    {
        return Some(format!("device {} is {}", d.id, d.centre_state.as_str()));
    }
    let counts = journal.with(|o| o.counts()).await;
    match counts {
        Ok(c) if c.pending + c.sent == 0 => {}
        Ok(c) => {
            return Some(format!(
                "{} journal events not yet at the centre",
                c.pending + c.sent
            ))
        }
        Err(e) => return Some(format!("the journal: {e}")),
    }
    let screen = host.view().screen.name();
    (!matches!(screen, "attract" | "home")).then(|| format!("the screen shows {screen}"))
}

/// The last update's outcome to the journal (and so the centre and the audit log), once.
fn report_outcome(slots: &crate::update::Slots, runtime: &Runtime) {
    match slots.take_unreported() {
        Ok(Some(o)) => runtime
            .events
            .emit(crate::update::outcome_event(&o, runtime.events.now())),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "the update outcome cannot be read"),
    }
}
