//! Filing an application: the application PDF made, every part of it sealed into the
//! attachment store, one `case.submitted` record in the journal that refers to them all (the
//! filing exists once that commits, and the screen says "submitted" only then), and the centre
//! asked for the case number. When the centre is away the filing stands under the terminal's
//! reference; the journal record reaches the centre later and the number is made then.
//!
//! The journal record holds no personal data in the clear: the form values, address, pages,
//! signature and PDF are sealed attachments, the holder is a hash, the query password a salted
//! hash.

use kiosk_protocol::cases::{holder_sha256, password_sha256, CaseSubmission, Pickup};
use serde_json::json;
use zeroize::Zeroizing;

use super::document::{application_pdf, form_page, Header};
use super::Application;
use crate::centre::{BlockingCentre, CentreError};
use crate::flows::apply::Filed;
use crate::journal::attachments::AttachmentStore;
use crate::journal::Journal;
use crate::services::card::CitizenIdentity;
use crate::services::outputs::OutputDesk;
use crate::services::queue::PrintProblem;

/// Who files: the applicant, and the agent when someone files for them.
pub struct Who<'a> {
    pub applicant: &'a CitizenIdentity,
    pub agent: Option<&'a CitizenIdentity>,
    /// How the applicant (or agent) identified: `card-face`, `card-finger`, `eid`.
    pub factor: &'a str,
}

/// Where and when.
pub struct When<'a> {
    pub hall: &'a str,
    pub session: u64,
    /// RFC 3339 on the terminal's clock.
    pub at: &'a str,
    /// The hall's local date, `2026-12-03`.
    pub date: &'a str,
}

/// What a filing gives the citizen.
pub struct Receipt {
    pub filed: Filed,
    pub password: Zeroizing<String>,
}

/// Random bytes from the system's generator (what UUID v4 draws on).
fn random_bytes() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

/// `2026120383920174`: the day and eight random digits — digits only, so the citizen can
/// type it on the keypad to look the case up before it has its number (case numbers are 14
/// digits, references 16).
pub fn local_ref(date: &str) -> String {
    let r = random_bytes();
    let n =
        u64::from_le_bytes([r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]]) % 100_000_000;
    format!("{}{n:08}", date.replace('-', ""))
}

/// Six digits.
pub fn query_password() -> Zeroizing<String> {
    let r = random_bytes();
    let n = u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]) % 1_000_000;
    Zeroizing::new(format!("{n:06}"))
}

