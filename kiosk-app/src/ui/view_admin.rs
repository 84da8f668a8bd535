//! The admin pages' view in the screen's language: the admin host's figures as lines a
//! technician reads, and their touches as the admin state machine's inputs.

use kiosk_ui::{AdminIntent, AdminUiView, JpegPicture, ScreenId, SupplyLine};

use crate::centre::netcheck::{Transport, SKEW_LIMIT_S};
use crate::flows::admin::{self, Action, Page};
use crate::flows::host::{AdminNotice, AdminView, View};
use crate::flows::kiosk::{self, Screen};
use crate::services::technicians::Opener;

pub fn screen_id(page: &Page) -> ScreenId {
    match page {
        Page::Devices => ScreenId::DeviceStatus,
        Page::Device(_) => ScreenId::AdminDevice,
        Page::Logs => ScreenId::AdminLogs,
        Page::Journal => ScreenId::AdminJournal,
        Page::Config => ScreenId::AdminConfig,
        Page::Network => ScreenId::AdminNetwork,
        Page::Supplies => ScreenId::AdminSupplies,
    }
}

/// What a touch on an admin page means.
pub fn intent(i: AdminIntent) -> kiosk::Input {
    use admin::Input as I;
    kiosk::Input::Admin(match i {
        AdminIntent::Tab(t) => match Page::by_tab(&t) {
            Some(p) => I::Open(p),
            None => return kiosk::Input::Touch,
        },
        AdminIntent::OpenDevice(d) => I::Open(Page::Device(d)),
        AdminIntent::Test { device, test } => I::Do(Action::Test { device, test }),
        AdminIntent::Retry(seq) => I::Do(Action::RetryDead(seq)),
        AdminIntent::Reset(d) => I::Do(Action::ResetSupply(d)),
        AdminIntent::CheckNetwork => I::Do(Action::CheckNetwork),
    })
}

fn yes_no(b: bool, en: bool) -> String {
    match (b, en) {
        (true, true) => "yes".into(),
        (false, true) => "no".into(),
        (true, false) => "是".into(),
        (false, false) => "否".into(),
    }
}

