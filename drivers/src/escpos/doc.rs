//! A small document model for receipts and its ESC/POS encoding. Chinese text goes out as
//! GB18030 inside the FS & … FS . double-byte bracket; the rest of the commands are built with
//! the `escpos` crate, whose printer object lives only inside [`Receipt::encode`] (it is not
//! Send, and one encode is one printer session).

use std::cell::RefCell;
use std::rc::Rc;

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{
    BarcodeFont, BarcodeHeight, BarcodeOption, BarcodePosition, BarcodeWidth, JustifyMode,
    Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption,
};
use serde::{Deserialize, Serialize};

pub const FS_KANJI_ON: [u8; 2] = [0x1C, 0x26];
pub const FS_KANJI_OFF: [u8; 2] = [0x1C, 0x2E];

/// Roll width. Dots at 203 dpi; columns of the 12-dot font A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Paper {
    #[serde(rename = "58mm")]
    Mm58,
    #[default]
    #[serde(rename = "80mm")]
    Mm80,
}

impl Paper {
    pub fn dots(self) -> usize {
        match self {
            Paper::Mm58 => 384,
            Paper::Mm80 => 576,
        }
    }
    /// Half-width (ASCII) columns; a Chinese character takes two.
    pub fn columns(self) -> usize {
        self.dots() / 12
    }
    pub fn parse(s: &str) -> Result<Paper, String> {
        match s {
            "58mm" | "58" => Ok(Paper::Mm58),
            "80mm" | "80" => Ok(Paper::Mm80),
            other => Err(format!("paper {other:?}: use \"58mm\" or \"80mm\"")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum QrLevel {
    L,
    #[default]
    M,
    Q,
    H,
}

fn one() -> u8 {
    1
}

/// One block of a receipt, top to bottom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Block {
    Text {
        text: String,
        #[serde(default)]
        align: Align,
        #[serde(default)]
        bold: bool,
        /// Character magnification, 1 to 8.
        #[serde(default = "one")]
        width: u8,
        #[serde(default = "one")]
        height: u8,
    },
    /// A dashed rule across the paper.
    Rule,
    Qr {
        data: String,
        /// Module size in dots, 1 to 16.
        #[serde(default = "qr_module")]
        module: u8,
        #[serde(default)]
        level: QrLevel,
        #[serde(default = "center")]
        align: Align,
    },
    /// CODE39 (digits, capitals, space and - . $ / + %).
    Barcode {
        data: String,
        #[serde(default = "center")]
        align: Align,
    },
    /// A 1-bit raster image, rows of `width` dots, MSB leftmost, black = 1.
    Image {
        width: usize,
        height: usize,
        #[serde(with = "hex_bytes")]
        bits: Vec<u8>,
        #[serde(default = "center")]
        align: Align,
    },
    Feed {
        lines: u8,
    },
}

fn qr_module() -> u8 {
    6
}
fn center() -> Align {
    Align::Center
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// A receipt: blocks printed in order, then a cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    #[serde(default)]
    pub paper: Paper,
    pub blocks: Vec<Block>,
    /// Lines fed before the cut so the last line clears the cutter.
    #[serde(default = "tail_feed")]
    pub tail_feed: u8,
}

fn tail_feed() -> u8 {
    4
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("block {index}: {message}")]
    Block { index: usize, message: String },
}

impl Receipt {
    pub fn new(paper: Paper) -> Self {
        Receipt {
            paper,
            blocks: Vec::new(),
            tail_feed: tail_feed(),
        }
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text {
            text: text.into(),
            align: Align::Left,
            bold: false,
            width: 1,
            height: 1,
        });
        self
    }

    pub fn styled(
        mut self,
        text: impl Into<String>,
        align: Align,
        bold: bool,
        size: (u8, u8),
    ) -> Self {
        self.blocks.push(Block::Text {
            text: text.into(),
            align,
            bold,
            width: size.0,
            height: size.1,
        });
        self
    }

    pub fn block(mut self, b: Block) -> Self {
        self.blocks.push(b);
        self
    }

    /// The ESC/POS byte stream: initialise, every block, feed, full cut.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let sink = MemorySink::default();
        let mut p = Printer::new(sink.clone(), Protocol::default(), None);
        let esc = |index: usize| {
            move |e: escpos::errors::PrinterError| EncodeError::Block {
                index,
                message: e.to_string(),
            }
        };
        p.init().map_err(esc(0))?;
        for (i, block) in self.blocks.iter().enumerate() {
            let bad = |m: String| EncodeError::Block {
                index: i,
                message: m,
            };
            match block {
                Block::Text {
                    text,
                    align,
                    bold,
                    width,
                    height,
                } => {
                    if !(1..=8).contains(width) || !(1..=8).contains(height) {
                        return Err(bad(format!("size {width}x{height}: each is 1 to 8")));
                    }
                    p.justify(justify(*align))
                        .and_then(|p| p.bold(*bold))
                        .and_then(|p| p.size(*width, *height))
                        .map_err(esc(i))?;
                    for line in text.split('\n') {
                        p.custom(&text_bytes(line).map_err(bad)?).map_err(esc(i))?;
                        p.custom(b"\n").map_err(esc(i))?;
                    }
                    p.bold(false).and_then(|p| p.reset_size()).map_err(esc(i))?;
                }
                Block::Rule => {
                    p.justify(JustifyMode::LEFT).map_err(esc(i))?;
                    let mut line = vec![b'-'; self.paper.columns()];
                    line.push(b'\n');
                    p.custom(&line).map_err(esc(i))?;
                }
                Block::Qr {
                    data,
                    module,
                    level,
                    align,
                } => {
                    if data.is_empty() || data.len() > 7089 {
                        return Err(bad(format!("QR data of {} bytes", data.len())));
                    }
                    if !(1..=16).contains(module) {
                        return Err(bad(format!("QR module {module}: 1 to 16 dots")));
                    }
                    let level = match level {
                        QrLevel::L => QRCodeCorrectionLevel::L,
                        QrLevel::M => QRCodeCorrectionLevel::M,
                        QrLevel::Q => QRCodeCorrectionLevel::Q,
                        QrLevel::H => QRCodeCorrectionLevel::H,
                    };
                    p.justify(justify(*align))
                        .and_then(|p| {
                            p.qrcode_option(
                                data,
                                QRCodeOption::new(QRCodeModel::Model2, *module, level),
                            )
                        })
                        .and_then(|p| p.custom(b"\n"))
                        .map_err(esc(i))?;
                }
                Block::Barcode { data, align } => {
                    if data.is_empty()
                        || !data.bytes().all(|b| {
                            b.is_ascii_uppercase() || b.is_ascii_digit() || b" -.$/+%".contains(&b)
                        })
                    {
                        return Err(bad(format!("{data:?} is not CODE39 data")));
                    }
                    p.justify(justify(*align))
                        .and_then(|p| {
                            p.code39_option(
                                data,
                                BarcodeOption::new(
                                    BarcodeWidth::S,
                                    BarcodeHeight::S,
                                    BarcodeFont::A,
                                    BarcodePosition::Below,
                                ),
                            )
                        })
                        .map_err(esc(i))?;
                }
                Block::Image {
                    width,
                    height,
                    bits,
                    align,
                } => {
                    let row = width.div_ceil(8);
                    if *width == 0 || *height == 0 || *width > self.paper.dots() {
                        return Err(bad(format!(
                            "image {width}x{height} does not fit {} dots",
                            self.paper.dots()
                        )));
                    }
                    if bits.len() != row * height || *height > 0xFFFF {
                        return Err(bad(format!(
                            "image {width}x{height} needs {} bytes, has {}",
                            row * height,
                            bits.len()
                        )));
                    }
                    p.justify(justify(*align)).map_err(esc(i))?;
                    let mut cmd = vec![0x1D, 0x76, 0x30, 0x00];
                    cmd.extend_from_slice(&(row as u16).to_le_bytes());
                    cmd.extend_from_slice(&(*height as u16).to_le_bytes());
                    cmd.extend_from_slice(bits);
                    p.custom(&cmd).map_err(esc(i))?;
                }
                Block::Feed { lines } => {
                    p.feeds(*lines).map_err(esc(i))?;
                }
            }
        }
        let end = self.blocks.len();
        p.justify(JustifyMode::LEFT)
            .and_then(|p| p.feeds(self.tail_feed))
            .and_then(|p| p.print_cut())
            .map_err(esc(end))?;
        drop(p);
        Ok(sink.take())
    }

