//! SW3, the SAM's status byte, as a closed set with what each value means to a flow.

use std::fmt;

use kiosk_hal::device::{CommandError, CompletionCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SamStatus {
    Ok,
    ItemAbsent,
    CardFound,
    HostChecksumError,
    HostLengthError,
    BadCommand,
    Unauthorised,
    UnknownError,
    CardFailedToAuthenticateSam,
    SamFailedToAuthenticateCard,
    VerificationError,
    FingerprintDataError,
    LengthError,
    UnknownCardType,
    ReadFailed,
    RandomNumberFailed,
    SamSelfTestFailed,
    SamNotAuthorised,
    FindFailed,
    SelectFailed,
    /// A value the protocol note does not list.
    Other(u8),
}

impl SamStatus {
    pub fn from_sw3(sw3: u8) -> SamStatus {
        use SamStatus::*;
        match sw3 {
            0x90 => Ok,
            0x91 => ItemAbsent,
            0x9F => CardFound,
            0x10 => HostChecksumError,
            0x11 => HostLengthError,
            0x21 => BadCommand,
            0x23 => Unauthorised,
            0x24 => UnknownError,
            0x31 => CardFailedToAuthenticateSam,
            0x32 => SamFailedToAuthenticateCard,
            0x33 => VerificationError,
            0x37 => FingerprintDataError,
            0x3F => LengthError,
            0x40 => UnknownCardType,
            0x41 => ReadFailed,
            0x47 => RandomNumberFailed,
            0x60 => SamSelfTestFailed,
            0x66 => SamNotAuthorised,
            0x80 => FindFailed,
            0x81 => SelectFailed,
            other => Other(other),
        }
    }

    pub fn sw3(self) -> u8 {
        use SamStatus::*;
        match self {
            Ok => 0x90,
            ItemAbsent => 0x91,
            CardFound => 0x9F,
            HostChecksumError => 0x10,
            HostLengthError => 0x11,
            BadCommand => 0x21,
            Unauthorised => 0x23,
            UnknownError => 0x24,
            CardFailedToAuthenticateSam => 0x31,
            SamFailedToAuthenticateCard => 0x32,
            VerificationError => 0x33,
            FingerprintDataError => 0x37,
            LengthError => 0x3F,
            UnknownCardType => 0x40,
            ReadFailed => 0x41,
            RandomNumberFailed => 0x47,
            SamSelfTestFailed => 0x60,
            SamNotAuthorised => 0x66,
            FindFailed => 0x80,
            SelectFailed => 0x81,
            Other(b) => b,
        }
    }

    pub fn is_success(self) -> bool {
        matches!(self, SamStatus::Ok | SamStatus::CardFound)
    }

    /// What the person at the terminal or the technician should be told.
    pub fn message_en(self) -> &'static str {
        use SamStatus::*;
        match self {
            Ok => "ok",
            ItemAbsent => "the card has no such item (no fingerprint or appended address)",
            CardFound => "card found",
            HostChecksumError => "the reader rejected the host frame's checksum",
            HostLengthError => "the reader rejected the host frame's length",
            BadCommand => "the reader does not know the command",
            Unauthorised => "operation not authorised",
            UnknownError => "unknown reader error",
            CardFailedToAuthenticateSam => "the card failed to authenticate the SAM",
            SamFailedToAuthenticateCard => {
                "the SAM failed to authenticate the card (not a genuine card?)"
            }
            VerificationError => "verification error",
            FingerprintDataError => "the card's fingerprint data is invalid",
            LengthError => "length error",
            UnknownCardType => "unknown card type",
            ReadFailed => "reading failed: the card moved; place it flat and still",
            RandomNumberFailed => "the card did not return a random number",
            SamSelfTestFailed => "the SAM module failed its self-test",
            SamNotAuthorised => "the SAM module is not authorised",
            FindFailed => "no card on the reader (or the card was read and not lifted yet)",
            SelectFailed => "selecting the card failed",
            Other(_) => "undocumented status",
        }
    }

    /// The completion code a failed command ends with.
    pub fn completion(self) -> CompletionCode {
        use SamStatus::*;
        match self {
            Ok | CardFound => CompletionCode::Success,
            ItemAbsent => CompletionCode::Unsupported,
            FindFailed | SelectFailed | ReadFailed => CompletionCode::UserError,
            HostChecksumError | HostLengthError | BadCommand | LengthError => {
                CompletionCode::InvalidData
            }
            CardFailedToAuthenticateSam
            | SamFailedToAuthenticateCard
            | VerificationError
            | FingerprintDataError
            | UnknownCardType
            | RandomNumberFailed => CompletionCode::InvalidData,
            Unauthorised | UnknownError | SamSelfTestFailed | SamNotAuthorised | Other(_) => {
                CompletionCode::HardwareError
            }
        }
    }

    pub fn into_error(self) -> CommandError {
        let code = match self.completion() {
            CompletionCode::Success => CompletionCode::HardwareError,
            c => c,
        };
        CommandError::new(code, self.to_string())
    }
}

impl fmt::Display for SamStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SW3 {:02X}: {}", self.sw3(), self.message_en())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips_and_maps_to_a_completion() {
        for b in 0..=255u8 {
            let s = SamStatus::from_sw3(b);
            assert_eq!(s.sw3(), b);
            let _ = s.completion();
            assert!(s.to_string().starts_with(&format!("SW3 {b:02X}")));
        }
        assert_eq!(
            SamStatus::from_sw3(0x66).into_error().code,
            CompletionCode::HardwareError
        );
        assert_eq!(
            SamStatus::from_sw3(0x41).into_error().code,
            CompletionCode::UserError
        );
        assert!(SamStatus::from_sw3(0x9F).is_success());
    }
}
