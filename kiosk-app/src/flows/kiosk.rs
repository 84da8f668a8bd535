//! The kiosk around its journeys, as a pure state machine: the attract screen until someone
//! touches it or stands in front of it, the home screen with the services this terminal
//! offers, a journey (one citizen session), the staff entry to the device status, help and the
//! language switch, and the idle countdown that ends a forgotten session.

use std::time::Duration;

use zeroize::Zeroizing;

use super::admin;
use super::apply;
use super::guide;
use super::idcopy;
use super::idle::{Idle, IdleState};
use super::papers;
use super::query;
use super::session::EndReason;
use super::ticket;
use crate::config::IdleConfig;

/// A journey offered on the home screen, and whether it can be used now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    pub available: bool,
    /// Why not, when it is not (`printer`, `centre`, `catalogue`).
    pub why: Option<Unavailable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The receipt printer is not working (out of paper, cover open, offline …).
    Printer,
    /// The central service cannot be reached.
    Centre,
    /// No service groups have arrived from the centre.
    Catalogue,
    /// A device the journey needs is held by the technician or a remote command.
    Busy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Attract,
    Home,
    Ticket(ticket::Stage),
    Guide(guide::Stage),
    IdCopy(idcopy::Stage),
    Apply(apply::Stage),
    Query(query::Stage),
    Papers(papers::Stage),
    StaffPin,
    /// The technicians' admin mode, on one of its pages.
    Admin(admin::Stage),
}

impl Screen {
    pub fn name(&self) -> &'static str {
        match self {
            Screen::Attract => "attract",
            Screen::Home => "home",
            Screen::Ticket(s) => s.screen(),
            Screen::Guide(s) => s.screen(),
            Screen::IdCopy(s) => s.screen(),
            Screen::Apply(s) => s.screen(),
            Screen::Query(s) => s.screen(),
            Screen::Papers(s) => s.screen(),
            Screen::StaffPin => "staff-pin",
            Screen::Admin(s) => s.page.screen(),
        }
    }

    /// A citizen's journey is on this screen (their data may show).
    pub fn is_journey(&self) -> bool {
        matches!(
            self,
            Screen::Ticket(_)
                | Screen::Guide(_)
                | Screen::IdCopy(_)
                | Screen::Apply(_)
                | Screen::Query(_)
                | Screen::Papers(_)
        )
    }

    /// Screens where the citizen waits for the terminal: no "Still there?" then.
    fn waits_for_the_terminal(&self) -> bool {
        matches!(
            self,
            Screen::Attract
                | Screen::Ticket(
                    ticket::Stage::Numbering { .. }
                        | ticket::Stage::Printing { .. }
                        | ticket::Stage::Taken { .. }
                )
                | Screen::Guide(guide::Stage::Printing { .. })
                | Screen::Admin(admin::Stage {
                    running: Some(_),
                    ..
                })
                | Screen::IdCopy(
                    idcopy::Stage::Capturing { .. }
                        | idcopy::Stage::Composing { .. }
                        | idcopy::Stage::Printing { .. }
                        | idcopy::Stage::Login(super::identify::Stage::Face { .. })
                )
        ) || matches!(self, Screen::Apply(s) if s.waits())
            || matches!(self, Screen::Query(s) if s.waits())
            || matches!(self, Screen::Papers(s) if s.waits())
    }
}

/// The staff pad: a technician's staff number, then their PIN (only the PIN when the terminal
/// has just the shared PIN). The digits typed so far are wiped when dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinPad {
    digits: Zeroizing<String>,
    /// The staff number confirmed with OK, or the staff badge's holder (empty for a badge
    /// no technician has); the pad now takes the PIN.
    staff_no: Option<String>,
    /// The staff number came from a badge on the reader: it is not shown.
    pub by_card: bool,
    /// The last card on the reader is not a staff badge (a citizen's card, say).
    pub not_a_badge: bool,
    pub wrong: bool,
    /// The last refusal followed a badge (the pad says "staff card or PIN").
    pub wrong_card: bool,
    failures: u32,
    /// Locked after five wrong PINs, until this time on the terminal's clock.
    pub locked_until: Option<Duration>,
}

impl PinPad {
    pub fn len(&self) -> usize {
        self.digits.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }

