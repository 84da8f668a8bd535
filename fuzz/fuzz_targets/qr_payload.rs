//! A scanner's frame (UTF-8 or GB18030, with its suffix) and what the code is: a link, a one-code
//! QR, an appointment code or text.
#![no_main]
use kiosk_drivers::scanner::payload::PayloadRules;
use kiosk_drivers::scanner::Scan;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The rules as a terminal builds them once from its configuration.
fn rules() -> &'static PayloadRules {
    static RULES: OnceLock<PayloadRules> = OnceLock::new();
    RULES.get_or_init(|| {
        PayloadRules::new(vec!["XFM:".into(), "SSM".into()], None).expect("default rules")
    })
}

fuzz_target!(|data: &[u8]| {
    for suffix in [&b"\r\n"[..], &b"\r"[..], &[][..]] {
        if let Some(scan) = Scan::decode(data, suffix) {
            let _ = rules().classify(&scan.text);
        }
    }
});
