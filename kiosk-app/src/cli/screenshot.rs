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
    let Some(screen_name) = kiosk_ui::ScreenName::parse(which) else {
        eprintln!(
            "kiosk screenshot: unknown screen {which:?}; screens: {}",
            kiosk_ui::ScreenName::NAMES.join(", ")
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
    crate::ui::window::screenshot(&config, &runtime, &link, screen_name, portrait, lang, out)?;
    if let Some(c) = centre {
        tokio.block_on(c.stop())?;
    }
    runtime.shutdown();
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}
