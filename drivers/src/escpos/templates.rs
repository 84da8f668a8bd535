//! The receipts a service hall prints. Each template takes typed fields and gives a
//! [`Receipt`]; personal data arrives already masked, and the templates never print an ID
//! number they were not given masked.

use serde::{Deserialize, Serialize};

use super::doc::{Align, Block, Paper, QrLevel, Receipt};

/// A queue ticket (排队小票).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueTicket {
    pub hall: String,
    pub number: String,
    pub service: String,
    /// People ahead; `None` for a ticket the machine numbered while the hall's centre was out
    /// of reach (nobody knows yet).
    pub waiting: Option<u32>,
    /// Local time the ticket was taken, as printed ("2026-11-23 09:41").
    pub issued_at: String,
    /// Where the citizen can follow the queue on a phone.
    pub qr_url: String,
    #[serde(default)]
    pub window_hint: Option<String>,
}

/// An application receipt (受理回执).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationReceipt {
    pub hall: String,
    pub case_number: String,
    pub query_password: String,
    pub service: String,
    pub applicant: String,
    /// Already masked: `3201**********1234`.
    pub id_number_masked: String,
    pub materials: Vec<String>,
    pub accepted_at: String,
    pub promised_by: String,
    /// Where to follow the case on a phone; empty: no QR code.
    #[serde(default)]
    pub query_url: String,
    /// How the result is collected (`窗口领取`, `邮寄送达`, `智能柜自取`).
    #[serde(default)]
    pub pickup: String,
    /// A line under the numbers: set when the number shown is the terminal's reference
    /// because the centre was away (`办件编号待分配…`).
    #[serde(default)]
    pub note: String,
}

/// A print-record slip (打印记录).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintRecordSlip {
    pub hall: String,
    pub terminal: String,
    pub document: String,
    pub pages: u32,
    pub copies: u32,
    pub printed_at: String,
    pub record_id: String,
}

/// One line of a material list: what to bring and how it is handed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialLine {
    pub name: String,
    /// How it is given (`现场拍照`, `电子证照`, `到窗口提交` …), and 原件 / 复印件 notes.
    pub how: String,
    #[serde(default)]
    pub optional: bool,
}

/// A material list (材料清单) for a service item and the citizen's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialList {
    pub hall: String,
    pub service: String,
    pub department: String,
    pub time_limit: String,
    pub fee: String,
    /// The answers that decided the list, as "question: answer" lines.
    pub situation: Vec<String>,
    pub materials: Vec<MaterialLine>,
    /// Some answer makes this a case for a window.
    #[serde(default)]
    pub at_window: bool,
    pub printed_at: String,
    /// Where the same list opens on a phone; empty: no QR code.
    #[serde(default)]
    pub qr_url: String,
}

/// One step of a case's processing, as the slip prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseStep {
    /// Local time, `2026-12-03 10:02`.
    pub at: String,
    /// `已提交`, `已受理` …
    pub status: String,
    #[serde(default)]
    pub comment: String,
}

/// A case's progress (办件进度): where it stands and the department's log. Holds no personal
/// data beyond the case number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseProgressSlip {
    pub hall: String,
    pub case_number: String,
    pub service: String,
    pub status: String,
    pub steps: Vec<CaseStep>,
    pub printed_at: String,
}

impl CaseProgressSlip {
    pub fn receipt(&self, paper: Paper) -> Receipt {
        let mut r = Receipt::new(paper)
            .styled(&self.hall, Align::Center, true, (1, 1))
            .styled("办件进度", Align::Center, true, (2, 2))
            .block(Block::Rule)
            .block(kv("办件编号", &self.case_number))
            .block(kv("办理事项", &self.service))
            .block(kv("当前状态", &self.status))
            .block(Block::Rule);
        for st in &self.steps {
            r = r.text(format!("{}  {}", st.at, st.status));
            if !st.comment.is_empty() {
                r = r.text(format!("  {}", st.comment));
            }
        }
        r.block(Block::Rule).block(kv("打印时间", &self.printed_at))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "kebab-case")]
pub enum Template {
    QueueTicket(QueueTicket),
    ApplicationReceipt(ApplicationReceipt),
    PrintRecord(PrintRecordSlip),
    MaterialList(MaterialList),
    CaseProgress(CaseProgressSlip),
}

impl Template {
    pub fn receipt(&self, paper: Paper) -> Result<Receipt, String> {
        match self {
            Template::QueueTicket(t) => Ok(t.receipt(paper)),
            Template::ApplicationReceipt(t) => t.receipt(paper),
            Template::PrintRecord(t) => Ok(t.receipt(paper)),
            Template::MaterialList(t) => Ok(t.receipt(paper)),
            Template::CaseProgress(t) => Ok(t.receipt(paper)),
        }
    }
}

fn kv(label: &str, value: &str) -> Block {
    Block::Text {
        text: format!("{label}：{value}"),
        align: Align::Left,
        bold: false,
        width: 1,
        height: 1,
    }
}

