//! What care mode says aloud: the words of the screen showing, or the label of the control a
//! citizen touched, through the read-aloud service. Touches that are steps go to the flows.

use kiosk_ui::UiIntent;

use crate::flows::host::{Host, View};
use crate::flows::kiosk::Screen;
use crate::flows::{guide, idcopy};
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
        other => {
            let screen = host.view().screen;
            host.send(view::intent(other, &screen))
        }
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
                    ("id-copy", false) => "身份证复印".to_string(),
                    ("id-copy", true) => "copy your ID card".to_string(),
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
        Screen::IdCopy(stage) => copy_spoken(stage, en, &ui),
        Screen::Apply(stage) => apply_spoken(stage, en, &ui),
        Screen::Query(stage) => query_spoken(stage, en, &ui),
        Screen::Papers(stage) => papers_spoken(stage, en, &ui),
        Screen::StaffPin | Screen::Admin(_) => t("工作人员页面。", "Staff page."),
    }
}

/// The papers' screens, said; their login as the copy's is.
fn papers_spoken(stage: &crate::flows::papers::Stage, en: bool, ui: &kiosk_ui::UiView) -> String {
    use crate::flows::papers::Stage as P;
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let p = &ui.papers;
    match stage {
        P::Login(l) => copy_spoken(&idcopy::Stage::Login(l.clone()), en, ui),
        P::Months => t(
            "请选择证明上列出最近几个月的缴费记录。",
            "Choose how many recent months the certificate lists.",
        ),
        P::Looking | P::Opening { .. } | P::Printing { .. } => t("请稍候。", "Please wait."),
        P::List => format!(
            "{}{}",
            t("您的电子证照：", "Your e-licences: "),
            p.licences
                .iter()
                .map(|l| l.0.clone())
                .collect::<Vec<_>>()
                .join(if en { "; " } else { "；" })
        ),
        P::Preview { printed, .. } => {
            let mut said = p.title.clone();
            if *printed {
                said.push_str(&t(
                    "。已打印，请从出纸口取走。",
                    ". Printed: take it from the tray.",
                ));
            } else if !p.proof && p.printed_before > 0 {
                said.push_str(&if en {
                    format!(". It was printed {} times before.", p.printed_before)
                } else {
                    format!("。此前已打印 {} 次。", p.printed_before)
                });
            }
            said
        }
        P::Problem { .. } => t(
            "出现问题，请重试或到服务窗口咨询。",
            "Something went wrong. Try again, or ask at a service window.",
        ),
    }
}

/// The case look-up's screens, said; its login as the copy's is.
fn query_spoken(stage: &crate::flows::query::Stage, en: bool, ui: &kiosk_ui::UiView) -> String {
    use crate::flows::query::Stage as Q;
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let c = &ui.cases;
    match stage {
        Q::Login(l) => copy_spoken(&idcopy::Stage::Login(l.clone()), en, ui),
        Q::How => t(
            "查询办件进度：可以刷身份证，也可以输入办件编号和查询密码。",
            "Check an application: with your ID card, or with the case number and password.",
        ),
        Q::Number => t(
            "请输入回执上的办件编号。",
            "Type the case number from your receipt.",
        ),
        Q::Password => t("请输入查询密码。", "Type the query password."),
        Q::Looking | Q::Printing { .. } => t("请稍候。", "Please wait."),
        Q::List { .. } => format!(
            "{}{}",
            t("您的办件：", "Your applications: "),
            c.cases
                .iter()
                .map(|x| format!("{} {}", x.1, x.2))
                .collect::<Vec<_>>()
                .join(if en { "; " } else { "；" })
        ),
        Q::Detail { .. } => match &c.open {
            Some(o) => format!(
                "{} {}{}",
                o.1,
                o.2,
                c.log
                    .last()
                    .filter(|l| !l.2.is_empty())
                    .map(|l| format!(" {}", l.2))
                    .unwrap_or_default()
            ),
            None => String::new(),
        },
        Q::Problem { .. } => t(
            "出现问题，请按屏幕提示操作或向工作人员求助。",
            "Something went wrong. Follow the screen, or ask the staff for help.",
        ),
    }
}

