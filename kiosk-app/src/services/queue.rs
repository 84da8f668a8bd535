//! Queue tickets as a journey takes them: a number from the centre (checking in an appointment
//! when there is one), then the ticket printed two-phase on the claimed printer. Every failure
//! comes back as a reason the citizen can be told, and a number whose print failed is voided at
//! the centre when the print result reaches it.

use kiosk_protocol::wire::{Ticket, TicketRequest};

use super::catalogue::{Catalogue, QueueGroup};
use super::outputs::{OutputDesk, OutputError, OutputOutcome, TicketOrder};
use crate::centre::CentreError;
use crate::runtime::Claim;

/// Why no number was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberProblem {
    #[error("the central service cannot be reached: {0}")]
    CentreUnreachable(String),
    #[error("no appointment with this code is booked at this hall")]
    AppointmentUnknown,
    #[error("this appointment is for another service or day: {0}")]
    AppointmentElsewhere(String),
    #[error("this appointment was already checked in: {0}")]
    AppointmentUsed(String),
    #[error("the central service refused: {0}")]
    Refused(String),
}

/// Why a numbered ticket did not print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintProblem {
    #[error("the printer is out of paper")]
    PaperOut,
    #[error("the printer cover is open")]
    CoverOpen,
    #[error("the printer's cutter jammed")]
    CutterJam,
    #[error("the printer failed: {0}")]
    Fault(String),
    #[error("the printer is in use: {0}")]
    Busy(String),
    #[error("the print could not be recorded: {0}")]
    Journal(String),
}

impl PrintProblem {
    /// A stable name for records and tours (`print-paper-out`).
    pub fn code(&self) -> &'static str {
        match self {
            PrintProblem::PaperOut => "print-paper-out",
            PrintProblem::CoverOpen => "print-cover-open",
            PrintProblem::CutterJam => "print-cutter-jam",
            PrintProblem::Fault(_) => "print-fault",
            PrintProblem::Busy(_) => "print-busy",
            PrintProblem::Journal(_) => "print-not-recorded",
        }
    }
}

/// A printed ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub ticket: Ticket,
    pub output_id: String,
    /// A one-way printer could not confirm it.
    pub unconfirmed: bool,
}

/// Asks the centre for a number in `group`. `request_id` must be the same on a retry after a
/// lost answer, so the citizen gets one number, not two.
pub fn number(
    desk: &OutputDesk,
    catalogue: &Catalogue,
    group: &QueueGroup,
    request_id: &str,
    appointment: Option<&str>,
    holder: Option<&str>,
) -> Result<Ticket, NumberProblem> {
    let req = TicketRequest {
        device_id: desk.journal.lock().device_id().to_string(),
        request_id: request_id.to_string(),
        prefix: group.prefix.clone(),
        appointment: appointment.map(str::to_string),
        holder: holder.map(str::to_string),
        age: None,
    };
    match desk.number_ticket(&catalogue.hall.id, &group.id, &req) {
        Ok(t) => Ok(t),
        Err(OutputError::Centre(CentreError::Refused { body, .. })) => {
            let v = serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default();
            let why = v["error"].as_str().map(str::to_string).unwrap_or(body);
            // The centre names which refusal it was.
            Err(match v["reason"].as_str() {
                Some("appointment-unknown") => NumberProblem::AppointmentUnknown,
                Some("appointment-elsewhere") => NumberProblem::AppointmentElsewhere(why),
                Some("appointment-used") => NumberProblem::AppointmentUsed(why),
                _ => NumberProblem::Refused(why),
            })
        }
        Err(OutputError::Centre(e)) => Err(NumberProblem::CentreUnreachable(e.to_string())),
        Err(e) => Err(NumberProblem::CentreUnreachable(e.to_string())),
    }
}

/// Prints `ticket` on the claimed printer, two-phase.
pub fn print(
    desk: &OutputDesk,
    printer: &Claim,
    catalogue: &Catalogue,
    group: &QueueGroup,
    ticket: &Ticket,
    issued_at: &str,
) -> Result<Printed, PrintProblem> {
    let order = TicketOrder {
        hall: &catalogue.hall.id,
        hall_name: &catalogue.hall.name.zh,
        service: &group.id,
        service_name: &group.name.zh,
        issued_at,
        queue_url: &catalogue.queue.status_url,
    };
    let record = desk
        .print_ticket(printer, ticket, &order)
        .map_err(|e| PrintProblem::Journal(e.to_string()))?;
    match record.outcome {
        OutputOutcome::Printed | OutputOutcome::Unconfirmed => Ok(Printed {
            ticket: ticket.clone(),
            output_id: record.output_id,
            unconfirmed: record.outcome == OutputOutcome::Unconfirmed,
        }),
        OutputOutcome::Refused => Err(PrintProblem::Busy(record.detail)),
        OutputOutcome::Failed => Err(classify(&record.detail)),
    }
}

/// A receipt or page output's record as the journey sees it: a printer that cannot confirm
/// counts as printed (the citizen sees the paper), a refusal or a failure as its reason.
pub(crate) fn printed(record: super::outputs::OutputRecord) -> Result<(), PrintProblem> {
    match record.outcome {
        OutputOutcome::Printed | OutputOutcome::Unconfirmed => Ok(()),
        OutputOutcome::Refused => Err(PrintProblem::Busy(record.detail)),
        OutputOutcome::Failed => Err(classify(&record.detail)),
    }
}

/// The printer's own words, as a reason.
pub(crate) fn classify(detail: &str) -> PrintProblem {
    if detail.contains("out of paper")
        || detail.contains("paper end")
        || detail.contains("media-empty")
        || detail.contains("media-needed")
    {
        PrintProblem::PaperOut
    } else if detail.contains("cover") {
        PrintProblem::CoverOpen
    } else if detail.contains("cutter") {
        PrintProblem::CutterJam
    } else {
        PrintProblem::Fault(detail.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_words_become_reasons() {
        assert_eq!(
            classify("user-error: the job failed: the printer is out of paper"),
            PrintProblem::PaperOut
        );
        assert_eq!(
            classify("the printer cover is open"),
            PrintProblem::CoverOpen
        );
        assert_eq!(
            classify("the job failed: the auto-cutter jammed"),
            PrintProblem::CutterJam
        );
        assert!(matches!(classify("timeout"), PrintProblem::Fault(_)));
    }
}
