//! The queue-ticket journey headless on the whole simulated terminal: touches by accessible
//! label through Slint's testing API, the simulated reader, scanner and printer, the journal
//! and a real centre over HTTP — the happy paths and the faults a hall meets, each checked on
//! screen, on paper, at the centre and in the journal. One Slint platform per process, so the
//! scenarios run one after another in one test.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kiosk_app::cli::tour::{self, Action, Step, Tour, TourOptions};
use kiosk_app::runtime::Owner;
use kiosk_app::services::catalogue::Catalogue;
use kiosk_e2e::{repo_root, sample_config};
use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};
use kiosk_protocol::wire::TicketState;
use serde_json::{json, Value};

fn step(name: &str, action: Option<Action>, expect: &str) -> Step {
    Step {
        name: name.into(),
        action,
        expect: expect.into(),
        until: None,
    }
}

fn touch(zh: &str, en: &str) -> Option<Action> {
    let mut m = serde_json::Map::new();
    m.insert("zh-CN".into(), json!(zh));
    m.insert("en".into(), json!(en));
    Some(Action::Touch(m))
}

fn group(id: &str) -> Option<Action> {
    let mut m = serde_json::Map::new();
    m.insert("group".into(), json!(id));
    Some(Action::Touch(m))
}

fn sim(device: &str, what: &str, args: Value) -> Option<Action> {
    Some(Action::Sim(device.into(), what.into(), args))
}

/// Wakes the terminal and opens the ticket journey's group list.
fn to_groups() -> Vec<Step> {
    vec![
        step(
            "woken",
            touch("请触摸屏幕开始办理", "Touch the screen to start"),
            "home",
        ),
        step(
            "groups",
            touch("取号", "Take a queue ticket"),
            "ticket-groups",
        ),
    ]
}

struct Run {
    tour: Tour,
    n: usize,
    _dir: tempfile::TempDir,
}

impl Run {
    fn start(name: &str, lang: Option<&str>) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let cfg = sample_config("kiosk.sim.toml", dir.path());
        Run::with(cfg, name, lang, dir)
    }

    fn with(cfg: kiosk_app::Config, name: &str, lang: Option<&str>, dir: tempfile::TempDir) -> Run {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("journeys")
            .join(name);
        let opts = TourOptions {
            journey: name.into(),
            script: None,
            out,
            lang: lang.map(str::to_string),
            portrait: false,
        };
        Run {
            tour: Tour::start(cfg, &opts).unwrap_or_else(|e| panic!("{name}: {e:#}")),
            n: 0,
            _dir: dir,
        }
    }

    fn play(&mut self, steps: Vec<Step>) -> Vec<String> {
        let mut last = Vec::new();
        for s in steps {
            self.n += 1;
            match self.tour.step(self.n, &s) {
                Ok(r) => last = r.labels.clone(),
                Err(e) => panic!("{e:#}\n{}", self.recent()),
            }
        }
        last
    }

    fn sim(&self, device: &str, what: &str) -> Value {
        self.tour
            .terminal
            .runtime
            .device(device)
            .unwrap()
            .sim
            .as_ref()
            .unwrap()
            .inject(what, &json!({}))
            .unwrap()
    }

    /// The journal's last events (masked as recorded), for failure messages.
    fn recent(&self) -> String {
        let all = self
            .tour
            .terminal
            .journal
            .lock()
            .events_like("", 10_000)
            .unwrap_or_default();
        let from = all.len().saturating_sub(25);
        all[from..]
            .iter()
            .map(|(_, k, p)| format!("  {k} {p}\n"))
            .collect()
    }

    /// The journal's events of `kind`, payloads only.
    fn journal(&self, kind: &str) -> Vec<Value> {
        self.tour
            .terminal
            .journal
            .lock()
            .events_like(kind, 10_000)
            .unwrap()
            .into_iter()
            .filter(|(_, k, _)| k == kind)
            .map(|(_, _, p)| p)
            .collect()
    }

    /// Waits (bounded) until the centre holds `number` in `state`.
    fn centre_ticket(&self, group: &str, number: &str, want: TicketState) {
        let t = &self.tour.terminal;
        let c = Catalogue::in_force(&t.journal).unwrap().unwrap();
        let day = t
            .runtime
            .events
            .now()
            .with_timezone(&t.config.offset())
            .format("%Y-%m-%d")
            .to_string();
        let path = format!(
            "/api/v1/halls/{}/services/{group}/tickets/{day}/{number}",
            c.hall.id
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let centre = t.centre.clone();
            let p = path.clone();
            let got: Option<kiosk_protocol::wire::Ticket> = t
                .handle()
                .block_on(async move { centre.json(centre.get(&p)).await.ok() });
            if got.as_ref().map(|x| x.state) == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{number}: {got:?}, wanted {want:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every guide light is off.
    fn lights_off(&self) {
        let rt = &self.tour.terminal.runtime;
        let c = rt
            .claim(
                "board",
                Owner::Bench,
                Duration::from_secs(10),
                Duration::from_secs(5),
            )
            .unwrap();
        let v = rt
            .call(&c, "lights", json!({}), Duration::from_secs(5))
            .unwrap();
        let on: Vec<_> = v
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, l)| l["mode"]["mode"] != "off")
                    .collect()
            })
            .unwrap_or_default();
        assert!(on.is_empty(), "lights left on: {v}");
    }

    /// Nothing in the journal names the card holder in full, and no file the terminal keeps
    /// (the journal's database, attachments, the spool, the input engine's folder) holds the
    /// name or the ID number in plain bytes.
    ///
    /// The embedded centre's folder (`central/`) is not the terminal's: it stands in for the
    /// hall's centre, which receives the application it is to decide — there the ID number is
    /// checked to be kept only hashed in the case store.
    fn no_unmasked_identity(&self) {
        let data = self.tour.terminal.config.data_dir();
        let centre = data.join("central");
        let db = std::fs::read(centre.join("central.db")).unwrap_or_default();
        let id = b"320583199001011232";
        assert!(
            !db.windows(id.len()).any(|w| w == id),
            "the centre's case store holds the ID number in plain"
        );
        kiosk_e2e::assert_no_plain(&data, Some(&centre), &["320583199001011232", "张三丰"]);
        let all = self
            .tour
            .terminal
            .journal
            .lock()
            .events_like("", 100_000)
            .unwrap();
        for (_, kind, payload) in all {
            let p = payload.to_string();
            assert!(
                !p.contains("320583199001011232") && !p.contains("张三丰"),
                "{kind}: {p}"
            );
        }
    }

    /// An A4 output `what` was recorded two-phase and printed.
    fn printed_as(&self, what: &str) {
        let results = self.journal("output.result");
        assert!(
            results
                .iter()
                .any(|e| e.to_string().contains(what) && e.to_string().contains("printed")),
            "two-phase A4 output {what} recorded: {results:?}"
        );
    }

    fn finish(self) {
        self.tour.finish("test", "").unwrap();
    }
}

