//! The window dual-screen unit (窗口双屏) as a pure state machine: the clerk's caller toolbar
//! and the citizen's screen at one hall window. The clerk signs in (the centre checks the PIN
//! and keeps the lock), calls tickets through the hall's queue, reads the citizen's ID card,
//! asks the citizen to confirm their information, to sign and to rate; the citizen screen
//! shows the electronic name plate, the called number, what to confirm, the signature pad and
//! the five-level rating. The host performs the effects (centre, reader, journal, speaker) and
//! feeds their results back; nothing here waits or touches a device.

use kiosk_protocol::queue::{
    QueueFigures, QueueState, StaffPlate, WindowCommand, WindowOutcome, WindowState,
};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::rating::{self, Level};

/// A PIN typed on the toolbar: never printed, wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(pub Zeroizing<String>);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(…)")
    }
}

/// Why the clerk is not signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginProblem {
    /// Staff number or PIN not in the right form (checked before asking the centre).
    Form,
    Unknown,
    WrongPin {
        tries_left: u32,
    },
    Locked {
        until: String,
    },
    /// Another window has this clerk signed in.
    Elsewhere(String),
    Centre(String),
    Refused(String),
}

/// Why something the clerk or citizen asked for did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskProblem {
    /// The centre could not be reached or answered badly: nothing changed in the queue.
    Centre(String),
    /// The queue refused the command (`no-ticket`, `nobody-waiting`, …): nothing changed.
    Refused {
        reason: String,
        message: String,
    },
    /// No card was placed in time.
    NoCard,
    /// The code shown is not one the window takes (why: not an e-ID or case code, expired,
    /// forged, replayed).
    Code(String),
    /// The reader could not read the card (or is not there, or is busy).
    Card(String),
    /// What was asked needs a citizen's card read first.
    NoIdentity,
    /// The signature or rating could not be kept.
    Journal(String),
    /// The signature pad has too little ink to be a signature.
    TooShort,
    Printer(String),
    /// The IC (social-security) card could not be read.
    IcCard(String),
    /// The document camera could not take the material.
    Camera(String),
    /// The clerk's screen cannot be cast.
    Cast(String),
}

impl DeskProblem {
    /// A stable name for tours and records.
    pub fn code(&self) -> &'static str {
        match self {
            DeskProblem::Centre(_) => "centre",
            DeskProblem::Refused { .. } => "refused",
            DeskProblem::NoCard => "no-card",
            DeskProblem::Code(_) => "code",
            DeskProblem::Card(_) => "card",
            DeskProblem::NoIdentity => "no-identity",
            DeskProblem::Journal(_) => "journal",
            DeskProblem::TooShort => "too-short",
            DeskProblem::Printer(_) => "printer",
            DeskProblem::IcCard(_) => "ic-card",
            DeskProblem::Camera(_) => "camera",
            DeskProblem::Cast(_) => "cast",
        }
    }
}

/// What the card says, as the desk may show it: the citizen's own screen shows their name; the
/// clerk's toolbar only the masked one. Wiped when the ticket leaves the window.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CardFacts {
    pub name: String,
    pub masked_name: String,
    pub masked_number: String,
}

impl std::fmt::Debug for CardFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardFacts({} {})", self.masked_name, self.masked_number)
    }
}

/// A code shown at the window's scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// An e-ID verified offline: who the citizen is.
    Identity(CardFacts),
    /// A case number (the case's QR code).
    Case(String),
}

/// The ticket at the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskTicket {
    pub number: String,
    pub service: String,
    pub day: String,
    pub state: QueueState,
    pub calls: u32,
}

/// The clerk's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClerkAct {
    SignIn {
        staff: String,
        pin: Pin,
    },
    SignOut,
    CallNext,
    /// Calls a ticket this window put on hold.
    CallHeld(String),
    Recall,
    /// The citizen came to the window.
    Start,
    NoShow,
    Hold,
    Finish,
    Transfer {
        service: Option<String>,
        window: Option<String>,
    },
    Pause,
    Resume,
    ReadCard,
    /// The citizen shows a code to the window's scanner: an e-ID (亮码) identifies them, a
    /// case code links the case.
    ScanCode,
    /// Reads the citizen's social-security card on the IC card reader.
    ReadIcCard,
    /// Photographs a material on the document camera: kept sealed with the ticket's case.
    CaptureMaterial,
    /// Stops waiting for a card or a code.
    CancelCard,
    /// Shows the citizen what to confirm.
    AskConfirm,
    /// As `AskConfirm`, with lines of the clerk's business system under the card's facts.
    AskConfirmWith(Vec<(String, String)>),
    AskSignature,
    AskRating,
    /// The citizen screen shows only the name plate (水牌), or the service again.
    TogglePlate,
    /// The citizen screen shows the clerk's screen (投屏), or stops showing it.
    ToggleCast,
    /// The case the clerk's business system opened for this ticket.
    SetCase(String),
    PrintSlip,
    /// The clerk has read the problem line.
    Dismiss,
}