    /// The pad asks for a staff number now (not a PIN).
    pub fn asks_number(&self, personal: bool) -> bool {
        personal && self.staff_no.is_none()
    }

    /// The staff number as typed or confirmed (a staff number is not a secret; it shows). A
    /// badge's holder is not shown: that would tell which badges are known before the PIN.
    pub fn staff_number(&self, personal: bool) -> &str {
        match &self.staff_no {
            Some(_) if self.by_card => "",
            Some(n) => n,
            None if personal => &self.digits,
            None => "",
        }
    }
}

/// How a technician tried the staff pad, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffWay {
    /// The terminal's shared `ui.staff_pin` (no technicians configured).
    SharedPin,
    /// A staff number typed, then the PIN.
    StaffNumber,
    /// A staff badge on the IC card reader, then the PIN.
    StaffCard,
}

impl StaffWay {
    pub fn audit_name(self) -> &'static str {
        match self {
            StaffWay::SharedPin => "staff-pin",
            StaffWay::StaffNumber => "staff-number",
            StaffWay::StaffCard => "staff-card",
        }
    }
}

/// Wrong PINs before the pad locks, and for how long.
pub const PIN_TRIES: u32 = 5;
pub const PIN_LOCK: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct Kiosk {
    pub screen: Screen,
    pub help: bool,
    pub english: bool,
    /// Care mode (关爱模式): larger text and targets, high contrast, read-aloud. Off again when
    /// the citizen's session ends.
    pub care: bool,
    pub pin: PinPad,
    /// Seconds left on "Still there?", when it shows.
    pub asking: Option<u32>,
    idle: Idle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A touch on the attract screen, or someone in front of the presence sensor.
    Wake,
    /// Any touch on the screen (it only restarts the idle countdown).
    Touch,
    Start(String),
    Journey(ticket::Input),
    Guide(guide::Input),
    IdCopy(idcopy::Input),
    Apply(apply::Input),
    Query(query::Input),
    Papers(papers::Input),
    /// "Back", "Try again" and "Done" as the screen's buttons say them, for whichever
    /// journey is showing.
    Back,
    Retry,
    Done,
    /// "Print" on whichever journey's screen shows it.
    Print,
    /// "Next" on whichever journey's screen shows it.
    Next,
    /// A tap on the on-screen keyboard (the host keeps the text).
    Type(super::host::typing::Tap),
    /// A stroke finished on the signature pad (the host keeps the strokes).
    Ink(Vec<crate::services::apply::ink::InkPoint>),
    Help(bool),
    ToggleLanguage,
    ToggleCare,
    /// "Continue" on "Still there?".
    Continue,
    /// Back to the home screen from wherever (a journey is left).
    Home,
    StaffEntry,
    StaffDigit(char),
    StaffDelete,
    StaffSubmit,
    /// A card on the IC card reader while the pad is open: a staff badge's UID (hex), or
    /// None when the card is not a badge.
    StaffCard(Option<String>),
    /// A tab, a test or an action on the admin mode's pages.
    Admin(admin::Input),
    /// Time passed.
    Tick,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A citizen's session begins for `journey`: claim its devices.
    StartSession(&'static str),
    /// The session ends: release its devices and wipe what it held.
    EndSession(EndReason),
    Journey(ticket::Effect),
    Guide(guide::Effect),
    IdCopy(idcopy::Effect),
    Apply(apply::Effect),
    Query(query::Effect),
    Papers(papers::Effect),
    /// The guide handed over to a proof for `item` with `answers`: the host prepares it and
    /// starts the `proof` journey.
    BeginProof {
        item: String,
        answers: crate::services::catalogue::Answers,
    },
    /// The guide handed over to an application for `item` with `answers`: the host prepares
    /// it and starts the `apply` journey.
    BeginApply {
        item: String,
        answers: crate::services::catalogue::Answers,
    },
    /// What staff did at the staff pad, for the audit log (and the lock, kept across restarts).
    Staff(StaffEffect),
}

/// The staff pad's auditable moments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffEffect {
    /// The right credential: the staff screens are open.
    Entered(crate::services::technicians::Opener, StaffWay),
    /// The staff screens closed (home, timeout).
    Left,
    /// A wrong staff number, badge or PIN; `tries_left` before the lock. `staff_no` is the
    /// number typed or the badge's holder (None for a badge no technician has).
    Refused {
        tries_left: u32,
        staff_no: Option<String>,
        way: StaffWay,
    },
    /// Too many wrong PINs: locked for `for_` from now.
    Locked { for_: Duration, way: StaffWay },
    /// Something the technician did in admin mode (the host runs it and audits it).
    Admin(admin::Effect),
}

