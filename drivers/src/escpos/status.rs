//! Printer status as ESC/POS reports it: the four real-time replies to DLE EOT n, the
//! automatic status back block (GS a), and the in-order paper sensor reply (GS r 1). Every reply
//! byte carries fixed bits; a byte without them is line noise, not a status.

use kiosk_hal::device::{Health, HealthReport, SubStatus};

pub const DLE_EOT: [u8; 2] = [0x10, 0x04];
/// GS r 1: paper sensor status, answered only when the printer reaches it in its buffer — the
/// point at which everything sent before it has been processed.
pub const GS_R_PAPER: [u8; 3] = [0x1D, 0x72, 0x01];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("DLE EOT {n} reply {byte:#04x} lacks the fixed bits 0xx1xx10")]
    RealTime { n: u8, byte: u8 },
    #[error("DLE EOT {0} is not a status request (n is 1 to 4)")]
    Request(u8),
    #[error("automatic status block {0:02x?} lacks its fixed bits")]
    AutoStatus([u8; 4]),
    #[error("paper sensor reply {0:#04x} lacks its fixed bits 0xx0xxxx")]
    Paper(u8),
}

/// What the printer said about itself. Fields left `false` were either reported clear or not
/// asked; `replies` says which requests were answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrinterStatus {
    pub offline: bool,
    pub waiting_recovery: bool,
    pub feed_button: bool,
    pub cover_open: bool,
    pub paper_fed_by_button: bool,
    pub stopped_by_paper_end: bool,
    pub error: bool,
    pub recoverable_error: bool,
    pub cutter_error: bool,
    pub unrecoverable_error: bool,
    pub auto_recoverable_error: bool,
    pub paper_near_end: bool,
    pub paper_end: bool,
    /// Bit n-1 set when DLE EOT n was answered.
    pub replies: u8,
}

impl PrinterStatus {
    /// Folds in the reply to DLE EOT `n`.
    pub fn apply_real_time(&mut self, n: u8, byte: u8) -> Result<(), StatusError> {
        if !(1..=4).contains(&n) {
            return Err(StatusError::Request(n));
        }
        if byte & 0b1001_0011 != 0b0001_0010 {
            return Err(StatusError::RealTime { n, byte });
        }
        let bit = |b: u8| byte & (1 << b) != 0;
        match n {
            1 => {
                self.offline = bit(3);
                self.waiting_recovery = bit(5);
                self.feed_button = bit(6);
            }
            2 => {
                self.cover_open = bit(2);
                self.paper_fed_by_button = bit(3);
                self.stopped_by_paper_end = bit(5);
                self.error = bit(6);
            }
            3 => {
                self.recoverable_error = bit(2);
                self.cutter_error = bit(3);
                self.unrecoverable_error = bit(5);
                self.auto_recoverable_error = bit(6);
            }
            _ => {
                self.paper_near_end = byte & 0b0000_1100 != 0;
                self.paper_end = byte & 0b0110_0000 != 0;
            }
        }
        self.replies |= 1 << (n - 1);
        Ok(())
    }

    /// Folds in a 4-byte automatic status back block.
    pub fn apply_auto_status(&mut self, block: [u8; 4]) -> Result<(), StatusError> {
        let ok = block[0] & 0b1001_0011 == 0b0001_0000
            && block[1] & 0b1001_0000 == 0
            && block[2] & 0b1001_0000 == 0
            && block[3] & 0b1001_0000 == 0;
        if !ok {
            return Err(StatusError::AutoStatus(block));
        }
        let b = |i: usize, bit: u8| block[i] & (1 << bit) != 0;
        self.offline = b(0, 3);
        self.cover_open = b(0, 5);
        self.feed_button = b(0, 6);
        self.recoverable_error = b(1, 2);
        self.cutter_error = b(1, 3);
        self.unrecoverable_error = b(1, 5);
        self.auto_recoverable_error = b(1, 6);
        self.paper_near_end = block[2] & 0b0000_0011 != 0;
        self.paper_end = block[2] & 0b0000_1100 != 0;
        self.replies = 0b1111;
        Ok(())
    }

    /// Folds in the reply to GS r 1.
    pub fn apply_paper_sensor(&mut self, byte: u8) -> Result<(), StatusError> {
        if byte & 0b1001_0000 != 0 {
            return Err(StatusError::Paper(byte));
        }
        self.paper_near_end = byte & 0b0000_0011 != 0;
        self.paper_end = byte & 0b0000_1100 != 0;
        Ok(())
    }

    /// The reply a printer in this state gives to DLE EOT `n` (the simulator's side).
    pub fn real_time_reply(&self, n: u8) -> u8 {
        let set = |on: bool, b: u8| if on { 1u8 << b } else { 0 };
        0b0001_0010
            | match n {
                1 => {
                    set(self.offline, 3) | set(self.waiting_recovery, 5) | set(self.feed_button, 6)
                }
                2 => {
                    set(self.cover_open, 2)
                        | set(self.paper_fed_by_button, 3)
                        | set(self.stopped_by_paper_end, 5)
                        | set(self.error, 6)
                }
                3 => {
                    set(self.recoverable_error, 2)
                        | set(self.cutter_error, 3)
                        | set(self.unrecoverable_error, 5)
                        | set(self.auto_recoverable_error, 6)
                }
                _ => {
                    (if self.paper_near_end { 0b0000_1100 } else { 0 })
                        | (if self.paper_end { 0b0110_0000 } else { 0 })
                }
            }
    }