fn step_until(name: &str, action: Option<Action>, expect: &str, until: &str) -> Step {
    Step {
        until: Some(until.into()),
        ..step(name, action, expect)
    }
}

fn has(labels: &[String], want: &str) -> bool {
    labels.iter().any(|l| l == want)
}

#[test]
fn the_ticket_journey_on_the_simulated_terminal() {
    by_card_with_people_ahead();
    printer_faults_void_the_number_and_take_the_service_off();
    by_appointment_once();
    card_faults_end_on_screens_that_say_what_to_do();
    idle_ends_the_session_and_tidies_up();
    in_english();
    centre_unreachable();
    the_guide_lists_prints_and_survives_a_paper_out();
    care_mode_reads_aloud_and_ends_with_the_session();
    id_copy_by_card_and_face();
    id_copy_by_fingerprint_when_the_face_does_not_match();
    id_copy_by_eid_code();
    apply_by_card_and_face();
    apply_offline_then_numbered_and_looked_up();
    query_by_case_number();
    licences_listed_printed_and_counted_at_the_centre();
    an_application_takes_an_e_licence_from_the_list();
    a_proof_issued_printed_and_checked_by_its_code();
}

fn by_card_with_people_ahead() {
    let mut r = Run::start("by-card", None);
    let mut steps = vec![step(
        "others",
        Some(Action::Queue {
            group: "huji".into(),
            others: 7,
        }),
        "attract",
    )];
    steps.extend(to_groups());
    steps.push(step("identify", group("huji"), "ticket-identify"));
    let labels = r.play(steps);
    assert!(
        has(&labels, "请将身份证放在读卡区"),
        "{labels:?}\n{}",
        r.recent()
    );
    // The reader and scanner blink while the citizen may use them (the session holds the
    // board, so the lights are read through the simulated pins).
    let rt = &r.tour.terminal.runtime;
    assert!(matches!(rt.holder("idcard"), Some(Owner::Flow(_))));
    assert!(matches!(rt.holder("board"), Some(Owner::Flow(_))));
    let edges = |pins: &Value, k: &str| pins[k]["edges"].as_u64().unwrap();
    let a = r.sim("board", "lights");
    std::thread::sleep(Duration::from_millis(1300));
    let b = r.sim("board", "lights");
    for blinking in ["idcard", "scanner"] {
        assert!(
            edges(&b, blinking) > edges(&a, blinking),
            "{blinking}: {a} → {b}"
        );
    }
    assert_eq!(edges(&a, "printer"), edges(&b, "printer"), "{a} → {b}");
    assert_eq!(b["printer"]["lit"], false);
    let labels = r.play(vec![step(
        "card",
        sim("idcard", "place", json!({"card": "resident"})),
        "ticket-taken",
    )]);
    assert!(has(&labels, "您的号码 A008"), "{labels:?}\n{}", r.recent());
    assert!(
        has(&labels, "户籍业务 · 前面还有 7 人"),
        "{labels:?}\n{}",
        r.recent()
    );
    // On paper: the ticket the printer confirmed.
    let receipts = r.sim("receipt", "receipts");
    let text = receipts.to_string();
    assert!(text.contains("A008") && text.contains("户籍业务"), "{text}");
    // At the centre: printed, with the masked card number for the window.
    r.centre_ticket("huji", "A008", TicketState::Printed);
    r.play(vec![step("home", Some(Action::AdvanceS(16)), "home")]);
    // The journal: a session, a two-phase output, the ticket — and no personal data.
    assert_eq!(r.journal("session.started").len(), 1);
    let ended = r.journal("session.ended");
    assert_eq!(ended[0]["fields"]["reason"], "done", "{ended:?}");
    let taken = r.journal("session.ticket.taken");
    assert_eq!(taken[0]["fields"]["number"], "A008");
    assert_eq!(taken[0]["fields"]["identified_by"], "id-card");
    assert_eq!(r.journal("output.intent").len(), 1);
    assert_eq!(r.journal("output.result")[0]["outcome"], "printed");
    // The heartbeat's usage counters: one citizen, one ticket, one print.
    let hb = r.tour.terminal.runtime.heartbeat("KSK-1", 0, 0);
    for (k, want) in [
        ("usage.users", 1),
        ("usage.tickets", 1),
        ("usage.prints", 1),
    ] {
        assert_eq!(
            hb.counters.get(k).copied(),
            Some(want),
            "{k}: {:?}",
            hb.counters
        );
    }
    let everything = r
        .tour
        .terminal
        .journal
        .lock()
        .events_like("", 10_000)
        .unwrap();
    let all = serde_json::to_string(&everything).unwrap();
    assert!(
        !all.contains("320583199001011232") && !all.contains("张三丰"),
        "personal data in the journal"
    );
    // The session's devices are free again, its lights dark.
    for d in ["idcard", "scanner", "receipt", "board"] {
        assert_eq!(r.tour.terminal.runtime.holder(d), None, "{d}");
    }
    r.lights_off();
    r.finish();
}

