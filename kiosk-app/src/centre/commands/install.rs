//! `install-update`: the bundle the centre names is fetched into the staging area (a fetch cut
//! short resumes), checked against its hash and the pinned publisher keys, and left for the
//! installer (`terminal::update_install`), which installs it at the first moment allowed and
//! restarts the kiosk into it. The answer says it is staged; how the update ended comes later
//! as a `system.update.outcome` event.

use kiosk_protocol::wire::CommandAck;
use serde_json::json;

use super::RemoteCommands;
use crate::update::staging::{Order, StageError, Staging};

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("fetching the bundle from the centre: {0}")]
    Centre(#[from] crate::centre::CentreError),
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("the centre names the bundle {actual} bytes, the order {ordered}")]
    Size { ordered: u64, actual: u64 },
    #[error("the centre sent nothing at byte {0}")]
    Stalled(u64),
    #[error("the check ran on a thread that failed: {0}")]
    Thread(String),
}

impl FetchError {
    /// A refusal of the bundle itself (not a network failure): recorded as the update's outcome.
    fn refuses_bundle(&self) -> bool {
        matches!(
            self,
            FetchError::Stage(
                StageError::HashMismatch { .. }
                    | StageError::Bundle(_)
                    | StageError::VersionMismatch { .. }
            )
        )
    }
}

impl RemoteCommands {
    async fn fetch(&self, staging: &Staging, order: &Order) -> Result<(), FetchError> {
        let mut have = staging.begin(order)?;
        while have < order.size {
            let (bytes, size) = self.centre.update_chunk(&order.sha256, have).await?;
            if size != order.size {
                return Err(FetchError::Size {
                    ordered: order.size,
                    actual: size,
                });
            }
            if bytes.is_empty() {
                return Err(FetchError::Stalled(have));
            }
            have = staging.append(order, &bytes)?;
        }
        let (staging, order, trusted) = (staging.clone(), order.clone(), self.trusted_keys.clone());
        tokio::task::spawn_blocking(move || staging.finish(&order, &trusted))
            .await
            .map_err(|e| FetchError::Thread(e.to_string()))??;
        Ok(())
    }

    pub(super) async fn stage_update(
        &self,
        id: u64,
        version: &str,
        sha256: &str,
        size: u64,
    ) -> CommandAck {
        let fail = |detail: String| CommandAck {
            ok: false,
            result: serde_json::Value::Null,
            detail,
        };
        let Some(base) = &self.update_base else {
            return fail(
                "this terminal is not updated in place (its configuration has no [update] section)"
                    .into(),
            );
        };
        let order = Order {
            version: version.into(),
            sha256: sha256.into(),
            size,
            command: id,
        };
        let staging = Staging::new(base);
        match self.fetch(&staging, &order).await {
            Ok(()) => {
                self.runtime.events.emit(
                    kiosk_protocol::Event::new(
                        kiosk_protocol::EventKind::UpdateStaged,
                        self.runtime.events.now(),
                    )
                    .field("version", version)
                    .field("sha256", sha256)
                    .field("command", id),
                );
                CommandAck {
                    ok: true,
                    result: json!({ "staged": version, "sha256": sha256 }),
                    detail: "fetched and checked; installed at the first moment with no citizen at the screen and outside business hours, then the kiosk restarts into it".into(),
                }
            }
            Err(e) => {
                if e.refuses_bundle() {
                    let slots = crate::update::Slots::new(base.clone());
                    if let Err(err) = slots.record_refusal(version, &e.to_string()) {
                        tracing::warn!(error = %err, "the refusal was not recorded");
                    }
                    match slots.take_unreported() {
                        Ok(Some(o)) => self
                            .runtime
                            .events
                            .emit(crate::update::outcome_event(&o, self.runtime.events.now())),
                        Ok(None) => {}
                        Err(err) => tracing::warn!(error = %err, "the outcome was not read"),
                    }
                }
                fail(e.to_string())
            }
        }
    }
}
