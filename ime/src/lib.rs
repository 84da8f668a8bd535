//! Chinese text entry for the touch screen: the citizen taps pinyin letters, librime (Debian's
//! `librime1` with the luna pinyin data, simplified output) offers the characters, a tap on a
//! candidate commits it.
//!
//! Personal data must not outlive the session: the engine is deployed with its user dictionary
//! switched off (nothing typed is learned or written to disk), its logging silenced (glog would
//! otherwise write typed input to files), and every string handed out is wiped when dropped.
//!
//! librime keeps process-wide state; every call goes through one lock.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use zeroize::Zeroizing;

mod ffi;

/// Where Debian's rime data lives.
pub const SHARED_DATA: &str = "/usr/share/rime-data";
/// The schema: luna pinyin with simplified characters.
pub const SCHEMA: &str = "luna_pinyin_simp";
/// Candidates per page: eight fit a row of the on-screen keyboard.
pub const PAGE_SIZE: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImeError {
    #[error("the pinyin data is missing: {0} (install rime-data-luna-pinyin)")]
    NoData(String),
    #[error("the input engine's folder {0}: {1}")]
    Folder(String, String),
    #[error("the input engine could not be deployed")]
    Deploy,
    #[error("the input engine gave no session")]
    NoSession,
}

/// A tap on the on-screen keyboard while typing pinyin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `a`–`z` (other characters are ignored).
    Letter(char),
    Backspace,
    /// Commits the first candidate (or the letters when there is none).
    Space,
    /// Clears the pinyin typed so far.
    Clear,
    NextPage,
    PreviousPage,
}

/// What the keyboard shows: the pinyin typed, the candidates of this page, and the text the
/// last tap committed. Wiped when dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub preedit: Zeroizing<String>,
    pub candidates: Vec<Zeroizing<String>>,
    pub page: usize,
    pub last_page: bool,
    pub committed: Zeroizing<String>,
}

struct Global {
    /// Where the engine was deployed (kept for the process's life).
    _user_dir: PathBuf,
}

static ENGINE: OnceLock<Mutex<Result<Global, ImeError>>> = OnceLock::new();
/// Serialises every call into librime after it is set up.
static CALLS: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    CALLS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the patches that keep the engine from learning: no user dictionary, eight
/// candidates a page, only the simplified luna pinyin schema.
fn write_patches(user_dir: &Path) -> Result<(), ImeError> {
    let fail = |e: std::io::Error| ImeError::Folder(user_dir.display().to_string(), e.to_string());
    std::fs::create_dir_all(user_dir).map_err(fail)?;
    std::fs::write(
        user_dir.join("default.custom.yaml"),
        format!("patch:\n  schema_list:\n    - schema: {SCHEMA}\n  menu/page_size: {PAGE_SIZE}\n"),
    )
    .map_err(fail)?;
    std::fs::write(
        user_dir.join(format!("{SCHEMA}.custom.yaml")),
        "patch:\n  translator/enable_user_dict: false\n  translator/enable_sentence: true\n",
    )
    .map_err(fail)?;
    Ok(())
}

fn init(user_dir: &Path) -> Result<Global, ImeError> {
    let shared = Path::new(SHARED_DATA);
    if !shared.join(format!("{SCHEMA}.schema.yaml")).exists() {
        return Err(ImeError::NoData(shared.display().to_string()));
    }
    write_patches(user_dir)?;
    let c = |s: &str| CString::new(s).unwrap_or_default();
    let (shared_c, user_c) = (c(SHARED_DATA), c(&user_dir.to_string_lossy()));
    let (name, code, version, app, log_dir) = (
        c("HallKit"),
        c("hallkit"),
        c(env!("CARGO_PKG_VERSION")),
        c("rime.hallkit"),
        c(""),
    );
    let mut traits = ffi::RimeTraits {
        data_size: (std::mem::size_of::<ffi::RimeTraits>() - std::mem::size_of::<c_int>()) as c_int,
        shared_data_dir: shared_c.as_ptr(),
        user_data_dir: user_c.as_ptr(),
        distribution_name: name.as_ptr(),
        distribution_code_name: code.as_ptr(),
        distribution_version: version.as_ptr(),
        app_name: app.as_ptr(),
        modules: std::ptr::null_mut(),
        // FATAL only, to stderr: typed text never reaches a log file.
        min_log_level: 3,
        log_dir: log_dir.as_ptr(),
        prebuilt_data_dir: std::ptr::null(),
        staging_dir: std::ptr::null(),
    };
    // SAFETY: the traits and the strings they point to outlive the calls; librime copies them.
    unsafe {
        ffi::RimeSetup(&mut traits);
        ffi::RimeInitialize(&mut traits);
        if ffi::RimeStartMaintenance(1) != 0 {
            ffi::RimeJoinMaintenanceThread();
        }
    }
    Ok(Global {
        _user_dir: user_dir.to_path_buf(),
    })
}

