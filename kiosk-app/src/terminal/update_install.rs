//! The installer of updates the centre ordered: a bundle staged by `install-update`
//! (`update::staging`) is installed into the other slot at the first moment allowed — the
//! screen idle (attract or home: no citizen, no technician) and outside `[update]
//! business_hours` — and then the kiosk stops in order so the service manager starts the new
//! version, which commits itself once healthy (`operations::spawn_update_gate`). A bundle
//! refused at install is dropped and its refusal reported to the centre.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::flows::host::Host;
use crate::runtime::Runtime;
use crate::update::staging::Staging;
use crate::update::{Slots, UpdateError};

use super::tasks::{task, OnFailure, Supervisor};

/// How often a staged update looks for its moment.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// What one look did.
#[derive(Debug, PartialEq, Eq)]
pub enum Look {
    Nothing,
    /// Not now, and why.
    Waiting(String),
    /// Installed: the kiosk must restart into it.
    Installed(String),
    /// Refused at install and dropped.
    Refused(String),
}

/// One look: installs the staged update when `screen` and the local time `local` allow.
pub fn look(
    slots: &Slots,
    staging: &Staging,
    config: &crate::update::window::UpdateConfig,
    trusted: &[kiosk_protocol::signing::PublicKey],
    screen: &str,
    local: chrono::NaiveDateTime,
) -> Look {
    let Some(order) = staging.staged() else {
        return Look::Nothing;
    };
    let in_use = !matches!(screen, "attract" | "home");
    let why = if in_use {
        Some(format!("the screen shows {screen}"))
    } else {
        crate::update::window::deferred(&config.business_hours, local, false)
    };
    if let Some(why) = why {
        return Look::Waiting(why);
    }
    match slots.install(
        &staging.bundle_path(),
        trusted,
        None,
        &crate::update::no_faults,
    ) {
        Ok(version) => {
            staging.clear();
            Look::Installed(version)
        }
        // The last update has not committed yet: this one waits for it.
        Err(UpdateError::AlreadyPending(v)) => {
            Look::Waiting(format!("update {v} is still proving itself"))
        }
        Err(e) => {
            staging.clear();
            let why = e.to_string();
            if let Err(err) = slots.record_refusal(&order.version, &why) {
                tracing::warn!(error = %err, "the refusal was not recorded");
            }
            Look::Refused(why)
        }
    }
}

