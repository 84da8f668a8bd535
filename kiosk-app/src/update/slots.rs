//! Two slots and an atomic switch (A/B), with a health-gated commit.
//!
//! Layout under the base (`/opt/hallkit`, as `flash.sh` makes it): `slots/a`, `slots/b`;
//! `current` → the slot systemd starts; `committed` → the last version that passed its health
//! gate; `update-state.json` what is in progress and how the last update ended.
//!
//! Installing writes the other slot from a checked bundle, records the update as pending, then
//! swaps `current` with one rename. The next start (`kiosk update boot-check`, run by systemd
//! from the *committed* slot before the kiosk) counts it; the new version commits itself once
//! its devices, journal and screen are well (`commit`). A version that never commits is rolled
//! back at the start after: `current` goes back to `committed`. Every step is either before or
//! after one rename or one atomic state write, so a kill at any point leaves a start that runs
//! a whole version — the fault table in `update::tests` kills it at each one.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use kiosk_protocol::signing::PublicKey;
use serde::{Deserialize, Serialize};

use super::bundle::{self, BundleError};

/// The points where an install, a start check or a commit can be interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Verify,
    ClearSlot,
    WriteFile(usize),
    SealSlot,
    WriteState,
    Switch,
    BootCount,
    Rollback,
    CommitLink,
    CommitState,
}

/// Where an interruption is injected (tests); `Ok` everywhere in a real run.
pub type Faults<'a> = &'a dyn Fn(Step) -> std::io::Result<()>;

