//! The typed event catalogue: one table below is the single source of truth for every event a
//! terminal emits — its stable numeric id (never reused, never renumbered), a stable key, a
//! category, and the Chinese and English messages shown to technicians. `docs/EVENTS.md` is
//! generated from it and a test keeps the two in sync.
//!
//! Device actions are recorded as a pair: `device.action.init` when a command is sent and
//! `device.action.complete` with a [`Disposition`] when its one completion arrives, joined by a
//! correlation id. A physical output therefore always leaves an intent and a result.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    System,
    Device,
    Session,
    Sync,
    Admin,
    Security,
    Output,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::System => "system",
            Category::Device => "device",
            Category::Session => "session",
            Category::Sync => "sync",
            Category::Admin => "admin",
            Category::Security => "security",
            Category::Output => "output",
        }
    }
}

macro_rules! event_catalogue {
    ($( $id:literal $name:ident $cat:ident $key:literal $zh:literal $en:literal ;)*) => {
        /// Every event a terminal emits. The discriminant is the stable id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum EventKind {
            $( $name = $id, )*
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[ $( EventKind::$name, )* ];

            pub fn id(self) -> u16 {
                self as u16
            }

            pub fn from_id(id: u16) -> Option<EventKind> {
                match id {
                    $( $id => Some(EventKind::$name), )*
                    _ => None,
                }
            }

            /// The stable dotted key (`device.health.changed`).
            pub fn key(self) -> &'static str {
                match self { $( EventKind::$name => $key, )* }
            }

            pub fn from_key(key: &str) -> Option<EventKind> {
                match key {
                    $( $key => Some(EventKind::$name), )*
                    _ => None,
                }
            }

            pub fn category(self) -> Category {
                match self { $( EventKind::$name => Category::$cat, )* }
            }

            pub fn message_zh(self) -> &'static str {
                match self { $( EventKind::$name => $zh, )* }
            }

            pub fn message_en(self) -> &'static str {
                match self { $( EventKind::$name => $en, )* }
            }
        }
    };
}

event_catalogue! {
    1000 TerminalStarted     System   "system.started"          "终端已启动"             "Terminal started";
    1001 TerminalStopping    System   "system.stopping"         "终端正在停止"           "Terminal stopping";
    1002 ConfigLoaded        System   "system.config.loaded"    "配置已加载"             "Configuration loaded";
    1003 DocumentApplied     System   "system.document.applied" "下发文件已生效"         "Signed document from the centre applied";
    1004 TaskFailed          System   "system.task.failed"      "后台任务异常"           "A background task of the terminal failed";
    1005 DisplayLost         System   "system.display.lost"     "显示连接中断"           "The display connection was lost";
    1006 UpdateOutcome       System   "system.update.outcome"   "软件更新结果"           "How a software update ended: committed, rolled back or refused";
    1007 UpdateStaged        System   "system.update.staged"    "软件更新已下载待安装"   "An update bundle fetched from the centre and checked, waiting for a moment it may be installed";
    1100 DeviceHealthChanged Device   "device.health.changed"   "设备状态变化"           "Device health changed";
    1101 DeviceActionInit    Device   "device.action.init"      "设备操作开始"           "Device action started";
    1102 DeviceActionComplete Device  "device.action.complete"  "设备操作结束"           "Device action completed";
    1103 DeviceInput         Device   "device.input"            "设备输入"               "Device input received";
    1104 DeviceClaimed       Device   "device.claimed"          "设备已被占用"           "Device claimed";
    1105 DeviceReleased      Device   "device.released"         "设备已释放"             "Device released";
    1106 GatewayCall         Device   "device.gateway.call"     "业务系统调用设备"       "A business system's page called a device through the local API";
    1200 CentreReachable     Sync     "sync.centre.reachable"   "中心服务已连接"         "Central service reachable";
    1201 CentreUnreachable   Sync     "sync.centre.unreachable" "中心服务无法连接"       "Central service unreachable";
    1300 AdminModeEntered    Admin    "admin.entered"           "进入设备管理模式"       "Admin mode entered";
    1301 AdminModeLeft       Admin    "admin.left"              "退出设备管理模式"       "Admin mode left";
    1302 RemoteCommandRun    Admin    "admin.remote.command"    "远程指令已执行"         "Remote command carried out";
    1303 AdminLoginRefused   Admin    "admin.login.refused"     "工作人员密码错误"       "A wrong staff PIN was entered";
    1304 AdminLocked         Admin    "admin.login.locked"      "工作人员入口已锁定"     "Five wrong staff PINs: the staff entry is locked for 15 minutes";
    1305 AdminAction         Admin    "admin.action"            "设备管理操作"           "A technician's action in admin mode (device test, dead-letter retry, supply reset, network check) and its result";
    1400 PresenceDetected    Session  "session.presence.on"     "检测到有人"             "Person detected in front of the terminal";
    1401 PresenceLost        Session  "session.presence.off"    "人员已离开"             "Person left";
    1402 SessionTimedOut     Session  "session.timeout"         "会话超时，数据已清除"   "Session timed out; its data was wiped";
    1403 FaceVerified        Session  "session.face.result"     "人证核验结束"           "Face check against the ID card photo finished";
    1404 SessionStarted      Session  "session.started"         "办事会话开始"           "Citizen session started";
    1405 SessionEnded        Session  "session.ended"           "办事会话结束，数据已清除" "Citizen session ended; its data was wiped";
    1406 TicketTaken         Session  "session.ticket.taken"    "取号完成"               "Queue ticket printed and taken";
    1407 TicketNotTaken      Session  "session.ticket.failed"   "取号未完成"             "Queue ticket journey ended without a ticket";
    1408 SessionIdentified   Session  "session.identified"      "办事人身份核验通过"     "Citizen identified (how, masked ID number)";
    1500 CabinetDoorOpened   Security "security.door.opened"    "机柜门已打开"           "Cabinet door opened";
    1501 CabinetDoorClosed   Security "security.door.closed"    "机柜门已关闭"           "Cabinet door closed";
    1502 DocumentRejected    Security "security.document.rejected" "下发文件被拒绝"     "Document from the centre rejected (signature, scope or version)";
    1503 GatewayRefused      Security "security.gateway.refused" "业务系统调用被拒绝"   "A page's call to the local device API was refused (origin, token or scope)";
    1504 UsbDeviceRefused    Security "security.usb.refused"    "未授权USB设备已拦截"   "A USB device outside the terminal's allow-list was de-authorised (or reported)";
    1600 OutputIntent        Output   "output.intent"           "输出意图已记录"         "Output intent recorded before the device acts";
    1601 OutputResult        Output   "output.result"           "输出结果已记录"         "Output result recorded after the device answered";
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        EventKind::from_key(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event key {key:?}")))
    }
}

