//! The window unit's other peripherals for the clerk: the citizen's social-security card on
//! the IC card reader, and materials photographed on the document camera (each page through
//! the document pipeline, sealed in the attachment store and recorded with the ticket's case).

use std::time::Duration;

use kiosk_hal::device::CancelToken;
use kiosk_hal::DeviceKind;

use super::DeskHost;
use crate::flows::window::{DeskProblem, DeskTicket};
use crate::services::{card, iccard};

impl DeskHost {
    /// Waits for the citizen's social-security card and reads its number; the host keeps the
    /// number (for the business system) until the ticket leaves, the desk only its mask.
    pub(super) fn read_ic_card(&self, cancel: CancelToken) -> Result<String, DeskProblem> {
        let cfg = &self.shared.cfg;
        let claim = self.claim_device(
            self.shared.window.ic_reader.as_deref(),
            DeviceKind::CardReader,
            Duration::from_secs(120),
            DeskProblem::IcCard,
            "this window has no IC card reader",
        )?;
        let timeout = Duration::from_secs(self.shared.window.card_timeout_s);
        let ss = iccard::read_ss_card(&cfg.runtime, &claim, card::context(timeout, cancel))
            .map_err(|p| match p {
                iccard::IcCardProblem::NoCard => DeskProblem::NoCard,
                other => DeskProblem::IcCard(other.to_string()),
            })?;
        let masked = ss.masked();
        self.lock().ic_card = Some(ss);
        Ok(masked)
    }

    /// Photographs the page under the document camera, straightens it, seals it and records
    /// it as `window.material` with the ticket and its case.
    pub(super) fn capture_material(
        &self,
        ticket: &DeskTicket,
        staff: &str,
        case_number: Option<&str>,
    ) -> Result<(), DeskProblem> {
        let cfg = &self.shared.cfg;
        let claim = self.claim_device(
            self.shared.window.document_camera.as_deref(),
            DeviceKind::DocumentCamera,
            Duration::from_secs(60),
            DeskProblem::Camera,
            "this window has no document camera",
        )?;
        let page = crate::services::idcopy::still(&cfg.runtime, &claim)
            .and_then(|photo| crate::services::apply::document::page_from_photo(&photo))
            .map_err(|e| {
                DeskProblem::Camera(match e {
                    crate::flows::idcopy::CaptureProblem::NoCard => {
                        "no page lies on the camera's plate".into()
                    }
                    crate::flows::idcopy::CaptureProblem::Camera(d) => d,
                })
            })?;
        let stored = self.seal(&page.jpeg, "image/jpeg")?;
        self.record_for_ticket("window.material", ticket, staff, case_number, stored)
    }
}