/// What the kiosk knows when it steps.
pub struct Context<'a> {
    /// The terminal's clock (`elapsed`).
    pub now: Duration,
    pub idle: &'a IdleConfig,
    pub staff: &'a crate::services::technicians::Credentials,
    pub offers: &'a [Offer],
    pub ticket: ticket::Context<'a>,
    pub guide: guide::Context<'a>,
    pub idcopy: idcopy::Context,
    /// The application the host prepared, when one is about to start or running.
    pub apply: Option<apply::Context>,
    pub query: query::Context,
    /// The papers journey as the host prepared it (the licence list, or a proof).
    pub papers: papers::Context,
    pub default_english: bool,
}

impl Kiosk {
    pub fn new(now: Duration, english: bool) -> Kiosk {
        Kiosk {
            screen: Screen::Attract,
            help: false,
            english,
            care: false,
            pin: PinPad::default(),
            asking: None,
            idle: Idle::new(now),
        }
    }

    /// Whether a journey (a citizen's session) is running.
    pub fn in_journey(&self) -> bool {
        self.screen.is_journey()
    }

    /// One step.
    pub fn step(&mut self, input: Input, ctx: &Context<'_>) -> Vec<Effect> {
        let was_staff = self.in_admin();
        let mut fx = self.step_inner(input, ctx);
        if was_staff && !self.in_admin() {
            fx.push(Effect::Staff(StaffEffect::Left));
        }
        fx
    }

    /// The admin mode is open.
    pub fn in_admin(&self) -> bool {
        matches!(self.screen, Screen::Admin(_))
    }

    /// A lock kept from before a restart: `left` of it remains.
    pub fn restore_staff_lock(&mut self, now: Duration, left: Duration) {
        if !left.is_zero() {
            self.pin.locked_until = Some(now + left);
        }
    }

