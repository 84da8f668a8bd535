//! A virtual ESC/POS receipt printer on a pty or a TCP port (9100-style). It parses the stream
//! as a printer does, answers DLE EOT at once and GS r when reached, sends automatic status
//! back when enabled, renders every cut receipt to a PNG with real CJK glyphs, and can run out
//! of paper, open its cover or jam its cutter in the middle of a job.

use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use kiosk_hal::transport::SimPort;
use serde_json::{json, Value};

use super::doc::Paper;
use super::parse::{parse_one, Op, Parsed};
use super::render::Renderer;
use super::status::PrinterStatus;
use crate::sim::{
    path_string, send_with_faults, LinkReq, Mail, SimControl, SimEnv, SimFaults, SimLink,
    SimMailbox, SimTcp,
};

impl From<LinkReq> for Req {
    fn from(l: LinkReq) -> Self {
        Req::Link(l)
    }
}

enum Req {
    Link(LinkReq),
    Inject(String, Value),
}

/// How the virtual printer is built.
#[derive(Debug, Clone)]
pub struct EscposSimConfig {
    pub paper: Paper,
    /// Where cut receipts are written as PNG.
    pub out_dir: PathBuf,
    /// A one-way printer: takes data, never answers.
    pub one_way: bool,
}

pub struct EscposSim {
    id: String,
    endpoint: String,
    mailbox: SimMailbox<Req>,
    out_dir: PathBuf,
}

impl EscposSim {
    /// On a new pty at `env.port_path(id)`.
    pub fn start_pty(id: &str, env: &SimEnv, config: EscposSimConfig) -> std::io::Result<Self> {
        let port = SimPort::create(env.port_path(id))?;
        let endpoint = path_string(port.path());
        Self::spawn(id, endpoint, Box::new(port), config)
    }

    /// On a loopback TCP port, as a network printer on 9100.
    pub fn start_tcp(id: &str, config: EscposSimConfig) -> std::io::Result<Self> {
        let tcp = SimTcp::bind_loopback()?;
        let endpoint = tcp.address();
        Self::spawn(id, endpoint, Box::new(tcp), config)
    }

    fn spawn(
        id: &str,
        endpoint: String,
        link: Box<dyn SimLink>,
        config: EscposSimConfig,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.out_dir)?;
        // Fail here, with the reason, rather than inside the thread.
        Renderer::new(config.paper.dots()).map_err(std::io::Error::other)?;
        let (mailbox, rx) = SimMailbox::new();
        let out_dir = config.out_dir.clone();
        let name = id.to_string();
        std::thread::Builder::new()
            .name(format!("sim-{id}"))
            .spawn(move || run(name, link, config, rx))?;
        Ok(EscposSim {
            id: id.to_string(),
            endpoint,
            mailbox,
            out_dir,
        })
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    pub fn ask(&self, what: &str, args: Value) -> Result<Value, String> {
        self.mailbox.ask(Req::Inject(what.to_string(), args))
    }
}

impl SimControl for EscposSim {
    crate::sim::pty_sim_link_controls!();
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        self.ask(what, args.clone())
    }
}

struct Printer {
    id: String,
    config: EscposSimConfig,
    status: PrinterStatus,
    renderer: Renderer,
    /// Dots of paper left on the roll, when the roll is finite.
    paper_left: Option<usize>,
    /// Dots still to print before someone opens the cover mid-job.
    cover_opens_in: Option<usize>,
    last_height: usize,
    jam_next_cut: bool,
    auto_status: bool,
    bytes_in: u64,
    discarded: u64,
    receipts: Vec<Value>,
    /// Receipts printed and then cleared from `receipts`.
    cleared: usize,
    /// Cut but not yet written out: PNGs are written after the replies have gone, as a real
    /// printer's mechanics run beside its interface.
    cut_pages: Vec<super::render::Page>,
    /// Writes the PNGs on its own thread, so real-time status is answered while a page is
    /// being encoded (as a printer answers DLE EOT while its cutter runs).
    saver: PngSaver,
}

/// A thread that writes receipt PNGs; `settle` waits for what was handed to it.
struct PngSaver {
    tx: Option<std::sync::mpsc::Sender<(usize, PathBuf, super::render::Page)>>,
    done: std::sync::mpsc::Receiver<(usize, bool)>,
    outstanding: usize,
}

