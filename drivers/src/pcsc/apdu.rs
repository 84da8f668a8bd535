//! ISO 7816-4 command and response APDUs.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("a command APDU needs at least CLA INS P1 P2 (got {0} bytes)")]
    TooShort(usize),
    #[error("Lc says {lc} data bytes, but {actual} follow")]
    BadLc { lc: usize, actual: usize },
    #[error("a response needs at least SW1 SW2")]
    NoStatus,
    #[error("APDU data of {0} bytes needs extended length, which this reader path does not use")]
    TooLong(usize),
    #[error("not hex: {0}")]
    Hex(String),
}

/// A short-form command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length (`Some(0)` means 256).
    pub le: Option<u8>,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<u8>) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        }
    }

    /// SELECT by DF name (AID), first occurrence, FCI returned.
    pub fn select_aid(aid: &[u8]) -> Self {
        Command::new(0x00, 0xA4, 0x04, 0x00, aid.to_vec(), Some(0))
    }

    /// SELECT an elementary file by its two-byte id under the current DF.
    pub fn select_file(fid: u16) -> Self {
        Command::new(0x00, 0xA4, 0x02, 0x00, fid.to_be_bytes().to_vec(), None)
    }

    pub fn read_record(record: u8, le: u8) -> Self {
        Command::new(0x00, 0xB2, record, 0x04, Vec::new(), Some(le))
    }

    /// PC/SC part 3's GET DATA for the card's UID (`FF CA 00 00 00`). The reader answers it
    /// itself for a contactless card (a staff badge); a contact card has no UID to give.
    pub fn get_uid() -> Self {
        Command::new(0xFF, 0xCA, 0x00, 0x00, Vec::new(), Some(0))
    }

    pub fn get_challenge(len: u8) -> Self {
        Command::new(0x00, 0x84, 0x00, 0x00, Vec::new(), Some(len))
    }

    pub fn encode(&self) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > 255 {
            return Err(ApduError::TooLong(self.data.len()));
        }
        let mut b = vec![self.cla, self.ins, self.p1, self.p2];
        if !self.data.is_empty() {
            b.push(self.data.len() as u8);
            b.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            b.push(le);
        }
        Ok(b)
    }

    /// Parses a short-form command APDU (cases 1 to 4).
    pub fn parse(b: &[u8]) -> Result<Command, ApduError> {
        if b.len() < 4 {
            return Err(ApduError::TooShort(b.len()));
        }
        let (cla, ins, p1, p2) = (b[0], b[1], b[2], b[3]);
        let body = &b[4..];
        let (data, le) = match body.len() {
            0 => (Vec::new(), None),
            1 => (Vec::new(), Some(body[0])),
            _ => {
                let lc = usize::from(body[0]);
                let rest = &body[1..];
                if lc == 0 || rest.len() < lc || rest.len() > lc + 1 {
                    return Err(ApduError::BadLc {
                        lc,
                        actual: rest.len(),
                    });
                }
                (rest[..lc].to_vec(), rest.get(lc).copied())
            }
        };
        Ok(Command {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }
}

/// A response APDU: data and the status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    pub fn parse(b: &[u8]) -> Result<Response, ApduError> {
        if b.len() < 2 {
            return Err(ApduError::NoStatus);
        }
        let n = b.len() - 2;
        Ok(Response {
            data: b[..n].to_vec(),
            sw: u16::from_be_bytes([b[n], b[n + 1]]),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.data.clone();
        b.extend_from_slice(&self.sw.to_be_bytes());
        b
    }

    pub fn ok(data: Vec<u8>) -> Self {
        Response { data, sw: 0x9000 }
    }

    pub fn status(sw: u16) -> Self {
        Response {
            data: Vec::new(),
            sw,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.sw == 0x9000 || self.sw >> 8 == 0x61
    }

    pub fn sw_text(&self) -> &'static str {
        match self.sw {
            0x9000 => "ok",
            0x6A82 => "file or application not found",
            0x6A86 => "wrong P1 P2",
            0x6982 => "security status not satisfied",
            0x6A81 => "function not supported",
            0x6D00 => "instruction not supported",
            0x6E00 => "class not supported",
            0x6700 => "wrong length",
            sw if sw >> 8 == 0x61 => "more data available",
            sw if sw >> 8 == 0x6C => "wrong Le",
            _ => "error",
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SW {:04X} ({}), {} data bytes",
            self.sw,
            self.sw_text(),
            self.data.len()
        )
    }
}

pub fn parse_hex(s: &str) -> Result<Vec<u8>, ApduError> {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&compact).map_err(|e| ApduError::Hex(e.to_string()))
}

/// The social-security card's application (中华人民共和国社会保障卡, "SSSE"): the DF name
/// `sx1.sh.` followed by 社会保障 in GBK.
pub const SSSE_AID: &[u8] = b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cases_round_trip() {
        let c = Command::select_aid(SSSE_AID);
        let b = c.encode().unwrap();
        assert_eq!(&b[..5], &[0x00, 0xA4, 0x04, 0x00, 0x0F]);
        assert_eq!(Command::parse(&b).unwrap(), c);
        for c in [
            Command::get_challenge(8),
            Command::select_file(0xEF05),
            Command::new(0x80, 0xCA, 0, 0, vec![], None),
        ] {
            assert_eq!(Command::parse(&c.encode().unwrap()).unwrap(), c);
        }
        assert_eq!(Command::parse(&[0, 1, 2]), Err(ApduError::TooShort(3)));
        assert_eq!(
            Command::parse(&[0, 0xA4, 4, 0, 5, 1, 2]),
            Err(ApduError::BadLc { lc: 5, actual: 2 })
        );
        let r = Response::parse(&[1, 2, 0x90, 0x00]).unwrap();
        assert!(r.is_ok());
        assert_eq!(r.encode(), vec![1, 2, 0x90, 0x00]);
        assert_eq!(Response::parse(&[0x90]), Err(ApduError::NoStatus));
        assert_eq!(
            Response::status(0x6A82).to_string(),
            "SW 6A82 (file or application not found), 0 data bytes"
        );
        assert_eq!(parse_hex("00 a4:04 00").unwrap(), vec![0, 0xA4, 4, 0]);
        assert!(parse_hex("0g").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(c) = Command::parse(&b) {
                prop_assert_eq!(c.encode().unwrap(), b.clone());
            }
            let _ = Response::parse(&b);
        }
    }
}
