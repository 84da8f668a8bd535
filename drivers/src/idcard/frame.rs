//! The SAM frame codec of 2nd-generation ID card readers (GA/T 467).
//!
//! ```text
//! host -> SAM : AA AA AA 96 69 | LEN(2 BE) | CMD | PARA | DATA… | CHK
//! SAM -> host : AA AA AA 96 69 | LEN(2 BE) | SW1 SW2 SW3 | DATA… | CHK
//! ```
//!
//! LEN counts every byte after the length field, CHK included; CHK is the XOR of every byte
//! from the first length byte to the last data byte.

use kiosk_hal::frame::{FrameCheck, FrameSpec};

pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// Preamble and length field.
pub const HEADER_LEN: usize = 7;
/// The longest reply: text + photo + 1024-byte fingerprint is 2321 bytes; leave headroom.
pub const MAX_FRAME_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is shorter than a SAM frame")]
    TooShort(usize),
    #[error("frame does not start with the SAM preamble AA AA AA 96 69")]
    BadPreamble,
    #[error("length field says {declared} bytes follow, but {actual} do")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("checksum is {got:02X}, the bytes give {expected:02X}")]
    Checksum { expected: u8, got: u8 },
    #[error("frame data is too long for the length field ({0} bytes)")]
    TooLong(usize),
}

/// XOR of all bytes.
pub fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

fn encode(body: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = body.len() + 1;
    let len16 = u16::try_from(len).map_err(|_| FrameError::TooLong(len))?;
    let mut f = Vec::with_capacity(HEADER_LEN + len);
    f.extend_from_slice(&PREAMBLE);
    f.extend_from_slice(&len16.to_be_bytes());
    f.extend_from_slice(body);
    let chk = xor(&f[5..]);
    f.push(chk);
    Ok(f)
}

/// A host → SAM command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cmd: u8,
    pub para: u8,
    pub data: Vec<u8>,
}

impl Command {
    pub const RESET: (u8, u8) = (0x10, 0xFF);
    pub const STATUS: (u8, u8) = (0x11, 0xFF);
    pub const SAM_ID: (u8, u8) = (0x12, 0xFF);
    pub const FIND: (u8, u8) = (0x20, 0x01);
    pub const SELECT: (u8, u8) = (0x20, 0x02);
    pub const READ: (u8, u8) = (0x30, 0x01);
    pub const READ_ADDRESS: (u8, u8) = (0x30, 0x03);
    pub const READ_WITH_FP: (u8, u8) = (0x30, 0x10);

    pub fn new((cmd, para): (u8, u8)) -> Self {
        Command {
            cmd,
            para,
            data: Vec::new(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut body = vec![self.cmd, self.para];
        body.extend_from_slice(&self.data);
        // Commands carry at most a few bytes; the length always fits.
        encode(&body).unwrap_or_default()
    }

    pub fn decode(frame: &[u8]) -> Result<Command, FrameError> {
        let body = check_frame(frame)?;
        if body.len() < 2 {
            return Err(FrameError::TooShort(frame.len()));
        }
        Ok(Command {
            cmd: body[0],
            para: body[1],
            data: body[2..].to_vec(),
        })
    }
}

/// A SAM → host reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub sw1: u8,
    pub sw2: u8,
    pub sw3: u8,
    pub data: Vec<u8>,
}

impl Reply {
    pub fn new(sw3: u8, data: Vec<u8>) -> Self {
        Reply {
            sw1: 0,
            sw2: 0,
            sw3,
            data,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut body = vec![self.sw1, self.sw2, self.sw3];
        body.extend_from_slice(&self.data);
        encode(&body)
    }

    pub fn decode(frame: &[u8]) -> Result<Reply, FrameError> {
        let body = check_frame(frame)?;
        if body.len() < 3 {
            return Err(FrameError::TooShort(frame.len()));
        }
        Ok(Reply {
            sw1: body[0],
            sw2: body[1],
            sw3: body[2],
            data: body[3..].to_vec(),
        })
    }
}

/// Checks preamble, length and checksum; returns the bytes between the length and the checksum.
fn check_frame(frame: &[u8]) -> Result<&[u8], FrameError> {
    if frame.len() < HEADER_LEN + 1 {
        return Err(FrameError::TooShort(frame.len()));
    }
    if frame[..5] != PREAMBLE {
        return Err(FrameError::BadPreamble);
    }
    let declared = usize::from(u16::from_be_bytes([frame[5], frame[6]]));
    let actual = frame.len() - HEADER_LEN;
    if declared != actual {
        return Err(FrameError::LengthMismatch { declared, actual });
    }
    let last = frame.len() - 1;
    let expected = xor(&frame[5..last]);
    if expected != frame[last] {
        return Err(FrameError::Checksum {
            expected,
            got: frame[last],
        });
    }
    Ok(&frame[HEADER_LEN..last])
}

/// Length-driven framing for [`kiosk_hal::frame::FrameReceiver`]: resynchronises on the
/// preamble, so noise before a frame and a frame split anywhere are both fine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SamFrameSpec;

impl FrameSpec for SamFrameSpec {
    fn check(&self, buf: &[u8]) -> FrameCheck {
        let n = buf.len().min(PREAMBLE.len());
        if buf[..n] != PREAMBLE[..n] {
            // Skip to the next byte that could start a preamble.
            let skip = buf[1..]
                .iter()
                .position(|&b| b == PREAMBLE[0])
                .map_or(buf.len(), |p| p + 1);
            return FrameCheck::Skip(skip);
        }
        if buf.len() < HEADER_LEN {
            return FrameCheck::NeedMore(HEADER_LEN - buf.len());
        }
        let len = usize::from(u16::from_be_bytes([buf[5], buf[6]]));
        if !(2..=MAX_FRAME_LEN).contains(&len) {
            return FrameCheck::Skip(1);
        }
        let total = HEADER_LEN + len;
        if buf.len() < total {
            FrameCheck::NeedMore(total - buf.len())
        } else {
            FrameCheck::Complete(total)
        }
    }

