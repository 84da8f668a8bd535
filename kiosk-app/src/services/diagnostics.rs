//! The admin mode's device tests: which tests a device offers (from its kind and the actions
//! its driver has), running one on a device the admin mode holds, and what the result shows —
//! a few lines, masked (a test card read shows 张** and 110105********002X, never more), and
//! for a camera the still it took, kept only on screen.

use std::time::Duration;

use base64::Engine;
use kiosk_hal::DeviceKind;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::runtime::{Claim, Runtime};

/// One test a device offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Test {
    /// The test's name (the tours and the audit log use it).
    pub name: &'static str,
    /// The driver action it runs.
    pub action: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    /// Seconds it may take (a card read waits for someone to place a card).
    pub timeout_s: u64,
}

const fn t(
    name: &'static str,
    action: &'static str,
    zh: &'static str,
    en: &'static str,
    timeout_s: u64,
) -> Test {
    Test {
        name,
        action,
        zh,
        en,
        timeout_s,
    }
}

const SELF_TEST: Test = t("self-test", "self-test", "设备自检", "Self-test", 20);

const RECEIPT: &[Test] = &[
    t("print-test", "print-test", "打印测试页", "Test print", 30),
    t("status", "status", "读取状态", "Read status", 10),
];
const A4: &[Test] = &[
    t("print-test", "print-test", "打印测试页", "Test page", 60),
    t("status", "status", "读取状态", "Read status", 10),
];
const ID_READER: &[Test] = &[
    t(
        "read-card",
        "read-card",
        "读卡测试（请放身份证）",
        "Read a card (place an ID card)",
        10,
    ),
    t(
        "sam-id",
        "sam-id",
        "读取安全模块号",
        "Read the SAM number",
        10,
    ),
];
const FINGER: &[Test] = &[t(
    "fp-capture",
    "fp-capture",
    "采集指纹（请按手指）",
    "Capture a finger (press a finger)",
    15,
)];
const SEAL: &[Test] = &[
    t("seal-test", "seal-test", "用印机自检", "Seal test", 30),
    t(
        "status",
        "status",
        "读取状态和印油",
        "Read status and ink",
        10,
    ),
];
const DOC_CAMERA: &[Test] = &[
    t("still", "frame", "拍摄一张高拍照片", "Capture a still", 15),
    t("preview", "frame", "摄像头预览", "Camera preview", 10),
];
const FACE_CAMERA: &[Test] = &[t("preview", "frame", "摄像头预览", "Camera preview", 10)];
const SCANNER: &[Test] = &[
    t("light", "light", "补光灯测试", "Light test", 10),
    t("trigger", "trigger", "触发扫码", "Trigger a scan", 10),
];
const PCSC: &[Test] = &[
    t("readers", "readers", "列出读卡器", "List the readers", 10),
    t("atr", "atr", "读取卡片ATR", "Read the card's ATR", 10),
    // What `card_uid` in `[[admin.technicians]]` needs, read on the terminal itself.
    t(
        "card-uid",
        "card-uid",
        "读取工作证UID",
        "Read a staff card's UID",
        10,
    ),
];
const BOARD: &[Test] = &[t(
    "lights",
    "light",
    "指示灯测试（闪烁3秒）",
    "Light test (3 s blink)",
    15,
)];

/// The tests of a kind, in the order the page shows them.
fn by_kind(kind: DeviceKind) -> &'static [Test] {
    match kind {
        DeviceKind::ReceiptPrinter => RECEIPT,
        DeviceKind::A4Printer => A4,
        DeviceKind::IdCardReader => ID_READER,
        DeviceKind::Fingerprint => FINGER,
        DeviceKind::SealModule => SEAL,
        DeviceKind::DocumentCamera => DOC_CAMERA,
        DeviceKind::FaceCamera => FACE_CAMERA,
        DeviceKind::QrScanner => SCANNER,
        DeviceKind::CardReader => PCSC,
        DeviceKind::Board => BOARD,
    }
}

/// The tests `kind` offers: the self-test every device has (the device actor runs it), then
/// those whose action the driver has.
pub fn tests_for(kind: DeviceKind, actions: &[&str]) -> Vec<Test> {
    std::iter::once(SELF_TEST)
        .chain(
            by_kind(kind)
                .iter()
                .copied()
                .filter(|t| actions.contains(&t.action)),
        )
        .collect()
}

/// What a test showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub test: &'static str,
    pub ok: bool,
    /// `key: value` lines, masked; an error's detail when it failed.
    pub lines: Vec<(String, String)>,
    /// A camera's picture (JPEG), for the screen only.
    pub picture: Option<Zeroizing<Vec<u8>>>,
}

/// Runs `test` on the device `claim` holds.
pub fn run(rt: &Runtime, claim: &Claim, test: &Test) -> Outcome {
    let timeout = Duration::from_secs(test.timeout_s);
    let result = match test.name {
        "still" => rt.call(
            claim,
            "frame",
            json!({"still": true, "quality": 85}),
            timeout,
        ),
        "preview" => rt.call(claim, "frame", json!({"quality": 80}), timeout),
        "light" => rt.call(claim, "light", json!({"on": true}), timeout),
        "lights" => blink_all(rt, claim, timeout),
        _ => rt.call(claim, test.action, json!({}), timeout),
    };
    match result {
        Ok(v) => summarise(test.name, v),
        Err(e) => Outcome {
            test: test.name,
            ok: false,
            lines: vec![(
                "error".into(),
                crate::centre::commands::mask_line(&e.to_string()),
            )],
            picture: None,
        },
    }
}

