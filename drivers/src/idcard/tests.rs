//! The ID card reader driver against its simulator over real pseudo-terminals at 115200 bps.

use super::sim::{CardFixture, IdCardSim};
use super::*;
use crate::sim::{SimControl, SimEnv, SimFaults};
use crate::spec::TransportKind;
use kiosk_hal::clock::{ManualClock, SystemClock};
use kiosk_hal::device::ProgressSink;
use kiosk_hal::DeviceKind;

use self::identity::{CardType, ValidTo};

fn setup() -> (tempfile::TempDir, IdCardSim, IdCardReader) {
    setup_with_clock(SystemClock::shared())
}

fn setup_with_clock(clock: SharedClock) -> (tempfile::TempDir, IdCardSim, IdCardReader) {
    let dir = tempfile::tempdir().unwrap();
    let env = SimEnv::new(dir.path()).unwrap();
    let sim = IdCardSim::start("idcard", &env).unwrap();
    let mut spec = DeviceSpec::new(
        "idcard",
        DeviceKind::IdCardReader,
        DRIVER,
        TransportKind::Serial,
    );
    spec.path = Some(sim.endpoint());
    spec.baud = Some(115_200);
    spec.options
        .insert("photo_decoder".into(), json!("fixture"));
    spec.options.insert(
        "fixture_dir".into(),
        json!(sim.photo_dir().to_string_lossy()),
    );
    spec.options.insert("find_interval_ms".into(), json!(50));
    let reader = IdCardReader::from_spec(&spec, clock).unwrap();
    (dir, sim, reader)
}

fn ctx(ms: u64) -> CommandContext {
    CommandContext::with_timeout(Duration::from_millis(ms))
}

#[test]
fn reads_every_card_type_with_photo_address_and_fingerprint() {
    let (_d, sim, mut r) = setup();
    assert_eq!(r.poll().health, Health::Online);
    assert_eq!(r.sam_id().unwrap(), "05.01-20101111-0009012345-1234567890");
    for (name, _) in sim::BUILTIN_CARDS
        .iter()
        .filter(|(n, _)| *n != "resident-expired")
    {
        let card = CardFixture::builtin(name).unwrap();
        sim.place(card.clone()).unwrap();
        let read = r
            .read_card(card.fingerprint)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut want = card.identity.clone();
        want.appended_address = card.appended_address.clone();
        assert_eq!(read.identity, want, "{name}");
        assert_eq!(read.photo.as_ref().unwrap(), &card.photo(), "{name}: photo");
        assert_eq!(
            read.fingerprint.as_ref().map(Vec::len),
            card.fingerprint.then_some(1024),
            "{name}"
        );
        sim.lift().unwrap();
    }
    let y = CardFixture::builtin("foreign-2023").unwrap();
    sim.place(y).unwrap();
    let read = r.read_card(false).unwrap();
    assert_eq!(read.identity.card_type, CardType::ForeignPermanent2023);
    assert!(read.identity.provisional_layout);
}

#[test]
fn biometrics_only_with_reveal_and_asked_for() {
    let (_d, sim, mut r) = setup();
    let read_with = |r: &mut IdCardReader, args: Value| {
        sim.lift().unwrap();
        sim.place(CardFixture::builtin("resident").unwrap())
            .unwrap();
        r.run("read-card", &args, &ctx(3000)).unwrap()
    };
    let full = read_with(
        &mut r,
        json!({ "fingerprint": true, "reveal": true, "biometrics": true }),
    );
    let bmp = base64::engine::general_purpose::STANDARD
        .decode(full["photo"]["bmp_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(&bmp[..2], b"BM");
    assert_eq!(full["fingerprint_hex"].as_str().unwrap().len(), 2048);
    assert_eq!(full["identity"]["name"], "张三丰");
    // Biometrics are never handed out masked, nor without being asked for.
    for args in [
        json!({ "fingerprint": true, "biometrics": true }),
        json!({ "fingerprint": true, "reveal": true }),
    ] {
        let v = read_with(&mut r, args);
        assert!(v["photo"].get("bmp_base64").is_none());
        assert!(v.get("fingerprint_hex").is_none());
    }
}

#[test]
fn a_read_card_must_be_lifted_before_it_reads_again() {
    let (_d, sim, mut r) = setup();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    r.read_card(false).unwrap();
    let e: CommandError = r.read_card(false).err().unwrap().into();
    assert_eq!(e.code, CompletionCode::UserError, "{e}");
    assert!(e.detail.contains("SW3 80"), "{e}");
    sim.lift().unwrap();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    assert!(r.read_card(false).is_ok());
}

#[test]
fn wait_card_reports_progress_and_can_be_canceled() {
    let (_d, sim, mut r) = setup();
    let (sink, progress) = ProgressSink::channel();
    let mut c = ctx(10_000);
    c.progress = sink;
    let placer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        sim.place(CardFixture::builtin("hk-permit").unwrap())
            .unwrap();
        sim
    });
    let read = r.wait_card(false, &c).unwrap();
    assert_eq!(read.identity.pass_number.as_deref(), Some("H60123456"));
    let seen: Vec<Progress> = progress.try_iter().collect();
    assert_eq!(seen, vec![Progress::PlaceCard, Progress::RemoveCard]);
    let _sim = placer.join().unwrap();

    let c = ctx(10_000);
    let cancel = c.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        cancel.cancel();
    });
    assert_eq!(
        r.wait_card(false, &c).err().unwrap().code,
        CompletionCode::Canceled
    );
    assert_eq!(
        r.wait_card(false, &ctx(200)).err().unwrap().code,
        CompletionCode::Timeout
    );
}

