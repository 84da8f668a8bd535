//! The EF01 driver against its simulator over real pseudo-terminals.

use super::sim::{sim_image, sim_template, template_finger, FingerprintSim, Quality};
use super::*;
use crate::idcard::sim::CardFixture;
use crate::sim::{SimControl, SimEnv, SimFaults};
use crate::spec::TransportKind;
use kiosk_hal::device::ProgressSink;
use kiosk_hal::DeviceKind;

fn setup(password: Option<&str>) -> (tempfile::TempDir, FingerprintSim, FingerprintModule) {
    let dir = tempfile::tempdir().unwrap();
    let env = SimEnv::new(dir.path()).unwrap();
    let sim = FingerprintSim::start("fp", &env, 0x0000_2468).unwrap();
    let mut spec = DeviceSpec::new("fp", DeviceKind::Fingerprint, DRIVER, TransportKind::Serial);
    spec.path = Some(sim.endpoint());
    spec.options
        .insert("password".into(), json!(password.unwrap_or("00002468")));
    spec.options.insert("poll_interval_ms".into(), json!(10));
    let mut m = FingerprintModule::from_spec(&spec).unwrap();
    assert_eq!(m.poll().health, Health::Online);
    (dir, sim, m)
}

fn ctx(ms: u64) -> CommandContext {
    CommandContext::with_timeout(Duration::from_millis(ms))
}

#[test]
fn enroll_then_identify_with_progress() {
    let (_d, sim, mut m) = setup(None);
    assert_eq!(m.read_sys_params().unwrap().capacity, 300);
    sim.present("alice-right-index", Quality::Good).unwrap();
    sim.present("alice-right-index", Quality::Good).unwrap();
    let (sink, progress) = ProgressSink::channel();
    let mut c = ctx(5000);
    c.progress = sink;
    assert_eq!(m.enroll(Some(5), &c).unwrap(), json!({"page": 5}));
    assert_eq!(
        progress.try_iter().collect::<Vec<_>>(),
        vec![
            Progress::PlaceFinger,
            Progress::LiftFinger,
            Progress::PlaceFinger
        ]
    );
    assert_eq!(sim.library().unwrap(), json!({"5": "alice-right-index"}));
    assert_eq!(m.template_count().unwrap(), 1);
    assert!(m.poll().detail.contains("1/300"));

    sim.present("alice-right-index", Quality::Good).unwrap();
    assert_eq!(
        m.identify(&ctx(3000)).unwrap(),
        MatchResult {
            page: Some(5),
            score: 150
        }
    );
    sim.present("mallory-thumb", Quality::Good).unwrap();
    let e = m.identify(&ctx(3000)).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(e.detail.contains("confirmation 09"), "{e}");
}

#[test]
fn enrolment_with_two_different_fingers_is_refused() {
    let (_d, sim, mut m) = setup(None);
    sim.present("alice", Quality::Good).unwrap();
    sim.present("bob", Quality::Good).unwrap();
    let e = m.enroll(Some(1), &ctx(5000)).unwrap_err();
    assert!(e.detail.contains("confirmation 0A"), "{e}");
    assert_eq!(
        m.enroll(Some(300), &ctx(100)).unwrap_err().code,
        CompletionCode::InvalidData
    );
}

#[test]
fn verify_against_a_template_and_against_an_id_card() {
    let (_d, sim, mut m) = setup(None);
    sim.present("carol", Quality::Good).unwrap();
    assert_eq!(
        m.verify_template(&sim_template("carol"), &ctx(3000))
            .unwrap()
            .score,
        120
    );
    sim.present("dave", Quality::Good).unwrap();
    assert!(m
        .verify_template(&sim_template("carol"), &ctx(3000))
        .unwrap_err()
        .detail
        .contains("confirmation 08"));

    let card = CardFixture::builtin("resident").unwrap();
    let block = card.fingerprint_block().unwrap();
    // The holder's second finger matches the card's second template.
    sim.present(&format!("{}#1", card.identity.number), Quality::Good)
        .unwrap();
    assert_eq!(m.verify_card(&block, &ctx(3000)).unwrap().score, 120);
    sim.present("someone-else", Quality::Good).unwrap();
    let e = m.verify_card(&block, &ctx(3000)).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert_eq!(
        m.verify_card(&block[..10], &ctx(100)).unwrap_err().code,
        CompletionCode::InvalidData
    );
}