pub fn no_faults(_: Step) -> std::io::Result<()> {
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub version: String,
    pub slot: String,
    pub previous: String,
    /// Starts of the new version so far (the first one is its chance to commit).
    pub starts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateResult {
    Committed,
    RolledBack,
    Refused,
}

/// How the last update ended, until the running kiosk has told the centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub version: String,
    pub result: UpdateResult,
    pub reason: String,
    pub at: String,
    pub reported: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateState {
    pub pending: Option<Pending>,
    pub last: Option<Outcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("an update to {0} is installed and waiting for its health gate")]
    AlreadyPending(String),
    #[error("not now: {0}")]
    Deferred(String),
    #[error("the slots at {0} are not set up (no `current` link): run flash.sh first")]
    NotProvisioned(String),
    #[error("update slots: {0}")]
    Io(#[from] std::io::Error),
    #[error("the update state file is damaged: {0}")]
    State(String),
}

/// The slots under one base directory.
pub struct Slots {
    base: PathBuf,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Points `link` at `target` with one rename.
fn relink(link: &Path, target: &str) -> std::io::Result<()> {
    let tmp = link.with_extension("switch");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)?;
    sync_dir(link.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl Slots {
    pub fn new(base: impl Into<PathBuf>) -> Slots {
        Slots { base: base.into() }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    fn state_path(&self) -> PathBuf {
        self.base.join("update-state.json")
    }

    pub fn state(&self) -> Result<UpdateState, UpdateError> {
        match std::fs::read(self.state_path()) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| UpdateError::State(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UpdateState::default()),
            Err(e) => Err(e.into()),
        }
    }

    fn save(&self, s: &UpdateState) -> Result<(), UpdateError> {
        let tmp = self.base.join("update-state.json.new");
        let f = std::fs::File::create(&tmp)?;
        serde_json::to_writer_pretty(&f, s).map_err(|e| UpdateError::State(e.to_string()))?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.state_path())?;
        sync_dir(&self.base)?;
        Ok(())
    }

    fn link_slot(&self, name: &str) -> Option<String> {
        let target = std::fs::read_link(self.base.join(name)).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }

    /// The slot `current` points at.
    pub fn current(&self) -> Result<String, UpdateError> {
        self.link_slot("current")
            .ok_or_else(|| UpdateError::NotProvisioned(self.base.display().to_string()))
    }

    /// The last slot that passed its health gate (the current one before any update).
    pub fn committed(&self) -> Result<String, UpdateError> {
        match self.link_slot("committed") {
            Some(s) => Ok(s),
            None => self.current(),
        }
    }

    pub fn slot_dir(&self, slot: &str) -> PathBuf {
        self.base.join("slots").join(slot)
    }

    /// Writes `bundle` into the slot that is not running and switches to it. `deferred`
    /// says why not now (a citizen at the screen, business hours); it is asked after the
    /// bundle is checked, so a bad bundle is refused at once whatever the hour.
    pub fn install(
        &self,
        bundle_path: &Path,
        trusted: &[PublicKey],
        deferred: Option<String>,
        faults: Faults<'_>,
    ) -> Result<String, UpdateError> {
        faults(Step::Verify)?;
        let mut r = BufReader::new(std::fs::File::open(bundle_path)?);
        let manifest = bundle::read_manifest(&mut r, trusted)?;
        let mut state = self.state()?;
        if let Some(p) = &state.pending {
            return Err(UpdateError::AlreadyPending(p.version.clone()));
        }
        if let Some(why) = deferred {
            return Err(UpdateError::Deferred(why));
        }
        let current = self.current()?;
        let target = if current == "a" { "b" } else { "a" };
        // Written beside the slot and renamed into place: a slot is whole or absent.
        faults(Step::ClearSlot)?;
        let incoming = self.base.join("slots").join(format!("{target}.incoming"));
        let _ = std::fs::remove_dir_all(&incoming);
        std::fs::create_dir_all(&incoming)?;
        let copied = bundle::extract(&mut r, &manifest, &incoming, |i| faults(Step::WriteFile(i)));
        if let Err(e) = copied {
            let _ = std::fs::remove_dir_all(&incoming);
            return Err(e.into());
        }
        std::fs::write(incoming.join("VERSION"), &manifest.version)?;
        sync_dir(&incoming)?;
        faults(Step::SealSlot)?;
        let slot = self.slot_dir(target);
        let _ = std::fs::remove_dir_all(&slot);
        std::fs::rename(&incoming, &slot)?;
        sync_dir(&self.base.join("slots"))?;
        faults(Step::WriteState)?;
        if self.link_slot("committed").is_none() {
            relink(&self.base.join("committed"), &format!("slots/{current}"))?;
        }
        state.pending = Some(Pending {
            version: manifest.version.clone(),
            slot: target.to_string(),
            previous: current,
            starts: 0,
        });
        self.save(&state)?;
        faults(Step::Switch)?;
        relink(&self.base.join("current"), &format!("slots/{target}"))?;
        Ok(manifest.version)
    }

    /// Before each start: counts the new version's start, or rolls back one that had its start
    /// and did not commit, or one whose switch never happened. Returns the outcome when it
    /// ended an update.
    pub fn boot_check(&self, faults: Faults<'_>) -> Result<Option<Outcome>, UpdateError> {
        let mut state = self.state()?;
        let Some(mut p) = state.pending.clone() else {
            return Ok(None);
        };
        let current = self.current()?;
        if self.link_slot("committed").as_deref() == Some(p.slot.as_str()) {
            // Killed between the two halves of a commit: finish it.
            return self.finish(
                &mut state,
                &p,
                UpdateResult::Committed,
                "passed its health gate",
            );
        }
        if current != p.slot {
            return self.finish(
                &mut state,
                &p,
                UpdateResult::RolledBack,
                "the install was interrupted before the switch; the running version stays",
            );
        }
        if p.starts == 0 {
            faults(Step::BootCount)?;
            p.starts = 1;
            state.pending = Some(p);
            self.save(&state)?;
            return Ok(None);
        }
        faults(Step::Rollback)?;
        relink(&self.base.join("current"), &format!("slots/{}", p.previous))?;
        self.finish(
            &mut state,
            &p,
            UpdateResult::RolledBack,
            "the new version did not pass its health gate (devices, journal, screen) on its first start",
        )
    }

    fn finish(
        &self,
        state: &mut UpdateState,
        p: &Pending,
        result: UpdateResult,
        reason: &str,
    ) -> Result<Option<Outcome>, UpdateError> {
        let outcome = Outcome {
            version: p.version.clone(),
            result,
            reason: reason.to_string(),
            at: now(),
            reported: false,
        };
        state.pending = None;
        state.last = Some(outcome.clone());
        self.save(state)?;
        Ok(Some(outcome))
    }

    /// The running new version passed its health gate: it becomes the committed one.
    pub fn commit(&self, faults: Faults<'_>) -> Result<Option<Outcome>, UpdateError> {
        let mut state = self.state()?;
        let Some(p) = state.pending.clone() else {
            return Ok(None);
        };
        if self.current()? != p.slot {
            return Ok(None);
        }
        faults(Step::CommitLink)?;
        relink(&self.base.join("committed"), &format!("slots/{}", p.slot))?;
        faults(Step::CommitState)?;
        self.finish(
            &mut state,
            &p,
            UpdateResult::Committed,
            "passed its health gate",
        )
    }

    /// A refused bundle, recorded for the centre like any other outcome.
    pub fn record_refusal(&self, version: &str, reason: &str) -> Result<(), UpdateError> {
        let mut state = self.state()?;
        state.last = Some(Outcome {
            version: version.to_string(),
            result: UpdateResult::Refused,
            reason: reason.to_string(),
            at: now(),
            reported: false,
        });
        self.save(&state)
    }

    /// The last outcome not yet told to the centre, marked told.
    pub fn take_unreported(&self) -> Result<Option<Outcome>, UpdateError> {
        let mut state = self.state()?;
        match &mut state.last {
            Some(o) if !o.reported => {
                let out = o.clone();
                o.reported = true;
                self.save(&state)?;
                Ok(Some(out))
            }
            _ => Ok(None),
        }
    }
}