    fn step_inner(&mut self, input: Input, ctx: &Context<'_>) -> Vec<Effect> {
        let mut fx = Vec::new();
        if !matches!(input, Input::Tick) {
            self.idle.touch(ctx.now);
            self.asking = None;
        }
        match input {
            Input::Tick => self.tick(ctx, &mut fx),
            Input::Wake => {
                if self.screen == Screen::Attract {
                    self.go(Screen::Home, ctx);
                }
            }
            Input::Touch | Input::Continue | Input::Type(_) | Input::Ink(_) => {}
            Input::Next => match &self.screen {
                Screen::Guide(stage) => {
                    let (stage, gfx) = guide::step(stage, guide::Input::Next, &ctx.guide);
                    self.enter_guide(stage, gfx, ctx, &mut fx);
                }
                Screen::IdCopy(stage @ idcopy::Stage::Rating(_)) => {
                    let next = idcopy::Input::Rating(super::rating::Input::Next);
                    let (stage, cfx) = idcopy::step(stage, next, &ctx.idcopy);
                    self.enter_idcopy(stage, cfx, ctx, &mut fx);
                }
                Screen::Apply(_) => self.apply(apply::Input::Next, ctx, &mut fx),
                Screen::Query(_) => self.query(query::Input::Next, ctx, &mut fx),
                _ => {}
            },
            Input::Help(on) => self.help = on,
            Input::ToggleLanguage => self.english = !self.english,
            Input::ToggleCare => self.care = !self.care,
            Input::Start(j) => {
                let offered = ctx.offers.iter().any(|o| o.id == j && o.available);
                if self.screen == Screen::Home && offered && j == "ticket" {
                    fx.push(Effect::StartSession("ticket"));
                    let (stage, jfx) = ticket::start(&ctx.ticket);
                    self.enter_journey(stage, jfx, ctx, &mut fx);
                }
                if self.screen == Screen::Home && offered && j == "guide" {
                    fx.push(Effect::StartSession("guide"));
                    let (stage, gfx) = guide::start(&ctx.guide);
                    self.enter_guide(stage, gfx, ctx, &mut fx);
                }
                // Not a home tile: the guide hands over to it, and the host prepared it.
                if self.screen == Screen::Home && j == "apply" {
                    if let Some(actx) = &ctx.apply {
                        fx.push(Effect::StartSession("apply"));
                        let (stage, afx) = apply::start(actx);
                        self.enter_apply(stage, afx, ctx, &mut fx);
                    }
                }
                if self.screen == Screen::Home && offered && j == "query" {
                    fx.push(Effect::StartSession("query"));
                    let (stage, qfx) = query::start(&ctx.query);
                    self.enter_query(stage, qfx, ctx, &mut fx);
                }
                if self.screen == Screen::Home && offered && j == "licences" {
                    fx.push(Effect::StartSession("licences"));
                    let (stage, pfx) = papers::start(&ctx.papers);
                    self.enter_papers(stage, pfx, ctx, &mut fx);
                }
                // Not a home tile: the guide hands over to it, and the host prepared it.
                if self.screen == Screen::Home && j == "proof" && ctx.papers.proof {
                    fx.push(Effect::StartSession("proof"));
                    let (stage, pfx) = papers::start(&ctx.papers);
                    self.enter_papers(stage, pfx, ctx, &mut fx);
                }
                if self.screen == Screen::Home && offered && j == "id-copy" {
                    fx.push(Effect::StartSession("id-copy"));
                    let (stage, cfx) = idcopy::start(&ctx.idcopy);
                    self.enter_idcopy(stage, cfx, ctx, &mut fx);
                }
            }
            Input::Journey(i) => {
                if let Screen::Ticket(stage) = &self.screen {
                    let (stage, jfx) = ticket::step(stage, i, &ctx.ticket);
                    self.enter_journey(stage, jfx, ctx, &mut fx);
                }
            }
            Input::Back | Input::Retry | Input::Done => {
                let (t, g) = match input {
                    Input::Back => (ticket::Input::Back, guide::Input::Back),
                    Input::Retry => (ticket::Input::Retry, guide::Input::Retry),
                    _ => (ticket::Input::Done, guide::Input::Done),
                };
                match &self.screen {
                    Screen::Ticket(stage) => {
                        let (stage, jfx) = ticket::step(stage, t, &ctx.ticket);
                        self.enter_journey(stage, jfx, ctx, &mut fx);
                    }
                    Screen::Guide(stage) => {
                        let (stage, gfx) = guide::step(stage, g, &ctx.guide);
                        self.enter_guide(stage, gfx, ctx, &mut fx);
                    }
                    Screen::IdCopy(stage) => {
                        let c = match input {
                            Input::Back => idcopy::Input::Back,
                            Input::Retry => idcopy::Input::Retry,
                            _ => idcopy::Input::Done,
                        };
                        let (stage, cfx) = idcopy::step(stage, c, &ctx.idcopy);
                        self.enter_idcopy(stage, cfx, ctx, &mut fx);
                    }
                    Screen::Apply(_) => {
                        let a = match input {
                            Input::Back => apply::Input::Back,
                            Input::Retry => apply::Input::Retry,
                            _ => apply::Input::Done,
                        };
                        self.apply(a, ctx, &mut fx);
                    }
                    Screen::Query(_) => {
                        let q = match input {
                            Input::Back => query::Input::Back,
                            Input::Retry => query::Input::Retry,
                            _ => query::Input::Done,
                        };
                        self.query(q, ctx, &mut fx);
                    }
                    Screen::StaffPin if input == Input::Back && self.pin.staff_no.is_some() => {
                        // From the PIN back to the staff number.
                        self.pin.staff_no = None;
                        self.pin.by_card = false;
                        self.pin.digits = Zeroizing::new(String::new());
                    }
                    Screen::Admin(stage) if input == Input::Back => {
                        // From a device's page back to the list; elsewhere, out.
                        if matches!(stage.page, admin::Page::Device(_)) {
                            let (stage, afx) =
                                admin::step(stage, admin::Input::Open(admin::Page::Devices));
                            self.screen = Screen::Admin(stage);
                            fx.extend(
                                afx.into_iter()
                                    .map(|e| Effect::Staff(StaffEffect::Admin(e))),
                            );
                        } else if stage.running.is_none() {
                            self.go(Screen::Home, ctx);
                        }
                    }
                    Screen::Papers(_) => {
                        let p = match input {
                            Input::Back => papers::Input::Back,
                            Input::Retry => papers::Input::Retry,
                            _ => papers::Input::Done,
                        };
                        self.papers(p, ctx, &mut fx);
                    }
                    _ => {}
                }
            }
            Input::Print => match &self.screen {
                Screen::Guide(stage) => {
                    let (stage, gfx) = guide::step(stage, guide::Input::Print, &ctx.guide);
                    self.enter_guide(stage, gfx, ctx, &mut fx);
                }
                Screen::IdCopy(stage) => {
                    let (stage, cfx) = idcopy::step(stage, idcopy::Input::Print, &ctx.idcopy);
                    self.enter_idcopy(stage, cfx, ctx, &mut fx);
                }
                Screen::Apply(_) => self.apply(apply::Input::Print, ctx, &mut fx),
                Screen::Query(_) => self.query(query::Input::Print, ctx, &mut fx),
                Screen::Papers(_) => self.papers(papers::Input::Print, ctx, &mut fx),
                _ => {}
            },
            Input::Apply(i) => self.apply(i, ctx, &mut fx),
            Input::Query(i) => self.query(i, ctx, &mut fx),
            Input::Papers(i) => self.papers(i, ctx, &mut fx),
            Input::IdCopy(i) => {
                if let Screen::IdCopy(stage) = &self.screen {
                    let (stage, cfx) = idcopy::step(stage, i, &ctx.idcopy);
                    self.enter_idcopy(stage, cfx, ctx, &mut fx);
                }
            }
            Input::Guide(i) => {
                if let Screen::Guide(stage) = &self.screen {
                    let (stage, gfx) = guide::step(stage, i, &ctx.guide);
                    self.enter_guide(stage, gfx, ctx, &mut fx);
                }
            }
            Input::Home => match &self.screen {
                Screen::Ticket(stage) => {
                    let (_, jfx) = ticket::step(stage, ticket::Input::Cancel, &ctx.ticket);
                    self.enter_journey(stage.clone(), jfx, ctx, &mut fx);
                }
                Screen::Guide(stage) => {
                    let (stage, gfx) = guide::step(stage, guide::Input::Cancel, &ctx.guide);
                    self.enter_guide(stage, gfx, ctx, &mut fx);
                }
                Screen::IdCopy(stage) => {
                    let (stage, cfx) = idcopy::step(stage, idcopy::Input::Cancel, &ctx.idcopy);
                    self.enter_idcopy(stage, cfx, ctx, &mut fx);
                }
                Screen::Apply(_) => self.apply(apply::Input::Cancel, ctx, &mut fx),
                Screen::Query(_) => self.query(query::Input::Cancel, ctx, &mut fx),
                Screen::Papers(_) => self.papers(papers::Input::Cancel, ctx, &mut fx),
                Screen::StaffPin | Screen::Admin(_) => self.go(Screen::Home, ctx),
                _ => {}
            },
            Input::StaffEntry => {
                if matches!(self.screen, Screen::Home | Screen::Attract) {
                    self.pin = PinPad {
                        locked_until: self.pin.locked_until,
                        failures: self.pin.failures,
                        ..PinPad::default()
                    };
                    self.go(Screen::StaffPin, ctx);
                }
            }
            Input::StaffDigit(d) => {
                if self.screen == Screen::StaffPin && d.is_ascii_digit() && self.pin.len() < 12 {
                    self.pin.digits.push(d);
                    self.pin.wrong = false;
                    self.pin.not_a_badge = false;
                }
            }
            Input::StaffDelete => {
                self.pin.digits.pop();
            }
            Input::StaffSubmit => self.submit_pin(ctx, &mut fx),
            Input::StaffCard(uid) => self.staff_card(uid, ctx),
            Input::Admin(a) => {
                if let Screen::Admin(stage) = &self.screen {
                    let (stage, afx) = admin::step(stage, a);
                    self.screen = Screen::Admin(stage);
                    fx.extend(
                        afx.into_iter()
                            .map(|e| Effect::Staff(StaffEffect::Admin(e))),
                    );
                }
            }
        }
        fx
    }

