//! Length-driven frame reception over a byte transport.
//!
//! Device replies arrive in fragments (USB-serial adapters deliver 32- or 64-byte chunks, slow
//! readers pause mid-frame) and sometimes behind line noise. A protocol describes its framing
//! with [`FrameSpec`]; [`FrameReceiver`] accumulates bytes until the spec says a frame is
//! complete, throws away garbage before a frame start, and keeps bytes that arrive after a frame
//! for the next call.

use std::time::{Duration, Instant};

use crate::transport::{Transport, TransportError};

/// What a protocol says about the bytes received so far (which start at a candidate frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck {
    /// A frame may start here but needs at least this many more bytes to decide.
    NeedMore(usize),
    /// A whole frame of this many bytes is at the front of the buffer.
    Complete(usize),
    /// These leading bytes cannot start a frame; drop them and look again.
    Skip(usize),
}

/// A buffer zeroed when it goes out of scope.
struct Scrubbed<'a>(&'a mut [u8]);

impl Drop for Scrubbed<'_> {
    fn drop(&mut self) {
        // Volatile, so the compiler cannot drop the writes to a buffer nobody reads again.
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// A protocol's framing rule.
pub trait FrameSpec {
    /// Inspects `buf` (never empty) and decides. Must not panic on any input.
    fn check(&self, buf: &[u8]) -> FrameCheck;
    /// The longest frame the protocol allows; more pending bytes than this without a frame is an
    /// error rather than unbounded memory.
    fn max_frame_len(&self) -> usize;
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("no complete frame within {timeout:?} ({received} bytes received)")]
    Timeout { timeout: Duration, received: usize },
    #[error("frame longer than the protocol's limit of {limit} bytes")]
    TooLong { limit: usize },
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Statistics a driver can log or show on the technician screen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameStats {
    pub frames: u64,
    pub garbage_bytes: u64,
    pub timeouts: u64,
}

#[derive(Debug, Default)]
pub struct FrameReceiver {
    pending: Vec<u8>,
    stats: FrameStats,
}

impl FrameReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// Drops buffered bytes, e.g. after a resend or a reopen.
    pub fn reset(&mut self) {
        self.pending.clear();
    }

    /// Bytes received after the last complete frame and not yet consumed.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Feeds bytes received by other means (tests, a captured log) and takes a frame if one is
    /// complete.
    pub fn push_and_take(
        &mut self,
        bytes: &[u8],
        spec: &dyn FrameSpec,
    ) -> Result<Option<Vec<u8>>, FrameError> {
        self.pending.extend_from_slice(bytes);
        self.take_frame(spec)
    }

    /// Receives one frame, waiting at most `timeout` overall (not per fragment: a device that
    /// trickles one byte a second must not hold a flow for minutes).
    pub fn receive(
        &mut self,
        link: &mut dyn Transport,
        spec: &dyn FrameSpec,
        timeout: Duration,
    ) -> Result<Vec<u8>, FrameError> {
        let deadline = Instant::now() + timeout;
        let mut buffer = [0u8; 512];
        // The stack copy of the last chunk goes too (an ID card's text passes through here).
        let scrubbed = Scrubbed(&mut buffer);
        let chunk = &mut *scrubbed.0;
        loop {
            if let Some(frame) = self.take_frame(spec)? {
                return Ok(frame);
            }
            let now = Instant::now();
            if now >= deadline {
                self.stats.timeouts += 1;
                return Err(FrameError::Timeout {
                    timeout,
                    received: self.pending.len(),
                });
            }
            match link.read(chunk, deadline - now) {
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(TransportError::Timeout(_)) => continue,
                Err(e) => {
                    self.pending.clear();
                    return Err(e.into());
                }
            }
        }
    }

    /// Zeroes the buffer's capacity beyond what it holds: a frame taken (an ID card's text, a
    /// scanned code) must not linger in the receiver after the caller has it.
    fn scrub_spare(&mut self) {
        for b in self.pending.spare_capacity_mut() {
            b.write(0);
        }
    }

    fn take_frame(&mut self, spec: &dyn FrameSpec) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            if self.pending.is_empty() {
                return Ok(None);
            }
            match spec.check(&self.pending) {
                FrameCheck::Complete(len) if len > 0 && len <= self.pending.len() => {
                    let frame: Vec<u8> = self.pending.drain(..len).collect();
                    self.scrub_spare();
                    self.stats.frames += 1;
                    return Ok(Some(frame));
                }
                FrameCheck::Skip(n) if n > 0 => {
                    let n = n.min(self.pending.len());
                    self.pending.drain(..n);
                    self.stats.garbage_bytes += n as u64;
                }
                FrameCheck::NeedMore(_) => {
                    let limit = spec.max_frame_len();
                    if self.pending.len() > limit {
                        // Resynchronise: the "frame" we were building was noise that looked like a
                        // header. Drop one byte and let the spec look for the next start.
                        self.pending.drain(..1);
                        self.stats.garbage_bytes += 1;
                        if self.pending.len() > limit * 2 {
                            self.pending.clear();
                            return Err(FrameError::TooLong { limit });
                        }
                        continue;
                    }
                    return Ok(None);
                }
                // A spec that answers Complete(0), Complete(>len) or Skip(0) is wrong; treat the
                // first byte as garbage so a bad spec cannot loop forever.
                _ => {
                    self.pending.drain(..1);
                    self.stats.garbage_bytes += 1;
                }
            }
        }
    }
}

