//! `kiosk screenshot SCREEN OUT.png`: one screen rendered by the software renderer, with the
//! configured devices' and the centre's live state.

use std::path::Path;
use std::process::ExitCode;

use kiosk_hal::clock::SystemClock;

use crate::centre::CentreClient;
use crate::config::{Config, Orientation, Profile};
use crate::runtime::Runtime;

pub fn run(
    config: Config,
    profile: Profile,
    which: &str,
    out: &Path,
    portrait: bool,
    lang: Option<&str>,
) -> anyhow::Result<ExitCode> {
    // `help` is the home screen with the help open; `status` is the old name of the status.
    let (name, help) = match which {
        "help" => ("home", true),
        "status" => ("device-status", false),
        other => (other, false),
    };
    let Some(screen) = kiosk_ui::ScreenId::parse(name) else {
        let names: Vec<&str> = kiosk_ui::SCREENS.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "kiosk screenshot: unknown screen {which:?}; screens: help, {}",
            names.join(", ")
        );
        return Ok(ExitCode::from(2));
    };
    let lang = match lang {
        Some(l) => kiosk_ui::Language::parse(l)?,
        None => config.language(),
    };
    let portrait = portrait || config.ui.orientation == Orientation::Portrait;
    let tokio = super::tokio_runtime()?;
    let runtime = Runtime::start(&config, profile, SystemClock::shared())?;
    let centre = tokio.block_on(crate::centre::embedded::start(&config))?;
    let url = centre
        .as_ref()
        .map(|c| c.base_url())
        .or_else(|| config.centre.url.clone())
        .unwrap_or_default();
    let client = CentreClient::for_config(&config, &url)?;
    // One check, so the screen shows the centre's real state.
    let link = tokio.block_on(crate::centre::health::check(&client));
    runtime.poll_all();
    let shot = crate::ui::window::Shot {
        screen,
        help,
        portrait,
        lang,
    };
    crate::ui::window::screenshot(&config, &runtime, &link, shot, out)?;
    if let Some(c) = centre {
        tokio.block_on(c.stop())?;
    }
    runtime.shutdown();
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}
