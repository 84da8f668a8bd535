//! The citizen's social-security card (社会保障卡) on a PC/SC reader: wait for the card, select
//! the social-security application, read the card-identification file's record 7 (the card
//! number, tag 07). The number is held wiped-on-drop; screens and logs get it masked.

use kiosk_drivers::pcsc::apdu::Command;
use kiosk_hal::actor::CommandContext;
use kiosk_hal::device::CompletionCode;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::runtime::{CallError, Claim, Runtime};

/// The card-identification file (卡识别信息) of the social-security application.
const CARD_FILE: u16 = 0xEF05;
/// Its record with the social-security card number.
const NUMBER_RECORD: u8 = 7;
const NUMBER_TAG: u8 = 0x07;

/// A social-security card as read.
pub struct SsCard {
    pub number: Zeroizing<String>,
}

impl SsCard {
    /// `D123****8`: the first four and the last one kept.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.number.chars().collect();
        if chars.len() <= 5 {
            return "*".repeat(chars.len());
        }
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 1..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(chars.len() - 5))
    }
}

impl std::fmt::Debug for SsCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SsCard({})", self.masked())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcCardProblem {
    #[error("no card was inserted in time")]
    NoCard,
    #[error("this card is not a social-security card: {0}")]
    NotSsCard(String),
    #[error("the card's answer cannot be read: {0}")]
    Unreadable(String),
    #[error("the IC card reader is not working: {0}")]
    Reader(String),
    #[error("the IC card reader is in use: {0}")]
    Busy(String),
    #[error("canceled")]
    Canceled,
}

fn from_call(e: CallError) -> IcCardProblem {
    let Some(d) = e.device_error() else {
        return IcCardProblem::Busy(e.to_string());
    };
    match d.code {
        CompletionCode::Canceled => IcCardProblem::Canceled,
        CompletionCode::Timeout => IcCardProblem::NoCard,
        CompletionCode::InvalidData => IcCardProblem::NotSsCard(d.detail.clone()),
        _ => IcCardProblem::Reader(d.detail.clone()),
    }
}

/// One APDU through the claimed reader: the response data, or why not.
fn transmit(
    rt: &Runtime,
    reader: &Claim,
    cmd: Command,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, IcCardProblem> {
    let bytes = cmd
        .encode()
        .map_err(|e| IcCardProblem::Reader(e.to_string()))?;
    let mut answer = rt
        .call_with(
            reader,
            "pcsc-apdu",
            json!({ "apdu": hex::encode(bytes) }),
            CommandContext::with_timeout(std::time::Duration::from_secs(5)),
        )
        .map_err(from_call)?;
    let sw = answer["sw"].as_str().unwrap_or_default().to_string();
    let data = answer["data"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .map(Zeroizing::new);
    crate::services::card::wipe_json(&mut answer);
    if sw != "9000" {
        return Err(IcCardProblem::NotSsCard(format!("{what}: status {sw}")));
    }
    data.ok_or_else(|| IcCardProblem::Unreadable(format!("{what}: no data")))
}

/// The card number from record 7's TLV (`07 len number`, padded with spaces).
pub fn number_from_record(record: &[u8]) -> Result<Zeroizing<String>, IcCardProblem> {
    let bad = |why: &str| IcCardProblem::Unreadable(why.to_string());
    let (&tag, rest) = record.split_first().ok_or_else(|| bad("an empty record"))?;
    if tag != NUMBER_TAG {
        return Err(bad("the record is not the card number"));
    }
    let (&len, rest) = rest.split_first().ok_or_else(|| bad("no length"))?;
    let value = rest
        .get(..usize::from(len))
        .ok_or_else(|| bad("the number is cut short"))?;
    let text = std::str::from_utf8(value).map_err(|_| bad("the number is not text"))?;
    let number = text.trim_end_matches([' ', '\0']).trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("the number has other characters"));
    }
    Ok(Zeroizing::new(number.to_string()))
}

/// Waits up to `ctx.timeout` for a card on the claimed reader and reads its number.
pub fn read_ss_card(
    rt: &Runtime,
    reader: &Claim,
    ctx: CommandContext,
) -> Result<SsCard, IcCardProblem> {
    rt.call_with(reader, "wait-card", Value::Null, ctx)
        .map_err(from_call)?;
    rt.call_with(
        reader,
        "select-ssc",
        Value::Null,
        CommandContext::with_timeout(std::time::Duration::from_secs(5)),
    )
    .map_err(from_call)?;
    transmit(rt, reader, Command::select_file(CARD_FILE), "SELECT EF05")?;
    let record = transmit(
        rt,
        reader,
        Command::read_record(NUMBER_RECORD, 0),
        "READ RECORD 7",
    )?;
    Ok(SsCard {
        number: number_from_record(&record)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_comes_from_its_record_and_bad_records_are_refused() {
        let mut r = vec![0x07, 0x09];
        r.extend_from_slice(b"D1234567 ");
        assert_eq!(number_from_record(&r).unwrap().as_str(), "D1234567");
        let card = SsCard {
            number: Zeroizing::new("D12345678".into()),
        };
        assert_eq!(card.masked(), "D123****8");
        assert_eq!(format!("{card:?}"), "SsCard(D123****8)");
        for bad in [
            &[][..],
            &[0x07][..],
            &[0x08, 0x01, b'A'][..],
            &[0x07, 0x09, b'D', b'1'][..],
            &[0x07, 0x02, b'D', 0xff][..],
            &[0x07, 0x02, b' ', b' '][..],
            &[0x07, 0x03, b'D', b'-', b'1'][..],
        ] {
            assert!(number_from_record(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_record_is_read_or_refused_without_panicking(r in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = number_from_record(&r);
        }
    }
}