    fn max_frame_len(&self) -> usize {
        HEADER_LEN + MAX_FRAME_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::frame::FrameReceiver;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn worked_frames_from_the_protocol_note() {
        assert_eq!(
            Command::new(Command::FIND).encode(),
            hex("AA AA AA 96 69 00 03 20 01 22")
        );
        assert_eq!(
            Command::new(Command::SELECT).encode(),
            hex("AA AA AA 96 69 00 03 20 02 21")
        );
        assert_eq!(
            Command::new(Command::READ).encode(),
            hex("AA AA AA 96 69 00 03 30 01 32")
        );
        assert_eq!(
            Command::new(Command::READ_WITH_FP).encode(),
            hex("AA AA AA 96 69 00 03 30 10 23")
        );
        assert_eq!(
            Command::new(Command::READ_ADDRESS).encode(),
            hex("AA AA AA 96 69 00 03 30 03 30")
        );
        assert_eq!(
            Command::new(Command::SAM_ID).encode(),
            hex("AA AA AA 96 69 00 03 12 FF EE")
        );
        let found = Reply::decode(&hex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")).unwrap();
        assert_eq!((found.sw3, found.data.len()), (0x9F, 4));
        assert_eq!(
            Reply::decode(&hex("AA AA AA 96 69 00 04 00 00 80 84"))
                .unwrap()
                .sw3,
            0x80
        );
        let selected = hex("AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C");
        assert_eq!(
            Reply::decode(&selected).unwrap().encode().unwrap(),
            selected
        );
        assert_eq!(
            Reply::decode(&hex("AA AA AA 96 69 00 04 00 00 41 45"))
                .unwrap()
                .sw3,
            0x41
        );
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        assert_eq!(Reply::decode(&hex("AA AA")), Err(FrameError::TooShort(2)));
        assert_eq!(
            Reply::decode(&hex("AA AA AB 96 69 00 04 00 00 80 84")),
            Err(FrameError::BadPreamble)
        );
        assert_eq!(
            Reply::decode(&hex("AA AA AA 96 69 00 05 00 00 80 84")),
            Err(FrameError::LengthMismatch {
                declared: 5,
                actual: 4
            })
        );
        assert_eq!(
            Reply::decode(&hex("AA AA AA 96 69 00 04 00 00 80 85")),
            Err(FrameError::Checksum {
                expected: 0x84,
                got: 0x85
            })
        );
    }

    #[test]
    fn spec_resyncs_after_noise_and_a_false_preamble() {
        let f = Reply::new(0x90, vec![1, 2, 3]).encode().unwrap();
        let mut stream = hex("00 AA AA 13 AA AA AA 96");
        stream.extend_from_slice(&f);
        let mut rx = FrameReceiver::new();
        let mut frames = Vec::new();
        for b in stream.chunks(1) {
            if let Some(fr) = rx.push_and_take(b, &SamFrameSpec).unwrap() {
                frames.push(fr);
            }
        }
        assert_eq!(frames, vec![f]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Reply::decode(&bytes);
            let _ = Command::decode(&bytes);
            if !bytes.is_empty() {
                let _ = SamFrameSpec.check(&bytes);
            }
        }

        #[test]
        fn replies_round_trip_through_any_split(sw3 in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..1400), split in 1usize..300) {
            let f = Reply::new(sw3, data.clone()).encode().unwrap();
            let mut rx = FrameReceiver::new();
            let mut got = None;
            for c in f.chunks(split) {
                if let Some(fr) = rx.push_and_take(c, &SamFrameSpec).unwrap() {
                    got = Some(fr);
                }
            }
            let r = Reply::decode(&got.unwrap()).unwrap();
            prop_assert_eq!((r.sw3, r.data), (sw3, data));
        }
    }
}
