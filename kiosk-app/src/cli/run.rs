//! `kiosk run`: the terminal until SIGTERM, Ctrl-C, a failed vital task, or the window closing.

use std::process::ExitCode;

use kiosk_hal::clock::SystemClock;

use crate::config::{Config, Profile};
use crate::terminal::{display, Terminal};
use crate::ui;

pub fn run(config: Config, profile: Profile, headless: bool) -> anyhow::Result<ExitCode> {
    let terminal = Terminal::start(config, profile, SystemClock::shared())?;
    let term = terminal.sigterm();
    println!("{}", terminal.ready_line());
    crate::terminal::systemd::notify(&format!(
        "READY=1\nSTATUS=serving as {}",
        terminal.config.terminal.id
    ));

    let mut failure: Option<String> = None;
    if !headless && ui::window::display_available() {
        // Losing the display mid-run stops the terminal in order before Xlib ends the process.
        {
            let t = terminal.clone();
            display::on_display_lost(move || {
                t.runtime.events.emit(kiosk_protocol::Event::new(
                    kiosk_protocol::EventKind::DisplayLost,
                    t.runtime.events.now(),
                ));
                let report = t.stop();
                println!(
                    "{}",
                    serde_json::json!({ "stopped": true, "outbox": report.outbox, "display_lost": true })
                );
            });
            if let Err(e) = display::install_x11_handler() {
                tracing::info!(%e, "no X11 I/O error handler installed");
            }
        }
        // The window owns the main thread; a signal or a failed vital task quits its loop.
        let handle = terminal.handle();
        let mut asked = terminal.stop_requests();
        handle.spawn(async move {
            tokio::select! {
                _ = crate::terminal::wait_for_shutdown_signal(term) => {}
                _ = asked.wait_for(|r| r.is_some()) => {}
            }
            let _ = slint::invoke_from_event_loop(|| {
                let _ = slint::quit_event_loop();
            });
        });
        let shown = match &terminal.window_unit {
            // A window unit: the clerk's caller toolbar and the citizen screen.
            Some(desk) => {
                desk.set_speaker(crate::services::speech::Speaker::start(
                    crate::services::speech::Voice::default(),
                    crate::services::speech::Output::Device,
                ));
                let events = terminal.runtime.events.clone();
                ui::desk::run_windows(
                    &terminal.config,
                    desk.clone(),
                    std::sync::Arc::new(move || events.now()),
                )
            }
            None => ui::window::run_window(
                &terminal.config,
                terminal.runtime.clone(),
                terminal.link.clone(),
                terminal.host.clone(),
            ),
        };
        if let Err(e) = shown {
            tracing::error!(error = %format!("{e:#}"), "the screen failed; stopping the terminal");
            failure = Some(format!("{e:#}"));
        }
        if let Some(r) = terminal.stop_requests().borrow().clone() {
            failure.get_or_insert(r);
        }
    } else {
        if !headless {
            eprintln!(
                "kiosk: no display (neither DISPLAY nor WAYLAND_DISPLAY is set): running headless. \
                 Devices and the central service run; the screen is not shown. \
                 Render it with: kiosk screenshot device-status status.png --config {}",
                terminal.config.source.display()
            );
        }
        failure = terminal.wait(term);
    }
    crate::terminal::systemd::notify("STOPPING=1");
    let report = terminal.stop();
    println!(
        "{}",
        serde_json::json!({ "stopped": true, "outbox": report.outbox })
    );
    match failure {
        Some(why) => {
            eprintln!("kiosk: {why}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