    /// An image block from a raster dithered by kiosk-image (already in GS v 0 layout).
    pub fn image_block(raster: &kiosk_image::Raster, align: Align) -> Block {
        Block::Image {
            width: raster.width,
            height: raster.height,
            bits: raster.data.clone(),
            align,
        }
    }
}

fn justify(a: Align) -> JustifyMode {
    match a {
        Align::Left => JustifyMode::LEFT,
        Align::Center => JustifyMode::CENTER,
        Align::Right => JustifyMode::RIGHT,
    }
}

/// One line of text as the printer takes it: plain ASCII as is, anything else as GB18030
/// inside the double-byte bracket. Control characters are refused rather than sent, since a
/// stray ESC in a citizen's name would be read as a command.
pub fn text_bytes(line: &str) -> Result<Vec<u8>, String> {
    if let Some(c) = line.chars().find(|c| c.is_control()) {
        return Err(format!("text holds control character {:?}", c));
    }
    if line.is_ascii() {
        return Ok(line.as_bytes().to_vec());
    }
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(line);
    if unmappable {
        return Err(format!("{line:?} has characters GB18030 cannot carry"));
    }
    let mut out = FS_KANJI_ON.to_vec();
    out.extend_from_slice(&bytes);
    out.extend_from_slice(&FS_KANJI_OFF);
    Ok(out)
}

/// Collects what the `escpos` printer writes.
#[derive(Clone, Default)]
struct MemorySink(Rc<RefCell<Vec<u8>>>);

impl MemorySink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}

impl Driver for MemorySink {
    fn name(&self) -> String {
        "memory".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}
