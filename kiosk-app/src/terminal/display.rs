//! Losing the X display must not skip the terminal's ordered stop. When the X server goes
//! away, Xlib reports the broken connection to its I/O error handler and then calls `exit()`
//! from deep inside the window system's event loop, with no way back: the default handler just
//! prints "X connection … broken" and the process ends without its stop event, final upload or
//! device shutdown. HallKit installs its own handler (libX11's `XSetIOErrorHandler`, found at
//! run time in the library the window system already loaded): it runs the terminal's ordered
//! stop on the spot, then lets Xlib end the process with status 1 for the service manager to
//! restart it. Children the terminal started die with it in any case (`kiosk_hal::child`).

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

type Hook = Box<dyn Fn() + Send + Sync>;

static HOOK: OnceLock<Hook> = OnceLock::new();
static FIRED: AtomicBool = AtomicBool::new(false);
static LIBX11: OnceLock<libloading::Library> = OnceLock::new();

/// What to run when the display is lost (once per process; later calls are ignored).
pub fn on_display_lost(f: impl Fn() + Send + Sync + 'static) {
    let _ = HOOK.set(Box::new(f));
}

/// Whether the display was lost (the hook ran).
pub fn lost() -> bool {
    FIRED.load(Ordering::SeqCst)
}

extern "C" fn io_error(_display: *mut c_void) -> c_int {
    if !FIRED.swap(true, Ordering::SeqCst) {
        eprintln!("kiosk: the X display connection was lost; stopping in order");
        if let Some(hook) = HOOK.get() {
            // The hook must not unwind into C.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook));
        }
    }
    // Xlib exits the process when this returns.
    1
}

type SetHandler = unsafe extern "C" fn(Option<extern "C" fn(*mut c_void) -> c_int>) -> *mut c_void;

/// Installs the handler in the process's libX11. Without libX11 (a Wayland-only system) there
/// is nothing to install and nothing to guard.
pub fn install_x11_handler() -> Result<(), String> {
    // SAFETY: loading the system's libX11 runs its initialisers, which have no preconditions;
    // the library stays loaded for the life of the process (it lives in a static).
    let lib = match LIBX11.get() {
        Some(l) => l,
        None => {
            let l = unsafe { libloading::Library::new("libX11.so.6") }
                .map_err(|e| format!("libX11 is not available: {e}"))?;
            LIBX11.get_or_init(|| l)
        }
    };
    // SAFETY: XSetIOErrorHandler has this signature in every libX11; the handler we pass
    // never unwinds and lives for the whole process.
    unsafe {
        let set: libloading::Symbol<'_, SetHandler> = lib
            .get(b"XSetIOErrorHandler\0")
            .map_err(|e| format!("libX11 has no XSetIOErrorHandler: {e}"))?;
        set(Some(io_error));
    }
    Ok(())
}
