//! The PC/SC driver against a real pcscd with the vsmartcard virtual reader (vpcd); the card side
//! is the Rust virtual social-security card. Needs pcscd and vsmartcard-vpcd (installed by
//! scripts/setup-debian.sh) and root to start pcscd.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiosk_drivers::pcsc::apdu::{Command as Apdu, SSSE_AID};
use kiosk_drivers::pcsc::sim::{atr, badge_atr, VirtualCard};
use kiosk_drivers::pcsc::PcscReader;
use kiosk_drivers::spec::TransportKind;
use kiosk_drivers::DeviceSpec;
use kiosk_hal::actor::{CommandContext, Device};
use kiosk_hal::device::{CompletionCode, Health, SubStatus};
use kiosk_hal::DeviceKind;
use serde_json::json;

/// A pcscd for this test, unless one is already serving vpcd.
struct Pcscd(Option<Child>);

impl Pcscd {
    fn ensure() -> Pcscd {
        if TcpStream::connect(("127.0.0.1", 35964)).is_ok() {
            return Pcscd(None);
        }
        let child = Command::new("pcscd")
            .args(["--foreground"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pcscd is installed by scripts/setup-debian.sh");
        // vpcd's second slot is never used by a card here, so probing it leaves the first alone.
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", 35964)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pcscd did not load the vpcd driver"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Pcscd(Some(child))
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(mut f: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn social_security_card_through_pcscd_and_vpcd() {
    let _pcscd = Pcscd::ensure();
    let mut spec = DeviceSpec::new(
        "sscard",
        DeviceKind::CardReader,
        kiosk_drivers::pcsc::DRIVER,
        TransportKind::Pcsc,
    );
    spec.options
        .insert("reader".into(), json!("Virtual PCD 00 00"));
    let mut reader = PcscReader::from_spec(&spec).unwrap();
    let ctx = || CommandContext::with_timeout(Duration::from_secs(10));

    let readers = reader.readers().unwrap();
    assert!(
        readers.iter().any(|r| r.contains("Virtual PCD 00 00")),
        "{readers:?}"
    );
    let h = reader.poll();
    assert_eq!(h.health, Health::Online, "{}", h.detail);
    assert!(!h.sub.contains(&SubStatus::CardPresent));

    // No card: APDUs fail with a typed "no card" (or a timeout waiting for one).
    let e = reader
        .run("pcsc-apdu", &json!({"apdu": "0084000008"}), &ctx())
        .unwrap_err();
    assert!(
        matches!(
            e.code,
            CompletionCode::UserError | CompletionCode::HardwareError | CompletionCode::NotReady
        ),
        "{e}"
    );
    assert_eq!(
        reader
            .wait_card(&CommandContext::with_timeout(Duration::from_millis(300)))
            .unwrap_err()
            .code,
        CompletionCode::Timeout
    );

    let card = VirtualCard::start("sscard", 35963, "D12345678");
    card.insert();
    let got = reader.wait_card(&ctx()).unwrap();
    assert_eq!(got, atr());
    wait_for(
        || reader.poll().sub.contains(&SubStatus::CardPresent),
        "card present in health",
    );

    let v = reader.run("select-ssc", &json!({}), &ctx()).unwrap();
    assert_eq!(v["sw"], "9000");
    assert!(v["fci"].as_str().unwrap().contains(&hex::encode(SSSE_AID)));
    let sel = hex::encode(Apdu::select_file(0xEF05).encode().unwrap());
    assert_eq!(
        reader
            .run("pcsc-apdu", &json!({"apdu": sel}), &ctx())
            .unwrap()["sw"],
        "9000"
    );
    let rec = hex::encode(Apdu::read_record(7, 0).encode().unwrap());
    let v = reader
        .run("pcsc-apdu", &json!({"apdu": rec}), &ctx())
        .unwrap();
    assert_eq!(v["sw"], "9000");
    assert!(v["data"]
        .as_str()
        .unwrap()
        .ends_with(&hex::encode("D12345678")));
    assert_eq!(
        reader
            .run("pcsc-apdu", &json!({"apdu": "00CA0000"}), &ctx())
            .unwrap()["sw"],
        "6D00"
    );
    assert_eq!(
        reader
            .run("pcsc-apdu", &json!({"apdu": "00A4"}), &ctx())
            .unwrap_err()
            .code,
        CompletionCode::InvalidData
    );
    assert!(card.apdus() >= 4);

    // Hot-plug: pulling the card is seen through the reader's state change.
    let mut seen = Vec::new();
    reader.take_input(Duration::from_millis(100));
    card.remove();
    wait_for(
        || {
            seen.extend(reader.take_input(Duration::from_millis(200)));
            seen.iter()
                .any(|i| i.kind == "card" && i.data["present"] == false)
        },
        "card removal event",
    );
    card.insert();
    wait_for(
        || {
            seen.extend(reader.take_input(Duration::from_millis(200)));
            seen.iter()
                .any(|i| i.kind == "card" && i.data["present"] == true)
        },
        "card insertion event",
    );
    // The connection from before the removal is stale; the driver reconnects by itself.
    assert_eq!(
        reader.run("select-ssc", &json!({}), &ctx()).unwrap()["sw"],
        "9000"
    );
    assert_eq!(
        reader.run("card-present", &json!({}), &ctx()).unwrap()["present"],
        true
    );

    // A social-security card gives no UID: it is not a staff badge.
    let e = reader.run("card-uid", &json!({}), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::InvalidData, "{e}");

    // A technician's badge instead: pcscd sees the card change and the badge's ATR.
    card.insert_badge(&[0x04, 0xA1, 0xB2, 0xC3]);
    wait_for(
        || {
            reader
                .run("atr", &json!({}), &ctx())
                .is_ok_and(|v| v["atr"] == hex::encode(badge_atr()))
        },
        "the badge's ATR",
    );
    assert_eq!(
        reader.run("card-uid", &json!({}), &ctx()).unwrap()["uid"],
        "04A1B2C3"
    );
    card.remove();
    wait_for(
        || reader.run("card-present", &json!({}), &ctx()).unwrap()["present"] == false,
        "the badge taken away",
    );
}
