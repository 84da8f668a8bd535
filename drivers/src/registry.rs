//! The driver registry: every driver this build has, what it drives, which transports it takes,
//! how to open it on hardware and how to run it against its simulator.

use std::sync::Arc;

use kiosk_hal::actor::Device;
use kiosk_hal::clock::SharedClock;
use kiosk_hal::DeviceKind;

use crate::sim::{SimControl, SimEnv};
use crate::spec::TransportKind;
use crate::{
    board, camera, escpos, fingerprint, idcard, ipp, pcsc, scanner, seal, DeviceSpec, DriverError,
};

/// A driver running against its simulator.
pub struct Simulated {
    pub device: Box<dyn Device>,
    pub control: Arc<dyn SimControl>,
}

/// Opens a driver on hardware.
pub type OpenFn = fn(&DeviceSpec, SharedClock) -> Result<Box<dyn Device>, DriverError>;
/// Starts a driver against its simulator.
pub type SimulateFn = fn(&DeviceSpec, &SimEnv, SharedClock) -> Result<Simulated, DriverError>;

pub struct DriverEntry {
    pub name: &'static str,
    pub kind: DeviceKind,
    pub summary: &'static str,
    pub transports: &'static [TransportKind],
    pub open: OpenFn,
    pub simulate: SimulateFn,
    /// Checks the driver's options without touching hardware.
    pub check: fn(&DeviceSpec) -> Result<(), DriverError>,
}

pub static DRIVERS: &[DriverEntry] = &[
    DriverEntry {
        name: idcard::DRIVER,
        kind: DeviceKind::IdCardReader,
        summary: "2nd-generation ID card reader, GA/T 467 SAM frames over serial, USB-CDC or split-frame USB bulk",
        transports: &[TransportKind::Serial, TransportKind::Tcp, TransportKind::Usb],
        open: |spec, clock| Ok(Box::new(idcard::IdCardReader::from_spec(spec, clock)?)),
        simulate: simulate_idcard,
        check: |spec| {
            idcard::IdCardReader::from_spec(spec, kiosk_hal::clock::SystemClock::shared()).map(drop)
        },
    },
    DriverEntry {
        name: fingerprint::DRIVER,
        kind: DeviceKind::Fingerprint,
        summary: "EF01-family fingerprint module (AS608, R30x, FPM10A) on a UART",
        transports: &[TransportKind::Serial, TransportKind::Tcp],
        open: |spec, _clock| Ok(Box::new(fingerprint::FingerprintModule::from_spec(spec)?)),
        simulate: simulate_fingerprint,
        check: |spec| fingerprint::FingerprintModule::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: scanner::DRIVER,
        kind: DeviceKind::QrScanner,
        summary: "QR/barcode scanner on a serial line (RS-232 or USB virtual COM), line based",
        transports: &[TransportKind::Serial, TransportKind::Tcp],
        open: open_scanner,
        simulate: simulate_scanner,
        check: |spec| scanner::SerialScanner::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: scanner::hid::DRIVER,
        kind: DeviceKind::QrScanner,
        summary: "USB HID keyboard-wedge QR/barcode scanner through evdev, grabbed exclusively",
        transports: &[TransportKind::Hid],
        open: |spec, _clock| Ok(Box::new(scanner::hid::HidScanner::from_spec(spec)?)),
        simulate: |spec, _env, _clock| {
            Err(DriverError::Unavailable {
                device: spec.id.clone(),
                driver: scanner::hid::DRIVER.into(),
                why: "HID scanners are not simulated; use qr-serial in the sim profile".into(),
            })
        },
        check: |spec| scanner::hid::HidScanner::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: pcsc::DRIVER,
        kind: DeviceKind::CardReader,
        summary: "IC card reader through PC/SC (pcscd): social-security and bank cards",
        transports: &[TransportKind::Pcsc],
        open: |spec, _clock| Ok(Box::new(pcsc::PcscReader::from_spec(spec)?)),
        simulate: simulate_pcsc,
        check: |spec| pcsc::PcscReader::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: escpos::DRIVER,
        kind: DeviceKind::ReceiptPrinter,
        summary: "ESC/POS receipt printer (58/80 mm): serial, USB, TCP 9100 or /dev/usb/lp*, jobs confirmed by status",
        transports: &[
            TransportKind::Serial,
            TransportKind::Tcp,
            TransportKind::Usb,
            TransportKind::Lp,
        ],
        open: |spec, _clock| Ok(Box::new(escpos::ReceiptPrinter::from_spec(spec)?)),
        simulate: simulate_escpos,
        check: |spec| escpos::ReceiptPrinter::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: ipp::DRIVER,
        kind: DeviceKind::A4Printer,
        summary: "A4 printer over IPP (CUPS or the printer's own IPP service): PDF jobs followed to completion",
        transports: &[TransportKind::Ipp],
        open: |spec, _clock| Ok(Box::new(ipp::IppPrinter::from_spec(spec)?)),
        simulate: simulate_ipp,
        check: |spec| ipp::IppPrinter::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: seal::DRIVER,
        kind: DeviceKind::SealModule,
        summary: "seal (stamp) module, HallKit serial protocol HKS1: authorised impressions with door locks",
        transports: &[TransportKind::Serial, TransportKind::Tcp],
        open: |spec, _clock| Ok(Box::new(seal::SerialSealMachine::from_spec(spec)?)),
        simulate: simulate_seal,
        check: |spec| seal::SerialSealMachine::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: camera::DOCUMENT_DRIVER,
        kind: DeviceKind::DocumentCamera,
        summary: "document camera (高拍仪) over UVC/V4L2 through OpenCV: 720p/1080p preview, stills up to 10 MP",
        transports: &[TransportKind::Video],
        open: |spec, _clock| Ok(Box::new(camera::Camera::from_spec(spec)?)),
        simulate: simulate_camera,
        check: |spec| camera::Camera::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: camera::FACE_DRIVER,
        kind: DeviceKind::FaceCamera,
        summary: "face camera over UVC/V4L2 through OpenCV; binocular RGB + IR pairs with `ir_path`",
        transports: &[TransportKind::Video],
        open: |spec, _clock| Ok(Box::new(camera::Camera::from_spec(spec)?)),
        simulate: simulate_camera,
        check: |spec| camera::Camera::from_spec(spec).map(drop),
    },
    DriverEntry {
        name: board::DRIVER,
        kind: DeviceKind::Board,
        summary: "guide lights, presence sensor and cabinet door switch on GPIO lines",
        transports: &[TransportKind::Gpio],
        open: board::open,
        simulate: simulate_board,
        check: |spec| board::BoardLayout::from_spec(spec).map(drop),
    },
];