fn printer_faults_void_the_number_and_take_the_service_off() {
    for (fault, args, words) in [
        ("paper-left", json!({"dots": 120}), "凭条打印机缺纸"),
        (
            "cover-opens-after",
            json!({"dots": 120}),
            "凭条打印机仓门未关闭",
        ),
        ("jam-cutter", json!({}), "凭条打印机卡纸"),
    ] {
        let mut r = Run::start(fault, None);
        let mut steps = to_groups();
        steps.push(step("fault", sim("receipt", fault, args), "ticket-groups"));
        steps.push(step("print", group("shuiwu"), "ticket-problem"));
        let labels = r.play(steps);
        assert!(has(&labels, words), "{fault}: {labels:?}\n{}", r.recent());
        assert!(!has(&labels, "重试"), "no retry after a failed print");
        r.centre_ticket("shuiwu", "H001", TicketState::Void);
        // Home: the ticket service is off until the printer recovers.
        let mut home = step("home", touch("返回首页", "Back to home"), "home");
        home.until = Some("ticket-unavailable".into());
        let labels = r.play(vec![home]);
        assert!(
            has(&labels, "暂不可用：凭条打印机需要维护"),
            "{labels:?}\n{}",
            r.recent()
        );
        assert_eq!(r.journal("session.ticket.failed").len(), 1);
        let problem = &r.journal("session.ticket.failed")[0]["fields"]["problem"];
        assert!(problem.as_str().unwrap().starts_with("print-"), "{problem}");
        let repair = match fault {
            "paper-left" => "load-paper",
            "cover-opens-after" => "close-cover",
            _ => "clear-error",
        };
        let mut fixed = step("fixed", sim("receipt", repair, json!({})), "home");
        fixed.until = Some("ticket-available".into());
        r.play(vec![fixed]);
        r.lights_off();
        r.finish();
    }
}

fn by_appointment_once() {
    let mut r = Run::start("appointment", None);
    let mut steps = vec![step(
        "book",
        Some(Action::Book {
            group: "budongchan".into(),
            code: "YY{today}-0042".into(),
        }),
        "attract",
    )];
    steps.extend(to_groups());
    steps.push(step("identify", group("budongchan"), "ticket-identify"));
    steps.push(step(
        "scan",
        sim("scanner", "scan", json!({"text": "YY{today}-0042"})),
        "ticket-taken",
    ));
    let labels = r.play(steps);
    assert!(has(&labels, "您的号码 F001"), "{labels:?}\n{}", r.recent());
    assert_eq!(
        r.journal("session.ticket.taken")[0]["fields"]["identified_by"],
        "appointment"
    );
    let mut again = vec![step("done", touch("完成", "Done"), "home")];
    again.push(step(
        "groups",
        touch("取号", "Take a queue ticket"),
        "ticket-groups",
    ));
    again.push(step("identify", group("budongchan"), "ticket-identify"));
    again.push(step(
        "again",
        sim("scanner", "scan", json!({"text": "YY{today}-0042"})),
        "ticket-problem",
    ));
    let labels = r.play(again);
    assert!(
        has(&labels, "此预约已签到取号"),
        "{labels:?}\n{}",
        r.recent()
    );
    // Something that is not an appointment, and an appointment nobody booked.
    let mut more = vec![step("retry", touch("重试", "Try again"), "ticket-identify")];
    more.push(step(
        "url",
        sim("scanner", "scan", json!({"text": "https://zwfw.example/x"})),
        "ticket-problem",
    ));
    let labels = r.play(more);
    assert!(
        has(&labels, "此二维码不是预约码"),
        "{labels:?}\n{}",
        r.recent()
    );
    let mut unknown = vec![step("retry", touch("重试", "Try again"), "ticket-identify")];
    unknown.push(step(
        "unknown",
        sim("scanner", "scan", json!({"text": "YY{today}-9999"})),
        "ticket-problem",
    ));
    let labels = r.play(unknown);
    assert!(has(&labels, "未找到此预约"), "{labels:?}\n{}", r.recent());
    r.finish();
}

fn card_faults_end_on_screens_that_say_what_to_do() {
    let mut r = Run::start("card-faults", None);
    let mut steps = to_groups();
    steps.push(step("identify", group("huji"), "ticket-identify"));
    steps.push(step(
        "expired",
        sim("idcard", "place", json!({"card": "resident-expired"})),
        "ticket-problem",
    ));
    let labels = r.play(steps);
    assert!(
        has(&labels, "此身份证已于 2025-03-10 过期"),
        "{labels:?}\n{}",
        r.recent()
    );
    for (setup, what, words) in [
        (json!({"times": 2}), "moved", "读卡时证件被移动了"),
        (
            json!({"times": 1, "status": "unauthenticated"}),
            "unreadable",
            "无法读取此证件",
        ),
    ] {
        let steps = vec![
            step("lift", sim("idcard", "lift", json!({})), "ticket-problem"),
            step("retry", touch("重试", "Try again"), "ticket-identify"),
            step(
                "fault",
                sim("idcard", "fail-read", setup),
                "ticket-identify",
            ),
            step(
                what,
                sim("idcard", "place", json!({"card": "resident"})),
                "ticket-problem",
            ),
        ];
        let labels = r.play(steps);
        assert!(has(&labels, words), "{what}: {labels:?}\n{}", r.recent());
    }
    // After a problem, trying again with a good card gets the ticket.
    let steps = vec![
        step("lift", sim("idcard", "lift", json!({})), "ticket-problem"),
        step("retry", touch("重试", "Try again"), "ticket-identify"),
        step(
            "good",
            sim("idcard", "place", json!({"card": "resident"})),
            "ticket-taken",
        ),
    ];
    r.play(steps);
    r.finish();
}

