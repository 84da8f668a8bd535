//! The technicians' admin mode, as a pure state machine: which page shows (the devices, one
//! device's diagnostics, the masked log, the journal's backlog and dead letters, the
//! configuration in force, the network check, the supplies) and which action runs. The host
//! loads each page's figures and carries out the actions on the devices the admin mode holds;
//! one action runs at a time, and its result shows until the next.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Devices,
    /// One device's health, sub-status and test actions.
    Device(String),
    Logs,
    Journal,
    Config,
    Network,
    Supplies,
}

impl Page {
    pub fn screen(&self) -> &'static str {
        match self {
            Page::Devices => "device-status",
            Page::Device(_) => "admin-device",
            Page::Logs => "admin-logs",
            Page::Journal => "admin-journal",
            Page::Config => "admin-config",
            Page::Network => "admin-network",
            Page::Supplies => "admin-supplies",
        }
    }

    /// The pages the admin mode's tabs open, by the names the UI sends.
    pub fn by_tab(name: &str) -> Option<Page> {
        Some(match name {
            "devices" => Page::Devices,
            "logs" => Page::Logs,
            "journal" => Page::Journal,
            "config" => Page::Config,
            "network" => Page::Network,
            "supplies" => Page::Supplies,
            _ => return None,
        })
    }
}

/// What the technician asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A device test by its name in the diagnostics catalogue (`print-test`, `read-card` …).
    Test { device: String, test: String },
    /// Send a dead letter (or all of them) to the centre again.
    RetryDead(Option<u64>),
    /// A roll or tray was replaced: its counter starts again.
    ResetSupply(String),
    /// Reach the centre now: reachability, TLS and the clock's skew.
    CheckNetwork,
}

impl Action {
    /// The page the action belongs to: it runs only there.
    fn page_ok(&self, page: &Page) -> bool {
        match (self, page) {
            (Action::Test { device, .. }, Page::Device(d)) => device == d,
            (Action::RetryDead(_), Page::Journal) => true,
            (Action::ResetSupply(_), Page::Supplies) => true,
            (Action::CheckNetwork, Page::Network) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Open(Page),
    Do(Action),
    /// The running action finished (its result is the host's).
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Load the figures the page shows.
    Load(Page),
    Run(Action),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub page: Page,
    /// The action running now; pages do not change under it.
    pub running: Option<Action>,
}

pub fn start() -> (Stage, Vec<Effect>) {
    (
        Stage {
            page: Page::Devices,
            running: None,
        },
        vec![Effect::Load(Page::Devices)],
    )
}

pub fn step(stage: &Stage, input: Input) -> (Stage, Vec<Effect>) {
    let mut next = stage.clone();
    let mut fx = Vec::new();
    match input {
        Input::Open(page) => {
            if stage.running.is_none() {
                fx.push(Effect::Load(page.clone()));
                next.page = page;
            }
        }
        Input::Do(action) => {
            if stage.running.is_none() && action.page_ok(&stage.page) {
                next.running = Some(action.clone());
                fx.push(Effect::Run(action));
            }
        }
        Input::Done => {
            if next.running.take().is_some() {
                // The page's figures may have changed (a counter reset, a letter resent).
                fx.push(Effect::Load(stage.page.clone()));
            }
        }
    }
    (next, fx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(device: &str, t: &str) -> Action {
        Action::Test {
            device: device.into(),
            test: t.into(),
        }
    }

    #[test]
    fn pages_open_and_load() {
        let (s, fx) = start();
        assert_eq!(s.page.screen(), "device-status");
        assert_eq!(fx, vec![Effect::Load(Page::Devices)]);
        for tab in [
            "logs", "journal", "config", "network", "supplies", "devices",
        ] {
            let page = Page::by_tab(tab).unwrap();
            let (s2, fx) = step(&s, Input::Open(page.clone()));
            assert_eq!(s2.page, page);
            assert_eq!(fx, vec![Effect::Load(page.clone())]);
            assert!(s2.page.screen().starts_with("admin-") || tab == "devices");
        }
        assert_eq!(Page::by_tab("nothing"), None);
    }

    #[test]
    fn an_action_runs_only_on_its_page_and_one_at_a_time() {
        let (s, _) = start();
        // Not on the devices list: a test belongs to its device's page.
        assert_eq!(step(&s, Input::Do(test("printer", "print-test"))).1, vec![]);
        let (s, _) = step(&s, Input::Open(Page::Device("printer".into())));
        assert_eq!(step(&s, Input::Do(test("reader", "read-card"))).1, vec![]);
        let (s, fx) = step(&s, Input::Do(test("printer", "print-test")));
        assert_eq!(fx, vec![Effect::Run(test("printer", "print-test"))]);
        // While it runs, no second action and no page change.
        assert_eq!(step(&s, Input::Do(test("printer", "status"))).1, vec![]);
        let (same, fx) = step(&s, Input::Open(Page::Logs));
        assert_eq!((same.page.clone(), fx), (s.page.clone(), vec![]));
        let (s, fx) = step(&s, Input::Done);
        assert_eq!(s.running, None);
        assert_eq!(fx, vec![Effect::Load(Page::Device("printer".into()))]);
        // A stray Done changes nothing.
        assert_eq!(step(&s, Input::Done), (s.clone(), vec![]));
        for (page, action) in [
            (Page::Journal, Action::RetryDead(Some(3))),
            (Page::Journal, Action::RetryDead(None)),
            (Page::Supplies, Action::ResetSupply("printer".into())),
            (Page::Network, Action::CheckNetwork),
        ] {
            let (s, _) = step(&s, Input::Open(page.clone()));
            assert_eq!(
                step(&s, Input::Do(action.clone())).1,
                vec![Effect::Run(action.clone())]
            );
            let (elsewhere, _) = step(&s, Input::Open(Page::Config));
            assert_eq!(step(&elsewhere, Input::Do(action)).1, vec![]);
        }
    }
}