#[test]
fn captured_templates_upload_in_data_packets() {
    let (_d, sim, mut m) = setup(None);
    sim.present("erin", Quality::Good).unwrap();
    let v = m.run("fp-capture", &Value::Null, &ctx(3000)).unwrap();
    let t = hex::decode(v["template"].as_str().unwrap()).unwrap();
    assert_eq!(t.len(), TEMPLATE_LEN);
    assert_eq!(template_finger(&t).as_deref(), Some("erin"));
}

#[test]
fn poor_images_no_finger_cancel_and_wrong_password() {
    let (_d, sim, mut m) = setup(None);
    sim.present("frank", Quality::Poor).unwrap();
    let e = m.identify(&ctx(3000)).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(e.detail.contains("too few features"), "{e}");
    sim.present("frank", Quality::Messy).unwrap();
    assert!(m.identify(&ctx(3000)).unwrap_err().detail.contains("messy"));

    assert_eq!(
        m.identify(&ctx(200)).unwrap_err().code,
        CompletionCode::Timeout
    );
    let c = ctx(10_000);
    let cancel = c.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        cancel.cancel();
    });
    assert_eq!(m.identify(&c).unwrap_err().code, CompletionCode::Canceled);

    let (_d2, _sim2, mut wrong) = {
        let dir = tempfile::tempdir().unwrap();
        let env = SimEnv::new(dir.path()).unwrap();
        let sim = FingerprintSim::start("fp2", &env, 0x1111_1111).unwrap();
        let mut spec = DeviceSpec::new(
            "fp2",
            DeviceKind::Fingerprint,
            DRIVER,
            TransportKind::Serial,
        );
        spec.path = Some(sim.endpoint());
        (dir, sim, FingerprintModule::from_spec(&spec).unwrap())
    };
    let h = wrong.poll();
    assert_eq!(h.health, Health::HardwareError);
    assert!(h.detail.contains("wrong module password"), "{}", h.detail);
}

#[test]
fn noisy_fragmented_link_and_replug() {
    let (_d, sim, mut m) = setup(None);
    sim.set_faults(SimFaults {
        garbage: vec![0x55, 0xEF, 0x00],
        fragment: Some(5),
        delay_ms: 1,
        ..Default::default()
    })
    .unwrap();
    sim.preload(7, "gina").unwrap();
    sim.present("gina", Quality::Good).unwrap();
    assert_eq!(m.identify(&ctx(5000)).unwrap().page, Some(7));
    sim.set_faults(SimFaults::default()).unwrap();
    sim.unplug().unwrap();
    let mut h = m.poll().health;
    for _ in 0..5 {
        if h == Health::NoDevice {
            break;
        }
        h = m.poll().health;
    }
    assert_eq!(h, Health::NoDevice);
    sim.replug().unwrap();
    assert_eq!(m.poll().health, Health::Online);
}

#[test]
fn enrolment_takes_the_lowest_free_page_from_the_index_table() {
    let (_d, sim, mut m) = setup(None);
    for page in [0, 1, 3, 257] {
        sim.preload(page, &format!("staff-{page}")).unwrap();
    }
    assert_eq!(m.used_pages().unwrap(), vec![0, 1, 3, 257]);
    sim.present("carol", Quality::Good).unwrap();
    sim.present("carol", Quality::Good).unwrap();
    assert_eq!(m.enroll(None, &ctx(5000)).unwrap(), json!({"page": 2}));
    assert_eq!(sim.library().unwrap()["2"], "carol");
    // A full library is said so before anyone is asked for a finger.
    for page in 0..300 {
        sim.preload(page, "someone").unwrap();
    }
    let e = m.enroll(None, &ctx(100)).unwrap_err();
    assert!(e.detail.contains("full"), "{e}");
}