#[test]
fn a_card_pulled_away_mid_read_is_read_again() {
    let (_d, sim, mut r) = setup();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    sim.fail_reads(1, 0x41).unwrap();
    let (sink, progress) = ProgressSink::channel();
    let mut c = ctx(5000);
    c.progress = sink;
    assert!(r.wait_card(false, &c).is_ok());
    assert!(progress.try_iter().any(|p| p == Progress::HoldStill));
    // Twice in a row is the citizen's to fix: a user error that says so.
    sim.lift().unwrap();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    sim.fail_reads(2, 0x41).unwrap();
    let e = r.wait_card(false, &ctx(5000)).err().unwrap();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(e.detail.contains("card moved"), "{e}");
}

#[test]
fn fragmented_slow_and_noisy_replies_still_read() {
    let (_d, sim, mut r) = setup();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    sim.set_faults(SimFaults {
        garbage: vec![0x00, 0xAA, 0x13],
        fragment: Some(61),
        delay_ms: 2,
        ..Default::default()
    })
    .unwrap();
    let read = r.read_card(true).unwrap();
    assert_eq!(read.identity.number, "320583199001011232");
    assert!(r.rx.stats().garbage_bytes > 0);
}

#[test]
fn a_lost_find_reply_does_not_end_the_wait_but_a_silent_reader_does() {
    let (_d, sim, mut r) = setup();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    let lost = |n| SimFaults {
        swallow_next: std::cell::Cell::new(n),
        ..Default::default()
    };
    // Two FINDs go unanswered; the third finds the card.
    sim.set_faults(lost(2)).unwrap();
    let read = r.wait_card(false, &ctx(10_000)).unwrap();
    assert_eq!(read.identity.number, "320583199001011232");
    // Three in a row: the reader stopped answering, which is not "no card".
    sim.lift().unwrap();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    sim.set_faults(lost(3)).unwrap();
    let e = r.wait_card(false, &ctx(10_000)).err().unwrap();
    assert_eq!(e.code, CompletionCode::Timeout);
    assert!(!e.detail.contains("no card"), "{e}");
    sim.set_faults(SimFaults::default()).unwrap();
    assert_eq!(r.poll().health, Health::Online);
}