fn idle_ends_the_session_and_tidies_up() {
    let mut r = Run::start("idle", None);
    let mut steps = to_groups();
    steps.push(step("identify", group("huji"), "ticket-identify"));
    let mut asking = step("asking", Some(Action::AdvanceS(65)), "ticket-identify");
    asking.until = Some("asking".into());
    steps.push(asking);
    let labels = r.play(steps);
    assert!(
        has(&labels, "为保护您的信息，本页面将在 15 秒后关闭。"),
        "{labels:?}"
    );
    r.play(vec![step("gone", Some(Action::AdvanceS(16)), "attract")]);
    // Someone stepping in front of the terminal wakes it.
    r.play(vec![step(
        "presence",
        sim("board", "presence", json!({"present": true})),
        "home",
    )]);
    let ended = r.journal("session.ended");
    assert_eq!(ended[0]["fields"]["reason"], "timed-out");
    assert_eq!(r.journal("session.timeout").len(), 1);
    for d in ["idcard", "scanner", "receipt", "board"] {
        assert_eq!(r.tour.terminal.runtime.holder(d), None, "{d}");
    }
    r.lights_off();
    // The wait for a card was stopped, not left running for the next citizen.
    let completes = r.journal("device.action.complete");
    let last = completes
        .iter()
        .rev()
        .find(|e| e["device"] == "idcard" && e["fields"]["action"] == "wait-card")
        .expect("a wait-card completion");
    assert_eq!(last["disposition"]["result"], "canceled", "{last}");
    r.finish();
}

fn in_english() {
    let mut r = Run::start("english", Some("en"));
    let mut steps = to_groups();
    steps.push(step("identify", group("shebao"), "ticket-identify"));
    let labels = r.play(steps);
    assert!(
        has(&labels, "Social insurance"),
        "{labels:?}\n{}",
        r.recent()
    );
    assert!(
        has(&labels, "Take a ticket without identifying"),
        "{labels:?}"
    );
    let labels = r.play(vec![step(
        "skip",
        touch("不核验身份，直接取号", "Take a ticket without identifying"),
        "ticket-taken",
    )]);
    assert!(
        has(&labels, "Your number C001"),
        "{labels:?}\n{}",
        r.recent()
    );
    assert!(
        has(&labels, "Social insurance · You are next"),
        "{labels:?}"
    );
    r.finish();
}

fn centre_unreachable() {
    // A hall centre of its own, with a published catalogue, that then goes away.
    let dir = tempfile::tempdir().unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let store = kiosk_central::SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = tokio
        .block_on(kiosk_central::CentreHandle::start("127.0.0.1:0", store))
        .unwrap();
    let key = SigningKey::generate(Algorithm::Ed25519);
    let body: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("config/hall-catalogue.json")).unwrap(),
    )
    .unwrap();
    let doc = SignedDocument::sign(DocumentKind::Catalogue, "all", 1, body, &key);
    let status = reqwest::blocking::Client::new()
        .put(format!("{}/api/v1/documents", centre.base_url()))
        .json(&doc)
        .send()
        .unwrap()
        .status();
    assert!(status.is_success());
    let mut cfg = sample_config("kiosk.sim.toml", dir.path());
    cfg.centre.url = Some(centre.base_url());
    cfg.centre.publisher_keys = vec![key.public_key().to_string()];
    cfg.centre.health_interval_s = 1;
    cfg.centre.request_timeout_s = 2;
    // No numbers in hand for the centre's absence (tests/offline_tickets.rs and the
    // ticket-offline tour cover issuing from them).
    cfg.journeys.ticket.offline_numbers = 0;
    let mut r = Run::with(cfg, "centre-down", None, dir);
    r.play(to_groups());
    tokio.block_on(centre.stop()).unwrap();
    let labels = r.play(vec![step("number", group("shuiwu"), "ticket-problem")]);
    assert!(has(&labels, "暂时无法取号"), "{labels:?}\n{}", r.recent());
    assert!(
        has(&labels, "重试"),
        "the centre may be back: try again is offered"
    );
    // Nothing was printed without a number.
    assert_eq!(r.sim("receipt", "stats")["receipts"], 0);
    let mut home = step("home", touch("返回首页", "Back to home"), "home");
    home.until = Some("ticket-unavailable".into());
    let labels = r.play(vec![home]);
    assert!(
        has(&labels, "暂不可用：排队系统无法连接"),
        "{labels:?}\n{}",
        r.recent()
    );
    r.finish();
}

/// The service guide: search by pinyin initials, the guide, a branch question, the material
/// list on screen and as a QR code, printed; then the paper runs out and the list stays.
fn the_guide_lists_prints_and_survives_a_paper_out() {
    let mut r = Run::start("guide", None);
    let labels = r.play(vec![
        step(
            "woken",
            touch("请触摸屏幕开始办理", "Touch the screen to start"),
            "home",
        ),
        step(
            "items",
            touch("办事指南", "Service guide and material lists"),
            "guide-items",
        ),
    ]);
    assert!(
        has(&labels, "户籍证明") && has(&labels, "个体工商户登记"),
        "{labels:?}"
    );
    let labels = r.play(vec![
        step_until("g", touch("G", "G"), "guide-items", "changed"),
        step_until("gj", touch("J", "J"), "guide-items", "changed"),
        step_until("gjj", touch("J", "J"), "guide-items", "changed"),
    ]);
    assert!(has(&labels, "公积金缴存证明"), "{labels:?}");
    assert!(!has(&labels, "户籍证明"), "{labels:?}");
    let labels = r.play(vec![
        step_until("cleared", touch("清空", "Clear"), "guide-items", "changed"),
        step(
            "guide",
            touch("户籍证明", "Household registration certificate"),
            "guide-item",
        ),
    ]);
    assert!(
        has(&labels, "设定依据: 《中华人民共和国户口登记条例》"),
        "{labels:?}"
    );
    let labels = r.play(vec![
        step(
            "purpose",
            touch("回答几个问题", "Answer a few questions"),
            "guide-question",
        ),
        step_until(
            "for-whom",
            touch("子女入学", "School enrolment"),
            "guide-question",
            "changed",
        ),
        step_until(
            "relation",
            touch("同户家庭成员", "A family member in my household"),
            "guide-question",
            "changed",
        ),
        step("materials", touch("配偶", "Spouse"), "guide-materials"),
    ]);
    assert!(
        has(&labels, "结婚证: 从您的电子证照中调取，无需携带"),
        "{labels:?}"
    );
    assert!(
        has(&labels, "本清单的二维码"),
        "the QR code is on screen: {labels:?}"
    );
    r.play(vec![step_until(
        "printed",
        touch("打印清单", "Print the list"),
        "guide-materials",
        "guide-printed",
    )]);
    assert_eq!(r.sim("receipt", "stats")["receipts"], 1);
    let printed = r.journal("output.result");
    assert!(
        printed
            .iter()
            .any(|e| e.to_string().contains("material-list")),
        "two-phase output recorded: {printed:?}"
    );
    let labels = r.play(vec![
        step(
            "paper-runs-out",
            sim("receipt", "paper-left", json!({ "dots": 120 })),
            "guide-materials",
        ),
        step(
            "print-fails",
            touch("再打印一份", "Print again"),
            "guide-problem",
        ),
    ]);
    assert!(has(&labels, "凭条打印机缺纸"), "{labels:?}");
    r.play(vec![
        step(
            "list-stays",
            touch("返回清单", "Back to the list"),
            "guide-materials",
        ),
        step("done", touch("完成", "Done"), "home"),
    ]);
    r.lights_off();
    r.finish();
}