pub fn admin_view(v: &View) -> AdminUiView {
    let (Some(a), Screen::Admin(stage)) = (&v.admin, &v.screen) else {
        return AdminUiView::default();
    };
    let en = v.english;
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let tab = match &stage.page {
        Page::Devices | Page::Device(_) => "devices",
        Page::Logs => "logs",
        Page::Journal => "journal",
        Page::Config => "config",
        Page::Network => "network",
        Page::Supplies => "supplies",
    };
    let label = |name: &str| {
        a.tests
            .iter()
            .find(|x| x.name == name)
            .map_or(name.to_string(), |x| t(x.zh, x.en))
    };
    let running = match &stage.running {
        None => String::new(),
        Some(Action::Test { test, .. }) => label(test),
        Some(Action::CheckNetwork) => t("网络检查", "network check"),
        Some(Action::RetryDead(_)) => t("重新发送", "sending again"),
        Some(Action::ResetSupply(_)) => t("计数清零", "resetting"),
    };
    let device = a.device.as_ref();
    AdminUiView {
        opener: match &a.opener {
            Some(Opener::Technician { staff_no, name }) if name.is_empty() => t(
                &format!("工号 {staff_no}"),
                &format!("staff number {staff_no}"),
            ),
            Some(Opener::Technician { staff_no, name }) => format!("{name} ({staff_no})"),
            Some(Opener::SharedPin) => t("共享工作人员密码", "the shared staff PIN"),
            None => String::new(),
        },
        tab: tab.into(),
        device_id: device.map(|d| d.id.clone()).unwrap_or_default(),
        device_name: device.map(|d| d.name.clone()).unwrap_or_default(),
        device_line: device
            .map(|d| format!("{} · {} · {} · {}", d.id, d.kind, d.driver, d.transport))
            .unwrap_or_default(),
        device_health: device
            .map(|d| {
                let subs: Vec<&str> = d.sub.iter().map(|s| s.as_str()).collect();
                let mut h = health_text(d.health.as_str(), en);
                if !subs.is_empty() {
                    h = format!("{h} · {}", subs.join(", "));
                }
                h
            })
            .unwrap_or_default(),
        device_state: device
            .map(|d| d.centre_state.as_str().to_string())
            .unwrap_or_default(),
        device_detail: device.map(|d| d.detail.clone()).unwrap_or_default(),
        held: a.held,
        tests: a
            .tests
            .iter()
            .map(|x| (x.name.to_string(), t(x.zh, x.en)))
            .collect(),
        running,
        result: a
            .result
            .as_ref()
            .map(|r| (label(&r.test), r.ok, r.lines.clone())),
        picture: a
            .result
            .as_ref()
            .and_then(|r| r.picture.as_ref())
            .map(|p| JpegPicture {
                id: std::sync::Arc::as_ptr(&p.0) as usize,
                bytes: p.0.clone(),
            }),
        logs: a
            .logs
            .iter()
            .map(|l| (l.at.clone(), l.kind.clone(), l.text.clone()))
            .collect(),
        backlog: backlog(a, en),
        dead: a
            .dead
            .iter()
            .map(|d| (d.seq, d.kind.clone(), d.reason.clone()))
            .collect(),
        notice: match &a.notice {
            None => String::new(),
            Some(AdminNotice::Requeued(n)) => t(
                &format!("已重新排队 {n} 条，下次同步时发送。"),
                &format!("{n} queued again; the next sync sends them."),
            ),
            Some(AdminNotice::Reset(d)) => t(
                &format!("{d} 的计数已清零。"),
                &format!("{d}: the counter starts again from zero."),
            ),
            Some(AdminNotice::Failed(e)) => t(&format!("未完成：{e}"), &format!("Not done: {e}")),
        },
        facts: facts(a, en),
        network: network(a, en),
        supplies: a
            .supplies
            .iter()
            .map(|s| {
                let left = s.capacity.saturating_sub(s.used);
                let (used, level) = if s.what == "paper" {
                    (
                        t(
                            &format!(
                                "自上次换纸已打印 {} 张，约剩 {left} 张（共 {}）",
                                s.used, s.capacity
                            ),
                            &format!(
                                "{} printed since the last refill, about {left} of {} left",
                                s.used, s.capacity
                            ),
                        ),
                        left as f32 / s.capacity.max(1) as f32,
                    )
                } else {
                    let levels: Vec<String> = s.ink.iter().map(|i| format!("{i}%")).collect();
                    (
                        t(
                            &format!("印油：{}", levels.join(" / ")),
                            &format!("Ink: {}", levels.join(" / ")),
                        ),
                        s.ink
                            .iter()
                            .copied()
                            .min()
                            .map_or(0.0, |i| f32::from(i) / 100.0),
                    )
                };
                SupplyLine {
                    device: s.device.clone(),
                    name: s.name.clone(),
                    used,
                    level,
                    low: s.low(),
                    since: s
                        .since
                        .as_deref()
                        .map(|x| {
                            t(
                                &format!("计数开始：{}", short_time(x)),
                                &format!("Counting since {}", short_time(x)),
                            )
                        })
                        .unwrap_or_default(),
                    resettable: s.what == "paper",
                }
            })
            .collect(),
    }
}

fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

fn health_text(h: &str, en: bool) -> String {
    let (zh, e) = match h {
        "online" => ("在线", "Online"),
        "busy" => ("忙", "Busy"),
        "offline" => ("离线", "Offline"),
        "no-device" => ("未连接", "Not connected"),
        "hardware-error" => ("硬件故障", "Hardware fault"),
        "user-error" => ("需要处理", "Needs attention"),
        other => (other, other),
    };
    if en {
        e.into()
    } else {
        zh.into()
    }
}

