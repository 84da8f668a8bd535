//! Staged rollout of a change to chosen terminals: a signed document (a terminal
//! configuration, a catalogue) or a software update. The terminals go in groups of 5 %, 20 %
//! and 100 % (at least one terminal each). A document goes to each terminal of a group as a
//! version addressed to it; an update as an `install-update` command. A group is judged from
//! its terminals' heartbeats since it began: a terminal passes when it reports the document
//! version it was given in force (or runs the update's version) and no peripheral abnormal.
//! More failures than the threshold halt the rollout, and that group's terminals go back: the
//! previous body as a newer document version, or an order to install the previous bundle
//! (a terminal whose new version failed its own health gate is back already). The plan is a
//! JSON file the operator keeps (`kiosk-central rollout start|start-update|status|advance`),
//! so it works the same over either store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kiosk_protocol::signing::{DocumentKind, SignedDocument, SigningKey};
use kiosk_protocol::wire::{CommandRequest, Heartbeat, RemoteCommand};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::Store;
use crate::store::StoreError;
use crate::updates::UpdateBundle;

/// The groups' shares of the chosen terminals, cumulative.
pub const STAGES: [u32; 3] = [5, 20, 100];

/// How long an install order waits for a terminal that is off.
const ORDER_WAIT_S: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// A group is out; `advance` judges it.
    Running,
    /// Every group passed.
    Done,
    /// A group failed; its terminals were given the previous body back.
    Halted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub percent: u32,
    pub terminals: Vec<String>,
    /// When it went out (heartbeats before do not count).
    pub started: Option<DateTime<Utc>>,
    /// What each terminal was given: the document's version, or the install order's id.
    pub versions: BTreeMap<String, u64>,
    /// The judgement: terminal → why it failed (absent: passed).
    pub failures: BTreeMap<String, String>,
    pub judged: bool,
    /// After a failure, how each terminal was sent back: the previous body's new document
    /// version, or the id of the order to install the previous bundle.
    pub rolled_back: BTreeMap<String, u64>,
}

/// A bundle the centre holds, as a plan names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRef {
    pub sha256: String,
    pub version: String,
    pub size: u64,
}

impl From<UpdateBundle> for BundleRef {
    fn from(b: UpdateBundle) -> BundleRef {
        BundleRef {
            sha256: b.sha256,
            version: b.version,
            size: b.size,
        }
    }
}

/// What a rollout changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    Document {
        kind: DocumentKind,
        body: Value,
        /// What was in force for everyone before: the body a failed group gets back.
        previous: Value,
        previous_version: u64,
    },
    Update {
        bundle: BundleRef,
        /// What the terminals ran before: the bundle a failed group is ordered back to.
        previous: BundleRef,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub change: Change,
    /// The largest share of a group's terminals that may fail (0.0 – 1.0).
    pub threshold: f64,
    pub groups: Vec<Group>,
    pub state: State,
    /// The group out now (or the last one).
    pub current: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("no terminals were chosen")]
    NoTerminals,
    #[error("the threshold is a share between 0 and 1, not {0}")]
    Threshold(f64),
    #[error(
        "no {0} document is in force for all terminals, so a failed group would have nothing \
         to go back to: publish a base version with scope `all` first"
    )]
    NoPrevious(String),
    #[error("the centre holds no update bundle {0}: add it first (kiosk-central update add)")]
    NoBundle(String),
    #[error("the new and the previous bundle are both version {0}")]
    SameVersion(String),
    #[error("a document rollout publishes signed versions: give the publisher's key (--key)")]
    NeedsKey,
    #[error("the rollout is {0:?}: nothing to advance")]
    Finished(State),
    #[error("the centre refused a document: {0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Splits `terminals` into the stages' groups: 5 % and 20 % of them (cumulative, each at
/// least one terminal), then the rest. Fewer terminals than stages: fewer groups.
pub fn groups(terminals: &[String]) -> Vec<Vec<String>> {
    let n = terminals.len();
    let mut out = Vec::new();
    let mut taken = 0;
    for pct in STAGES {
        let upto = ((n * pct as usize).div_ceil(100)).max(taken + 1).min(n);
        if upto > taken {
            out.push(terminals[taken..upto].to_vec());
            taken = upto;
        }
    }
    out
}

/// What a terminal of a group must report to pass.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// This document kind at this version or newer in force.
    Document(DocumentKind, u64),
    /// This software version running.
    Software(&'a str),
}

