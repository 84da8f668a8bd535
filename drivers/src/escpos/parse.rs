//! Reads an ESC/POS byte stream back into commands: the virtual printer's input side, and the
//! way `devctl escpos render` checks receipts other software made. Works on a growing buffer so
//! a command split across reads is simply waited for; never panics on any input.

/// One command or run of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Init,
    /// Printable bytes, as sent (single-byte outside the double-byte bracket).
    Text(Vec<u8>),
    LineFeed,
    CarriageReturn,
    Align(u8),
    Bold(bool),
    Underline(u8),
    /// GS ! magnification, 1-based.
    Size {
        width: u8,
        height: u8,
    },
    Font(u8),
    LineSpacing(Option<u8>),
    FeedLines(u8),
    FeedDots(u8),
    KanjiOn,
    KanjiOff,
    QrModule(u8),
    QrLevel(u8),
    QrStore(Vec<u8>),
    QrPrint,
    BarcodeHeight(u8),
    BarcodeWidth(u8),
    BarcodeHri(u8),
    Barcode {
        system: u8,
        data: Vec<u8>,
    },
    Raster {
        scale: u8,
        width_bytes: usize,
        height: usize,
        data: Vec<u8>,
    },
    Cut {
        partial: bool,
        feed: u8,
    },
    /// DLE EOT n: answered at once, wherever it sits in the stream.
    RealTimeStatus(u8),
    /// GS r n: answered when reached.
    TransmitStatus(u8),
    /// GS a n: automatic status back mask.
    AutoStatus(u8),
    /// Understood, without visible effect here (code pages, drawer kick, margins …).
    Ignored(&'static str),
    /// A byte that starts nothing this reader knows; skipped.
    Unknown(u8),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The command and how many bytes it took.
    Op(Op, usize),
    /// The buffer ends inside a command.
    Incomplete,
}

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const DLE: u8 = 0x10;

/// Largest raster or 2D-code block a real printer would take; anything bigger is treated as
/// noise rather than waited for.
pub const MAX_BLOCK: usize = 1 << 20;

/// Parses the command at the start of `buf`.
pub fn parse_one(buf: &[u8]) -> Parsed {
    let Some(&b0) = buf.first() else {
        return Parsed::Incomplete;
    };
    let need = |n: usize| buf.len() < n;
    let arg = |i: usize| buf[i];
    macro_rules! take {
        ($n:expr, $op:expr) => {{
            if need($n) {
                return Parsed::Incomplete;
            }
            return Parsed::Op($op, $n);
        }};
    }
    match b0 {
        0x0A => Parsed::Op(Op::LineFeed, 1),
        0x0D => Parsed::Op(Op::CarriageReturn, 1),
        DLE => {
            if need(2) {
                return Parsed::Incomplete;
            }
            match buf[1] {
                0x04 => take!(3, Op::RealTimeStatus(arg(2))),
                0x05 => take!(3, Op::Ignored("DLE ENQ")),
                0x14 => take!(5, Op::Ignored("DLE DC4")),
                _ => Parsed::Op(Op::Unknown(b0), 1),
            }
        }
        ESC => {
            if need(2) {
                return Parsed::Incomplete;
            }
            match buf[1] {
                b'@' => Parsed::Op(Op::Init, 2),
                b'a' => take!(3, Op::Align(arg(2) % 48 % 3)),
                b'E' => take!(3, Op::Bold(arg(2) & 1 == 1)),
                b'G' => take!(3, Op::Ignored("ESC G double strike")),
                b'-' => take!(3, Op::Underline(arg(2) % 48)),
                b'M' => take!(3, Op::Font(arg(2) % 48)),
                b'2' => Parsed::Op(Op::LineSpacing(None), 2),
                b'3' => take!(3, Op::LineSpacing(Some(arg(2)))),
                b'd' => take!(3, Op::FeedLines(arg(2))),
                b'J' => take!(3, Op::FeedDots(arg(2))),
                b'!' => take!(3, {
                    let n = arg(2);
                    Op::Size {
                        width: if n & 0x20 != 0 { 2 } else { 1 },
                        height: if n & 0x10 != 0 { 2 } else { 1 },
                    }
                }),
                b't' => take!(3, Op::Ignored("ESC t code page")),
                b'R' => take!(3, Op::Ignored("ESC R character set")),
                b'{' => take!(3, Op::Ignored("ESC { upside down")),
                b'V' => take!(3, Op::Ignored("ESC V rotation")),
                b'p' => take!(5, Op::Ignored("ESC p drawer kick")),
                b'=' => take!(3, Op::Ignored("ESC = peripheral select")),
                b'c' => take!(4, Op::Ignored("ESC c panel/sensor")),
                b'i' => Parsed::Op(
                    Op::Cut {
                        partial: false,
                        feed: 0,
                    },
                    2,
                ),
                b'm' => Parsed::Op(
                    Op::Cut {
                        partial: true,
                        feed: 0,
                    },
                    2,
                ),
                _ => Parsed::Op(Op::Unknown(b0), 1),
            }
        }
        FS => {
            if need(2) {
                return Parsed::Incomplete;
            }
            match buf[1] {
                b'&' => Parsed::Op(Op::KanjiOn, 2),
                b'.' => Parsed::Op(Op::KanjiOff, 2),
                b'!' => take!(3, Op::Ignored("FS ! kanji print mode")),
                b'C' => take!(3, Op::Ignored("FS C kanji code system")),
                _ => Parsed::Op(Op::Unknown(b0), 1),
            }
        }
        GS => parse_gs(buf),
        b if b < 0x20 || b == 0x7F => Parsed::Op(Op::Unknown(b), 1),
        _ => {
            let n = buf
                .iter()
                .position(|&b| b < 0x20 || b == 0x7F)
                .unwrap_or(buf.len());
            Parsed::Op(Op::Text(buf[..n].to_vec()), n)
        }
    }
}