#[test]
fn a_late_find_reply_is_not_taken_for_the_next_commands_answer() {
    let (_d, sim, mut r) = setup();
    // The FIND's answer comes 1.5 s late: after FIND gave up (1 s), within the status
    // request's second. The simulator clears the delay before it reads that request (its
    // mailbox comes first), so the status is answered at once when asked again.
    sim.set_faults(SimFaults {
        delay_ms: 1500,
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(r.find(), Err(ReaderError::Timeout(_))));
    std::thread::scope(|s| {
        s.spawn(|| sim.set_faults(SimFaults::default()).unwrap());
        r.sam_status()
            .expect("the late FIND answer (no card) was taken for the status");
    });
}

#[test]
fn checksum_errors_silence_and_unplug_are_typed() {
    let (_d, sim, mut r) = setup();
    sim.set_faults(SimFaults {
        corrupt_last: true,
        ..Default::default()
    })
    .unwrap();
    let e: CommandError = r.sam_id().err().unwrap().into();
    assert_eq!(e.code, CompletionCode::HardwareError);
    assert!(e.detail.contains("checksum"), "{e}");
    sim.set_faults(SimFaults {
        no_reply: true,
        ..Default::default()
    })
    .unwrap();
    let e: CommandError = r.sam_status().err().unwrap().into();
    assert_eq!(e.code, CompletionCode::Timeout);
    assert_eq!(r.poll().health, Health::Offline);
    sim.set_faults(SimFaults::default()).unwrap();
    assert_eq!(r.poll().health, Health::Online);
    sim.unplug().unwrap();
    let mut h = r.poll().health;
    for _ in 0..20 {
        if h == Health::NoDevice {
            break;
        }
        h = r.poll().health;
    }
    assert_eq!(h, Health::NoDevice);
    sim.replug().unwrap();
    assert_eq!(r.poll().health, Health::Online);
}

#[test]
fn unauthorised_sam_is_a_hardware_error_with_its_sub_status() {
    let (_d, sim, mut r) = setup();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    sim.set_sam_status(0x66).unwrap();
    let h = r.poll();
    assert_eq!(h.health, Health::HardwareError);
    assert_eq!(h.sub, vec![SubStatus::SamNotAuthorised]);
    assert_eq!(h.centre_state(), kiosk_hal::CentreState::Abnormal);
    let e: CommandError = r.read_card(false).err().unwrap().into();
    assert_eq!(e.code, CompletionCode::HardwareError);
    assert!(e.detail.contains("SW3 66"), "{e}");
}

#[test]
fn expiry_is_checked_by_the_injected_clock() {
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = ManualClock::starting_at(t);
    let (_d, sim, mut r) = setup_with_clock(std::sync::Arc::new(clock.clone()));
    sim.place(CardFixture::builtin("resident-expired").unwrap())
        .unwrap();
    let e: CommandError = r.read_card(false).err().unwrap().into();
    assert_eq!(e.code, CompletionCode::InvalidData);
    assert!(e.detail.contains("expired on 2025-03-10"), "{e}");
    // The resident card is good until 2040-05-01; in 2041 it is not.
    sim.lift().unwrap();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    clock.advance(Duration::from_secs(15 * 366 * 86_400));
    assert!(r
        .read_card(false)
        .err()
        .unwrap()
        .to_string()
        .contains("expired on 2040-05-01"));
}

#[test]
fn read_frames_decode_offline_and_bad_frames_are_errors() {
    let card = CardFixture::builtin("resident").unwrap();
    let raw = RawRead {
        text: identity::encode_text(&card.identity).to_vec(),
        wlt: card.wlt(),
        fingerprint: None,
    };
    let frame = Reply::new(0x90, build_read_payload(&raw, false))
        .encode()
        .unwrap();
    assert_eq!(
        frame.len(),
        1295,
        "a text+photo read reply is 1295 bytes on the wire"
    );
    assert_eq!(
        &frame[..14],
        &[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x05, 0x08, 0x00, 0x00, 0x90, 0x01, 0x00, 0x04, 0x00]
    );
    let (id, _) = decode_read_frame(&frame).unwrap();
    assert_eq!(id.number, "320583199001011232");
    assert_eq!(
        id.valid_to,
        ValidTo::Date(chrono::NaiveDate::from_ymd_opt(2040, 5, 1).unwrap())
    );
    let mut broken = frame.clone();
    broken[100] ^= 1;
    assert!(matches!(
        decode_read_frame(&broken),
        Err(ReaderError::Frame(FrameError::Checksum { .. }))
    ));
    let failed = Reply::new(0x41, vec![]).encode().unwrap();
    assert!(matches!(
        decode_read_frame(&failed),
        Err(ReaderError::Sam(SamStatus::ReadFailed))
    ));
    let short = Reply::new(0x90, vec![0x01, 0x00]).encode().unwrap();
    assert!(matches!(
        decode_read_frame(&short),
        Err(ReaderError::Payload(_))
    ));
}

#[test]
fn absent_vendor_library_leaves_reads_working_without_photos() {
    let dir = tempfile::tempdir().unwrap();
    let env = SimEnv::new(dir.path()).unwrap();
    let sim = IdCardSim::start("idcard", &env).unwrap();
    let mut spec = DeviceSpec::new(
        "idcard",
        DeviceKind::IdCardReader,
        DRIVER,
        TransportKind::Serial,
    );
    spec.path = Some(sim.endpoint());
    spec.options.insert("photo_decoder".into(), json!("vendor"));
    spec.options
        .insert("decoder_library".into(), json!("/opt/vendor/libwlt2bmp.so"));
    let mut r = IdCardReader::from_spec(&spec, SystemClock::shared()).unwrap();
    sim.place(CardFixture::builtin("resident").unwrap())
        .unwrap();
    let read = r.read_card(false).unwrap();
    match &read.photo {
        Err(PhotoError::Unavailable(m)) => assert!(m.contains("libwlt2bmp.so"), "{m}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    let j = read.to_json(false);
    assert_eq!(j["photo"]["decoded"], false);
    assert_eq!(j["identity"]["number"], "3205**********1232");
    assert!(!j.to_string().contains("张三丰"));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn read_payloads_and_frames_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1400), fp in any::<bool>()) {
            let _ = split_read_payload(&data, fp);
            let _ = decode_read_frame(&data);
            if let Ok(f) = Reply::new(0x90, data).encode() {
                let _ = decode_read_frame(&f);
            }
        }
    }
}

