//! `kiosk admin hash-pin`: reads a technician's PIN from standard input (never from the
//! command line, where `ps` and the shell's history would keep it) and prints its Argon2id
//! hash for the `[[admin.technicians]]` entry.

use std::io::BufRead;
use std::process::ExitCode;

pub fn hash_pin(staff_no: &str) -> anyhow::Result<ExitCode> {
    if !(1..=12).contains(&staff_no.len()) || !staff_no.bytes().all(|b| b.is_ascii_digit()) {
        eprintln!("the staff number must be 1 to 12 digits (the staff pad has only digits)");
        return Ok(ExitCode::from(2));
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line)?;
    let pin = line.trim();
    if !kiosk_central::staff::is_pin(pin) {
        eprintln!("a PIN is 4 to 12 digits; give it on standard input: echo 135790 | kiosk admin hash-pin --staff-no 1024");
        return Ok(ExitCode::from(2));
    }
    let hash = kiosk_central::staff::hash_pin(pin).map_err(|e| anyhow::anyhow!(e))?;
    println!("[[admin.technicians]]");
    println!("staff_no = \"{staff_no}\"");
    println!("name = \"\"");
    println!("pin_hash = \"{hash}\"");
    Ok(ExitCode::SUCCESS)
}
