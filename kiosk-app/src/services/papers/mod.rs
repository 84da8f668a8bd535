//! The citizen's papers printed at the terminal: an electronic licence (电子证照) as its paper
//! print-out, and a proof (证明) the centre issued, each with the issuer's seal; a proof also
//! with its number, check code and a verification QR. Both carry the citizen's name and ID
//! number (the paper is theirs), so they are made in memory, zeroized when dropped, and spooled
//! only while the printer takes them.

mod sheet;

use kiosk_image::encode::{jpeg, pdf};
use kiosk_image::seal::{draw_qr, draw_seal};
use kiosk_image::text::{draw_text, text_width};
use kiosk_protocol::documents::{Licence, LicencePrint, Proof};
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use zeroize::Zeroizing;

pub use sheet::wrap;
use sheet::{Sheet, INK, MARGIN, PAGE_H, PAGE_W, SOFT};

/// Whose paper it is, as the card said.
pub struct Holder<'a> {
    pub name: &'a str,
    pub number: &'a str,
}

/// A paper ready to print: the PDF and a preview of its first page for the screen.
pub struct Paper {
    pub pdf: Zeroizing<Vec<u8>>,
    pub preview: Zeroizing<Vec<u8>>,
    pub pages: usize,
}

/// The seal's radius at 150 dpi: 42 mm across, an official seal's size.
const SEAL_R: i32 = 124;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Where a printed proof is checked: the centre's check route for its number and code.
pub fn verify_url(centre: &str, p: &Proof) -> String {
    format!(
        "{}/api/v1/proofs/{}/check/{}",
        centre.trim_end_matches('/'),
        p.proof_number,
        p.check_code
    )
}

/// The licence as its paper print-out (电子证照打印件).
pub fn licence_paper(
    l: &Licence,
    holder: &Holder<'_>,
    hall: &str,
    printed_before: u32,
    date: &str,
) -> Result<Paper, String> {
    finish(licence_sheet(l, holder, hall, printed_before, date)?)
}

/// The licence's print-out as pages (for an application's PDF, where it is a material).
pub fn licence_pages(
    l: &Licence,
    holder: &Holder<'_>,
    hall: &str,
    date: &str,
) -> Result<Vec<Mat>, String> {
    Ok(licence_sheet(l, holder, hall, 0, date)?.pages)
}

fn licence_sheet(
    l: &Licence,
    holder: &Holder<'_>,
    hall: &str,
    printed_before: u32,
    date: &str,
) -> Result<Sheet, String> {
    let mut s = Sheet::new(&l.name)?;
    frame(s.page())?;
    s.text("电子证照打印件", MARGIN, 24.0, SOFT)?;
    s.y += 20.0;
    s.centred(&l.name, 76.0, INK)?;
    if !l.name_en.is_empty() {
        s.centred(&l.name_en, 28.0, SOFT)?;
    }
    s.y += 40.0;
    // Large enough to read on the screen's preview too.
    let (px, lw) = (36.0, 300.0);
    s.line("持证人", holder.name, px, lw)?;
    s.line("公民身份号码", holder.number, px, lw)?;
    for e in &l.entries {
        s.line(&e.label, &e.value, px, lw)?;
    }
    s.line("证照编号", &l.licence_id, px, lw)?;
    s.line("发证机关", &l.issuer, px, lw)?;
    s.line("发证日期", &l.issued_on, px, lw)?;
    if let Some(v) = &l.valid_until {
        s.line("有效期至", v, px, lw)?;
    }
    s.keep_foot(2.0 * SEAL_R as f32 + 160.0)?;
    // The issuer's seal over the issuer's name, after the entries, right.
    let cx = PAGE_W - MARGIN as i32 - SEAL_R - 20;
    let cy = s.y as i32 + 60 + SEAL_R;
    let issuer_line = format!("{}（电子印章）", l.issuer);
    let w = text_width(&issuer_line, 28.0).map_err(err)?;
    draw_text(
        s.page(),
        &issuer_line,
        (cx as f32 - w / 2.0).max(MARGIN),
        cy as f32 + 10.0,
        28.0,
        INK,
        1.0,
    )
    .map_err(err)?;
    draw_seal(s.page(), cx, cy, SEAL_R, &l.issuer, "电子证照专用章").map_err(err)?;
    let times = if printed_before == 0 {
        "首次打印".to_string()
    } else {
        format!("此前已打印 {printed_before} 次")
    };
    let foot = format!("本件由{hall}自助终端于{date}打印，与电子证照内容一致；{times}。");
    s.y = (PAGE_H as f32 - MARGIN + 10.0).max(s.y);
    let page = s.page();
    for (i, line) in wrap(&foot, 22.0, PAGE_W as f32 - 2.0 * MARGIN, 0.0)
        .iter()
        .enumerate()
    {
        let y = PAGE_H as f32 - MARGIN - 10.0 + i as f32 * 30.0;
        draw_text(page, line, MARGIN, y, 22.0, SOFT, 1.0).map_err(err)?;
    }
    Ok(s)
}