/// Care mode: switched on at home, the page read aloud in Mandarin (a WAV beside the tour's
/// pictures, measured with sox: long enough and not silent), off when the session ends.
fn care_mode_reads_aloud_and_ends_with_the_session() {
    // No speech from an earlier run may stand in for this one's.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("journeys/care-mode");
    let _ = std::fs::remove_dir_all(&out);
    let mut r = Run::start("care-mode", None);
    r.play(vec![
        step(
            "woken",
            touch("请触摸屏幕开始办理", "Touch the screen to start"),
            "home",
        ),
        step_until("care-on", touch("关爱模式", "Care mode"), "home", "care"),
        step("read", touch("朗读", "Read aloud"), "home"),
    ]);
    let stat = |wav: &std::path::Path| -> Option<String> {
        std::process::Command::new("sox")
            .arg(wav)
            .args(["-n", "stat"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
    };
    let field = |stat: &str, name: &str| -> f64 {
        stat.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    // The label "朗读" is said first, then the page; the speaker says only the newest request,
    // so on a busy machine the label may never be written. The page is the long one.
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let long = std::fs::read_dir(&out)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| stat(&e.path()))
            .find(|s| field(s, "Length (seconds)") > 3.0);
        if let Some(s) = long {
            break s;
        }
        assert!(Instant::now() < deadline, "the page was not read aloud");
        std::thread::sleep(Duration::from_millis(100));
    };
    let field = |name: &str| field(&page, name);
    assert!(field("Length (seconds)") > 3.0, "{page}");
    assert!(field("RMS     amplitude") > 0.01, "silent: {page}");
    r.play(vec![
        step(
            "items",
            touch("办事指南", "Service guide and material lists"),
            "guide-items",
        ),
        step_until("home-care-off", touch("首页", "Home"), "home", "not-care"),
    ]);
    r.finish();
}

/// Wakes the terminal and opens the ID card copy's login.
fn to_login() -> Vec<Step> {
    vec![
        step(
            "woken",
            touch("请触摸屏幕开始办理", "Touch the screen to start"),
            "home",
        ),
        step(
            "login",
            touch("身份证复印", "Copy your ID card"),
            "identify-present",
        ),
    ]
}

/// The ID card copy: the card on the reader, consent, the face against the card photo, both
/// sides on the document camera, the use, the A4 print recorded two-phase; nothing personal
/// left in the journal unmasked, in the spool or on the lights.
fn id_copy_by_card_and_face() {
    let mut r = Run::start("id-copy", None);
    let labels = r.play(to_login());
    assert!(has(&labels, "或出示电子身份码"), "{labels:?}");
    let labels = r.play(vec![step(
        "card",
        sim("idcard", "place", json!({ "card": "resident" })),
        "identify-consent",
    )]);
    assert!(
        has(&labels, "改用指纹核验"),
        "face is never the only way: {labels:?}"
    );
    let labels = r.play(vec![step(
        "face",
        touch("同意，开始刷脸核验", "I agree, start the face check"),
        "idcopy-place",
    )]);
    assert!(has(&labels, "已核验：张**"), "{labels:?}");
    let identified = r.journal("session.identified");
    assert_eq!(identified.len(), 1, "{identified:?}");
    let text = identified[0].to_string();
    assert!(
        text.contains("id-card+face") && text.contains("3205**********1232"),
        "{text}"
    );
    let labels = r.play(vec![
        step_until(
            "no-card",
            touch("拍摄人像面", "Take the front"),
            "idcopy-place",
            "changed",
        ),
        step(
            "front",
            sim("docam", "card", json!({ "side": "front" })),
            "idcopy-place",
        ),
    ]);
    assert!(
        has(&labels, "拍摄区未找到证件，请平放在中间后重试。"),
        "{labels:?}"
    );
    let labels = r.play(vec![step_until(
        "front-taken",
        touch("拍摄人像面", "Take the front"),
        "idcopy-place",
        "changed",
    )]);
    assert!(has(&labels, "人像面已拍摄"), "{labels:?}");
    r.play(vec![
        step(
            "back",
            sim("docam", "card", json!({ "side": "back" })),
            "idcopy-place",
        ),
        step(
            "use",
            touch("拍摄国徽面", "Take the back"),
            "idcopy-purpose",
        ),
        step(
            "preview",
            touch(
                "仅供办理社保业务使用，他用无效",
                "For social insurance only",
            ),
            "idcopy-preview",
        ),
    ]);
    // A use the hall does not list, typed in pinyin on the on-screen keyboard.
    let labels = r.play(vec![
        step(
            "uses",
            touch("更改用途", "Change the use"),
            "idcopy-purpose",
        ),
        step(
            "another-use",
            touch("其他用途，请输入", "Another use: type it"),
            "idcopy-type-use",
        ),
        step_until(
            "pinyin",
            Some(Action::Type("hunyin".into())),
            "idcopy-type-use",
            "preedit:hunyin",
        ),
    ]);
    assert!(has(&labels, "婚姻"), "the engine's candidates: {labels:?}");
    let labels = r.play(vec![
        step_until(
            "word",
            touch("婚姻", "婚姻"),
            "idcopy-type-use",
            "typed:婚姻",
        ),
        step_until(
            "more",
            Some(Action::Type("dengji".into())),
            "idcopy-type-use",
            "preedit:dengji",
        ),
        step_until(
            "typed",
            touch("登记", "登记"),
            "idcopy-type-use",
            "typed:婚姻登记",
        ),
        step(
            "typed-use",
            touch("使用此用途", "Use this"),
            "idcopy-preview",
        ),
    ]);
    assert!(
        has(&labels, "用途：仅供婚姻登记使用，他用无效"),
        "{labels:?}"
    );
    r.play(vec![step(
        "printed",
        touch("打印复印件", "Print the copy"),
        "idcopy-printed",
    )]);
    let printed = r.journal("output.result");
    assert!(
        printed
            .iter()
            .any(|e| e.to_string().contains("id-copy") && e.to_string().contains("printed")),
        "two-phase A4 output recorded: {printed:?}"
    );
    // 好差评: the lowest level, a tag, and what went wrong typed in pinyin.
    r.play(vec![
        step(
            "rate",
            touch("非常不满意", "Very unsatisfied"),
            "rating-tags",
        ),
        step_until(
            "tag",
            touch("等待时间长", "Long wait"),
            "rating-tags",
            "changed",
        ),
        step("complaint", touch("下一步", "Next"), "rating-complaint"),
        step_until(
            "pinyin",
            Some(Action::Type("taiman".into())),
            "rating-complaint",
            "preedit:taiman",
        ),
        step_until(
            "word",
            touch("太慢", "太慢"),
            "rating-complaint",
            "typed:太慢",
        ),
        step(
            "thanks",
            touch("提交评价", "Submit the rating"),
            "rating-thanks",
        ),
    ]);
    let rated = r.journal("session.rated");
    assert_eq!(rated.len(), 1, "{rated:?}");
    assert_eq!(rated[0]["level"], 1);
    assert_eq!(rated[0]["tags"], json!(["slow"]));
    assert_eq!(rated[0]["complaint"], true);
    let sha = rated[0]["attachments"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let sealed = std::fs::read(
        r.tour
            .terminal
            .config
            .data_dir()
            .join("attachments")
            .join(&sha),
    )
    .unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains("太慢"),
        "the complaint is sealed at rest"
    );
    let store = kiosk_app::terminal::attachment_store(&r.tour.terminal.config).unwrap();
    assert_eq!(store.read(&sha).unwrap().as_slice(), "太慢".as_bytes());
    r.play(vec![step("done", touch("完成", "Done"), "home")]);
    r.lights_off();
    let spool = r.tour.terminal.config.data_dir().join("spool");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "the copy stayed in the spool: {left:?}");
    r.no_unmasked_identity();
    r.finish();
}