    /// A card on the reader while the pad is open. A badge stands in for the staff number,
    /// known or not: an unknown badge is asked its PIN too and refused after it, so a badge
    /// alone tells nobody whether it opens this terminal.
    fn staff_card(&mut self, uid: Option<String>, ctx: &Context<'_>) {
        let locked = self.pin.locked_until.is_some_and(|t| ctx.now < t);
        if self.screen != Screen::StaffPin || !ctx.staff.personal() || locked {
            return;
        }
        self.pin.digits = Zeroizing::new(String::new());
        self.pin.wrong = false;
        self.pin.wrong_card = false;
        match uid {
            Some(uid) => {
                let holder = ctx.staff.card_holder(&uid).unwrap_or_default();
                self.pin.staff_no = Some(holder.to_string());
                self.pin.by_card = true;
                self.pin.not_a_badge = false;
            }
            None => {
                self.pin.staff_no = None;
                self.pin.by_card = false;
                self.pin.not_a_badge = true;
            }
        }
    }

    fn submit_pin(&mut self, ctx: &Context<'_>, fx: &mut Vec<Effect>) {
        if self.screen != Screen::StaffPin {
            return;
        }
        if self.pin.locked_until.is_some_and(|t| ctx.now < t) {
            self.pin.digits = Zeroizing::new(String::new());
            return;
        }
        let typed = std::mem::take(&mut self.pin.digits);
        if self.pin.asks_number(ctx.staff.personal()) {
            // The staff number first; whether it exists shows only after the PIN.
            if !typed.is_empty() {
                self.pin.staff_no = Some(typed.to_string());
            }
            return;
        }
        let staff_no = self.pin.staff_no.take().filter(|n| !n.is_empty());
        let way = if !ctx.staff.personal() {
            StaffWay::SharedPin
        } else if std::mem::take(&mut self.pin.by_card) {
            StaffWay::StaffCard
        } else {
            StaffWay::StaffNumber
        };
        let opener = if typed.is_empty() {
            None
        } else {
            // An unknown badge checks against no one's number (the same Argon2 work).
            let number = match (way, &staff_no) {
                (StaffWay::StaffCard, None) => Some(""),
                _ => staff_no.as_deref(),
            };
            ctx.staff.check(number, &typed)
        };
        if let Some(opener) = opener {
            self.pin = PinPad::default();
            let (stage, afx) = admin::start();
            self.go(Screen::Admin(stage), ctx);
            fx.push(Effect::Staff(StaffEffect::Entered(opener, way)));
            fx.extend(
                afx.into_iter()
                    .map(|e| Effect::Staff(StaffEffect::Admin(e))),
            );
        } else {
            self.pin.wrong = true;
            self.pin.wrong_card = way == StaffWay::StaffCard;
            self.pin.failures += 1;
            if self.pin.failures >= PIN_TRIES {
                self.pin.locked_until = Some(ctx.now + PIN_LOCK);
                self.pin.failures = 0;
                fx.push(Effect::Staff(StaffEffect::Locked {
                    for_: PIN_LOCK,
                    way,
                }));
            } else {
                fx.push(Effect::Staff(StaffEffect::Refused {
                    tries_left: PIN_TRIES - self.pin.failures,
                    staff_no,
                    way,
                }));
            }
        }
    }

