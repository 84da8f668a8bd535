//! Queue tickets as a journey takes them: a number from the centre (checking in an appointment
//! when there is one), then the ticket printed two-phase on the claimed printer. Every failure
//! comes back as a reason the citizen can be told, and a number whose print failed is voided at
//! the centre when the print result reaches it.

use kiosk_protocol::wire::{Ticket, TicketRequest};

use super::catalogue::{Catalogue, QueueGroup};
use super::outputs::{OutputDesk, OutputError, OutputOutcome, TicketOrder};
use crate::centre::CentreError;
use crate::journal::number_blocks;
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

/// Below this many numbers in hand for when the centre cannot be reached, a machine reserves
/// another block (its size is `[journeys.ticket] offline_numbers`).
const LOW_WATER: u32 = 10;

/// What a citizen's ticket request carries.
#[derive(Debug, Clone, Copy)]
pub struct NumberAsk<'a> {
    /// The same on a retry after a lost answer, so the citizen gets one number, not two.
    pub request_id: &'a str,
    /// An appointment code to check in.
    pub appointment: Option<&'a str>,
    /// The card the citizen identified with, masked.
    pub holder: Option<&'a str>,
    /// Whole years, from the card, for a hall that calls the elderly first.
    pub age: Option<u32>,
    /// `[journeys.ticket] offline_numbers`: 0 issues nothing without the centre.
    pub offline_numbers: u32,
}

/// The hall's day (China Standard Time), as the centre numbers it.
fn hall_day() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string()
}

/// Asks the centre for a number in `group`. `request_id` must be the same on a retry after a
/// lost answer, so the citizen gets one number, not two. When the centre cannot be reached,
/// a plain ticket (not an appointment check-in, which only the centre can check) is numbered
/// from the block this machine reserved, and a `ticket.offline` record brings it into the
/// queue once the centre is back.
pub fn number(
    desk: &OutputDesk,
    catalogue: &Catalogue,
    group: &QueueGroup,
    ask: &NumberAsk<'_>,
) -> Result<Ticket, NumberProblem> {
    let NumberAsk {
        request_id,
        appointment,
        holder,
        age,
        offline_numbers,
    } = *ask;
    let req = TicketRequest {
        device_id: desk.journal.lock().device_id().to_string(),
        request_id: request_id.to_string(),
        prefix: group.prefix.clone(),
        appointment: appointment.map(str::to_string),
        holder: holder.map(str::to_string),
        age,
    };
    match desk.number_ticket(&catalogue.hall.id, &group.id, &req) {
        Ok(t) => {
            if let Err(e) = top_up(desk, &catalogue.hall.id, &group.id, offline_numbers) {
                tracing::warn!(error = %e, service = %group.id, "no numbers reserved for offline tickets");
            }
            Ok(t)
        }
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
        Err(e) => {
            let unreachable = NumberProblem::CentreUnreachable(e.to_string());
            if appointment.is_some() || offline_numbers == 0 {
                return Err(unreachable);
            }
            match offline_number(desk, &catalogue.hall.id, group, &req) {
                Ok(Some(t)) => Ok(t),
                Ok(None) => Err(unreachable),
                Err(e) => Err(NumberProblem::CentreUnreachable(format!(
                    "{unreachable}; and no offline number: {e}"
                ))),
            }
        }
    }
}

/// Keeps numbers of today in hand for `service`: below `LOW_WATER` it reserves a block of
/// `size` more at the centre (0: none). Called after each online ticket and at start.
pub fn top_up(desk: &OutputDesk, hall: &str, service: &str, size: u32) -> Result<u32, OutputError> {
    let day = hall_day();
    let (left, _) = desk.journal.lock().transaction(|tx| {
        number_blocks::forget_before(tx.conn(), &day)?;
        Ok(number_blocks::left(tx.conn(), hall, service, &day)?)
    })?;
    if left >= LOW_WATER.min(size) {
        return Ok(left);
    }
    let centre = desk
        .centre
        .as_ref()
        .ok_or(OutputError::NoCentre("ticket number blocks"))?;
    let req = kiosk_protocol::wire::NumberBlockRequest {
        device_id: desk.journal.lock().device_id().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        size,
    };
    let block = centre.reserve_block(hall, service, &req)?;
    let (left, _) = desk.journal.lock().transaction(|tx| {
        number_blocks::keep(tx.conn(), &block)?;
        Ok(number_blocks::left(tx.conn(), hall, service, &block.day)?)
    })?;
    tracing::info!(
        service,
        first = block.first,
        last = block.last,
        "ticket numbers reserved for offline use"
    );
    Ok(left)
}

/// Numbers in hand of today for any of `hall`'s services (the ticket journey stays open while
/// the centre is away as long as some are left).
pub fn numbers_in_hand(desk: &OutputDesk, hall: &str) -> u32 {
    let day = hall_day();
    desk.journal
        .lock()
        .transaction(|tx| Ok(number_blocks::left_in_hall(tx.conn(), hall, &day)?))
        .map(|(n, _)| n)
        .unwrap_or(0)
}

/// Numbers a ticket from the reserved block, with its `ticket.offline` record in the same
/// journal transaction; `None` when no number of today is left.
fn offline_number(
    desk: &OutputDesk,
    hall: &str,
    group: &QueueGroup,
    req: &TicketRequest,
) -> Result<Option<Ticket>, OutputError> {
    let day = hall_day();
    let issued_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (ticket, _) = desk.journal.lock().transaction(|tx| {
        let seq = number_blocks::take(tx.conn(), hall, &group.id, &day)?;
        let Some(seq) = seq else {
            return Ok(None);
        };
        let number = format!("{}{seq:03}", group.prefix);
        let record = kiosk_protocol::wire::OfflineTicket {
            hall: hall.to_string(),
            service: group.id.clone(),
            day: day.clone(),
            seq,
            number: number.clone(),
            issued_at: issued_at.clone(),
            request_id: req.request_id.clone(),
            holder: req.holder.clone(),
        };
        tx.enqueue("ticket.offline", serde_json::json!({ "ticket": record }))?;
        Ok(Some(Ticket {
            number,
            seq,
            day: day.clone(),
            hall: hall.to_string(),
            service: group.id.clone(),
            state: kiosk_protocol::wire::TicketState::Issued,
            ahead: 0,
            appointment: None,
            offline: true,
        }))
    })?;
    if let Some(t) = &ticket {
        tracing::warn!(number = %t.number, "the centre is out of reach: ticket numbered from the reserved block");
    }
    Ok(ticket)
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
