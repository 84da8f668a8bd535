//! The service guide as a state machine on the sample catalogue: finding, reading, answering
//! (branches open and close), the material list, printing and its faults.

use super::*;

fn sample() -> Catalogue {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json");
    Catalogue::from_json(&serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()).unwrap()
}

fn run(c: &Catalogue, can_print: bool, inputs: Vec<Input>) -> (Stage, Vec<Effect>) {
    let ctx = Context {
        catalogue: Some(c),
        can_print,
        can_apply: true,
        can_prove: false,
    };
    let (mut stage, mut all) = start(&ctx);
    for i in inputs {
        let (s, fx) = step(&stage, i, &ctx);
        stage = s;
        all.extend(fx);
    }
    (stage, all)
}

fn choose(a: &str) -> Input {
    Input::Choose(a.into())
}

fn answers(pairs: &[(&str, &[&str])]) -> Answers {
    pairs
        .iter()
        .map(|(q, a)| (q.to_string(), a.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[test]
fn the_guide_starts_on_the_common_items_and_searches_as_typed() {
    let c = sample();
    let (stage, _) = run(&c, true, vec![]);
    assert_eq!(
        stage,
        Stage::Items {
            shelf: Shelf::Common,
            query: String::new()
        }
    );
    let (stage, _) = run(
        &c,
        true,
        vec![
            Input::Type('H'),
            Input::Type('j'),
            Input::Type('x'),
            Input::Erase,
            Input::Shelf(Shelf::Category(Category::QueryPrint)),
        ],
    );
    assert_eq!(
        stage,
        Stage::Items {
            shelf: Shelf::Category(Category::QueryPrint),
            query: "hj".into()
        },
        "lower-cased, erased, and the query survives a shelf change"
    );
    let long: Vec<Input> = std::iter::repeat_n(Input::Type('a'), MAX_QUERY + 5).collect();
    let (stage, _) = run(&c, true, long);
    assert!(matches!(stage, Stage::Items { query, .. } if query.len() == MAX_QUERY));
}

#[test]
fn a_branch_question_opens_and_the_material_list_follows_the_answers() {
    let c = sample();
    let (stage, _) = run(
        &c,
        true,
        vec![
            Input::Open("huji-zhengming".into()),
            Input::Begin,
            choose("school"),
            choose("family"),
        ],
    );
    assert_eq!(
        stage,
        Stage::Question {
            item: "huji-zhengming".into(),
            answers: answers(&[("purpose", &["school"]), ("for_whom", &["family"])]),
            at: 2
        },
        "the relation question opened"
    );
    let (stage, _) = run(
        &c,
        true,
        vec![
            Input::Open("huji-zhengming".into()),
            Input::Begin,
            choose("school"),
            choose("family"),
            choose("child"),
        ],
    );
    let Stage::Materials { answers: a, .. } = &stage else {
        panic!("{stage:?}");
    };
    let plan = c.item("huji-zhengming").unwrap().plan(a).unwrap();
    assert!(plan.materials.contains(&"birth-certificate".to_string()));
    // Back to the second question and a different answer closes the branch.
    let (stage, _) = run(
        &c,
        true,
        vec![
            Input::Open("huji-zhengming".into()),
            Input::Begin,
            choose("school"),
            choose("family"),
            choose("child"),
            Input::Back,
            Input::Back,
            choose("self"),
        ],
    );
    let Stage::Materials { answers: a, .. } = &stage else {
        panic!("{stage:?}");
    };
    assert_eq!(
        a,
        &answers(&[("purpose", &["school"]), ("for_whom", &["self"])])
    );
}

#[test]
fn multiple_choice_toggles_and_an_optional_question_can_be_passed() {
    let c = sample();
    let to_extra = vec![
        Input::Open("juzhuzheng-qianzhu".into()),
        Input::Begin,
        choose("yes"),
        choose("rent"),
    ];
    let (stage, _) = run(
        &c,
        true,
        [
            to_extra.clone(),
            vec![choose("social"), choose("contract"), choose("social")],
        ]
        .concat(),
    );
    assert!(
        matches!(&stage, Stage::Question { answers, at: 2, .. } if answers["extra"].len() == 1),
        "{stage:?}"
    );
    let (stage, _) = run(&c, true, [to_extra, vec![Input::Next]].concat());
    assert!(matches!(stage, Stage::Materials { .. }), "optional: passed");
    // A required question cannot be passed unanswered.
    let (stage, _) = run(
        &c,
        true,
        vec![
            Input::Open("huji-zhengming".into()),
            Input::Begin,
            Input::Next,
        ],
    );
    assert!(matches!(stage, Stage::Question { at: 0, .. }));
}

#[test]
fn printing_the_list_and_every_print_fault() {
    let c = sample();
    let to_list = vec![
        Input::Open("gongjijin-jiaocun-zhengming".into()),
        Input::Begin,
        choose("loan"),
    ];
    let (stage, fx) = run(&c, true, [to_list.clone(), vec![Input::Print]].concat());
    assert!(matches!(stage, Stage::Printing { .. }));
    assert!(
        matches!(&fx[..], [Effect::Print { item, .. }] if item == "gongjijin-jiaocun-zhengming")
    );
    let (stage, fx) = run(
        &c,
        true,
        [
            to_list.clone(),
            vec![Input::Print, Input::Printed(Ok(())), Input::Done],
        ]
        .concat(),
    );
    assert!(matches!(stage, Stage::Materials { printed: true, .. }));
    assert_eq!(
        fx.last(),
        Some(&Effect::Finish(Outcome::Listed {
            item: "gongjijin-jiaocun-zhengming".into(),
            printed: true
        }))
    );
    for p in [
        PrintProblem::PaperOut,
        PrintProblem::CoverOpen,
        PrintProblem::CutterJam,
        PrintProblem::Fault("x".into()),
        PrintProblem::Busy("admin".into()),
        PrintProblem::Journal("disk".into()),
    ] {
        let (stage, _) = run(
            &c,
            true,
            [
                to_list.clone(),
                vec![Input::Print, Input::Printed(Err(p.clone()))],
            ]
            .concat(),
        );
        assert!(matches!(&stage, Stage::Problem { problem: Problem::Print(q), .. } if *q == p));
        let ctx = Context {
            catalogue: Some(&c),
            can_print: true,
            can_apply: true,
            can_prove: false,
        };
        let (back, _) = step(&stage, Input::Back, &ctx);
        assert!(
            matches!(back, Stage::Materials { printed: false, .. }),
            "the list stays"
        );
        let (again, fx) = step(&stage, Input::Retry, &ctx);
        assert!(matches!(again, Stage::Printing { .. }));
        assert_eq!(fx.len(), 1);
        let (_, fx) = step(&stage, Input::Cancel, &ctx);
        assert_eq!(fx, vec![Effect::Finish(Outcome::Left)]);
    }
    // Without a printer the button does nothing; the list is on screen and as a QR code.
    let (stage, fx) = run(&c, false, [to_list, vec![Input::Print]].concat());
    assert!(matches!(stage, Stage::Materials { .. }));
    assert!(fx.is_empty());
}

#[test]
fn a_print_in_progress_is_not_abandoned_and_every_other_screen_leads_out() {
    let c = sample();
    let ctx = Context {
        catalogue: Some(&c),
        can_print: true,
        can_apply: true,
        can_prove: false,
    };
    let printing = Stage::Printing {
        item: "gongjijin-jiaocun-zhengming".into(),
        answers: Answers::new(),
    };
    assert_eq!(
        step(&printing, Input::Cancel, &ctx),
        (printing.clone(), Vec::new())
    );
    for path in [
        vec![],
        vec![Input::Open("huji-zhengming".into())],
        vec![Input::Open("huji-zhengming".into()), Input::Begin],
    ] {
        let (stage, _) = run(&c, true, path);
        let (_, fx) = step(&stage, Input::Cancel, &ctx);
        assert_eq!(fx, vec![Effect::Finish(Outcome::Left)], "{stage:?}");
    }
}

#[test]
fn no_items_is_a_problem_screen_not_an_empty_list() {
    let c =
        Catalogue::from_json(&serde_json::json!({"hall": {"id": "ks", "name": {"zh-CN": "昆山"}}}))
            .unwrap();
    let (stage, _) = run(&c, true, vec![]);
    assert!(matches!(
        stage,
        Stage::Problem {
            problem: Problem::NoItems,
            ..
        }
    ));
    let ctx = Context {
        catalogue: None,
        can_print: true,
        can_apply: true,
        can_prove: false,
    };
    let (stage, _) = start(&ctx);
    let (_, fx) = step(&stage, Input::Back, &ctx);
    assert_eq!(fx, vec![Effect::Finish(Outcome::Left)]);
}

#[test]
fn unknown_items_and_answers_change_nothing() {
    let c = sample();
    let (stage, _) = run(&c, true, vec![Input::Open("nope".into())]);
    assert!(matches!(stage, Stage::Items { .. }));
    let (stage, _) = run(
        &c,
        true,
        vec![
            Input::Open("huji-zhengming".into()),
            Input::Begin,
            choose("nope"),
        ],
    );
    assert!(matches!(stage, Stage::Question { at: 0, ref answers, .. } if answers.is_empty()));
}
