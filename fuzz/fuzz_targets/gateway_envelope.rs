//! A browser page's message to the local device API.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kiosk_protocol::gateway::parse_command(text);
    }
});
