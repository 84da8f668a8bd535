//! What a receipt printer is sent (the virtual printer parses every job) and the status bytes it
//! answers with.
#![no_main]
use kiosk_drivers::escpos::parse::parse_all;
use kiosk_drivers::escpos::status::PrinterStatus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (_ops, rest) = parse_all(data);
    assert!(rest.len() <= data.len());
    let mut s = PrinterStatus::default();
    for pair in data.chunks(2) {
        if let [n, b] = pair {
            let _ = s.apply_real_time(*n, *b);
        }
    }
    for block in data.chunks_exact(4) {
        let _ = s.apply_auto_status([block[0], block[1], block[2], block[3]]);
    }
});