fn parse_gs(buf: &[u8]) -> Parsed {
    if buf.len() < 2 {
        return Parsed::Incomplete;
    }
    let fixed = |n: usize, op: Op| {
        if buf.len() < n {
            Parsed::Incomplete
        } else {
            Parsed::Op(op, n)
        }
    };
    let a = |i: usize| buf.get(i).copied().unwrap_or(0);
    match buf[1] {
        b'!' => fixed(
            3,
            Op::Size {
                width: ((a(2) >> 4) & 7) + 1,
                height: (a(2) & 7) + 1,
            },
        ),
        b'B' => fixed(3, Op::Ignored("GS B reverse")),
        b'h' => fixed(3, Op::BarcodeHeight(a(2))),
        b'w' => fixed(3, Op::BarcodeWidth(a(2))),
        b'H' => fixed(3, Op::BarcodeHri(a(2) % 48)),
        b'f' => fixed(3, Op::Ignored("GS f HRI font")),
        b'a' => fixed(3, Op::AutoStatus(a(2))),
        b'r' => fixed(3, Op::TransmitStatus(a(2))),
        b'L' => fixed(4, Op::Ignored("GS L left margin")),
        b'W' => fixed(4, Op::Ignored("GS W print area")),
        b'P' => fixed(4, Op::Ignored("GS P motion units")),
        b'V' => {
            if buf.len() < 3 {
                return Parsed::Incomplete;
            }
            match a(2) {
                0 | 48 => Parsed::Op(
                    Op::Cut {
                        partial: false,
                        feed: 0,
                    },
                    3,
                ),
                1 | 49 => Parsed::Op(
                    Op::Cut {
                        partial: true,
                        feed: 0,
                    },
                    3,
                ),
                65 | 66 | 97 | 98 | 103 | 104 => fixed(
                    4,
                    Op::Cut {
                        partial: a(2) % 2 == 0,
                        feed: a(3),
                    },
                ),
                _ => Parsed::Op(Op::Unknown(GS), 1),
            }
        }
        b'k' => {
            if buf.len() < 3 {
                return Parsed::Incomplete;
            }
            let m = a(2);
            if m <= 6 {
                // Function A: data up to a NUL.
                match buf[3..].iter().position(|&b| b == 0) {
                    Some(p) => Parsed::Op(
                        Op::Barcode {
                            system: m,
                            data: buf[3..3 + p].to_vec(),
                        },
                        4 + p,
                    ),
                    None if buf.len() - 3 > 255 => Parsed::Op(Op::Unknown(GS), 1),
                    None => Parsed::Incomplete,
                }
            } else if (65..=79).contains(&m) {
                if buf.len() < 4 {
                    return Parsed::Incomplete;
                }
                let n = usize::from(a(3));
                fixed(
                    4 + n,
                    Op::Barcode {
                        system: m - 65,
                        data: buf.get(4..4 + n).unwrap_or_default().to_vec(),
                    },
                )
            } else {
                Parsed::Op(Op::Unknown(GS), 1)
            }
        }
        b'v' => {
            if buf.len() < 8 {
                return Parsed::Incomplete;
            }
            if a(2) != b'0' {
                return Parsed::Op(Op::Unknown(GS), 1);
            }
            let width_bytes = usize::from(u16::from_le_bytes([a(4), a(5)]));
            let height = usize::from(u16::from_le_bytes([a(6), a(7)]));
            let n = width_bytes * height;
            if n > MAX_BLOCK {
                return Parsed::Op(Op::Unknown(GS), 1);
            }
            fixed(
                8 + n,
                Op::Raster {
                    scale: a(3) % 48,
                    width_bytes,
                    height,
                    data: buf.get(8..8 + n).unwrap_or_default().to_vec(),
                },
            )
        }
        b'(' => {
            // GS ( fn pL pH …: every function carries its own length.
            if buf.len() < 5 {
                return Parsed::Incomplete;
            }
            let len = usize::from(u16::from_le_bytes([a(3), a(4)]));
            let total = 5 + len;
            if buf.len() < total {
                return Parsed::Incomplete;
            }
            let body = &buf[5..total];
            let op = if a(2) == b'k' && body.len() >= 2 && body[0] == 49 {
                match body[1] {
                    67 => Op::QrModule(body.get(2).copied().unwrap_or(3)),
                    69 => Op::QrLevel(body.get(2).copied().unwrap_or(48)),
                    80 => Op::QrStore(body.get(3..).unwrap_or_default().to_vec()),
                    81 => Op::QrPrint,
                    _ => Op::Ignored("GS ( k QR setting"),
                }
            } else {
                Op::Ignored("GS ( function")
            };
            Parsed::Op(op, total)
        }
        _ => Parsed::Op(Op::Unknown(GS), 1),
    }
}