/// The citizen's touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CitizenAct {
    /// "Correct" (true) or "Something is wrong" (false).
    Confirm(bool),
    /// A stroke went onto the signature pad (the "too short" warning goes).
    Inked,
    ClearInk,
    /// "Done" under the signature; the host says whether there is enough ink.
    SignDone {
        enough: bool,
    },
    Rate(u8),
    RatingTag(String),
    RatingNext,
    RatingBack,
    /// The complaint is typed (the host sends it only with words typed).
    Complained,
}

/// What the unit's speaker says to the citizen, as evaluation pads (评价器) do: a welcome when
/// they sit down, what the reader waits for, what the screen asks, thanks after the rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoicePrompt {
    Welcome,
    PlaceIdCard,
    ShowCode,
    InsertSsCard,
    Confirm,
    Sign,
    Rate,
    Thanks,
}

/// Something kept by the host for the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    Signature,
    Rating,
    Slip,
    /// A material photographed on the document camera.
    Material,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Clerk(ClerkAct),
    Citizen(CitizenAct),
    SignedIn(Result<StaffPlate, LoginProblem>),
    /// The queue's answer to a command the desk sent.
    Answer {
        command: WindowCommand,
        result: Result<Box<WindowOutcome>, DeskProblem>,
    },
    Card(Result<CardFacts, DeskProblem>),
    /// The social-security card's number, masked, or why not.
    IcCard(Result<String, DeskProblem>),
    /// How many tickets this window may call now (read from the queue between commands).
    Waiting(u32),
    /// This window's figures of today (served, handling time, satisfaction).
    Figures(QueueFigures),
    /// The cast stopped on its own: the clerk's screen could not be grabbed.
    CastFailed(DeskProblem),
    /// What the scanner read.
    Code(Result<Scanned, DeskProblem>),
    Kept(Kept, Result<(), DeskProblem>),
    /// "Thank you" has been on the citizen screen long enough.
    ThanksOver,
    /// Inside opening hours or not (the host's clock).
    Hours(bool),
}

/// A rating ready to be recorded: the host adds hall, day, time and the complaint typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingDraft {
    pub ticket: DeskTicket,
    pub staff: String,
    pub case_number: Option<String>,
    pub level: Level,
    pub tags: Vec<String>,
    pub complaint: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    SignIn {
        staff: String,
        pin: Pin,
    },
    Command(WindowCommand),
    ReadCard,
    ScanCode,
    ReadIcCard,
    CaptureMaterial {
        ticket: DeskTicket,
        staff: String,
        case_number: Option<String>,
    },
    CancelCard,
    /// Ask the queue how many this window may call.
    RefreshWaiting,
    /// Ask the centre for this window's figures of today.
    RefreshFigures,
    /// Say this to the citizen on the unit's speaker.
    Prompt(VoicePrompt),
    /// Start grabbing the clerk's screen for the citizen screen, or stop.
    StartCast,
    StopCast,
    /// Keep the signature on the pad for this ticket (sealed), then wipe the pad.
    KeepSignature {
        ticket: DeskTicket,
        staff: String,
        case_number: Option<String>,
    },
    ClearInk,
    StartTyping,
    StopTyping,
    Rate(RatingDraft),
    /// Say 「请 A023 号 到 3 号窗口办理」 on the unit's speaker.
    Announce {
        number: String,
    },
    PrintSlip {
        ticket: DeskTicket,
        staff: String,
        case_number: Option<String>,
    },
    /// The citizen left the window: wipe what the host holds of them.
    Forget,
    /// Show "Thank you" for a while, then send `ThanksOver`.
    ThanksTimer,
}

