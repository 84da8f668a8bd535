//! Frames of the HallKit seal-module serial protocol (docs/SEAL-PROTOCOL.md):
//! `A5 LEN SEQ CMD DATA… CHK 5A`, LEN counting SEQ, CMD and DATA, CHK the XOR of LEN through
//! the last data byte. Replies echo SEQ, set bit 7 of CMD and start DATA with a result code and
//! the status byte.

use kiosk_hal::frame::{FrameCheck, FrameSpec};

pub const STX: u8 = 0xA5;
pub const ETX: u8 = 0x5A;
pub const MAX_BODY: usize = 64;

pub mod cmd {
    pub const HANDSHAKE: u8 = 0x01;
    pub const STATUS: u8 = 0x02;
    pub const SELECT: u8 = 0x03;
    pub const MOVE: u8 = 0x04;
    pub const STAMP: u8 = 0x05;
    pub const LOCK: u8 = 0x06;
    pub const INK: u8 = 0x07;
    pub const RESET: u8 = 0x08;
    pub const INFO: u8 = 0x09;
    pub const LIGHT: u8 = 0x0A;
    pub const CAMERA: u8 = 0x0B;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is too short")]
    Short(usize),
    #[error("frame does not start with A5 and end with 5A")]
    Delimiters,
    #[error("length byte says {declared}, frame carries {actual}")]
    Length { declared: usize, actual: usize },
    #[error("checksum {got:02X}, expected {want:02X}")]
    Checksum { got: u8, want: u8 },
    #[error("body of {0} bytes is over the 64-byte limit")]
    TooLong(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u8,
    pub cmd: u8,
    pub data: Vec<u8>,
}

fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

impl Frame {
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let len = 2 + self.data.len();
        if len > MAX_BODY {
            return Err(FrameError::TooLong(len));
        }
        let mut out = vec![STX, len as u8, self.seq, self.cmd];
        out.extend_from_slice(&self.data);
        out.push(xor(&out[1..]));
        out.push(ETX);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        if bytes.len() < 6 {
            return Err(FrameError::Short(bytes.len()));
        }
        if bytes[0] != STX || bytes[bytes.len() - 1] != ETX {
            return Err(FrameError::Delimiters);
        }
        let declared = usize::from(bytes[1]);
        let actual = bytes.len() - 4;
        if declared != actual {
            return Err(FrameError::Length { declared, actual });
        }
        let want = xor(&bytes[1..bytes.len() - 2]);
        let got = bytes[bytes.len() - 2];
        if got != want {
            return Err(FrameError::Checksum { got, want });
        }
        Ok(Frame {
            seq: bytes[2],
            cmd: bytes[3],
            data: bytes[4..bytes.len() - 2].to_vec(),
        })
    }
}

/// Length-driven framing for the shared receiver: resynchronises on STX.
pub struct SealFrames;

impl FrameSpec for SealFrames {
    fn check(&self, buf: &[u8]) -> FrameCheck {
        if buf[0] != STX {
            let skip = buf.iter().position(|&b| b == STX).unwrap_or(buf.len());
            return FrameCheck::Skip(skip.max(1));
        }
        let Some(&len) = buf.get(1) else {
            return FrameCheck::NeedMore(1);
        };
        let len = usize::from(len);
        if !(2..=MAX_BODY).contains(&len) {
            return FrameCheck::Skip(1);
        }
        let total = len + 4;
        if buf.len() < total {
            FrameCheck::NeedMore(total - buf.len())
        } else if buf[total - 1] != ETX {
            FrameCheck::Skip(1)
        } else {
            FrameCheck::Complete(total)
        }
    }

    fn max_frame_len(&self) -> usize {
        MAX_BODY + 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_round_trip_and_damage_is_typed() {
        let f = Frame {
            seq: 7,
            cmd: cmd::MOVE,
            data: vec![0x03, 0xE8, 0x07, 0xD0],
        };
        let bytes = f.encode().unwrap();
        assert_eq!(bytes[..4], [STX, 6, 7, cmd::MOVE]);
        assert_eq!(Frame::decode(&bytes).unwrap(), f);
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert!(matches!(
            Frame::decode(&bad),
            Err(FrameError::Checksum { .. })
        ));
        assert_eq!(Frame::decode(&bytes[..4]), Err(FrameError::Short(4)));
        assert!(Frame {
            seq: 0,
            cmd: 1,
            data: vec![0; 63]
        }
        .encode()
        .is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Frame::decode(&bytes);
            if !bytes.is_empty() {
                let _ = SealFrames.check(&bytes);
            }
        }

        #[test]
        fn encode_decode_round_trip(seq: u8, c: u8, data in proptest::collection::vec(any::<u8>(), 0..62)) {
            let f = Frame { seq, cmd: c, data };
            prop_assert_eq!(Frame::decode(&f.encode().unwrap()).unwrap(), f);
        }
    }
}