/// Every guide light blinks for three seconds, then goes off: a technician watches them.
fn blink_all(
    rt: &Runtime,
    claim: &Claim,
    timeout: Duration,
) -> Result<Value, crate::runtime::CallError> {
    let state = rt.call(claim, "lights", json!({}), timeout)?;
    let modules: Vec<String> = state
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for m in &modules {
        rt.call(
            claim,
            "light",
            json!({"module": m, "mode": "blink", "period_ms": 400}),
            timeout,
        )?;
    }
    std::thread::sleep(Duration::from_secs(3));
    for m in &modules {
        rt.call(claim, "light", json!({"module": m, "mode": "off"}), timeout)?;
    }
    Ok(json!({ "modules": modules.join(", "), "blinked_s": 3 }))
}

/// The lines a result shows. Pictures and templates never become text; a card's identity is
/// already masked by the driver (no `reveal`).
pub fn summarise(test: &'static str, v: Value) -> Outcome {
    let mut picture = None;
    if let Some(b64) = v.get("jpeg").and_then(Value::as_str) {
        picture = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .map(Zeroizing::new);
    }
    let mut lines = Vec::new();
    flatten("", &v, &mut lines);
    Outcome {
        test,
        ok: true,
        lines,
        picture,
    }
}

/// Keys whose values are bytes for a machine, not a technician.
const HIDDEN: &[&str] = &["jpeg", "ir_jpeg", "template", "bmp_base64", "photo_base64"];

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    if out.len() >= 12 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if HIDDEN.contains(&k.as_str()) {
                    if let Some(s) = x.as_str() {
                        // Templates come as hex, pictures as base64.
                        let n = if k == "template" {
                            s.len() / 2
                        } else {
                            base64::engine::general_purpose::STANDARD
                                .decode(s)
                                .map_or(0, |b| b.len())
                        };
                        out.push((key, format!("{n} bytes")));
                    }
                    continue;
                }
                flatten(&key, x, out);
            }
        }
        Value::Null => {}
        // A nested flag that is off (`status_after.cover_open: false`) says nothing a
        // technician needs; the flags that are on show.
        Value::Bool(false) if prefix.contains('.') => {}
        Value::String(s) => out.push((prefix.to_string(), crate::centre::commands::mask_line(s))),
        other => out.push((
            prefix.to_string(),
            crate::centre::commands::mask_line(&other.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_follow_the_kind_and_the_drivers_actions() {
        let names = |k, a: &[&str]| tests_for(k, a).iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(
            names(
                DeviceKind::ReceiptPrinter,
                &["print", "print-test", "status"]
            ),
            ["self-test", "print-test", "status"]
        );
        assert_eq!(
            names(DeviceKind::IdCardReader, &["read-card"]),
            ["self-test", "read-card"]
        );
        assert_eq!(
            names(DeviceKind::DocumentCamera, &["frame", "capture"]),
            ["self-test", "still", "preview"]
        );
        assert_eq!(names(DeviceKind::QrScanner, &["scan"]), ["self-test"]);
        for k in DeviceKind::ALL {
            assert!(!by_kind(k).is_empty(), "{k:?} has a test");
        }
    }

    #[test]
    fn results_show_masked_lines_and_keep_pictures_off_the_text() {
        let jpeg = base64::engine::general_purpose::STANDARD.encode([0xff, 0xd8, 0xff, 0xd9]);
        let o = summarise(
            "still",
            json!({"width": 1280, "height": 720, "jpeg": jpeg, "ir_jpeg": null}),
        );
        assert!(o.ok);
        assert_eq!(o.picture.as_deref().map(Vec::len), Some(4));
        assert!(o.lines.contains(&("width".into(), "1280".into())));
        assert!(o.lines.iter().any(|(k, v)| k == "jpeg" && v == "4 bytes"));
        let o = summarise(
            "print-test",
            json!({"outcome": "printed", "status_after": {"cover_open": false, "paper_near_end": true}}),
        );
        assert_eq!(
            o.lines,
            vec![
                ("outcome".into(), "printed".into()),
                ("status_after.paper_near_end".into(), "true".into())
            ]
        );
        let o = summarise(
            "read-card",
            json!({"identity": {"name": "张**", "number": "110105********002X"},
                   "note": "holder 11010519491231002X phone 13812345678"}),
        );
        assert!(o.lines.contains(&("identity.name".into(), "张**".into())));
        let note = &o.lines.iter().find(|(k, _)| k == "note").unwrap().1;
        assert!(
            !note.contains("19491231") && !note.contains("1234"),
            "{note}"
        );
        let o = summarise("fp-capture", json!({"template": "00".repeat(512)}));
        assert_eq!(o.lines, vec![("template".into(), "512 bytes".into())]);
    }
}
