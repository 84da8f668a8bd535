//! A scanner's frame (UTF-8 or GB18030, with its suffix) and what the code is: a link, a one-code
//! QR, an appointment code or text.
#![no_main]
use kiosk_drivers::scanner::payload::PayloadRules;
use kiosk_drivers::scanner::Scan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rules = PayloadRules::new(vec!["XFM:".into(), "SSM".into()], None).expect("default rules");
    for suffix in [&b"\r\n"[..], &b"\r"[..], &[][..]] {
        if let Some(scan) = Scan::decode(data, suffix) {
            let _ = rules.classify(&scan.text);
        }
    }
});