impl PngSaver {
    fn start(id: &str) -> PngSaver {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, PathBuf, super::render::Page)>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("{id}-png"))
            .spawn(move || {
                for (index, path, page) in rx {
                    let saved = page.save_png(&path).is_ok();
                    if done_tx.send((index, saved)).is_err() {
                        return;
                    }
                }
            });
        PngSaver {
            // Without the thread, pages are recorded as not saved rather than lost silently.
            tx: spawned.ok().map(|_| tx),
            done,
            outstanding: 0,
        }
    }

    fn save(&mut self, index: usize, path: PathBuf, page: super::render::Page) -> bool {
        match &self.tx {
            Some(tx) if tx.send((index, path, page)).is_ok() => {
                self.outstanding += 1;
                true
            }
            _ => false,
        }
    }

    /// Waits for every page handed over so far; returns (receipt index, saved) for each.
    fn settle(&mut self) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        while self.outstanding > 0 {
            match self.done.recv_timeout(Duration::from_secs(30)) {
                Ok(d) => out.push(d),
                Err(_) => break,
            }
            self.outstanding -= 1;
        }
        out
    }
}

const SIM_COMMANDS: &str = "open-cover, close-cover, paper-out, paper-near-end, load-paper, \
     paper-left {dots}, cover-opens-after {dots}, jam-cutter, clear-error, receipts, clear-receipts, stats";

impl Printer {
    fn save_cut_pages(&mut self) {
        for page in std::mem::take(&mut self.cut_pages) {
            let n = self.receipts.len() + self.cleared + 1;
            let path = self.config.out_dir.join(format!("{}-{n:04}.png", self.id));
            let record = json!({
                "png": path_string(&path),
                "saved": false,
                "text": page.text,
                "qr": page.qr_codes,
                "barcodes": page.barcodes,
                "height": page.image.height(),
            });
            let index = self.receipts.len();
            self.receipts.push(record);
            self.saver.save(index, path, page);
        }
    }

    /// Marks the receipts whose PNGs are written, after waiting for them.
    fn settle_pngs(&mut self) {
        for (index, saved) in self.saver.settle() {
            if let Some(r) = self.receipts.get_mut(index) {
                r["saved"] = json!(saved);
            }
        }
    }

    fn blocked(&self) -> bool {
        self.status.blocking_problem().is_some()
    }

    fn inject(&mut self, what: &str, args: &Value) -> Result<Value, String> {
        let s = &mut self.status;
        match what {
            "open-cover" => {
                s.cover_open = true;
                s.offline = true;
            }
            "close-cover" => {
                s.cover_open = false;
                s.offline = s.paper_end;
            }
            "paper-out" => {
                s.paper_end = true;
                s.stopped_by_paper_end = true;
                s.offline = true;
            }
            "paper-near-end" => s.paper_near_end = true,
            "load-paper" => {
                s.paper_end = false;
                s.stopped_by_paper_end = false;
                s.paper_near_end = false;
                s.offline = s.cover_open;
                self.paper_left = None;
            }
            "paper-left" => {
                let dots = args
                    .get("dots")
                    .and_then(Value::as_u64)
                    .ok_or("paper-left needs {\"dots\": N}")?;
                self.paper_left = Some(dots as usize);
            }
            "cover-opens-after" => {
                let dots = args
                    .get("dots")
                    .and_then(Value::as_u64)
                    .ok_or("cover-opens-after needs {\"dots\": N}")?;
                self.cover_opens_in = Some(dots as usize);
            }
            "jam-cutter" => self.jam_next_cut = true,
            "clear-error" => {
                s.cutter_error = false;
                s.unrecoverable_error = false;
                s.recoverable_error = false;
                s.error = false;
                s.offline = s.cover_open || s.paper_end;
            }
            "receipts" => {
                self.settle_pngs();
                return Ok(json!(self.receipts));
            }
            // Long runs (the soak benchmark) keep the count, not every receipt's summary.
            "clear-receipts" => {
                self.settle_pngs();
                self.cleared += self.receipts.len();
                self.receipts.clear();
            }
            "stats" => {
                return Ok(json!({
                    "receipts": self.receipts.len() + self.cleared,
                    "bytes_in": self.bytes_in,
                    "discarded": self.discarded,
                    "status": self.status,
                    "paper_left": self.paper_left,
                }))
            }
            other => {
                return Err(format!(
                    "the receipt printer simulator cannot {other:?}; it can: {SIM_COMMANDS}"
                ))
            }
        }
        Ok(json!({ "status": self.status }))
    }