impl std::fmt::Debug for DriverEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverEntry")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

pub fn find_driver(name: &str) -> Option<&'static DriverEntry> {
    DRIVERS.iter().find(|d| d.name == name)
}

/// Checks a device table entry against the registry before anything is opened.
pub fn validate(spec: &DeviceSpec) -> Result<&'static DriverEntry, String> {
    let entry = find_driver(&spec.driver).ok_or_else(|| {
        let names: Vec<_> = DRIVERS.iter().map(|d| d.name).collect();
        format!(
            "unknown driver {:?}; this build has: {}",
            spec.driver,
            names.join(", ")
        )
    })?;
    if entry.kind != spec.kind {
        return Err(format!(
            "driver {} drives a {}, but the device is declared as a {}",
            entry.name, entry.kind, spec.kind
        ));
    }
    if !entry.transports.contains(&spec.transport) {
        return Err(format!(
            "driver {} does not work over {:?}; it takes {:?}",
            entry.name, spec.transport, entry.transports
        ));
    }
    if spec.transport.is_stream() {
        spec.endpoint()?;
    }
    (entry.check)(spec).map_err(|e| match e {
        DriverError::Config { message, .. } => message,
        other => other.to_string(),
    })?;
    Ok(entry)
}

fn open_scanner(spec: &DeviceSpec, _clock: SharedClock) -> Result<Box<dyn Device>, DriverError> {
    Ok(Box::new(scanner::SerialScanner::from_spec(spec)?))
}

/// The device table entry pointed at a simulator's pty in place of the configured port.
fn on_pty(spec: &DeviceSpec, endpoint: String) -> DeviceSpec {
    let mut s = spec.clone();
    s.transport = TransportKind::Serial;
    s.path = Some(endpoint);
    s.address = None;
    s
}