/// What other vendors' host software (pyfingerprint and the like) asks of a module beyond the
/// enrol / search / delete core.
#[test]
fn the_common_host_instructions_are_answered() {
    let (_d, sim, mut m) = setup(None);
    m.quick(ins::HANDSHAKE, &[]).unwrap();
    let a = m.quick(ins::GET_RANDOM_CODE, &[]).unwrap();
    let b = m.quick(ins::GET_RANDOM_CODE, &[]).unwrap();
    assert_eq!((a.len(), b.len()), (4, 4));
    assert_ne!(a, b);

    // Notepad: 16 pages of 32 bytes.
    let note: Vec<u8> = (0..32).collect();
    let mut write = vec![3];
    write.extend_from_slice(&note);
    m.quick(ins::WRITE_NOTEPAD, &write).unwrap();
    assert_eq!(m.quick(ins::READ_NOTEPAD, &[3]).unwrap(), note);
    assert_eq!(m.quick(ins::READ_NOTEPAD, &[4]).unwrap(), vec![0; 32]);
    assert!(matches!(
        m.quick(ins::READ_NOTEPAD, &[16]),
        Err(ModuleError::Confirm(0x1A))
    ));

    // Index table: one bit a page.
    sim.preload(0, "alice").unwrap();
    sim.preload(9, "bob").unwrap();
    let t = m.quick(ins::READ_INDEX_TABLE, &[0]).unwrap();
    assert_eq!((t.len(), t[0], t[1], t[2]), (32, 0b1, 0b10, 0));
    assert_eq!(m.quick(ins::READ_INDEX_TABLE, &[1]).unwrap(), vec![0; 32]);

    // LoadChar: a stored template into a buffer, then up to the host.
    m.quick(ins::LOAD_CHAR, &[2, 0, 9]).unwrap();
    assert_eq!(m.upload_template(2).unwrap(), sim_template("bob"));
    assert!(matches!(
        m.quick(ins::LOAD_CHAR, &[2, 0, 10]),
        Err(ModuleError::Confirm(0x0C))
    ));

    // HighSpeedSearch finds as Search does.
    sim.present("bob", Quality::Good).unwrap();
    assert!(m.gen_img().unwrap());
    m.image_to_template(1).unwrap();
    let found = m
        .quick(ins::HIGH_SPEED_SEARCH, &[1, 0, 0, 1, 0x2C])
        .unwrap();
    assert_eq!(&found[..2], &[0, 9]);

    // UpImage: the captured image, in packets of the size SetSysPara chose.
    m.quick(ins::SET_SYS_PARA, &[6, 0]).unwrap();
    assert!(matches!(
        m.quick(ins::SET_SYS_PARA, &[7, 1]),
        Err(ModuleError::Confirm(0x1A))
    ));
    assert_eq!(m.read_sys_params().unwrap().packet_size, 32);
    let image = m.upload_image().unwrap();
    assert_eq!(image.len(), IMAGE_BYTES);
    assert_eq!(image, sim_image("bob"));

    // DownImage: an image sent down is the sensor's image for the next Img2Tz.
    m.quick(ins::DOWN_IMAGE, &[]).unwrap();
    for (i, chunk) in sim_image("alice").chunks(32).enumerate() {
        let pid = if (i + 1) * 32 >= IMAGE_BYTES {
            Pid::EndData
        } else {
            Pid::Data
        };
        m.send(&Packet::new(DEFAULT_ADDRESS, pid, chunk.to_vec()))
            .unwrap();
    }
    m.image_to_template(1).unwrap();
    assert_eq!(m.upload_template(1).unwrap(), sim_template("alice"));
    assert_eq!(
        template_finger(&sim_image("alice")).as_deref(),
        Some("alice")
    );

    // SetPwd: the old password is refused from then on, the new one accepted.
    m.quick(ins::SET_PWD, &0x1357_9BDFu32.to_be_bytes())
        .unwrap();
    assert!(matches!(
        m.verify_password(),
        Err(ModuleError::Confirm(0x13))
    ));
    m.password = 0x1357_9BDF;
    m.verify_password().unwrap();
}