/// Why one terminal of a group fails, from its latest heartbeat.
pub fn judge(expect: Expect, started: DateTime<Utc>, hb: Option<&Heartbeat>) -> Option<String> {
    let Some(hb) = hb.filter(|h| h.at >= started) else {
        return Some("no heartbeat since the group began".into());
    };
    match expect {
        Expect::Document(kind, given) => match hb.documents.get(kind.as_str()) {
            Some(v) if *v >= given => {}
            Some(v) => return Some(format!("reports version {v} in force, not {given}")),
            None => return Some(format!("reports no {} document in force", kind.as_str())),
        },
        Expect::Software(version) => match hb.software.as_deref() {
            Some(v) if v == version => {}
            Some(v) => return Some(format!("runs {v}, not {version}")),
            None => return Some("reports no software version".into()),
        },
    }
    let bad: Vec<&str> = hb
        .peripherals
        .iter()
        .filter(|p| p.state == "abnormal")
        .map(|p| p.id.as_str())
        .collect();
    if !bad.is_empty() {
        return Some(format!("abnormal after the change: {}", bad.join(", ")));
    }
    None
}

fn check(terminals: &[String], threshold: f64) -> Result<Vec<Group>, RolloutError> {
    if terminals.is_empty() {
        return Err(RolloutError::NoTerminals);
    }
    if !(0.0..=1.0).contains(&threshold) {
        return Err(RolloutError::Threshold(threshold));
    }
    let mut pct = STAGES.iter();
    Ok(groups(terminals)
        .into_iter()
        .map(|terminals| Group {
            percent: *pct.next().unwrap_or(&100),
            terminals,
            started: None,
            versions: BTreeMap::new(),
            failures: BTreeMap::new(),
            judged: false,
            rolled_back: BTreeMap::new(),
        })
        .collect())
}

impl Plan {
    /// A plan for `body` to `terminals`, in their given order, with what is in force for
    /// everyone now as the way back.
    pub fn new(
        store: &Store,
        kind: DocumentKind,
        body: Value,
        terminals: &[String],
        threshold: f64,
    ) -> Result<Plan, RolloutError> {
        let groups = check(terminals, threshold)?;
        // A terminal id no device has: only documents addressed to all match it.
        let previous = store
            .latest_document(kind, "\u{0}rollout-base", 0)?
            .ok_or_else(|| RolloutError::NoPrevious(kind.as_str().into()))?;
        Ok(Plan {
            change: Change::Document {
                kind,
                body,
                previous: previous.body,
                previous_version: previous.version,
            },
            threshold,
            groups,
            state: State::Running,
            current: 0,
        })
    }

    /// A plan to install bundle `sha256` on `terminals`, with bundle `previous` (what they run
    /// now) as the way back. Both must be bundles the centre holds.
    pub fn update(
        store: &Store,
        sha256: &str,
        previous: &str,
        terminals: &[String],
        threshold: f64,
    ) -> Result<Plan, RolloutError> {
        let groups = check(terminals, threshold)?;
        let held = |sha: &str| -> Result<BundleRef, RolloutError> {
            Ok(store
                .update_bundle(sha)?
                .ok_or_else(|| RolloutError::NoBundle(sha.into()))?
                .into())
        };
        let (bundle, previous) = (held(sha256)?, held(previous)?);
        if bundle.version == previous.version {
            return Err(RolloutError::SameVersion(bundle.version));
        }
        Ok(Plan {
            change: Change::Update { bundle, previous },
            threshold,
            groups,
            state: State::Running,
            current: 0,
        })
    }