/// The proof (证明): title and number, the statement about the holder, the department's
/// entries and records, the purpose, the issuer's seal and date, and the verification QR.
pub fn proof_paper(
    p: &Proof,
    holder: &Holder<'_>,
    verify: &str,
    date: &str,
) -> Result<Paper, String> {
    let d = &p.data;
    let mut s = Sheet::new(&d.title)?;
    let number = format!("编号：{}", p.proof_number);
    let nw = text_width(&number, 24.0).map_err(err)?;
    s.text(&number, PAGE_W as f32 - MARGIN - nw, 24.0, SOFT)?;
    s.y += 20.0;
    s.centred(&d.title, 56.0, INK)?;
    s.y += 20.0;
    s.paragraph(
        &format!(
            "兹证明 {}（公民身份号码：{}）{}",
            holder.name, holder.number, d.statement
        ),
        30.0,
        2,
    )?;
    s.y += 6.0;
    let lw = 220.0;
    for e in &d.entries {
        s.line(&e.label, &e.value, 26.0, lw)?;
    }
    s.y += 24.0;
    if !d.rows.is_empty() {
        s.room(60.0)?;
        s.y += 28.0;
        let months = format!("最近 {} 个月缴费记录：", d.rows.len());
        s.text(&months, MARGIN, 28.0, SOFT)?;
        s.y += 12.0;
        s.table(&d.columns, &d.rows, 22.0)?;
    }
    if !p.purpose.is_empty() {
        s.paragraph(&format!("此证明用于{}。", p.purpose), 30.0, 2)?;
    }
    s.paragraph("特此证明。", 30.0, 2)?;
    // The foot follows the text, as on a proof issued at a counter: the issuer and the date
    // at the right under the seal, the QR at the left.
    s.keep_foot(2.0 * SEAL_R as f32 + 40.0)?;
    let foot = s.y as i32 + 20;
    let cx = PAGE_W - MARGIN as i32 - SEAL_R - 40;
    let cy = foot + SEAL_R + 10;
    let page = s.page();
    for (line, dy) in [(d.issuer.as_str(), 0.0), (date, 44.0)] {
        let w = text_width(line, 30.0).map_err(err)?;
        draw_text(
            page,
            line,
            (cx as f32 - w / 2.0).max(MARGIN),
            cy as f32 + dy,
            30.0,
            INK,
            1.0,
        )
        .map_err(err)?;
    }
    draw_seal(page, cx, cy - 10, SEAL_R, &d.issuer, "证明专用章").map_err(err)?;
    // The QR at the foot, left, with how to use it.
    let module = 4;
    let top = foot + 20;
    let side = draw_qr(page, verify, MARGIN as i32 - 16, top, module).map_err(err)?;
    let tx = MARGIN + side as f32 - 4.0;
    for (i, line) in [
        "扫码核验本证明".to_string(),
        format!("验证码：{}", p.check_code),
        format!("证明编号：{}", p.proof_number),
    ]
    .iter()
    .enumerate()
    {
        draw_text(
            page,
            line,
            tx,
            top as f32 + 60.0 + i as f32 * 36.0,
            24.0,
            SOFT,
            1.0,
        )
        .map_err(err)?;
    }
    finish(s)
}