fn sim_failed(spec: &DeviceSpec) -> impl FnOnce(std::io::Error) -> DriverError + '_ {
    move |source| DriverError::Simulator {
        device: spec.id.clone(),
        source,
    }
}

fn simulate_scanner(
    spec: &DeviceSpec,
    env: &SimEnv,
    _clock: SharedClock,
) -> Result<Simulated, DriverError> {
    let config = scanner::sim::ScannerSimConfig::from_spec(spec)
        .map_err(|m| DriverError::config(spec, m))?;
    let sim = scanner::sim::ScannerSim::start(&spec.id, env, config).map_err(sim_failed(spec))?;
    // The driver is the real one, pointed at the simulator's pty instead of the configured port.
    let device = scanner::SerialScanner::from_spec(&on_pty(spec, sim.endpoint()))?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(sim),
    })
}

fn simulate_escpos(
    spec: &DeviceSpec,
    env: &SimEnv,
    _clock: SharedClock,
) -> Result<Simulated, DriverError> {
    let printer = escpos::ReceiptPrinter::from_spec(spec)?;
    let config = escpos::sim::EscposSimConfig {
        paper: printer.paper(),
        out_dir: env.dir.join(format!("receipts-{}", spec.id)),
        one_way: spec.opt_str("status").ok().flatten() == Some("none"),
    };
    let (sim, sim_spec) = match spec.transport {
        TransportKind::Tcp => {
            let sim =
                escpos::sim::EscposSim::start_tcp(&spec.id, config).map_err(sim_failed(spec))?;
            let mut s = spec.clone();
            s.address = Some(sim.endpoint());
            (sim, s)
        }
        TransportKind::Lp => {
            // A pty slave is a character device, as /dev/usb/lp0 is: the lp transport opens it.
            let sim = escpos::sim::EscposSim::start_pty(&spec.id, env, config)
                .map_err(sim_failed(spec))?;
            let mut s = spec.clone();
            s.path = Some(sim.endpoint());
            (sim, s)
        }
        _ => {
            let sim = escpos::sim::EscposSim::start_pty(&spec.id, env, config)
                .map_err(sim_failed(spec))?;
            let endpoint = sim.endpoint();
            (sim, on_pty(spec, endpoint))
        }
    };
    let device = escpos::ReceiptPrinter::from_spec(&sim_spec)?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(sim),
    })
}

fn simulate_ipp(
    spec: &DeviceSpec,
    env: &SimEnv,
    _clock: SharedClock,
) -> Result<Simulated, DriverError> {
    ipp::cups::available().map_err(|why| DriverError::Unavailable {
        device: spec.id.clone(),
        driver: ipp::DRIVER.into(),
        why: format!("the sim profile prints through a private CUPS: {why}"),
    })?;
    let sim = ipp::sim::CupsSim::start(&spec.id, &env.dir.join(format!("cups-{}", spec.id)))
        .map_err(sim_failed(spec))?;
    let mut sim_spec = spec.clone();
    sim_spec
        .options
        .insert("uri".into(), serde_json::json!(sim.endpoint()));
    let device = ipp::IppPrinter::from_spec(&sim_spec)?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(sim),
    })
}

fn simulate_seal(
    spec: &DeviceSpec,
    env: &SimEnv,
    _clock: SharedClock,
) -> Result<Simulated, DriverError> {
    // The simulated module is set up with the same authorisation code the driver is given.
    let code = spec
        .opt_str("auth_code")
        .ok()
        .flatten()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| {
            DriverError::config(
                spec,
                "a seal module needs options.auth_code (16 hex digits)",
            )
        })?;
    let seals = spec
        .opt_u64("seals")
        .ok()
        .flatten()
        .unwrap_or(4)
        .clamp(1, 16) as u8;
    let sim = seal::sim::SealSim::start(&spec.id, env, code, seals).map_err(sim_failed(spec))?;
    let device = seal::SerialSealMachine::from_spec(&on_pty(spec, sim.endpoint()))?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(sim),
    })
}