impl QueueTicket {
    pub fn receipt(&self, paper: Paper) -> Receipt {
        let mut r = Receipt::new(paper)
            .styled(&self.hall, Align::Center, true, (1, 1))
            .styled("排队号 Queue No.", Align::Center, false, (1, 1))
            .styled(&self.number, Align::Center, true, (3, 3))
            .styled(&self.service, Align::Center, true, (1, 2))
            .block(Block::Rule)
            .block(match self.waiting {
                Some(n) => kv("前面等候", &format!("{n} 人")),
                None => kv("前面等候", "请留意叫号屏"),
            })
            .block(kv("取号时间", &self.issued_at));
        if let Some(w) = &self.window_hint {
            r = r.block(kv("办理窗口", w));
        }
        r.block(Block::Qr {
            data: self.qr_url.clone(),
            module: if paper == Paper::Mm58 { 4 } else { 6 },
            level: QrLevel::M,
            align: Align::Center,
        })
        .styled("扫码查看排队进度", Align::Center, false, (1, 1))
        .styled("过号请重新取号，请留意叫号", Align::Center, false, (1, 1))
    }
}

impl ApplicationReceipt {
    pub fn receipt(&self, paper: Paper) -> Result<Receipt, String> {
        if self.id_number_masked.chars().filter(|c| *c == '*').count() < 6 {
            return Err("the ID number on a receipt must be masked (3201**********1234)".into());
        }
        let mut r = Receipt::new(paper)
            .styled(&self.hall, Align::Center, true, (1, 1))
            .styled("受理回执", Align::Center, true, (2, 2))
            .block(Block::Rule)
            .block(kv("办件编号", &self.case_number))
            .block(kv("查询密码", &self.query_password))
            .block(kv("办理事项", &self.service))
            .block(kv("申请人", &self.applicant))
            .block(kv("证件号码", &self.id_number_masked))
            .block(kv("受理时间", &self.accepted_at))
            .block(kv("承诺办结", &self.promised_by));
        if !self.pickup.is_empty() {
            r = r.block(kv("结果领取", &self.pickup));
        }
        if !self.note.is_empty() {
            r = r.styled(&self.note, Align::Left, true, (1, 1));
        }
        r = r
            .block(Block::Rule)
            .styled("已收材料：", Align::Left, true, (1, 1));
        for (i, m) in self.materials.iter().enumerate() {
            r = r.text(format!("{}. {m}", i + 1));
        }
        let barcode: String = self
            .case_number
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !barcode.is_empty() {
            r = r.block(Block::Barcode {
                data: barcode,
                align: Align::Center,
            });
        }
        if !self.query_url.is_empty() {
            r = r.block(Block::Qr {
                data: self.query_url.clone(),
                module: if paper == Paper::Mm58 { 4 } else { 5 },
                level: QrLevel::M,
                align: Align::Center,
            });
        }
        Ok(r.styled(
            "凭办件编号和查询密码查询办理进度",
            Align::Center,
            false,
            (1, 1),
        ))
    }
}

impl PrintRecordSlip {
    pub fn receipt(&self, paper: Paper) -> Receipt {
        Receipt::new(paper)
            .styled(&self.hall, Align::Center, true, (1, 1))
            .styled("打印记录", Align::Center, true, (2, 2))
            .block(Block::Rule)
            .block(kv("终端", &self.terminal))
            .block(kv("文件", &self.document))
            .block(kv(
                "页数",
                &format!("{} 页 × {} 份", self.pages, self.copies),
            ))
            .block(kv("打印时间", &self.printed_at))
            .block(kv("记录编号", &self.record_id))
    }
}

impl MaterialList {
    pub fn receipt(&self, paper: Paper) -> Receipt {
        let mut r = Receipt::new(paper)
            .styled(&self.hall, Align::Center, true, (1, 1))
            .styled("材料清单", Align::Center, true, (2, 2))
            .styled(&self.service, Align::Center, true, (1, 2))
            .block(Block::Rule)
            .block(kv("办理部门", &self.department))
            .block(kv("承诺时限", &self.time_limit))
            .block(kv("收费标准", &self.fee));
        if !self.situation.is_empty() {
            r = r
                .block(Block::Rule)
                .styled("您的情形：", Align::Left, true, (1, 1));
            for line in &self.situation {
                r = r.text(line.clone());
            }
        }
        r = r
            .block(Block::Rule)
            .styled("请准备：", Align::Left, true, (1, 1));
        if self.materials.is_empty() {
            r = r.text("无需提交材料");
        }
        for (i, m) in self.materials.iter().enumerate() {
            let optional = if m.optional { "（选交）" } else { "" };
            r = r.text(format!("{}. {}{optional}", i + 1, m.name));
            r = r.text(format!("   {}", m.how));
        }
        if self.at_window {
            r = r.block(Block::Rule).styled(
                "您的情形需到窗口办理，请携带以上材料取号",
                Align::Left,
                true,
                (1, 1),
            );
        }
        if !self.qr_url.is_empty() {
            r = r
                .block(Block::Qr {
                    data: self.qr_url.clone(),
                    module: if paper == Paper::Mm58 { 4 } else { 5 },
                    level: QrLevel::M,
                    align: Align::Center,
                })
                .styled("扫码在手机上查看本清单", Align::Center, false, (1, 1));
        }
        r.block(kv("打印时间", &self.printed_at))
    }
}