fn backlog(a: &AdminView, en: bool) -> Vec<(String, String, bool)> {
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let c = &a.counts;
    vec![
        (
            t("待发送", "Waiting to be sent"),
            c.pending.to_string(),
            true,
        ),
        (
            t("已发送待确认", "Sent, not yet acknowledged"),
            c.sent.to_string(),
            true,
        ),
        (
            t("中心已确认", "Acknowledged by the centre"),
            c.acknowledged.to_string(),
            true,
        ),
        (
            t("死信（中心拒收）", "Dead letters (refused)"),
            c.dead.to_string(),
            c.dead == 0,
        ),
        (
            t("最早未送达", "Oldest not yet delivered"),
            a.oldest_pending
                .as_deref()
                .map_or_else(|| t("无", "none"), short_time),
            true,
        ),
    ]
}

fn facts(a: &AdminView, en: bool) -> Vec<(String, String, bool)> {
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let c = &a.config;
    let mut out = vec![
        (
            t("终端编号", "Terminal"),
            format!("{} · {}", c.terminal, c.role),
            true,
        ),
        (t("配置文件", "Configuration file"), c.path.clone(), true),
        (
            t("配置 SHA-256（启动时）", "Its SHA-256 (at start)"),
            c.sha256.clone(),
            !c.sha256.is_empty(),
        ),
        (t("载入时间", "Loaded at"), short_time(&c.loaded_at), true),
        (t("中心服务", "Central service"), c.centre.clone(), true),
    ];
    for (kind, d) in &c.documents {
        let value = match d {
            Some(crate::flows::host::DocumentFacts {
                version,
                scope,
                algorithm: alg,
                key_id: key,
            }) => t(
                &format!("第 {version} 版 · 范围 {scope} · {alg} 签名 · 密钥 {key}"),
                &format!("version {version} · scope {scope} · signed {alg} · key {key}"),
            ),
            None => t("未下发（使用本地设置）", "none received (local settings)"),
        };
        out.push((
            t(&format!("签名文件：{kind}"), &format!("Signed {kind}")),
            value,
            true,
        ));
    }
    out
}

fn network(a: &AdminView, en: bool) -> Vec<(String, String, bool)> {
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let Some(n) = &a.network else {
        return Vec::new();
    };
    let transport = match n.transport {
        Transport::TlsPinned => (
            t(
                "TLS，仅信任配置的 CA",
                "TLS, trusting the configured CA only",
            ),
            true,
        ),
        Transport::TlsSystem => (
            t("TLS，系统根证书", "TLS, the system's root certificates"),
            true,
        ),
        Transport::Loopback => (
            t(
                "本机（内置中心），未加密",
                "this machine (embedded centre), not encrypted",
            ),
            true,
        ),
        Transport::Plain => (
            t(
                "HTTP 未加密，请配置 https 和 CA",
                "plain HTTP, not encrypted: configure https and a CA",
            ),
            false,
        ),
    };
    let skew = match n.skew_s {
        Some(s) => (
            t(
                &format!("{s:+} 秒（中心减本机）"),
                &format!("{s:+} s (centre minus terminal)"),
            ),
            n.skew_ok(),
        ),
        None => (t("无法得知", "unknown"), n.reachable),
    };
    vec![
        (t("中心地址", "Centre"), n.url.clone(), true),
        (
            t("可以连接", "Reachable"),
            yes_no(n.reachable, en),
            n.reachable,
        ),
        (
            t("往返时间", "Round trip"),
            format!("{} ms", n.round_trip_ms),
            true,
        ),
        (t("传输", "Transport"), transport.0, transport.1),
        (
            t(
                &format!("时钟偏差（限 ±{SKEW_LIMIT_S} 秒）"),
                &format!("Clock skew (limit ±{SKEW_LIMIT_S} s)"),
            ),
            skew.0,
            skew.1,
        ),
        (t("详情", "Detail"), n.detail.clone(), n.reachable),
    ]
}