/// What the citizen screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Citizen {
    /// Nobody signed in: "this window is closed", the carousel.
    Closed,
    /// Signed in, no one at the window: the name plate and the carousel.
    Plate,
    /// The number called, large.
    Called,
    /// The clerk paused the window.
    Paused,
    /// The clerk's screen, cast (投屏).
    Cast,
    /// The citizen's card facts and the service, to confirm.
    Confirm,
    Sign {
        too_short: bool,
    },
    /// `None`: the five levels; then the rating's own stages.
    Rating(Option<rating::Stage>),
    Thanks,
}

/// The window unit's state.
#[derive(Debug, Clone)]
pub struct Desk {
    pub window: String,
    pub clerk: Option<StaffPlate>,
    pub window_state: WindowState,
    pub ticket: Option<DeskTicket>,
    /// The ticket just finished: it may still be rated (one rating per ticket).
    pub last: Option<DeskTicket>,
    /// Numbers this window put on hold, to call back.
    pub held: Vec<String>,
    /// Tickets this window may call, as of the last answer.
    pub waiting: Option<u32>,
    /// What is in flight (`sign-in`, `call-next`, `read-card`, …): the toolbar waits.
    pub pending: Option<&'static str>,
    pub login_problem: Option<LoginProblem>,
    pub problem: Option<DeskProblem>,
    /// What the last command did, for the clerk (`called`, `recalled`, `no-show`, …).
    pub done: Option<&'static str>,
    pub citizen: Citizen,
    pub identity: Option<CardFacts>,
    /// The citizen's answer to "please confirm".
    pub confirmed: Option<bool>,
    pub signed: bool,
    /// Tickets rated here (one rating each).
    pub rated: Vec<String>,
    /// The ticket whose rating is being kept.
    pub rating_for: Option<String>,
    pub case_number: Option<String>,
    /// The case of the ticket just finished, for its rating and slip.
    pub last_case: Option<String>,
    /// The citizen screen shows only the name plate.
    pub plate_only: bool,
    /// The clerk's screen is cast to the citizen screen.
    pub casting: bool,
    /// The social-security card read for this ticket, masked.
    pub ic_card: Option<String>,
    /// Materials photographed for this ticket.
    pub materials: u32,
    /// Lines the clerk's business system asked the citizen to confirm (through the local
    /// device API), shown under the card's facts; gone with the ticket.
    pub page_lines: Vec<(String, String)>,
    /// This window's figures of today, for the clerk.
    pub figures: Option<QueueFigures>,
    pub open_hours: bool,
    pub satisfied_tags: Vec<String>,
    pub unsatisfied_tags: Vec<String>,
}

fn command_name(c: &WindowCommand) -> &'static str {
    match c {
        WindowCommand::Login { .. } => "login",
        WindowCommand::Logout => "logout",
        WindowCommand::CallNext => "call-next",
        WindowCommand::CallHeld { .. } => "call-held",
        WindowCommand::Recall => "recall",
        WindowCommand::Start => "start",
        WindowCommand::NoShow => "no-show",
        WindowCommand::Finish => "finish",
        WindowCommand::Hold => "hold",
        WindowCommand::Transfer { .. } => "transfer",
        WindowCommand::Pause => "pause",
        WindowCommand::Resume => "resume",
    }
}

impl Desk {
    /// The citizen screen asks to confirm the card's facts (and the page's lines): only once
    /// the card was read, so the citizen confirms who the card says they are.
    fn ask_confirm(&mut self) -> Vec<Effect> {
        if self.identity.is_none() {
            self.problem = Some(DeskProblem::NoIdentity);
            return Vec::new();
        }
        self.confirmed = None;
        self.problem = None;
        let mut fx = Vec::new();
        self.leave_asking(&mut fx);
        self.citizen = Citizen::Confirm;
        fx.push(Effect::Prompt(VoicePrompt::Confirm));
        fx
    }

    pub fn new(window: &str, satisfied_tags: Vec<String>, unsatisfied_tags: Vec<String>) -> Desk {
        Desk {
            window: window.to_string(),
            clerk: None,
            window_state: WindowState::Closed,
            ticket: None,
            last: None,
            held: Vec::new(),
            waiting: None,
            pending: None,
            login_problem: None,
            problem: None,
            done: None,
            citizen: Citizen::Closed,
            identity: None,
            confirmed: None,
            signed: false,
            rated: Vec::new(),
            rating_for: None,
            case_number: None,
            last_case: None,
            plate_only: false,
            casting: false,
            ic_card: None,
            materials: 0,
            page_lines: Vec::new(),
            figures: None,
            open_hours: true,
            satisfied_tags,
            unsatisfied_tags,
        }
    }