    fn tick(&mut self, ctx: &Context<'_>, fx: &mut Vec<Effect>) {
        if self.screen.waits_for_the_terminal() {
            self.idle.touch(ctx.now);
            self.asking = None;
            return;
        }
        match self.idle.state(ctx.now, ctx.idle.times(self.screen.name())) {
            IdleState::Quiet => self.asking = None,
            IdleState::Asking { seconds_left } => self.asking = Some(seconds_left),
            IdleState::Expired => {
                self.asking = None;
                if let Screen::Ticket(stage) = &self.screen {
                    let (_, jfx) = ticket::step(stage, ticket::Input::Cancel, &ctx.ticket);
                    fx.extend(
                        jfx.into_iter()
                            .filter(|e| !matches!(e, ticket::Effect::Finish(_)))
                            .map(Effect::Journey),
                    );
                    fx.push(Effect::EndSession(EndReason::TimedOut));
                }
                if let Screen::Guide(_) = &self.screen {
                    fx.push(Effect::EndSession(EndReason::TimedOut));
                }
                if let Screen::IdCopy(stage) = &self.screen {
                    // The journey's own way out (waits, camera and finger stopped, photos
                    // dropped), without going home: the session ends as timed out.
                    let (_, cfx) = idcopy::step(stage, idcopy::Input::Cancel, &ctx.idcopy);
                    fx.extend(
                        cfx.into_iter()
                            .filter(|e| !matches!(e, idcopy::Effect::Finish(_)))
                            .map(Effect::IdCopy),
                    );
                    fx.push(Effect::EndSession(EndReason::TimedOut));
                }
                if let (Screen::Apply(stage), Some(actx)) = (&self.screen, &ctx.apply) {
                    let (_, afx) = apply::step(stage, apply::Input::Cancel, actx);
                    fx.extend(
                        afx.into_iter()
                            .filter(|e| !matches!(e, apply::Effect::Finish(_)))
                            .map(Effect::Apply),
                    );
                    fx.push(Effect::EndSession(EndReason::TimedOut));
                }
                if let Screen::Query(stage) = &self.screen {
                    let (_, qfx) = query::step(stage, query::Input::Cancel, &ctx.query);
                    fx.extend(
                        qfx.into_iter()
                            .filter(|e| !matches!(e, query::Effect::Finish(_)))
                            .map(Effect::Query),
                    );
                    fx.push(Effect::EndSession(EndReason::TimedOut));
                }
                if let Screen::Papers(stage) = &self.screen {
                    let (_, pfx) = papers::step(stage, papers::Input::Cancel, &ctx.papers);
                    fx.extend(
                        pfx.into_iter()
                            .filter(|e| !matches!(e, papers::Effect::Finish(_)))
                            .map(Effect::Papers),
                    );
                    fx.push(Effect::EndSession(EndReason::TimedOut));
                }
                self.go(Screen::Attract, ctx);
            }
        }
    }

