//! ID card SAM module frames (GA 467): commands and replies as they come off the wire, and a
//! reply's read-card body down to the identity fields.
#![no_main]
use kiosk_drivers::idcard::frame::{Command, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Command::decode(data);
    if let Ok(reply) = Reply::decode(data) {
        // What decodes must encode back to the same frame.
        if let Ok(again) = reply.encode() {
            assert_eq!(Reply::decode(&again).ok().map(|r| r.encode().ok()), Some(Some(again)));
        }
    }
    let _ = kiosk_drivers::idcard::decode_read_frame(data);
    let _ = kiosk_drivers::idcard::identity::parse_text(data);
    let _ = kiosk_drivers::idcard::identity::parse_appended_address(data);
});