    /// The citizen screen sleeps outside opening hours while nobody is signed in.
    pub fn asleep(&self) -> bool {
        self.clerk.is_none() && !self.open_hours
    }

    /// The ticket a rating would be for: the one at the window, else the one just finished;
    /// none once it is rated.
    pub fn ratable(&self) -> Option<&DeskTicket> {
        self.ticket
            .as_ref()
            .filter(|t| t.state == QueueState::Serving)
            .or(self.last.as_ref())
            .filter(|t| !self.rated.contains(&t.number))
    }

    /// The case of `ticket`: the one at the window, or the one just finished.
    fn case_of(&self, ticket: &DeskTicket) -> Option<String> {
        if self.ticket.as_ref().map(|t| &t.number) == Some(&ticket.number) {
            self.case_number.clone()
        } else {
            self.last_case.clone()
        }
    }

    fn staff(&self) -> String {
        self.clerk
            .as_ref()
            .map(|c| c.staff.clone())
            .unwrap_or_default()
    }

    fn send(&mut self, cmd: WindowCommand) -> Vec<Effect> {
        self.pending = Some(command_name(&cmd));
        self.problem = None;
        self.done = None;
        vec![Effect::Command(cmd)]
    }

    /// The citizen left the window (served, no-show, transferred, held, signed out).
    fn citizen_left(&mut self, fx: &mut Vec<Effect>) {
        if self.identity.is_some()
            || self.signed
            || self.confirmed.is_some()
            || self.ic_card.is_some()
        {
            fx.push(Effect::Forget);
        }
        // The clerk's screen may still show this citizen's forms: the next one does not see it.
        self.stop_cast(fx);
        self.ic_card = None;
        self.materials = 0;
        self.page_lines.clear();
        self.identity = None;
        self.confirmed = None;
        self.signed = false;
        self.case_number = None;
        if matches!(self.citizen, Citizen::Sign { .. }) {
            fx.push(Effect::ClearInk);
        }
    }

    /// The citizen screen when nothing is asked of the citizen.
    fn rest(&self) -> Citizen {
        match (&self.clerk, self.window_state, &self.ticket) {
            (None, ..) => Citizen::Closed,
            (Some(_), WindowState::Paused, None) => Citizen::Paused,
            (Some(_), _, Some(t)) if t.state == QueueState::Called => Citizen::Called,
            (Some(_), _, _) if self.casting => Citizen::Cast,
            _ => Citizen::Plate,
        }
    }

    /// Nothing is asked of the citizen: the screen shows what the window is doing.
    fn at_rest(&self) -> bool {
        matches!(
            self.citizen,
            Citizen::Closed | Citizen::Plate | Citizen::Called | Citizen::Paused | Citizen::Cast
        )
    }

    fn stop_cast(&mut self, fx: &mut Vec<Effect>) {
        if self.casting {
            self.casting = false;
            fx.push(Effect::StopCast);
            if self.citizen == Citizen::Cast {
                self.citizen = self.rest();
            }
        }
    }