    /// Moves to the journey's new stage, or out of the journey when it finished.
    fn enter_journey(
        &mut self,
        stage: ticket::Stage,
        jfx: Vec<ticket::Effect>,
        ctx: &Context<'_>,
        fx: &mut Vec<Effect>,
    ) {
        let mut finished = None;
        for e in jfx {
            if let ticket::Effect::Finish(o) = &e {
                finished = Some(o.clone());
            }
            fx.push(Effect::Journey(e));
        }
        match finished {
            Some(outcome) => {
                let reason = match outcome {
                    ticket::Outcome::Left => EndReason::Cancelled,
                    _ => EndReason::Done,
                };
                fx.push(Effect::EndSession(reason));
                self.care = false;
                self.go(Screen::Home, ctx);
            }
            None => self.go(Screen::Ticket(stage), ctx),
        }
    }

    /// Moves to the guide's new stage, or out of it when it finished.
    fn enter_guide(
        &mut self,
        stage: guide::Stage,
        gfx: Vec<guide::Effect>,
        ctx: &Context<'_>,
        fx: &mut Vec<Effect>,
    ) {
        let mut finished = None;
        for e in gfx {
            if let guide::Effect::Finish(o) = &e {
                finished = Some(o.clone());
            }
            fx.push(Effect::Guide(e));
        }
        match finished {
            Some(outcome) => {
                let reason = match &outcome {
                    guide::Outcome::Left => EndReason::Cancelled,
                    guide::Outcome::Listed { .. }
                    | guide::Outcome::Apply { .. }
                    | guide::Outcome::Proof { .. } => EndReason::Done,
                };
                fx.push(Effect::EndSession(reason));
                // The citizen goes on: care mode and language stay for what follows.
                match outcome {
                    guide::Outcome::Apply { item, answers } => {
                        fx.push(Effect::BeginApply { item, answers })
                    }
                    guide::Outcome::Proof { item, answers } => {
                        fx.push(Effect::BeginProof { item, answers })
                    }
                    _ => self.care = false,
                }
                self.go(Screen::Home, ctx);
            }
            None => self.go(Screen::Guide(stage), ctx),
        }
    }

    /// Moves to the ID copy's new stage, or out of it when it finished.
    fn enter_idcopy(
        &mut self,
        stage: idcopy::Stage,
        cfx: Vec<idcopy::Effect>,
        ctx: &Context<'_>,
        fx: &mut Vec<Effect>,
    ) {
        let mut finished = None;
        for e in cfx {
            if let idcopy::Effect::Finish(o) = &e {
                finished = Some(o.clone());
            }
            fx.push(Effect::IdCopy(e));
        }
        match finished {
            Some(outcome) => {
                let reason = match outcome {
                    idcopy::Outcome::Left => EndReason::Cancelled,
                    _ => EndReason::Done,
                };
                fx.push(Effect::EndSession(reason));
                self.care = false;
                self.go(Screen::Home, ctx);
            }
            None => self.go(Screen::IdCopy(stage), ctx),
        }
    }