    /// What the plan's change is, for people: `config`, `update`.
    pub fn what(&self) -> &'static str {
        match &self.change {
            Change::Document { kind, .. } => kind.as_str(),
            Change::Update { .. } => "update",
        }
    }

    /// Sends the current group the change: each terminal a newer document version addressed
    /// to it, or an order to install the bundle. `key` signs documents (updates need none).
    pub fn release(
        &mut self,
        store: &Store,
        key: Option<&SigningKey>,
        now: DateTime<Utc>,
    ) -> Result<(), RolloutError> {
        let g = &mut self.groups[self.current];
        for t in &g.terminals {
            let given = match &self.change {
                Change::Document { kind, body, .. } => publish(store, key, *kind, t, body.clone())?,
                Change::Update { bundle, .. } => order(store, t, bundle, "rollout", now)?,
            };
            g.versions.insert(t.clone(), given);
        }
        g.started = Some(now);
        Ok(())
    }

    /// Judges the current group from the heartbeats: passes → the next group goes out (or
    /// the rollout is done); fails → halted, and the group goes back to what it had.
    pub fn advance(
        &mut self,
        store: &Store,
        key: Option<&SigningKey>,
        now: DateTime<Utc>,
    ) -> Result<State, RolloutError> {
        if self.state != State::Running {
            return Err(RolloutError::Finished(self.state));
        }
        if matches!(self.change, Change::Document { .. }) && key.is_none() {
            return Err(RolloutError::NeedsKey);
        }
        let g = &mut self.groups[self.current];
        let started = g.started.unwrap_or(now);
        g.failures.clear();
        let mut latest = BTreeMap::new();
        for t in &g.terminals {
            let hb = store.latest_heartbeat(t)?;
            let given = g.versions.get(t).copied().unwrap_or(u64::MAX);
            let expect = match &self.change {
                Change::Document { kind, .. } => Expect::Document(*kind, given),
                Change::Update { bundle, .. } => Expect::Software(&bundle.version),
            };
            if let Some(why) = judge(expect, started, hb.as_ref()) {
                g.failures.insert(t.clone(), why);
            }
            latest.insert(t.clone(), hb);
        }
        g.judged = true;
        let share = g.failures.len() as f64 / g.terminals.len().max(1) as f64;
        if share > self.threshold {
            for t in g.terminals.clone() {
                let back = match &self.change {
                    Change::Document { kind, previous, .. } => {
                        Some(publish(store, key, *kind, &t, previous.clone())?)
                    }
                    Change::Update { previous, .. } => {
                        // One that runs the previous version already (its new version
                        // failed its own gate, or never installed) needs no order.
                        let runs = latest
                            .get(&t)
                            .and_then(|hb| hb.as_ref())
                            .and_then(|hb| hb.software.as_deref());
                        if runs == Some(previous.version.as_str()) {
                            None
                        } else {
                            Some(order(store, &t, previous, "rollback", now)?)
                        }
                    }
                };
                if let Some(v) = back {
                    g.rolled_back.insert(t, v);
                }
            }
            self.state = State::Halted;
        } else if self.current + 1 < self.groups.len() {
            self.current += 1;
            self.release(store, key, now)?;
        } else {
            self.state = State::Done;
        }
        Ok(self.state)
    }
}

/// Publishes `body` to `terminal` as the next version of `kind`.
fn publish(
    store: &Store,
    key: Option<&SigningKey>,
    kind: DocumentKind,
    terminal: &str,
    body: Value,
) -> Result<u64, RolloutError> {
    let key = key.ok_or(RolloutError::NeedsKey)?;
    // Versions grow per kind across all scopes: the centre's refusal names the newest, and
    // the next try goes one above it (another publisher may take it first: try again).
    let mut version = 1;
    for _ in 0..8 {
        let doc = SignedDocument::sign(kind, terminal, version, body.clone(), key);
        match store.publish_document(&doc)? {
            Ok(()) => return Ok(version),
            Err(crate::store::PublishRefusal::NotNewer { current, .. }) => version = current + 1,
        }
    }
    Err(RolloutError::Refused(
        "another publisher kept taking the next version".into(),
    ))
}

/// Queues an order for `terminal` to install `bundle`; its id.
fn order(
    store: &Store,
    terminal: &str,
    bundle: &BundleRef,
    why: &str,
    now: DateTime<Utc>,
) -> Result<u64, RolloutError> {
    // Unique per rollout step, so a later rollout of the same bundle orders again.
    let request_id = format!(
        "{why}:{}:{}:{terminal}",
        &bundle.sha256[..bundle.sha256.len().min(16)],
        now.timestamp_millis()
    );
    let req = CommandRequest {
        request_id,
        command: RemoteCommand::InstallUpdate {
            version: bundle.version.clone(),
            sha256: bundle.sha256.clone(),
            size: bundle.size,
        },
        expires_in_s: Some(ORDER_WAIT_S),
    };
    Ok(store.queue_command(terminal, &req, now)?.id)
}

/// Reads a plan file.
pub fn load(path: &std::path::Path) -> anyhow::Result<Plan> {
    use anyhow::Context;
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a rollout plan", path.display()))
}

