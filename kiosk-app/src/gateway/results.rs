//! Large results (an ID photo, a page from the document camera) leave by reference: a one-time
//! URL on the gateway that expires. The bytes are wiped when fetched, expired or dropped, so a
//! citizen's photo does not outlive the page that asked for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// 128 random bits twice over, hex: the capability a one-time URL carries.
fn one_time_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

struct Held {
    bytes: Zeroizing<Vec<u8>>,
    content_type: String,
    until: Instant,
    /// The connection it was made for, so closing it takes its results too.
    connection: u64,
}

/// What a fetch found.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetch {
    Found {
        bytes: Zeroizing<Vec<u8>>,
        content_type: String,
    },
    /// Never made, fetched already, or expired: all look the same from outside.
    Gone,
}

pub struct ResultStore {
    ttl: Duration,
    held: Mutex<HashMap<String, Held>>,
}

impl ResultStore {
    pub fn new(ttl: Duration) -> ResultStore {
        ResultStore {
            ttl,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `bytes` and returns the key of its one-time URL (128 random bits, hex).
    pub fn put(&self, bytes: Zeroizing<Vec<u8>>, content_type: &str, connection: u64) -> String {
        let key = one_time_key();
        let now = Instant::now();
        let mut held = self.lock();
        held.retain(|_, h| h.until > now);
        held.insert(
            key.clone(),
            Held {
                bytes,
                content_type: content_type.to_string(),
                until: now + self.ttl,
                connection,
            },
        );
        key
    }

    /// Hands the bytes out once.
    pub fn take(&self, key: &str) -> Fetch {
        match self.lock().remove(key) {
            Some(h) if h.until > Instant::now() => Fetch::Found {
                bytes: h.bytes,
                content_type: h.content_type,
            },
            _ => Fetch::Gone,
        }
    }

    /// Drops what was made for a connection that closed.
    pub fn forget_connection(&self, connection: u64) {
        self.lock().retain(|_, h| h.connection != connection);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Live pictures (the document camera's preview) by one-time URL: the command that makes the
/// frames holds the sender; the first fetch takes the receiver; whoever lets go ends it.
pub struct StreamStore {
    waiting: Mutex<HashMap<String, (tokio::sync::mpsc::Receiver<axum::body::Bytes>, u64)>>,
}

impl Default for StreamStore {
    fn default() -> Self {
        StreamStore {
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

impl StreamStore {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        HashMap<String, (tokio::sync::mpsc::Receiver<axum::body::Bytes>, u64)>,
    > {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new stream for `connection`: its key and the sender of its parts. Two parts wait at
    /// most; a slow viewer gets fewer frames, never an old one late.
    pub fn open(&self, connection: u64) -> (String, tokio::sync::mpsc::Sender<axum::body::Bytes>) {
        let key = one_time_key();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        self.lock().insert(key.clone(), (rx, connection));
        (key, tx)
    }

    /// The first fetch takes the stream.
    pub fn take(&self, key: &str) -> Option<tokio::sync::mpsc::Receiver<axum::body::Bytes>> {
        self.lock().remove(key).map(|(rx, _)| rx)
    }

    /// Whether nobody has fetched it yet.
    pub fn unfetched(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    /// Drops a stream nobody fetched (its command ended).
    pub fn close(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn forget_connection(&self, connection: u64) {
        self.lock().retain(|_, (_, c)| *c != connection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_fetched_once_and_not_after_it_expires() {
        let store = ResultStore::new(Duration::from_millis(50));
        let a = store.put(Zeroizing::new(b"photo".to_vec()), "image/bmp", 1);
        let b = store.put(Zeroizing::new(b"page".to_vec()), "image/jpeg", 2);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        match store.take(&a) {
            Fetch::Found {
                bytes,
                content_type,
            } => {
                assert_eq!(&bytes[..], b"photo");
                assert_eq!(content_type, "image/bmp");
            }
            Fetch::Gone => panic!("the first fetch finds it"),
        }
        assert_eq!(store.take(&a), Fetch::Gone);
        assert_eq!(store.take("unknown"), Fetch::Gone);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(store.take(&b), Fetch::Gone);
    }

    #[test]
    fn a_stream_is_fetched_once_and_its_end_is_seen_by_the_sender() {
        let streams = StreamStore::default();
        let (key, tx) = streams.open(7);
        assert!(streams.unfetched(&key));
        let rx = streams.take(&key).unwrap();
        assert!(streams.take(&key).is_none());
        assert!(!streams.unfetched(&key));
        assert!(tx.try_send(axum::body::Bytes::from_static(b"part")).is_ok());
        drop(rx);
        assert!(tx.is_closed());
        let (other, _tx) = streams.open(8);
        streams.forget_connection(8);
        assert!(streams.take(&other).is_none());
    }

    #[test]
    fn a_closed_connection_takes_its_results_along() {
        let store = ResultStore::new(Duration::from_secs(60));
        let a = store.put(Zeroizing::new(vec![1]), "image/bmp", 1);
        let b = store.put(Zeroizing::new(vec![2]), "image/bmp", 2);
        store.forget_connection(1);
        assert_eq!(store.take(&a), Fetch::Gone);
        assert!(matches!(store.take(&b), Fetch::Found { .. }));
        assert!(store.is_empty());
    }
}