    /// One input to the application on screen.
    fn apply(&mut self, input: apply::Input, ctx: &Context<'_>, fx: &mut Vec<Effect>) {
        if let (Screen::Apply(stage), Some(actx)) = (&self.screen, &ctx.apply) {
            let (stage, afx) = apply::step(stage, input, actx);
            self.enter_apply(stage, afx, ctx, fx);
        }
    }

    /// Moves to the application's new stage, or out of it when it finished.
    fn enter_apply(
        &mut self,
        stage: apply::Stage,
        afx: Vec<apply::Effect>,
        ctx: &Context<'_>,
        fx: &mut Vec<Effect>,
    ) {
        let mut finished = None;
        for e in afx {
            if let apply::Effect::Finish(o) = &e {
                finished = Some(o.clone());
            }
            fx.push(Effect::Apply(e));
        }
        match finished {
            Some(outcome) => {
                let reason = match outcome {
                    apply::Outcome::Left => EndReason::Cancelled,
                    _ => EndReason::Done,
                };
                fx.push(Effect::EndSession(reason));
                self.care = false;
                self.go(Screen::Home, ctx);
            }
            None => self.go(Screen::Apply(stage), ctx),
        }
    }

    /// One input to the case look-up on screen.
    fn query(&mut self, input: query::Input, ctx: &Context<'_>, fx: &mut Vec<Effect>) {
        if let Screen::Query(stage) = &self.screen {
            let (stage, qfx) = query::step(stage, input, &ctx.query);
            self.enter_query(stage, qfx, ctx, fx);
        }
    }

    /// Moves to the look-up's new stage, or out of it when it finished.
    fn enter_query(
        &mut self,
        stage: query::Stage,
        qfx: Vec<query::Effect>,
        ctx: &Context<'_>,
        fx: &mut Vec<Effect>,
    ) {
        let mut finished = None;
        for e in qfx {
            if let query::Effect::Finish(o) = &e {
                finished = Some(o.clone());
            }
            fx.push(Effect::Query(e));
        }
        match finished {
            Some(outcome) => {
                let reason = match outcome {
                    query::Outcome::Left => EndReason::Cancelled,
                    _ => EndReason::Done,
                };
                fx.push(Effect::EndSession(reason));
                self.care = false;
                self.go(Screen::Home, ctx);
            }
            None => self.go(Screen::Query(stage), ctx),
        }
    }

    /// One input to the papers on screen.
    fn papers(&mut self, input: papers::Input, ctx: &Context<'_>, fx: &mut Vec<Effect>) {
        if let Screen::Papers(stage) = &self.screen {
            let (stage, pfx) = papers::step(stage, input, &ctx.papers);
            self.enter_papers(stage, pfx, ctx, fx);
        }
    }

    /// Moves to the papers' new stage, or out of them when they finished.
    fn enter_papers(
        &mut self,
        stage: papers::Stage,
        pfx: Vec<papers::Effect>,
        ctx: &Context<'_>,
        fx: &mut Vec<Effect>,
    ) {
        let mut finished = None;
        for e in pfx {
            if let papers::Effect::Finish(o) = &e {
                finished = Some(o.clone());
            }
            fx.push(Effect::Papers(e));
        }
        match finished {
            Some(outcome) => {
                let reason = match outcome {
                    papers::Outcome::Left => EndReason::Cancelled,
                    _ => EndReason::Done,
                };
                fx.push(Effect::EndSession(reason));
                self.care = false;
                self.go(Screen::Home, ctx);
            }
            None => self.go(Screen::Papers(stage), ctx),
        }
    }

    fn go(&mut self, screen: Screen, ctx: &Context<'_>) {
        if screen == Screen::Attract {
            // The next citizen starts in the hall's language, without care mode.
            self.english = ctx.default_english;
            self.help = false;
            self.care = false;
            self.pin = PinPad {
                locked_until: self.pin.locked_until,
                ..PinPad::default()
            };
        }
        self.screen = screen;
        self.idle.touch(ctx.now);
    }
}
