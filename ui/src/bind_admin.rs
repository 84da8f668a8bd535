//! The admin mode's global, filled from plain values (texts already in the screen's language),
//! and the technician's touches as intents. A camera's still arrives as JPEG bytes and is
//! decoded only when it changes.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::bind::update_model;
use crate::bind_copy::{jpeg_image, JpegPicture};
use crate::{device_state, Admin, AdminLogLine, DeadRow, KeyValue, SupplyTile, TestTile, Ui};

/// One supply's tile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SupplyLine {
    pub device: String,
    pub name: String,
    pub used: String,
    pub level: f32,
    pub low: bool,
    pub since: String,
    pub resettable: bool,
}

/// A test's result: its title, whether it passed, and its `key: value` lines.
pub type ResultLines = (String, bool, Vec<(String, String)>);

/// What the admin pages show, texts in the screen's language.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdminUiView {
    pub opener: String,
    /// The tab lit: `devices`, `logs`, `journal`, `config`, `network`, `supplies`.
    pub tab: String,
    pub device_id: String,
    pub device_name: String,
    pub device_line: String,
    pub device_health: String,
    /// The centre's 4-state value (`normal`, `warning`, `abnormal`, `offline`).
    pub device_state: String,
    pub device_detail: String,
    pub held: bool,
    /// (test name, label).
    pub tests: Vec<(String, String)>,
    pub running: String,
    /// (title, passed, lines).
    pub result: Option<ResultLines>,
    pub picture: Option<JpegPicture>,
    /// (time, kind, text).
    pub logs: Vec<(String, String, String)>,
    /// (label, value, fine).
    pub backlog: Vec<(String, String, bool)>,
    /// (sequence, kind, reason).
    pub dead: Vec<(u64, String, String)>,
    pub notice: String,
    pub facts: Vec<(String, String, bool)>,
    pub network: Vec<(String, String, bool)>,
    pub supplies: Vec<SupplyLine>,
}

/// What the technician asked for on the admin pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminIntent {
    Tab(String),
    OpenDevice(String),
    Test {
        device: String,
        test: String,
    },
    /// A dead letter by its sequence number, or all of them.
    Retry(Option<u64>),
    Reset(String),
    CheckNetwork,
}

#[derive(Default)]
pub(crate) struct AdminModels {
    tests: Rc<VecModel<TestTile>>,
    result: Rc<VecModel<KeyValue>>,
    logs: Rc<VecModel<AdminLogLine>>,
    backlog: Rc<VecModel<KeyValue>>,
    dead: Rc<VecModel<DeadRow>>,
    facts: Rc<VecModel<KeyValue>>,
    network: Rc<VecModel<KeyValue>>,
    supplies: Rc<VecModel<SupplyTile>>,
    shown: std::cell::Cell<Option<usize>>,
}

impl AdminModels {
    pub(crate) fn new(app: &crate::AppWindow) -> AdminModels {
        let m = AdminModels::default();
        let a = app.global::<Admin>();
        a.set_tests(ModelRc::from(m.tests.clone()));
        a.set_result_lines(ModelRc::from(m.result.clone()));
        a.set_logs(ModelRc::from(m.logs.clone()));
        a.set_backlog(ModelRc::from(m.backlog.clone()));
        a.set_dead(ModelRc::from(m.dead.clone()));
        a.set_facts(ModelRc::from(m.facts.clone()));
        a.set_network(ModelRc::from(m.network.clone()));
        a.set_supplies(ModelRc::from(m.supplies.clone()));
        m
    }
}

fn s(v: &str) -> SharedString {
    SharedString::from(v)
}

fn key_values(lines: &[(String, String, bool)]) -> Vec<KeyValue> {
    lines
        .iter()
        .map(|(k, v, ok)| KeyValue {
            key: s(k),
            value: s(v),
            ok: *ok,
        })
        .collect()
}

impl Ui {
    pub(crate) fn show_admin(&self, v: &AdminUiView) {
        let a = self.app.global::<Admin>();
        let m = &self.admin;
        a.set_opener(s(&v.opener));
        a.set_tab(s(&v.tab));
        a.set_device_id(s(&v.device_id));
        a.set_device_name(s(&v.device_name));
        a.set_device_line(s(&v.device_line));
        a.set_device_health(s(&v.device_health));
        a.set_device_state(device_state(&v.device_state));
        a.set_device_detail(s(&v.device_detail));
        a.set_held(v.held);
        let tests: Vec<TestTile> = v
            .tests
            .iter()
            .map(|(name, label)| TestTile {
                name: s(name),
                label: s(label),
            })
            .collect();
        update_model(&m.tests, &tests);
        a.set_running(s(&v.running));
        a.set_has_result(v.result.is_some());
        let (title, ok, lines) = v.result.clone().unwrap_or_default();
        a.set_result_title(s(&title));
        a.set_result_ok(ok);
        let lines: Vec<(String, String, bool)> =
            lines.into_iter().map(|(k, x)| (k, x, true)).collect();
        update_model(&m.result, &key_values(&lines));
        let logs: Vec<AdminLogLine> = v
            .logs
            .iter()
            .map(|(at, kind, text)| AdminLogLine {
                at: s(at),
                kind: s(kind),
                text: s(text),
            })
            .collect();
        update_model(&m.logs, &logs);
        update_model(&m.backlog, &key_values(&v.backlog));
        let dead: Vec<DeadRow> = v
            .dead
            .iter()
            .map(|(seq, kind, reason)| DeadRow {
                seq: i32::try_from(*seq).unwrap_or(i32::MAX),
                kind: s(kind),
                reason: s(reason),
            })
            .collect();
        update_model(&m.dead, &dead);
        a.set_notice(s(&v.notice));
        update_model(&m.facts, &key_values(&v.facts));
        update_model(&m.network, &key_values(&v.network));
        let supplies: Vec<SupplyTile> = v
            .supplies
            .iter()
            .map(|x| SupplyTile {
                device: s(&x.device),
                name: s(&x.name),
                used: s(&x.used),
                level: x.level,
                low: x.low,
                since: s(&x.since),
                resettable: x.resettable,
            })
            .collect();
        update_model(&m.supplies, &supplies);
        let id = v.picture.as_ref().map(|x| x.id);
        if m.shown.get() != id {
            let image = v.picture.as_ref().and_then(|x| jpeg_image(&x.bytes));
            a.set_has_picture(image.is_some());
            a.set_picture(image.unwrap_or_default());
            m.shown.set(id);
        }
    }

    /// Sends the admin pages' touches to `f` (as `UiIntent::Admin`).
    pub(crate) fn connect_admin<F: Fn(crate::UiIntent) + 'static>(&self, f: Rc<F>) {
        let a = self.app.global::<Admin>();
        let send = move |i: AdminIntent| f(crate::UiIntent::Admin(i));
        let send = Rc::new(send);
        {
            let f = send.clone();
            a.on_tab_chosen(move |t| f(AdminIntent::Tab(t.to_string())));
        }
        {
            let f = send.clone();
            a.on_open_device(move |d| f(AdminIntent::OpenDevice(d.to_string())));
        }
        {
            let f = send.clone();
            a.on_test(move |d, t| {
                f(AdminIntent::Test {
                    device: d.to_string(),
                    test: t.to_string(),
                })
            });
        }
        {
            let f = send.clone();
            a.on_retry(move |seq| f(AdminIntent::Retry(u64::try_from(seq).ok())));
        }
        {
            let f = send.clone();
            a.on_reset(move |d| f(AdminIntent::Reset(d.to_string())));
        }
        a.on_check_network(move || send(AdminIntent::CheckNetwork));
    }
}