/// A thin double rule around the page, as certificates have.
fn frame(page: &mut Mat) -> Result<(), String> {
    for (inset, thick) in [(60, 3), (72, 1)] {
        imgproc::rectangle(
            page,
            opencv::core::Rect::new(inset, inset, PAGE_W - 2 * inset, PAGE_H - 2 * inset),
            opencv::core::Scalar::new(60.0, 60.0, 140.0, 0.0),
            thick,
            imgproc::LINE_AA,
            0,
        )
        .map_err(err)?;
    }
    Ok(())
}

/// The pages as a PDF, and the first page as a preview about 900 px tall.
fn finish(s: Sheet) -> Result<Paper, String> {
    let mut jpegs = Vec::with_capacity(s.pages.len());
    for p in &s.pages {
        jpegs.push(jpeg(p, 88).map_err(err)?);
    }
    let out = pdf(&jpegs, 0.0).map_err(err);
    for j in &mut jpegs {
        zeroize::Zeroize::zeroize(&mut j.bytes);
    }
    let pdf = Zeroizing::new(out?);
    let first = &s.pages[0];
    let h = 900;
    let w = (first.cols() as f32 * h as f32 / first.rows() as f32).round() as i32;
    let mut small = Mat::default();
    imgproc::resize(
        first,
        &mut small,
        Size::new(w, h),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .map_err(err)?;
    let preview = Zeroizing::new(jpeg(&small, 85).map_err(err)?.bytes);
    Ok(Paper {
        pdf,
        preview,
        pages: s.pages.len(),
    })
}

/// Overwrites a licence's texts before it is freed: its entries are the citizen's (an
/// address, a registration number).
pub fn wipe_licence(l: &mut Licence) {
    use zeroize::Zeroize;
    l.licence_id.zeroize();
    l.issued_on.zeroize();
    l.valid_until.zeroize();
    for e in &mut l.entries {
        e.value.zeroize();
    }
}

/// Overwrites a proof's data before it is freed.
pub fn wipe_proof(p: &mut Proof) {
    use zeroize::Zeroize;
    p.proof_number.zeroize();
    p.check_code.zeroize();
    p.purpose.zeroize();
    p.data.statement.zeroize();
    for e in &mut p.data.entries {
        e.value.zeroize();
    }
    for r in &mut p.data.rows {
        r.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// The journal record of a printed licence (`licence.printed`): the centre counts it.
pub fn print_record(print: &LicencePrint, licence_type: &str) -> serde_json::Value {
    serde_json::json!({ "licence": print, "licence_type": licence_type })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_protocol::documents::{Entry, ProofData};

    fn holder() -> Holder<'static> {
        Holder {
            name: "张三丰",
            number: "320583199001011232",
        }
    }

    fn proof(rows: usize) -> Proof {
        Proof {
            proof_number: "ZM20261203000001".into(),
            check_code: "ABCD2345".into(),
            issued_at: "2026-12-03T10:00:00+08:00".into(),
            purpose: "申请住房贷款".into(),
            data: ProofData {
                kind: "shebao-canbao".into(),
                title: "社会保险参保缴费证明".into(),
                title_en: String::new(),
                issuer: "苏州市社会保险基金管理中心".into(),
                statement: "自2013年07月起在本市参加社会保险。".into(),
                entries: vec![Entry {
                    label: "参保单位".into(),
                    label_en: String::new(),
                    value: "昆山市鼎盛精密机械有限公司".into(),
                }],
                columns: if rows > 0 {
                    vec!["月份".into(), "基数".into()]
                } else {
                    vec![]
                },
                rows: (0..rows)
                    .map(|i| vec![format!("2026-{:02}", 1 + i % 12), "8,650.00".into()])
                    .collect(),
            },
        }
    }

    #[test]
    fn a_proof_is_one_page_and_long_records_run_onto_more() {
        let url = verify_url("http://127.0.0.1:8640/", &proof(0));
        assert_eq!(
            url,
            "http://127.0.0.1:8640/api/v1/proofs/ZM20261203000001/check/ABCD2345"
        );
        let short = proof_paper(&proof(6), &holder(), &url, "2026年12月03日").unwrap();
        assert_eq!(short.pages, 1);
        let doc = lopdf::Document::load_mem(&short.pdf).unwrap();
        assert_eq!(doc.get_pages().len(), 1);
        let long = proof_paper(&proof(36), &holder(), &url, "2026年12月03日").unwrap();
        // To look at the papers: HALLKIT_DUMP_PAPERS=/some/dir cargo test -p kiosk-app papers
        if let Ok(dir) = std::env::var("HALLKIT_DUMP_PAPERS") {
            let dir = std::path::Path::new(&dir);
            std::fs::write(dir.join("proof-6.pdf"), &short.pdf[..]).unwrap();
            std::fs::write(dir.join("proof-36.pdf"), &long.pdf[..]).unwrap();
        }
        assert_eq!(long.pages, 2);
        let preview = kiosk_image::scan::decode(&long.preview).unwrap();
        assert_eq!(preview.rows(), 900);
        // The seal is on the page: strong red somewhere in the lower right quarter.
        let page = kiosk_image::scan::decode(&short.preview).unwrap();
        let mut red = 0;
        for y in page.rows() / 2..page.rows() {
            for x in page.cols() / 2..page.cols() {
                let p = page.at_2d::<opencv::core::Vec3b>(y, x).unwrap();
                if p[2] > 150 && p[0] < 110 && p[1] < 110 {
                    red += 1;
                }
            }
        }
        assert!(red > 500, "{red} red pixels");
    }

    #[test]
    fn the_sample_proofs_with_a_year_of_records_fit_one_page() {
        let sample = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/sample-documents.json"
        ))
        .unwrap();
        let docs = kiosk_central::documents::Import::parse(&sample).unwrap();
        for data in &docs[0].proofs {
            let mut p = proof(0);
            p.data = data.clone();
            p.data.rows.truncate(12);
            let paper = proof_paper(&p, &holder(), "http://c/x", "2026年12月03日").unwrap();
            assert_eq!(paper.pages, 1, "{}", data.kind);
            if let Ok(dir) = std::env::var("HALLKIT_DUMP_PAPERS") {
                let name = format!("{}.pdf", data.kind);
                std::fs::write(std::path::Path::new(&dir).join(name), &paper.pdf[..]).unwrap();
            }
        }
    }

    #[test]
    fn a_licence_print_says_how_often_it_was_printed() {
        let l = Licence {
            licence_id: "J320583-2018-009123".into(),
            licence_type: "marriage-certificate".into(),
            name: "结婚证".into(),
            name_en: "Marriage certificate".into(),
            issuer: "昆山市民政局".into(),
            issued_on: "2018-10-08".into(),
            valid_until: None,
            entries: vec![Entry {
                label: "登记日期".into(),
                label_en: String::new(),
                value: "2018-10-08".into(),
            }],
            printed: 2,
        };
        let p = licence_paper(&l, &holder(), "昆山市政务服务中心", 2, "2026-12-03").unwrap();
        if let Ok(dir) = std::env::var("HALLKIT_DUMP_PAPERS") {
            std::fs::write(std::path::Path::new(&dir).join("licence.pdf"), &p.pdf[..]).unwrap();
        }
        assert_eq!(p.pages, 1);
        assert!(lopdf::Document::load_mem(&p.pdf).is_ok());
    }
}