/// Someone else at the camera: the face fails twice and the finger on the EF01 module
/// confirms the card holder instead.
fn id_copy_by_fingerprint_when_the_face_does_not_match() {
    let mut r = Run::start("id-copy-fingerprint", None);
    r.play(to_login());
    r.play(vec![
        step(
            "someone-else",
            sim(
                "face",
                "show",
                json!({ "rgb": "{faces}/deepface_img3.jpg" }),
            ),
            "identify-present",
        ),
        step(
            "card",
            sim("idcard", "place", json!({ "card": "resident" })),
            "identify-consent",
        ),
        step(
            "face-fails",
            touch("同意，开始刷脸核验", "I agree, start the face check"),
            "identify-face-failed",
        ),
        step(
            "finger",
            touch("改用指纹核验", "Use fingerprint instead"),
            "identify-finger",
        ),
        step(
            "wrong-finger",
            sim(
                "fingerprint",
                "present",
                json!({ "finger": "someone-else#0" }),
            ),
            "identify-finger",
        ),
    ]);
    let labels = r.play(vec![step_until(
        "missed",
        None,
        "identify-finger",
        "finger-missed",
    )]);
    assert!(
        has(&labels, "指纹不一致，请再试：第 2 次，共 3 次"),
        "{labels:?}"
    );
    r.play(vec![step(
        "right-finger",
        sim(
            "fingerprint",
            "present",
            json!({ "finger": "320583199001011232#1" }),
        ),
        "idcopy-place",
    )]);
    let identified = r.journal("session.identified");
    assert!(
        identified[0].to_string().contains("id-card+fingerprint"),
        "{identified:?}"
    );
    r.play(vec![step("home", touch("首页", "Home"), "home")]);
    r.lights_off();
    r.no_unmasked_identity();
    r.finish();
}

/// The e-ID code from the sim issuer, checked offline against the key pool the embedded
/// centre published: expired refused with its reason, a fresh one identifies.
fn id_copy_by_eid_code() {
    let mut r = Run::start("id-copy-eid", None);
    r.play(to_login());
    let labels = r.play(vec![step(
        "expired",
        sim("scanner", "scan", json!({ "text": "{eid-expired}" })),
        "identify-problem",
    )]);
    assert!(has(&labels, "电子身份码已过期"), "{labels:?}");
    r.play(vec![
        step("again", touch("重试", "Try again"), "identify-present"),
        step(
            "fresh",
            sim("scanner", "scan", json!({ "text": "{eid}" })),
            "idcopy-place",
        ),
    ]);
    let identified = r.journal("session.identified");
    assert!(
        identified[0].to_string().contains("\"e-id\""),
        "{identified:?}"
    );
    r.play(vec![step("home", touch("首页", "Home"), "home")]);
    r.lights_off();
    r.no_unmasked_identity();
    r.finish();
}

/// The built-in tour `name`'s steps from `from` up to and including `to`.
fn tour_steps(name: &str, from: &str, to: &str) -> Vec<Step> {
    let text = tour::BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap();
    let steps = tour::parse(text).unwrap().steps;
    let a = steps.iter().position(|s| s.name == from).unwrap();
    let b = steps.iter().position(|s| s.name == to).unwrap();
    steps[a..=b].to_vec()
}

