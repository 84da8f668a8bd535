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