/// How a device action ended, as recorded in its completion event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum Disposition {
    Success,
    Canceled,
    TimedOut,
    /// Any other completion code, with the device's detail.
    Failed {
        code: String,
        detail: String,
    },
}

impl Disposition {
    pub fn is_success(&self) -> bool {
        matches!(self, Disposition::Success)
    }
}

/// One emitted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub id: u16,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Joins an init event to its complete event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// Event-specific fields. Personal data is masked before it gets here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl Event {
    pub fn new(kind: EventKind, at: DateTime<Utc>) -> Self {
        Event {
            kind,
            id: kind.id(),
            at,
            device: None,
            correlation: None,
            disposition: None,
            fields: BTreeMap::new(),
        }
    }

    pub fn device(mut self, id: impl Into<String>) -> Self {
        self.device = Some(id.into());
        self
    }

    pub fn field(mut self, k: impl Into<String>, v: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(k.into(), v.into());
        self
    }

    /// The init half of a device action.
    pub fn action_init(device: &str, action: &str, correlation: u64, at: DateTime<Utc>) -> Self {
        let mut e = Event::new(EventKind::DeviceActionInit, at)
            .device(device)
            .field("action", action);
        e.correlation = Some(correlation);
        e
    }

    /// The complete half of a device action.
    pub fn action_complete(
        device: &str,
        action: &str,
        correlation: u64,
        disposition: Disposition,
        at: DateTime<Utc>,
    ) -> Self {
        let mut e = Event::new(EventKind::DeviceActionComplete, at)
            .device(device)
            .field("action", action);
        e.correlation = Some(correlation);
        e.disposition = Some(disposition);
        e
    }

    pub fn message(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.kind.message_zh(),
            Lang::En => self.kind.message_en(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The catalogue as Markdown, for `docs/EVENTS.md`.
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# Event catalogue\n\n\
         Generated from `protocol/src/events.rs` (the single source of truth); \
         `cargo test -p kiosk-protocol` fails when this file is out of date, and \
         `UPDATE_EVENTS_DOC=1 cargo test -p kiosk-protocol` rewrites it.\n\n\
         Ids are stable: an id is never reused or renumbered. Device actions are recorded as an \
         `device.action.init` / `device.action.complete` pair joined by a correlation id; the \
         complete event carries a disposition (`success`, `canceled`, `timed-out`, or `failed` \
         with the completion code).\n\n\
         | id | key | category | 中文 | English |\n|---|---|---|---|---|\n",
    );
    for k in EventKind::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            k.id(),
            k.key(),
            k.category().as_str(),
            k.message_zh(),
            k.message_en()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_keys_are_unique_and_round_trip() {
        let mut keys = HashSet::new();
        for k in EventKind::ALL {
            assert!(keys.insert(k.key()), "duplicate key {}", k.key());
            assert_eq!(EventKind::from_id(k.id()), Some(*k));
            assert_eq!(EventKind::from_key(k.key()), Some(*k));
            assert!(!k.message_zh().is_empty() && !k.message_en().is_empty());
            assert!(
                k.key().starts_with(k.category().as_str()),
                "{} is not under its category {}",
                k.key(),
                k.category().as_str()
            );
        }
        assert_eq!(EventKind::from_id(9999), None);
    }

    #[test]
    fn action_pair_serialises_with_disposition() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let init = Event::action_init("scanner", "scan", 7, at);
        let done = Event::action_complete(
            "scanner",
            "scan",
            7,
            Disposition::Failed {
                code: "timeout".into(),
                detail: "no code".into(),
            },
            at,
        );
        let j = serde_json::to_value(&done).unwrap();
        assert_eq!(j["kind"], "device.action.complete");
        assert_eq!(j["id"], 1102);
        assert_eq!(j["disposition"]["result"], "failed");
        assert_eq!(init.correlation, done.correlation);
        let back: Event = serde_json::from_value(j).unwrap();
        assert_eq!(back, done);
        assert_eq!(done.message(Lang::Zh), "设备操作结束");
    }

    #[test]
    fn events_doc_is_in_sync_with_the_catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/EVENTS.md");
        let want = catalogue_markdown();
        if std::env::var_os("UPDATE_EVENTS_DOC").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/EVENTS.md is out of date; run UPDATE_EVENTS_DOC=1 cargo test -p kiosk-protocol"
        );
    }
}