fn simulate_idcard(
    spec: &DeviceSpec,
    env: &SimEnv,
    clock: SharedClock,
) -> Result<Simulated, DriverError> {
    let sim = idcard::sim::IdCardSim::start(&spec.id, env).map_err(sim_failed(spec))?;
    let mut sim_spec = on_pty(spec, sim.endpoint());
    // The simulator hands out photos by digest, in place of the vendor's licensed decoder.
    for k in ["decoder_library", "decoder_symbol", "decoder_ok"] {
        sim_spec.options.remove(k);
    }
    sim_spec
        .options
        .insert("photo_decoder".into(), serde_json::json!("fixture"));
    sim_spec.options.insert(
        "fixture_dir".into(),
        serde_json::json!(sim.photo_dir().to_string_lossy()),
    );
    let device = idcard::IdCardReader::from_spec(&sim_spec, clock)?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(sim),
    })
}

fn simulate_fingerprint(
    spec: &DeviceSpec,
    env: &SimEnv,
    _clock: SharedClock,
) -> Result<Simulated, DriverError> {
    let password = match spec
        .opt_str("password")
        .map_err(|m| DriverError::config(spec, m))?
    {
        Some(h) => u32::from_str_radix(h.trim_start_matches("0x"), 16)
            .map_err(|_| DriverError::config(spec, "option `password` must be 8 hex digits"))?,
        None => 0,
    };
    let sim = fingerprint::sim::FingerprintSim::start(&spec.id, env, password)
        .map_err(sim_failed(spec))?;
    let device = fingerprint::FingerprintModule::from_spec(&on_pty(spec, sim.endpoint()))?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(sim),
    })
}

/// The sim profile's IC card: a virtual social-security card in the vsmartcard virtual reader
/// of the machine's pcscd, driven through PC/SC by the real driver.
fn simulate_pcsc(
    spec: &DeviceSpec,
    _env: &SimEnv,
    _clock: SharedClock,
) -> Result<Simulated, DriverError> {
    let port = spec
        .opt_u64("vpcd_port")
        .map_err(|m| DriverError::config(spec, m))?
        .unwrap_or(u64::from(pcsc::sim::VPCD_PORT));
    let port =
        u16::try_from(port).map_err(|_| DriverError::config(spec, "vpcd_port out of range"))?;
    let card = pcsc::sim::VirtualCard::start(&spec.id, port, "D12345678");
    let mut sim_spec = spec.clone();
    let slot = if port == pcsc::sim::VPCD_PORT {
        "Virtual PCD 00 00"
    } else {
        "Virtual PCD 00 01"
    };
    sim_spec
        .options
        .insert("reader".into(), serde_json::json!(slot));
    let device = pcsc::PcscReader::from_spec(&sim_spec)?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(card),
    })
}

fn simulate_camera(
    spec: &DeviceSpec,
    env: &SimEnv,
    _clock: SharedClock,
) -> Result<Simulated, DriverError> {
    let (device, sim) = camera::sim::simulate(spec, env)?;
    Ok(Simulated {
        device: Box::new(device),
        control: Arc::new(sim),
    })
}

fn simulate_board(
    spec: &DeviceSpec,
    _env: &SimEnv,
    clock: SharedClock,
) -> Result<Simulated, DriverError> {
    let (board, sim) = board::sim::BoardSim::start(spec, clock)?;
    Ok(Simulated {
        device: Box::new(board),
        control: Arc::new(sim),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        let mut s = DeviceSpec::new(
            "x",
            DeviceKind::QrScanner,
            "qr-serail",
            TransportKind::Serial,
        );
        assert!(validate(&s).unwrap_err().contains("qr-serial"));
        s.driver = "qr-serial".into();
        assert!(validate(&s).unwrap_err().contains("path"));
        s.path = Some("/dev/ttyACM0".into());
        assert!(validate(&s).is_ok());
        s.options.insert("sufix".into(), serde_json::json!("\n"));
        assert!(validate(&s).unwrap_err().contains("sufix"));
        s.options.clear();
        s.kind = DeviceKind::Board;
        assert!(validate(&s).unwrap_err().contains("declared as a board"));
        s.kind = DeviceKind::QrScanner;
        s.transport = TransportKind::Gpio;
        assert!(validate(&s).unwrap_err().contains("does not work over"));
    }
}