    /// The automatic status back block for this state.
    pub fn auto_status_block(&self) -> [u8; 4] {
        let set = |on: bool, b: u8| if on { 1u8 << b } else { 0 };
        [
            0b0001_0000 | set(self.offline, 3) | set(self.cover_open, 5) | set(self.feed_button, 6),
            set(self.recoverable_error, 2)
                | set(self.cutter_error, 3)
                | set(self.unrecoverable_error, 5)
                | set(self.auto_recoverable_error, 6),
            (if self.paper_near_end { 0b0011 } else { 0 })
                | (if self.paper_end { 0b1100 } else { 0 }),
            0,
        ]
    }

    /// The GS r 1 reply for this state.
    pub fn paper_sensor_reply(&self) -> u8 {
        (if self.paper_near_end { 0b0011 } else { 0 }) | (if self.paper_end { 0b1100 } else { 0 })
    }

    /// Why a job cannot be printed now, if anything stops it.
    pub fn blocking_problem(&self) -> Option<&'static str> {
        if self.cover_open {
            Some("the printer cover is open")
        } else if self.paper_end || self.stopped_by_paper_end {
            Some("the printer is out of paper")
        } else if self.cutter_error {
            Some("the auto-cutter jammed")
        } else if self.unrecoverable_error {
            Some("the printer reports an unrecoverable error")
        } else if self.recoverable_error || self.auto_recoverable_error || self.error {
            Some("the printer reports an error")
        } else if self.offline {
            Some("the printer is offline")
        } else {
            None
        }
    }

    pub fn health(&self) -> HealthReport {
        let mut r = if self.cover_open || self.paper_end || self.stopped_by_paper_end {
            HealthReport::new(Health::UserError)
        } else if self.cutter_error || self.unrecoverable_error || self.recoverable_error {
            HealthReport::new(Health::HardwareError)
        } else if self.offline || self.error || self.auto_recoverable_error {
            HealthReport::new(Health::Offline)
        } else {
            HealthReport::new(Health::Online)
        };
        if self.cover_open {
            r = r.with_sub(SubStatus::CoverOpen);
        }
        if self.paper_end || self.stopped_by_paper_end {
            r = r.with_sub(SubStatus::PaperOut);
        } else if self.paper_near_end {
            r = r.with_sub(SubStatus::PaperNearEnd);
        }
        if self.cutter_error {
            r = r.with_sub(SubStatus::CutterError);
        }
        match self.blocking_problem() {
            Some(p) => r.with_detail(p),
            None if self.paper_near_end => r.with_detail("paper roll nearly used up"),
            None => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_bits_decode() {
        let mut s = PrinterStatus::default();
        s.apply_real_time(1, 0x1A).unwrap(); // 0001 1010: offline
        assert!(s.offline);
        s.apply_real_time(2, 0x12 | 0x04).unwrap();
        assert!(s.cover_open);
        s.apply_real_time(3, 0x12 | 0x08).unwrap();
        assert!(s.cutter_error);
        s.apply_real_time(4, 0x12 | 0x0C).unwrap();
        assert!(s.paper_near_end && !s.paper_end);
        s.apply_real_time(4, 0x12 | 0x60).unwrap();
        assert!(s.paper_end);
        assert_eq!(s.replies, 0b1111);
        assert_eq!(
            s.apply_real_time(1, 0x00),
            Err(StatusError::RealTime { n: 1, byte: 0 })
        );
        assert_eq!(s.apply_real_time(5, 0x12), Err(StatusError::Request(5)));
        let h = s.health();
        assert_eq!(h.health, Health::UserError);
        assert!(h.sub.contains(&SubStatus::PaperOut) && h.sub.contains(&SubStatus::CoverOpen));
    }

    fn any_status() -> impl Strategy<Value = PrinterStatus> {
        proptest::collection::vec(any::<bool>(), 13).prop_map(|b| PrinterStatus {
            offline: b[0],
            waiting_recovery: b[1],
            feed_button: b[2],
            cover_open: b[3],
            paper_fed_by_button: b[4],
            stopped_by_paper_end: b[5],
            error: b[6],
            recoverable_error: b[7],
            cutter_error: b[8],
            unrecoverable_error: b[9],
            auto_recoverable_error: b[10],
            paper_near_end: b[11],
            paper_end: b[12],
            replies: 0b1111,
        })
    }

    proptest! {
        #[test]
        fn real_time_replies_round_trip(s in any_status()) {
            let mut back = PrinterStatus::default();
            for n in 1..=4 {
                back.apply_real_time(n, s.real_time_reply(n)).unwrap();
            }
            prop_assert_eq!(back, s);
        }

        #[test]
        fn auto_status_round_trips_what_it_carries(s in any_status()) {
            let mut back = PrinterStatus::default();
            back.apply_auto_status(s.auto_status_block()).unwrap();
            prop_assert_eq!(back.cover_open, s.cover_open);
            prop_assert_eq!(back.paper_end, s.paper_end);
            prop_assert_eq!(back.cutter_error, s.cutter_error);
            prop_assert_eq!(back.offline, s.offline);
        }

        #[test]
        fn any_reply_byte_decodes_or_is_refused_without_panic(n in 0u8..8, byte: u8, block: [u8; 4]) {
            let mut s = PrinterStatus::default();
            let _ = s.apply_real_time(n, byte);
            let _ = s.apply_auto_status(block);
            let _ = s.apply_paper_sensor(byte);
            let _ = s.health();
        }
    }
}
