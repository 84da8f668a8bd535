//! What care mode says aloud: the words of the screen showing, or the label of the control a
//! citizen touched, through the read-aloud service. Touches that are steps go to the flows.

use kiosk_ui::UiIntent;

use crate::flows::guide;
use crate::flows::host::{Host, View};
use crate::flows::kiosk::Screen;
use crate::services::speech::Speaker;
use crate::ui::view;

/// Sends a touch where it belongs: speech to the speaker, everything else to the flows.
pub fn dispatch(i: UiIntent, host: &Host, speaker: &Speaker) {
    match i {
        UiIntent::Speak(label) => speaker.say(&label, host.view().english),
        UiIntent::ReadAloud => {
            let v = host.view();
            speaker.say(&spoken(&v), v.english);
        }
        other => host.send(view::intent(other)),
    }
}

/// The screen in a few sentences, in the citizen's language: its title, then what can be
/// chosen or what it lists.
pub fn spoken(v: &View) -> String {
    let en = v.english;
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let ui = view::ui_view(v, true);
    let g = &ui.guide;
    let list = |items: Vec<String>| items.join(if en { ", " } else { "，" });
    match &v.screen {
        Screen::Attract => t("请触摸屏幕开始办理。", "Touch the screen to start."),
        Screen::Home => {
            let names: Vec<String> = v
                .offers
                .iter()
                .map(|o| match (o.id.as_str(), en) {
                    ("ticket", false) => "取号".to_string(),
                    ("ticket", true) => "take a queue ticket".to_string(),
                    ("guide", false) => "办事指南".to_string(),
                    ("guide", true) => "the service guide".to_string(),
                    (other, _) => other.to_string(),
                })
                .collect();
            format!(
                "{}{}",
                t(
                    "欢迎来到政务服务大厅。您可以选择：",
                    "Welcome. You can choose: "
                ),
                list(names)
            )
        }
        Screen::Ticket(_) => match &ui.group {
            Some(g) => format!("{}{}", t("取号：", "Queue ticket: "), g.name),
            None => format!(
                "{}{}",
                t("请选择要取号的业务：", "Choose a service for your ticket: "),
                list(ui.groups.iter().map(|g| g.name.clone()).collect())
            ),
        },
        Screen::Guide(stage) => match stage {
            guide::Stage::Items { .. } => format!(
                "{}{}",
                t(
                    "您要办理什么事项？可选：",
                    "Which service is it for? You can choose: "
                ),
                list(g.items.iter().map(|(_, name, _)| name.clone()).collect())
            ),
            guide::Stage::Item { .. } => format!(
                "{}。{}",
                g.item_name,
                [&g.notice, &g.time_limit, &g.fee]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(if en { ". " } else { "。" })
            ),
            guide::Stage::Question { .. } => format!(
                "{}{}{}",
                g.question,
                t("。可选：", ". You can choose: "),
                list(
                    g.answers
                        .iter()
                        .map(|(_, label, _)| label.clone())
                        .collect()
                )
            ),
            guide::Stage::Materials { .. } => format!(
                "{}{}",
                t("请准备以下材料：", "Please prepare: "),
                list(g.materials.iter().map(|m| m.name.clone()).collect())
            ),
            guide::Stage::Printing { .. } => t("正在打印，请稍候。", "Printing, please wait."),
            guide::Stage::Problem { .. } => t(
                "出现问题，请返回或向工作人员求助。",
                "Something went wrong. Go back, or ask the staff for help.",
            ),
        },
        Screen::StaffPin | Screen::DeviceStatus => t("工作人员页面。", "Staff page."),
    }
}
