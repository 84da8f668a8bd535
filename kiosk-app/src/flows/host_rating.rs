//! The host's side of the rating (好差评): one `session.rated` record in the journal with the
//! level and tags, and the complaint typed for a low level sealed in the attachment store (it
//! is the citizen's own words and may name them), referred to by its hash. The sync uploads
//! both to the centre. An application's rating names its case.

use serde_json::json;
use zeroize::Zeroizing;

use super::Worker;
use crate::flows::rating::Level;

impl Worker {
    /// `case`: the case the rating is for (an application's number or reference): the centre
    /// keeps one rating per case.
    pub(super) fn record_rating(
        &mut self,
        level: Level,
        tags: &[String],
        complaint: bool,
        case: Option<&str>,
    ) {
        let Some(session) = self.session.as_ref() else {
            return;
        };
        let mut attachments = Vec::new();
        if complaint {
            let text = self
                .typed()
                .map(|t| Zeroizing::new(t.trim().as_bytes().to_vec()));
            let stored = text.map(|t| {
                crate::terminal::attachment_store(&self.cfg.config)
                    .and_then(|store| store.put(&t, "text/plain; charset=utf-8"))
            });
            match stored {
                Some(Ok(r)) => attachments.push(r),
                Some(Err(e)) => {
                    tracing::error!(error = %e, "the complaint could not be kept; the rating goes without it")
                }
                None => {}
            }
        }
        let payload = json!({
            "session": session.id,
            "journey": session.journey,
            "level": level.score(),
            "level_name": level.as_str(),
            "tags": tags,
            "complaint": !attachments.is_empty(),
            "at": self.cfg.runtime.events.now(),
            "attachments": attachments,
        });
        let mut payload = payload;
        if let Some(c) = case {
            payload["case"] = json!(c);
        }
        if let Err(e) = self.cfg.journal.lock().enqueue("session.rated", payload) {
            tracing::error!(error = %e, "the rating could not be recorded");
        }
    }
}