/// Writes a plan file whole (a temporary file renamed over it), so a crash leaves the old
/// plan or the new, never half of one.
pub fn save(path: &std::path::Path, plan: &Plan) -> anyhow::Result<()> {
    use anyhow::Context;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(plan)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// What `rollout status` prints: the plan's state, and each group with its terminals'
/// judgement now (for the group out, from the heartbeats so far).
pub fn status(store: &Store, plan: &Plan) -> Result<Value, RolloutError> {
    let mut groups = Vec::new();
    for (i, g) in plan.groups.iter().enumerate() {
        let mut terminals = Vec::new();
        for t in &g.terminals {
            let given = g.versions.get(t).copied();
            let now = match (g.started, given) {
                (Some(started), Some(v)) if !g.judged => {
                    let hb = store.latest_heartbeat(t)?;
                    let expect = match &plan.change {
                        Change::Document { kind, .. } => Expect::Document(*kind, v),
                        Change::Update { bundle, .. } => Expect::Software(&bundle.version),
                    };
                    judge(expect, started, hb.as_ref()).unwrap_or_else(|| "ok".into())
                }
                (_, _) if g.judged => g.failures.get(t).cloned().unwrap_or_else(|| "ok".into()),
                _ => "not yet".into(),
            };
            let (given_key, back_key) = match plan.change {
                Change::Document { .. } => ("version", "rolled_back_to"),
                Change::Update { .. } => ("order", "rollback_order"),
            };
            terminals.push(serde_json::json!({
                "terminal": t,
                given_key: given,
                back_key: g.rolled_back.get(t),
                "now": now,
            }));
        }
        groups.push(serde_json::json!({
            "group": i + 1,
            "percent": g.percent,
            "started": g.started,
            "judged": g.judged,
            "failed": g.failures.len(),
            "terminals": terminals,
        }));
    }
    let mut out = serde_json::json!({
        "kind": plan.what(),
        "state": plan.state,
        "current_group": plan.current + 1,
        "threshold": plan.threshold,
        "groups": groups,
    });
    match &plan.change {
        Change::Document {
            previous_version, ..
        } => out["previous_version"] = serde_json::json!(previous_version),
        Change::Update { bundle, previous } => {
            out["version"] = serde_json::json!(bundle.version);
            out["previous_version"] = serde_json::json!(previous.version);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_protocol::wire::PeripheralReport;

    fn ids(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("T{i:03}")).collect()
    }

    #[test]
    fn groups_are_five_twenty_and_the_rest_with_one_at_least() {
        let sizes = |n| groups(&ids(n)).iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(100), [5, 15, 80]);
        assert_eq!(sizes(40), [2, 6, 32]);
        assert_eq!(sizes(10), [1, 1, 8]);
        assert_eq!(sizes(3), [1, 1, 1]);
        assert_eq!(sizes(2), [1, 1]);
        assert_eq!(sizes(1), [1]);
        assert!(groups(&[]).is_empty());
        // Every terminal once, in order.
        assert_eq!(groups(&ids(37)).concat(), ids(37));
    }

    fn hb(at: DateTime<Utc>, config: Option<u64>, abnormal: bool) -> Heartbeat {
        Heartbeat {
            device_id: "T001".into(),
            at,
            peripherals: vec![PeripheralReport {
                id: "receipt".into(),
                kind: "receipt-printer".into(),
                state: if abnormal { "abnormal" } else { "normal" }.into(),
                health: "online".into(),
                detail: String::new(),
            }],
            queue_pending: 0,
            queue_dead: 0,
            counters: Default::default(),
            audit_head: None,
            documents: config
                .map(|v| ("config".to_string(), v))
                .into_iter()
                .collect(),
            software: None,
        }
    }

    #[test]
    fn a_terminal_passes_with_its_version_in_force_and_nothing_abnormal() {
        let t0 = Utc::now();
        let later = t0 + chrono::Duration::seconds(30);
        let k = DocumentKind::Config;
        assert_eq!(
            judge(Expect::Document(k, 7), t0, Some(&hb(later, Some(7), false))),
            None
        );
        assert_eq!(
            judge(Expect::Document(k, 7), t0, Some(&hb(later, Some(9), false))),
            None
        );
        assert!(judge(Expect::Document(k, 7), t0, None)
            .unwrap()
            .contains("no heartbeat"));
        let before = t0 - chrono::Duration::seconds(1);
        assert!(judge(
            Expect::Document(k, 7),
            t0,
            Some(&hb(before, Some(7), false))
        )
        .unwrap()
        .contains("no heartbeat"));
        assert!(
            judge(Expect::Document(k, 7), t0, Some(&hb(later, Some(6), false)))
                .unwrap()
                .contains("version 6")
        );
        assert!(
            judge(Expect::Document(k, 7), t0, Some(&hb(later, None, false)))
                .unwrap()
                .contains("no config")
        );
        assert!(
            judge(Expect::Document(k, 7), t0, Some(&hb(later, Some(7), true)))
                .unwrap()
                .contains("receipt")
        );
    }

    #[test]
    fn an_update_passes_when_its_version_runs_and_nothing_is_abnormal() {
        let t0 = Utc::now();
        let later = t0 + chrono::Duration::seconds(30);
        let runs = |v: Option<&str>, abnormal| Heartbeat {
            software: v.map(str::to_string),
            ..hb(later, None, abnormal)
        };
        let e = Expect::Software("2.0.0");
        assert_eq!(judge(e, t0, Some(&runs(Some("2.0.0"), false))), None);
        assert!(judge(e, t0, Some(&runs(Some("1.9.0"), false)))
            .unwrap()
            .contains("runs 1.9.0, not 2.0.0"));
        assert!(judge(e, t0, Some(&runs(None, false)))
            .unwrap()
            .contains("no software version"));
        assert!(judge(e, t0, Some(&runs(Some("2.0.0"), true)))
            .unwrap()
            .contains("abnormal"));
    }
}