/// The driver's test page: every feature the model has, in both languages.
pub fn test_page(paper: Paper, device: &str) -> Receipt {
    let gradient = {
        let (w, h) = (paper.dots() / 2, 48usize);
        let pixels: Vec<u8> = (0..h)
            .flat_map(|_| (0..w).map(move |x| (x * 255 / w.max(1)) as u8))
            .collect();
        kiosk_image::GrayImage::new(w, h, pixels)
            .map(|g| kiosk_image::dither_floyd_steinberg(&g))
            .ok()
    };
    let mut r = Receipt::new(paper)
        .styled("打印机自检 Printer test", Align::Center, true, (1, 2))
        .text(format!("设备 Device: {device}"))
        .text(format!(
            "纸宽 Paper: {} ({} dots, {} columns)",
            match paper {
                Paper::Mm58 => "58 mm",
                Paper::Mm80 => "80 mm",
            },
            paper.dots(),
            paper.columns()
        ))
        .styled("左对齐 left", Align::Left, false, (1, 1))
        .styled("居中 centre", Align::Center, false, (1, 1))
        .styled("右对齐 right", Align::Right, false, (1, 1))
        .styled("粗体 Bold", Align::Left, true, (1, 1))
        .styled("倍宽倍高 2x2", Align::Left, false, (2, 2))
        .block(Block::Rule)
        .block(Block::Barcode {
            data: "HALLKIT-TEST".into(),
            align: Align::Center,
        })
        .block(Block::Qr {
            data: "https://hallkit.example/selftest".into(),
            module: 4,
            level: QrLevel::M,
            align: Align::Center,
        });
    if let Some(g) = gradient {
        r = r.block(Receipt::image_block(&g, Align::Center));
    }
    r.styled("—— 测试结束 End ——", Align::Center, false, (1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample_ticket() -> QueueTicket {
        QueueTicket {
            hall: "南京市政务服务中心".into(),
            number: "A023".into(),
            service: "户籍业务 Household registration".into(),
            waiting: Some(7),
            issued_at: "2026-11-23 09:41".into(),
            qr_url: "https://zwfw.example/queue/A023".into(),
            window_hint: Some("3-8 号窗口".into()),
        }
    }

    #[test]
    fn receipts_refuse_an_unmasked_id_number() {
        let r = ApplicationReceipt {
            hall: "h".into(),
            case_number: "SQ-1".into(),
            query_password: "1234".into(),
            service: "s".into(),
            applicant: "张三".into(),
            id_number_masked: "320102199001011234".into(),
            materials: vec![],
            accepted_at: "t".into(),
            promised_by: "t".into(),
            query_url: "u".into(),
            pickup: String::new(),
            note: String::new(),
        };
        assert!(r.receipt(Paper::Mm80).unwrap_err().contains("masked"));
    }

    #[test]
    fn a_material_list_encodes_for_both_roll_widths() {
        let list = MaterialList {
            hall: "昆山市政务服务中心".into(),
            service: "户籍证明".into(),
            department: "市公安局".into(),
            time_limit: "1 个工作日".into(),
            fee: "不收费".into(),
            situation: vec!["为谁开具：同户家庭成员".into()],
            materials: vec![
                MaterialLine {
                    name: "居民户口簿".into(),
                    how: "现场拍照（首页及本人页）".into(),
                    optional: false,
                },
                MaterialLine {
                    name: "劳动合同".into(),
                    how: "现场拍照".into(),
                    optional: true,
                },
            ],
            at_window: true,
            printed_at: "2026-12-02 09:41".into(),
            qr_url: "https://zwfw.example/guide?item=huji-zhengming".into(),
        };
        let t: Template = serde_json::from_value(serde_json::json!({
            "template": "material-list",
            "hall": list.hall, "service": list.service, "department": list.department,
            "time_limit": list.time_limit, "fee": list.fee, "situation": list.situation,
            "materials": [{"name": "居民户口簿", "how": "现场拍照（首页及本人页）"},
                          {"name": "劳动合同", "how": "现场拍照", "optional": true}],
            "at_window": true, "printed_at": list.printed_at, "qr_url": list.qr_url,
        }))
        .unwrap();
        assert_eq!(t, Template::MaterialList(list));
        for paper in [Paper::Mm58, Paper::Mm80] {
            let bytes = t.receipt(paper).unwrap().encode().unwrap();
            assert!(bytes.len() > 200);
        }
    }

    #[test]
    fn a_ticket_encodes_for_both_roll_widths() {
        for paper in [Paper::Mm58, Paper::Mm80] {
            let bytes = sample_ticket().receipt(paper).encode().unwrap();
            assert!(bytes.windows(4).any(|w| w == b"A023"));
        }
    }
}