/// One citizen's typing. Dropping it ends the engine's session and wipes what it held.
pub struct Ime {
    session: usize,
}

impl Ime {
    /// Starts a session; the first call deploys the engine with `user_dir` as its folder (a
    /// few seconds the first time, then quick). Later calls share that deployment.
    pub fn start(user_dir: &Path) -> Result<Ime, ImeError> {
        let cell = ENGINE.get_or_init(|| Mutex::new(init(user_dir)));
        let guard = cell.lock().unwrap_or_else(|p| p.into_inner());
        // librime is one engine per process: a later start naming another folder (a second
        // terminal in one test process) uses the engine as the first folder deployed it. The
        // folder holds only the deployed dictionaries and patches, never what was typed.
        if let Err(e) = &*guard {
            return Err(e.clone());
        }
        drop(guard);
        let _g = lock();
        // SAFETY: the engine is initialised; calls are serialised by the lock.
        let session = unsafe { ffi::RimeCreateSession() };
        if session == 0 {
            return Err(ImeError::NoSession);
        }
        let schema = CString::new(SCHEMA).unwrap_or_default();
        // SAFETY: a live session and a NUL-terminated schema id.
        if unsafe { ffi::RimeSelectSchema(session, schema.as_ptr()) } == 0 {
            // SAFETY: the session was just created.
            unsafe { ffi::RimeDestroySession(session) };
            return Err(ImeError::Deploy);
        }
        Ok(Ime { session })
    }

    /// One tap; returns what the keyboard shows now.
    pub fn key(&mut self, key: Key) -> State {
        let code = match key {
            Key::Letter(c) if c.is_ascii_lowercase() => c as c_int,
            Key::Letter(c) if c.is_ascii_uppercase() => c.to_ascii_lowercase() as c_int,
            Key::Letter(_) => return self.state(),
            Key::Backspace => 0xff08,
            Key::Space => 0x20,
            Key::Clear => 0xff1b,
            Key::NextPage => 0xff56,
            Key::PreviousPage => 0xff55,
        };
        let _g = lock();
        // SAFETY: a live session; calls serialised by the lock.
        unsafe { ffi::RimeProcessKey(self.session, code, 0) };
        self.read()
    }

    /// Commits candidate `index` of the page showing.
    pub fn pick(&mut self, index: usize) -> State {
        if index >= PAGE_SIZE {
            return self.state();
        }
        // The select keys are 1–8 (page size 8).
        let code = (b'1' + index as u8) as c_int;
        let _g = lock();
        // SAFETY: as in `key`.
        unsafe { ffi::RimeProcessKey(self.session, code, 0) };
        self.read()
    }

    /// What the keyboard shows, without a tap.
    pub fn state(&self) -> State {
        let _g = lock();
        self.read()
    }

    /// Reads the context and any commit; the caller holds the lock.
    fn read(&self) -> State {
        let mut state = State::default();
        let mut commit = ffi::RimeCommit {
            data_size: (std::mem::size_of::<ffi::RimeCommit>() - std::mem::size_of::<c_int>())
                as c_int,
            text: std::ptr::null_mut(),
        };
        // SAFETY: a struct initialised as librime wants; freed with its own function.
        unsafe {
            if ffi::RimeGetCommit(self.session, &mut commit) != 0 {
                state.committed = owned(commit.text);
                ffi::RimeFreeCommit(&mut commit);
            }
        }
        let mut ctx: ffi::RimeContext = unsafe { std::mem::zeroed() };
        ctx.data_size =
            (std::mem::size_of::<ffi::RimeContext>() - std::mem::size_of::<c_int>()) as c_int;
        // SAFETY: as above; the candidates array has `num_candidates` entries.
        unsafe {
            if ffi::RimeGetContext(self.session, &mut ctx) != 0 {
                state.preedit = owned(ctx.composition.preedit);
                let n = usize::try_from(ctx.menu.num_candidates).unwrap_or(0);
                if !ctx.menu.candidates.is_null() {
                    for i in 0..n {
                        state
                            .candidates
                            .push(owned((*ctx.menu.candidates.add(i)).text));
                    }
                }
                state.page = usize::try_from(ctx.menu.page_no).unwrap_or(0);
                state.last_page = ctx.menu.is_last_page != 0;
                ffi::RimeFreeContext(&mut ctx);
            }
        }
        state
    }
}

fn owned(p: *const c_char) -> Zeroizing<String> {
    if p.is_null() {
        return Zeroizing::new(String::new());
    }
    // SAFETY: librime hands out NUL-terminated UTF-8 strings valid until freed.
    Zeroizing::new(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

impl Drop for Ime {
    fn drop(&mut self) {
        let _g = lock();
        // SAFETY: the session is ours and not used after this.
        unsafe {
            ffi::RimeClearComposition(self.session);
            ffi::RimeDestroySession(self.session);
        }
    }
}

#[cfg(test)]
mod tests;