/// Starts the installer when the config has `[update]`.
pub fn spawn_update_installer(
    sup: &mut Supervisor,
    config: &Config,
    runtime: &Arc<Runtime>,
    host: Arc<Host>,
) {
    let Some(cfg) = config.update.clone() else {
        return;
    };
    let trusted = Arc::new(config.centre.trusted_keys());
    let restart = sup.stop_terminal();
    let runtime = runtime.clone();
    sup.spawn("update-installer", OnFailure::Restart, move |mut stop| {
        let (cfg, trusted, restart, runtime, host) = (
            cfg.clone(),
            trusted.clone(),
            restart.clone(),
            runtime.clone(),
            host.clone(),
        );
        task(async move {
            let mut said = String::new();
            loop {
                let screen = host.view().screen.name().to_string();
                let (c, t) = (cfg.clone(), trusted.clone());
                let looked = tokio::task::spawn_blocking(move || {
                    let slots = Slots::new(c.base.clone());
                    let staging = Staging::new(&c.base);
                    let local = chrono::Local::now().naive_local();
                    let r = look(&slots, &staging, &c, &t, &screen, local);
                    let outcome = match &r {
                        Look::Refused(_) => slots.take_unreported().ok().flatten(),
                        _ => None,
                    };
                    (r, outcome)
                })
                .await
                .map_err(|e| e.to_string())?;
                match looked {
                    (Look::Installed(version), _) => {
                        tracing::info!(%version, "update installed; restarting into it");
                        restart.send_replace(Some(format!(
                            "restarting into update {version}, as the centre ordered"
                        )));
                        let _ = stop.wait_for(|s| *s).await;
                        return Ok(());
                    }
                    (Look::Refused(why), outcome) => {
                        tracing::warn!(%why, "the staged update was refused");
                        if let Some(o) = outcome {
                            runtime
                                .events
                                .emit(crate::update::outcome_event(&o, runtime.events.now()));
                        }
                    }
                    (Look::Waiting(why), _) if why != said => {
                        tracing::info!(%why, "a staged update waits");
                        said = why;
                    }
                    _ => {}
                }
                tokio::select! {
                    _ = tokio::time::sleep(LOOK_EVERY) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::window::UpdateConfig;
    use kiosk_protocol::signing::{Algorithm, SigningKey};
    use kiosk_protocol::update_bundle as bundle;

    fn at(s: &str) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// A base as flash.sh leaves it: slot a with version 1.0.0, `current` → a.
    fn provisioned(dir: &std::path::Path) {
        std::fs::create_dir_all(dir.join("slots/a")).unwrap();
        std::fs::write(dir.join("slots/a/VERSION"), "1.0.0").unwrap();
        std::os::unix::fs::symlink("slots/a", dir.join("current")).unwrap();
    }

    fn stage(staging: &Staging, bytes: &[u8], version: &str, key: &SigningKey) {
        let order = crate::update::staging::Order {
            version: version.into(),
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
            size: bytes.len() as u64,
            command: 1,
        };
        staging.begin(&order).unwrap();
        staging.append(&order, bytes).unwrap();
        staging.finish(&order, &[key.public_key()]).unwrap();
    }

    #[test]
    fn a_staged_update_waits_for_an_idle_screen_outside_business_hours() {
        let dir = tempfile::tempdir().unwrap();
        provisioned(dir.path());
        let key = SigningKey::generate(Algorithm::Ed25519);
        let cfg: UpdateConfig = toml::from_str(&format!(
            "base = {:?}\nbusiness_hours = [\"Mon-Fri 08:30-17:30\"]",
            dir.path()
        ))
        .unwrap();
        let (slots, staging) = (Slots::new(dir.path()), Staging::new(dir.path()));
        let trusted = [key.public_key()];
        // 2026-12-03 is a Thursday.
        let (open, closed) = (at("2026-12-03 10:00"), at("2026-12-03 19:00"));
        assert_eq!(
            look(&slots, &staging, &cfg, &trusted, "home", closed),
            Look::Nothing
        );
        let bytes = bundle::make("2.0.0", &[("kiosk", b"new", 0o755)], &key);
        stage(&staging, &bytes, "2.0.0", &key);
        let waits = |screen, local| match look(&slots, &staging, &cfg, &trusted, screen, local) {
            Look::Waiting(why) => why,
            other => panic!("{other:?}"),
        };
        assert!(waits("home", open).contains("business hours"));
        assert!(waits("ticket", closed).contains("ticket"));
        assert!(waits("admin", closed).contains("admin"));
        assert_eq!(slots.current().unwrap(), "a");
        assert_eq!(
            look(&slots, &staging, &cfg, &trusted, "attract", closed),
            Look::Installed("2.0.0".into())
        );
        assert_eq!(slots.current().unwrap(), "b");
        assert_eq!(
            std::fs::read(dir.path().join("slots/b/kiosk")).unwrap(),
            b"new"
        );
        assert_eq!(staging.staged(), None, "installed bundles are dropped");
        // Another staged before 2.0.0 commits waits for it.
        let next = bundle::make("2.0.1", &[("kiosk", b"newer", 0o755)], &key);
        stage(&staging, &next, "2.0.1", &key);
        assert!(waits("home", closed).contains("2.0.0"));
    }

    #[test]
    fn a_bundle_refused_at_install_is_dropped_and_its_refusal_kept_for_the_centre() {
        let dir = tempfile::tempdir().unwrap();
        provisioned(dir.path());
        let key = SigningKey::generate(Algorithm::Ed25519);
        let cfg: UpdateConfig = toml::from_str(&format!("base = {:?}", dir.path())).unwrap();
        let (slots, staging) = (Slots::new(dir.path()), Staging::new(dir.path()));
        let bytes = bundle::make("2.0.0", &[("kiosk", b"new", 0o755)], &key);
        stage(&staging, &bytes, "2.0.0", &key);
        // The publisher key was taken off the terminal's list since it was staged.
        let other = SigningKey::generate(Algorithm::Ed25519).public_key();
        match look(
            &slots,
            &staging,
            &cfg,
            &[other],
            "home",
            at("2026-12-03 19:00"),
        ) {
            Look::Refused(why) => assert!(why.contains("does not trust"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(staging.staged(), None);
        assert_eq!(slots.current().unwrap(), "a");
        let o = slots.take_unreported().unwrap().unwrap();
        assert_eq!(o.version, "2.0.0");
        assert_eq!(o.result, crate::update::UpdateResult::Refused);
    }
}