#[test]
fn captures_decode_from_binary_and_hex_text() {
    let card = CardFixture::builtin("foreign-2017").unwrap();
    let raw = RawRead {
        text: identity::encode_text(&card.identity).to_vec(),
        wlt: card.wlt(),
        fingerprint: None,
    };
    let frame = Reply::new(0x90, build_read_payload(&raw, false))
        .encode()
        .unwrap();
    let as_hex: String = frame.iter().map(|b| format!("0x{b:02X}, ")).collect();
    for input in [frame.clone(), as_hex.into_bytes()] {
        let v = decode_capture(&input, true).unwrap();
        assert_eq!(v["identity"]["english_name"], "SMITH, MARY ANN");
        assert_eq!(v["frame_bytes"], 1295);
    }
    let masked = decode_capture(&frame, false).unwrap();
    assert!(!masked.to_string().contains("MARY"), "{masked}");
    let e = decode_capture(b"AA AA AA 96 69 00 04 00 00 80 85", false).unwrap_err();
    assert_eq!(error_kind(&e), "frame");
    assert_eq!(
        error_kind(&decode_capture(b"hello", false).unwrap_err()),
        "frame"
    );
}

/// A full-speed USB SAM module in memory: frames split across endpoint pairs, replies handed
/// out in 64-byte bulk packets.
struct SplitUsbSam {
    card: sim::SamCard,
    header: Vec<u8>,
    head_in: std::collections::VecDeque<u8>,
    body_in: std::collections::VecDeque<u8>,
    writes: std::sync::Arc<std::sync::Mutex<Vec<(u8, usize)>>>,
}

impl kiosk_hal::transport::EndpointIo for SplitUsbSam {
    fn write_endpoint(&mut self, ep: u8, data: &[u8]) -> Result<(), TransportError> {
        self.writes.lock().unwrap().push((ep, data.len()));
        match ep {
            0x02 => self.header = data.to_vec(),
            0x06 => {
                let mut frame = std::mem::take(&mut self.header);
                frame.extend_from_slice(data);
                let reply = self.card.handle(&frame);
                self.head_in.extend(&reply[..7]);
                self.body_in.extend(&reply[7..]);
            }
            other => {
                return Err(TransportError::Config(format!(
                    "no OUT endpoint {other:02x}"
                )))
            }
        }
        Ok(())
    }
    fn read_endpoint(
        &mut self,
        ep: u8,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        let q = match ep {
            0x81 => &mut self.head_in,
            0x85 => &mut self.body_in,
            other => {
                return Err(TransportError::Config(format!(
                    "no IN endpoint {other:02x}"
                )))
            }
        };
        if q.is_empty() {
            return Err(TransportError::Timeout(timeout));
        }
        let n = q.len().min(64).min(buf.len());
        for (i, b) in q.drain(..n).enumerate() {
            buf[i] = b;
        }
        Ok(n)
    }
    fn describe(&self) -> String {
        "split-frame SAM in memory".into()
    }
}

#[test]
fn split_frame_usb_modules_read_cards() {
    let mut spec = DeviceSpec::new(
        "idcard",
        DeviceKind::IdCardReader,
        DRIVER,
        TransportKind::Usb,
    );
    spec.usb = Some("0400:c35a".parse().unwrap());
    spec.ep_out = Some(0x02);
    spec.ep_in = Some(0x81);
    spec.ep_out_data = Some(0x06);
    let e = IdCardReader::from_spec(&spec, SystemClock::shared())
        .err()
        .unwrap();
    assert!(e.to_string().contains("ep_in_data"), "{e}");
    spec.ep_in_data = Some(0x85);
    let mut r = IdCardReader::from_spec(&spec, SystemClock::shared()).unwrap();
    // This machine has no such module: the real USB path reports it absent.
    assert_eq!(r.poll().health, Health::NoDevice);

    let mut card = sim::SamCard::default();
    card.place(CardFixture::builtin("foreign-2017").unwrap());
    let writes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    r.attach_split_io(Box::new(SplitUsbSam {
        card,
        header: Vec::new(),
        head_in: Default::default(),
        body_in: Default::default(),
        writes: writes.clone(),
    }));
    assert_eq!(r.poll().health, Health::Online);
    let read = r.read_card(false).unwrap();
    assert_eq!(
        read.identity.english_name.as_deref(),
        Some("SMITH, MARY ANN")
    );
    let w = writes.lock().unwrap();
    assert_eq!(
        w[0],
        (0x02, 7),
        "preamble and length go to the header endpoint"
    );
    assert_eq!(
        w[1],
        (0x06, 3),
        "command, parameter and checksum go to the body endpoint"
    );
}