/// Files `app`. `Err` means nothing was filed (the journal did not take the record); the
/// words say why.
pub fn file(
    app: &Application,
    who: &Who<'_>,
    when: &When<'_>,
    store: &AttachmentStore,
    journal: &Journal,
    centre: Option<&BlockingCentre>,
) -> Result<Receipt, String> {
    let device = journal.lock().device_id().to_string();
    let local_ref = local_ref(when.date);
    let agent_name = who.agent.map(|a| a.name.clone());
    let page = form_page(
        app,
        &Header {
            hall: when.hall,
            local_ref: &local_ref,
            date: when.date,
            agent: agent_name.as_deref(),
        },
    )?;
    // The e-licences taken as materials, as their print-outs at the end of the PDF.
    let mut licence_pages = Vec::new();
    for l in app.licences.iter().flatten() {
        let holder = crate::services::papers::Holder {
            name: &who.applicant.name,
            number: &who.applicant.number,
        };
        licence_pages.extend(crate::services::papers::licence_pages(
            l, &holder, when.hall, when.date,
        )?);
    }
    let pdf = application_pdf(&page, app, &licence_pages)?;
    drop(page);
    drop(licence_pages);

    // The parts, sealed: the form as data, the PDF, the signature as picture and as the
    // strokes with their times, and every page.
    let kept = |e: std::io::Error| format!("keeping the application: {e}");
    let mut values = serde_json::Map::new();
    for (i, e) in app.shape.entries.iter().enumerate() {
        if let Some(v) = app.value(i) {
            values.insert(e.field.field.code.clone(), json!(v));
        }
    }
    let form = Zeroizing::new(
        serde_json::to_vec(&json!({
            "item": app.item.id,
            "values": values,
            "address": app.address.as_deref().map(String::as_str),
            "elicences": app
                .shape
                .licences
                .iter()
                .zip(&app.licences)
                .filter_map(|(w, l)| l.as_ref().map(|l| json!({
                    "material": w.id,
                    "licence_type": l.licence_type,
                    "licence_id": l.licence_id,
                    "issuer": l.issuer,
                })))
                .collect::<Vec<_>>(),
        }))
        .unwrap_or_default(),
    );
    drop(values);
    let signature = {
        let img = app.ink.picture(1000).map_err(|e| e.to_string())?;
        let mut buf = opencv::core::Vector::<u8>::new();
        opencv::imgcodecs::imencode(".png", &img, &mut buf, &opencv::core::Vector::new())
            .map_err(|e| e.to_string())?;
        Zeroizing::new(buf.as_slice().to_vec())
    };
    let strokes = Zeroizing::new(serde_json::to_vec(&app.ink).unwrap_or_default());
    let mut attachments = vec![
        store.put(&form, "application/json").map_err(kept)?,
        store.put(&pdf, "application/pdf").map_err(kept)?,
        store.put(&signature, "image/png").map_err(kept)?,
        store
            .put(&strokes, "application/vnd.hallkit.ink+json")
            .map_err(kept)?,
    ];
    for p in app.pages.iter().flatten() {
        attachments.push(store.put(&p.jpeg, "image/jpeg").map_err(kept)?);
    }

    let password = query_password();
    let salt = hex::encode(random_bytes());
    let filing = CaseSubmission {
        device_id: device,
        local_ref: local_ref.clone(),
        item: app.item.id.clone(),
        item_name: app.item.name.zh.clone(),
        holder_sha256: holder_sha256(&who.applicant.number),
        agent_sha256: who.agent.map(|a| holder_sha256(&a.number)),
        password_sha256: password_sha256(&salt, &password),
        password_salt: salt,
        pickup: app.pickup.unwrap_or(Pickup::Window),
        submitted_at: when.at.to_string(),
        attachments: attachments.iter().map(|a| a.sha256.clone()).collect(),
    };
    let answers: serde_json::Map<String, serde_json::Value> = app
        .answers
        .iter()
        .map(|(q, a)| (q.clone(), json!(a)))
        .collect();
    let payload = json!({
        "case": filing,
        "session": when.session,
        "answers": answers,
        "pages": app.pages.iter().map(Vec::len).sum::<usize>(),
        "elicences": app.licences.iter().flatten().count(),
        "holder": who.applicant.masked_number(),
        "agent": who.agent.map(CitizenIdentity::masked_number),
        "factor": who.factor,
        "attachments": attachments,
    });
    journal
        .lock()
        .transaction(|tx| tx.enqueue("case.submitted", payload))
        .map_err(|e| format!("the journal did not take the application: {e}"))?;

    // Filed. The number is the centre's; without it the reference stands.
    let case_number = match centre.map(|c| c.file_case(&filing)) {
        Some(Ok(case)) => Some(case.case_number),
        Some(Err(CentreError::Unreachable(e))) => {
            tracing::info!(reference = %local_ref, error = %e, "filed offline; the case number follows when the centre has the record");
            None
        }
        Some(Err(e)) => {
            tracing::warn!(reference = %local_ref, error = %e, "the centre did not number the case now; the journal record files it");
            None
        }
        None => None,
    };
    Ok(Receipt {
        filed: Filed {
            local_ref,
            case_number,
        },
        password,
    })
}

/// How the result is collected, as the receipt says it.
pub fn pickup_words(p: Option<Pickup>) -> &'static str {
    match p {
        Some(Pickup::Mail) => "邮寄送达",
        Some(Pickup::Locker) => "智能柜自取（凭查询密码）",
        _ => "窗口领取",
    }
}

/// The receipt's (受理回执) print arguments: the number (or the reference, with a line saying
/// the number follows), the password, the item, the applicant masked, the pages taken.
pub fn receipt_args(
    app: &Application,
    applicant: &CitizenIdentity,
    filed: &Filed,
    password: &str,
    hall: &str,
    query_url: &str,
    accepted_at: &str,
) -> serde_json::Value {
    let number = filed
        .case_number
        .clone()
        .unwrap_or_else(|| filed.local_ref.clone());
    let note = if filed.case_number.is_none() {
        "办件编号待中心分配，可凭本受理号和查询密码查询"
    } else {
        ""
    };
    let materials = app.materials_zh();
    let url = if query_url.is_empty() {
        String::new()
    } else {
        format!("{}?case={number}", query_url.trim_end_matches('/'))
    };
    json!({
        "template": "application-receipt",
        "hall": hall,
        "case_number": number,
        "query_password": password,
        "service": app.item.name.zh,
        "applicant": applicant.masked_name(),
        "id_number_masked": applicant.masked_number(),
        "materials": materials,
        "accepted_at": accepted_at,
        "promised_by": app.item.guide.time_limit.zh,
        "query_url": url,
        "pickup": pickup_words(app.pickup),
        "note": note,
    })
}

/// Prints the receipt two-phase; a printer that cannot confirm counts as printed.
pub fn print_receipt(
    desk: &OutputDesk,
    printer: &crate::runtime::Claim,
    args: serde_json::Value,
) -> Result<(), PrintProblem> {
    let record = desk
        .print_receipt(printer, "application-receipt", args)
        .map_err(|e| PrintProblem::Journal(e.to_string()))?;
    super::super::queue::printed(record)
}
