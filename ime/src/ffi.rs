//! The part of librime's C API (`rime_api.h`, librime 1.8) the keyboard uses. The structs
//! are laid out as the header declares them.

use std::ffi::{c_char, c_int, c_void};

pub type RimeSessionId = usize;
pub type Bool = c_int;

#[repr(C)]
pub struct RimeTraits {
    pub data_size: c_int,
    pub shared_data_dir: *const c_char,
    pub user_data_dir: *const c_char,
    pub distribution_name: *const c_char,
    pub distribution_code_name: *const c_char,
    pub distribution_version: *const c_char,
    pub app_name: *const c_char,
    pub modules: *mut *const c_char,
    pub min_log_level: c_int,
    pub log_dir: *const c_char,
    pub prebuilt_data_dir: *const c_char,
    pub staging_dir: *const c_char,
}

#[repr(C)]
pub struct RimeComposition {
    pub length: c_int,
    pub cursor_pos: c_int,
    pub sel_start: c_int,
    pub sel_end: c_int,
    pub preedit: *mut c_char,
}

#[repr(C)]
pub struct RimeCandidate {
    pub text: *mut c_char,
    pub comment: *mut c_char,
    pub reserved: *mut c_void,
}

#[repr(C)]
pub struct RimeMenu {
    pub page_size: c_int,
    pub page_no: c_int,
    pub is_last_page: Bool,
    pub highlighted_candidate_index: c_int,
    pub num_candidates: c_int,
    pub candidates: *mut RimeCandidate,
    pub select_keys: *mut c_char,
}

#[repr(C)]
pub struct RimeCommit {
    pub data_size: c_int,
    pub text: *mut c_char,
}

#[repr(C)]
pub struct RimeContext {
    pub data_size: c_int,
    pub composition: RimeComposition,
    pub menu: RimeMenu,
    pub commit_text_preview: *mut c_char,
    pub select_labels: *mut *mut c_char,
}

extern "C" {
    pub fn RimeSetup(traits: *mut RimeTraits);
    pub fn RimeInitialize(traits: *mut RimeTraits);
    pub fn RimeStartMaintenance(full_check: Bool) -> Bool;
    pub fn RimeJoinMaintenanceThread();
    pub fn RimeCreateSession() -> RimeSessionId;
    pub fn RimeDestroySession(session: RimeSessionId) -> Bool;
    pub fn RimeSelectSchema(session: RimeSessionId, schema_id: *const c_char) -> Bool;
    pub fn RimeProcessKey(session: RimeSessionId, keycode: c_int, mask: c_int) -> Bool;
    pub fn RimeClearComposition(session: RimeSessionId);
    pub fn RimeGetCommit(session: RimeSessionId, commit: *mut RimeCommit) -> Bool;
    pub fn RimeFreeCommit(commit: *mut RimeCommit) -> Bool;
    pub fn RimeGetContext(session: RimeSessionId, context: *mut RimeContext) -> Bool;
    pub fn RimeFreeContext(context: *mut RimeContext) -> Bool;
}
