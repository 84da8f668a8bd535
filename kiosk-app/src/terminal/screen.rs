//! What the screen shows, for the operations team's remote screenshot. The window registers a
//! grabber while it runs (one screen per process); a remote command asks it for a PNG. The
//! grabber refuses while a citizen's session is on screen: a screenshot would carry their
//! name, ID number or photo out of the terminal, so only the attract, home and staff screens
//! are ever taken.

use std::sync::{Arc, Mutex};

/// A PNG of the screen now, or why not.
pub type Grab = dyn Fn() -> Result<Vec<u8>, ScreenError> + Send + Sync;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    #[error("this terminal shows no screen (headless, or the window has not started)")]
    NoScreen,
    #[error("a citizen's session is on screen ({0}); try again when it has ended")]
    CitizenOnScreen(String),
    #[error("the window did not answer within {0} s")]
    Timeout(u64),
    #[error("the screen could not be read: {0}")]
    Failed(String),
}

static GRABBER: Mutex<Option<Arc<Grab>>> = Mutex::new(None);

/// The window offers its screen (until `withdraw`).
pub fn provide(grab: Arc<Grab>) {
    *GRABBER.lock().unwrap_or_else(|p| p.into_inner()) = Some(grab);
}

pub fn withdraw() {
    GRABBER.lock().unwrap_or_else(|p| p.into_inner()).take();
}

/// A PNG of what the screen shows now. Blocks (the window's thread draws it).
pub fn grab() -> Result<Vec<u8>, ScreenError> {
    let g = GRABBER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or(ScreenError::NoScreen)?;
    g()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grabber_answers_while_provided() {
        withdraw();
        assert_eq!(grab(), Err(ScreenError::NoScreen));
        provide(Arc::new(|| Ok(vec![0x89, b'P', b'N', b'G'])));
        assert_eq!(grab().unwrap()[1..4], *b"PNG");
        provide(Arc::new(|| {
            Err(ScreenError::CitizenOnScreen("apply-form".into()))
        }));
        assert!(grab().unwrap_err().to_string().contains("apply-form"));
        withdraw();
        assert_eq!(grab(), Err(ScreenError::NoScreen));
    }
}
