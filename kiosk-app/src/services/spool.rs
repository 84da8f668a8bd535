//! Printing a PDF made in memory on the A4 printer, two-phase: the PDF is written into the
//! spool directory (mode 0700, the file 0600) only for the printer's job and removed when the
//! print ends, whatever its outcome — it holds the citizen's personal data.

use std::path::Path;

use super::outputs::OutputDesk;
use super::queue::PrintProblem;
use crate::runtime::Claim;

/// Prints `pdf` as the output `what` (`id-copy`, `licence`, `proof`).
pub fn print_a4_pdf(
    desk: &OutputDesk,
    printer: &Claim,
    what: &str,
    pdf: &[u8],
    spool: &Path,
) -> Result<(), PrintProblem> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let fault = |e: std::io::Error| PrintProblem::Fault(format!("spooling the {what}: {e}"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(spool)
        .map_err(fault)?;
    let path = spool.join(format!("{what}-{}.pdf", uuid::Uuid::new_v4()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(pdf));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path);
        return Err(fault(e));
    }
    let record = desk.print_a4(printer, what, &path.to_string_lossy(), 1, false);
    let _ = std::fs::remove_file(&path);
    super::queue::printed(record.map_err(|e| PrintProblem::Journal(e.to_string()))?)
}