/// Applying for a household registration certificate after its guide: card and face, the
/// form, both card sides, the signature, filed in the journal with every part sealed, numbered
/// by the centre, found there by number and password, the application PDF read back, the
/// receipt printed, and the rating naming the case.
fn apply_by_card_and_face() {
    let mut r = Run::start("apply", None);
    let labels = r.play(tour_steps("apply", "home", "materials"));
    assert!(has(&labels, "在本机申请"), "{labels:?}");
    let labels = r.play(tour_steps("apply", "login", "name-prefilled"));
    assert!(
        has(&labels, "已根据身份证自动填写，如有误请修改。"),
        "{labels:?}"
    );
    let labels = r.play(tour_steps("apply", "id-number-prefilled", "mobile-refused"));
    assert!(has(&labels, "手机号码不正确"), "{labels:?}");
    let labels = r.play(tour_steps("apply", "mobile-typed", "both-taken"));
    assert!(has(&labels, "删除第 2 页"), "{labels:?}");
    let labels = r.play(tour_steps("apply", "review", "review"));
    assert!(
        has(&labels, "联系电话: 138****5678"),
        "masked on review: {labels:?}"
    );
    assert!(has(&labels, "申请人姓名: 张**"), "{labels:?}");
    r.play(tour_steps("apply", "sign-pad", "submitted"));
    let view = r.tour.terminal.host.view();
    let a = view.apply.clone().expect("the application's view");
    assert!(a.numbered, "the embedded centre numbered it");
    assert_eq!(a.number.len(), 14, "{}", a.number);
    assert_eq!(a.password.0.len(), 6);

    // One journal record refers to every part; nothing personal in it in the clear.
    let filed = r.journal("case.submitted");
    assert_eq!(filed.len(), 1, "{filed:?}");
    let text = filed[0].to_string();
    for secret in ["张三丰", "320583199001011232", "13812345678", &a.password.0] {
        assert!(
            !text.contains(secret),
            "{secret} in the journal record: {text}"
        );
    }
    assert_eq!(filed[0]["holder"], "3205**********1232");
    let refs = filed[0]["attachments"].as_array().unwrap().clone();
    assert_eq!(
        refs.len(),
        6,
        "form, PDF, signature, strokes, two pages: {refs:?}"
    );
    let store = kiosk_app::terminal::attachment_store(&r.tour.terminal.config).unwrap();
    let pdf = refs
        .iter()
        .find(|x| x["media_type"] == "application/pdf")
        .unwrap();
    let pdf = store.read(pdf["sha256"].as_str().unwrap()).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    assert_eq!(doc.get_pages().len(), 3, "the form page and both sides");
    let strokes = refs
        .iter()
        .find(|x| x["media_type"] == "application/vnd.hallkit.ink+json")
        .unwrap();
    let strokes: Value =
        serde_json::from_slice(&store.read(strokes["sha256"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(
        strokes["strokes"].as_array().unwrap().len(),
        3,
        "three strokes kept"
    );
    assert!(
        strokes["strokes"][0][1]["t_ms"].as_u64().unwrap() > 0,
        "with their times"
    );

    // The centre has the case; the number and password open it, a wrong password does not.
    let c = r.tour.terminal.centre.clone();
    let lookup = |password: &str| {
        let c = c.clone();
        let req = kiosk_protocol::cases::CaseLookup {
            reference: a.number.clone(),
            password: password.into(),
        };
        r.tour
            .terminal
            .handle()
            .block_on(async move { c.lookup_case(&req).await })
    };
    let case = lookup(&a.password.0).expect("the case at the centre");
    assert_eq!(case.item, "huji-zhengming");
    assert_eq!(case.status, kiosk_protocol::cases::CaseStatus::Submitted);
    assert!(lookup("000000").is_err());

    let labels = r.play(tour_steps("apply", "receipt", "receipt"));
    assert!(has(&labels, "再打印一份回执"), "{labels:?}");
    let receipt = r.sim("receipt", "receipts").to_string();
    assert!(receipt.contains(&a.number), "{receipt}");
    r.play(tour_steps("apply", "rated", "done"));
    let rated = r.journal("session.rated");
    assert_eq!(rated.len(), 1, "{rated:?}");
    assert_eq!(rated[0]["case"], a.number.as_str());
    r.lights_off();
    r.no_unmasked_identity();
    r.finish();
}

/// The hall's link down while a citizen applies: filed under the terminal's reference with
/// the receipt saying so; the link back, the journal record numbers the case at the centre,
/// and the reference and password open it.
fn apply_offline_then_numbered_and_looked_up() {
    let mut r = Run::start("apply-offline", None);
    r.play(tour_steps("apply-offline", "home", "submitted-offline"));
    let a = r
        .tour
        .terminal
        .host
        .view()
        .apply
        .expect("the application's view");
    assert!(!a.numbered, "no centre, no number");
    assert_eq!(a.number.len(), 16, "the terminal's reference: {}", a.number);
    r.play(tour_steps("apply-offline", "receipt", "receipt"));
    let receipt = r.sim("receipt", "receipts").to_string();
    assert!(receipt.contains(&a.number), "{receipt}");
    r.play(tour_steps("apply-offline", "done", "password-typed"));
    let labels = r.play(tour_steps("apply-offline", "numbered", "numbered"));
    let view = r.tour.terminal.host.view();
    let case = view.cases.first().expect("the case found").clone();
    assert_eq!(case.local_ref, a.number);
    assert_eq!(
        case.case_number.len(),
        14,
        "numbered by the centre from the journal"
    );
    assert!(
        has(&labels, &format!("办件编号 {}", case.case_number)),
        "{labels:?}"
    );
    r.play(tour_steps("apply-offline", "finished", "finished"));
    r.no_unmasked_identity();
    r.finish();
}

/// A case filed at a window and moved on by the department, looked up without an ID card:
/// a wrong password is no case, the right one shows the log with the comment; the slip prints.
fn query_by_case_number() {
    let mut r = Run::start("query-by-case-number", None);
    let labels = r.play(tour_steps(
        "query-by-case-number",
        "filed-at-a-window",
        "not-found",
    ));
    assert!(has(&labels, "没有查到该编号和密码对应的办件"), "{labels:?}");
    let labels = r.play(tour_steps("query-by-case-number", "again", "case"));
    assert!(
        labels
            .iter()
            .any(|l| l.contains("签注已完成，请凭身份证到3号窗口领取居住证")),
        "the department's comment: {labels:?}"
    );
    r.play(tour_steps("query-by-case-number", "slip", "slip"));
    let slip = r.sim("receipt", "receipts").to_string();
    assert!(slip.contains("已办结"), "{slip}");
    r.play(tour_steps("query-by-case-number", "done", "done"));
    r.finish();
}

/// The citizen's e-licences from the centre's library after card and face: one opened as its
/// A4 print-out, printed two-phase, recorded in the journal, counted at the centre once synced
/// and shown as printed before on the list.
fn licences_listed_printed_and_counted_at_the_centre() {
    let mut r = Run::start("licences", None);
    let labels = r.play(tour_steps("licences", "home", "list"));
    for name in ["居民户口簿", "结婚证", "不动产权证书", "机动车驾驶证"] {
        assert!(has(&labels, name), "{name}: {labels:?}");
    }
    let labels = r.play(tour_steps("licences", "preview", "preview"));
    assert!(has(&labels, "此前未打印过。"), "{labels:?}");
    r.play(tour_steps("licences", "printed", "printed"));
    r.printed_as("licence");
    let prints = r.journal("licence.printed");
    assert_eq!(prints.len(), 1, "{prints:?}");
    assert!(!prints[0].to_string().contains("320583199001011232"));
    let labels = r.play(tour_steps("licences", "list-again", "list-again"));
    assert!(has(&labels, "已打印 1 次"), "{labels:?}");
    r.play(vec![step("synced", Some(Action::Sync), "papers-list")]);
    let store = kiosk_central::SqliteStore::open(
        &r.tour
            .terminal
            .config
            .data_dir()
            .join("central")
            .join("central.db"),
    )
    .unwrap();
    let holder = kiosk_protocol::cases::holder_sha256("320583199001011232");
    let counted = store.licences_of(&holder).unwrap();
    let marriage = counted
        .iter()
        .find(|l| l.licence_type == "marriage-certificate")
        .unwrap();
    assert_eq!(
        marriage.printed, 1,
        "the centre counted the print: {counted:?}"
    );
    r.play(tour_steps("licences", "done", "done"));
    r.no_unmasked_identity();
    r.finish();
}

/// An application whose answers ask for the property certificate: taken from the citizen's
/// licence list (the optional social insurance record is not there), its print-out inside the
/// application PDF after the form and the photographed permit, the address from the card.
fn an_application_takes_an_e_licence_from_the_list() {
    let mut r = Run::start("apply-with-e-licence", None);
    r.play(tour_steps(
        "apply-with-e-licence",
        "home",
        "address-prefilled",
    ));
    let typed = r.tour.terminal.host.view().typing.clone().unwrap().text;
    assert!(typed.contains("前进西路"), "the card's address: {typed}");
    let labels = r.play(tour_steps("apply-with-e-licence", "arrived", "licences"));
    assert!(has(&labels, "不动产权证书"), "{labels:?}");
    assert!(has(&labels, "✓ 已调取"), "{labels:?}");
    assert!(
        has(&labels, "您的电子证照中没有此证照（选交）"),
        "{labels:?}"
    );
    r.play(tour_steps("apply-with-e-licence", "review", "submitted"));
    let filed = r.journal("case.submitted");
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert_eq!(filed[0]["elicences"], 1);
    let store = kiosk_app::terminal::attachment_store(&r.tour.terminal.config).unwrap();
    let refs = filed[0]["attachments"].as_array().unwrap().clone();
    let pdf = refs
        .iter()
        .find(|x| x["media_type"] == "application/pdf")
        .unwrap();
    let pdf = store.read(pdf["sha256"].as_str().unwrap()).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    assert_eq!(
        doc.get_pages().len(),
        3,
        "the form, the permit, the property certificate's print-out"
    );
    let form = refs
        .iter()
        .find(|x| x["media_type"] == "application/json")
        .unwrap();
    let form: Value =
        serde_json::from_slice(&store.read(form["sha256"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(form["elicences"][0]["licence_type"], "property-certificate");
    r.play(tour_steps("apply-with-e-licence", "done", "done"));
    r.no_unmasked_identity();
    r.finish();
}

/// A proof from the guide: the records period, the centre issues it (numbered, with a check
/// code), the A4 paper printed two-phase; the proof checks at the centre by number and code.
fn a_proof_issued_printed_and_checked_by_its_code() {
    let mut r = Run::start("proof", None);
    let labels = r.play(tour_steps("proof", "home", "materials"));
    assert!(has(&labels, "在本机打印"), "{labels:?}");
    let labels = r.play(tour_steps("proof", "login", "preview"));
    assert!(has(&labels, "社会保险参保缴费证明"), "{labels:?}");
    r.play(tour_steps("proof", "printed", "printed"));
    r.printed_as("proof");
    let db = r
        .tour
        .terminal
        .config
        .data_dir()
        .join("central")
        .join("central.db");
    let store = kiosk_central::SqliteStore::open(&db).unwrap();
    let (number, code, rows) = store
        .with(|c| {
            c.query_row(
                "SELECT proof_number, check_code, body FROM proofs",
                [],
                |row| {
                    let body: String = row.get(2)?;
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, body))
                },
            )
        })
        .unwrap();
    let proof: kiosk_protocol::documents::Proof = serde_json::from_str(&rows).unwrap();
    assert_eq!(proof.data.rows.len(), 12, "the period chosen");
    let checked = store.check_proof(&number, &code).unwrap().unwrap();
    assert_eq!(checked.digest, proof.digest());
    r.play(tour_steps("proof", "done", "done"));
    r.no_unmasked_identity();
    r.finish();
}

#[test]
fn built_in_tours_parse() {
    for (name, text) in tour::BUILT_IN {
        tour::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
