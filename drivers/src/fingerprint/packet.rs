//! EF01-family packets (AS608, ZFM-20/60, R30x/R50x, FPM10A):
//!
//! ```text
//! EF 01 | ADDR(4, BE) | PID(1) | LEN(2, BE) | PAYLOAD(LEN-2) | SUM(2, BE)
//! ```
//!
//! PID 01 command, 02 data, 07 ack, 08 end of data. SUM is the 16-bit sum of PID, both length
//! bytes and the payload.

use kiosk_hal::frame::{FrameCheck, FrameSpec};

pub const HEADER: [u8; 2] = [0xEF, 0x01];
pub const DEFAULT_ADDRESS: u32 = 0xFFFF_FFFF;
/// Header, address, PID and length.
const PREFIX_LEN: usize = 9;
/// The largest payload a module sends (256-byte data packets) plus checksum, with headroom.
pub const MAX_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pid {
    Command,
    Data,
    Ack,
    EndData,
}

impl Pid {
    pub fn byte(self) -> u8 {
        match self {
            Pid::Command => 0x01,
            Pid::Data => 0x02,
            Pid::Ack => 0x07,
            Pid::EndData => 0x08,
        }
    }
    pub fn from_byte(b: u8) -> Option<Pid> {
        match b {
            0x01 => Some(Pid::Command),
            0x02 => Some(Pid::Data),
            0x07 => Some(Pid::Ack),
            0x08 => Some(Pid::EndData),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet of {0} bytes is too short")]
    TooShort(usize),
    #[error("packet does not start with EF 01")]
    BadHeader,
    #[error("packet is for address {0:08X}")]
    WrongAddress(u32),
    #[error("unknown packet identifier {0:02X}")]
    BadPid(u8),
    #[error("length field says {declared} bytes follow, but {actual} do")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("checksum is {got:04X}, the bytes give {expected:04X}")]
    Checksum { expected: u16, got: u16 },
    #[error("payload of {0} bytes does not fit a packet")]
    TooLong(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub address: u32,
    pub pid: Pid,
    pub payload: Vec<u8>,
}

fn sum(pid: u8, len: u16, payload: &[u8]) -> u16 {
    let [hi, lo] = len.to_be_bytes();
    payload
        .iter()
        .fold(u16::from(pid) + u16::from(hi) + u16::from(lo), |a, b| {
            a.wrapping_add(u16::from(*b))
        })
}

impl Packet {
    pub fn new(address: u32, pid: Pid, payload: Vec<u8>) -> Self {
        Packet {
            address,
            pid,
            payload,
        }
    }

    pub fn command(address: u32, instruction: u8, params: &[u8]) -> Self {
        let mut p = vec![instruction];
        p.extend_from_slice(params);
        Packet::new(address, Pid::Command, p)
    }

    pub fn encode(&self) -> Result<Vec<u8>, PacketError> {
        let len = self.payload.len() + 2;
        let len16 = u16::try_from(len).map_err(|_| PacketError::TooLong(self.payload.len()))?;
        let mut out = Vec::with_capacity(PREFIX_LEN + len);
        out.extend_from_slice(&HEADER);
        out.extend_from_slice(&self.address.to_be_bytes());
        out.push(self.pid.byte());
        out.extend_from_slice(&len16.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out.extend_from_slice(&sum(self.pid.byte(), len16, &self.payload).to_be_bytes());
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Packet, PacketError> {
        if bytes.len() < PREFIX_LEN + 2 {
            return Err(PacketError::TooShort(bytes.len()));
        }
        if bytes[..2] != HEADER {
            return Err(PacketError::BadHeader);
        }
        let address = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let pid = Pid::from_byte(bytes[6]).ok_or(PacketError::BadPid(bytes[6]))?;
        let len16 = u16::from_be_bytes([bytes[7], bytes[8]]);
        let declared = usize::from(len16);
        let actual = bytes.len() - PREFIX_LEN;
        if declared != actual || declared < 2 {
            return Err(PacketError::LengthMismatch { declared, actual });
        }
        let payload = &bytes[PREFIX_LEN..bytes.len() - 2];
        let got = u16::from_be_bytes([bytes[bytes.len() - 2], bytes[bytes.len() - 1]]);
        let expected = sum(bytes[6], len16, payload);
        if got != expected {
            return Err(PacketError::Checksum { expected, got });
        }
        Ok(Packet {
            address,
            pid,
            payload: payload.to_vec(),
        })
    }
}

/// Length-driven framing for the receiver; resynchronises on EF 01.
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketSpec;

impl FrameSpec for PacketSpec {
    fn check(&self, buf: &[u8]) -> FrameCheck {
        if buf[0] != HEADER[0] || (buf.len() > 1 && buf[1] != HEADER[1]) {
            let skip = buf[1..]
                .iter()
                .position(|&b| b == HEADER[0])
                .map_or(buf.len(), |p| p + 1);
            return FrameCheck::Skip(skip);
        }
        if buf.len() < PREFIX_LEN {
            return FrameCheck::NeedMore(PREFIX_LEN - buf.len());
        }
        if Pid::from_byte(buf[6]).is_none() {
            return FrameCheck::Skip(1);
        }
        let len = usize::from(u16::from_be_bytes([buf[7], buf[8]]));
        if !(2..=MAX_LEN).contains(&len) {
            return FrameCheck::Skip(1);
        }
        let total = PREFIX_LEN + len;
        if buf.len() < total {
            FrameCheck::NeedMore(total - buf.len())
        } else {
            FrameCheck::Complete(total)
        }
    }

    fn max_frame_len(&self) -> usize {
        PREFIX_LEN + MAX_LEN
    }
}

/// Instruction codes.
pub mod ins {
    pub const GEN_IMG: u8 = 0x01;
    pub const IMG2TZ: u8 = 0x02;
    pub const MATCH: u8 = 0x03;
    pub const SEARCH: u8 = 0x04;
    pub const REG_MODEL: u8 = 0x05;
    pub const STORE: u8 = 0x06;
    pub const LOAD_CHAR: u8 = 0x07;
    pub const UP_CHAR: u8 = 0x08;
    pub const DOWN_CHAR: u8 = 0x09;
    pub const UP_IMAGE: u8 = 0x0A;
    pub const DOWN_IMAGE: u8 = 0x0B;
    pub const DELETE_CHAR: u8 = 0x0C;
    pub const EMPTY: u8 = 0x0D;
    pub const SET_SYS_PARA: u8 = 0x0E;
    pub const READ_SYS_PARA: u8 = 0x0F;
    pub const SET_PWD: u8 = 0x12;
    pub const VFY_PWD: u8 = 0x13;
    pub const GET_RANDOM_CODE: u8 = 0x14;
    pub const SET_ADDR: u8 = 0x15;
    pub const HANDSHAKE: u8 = 0x17;
    pub const WRITE_NOTEPAD: u8 = 0x18;
    pub const READ_NOTEPAD: u8 = 0x19;
    pub const HIGH_SPEED_SEARCH: u8 = 0x1B;
    pub const TEMPLATE_NUM: u8 = 0x1D;
    pub const READ_INDEX_TABLE: u8 = 0x1F;
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::frame::FrameReceiver;
    use proptest::prelude::*;

    #[test]
    fn gen_img_matches_the_protocol_note() {
        let p = Packet::command(DEFAULT_ADDRESS, ins::GEN_IMG, &[]);
        assert_eq!(
            p.encode().unwrap(),
            [0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05]
        );
        assert_eq!(Packet::decode(&p.encode().unwrap()).unwrap(), p);
    }

    #[test]
    fn malformed_packets_are_typed_errors() {
        let mut b = Packet::new(DEFAULT_ADDRESS, Pid::Ack, vec![0x00])
            .encode()
            .unwrap();
        assert!(Packet::decode(&b).is_ok());
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(matches!(
            Packet::decode(&b),
            Err(PacketError::Checksum { .. })
        ));
        assert_eq!(Packet::decode(&[0xEF, 0x01]), Err(PacketError::TooShort(2)));
        let mut b = Packet::new(DEFAULT_ADDRESS, Pid::Ack, vec![0x00])
            .encode()
            .unwrap();
        b[6] = 0x05;
        assert_eq!(Packet::decode(&b), Err(PacketError::BadPid(5)));
        b[0] = 0xEE;
        assert_eq!(Packet::decode(&b), Err(PacketError::BadHeader));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn decode_and_spec_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Packet::decode(&bytes);
            if !bytes.is_empty() {
                let _ = PacketSpec.check(&bytes);
            }
        }

        #[test]
        fn packets_round_trip_through_any_split(payload in proptest::collection::vec(any::<u8>(), 0..300), split in 1usize..40, noise in proptest::collection::vec(0u8..0xEF, 0..10)) {
            let p = Packet::new(0x1234_5678, Pid::Data, payload);
            let mut stream = noise;
            stream.extend_from_slice(&p.encode().unwrap());
            let mut rx = FrameReceiver::new();
            let mut got = Vec::new();
            for c in stream.chunks(split) {
                if let Some(f) = rx.push_and_take(c, &PacketSpec).unwrap() {
                    got.push(Packet::decode(&f).unwrap());
                }
            }
            prop_assert_eq!(got, vec![p]);
        }
    }
}
