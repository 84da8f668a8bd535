//! The seal module's HKS1 serial frames.
#![no_main]
use kiosk_drivers::seal::frame::Frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = Frame::decode(data) {
        if let Ok(again) = f.encode() {
            assert!(Frame::decode(&again).is_ok());
        }
    }
});