/// Frames terminated by a fixed suffix (line-based scanners, AT-style modules).
#[derive(Debug, Clone)]
pub struct SuffixFrame {
    pub suffix: Vec<u8>,
    pub max_len: usize,
}

impl FrameSpec for SuffixFrame {
    fn check(&self, buf: &[u8]) -> FrameCheck {
        if self.suffix.is_empty() {
            return FrameCheck::Complete(buf.len());
        }
        match buf
            .windows(self.suffix.len())
            .position(|w| w == self.suffix.as_slice())
        {
            Some(pos) => FrameCheck::Complete(pos + self.suffix.len()),
            None => FrameCheck::NeedMore(1),
        }
    }

    fn max_frame_len(&self) -> usize {
        self.max_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{SerialConfig, SerialTransport, SimPort};
    use proptest::prelude::*;

    /// A toy framing: 0x02, LEN, LEN payload bytes, XOR of payload.
    struct StxLen;
    impl FrameSpec for StxLen {
        fn check(&self, buf: &[u8]) -> FrameCheck {
            if buf[0] != 0x02 {
                let skip = buf.iter().position(|&b| b == 0x02).unwrap_or(buf.len());
                return FrameCheck::Skip(skip);
            }
            if buf.len() < 2 {
                return FrameCheck::NeedMore(1);
            }
            let total = 3 + buf[1] as usize;
            if buf.len() < total {
                return FrameCheck::NeedMore(total - buf.len());
            }
            let x = buf[2..total - 1].iter().fold(0, |a, b| a ^ b);
            if x == buf[total - 1] {
                FrameCheck::Complete(total)
            } else {
                FrameCheck::Skip(1)
            }
        }
        fn max_frame_len(&self) -> usize {
            258
        }
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, payload.len() as u8];
        f.extend_from_slice(payload);
        f.push(payload.iter().fold(0, |a, b| a ^ b));
        f
    }

    #[test]
    fn garbage_fragments_and_trailing_bytes() {
        let mut rx = FrameReceiver::new();
        let f1 = frame(b"hello");
        let f2 = frame(b"hallkit");
        let mut stream = vec![0xFF, 0x00, 0x13];
        stream.extend_from_slice(&f1);
        stream.extend_from_slice(&f2[..3]);
        let got = rx.push_and_take(&stream, &StxLen).unwrap();
        assert_eq!(got.as_deref(), Some(f1.as_slice()));
        assert_eq!(rx.stats().garbage_bytes, 3);
        assert_eq!(rx.push_and_take(&[], &StxLen).unwrap(), None);
        let got = rx.push_and_take(&f2[3..], &StxLen).unwrap();
        assert_eq!(got.as_deref(), Some(f2.as_slice()));
        assert!(rx.pending().is_empty());
    }

    #[test]
    fn receives_over_a_real_pty_with_slow_fragments_and_times_out_on_silence() {
        let dir = tempfile::tempdir().unwrap();
        let mut sim = SimPort::create(dir.path().join("tty")).unwrap();
        let mut link =
            SerialTransport::open(SerialConfig::new(sim.path().to_string_lossy(), 115_200))
                .unwrap();
        let f = frame(&[7u8; 200]);
        let mut noisy = vec![0x55, 0xAA];
        noisy.extend_from_slice(&f);
        let writer = std::thread::spawn(move || {
            for chunk in noisy.chunks(17) {
                sim.write_all(chunk).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
            sim
        });
        let mut rx = FrameReceiver::new();
        let got = rx
            .receive(&mut link, &StxLen, Duration::from_secs(3))
            .unwrap();
        assert_eq!(got, f);
        let _sim = writer.join().unwrap();
        match rx.receive(&mut link, &StxLen, Duration::from_millis(50)) {
            Err(FrameError::Timeout { received: 0, .. }) => {}
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(rx.stats().timeouts, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_input_in_any_split_never_panics_and_finds_embedded_frames(
            noise in proptest::collection::vec(any::<u8>().prop_filter("no stx", |b| *b != 0x02), 0..40),
            payload in proptest::collection::vec(any::<u8>(), 0..60),
            junk in proptest::collection::vec(any::<u8>(), 0..300),
            split in 1usize..50,
        ) {
            let mut rx = FrameReceiver::new();
            let f = frame(&payload);
            let mut stream = noise.clone();
            stream.extend_from_slice(&f);
            let mut frames = Vec::new();
            for chunk in stream.chunks(split) {
                if let Some(fr) = rx.push_and_take(chunk, &StxLen).unwrap() {
                    frames.push(fr);
                }
            }
            prop_assert_eq!(frames, vec![f]);
            // Arbitrary bytes: any result is fine, a panic or unbounded buffer is not.
            let mut rx = FrameReceiver::new();
            for chunk in junk.chunks(split) {
                let _ = rx.push_and_take(chunk, &StxLen);
                prop_assert!(rx.pending().len() <= 2 * StxLen.max_frame_len() + split);
            }
        }
    }
}
