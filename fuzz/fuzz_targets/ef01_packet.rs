//! EF01 fingerprint module packets.
#![no_main]
use kiosk_drivers::fingerprint::packet::Packet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::decode(data) {
        if let Ok(again) = p.encode() {
            assert_eq!(Packet::decode(&again).ok(), Some(p));
        }
    }
});