/// Parses a whole buffer. The tail, if it stops inside a command, is returned unparsed.
pub fn parse_all(buf: &[u8]) -> (Vec<Op>, &[u8]) {
    let mut ops = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        match parse_one(&buf[at..]) {
            Parsed::Op(op, n) => {
                ops.push(op);
                at += n.max(1);
            }
            Parsed::Incomplete => break,
        }
    }
    (ops, &buf[at..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::doc::{Align, Block, Paper, Receipt};
    use proptest::prelude::*;

    #[test]
    fn an_encoded_receipt_reads_back_as_its_commands() {
        let r = Receipt::new(Paper::Mm58)
            .styled("A001", Align::Center, true, (3, 3))
            .text("办事指南 Guide")
            .block(Block::Qr {
                data: "https://zwfw.example/q/A001".into(),
                module: 5,
                level: Default::default(),
                align: Align::Center,
            })
            .block(Block::Barcode {
                data: "SQ2026-0001".into(),
                align: Align::Center,
            });
        let bytes = r.encode().unwrap();
        let (ops, rest) = parse_all(&bytes);
        assert!(rest.is_empty());
        assert_eq!(ops[0], Op::Init);
        assert!(ops.contains(&Op::Size {
            width: 3,
            height: 3
        }));
        assert!(ops.contains(&Op::Text(b"A001".to_vec())));
        assert!(ops.contains(&Op::KanjiOn) && ops.contains(&Op::KanjiOff));
        assert!(ops.contains(&Op::QrStore(b"https://zwfw.example/q/A001".to_vec())));
        assert!(ops.contains(&Op::QrModule(5)));
        assert!(ops.contains(&Op::Barcode {
            system: 4,
            data: b"SQ2026-0001".to_vec()
        }));
        assert!(matches!(ops.last(), Some(Op::Cut { partial: false, .. })));
        assert!(!ops.iter().any(|o| matches!(o, Op::Unknown(_))), "{ops:?}");
    }

    #[test]
    fn split_commands_wait_for_their_tail() {
        let raster = [0x1D, 0x76, 0x30, 0x00, 0x01, 0x00, 0x02, 0x00, 0xFF];
        assert_eq!(parse_one(&raster), Parsed::Incomplete);
        let mut whole = raster.to_vec();
        whole.push(0x81);
        assert!(matches!(
            parse_one(&whole),
            Parsed::Op(Op::Raster { height: 2, .. }, 10)
        ));
        assert_eq!(parse_one(&[0x10, 0x04]), Parsed::Incomplete);
        assert_eq!(
            parse_one(&[0x10, 0x04, 0x02]),
            Parsed::Op(Op::RealTimeStatus(2), 3)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn any_bytes_parse_without_panic_and_always_progress(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (ops, rest) = parse_all(&bytes);
            prop_assert!(rest.len() <= bytes.len());
            prop_assert!(ops.len() <= bytes.len());
        }
    }
}