/// The application's screens, said; its login and rating as the copy's are.
fn apply_spoken(stage: &crate::flows::apply::Stage, en: bool, ui: &kiosk_ui::UiView) -> String {
    use crate::flows::apply::Stage as A;
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let a = &ui.apply;
    match stage {
        A::Login(l) => copy_spoken(&idcopy::Stage::Login(l.clone()), en, ui),
        A::Rating { stage, .. } => copy_spoken(&idcopy::Stage::Rating(stage.clone()), en, ui),
        A::Form { .. } if a.keyboard == "none" => format!(
            "{}{}{}",
            a.label,
            t("。请选择：", ". Choose: "),
            a.options.join(if en { ", " } else { "，" })
        ),
        A::Form { .. } => format!("{}{}", a.label, t("。请在下方输入。", ". Type it below.")),
        A::Pickup => t(
            "请选择领取结果的方式：窗口领取、邮寄或智能柜。",
            "Choose how to collect the result: at a window, by post, or from the locker.",
        ),
        A::Address { .. } => t("请输入邮寄地址。", "Type the postal address."),
        A::Pages { .. } => format!(
            "{}{}",
            t("请把以下材料放在拍摄区：", "Lay this on the plate: "),
            a.material
        ),
        A::Capturing { .. } => t("正在拍摄，请保持不动。", "Taking the page, keep it still."),
        A::FetchingLicences => t("正在调取您的电子证照。", "Fetching your e-licences."),
        A::Licences if a.licences_ready => format!(
            "{}{}",
            t("以下材料已从电子证照调取：", "Taken from your e-licences: "),
            a.licences
                .iter()
                .filter(|l| !l.1.is_empty())
                .map(|l| l.0.clone())
                .collect::<Vec<_>>()
                .join(if en { ", " } else { "，" })
        ),
        A::Licences => t(
            "有必需的电子证照未找到，请携带纸质证件到窗口办理。",
            "A required e-licence was not found. Please take it on paper to a service window.",
        ),
        A::Review => t(
            "请核对申请信息，无误后点“确认无误，去签名”。",
            "Check your application, then touch 'Correct: sign'.",
        ),
        A::Sign { .. } => t(
            "请用手指在签名框内签名，然后点“提交申请”。",
            "Sign in the box with your finger, then touch 'Submit the application'.",
        ),
        A::Submitting => t("正在提交，请稍候。", "Submitting, please wait."),
        A::Submitted { .. } => format!(
            "{}{}{}{}",
            t("申请已提交。办件编号：", "Submitted. Case number: "),
            a.number,
            t("。查询密码：", ". Query password: "),
            a.password
        ),
        A::PrintingReceipt { .. } => t(
            "正在打印回执，请稍候。",
            "Printing the receipt, please wait.",
        ),
        A::Problem { .. } => t(
            "出现问题，请按屏幕提示操作或向工作人员求助。",
            "Something went wrong. Follow the screen, or ask the staff for help.",
        ),
    }
}

/// The login's and the ID card copy's screens, said.
fn copy_spoken(stage: &idcopy::Stage, en: bool, ui: &kiosk_ui::UiView) -> String {
    use crate::flows::identify::Stage as L;
    use idcopy::Stage as C;
    let t = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    match stage {
        C::Login(L::Present { .. } | L::Principal) => t(
            "请先核验身份：把身份证放在屏幕下方的读卡区，或出示电子身份码。",
            "First show who you are: place your ID card on the reader below the screen, or show your e-ID code.",
        ),
        C::Login(L::Consent { .. }) => t(
            "请核验本人：摄像头会把您的脸与身份证照片比对，图像不会保存。同意请点“同意”，也可以改用指纹。",
            "The camera compares your face with your card photo; nothing is kept. Touch agree, or use your fingerprint instead.",
        ),
        C::Login(L::Face { prompt, .. }) => {
            if en {
                prompt.en().to_string()
            } else {
                prompt.zh().to_string()
            }
        }
        C::Login(L::FaceFailed { .. }) => t(
            "人脸与证件照片不一致。可以再试一次，或改用指纹。",
            "Your face did not match. Try again, or use your fingerprint.",
        ),
        C::Login(L::Finger { .. }) => t(
            "请把手指平放在指纹仪上。",
            "Place your finger flat on the fingerprint reader.",
        ),
        C::Login(L::Problem { .. }) | C::Problem { .. } => t(
            "出现问题，请按屏幕提示操作，或到窗口请工作人员帮助。",
            "Something went wrong. Follow the screen, or ask the staff at a window.",
        ),
        C::Place { side, .. } => match side {
            idcopy::Side::Front => t(
                "第一步：把身份证人像面朝上放在高拍仪下，然后点“拍摄正面”。",
                "Step one: lay the photo side of the card face up under the document camera, then touch take the front.",
            ),
            idcopy::Side::Back => t(
                "第二步：把身份证国徽面朝上放在高拍仪下，然后点“拍摄反面”。",
                "Step two: lay the emblem side face up, then touch take the back.",
            ),
        },
        C::Capturing { .. } | C::Composing { .. } => t("请稍候。", "One moment, please."),
        C::Purpose => format!(
            "{}{}",
            t("复印件用于什么？可选：", "What is the copy for? You can choose: "),
            ui.copy
                .purposes
                .iter()
                .map(|(label, _)| label.clone())
                .collect::<Vec<_>>()
                .join(if en { ", " } else { "，" })
        ),
        C::TypeUse => t(
            "请用下方键盘输入拼音，再点选汉字，写出复印件的用途。",
            "Type the use in pinyin on the keyboard below, then touch the characters.",
        ),
        C::Rating(crate::flows::rating::Stage::Tags { .. }) => t(
            "可以选择下面的评价标签，然后点“提交”或“下一步”。",
            "You can choose the tags below, then touch submit or next.",
        ),
        C::Rating(crate::flows::rating::Stage::Complaint { .. }) => t(
            "请用下方键盘写下哪里做得不好，我们会跟进。",
            "Type what went wrong on the keyboard below; the hall follows it up.",
        ),
        C::Rating(crate::flows::rating::Stage::Thanks) => {
            t("谢谢您的评价。", "Thank you for rating the service.")
        }
        C::Preview { .. } => t(
            "这是复印件的样子。确认无误请点“打印复印件”。",
            "This is your copy. Touch print the copy if it is right.",
        ),
        C::Printing { .. } => t("正在打印，请稍候。", "Printing, please wait."),
        C::Printed => t(
            "请从A4打印机取走复印件，并带好身份证。",
            "Please take your copy from the A4 printer, and your ID card.",
        ),
    }
}