    /// One step: the state moves, and the effects for the host come back.
    pub fn step(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Clerk(act) => self.clerk_act(act),
            Input::Citizen(act) => self.citizen_act(act),
            Input::SignedIn(result) => {
                self.pending = None;
                match result {
                    Ok(plate) => {
                        self.clerk = Some(plate);
                        self.window_state = WindowState::Open;
                        self.login_problem = None;
                        self.citizen = self.rest();
                        return vec![Effect::RefreshWaiting, Effect::RefreshFigures];
                    }
                    Err(p) => self.login_problem = Some(p),
                }
                Vec::new()
            }
            Input::Answer { command, result } => self.answer(command, result),
            Input::Card(result) => {
                if self.pending == Some("read-card") {
                    self.pending = None;
                }
                match result {
                    Ok(facts) if self.ticket.is_some() => {
                        self.identity = Some(facts);
                        self.problem = None;
                        self.done = Some("card-read");
                        Vec::new()
                    }
                    // The ticket left while the card was read: the facts are not kept.
                    Ok(_) => Vec::new(),
                    Err(p) => {
                        self.problem = Some(p);
                        Vec::new()
                    }
                }
            }
            Input::IcCard(result) => {
                if self.pending == Some("ic-card") {
                    self.pending = None;
                }
                match result {
                    Ok(masked) if self.ticket.is_some() => {
                        self.ic_card = Some(masked);
                        self.problem = None;
                        self.done = Some("ic-card-read");
                    }
                    Ok(_) => {}
                    Err(p) => self.problem = Some(p),
                }
                Vec::new()
            }
            Input::Figures(f) => {
                if self.clerk.is_some() {
                    self.figures = Some(f);
                }
                Vec::new()
            }
            Input::Waiting(n) => {
                // Signed out meanwhile: there is no window to count for.
                if self.clerk.is_some() {
                    self.waiting = Some(n);
                }
                Vec::new()
            }
            Input::CastFailed(p) => {
                let mut fx = Vec::new();
                self.stop_cast(&mut fx);
                self.problem = Some(p);
                fx
            }
            Input::Code(result) => {
                if self.pending == Some("scan") {
                    self.pending = None;
                }
                match result {
                    // A code read after the ticket left is not kept.
                    Ok(_) if self.ticket.is_none() => {}
                    Ok(Scanned::Identity(facts)) => {
                        self.identity = Some(facts);
                        self.problem = None;
                        self.done = Some("code-read");
                    }
                    Ok(Scanned::Case(c)) => {
                        self.case_number = Some(c);
                        self.problem = None;
                        self.done = Some("case-scanned");
                    }
                    Err(p) => self.problem = Some(p),
                }
                Vec::new()
            }
            Input::Kept(what, result) => self.kept(what, result),
            Input::ThanksOver => {
                if self.citizen == Citizen::Thanks {
                    self.citizen = self.rest();
                }
                Vec::new()
            }
            Input::Hours(open) => {
                self.open_hours = open;
                Vec::new()
            }
        }
    }

    fn clerk_act(&mut self, act: ClerkAct) -> Vec<Effect> {
        if act == ClerkAct::Dismiss {
            self.problem = None;
            self.login_problem = None;
            return Vec::new();
        }
        // One thing at a time: a second press while the centre answers does nothing.
        if self.pending.is_some() && act != ClerkAct::CancelCard {
            return Vec::new();
        }
        let Some(_) = &self.clerk else {
            return match act {
                ClerkAct::SignIn { staff, pin } => {
                    let staff = staff.trim().to_string();
                    let ok_staff = !staff.is_empty()
                        && staff.chars().count() <= 32
                        && kiosk_protocol::queue::is_name(&staff, 32);
                    let ok_pin = (4..=12).contains(&pin.0.len())
                        && pin.0.bytes().all(|b| b.is_ascii_digit());
                    if !ok_staff || !ok_pin {
                        self.login_problem = Some(LoginProblem::Form);
                        return Vec::new();
                    }
                    self.pending = Some("sign-in");
                    self.login_problem = None;
                    vec![Effect::SignIn { staff, pin }]
                }
                _ => Vec::new(),
            };
        };
        let serving = self
            .ticket
            .as_ref()
            .is_some_and(|t| t.state == QueueState::Serving);
        match act {
            ClerkAct::SignIn { .. } | ClerkAct::Dismiss => Vec::new(),
            ClerkAct::SignOut => self.send(WindowCommand::Logout),
            ClerkAct::CallNext => self.send(WindowCommand::CallNext),
            ClerkAct::CallHeld(n) => self.send(WindowCommand::CallHeld { number: n }),
            ClerkAct::Recall => self.send(WindowCommand::Recall),
            ClerkAct::Start => self.send(WindowCommand::Start),
            ClerkAct::NoShow => self.send(WindowCommand::NoShow),
            ClerkAct::Hold => self.send(WindowCommand::Hold),
            ClerkAct::Finish => self.send(WindowCommand::Finish),
            ClerkAct::Transfer { service, window } => {
                let service = service.filter(|s| !s.trim().is_empty());
                let window = window.filter(|w| !w.trim().is_empty());
                if service.is_none() && window.is_none() {
                    return Vec::new();
                }
                self.send(WindowCommand::Transfer { service, window })
            }
            ClerkAct::Pause => self.send(WindowCommand::Pause),
            ClerkAct::Resume => self.send(WindowCommand::Resume),
            ClerkAct::ReadCard if serving => {
                self.pending = Some("read-card");
                self.problem = None;
                self.done = None;
                vec![Effect::ReadCard, Effect::Prompt(VoicePrompt::PlaceIdCard)]
            }
            ClerkAct::ScanCode if serving => {
                self.pending = Some("scan");
                self.problem = None;
                self.done = None;
                vec![Effect::ScanCode, Effect::Prompt(VoicePrompt::ShowCode)]
            }
            ClerkAct::ReadIcCard if serving => {
                self.pending = Some("ic-card");
                self.problem = None;
                self.done = None;
                vec![
                    Effect::ReadIcCard,
                    Effect::Prompt(VoicePrompt::InsertSsCard),
                ]
            }
            ClerkAct::CaptureMaterial if serving => match self.ticket.clone() {
                Some(ticket) => {
                    self.pending = Some("capture");
                    self.problem = None;
                    self.done = None;
                    vec![Effect::CaptureMaterial {
                        case_number: self.case_number.clone(),
                        staff: self.staff(),
                        ticket,
                    }]
                }
                None => Vec::new(),
            },
            ClerkAct::CancelCard
                if matches!(self.pending, Some("read-card" | "scan" | "ic-card")) =>
            {
                vec![Effect::CancelCard]
            }
            ClerkAct::AskConfirmWith(lines) if serving => {
                self.page_lines = lines;
                self.ask_confirm()
            }
            ClerkAct::AskConfirm if serving => {
                self.page_lines.clear();
                self.ask_confirm()
            }
            ClerkAct::AskSignature if serving => {
                let mut fx = Vec::new();
                self.leave_asking(&mut fx);
                self.signed = false;
                self.citizen = Citizen::Sign { too_short: false };
                fx.push(Effect::ClearInk);
                fx.push(Effect::Prompt(VoicePrompt::Sign));
                fx
            }
            ClerkAct::AskRating if self.ratable().is_some() => {
                let mut fx = Vec::new();
                self.leave_asking(&mut fx);
                self.citizen = Citizen::Rating(None);
                fx.push(Effect::Prompt(VoicePrompt::Rate));
                fx
            }
            ClerkAct::TogglePlate => {
                let mut fx = Vec::new();
                self.stop_cast(&mut fx);
                self.plate_only = !self.plate_only;
                fx
            }
            ClerkAct::ToggleCast => {
                let mut fx = Vec::new();
                if self.casting {
                    self.stop_cast(&mut fx);
                } else {
                    self.casting = true;
                    self.plate_only = false;
                    self.problem = None;
                    fx.push(Effect::StartCast);
                    if self.at_rest() {
                        self.citizen = self.rest();
                    }
                }
                fx
            }
            ClerkAct::SetCase(c) if self.ticket.is_some() => {
                let c = c.trim().to_string();
                self.case_number =
                    (!c.is_empty() && kiosk_protocol::queue::is_name(&c, 64)).then_some(c);
                Vec::new()
            }
            ClerkAct::PrintSlip => match self.ticket.as_ref().or(self.last.as_ref()).cloned() {
                Some(t) => {
                    self.pending = Some("print");
                    self.problem = None;
                    let case_number = self.case_of(&t);
                    vec![Effect::PrintSlip {
                        ticket: t,
                        staff: self.staff(),
                        case_number,
                    }]
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// A new question for the citizen replaces the one on screen (a rating half done is
    /// left, a signature half drawn is wiped).
    fn leave_asking(&mut self, fx: &mut Vec<Effect>) {
        match self.citizen {
            Citizen::Sign { .. } => fx.push(Effect::ClearInk),
            Citizen::Rating(Some(rating::Stage::Complaint { .. })) => fx.push(Effect::StopTyping),
            _ => {}
        }
    }

    fn answer(
        &mut self,
        command: WindowCommand,
        result: Result<Box<WindowOutcome>, DeskProblem>,
    ) -> Vec<Effect> {
        self.pending = None;
        let out = match result {
            Ok(o) => o,
            Err(p) => {
                self.problem = Some(p);
                return Vec::new();
            }
        };
        let mut fx = Vec::new();
        self.window_state = out.window.state;
        self.waiting = Some(out.waiting);
        let before = self.ticket.clone();
        let now = out
            .ticket
            .as_ref()
            .filter(|t| {
                t.window.as_deref() == Some(self.window.as_str())
                    && matches!(t.state, QueueState::Called | QueueState::Serving)
            })
            .map(|t| DeskTicket {
                number: t.number.clone(),
                service: t.service.clone(),
                day: t.day.clone(),
                state: t.state,
                calls: t.calls,
            });
        let moved = before.as_ref().map(|t| &t.number) != now.as_ref().map(|t| &t.number);
        if moved {
            if let Some(b) = &before {
                // The citizen left: a finished ticket may still be rated on the way out.
                let finished = out
                    .ticket
                    .as_ref()
                    .is_some_and(|t| t.number == b.number && t.state == QueueState::Finished);
                self.last = finished.then(|| b.clone());
                self.last_case = if finished {
                    self.case_number.clone()
                } else {
                    None
                };
                let keep_rating =
                    finished && matches!(self.citizen, Citizen::Rating(_) | Citizen::Thanks);
                self.citizen_left(&mut fx);
                if !keep_rating {
                    self.abandon_rating(&mut fx);
                    self.citizen = Citizen::Plate;
                }
            }
            if now.is_some() {
                // The next citizen: the last one's rating, if still open, is left.
                self.last = None;
                self.last_case = None;
                self.abandon_rating(&mut fx);
            }
        }
        match &command {
            WindowCommand::Hold => {
                if let Some(b) = &before {
                    if !self.held.contains(&b.number) {
                        self.held.push(b.number.clone());
                    }
                }
            }
            WindowCommand::CallHeld { number } => self.held.retain(|n| n != number),
            _ => {}
        }
        self.done = Some(match (&command, &out.ticket) {
            (WindowCommand::Recall, Some(t)) if t.state == QueueState::NoShow => "no-show",
            (c, _) => command_name(c),
        });
        self.ticket = now;
        // A ticket served or let go changes the day's figures.
        if matches!(
            command,
            WindowCommand::Finish | WindowCommand::NoShow | WindowCommand::Transfer { .. }
        ) {
            fx.push(Effect::RefreshFigures);
        }
        // The citizen sat down: welcome them.
        if command == WindowCommand::Start
            && self
                .ticket
                .as_ref()
                .is_some_and(|t| t.state == QueueState::Serving)
        {
            fx.push(Effect::Prompt(VoicePrompt::Welcome));
        }
        if let Some(t) = &self.ticket {
            if t.state == QueueState::Called
                && matches!(
                    command,
                    WindowCommand::CallNext
                        | WindowCommand::CallHeld { .. }
                        | WindowCommand::Recall
                )
            {
                fx.push(Effect::Announce {
                    number: t.number.clone(),
                });
            }
        }
        if command == WindowCommand::Logout {
            self.stop_cast(&mut fx);
            self.figures = None;
            self.clerk = None;
            self.held.clear();
            self.last = None;
            self.waiting = None;
            self.plate_only = false;
            self.window_state = WindowState::Closed;
        }
        if self.clerk.is_none() {
            self.abandon_rating(&mut fx);
        }
        // Nothing is being asked of the citizen: the screen follows the window.
        if self.at_rest() {
            self.citizen = self.rest();
        }
        fx
    }

    /// A rating on screen is left unfinished (nothing is recorded).
    fn abandon_rating(&mut self, fx: &mut Vec<Effect>) {
        match self.citizen {
            Citizen::Rating(Some(rating::Stage::Complaint { .. })) => {
                fx.push(Effect::StopTyping);
                self.citizen = Citizen::Plate;
            }
            Citizen::Rating(_) | Citizen::Thanks => self.citizen = Citizen::Plate,
            _ => {}
        }
    }

    fn citizen_act(&mut self, act: CitizenAct) -> Vec<Effect> {
        match (&self.citizen, act) {
            (Citizen::Confirm, CitizenAct::Confirm(ok)) => {
                self.confirmed = Some(ok);
                self.citizen = self.rest();
                Vec::new()
            }
            (Citizen::Sign { .. }, CitizenAct::Inked) => {
                self.citizen = Citizen::Sign { too_short: false };
                Vec::new()
            }
            (Citizen::Sign { .. }, CitizenAct::ClearInk) => {
                self.citizen = Citizen::Sign { too_short: false };
                vec![Effect::ClearInk]
            }
            (Citizen::Sign { .. }, CitizenAct::SignDone { enough: false }) => {
                self.citizen = Citizen::Sign { too_short: true };
                Vec::new()
            }
            (Citizen::Sign { .. }, CitizenAct::SignDone { enough: true }) => match &self.ticket {
                Some(t) => vec![Effect::KeepSignature {
                    ticket: t.clone(),
                    staff: self.staff(),
                    case_number: self.case_number.clone(),
                }],
                None => Vec::new(),
            },
            (Citizen::Rating(None), CitizenAct::Rate(n)) => match Level::from_score(n) {
                Some(level) => {
                    self.citizen = Citizen::Rating(Some(rating::start(level)));
                    Vec::new()
                }
                None => Vec::new(),
            },
            (Citizen::Rating(Some(stage)), act) => {
                let input = match act {
                    CitizenAct::RatingTag(t) => rating::Input::Tag(t),
                    CitizenAct::RatingNext => rating::Input::Next,
                    CitizenAct::RatingBack => rating::Input::Back,
                    CitizenAct::Complained => rating::Input::Complained,
                    _ => return Vec::new(),
                };
                let ctx = rating::Context {
                    satisfied_tags: &self.satisfied_tags,
                    unsatisfied_tags: &self.unsatisfied_tags,
                };
                let Some((next, effects)) = rating::step(stage, input, &ctx) else {
                    // Back from the tags: the levels again.
                    self.citizen = Citizen::Rating(None);
                    return Vec::new();
                };
                let mut fx = Vec::new();
                for e in effects {
                    match e {
                        rating::Effect::StartTyping => fx.push(Effect::StartTyping),
                        rating::Effect::StopTyping => fx.push(Effect::StopTyping),
                        rating::Effect::Submit {
                            level,
                            tags,
                            complaint,
                        } => {
                            let Some(t) = self.ratable().cloned() else {
                                continue;
                            };
                            self.rating_for = Some(t.number.clone());
                            let case_number = self.case_of(&t);
                            fx.push(Effect::Rate(RatingDraft {
                                ticket: t,
                                staff: self.staff(),
                                case_number,
                                level,
                                tags,
                                complaint,
                            }));
                        }
                    }
                }
                // Thanks waits for the rating to be kept.
                if next != rating::Stage::Thanks {
                    self.citizen = Citizen::Rating(Some(next));
                }
                fx
            }
            _ => Vec::new(),
        }
    }

    fn kept(&mut self, what: Kept, result: Result<(), DeskProblem>) -> Vec<Effect> {
        match (what, result) {
            (Kept::Signature, Ok(())) => {
                self.signed = true;
                self.done = Some("signed");
                self.citizen = self.rest();
                vec![Effect::ClearInk]
            }
            (Kept::Rating, Ok(())) => {
                if let Some(n) = self.rating_for.take() {
                    self.rated.push(n);
                    // A day's worth of numbers is enough to refuse a second rating.
                    if self.rated.len() > 500 {
                        self.rated.remove(0);
                    }
                }
                self.done = Some("rated");
                self.citizen = Citizen::Thanks;
                vec![Effect::ThanksTimer, Effect::Prompt(VoicePrompt::Thanks)]
            }
            (Kept::Slip, Ok(())) => {
                self.pending = None;
                self.done = Some("printed");
                Vec::new()
            }
            (Kept::Material, Ok(())) => {
                self.pending = None;
                self.materials += 1;
                self.done = Some("captured");
                Vec::new()
            }
            (Kept::Material, Err(p)) => {
                self.pending = None;
                self.problem = Some(p);
                Vec::new()
            }
            (Kept::Rating, Err(p)) => {
                // The citizen is thanked all the same; the clerk sees that it was not kept.
                self.rating_for = None;
                self.problem = Some(p);
                self.citizen = Citizen::Thanks;
                vec![Effect::ThanksTimer, Effect::Prompt(VoicePrompt::Thanks)]
            }
            (Kept::Slip, Err(p)) => {
                self.pending = None;
                self.problem = Some(p);
                Vec::new()
            }
            (Kept::Signature, Err(p)) => {
                self.problem = Some(p);
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