    /// Acts on one command; returns the bytes to answer with.
    fn process(&mut self, op: Op, len: usize) -> Vec<u8> {
        if let Op::RealTimeStatus(n) = op {
            // Real-time commands are executed on arrival, even while the printer is stopped.
            return if self.config.one_way || !(1..=4).contains(&n) {
                Vec::new()
            } else {
                vec![self.status.real_time_reply(n)]
            };
        }
        if self.blocked() {
            // A stopped printer prints nothing; what it was sent is lost with the job.
            self.discarded += len as u64;
            return Vec::new();
        }
        match op {
            Op::TransmitStatus(1) | Op::TransmitStatus(49) if !self.config.one_way => {
                vec![self.status.paper_sensor_reply()]
            }
            Op::AutoStatus(mask) if !self.config.one_way => {
                self.auto_status = mask != 0;
                if self.auto_status {
                    self.status.auto_status_block().to_vec()
                } else {
                    Vec::new()
                }
            }
            Op::Cut { .. } if self.jam_next_cut => {
                self.jam_next_cut = false;
                self.status.cutter_error = true;
                self.status.offline = true;
                Vec::new()
            }
            Op::Cut { .. } => {
                self.renderer.apply(&op);
                self.last_height = 0;
                self.cut_pages.extend(self.renderer.take_pages());
                Vec::new()
            }
            op => {
                self.renderer.apply(&op);
                let h = self.renderer.height();
                let used = h.saturating_sub(self.last_height);
                self.last_height = h;
                if let Some(left) = self.cover_opens_in.as_mut() {
                    *left = left.saturating_sub(used);
                    if *left == 0 {
                        self.cover_opens_in = None;
                        self.status.cover_open = true;
                        self.status.offline = true;
                    }
                }
                if let Some(left) = self.paper_left.as_mut() {
                    *left = left.saturating_sub(used);
                    if *left == 0 {
                        self.status.paper_end = true;
                        self.status.stopped_by_paper_end = true;
                        self.status.offline = true;
                    }
                }
                Vec::new()
            }
        }
    }
}

fn run(
    id: String,
    mut link: Box<dyn SimLink>,
    config: EscposSimConfig,
    rx: std::sync::mpsc::Receiver<Mail<Req>>,
) {
    let Ok(renderer) = Renderer::new(config.paper.dots()) else {
        return;
    };
    let saver = PngSaver::start(&id);
    let mut p = Printer {
        id,
        config,
        status: PrinterStatus::default(),
        renderer,
        paper_left: None,
        cover_opens_in: None,
        last_height: 0,
        jam_next_cut: false,
        auto_status: false,
        bytes_in: 0,
        discarded: 0,
        receipts: Vec::new(),
        cleared: 0,
        cut_pages: Vec::new(),
        saver,
    };
    let mut faults = SimFaults::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok((req, reply)) => {
                let before = p.status;
                let answer = match req {
                    Req::Link(l) => l.apply(link.as_mut(), &mut faults, || pending.clear()),
                    Req::Inject(what, args) => p.inject(&what, &args),
                };
                if p.auto_status && p.status != before && link.is_plugged() {
                    let _ = send_with_faults(link.as_mut(), &faults, &p.status.auto_status_block());
                }
                let _ = reply.send(answer);
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if !link.is_plugged() {
            continue;
        }
        let n = match link.recv(&mut buf, Duration::from_millis(4)) {
            Ok(n) => n,
            Err(_) => continue,
        };
        if n == 0 {
            continue;
        }
        faults.arrival(n);
        p.bytes_in += n as u64;
        pending.extend_from_slice(&buf[..n]);
        let mut at = 0;
        let mut out = Vec::new();
        while at < pending.len() {
            match parse_one(&pending[at..]) {
                Parsed::Op(op, len) => {
                    let before = p.status;
                    out.extend(p.process(op, len));
                    if p.auto_status && p.status != before {
                        out.extend_from_slice(&p.status.auto_status_block());
                    }
                    at += len.max(1);
                }
                Parsed::Incomplete => break,
            }
        }
        pending.drain(..at);
        if !out.is_empty() {
            let _ = send_with_faults(link.as_mut(), &faults, &out);
        }
        p.save_cut_pages();
    }
}
