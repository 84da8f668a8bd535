//! The composition root: the one place that knows every piece. `Terminal::start` brings up the
//! devices, the journal and its recorder, the centre (embedded or remote) and the background
//! work as named, supervised tasks; `Terminal::stop` takes them down in order — stop event,
//! tasks, journal, last upload, centre, devices — exactly once, whoever asks first (a signal,
//! a failed vital task, the window closing, or the display going away).

pub mod display;
pub mod operations;
pub mod screen;
pub mod systemd;
pub mod tasks;
pub mod update_install;

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use kiosk_central::CentreHandle;
use kiosk_hal::clock::SharedClock;
use kiosk_protocol::{Event, EventKind};
use tokio::sync::watch;

use crate::centre::commands::RemoteCommands;
use crate::centre::documents::DocumentSync;
use crate::centre::health::CentreLink;
use crate::centre::identity::DeviceIdentity;
use crate::centre::sync::SyncClient;
use crate::centre::tls::PinnedCa;
use crate::centre::{BlockingCentre, CentreClient};
use crate::config::{Config, Profile};
use crate::flows::host::{Host, HostConfig};
use crate::journal::attachments::AttachmentStore;
use crate::journal::outbox::OutboxCounts;
use crate::journal::recorder::Recorder;
use crate::journal::{Journal, Outbox};
use crate::runtime::Runtime;
use crate::services::outputs::OutputDesk;
use tasks::{task, OnFailure, Supervisor};

/// How the terminal ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StopReport {
    pub outbox: Option<OutboxCounts>,
    /// Events that could not be journaled (the disk kept failing).
    pub lost_events: u64,
}

/// The parts that are taken down once.
struct Running {
    supervisor: Supervisor,
    recorder: Recorder,
    embedded: Option<CentreHandle>,
}

pub struct Terminal {
    pub config: Config,
    pub profile: Profile,
    pub runtime: Arc<Runtime>,
    pub journal: Journal,
    pub centre: CentreClient,
    pub desk: OutputDesk,
    /// The journeys' host: what the screens show and where touches go.
    pub host: Arc<Host>,
    /// A window unit's desk (`[terminal] role = "window"`): the caller and citizen screen.
    pub window_unit: Option<crate::flows::window_host::DeskHost>,
    /// The centre's health, as the status screen shows it.
    pub link: watch::Receiver<CentreLink>,
    /// Set with a reason when a vital task failed and the terminal must stop.
    stop_request: watch::Receiver<Option<String>>,
    tokio: tokio::runtime::Runtime,
    running: Mutex<Option<Running>>,
    stopped: Mutex<Option<StopReport>>,
    /// Where the embedded centre listened while it is taken down.
    embedded_addr: Mutex<Option<String>>,
    /// The local device API for browser business systems (`[gateway]`), and its kiosk browser.
    gateway: Mutex<Option<crate::gateway::GatewayHandle>>,
    gateway_url: Option<String>,
    browser: Mutex<Option<crate::gateway::browser::KioskBrowser>>,
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kiosk-rt")
        .build()
        .context("starting the async runtime")
}

impl Terminal {
    /// Starts everything `config` describes, in `profile`.
    pub fn start(
        config: Config,
        profile: Profile,
        clock: SharedClock,
    ) -> anyhow::Result<Arc<Terminal>> {
        let clock_for_flows = clock.clone();
        // A CA that cannot be read stops the start before anything runs.
        if let Some(p) = config.centre_ca() {
            PinnedCa::load(&p)?;
        }
        let tokio = tokio_runtime()?;
        let runtime = Arc::new(Runtime::start(&config, profile, clock.clone())?);
        let mut outbox = Outbox::open(
            &config.data_dir().join("outbox.db"),
            &config.terminal.id,
            clock,
        )
        .context("opening the outbox")?;
        // Outputs the last run sent but never saw confirmed are closed as interrupted first.
        let interrupted = outbox
            .reconcile_interrupted()
            .context("reconciling unconfirmed device actions")?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "device actions from the last run were never confirmed"
            );
        }
        let journal = Journal::new(outbox);
        let recorder = Recorder::start(runtime.events.record_lane(), journal.clone());
        let recording = recorder.alive();
        let recording_for_watchdog = recording.clone();
        runtime.events.emit(
            Event::new(EventKind::TerminalStarted, runtime.events.now())
                .field("terminal", config.terminal.id.clone())
                .field("profile", format!("{profile:?}").to_lowercase()),
        );
        // The configuration in force is a sensitive fact: audited with the file's hash.
        let config_sha256 = std::fs::read(&config.source)
            .map(|b| hex::encode(Sha256::digest(&b)))
            .unwrap_or_default();
        runtime.events.emit(
            Event::new(EventKind::ConfigLoaded, runtime.events.now())
                .field("path", config.source.display().to_string())
                .field("sha256", config_sha256),
        );
        let embedded = tokio.block_on(crate::centre::embedded::start(&config))?;
        let url = match (&embedded, &config.centre.url) {
            (Some(c), _) => c.base_url(),
            (None, Some(u)) => u.trim_end_matches('/').to_string(),
            (None, None) => anyhow::bail!("no centre: none configured and none embedded"),
        };
        let identity =
            DeviceIdentity::load(&config.data_dir().join("device.key"), &config.terminal.id)?
                .map(Arc::new);
        if identity.is_none() && config.centre.url.is_some() {
            tracing::warn!(
                "this terminal is not enrolled (kiosk enrol --code …): its requests go unsigned"
            );
        }
        let mut centre = CentreClient::for_config(&config, &url)?;
        if let Some(id) = identity {
            centre = centre.with_identity(id);
        }
        let desk = OutputDesk {
            rt: runtime.clone(),
            journal: journal.clone(),
            centre: Some(BlockingCentre::new(centre.clone(), tokio.handle().clone())),
            seal_offline: config.outputs.seal_offline,
            timeout: Duration::from_secs(60),
        };
        let mut extra_keys = Vec::new();
        if embedded.is_some() {
            match tokio.block_on(crate::centre::embedded::publish_sample_catalogue(
                &config, &centre, &journal,
            )) {
                Ok(Some(k)) => extra_keys.push(k),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "the sample catalogue was not published")
                }
            }
        }
        let (link_tx, link) = watch::channel(CentreLink::connecting(&url));
        let (stop_tx, stop_request) = watch::channel(None);
        let mut supervisor =
            Supervisor::new(tokio.handle().clone(), runtime.events.clone(), stop_tx);
        // Every device is polled once before anything reports on them (the first heartbeat).
        runtime.poll_all();
        // Without its recorder the terminal could not keep its promises: watch it.
        supervisor.spawn(
            "journal-recorder",
            OnFailure::StopTerminal,
            move |mut stop| {
                let recording = recording.clone();
                task(async move {
                    loop {
                        if !recording.load(std::sync::atomic::Ordering::SeqCst) {
                            return Err("the recorder thread ended".into());
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                            _ = stop.wait_for(|s| *s) => return Ok(()),
                        }
                    }
                })
            },
        );
        operations::spawn_watchdog(&mut supervisor, recording_for_watchdog);
        spawn_tasks(
            &mut supervisor,
            Parts {
                config: &config,
                runtime: &runtime,
                journal: &journal,
                centre: &centre,
                desk: &desk,
            },
            link_tx,
            extra_keys,
        )?;
        let clock_for_desk = clock_for_flows.clone();
        let embedded_for_desk = embedded.is_some();
        let host = Arc::new(Host::start(HostConfig {
            config: config.clone(),
            runtime: runtime.clone(),
            desk: desk.clone(),
            journal: journal.clone(),
            clock: clock_for_flows,
            link: link.clone(),
        })?);
        let window_unit = match config.terminal.role {
            crate::config::Role::Window => Some(crate::flows::window_host::DeskHost::start(
                crate::flows::window_host::DeskHostConfig {
                    config: config.clone(),
                    runtime: runtime.clone(),
                    desk: desk.clone(),
                    journal: journal.clone(),
                    clock: clock_for_desk,
                    set_up_window: embedded_for_desk,
                },
            )?),
            crate::config::Role::Kiosk => None,
        };
        // The citizens' journeys do not depend on the gateway: a port another program holds
        // is reported, and the kiosk serves on without the local device API.
        let gateway = match tokio.block_on(crate::gateway::start(
            &config,
            runtime.clone(),
            desk.clone(),
            window_unit.clone(),
            journal.clone(),
        )) {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the local device API did not start");
                runtime.events.emit(
                    Event::new(EventKind::TaskFailed, runtime.events.now())
                        .field("task", "gateway")
                        .field("error", format!("{e:#}")),
                );
                None
            }
        };
        let gateway_url = gateway.as_ref().map(|g| g.base_url());
        let browser = match &config.gateway {
            Some(g) if g.mode == crate::config::GatewayMode::Kiosk => {
                g.kiosk_url.as_ref().map(|url| {
                    crate::gateway::browser::KioskBrowser::start(
                        g.chromium.clone(),
                        url.clone(),
                        config.data_dir().join("chromium"),
                    )
                })
            }
            _ => None,
        };
        operations::spawn_update_gate(&mut supervisor, &config, &runtime, &journal, host.clone());
        update_install::spawn_update_installer(&mut supervisor, &config, &runtime, host.clone());
        Ok(Arc::new(Terminal {
            config,
            profile,
            runtime,
            journal,
            centre,
            desk,
            host,
            window_unit,
            link,
            stop_request,
            tokio,
            running: Mutex::new(Some(Running {
                supervisor,
                recorder,
                embedded,
            })),
            stopped: Mutex::new(None),
            embedded_addr: Mutex::new(None),
            gateway: Mutex::new(gateway),
            gateway_url,
            browser: Mutex::new(browser),
        }))
    }

    /// The line `kiosk run` prints once it is up.
    /// Takes the embedded centre off the network (a hall's link going down), keeping its
    /// database; `embedded_centre_up` brings it back on the same address. For tours and
    /// tests of the offline paths; a terminal with a remote centre has nothing to take down.
    pub fn embedded_centre_down(&self) -> anyhow::Result<()> {
        let handle = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running.as_mut().and_then(|r| r.embedded.take())
        };
        let handle = handle.ok_or_else(|| anyhow::anyhow!("no embedded centre is running"))?;
        let addr = handle.base_url().trim_start_matches("http://").to_string();
        self.tokio.block_on(handle.stop())?;
        *self.embedded_addr.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
        Ok(())
    }

    pub fn embedded_centre_up(&self) -> anyhow::Result<()> {
        let addr = self
            .embedded_addr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| anyhow::anyhow!("the embedded centre was not taken down"))?;
        let db = self.config.data_dir().join("central").join("central.db");
        let store = kiosk_central::SqliteStore::open(&db)?;
        let handle = self.tokio.block_on(CentreHandle::start(&addr, store))?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.as_mut() {
            Some(r) => r.embedded = Some(handle),
            None => {
                drop(running);
                self.tokio.block_on(handle.stop())?;
                anyhow::bail!("the terminal is stopping");
            }
        }
        Ok(())
    }

    /// Uploads what the outbox holds now, once (what the sync task does on its own schedule).
    pub fn sync_now(&self) -> anyhow::Result<()> {
        let up = uploader(&self.centre, &self.config);
        let journal = self.journal.clone();
        self.tokio
            .block_on(async move { up.drain(&journal).await })?;
        Ok(())
    }

    /// The local device API's address (`http://127.0.0.1:5846`), when `[gateway]` is set.
    pub fn gateway_url(&self) -> Option<&str> {
        self.gateway_url.as_deref()
    }

    pub fn ready_line(&self) -> serde_json::Value {
        serde_json::json!({
            "ready": true,
            "terminal": self.config.terminal.id,
            "profile": format!("{:?}", self.profile).to_lowercase(),
            "centre": self.centre.base(),
            "gateway": self.gateway_url,
            "devices": self.runtime.snapshot().iter().map(|d| serde_json::json!({"id": d.id, "health": d.health})).collect::<Vec<_>>(),
        })
    }

    pub fn handle(&self) -> tokio::runtime::Handle {
        self.tokio.handle().clone()
    }

    /// Waits for SIGTERM, Ctrl-C or a vital task's failure; returns the failure, if that was it.
    pub fn wait(&self, term: Option<tokio::signal::unix::Signal>) -> Option<String> {
        let mut req = self.stop_request.clone();
        self.tokio.block_on(async move {
            tokio::select! {
                _ = wait_for_shutdown_signal(term) => None,
                r = req.wait_for(|r| r.is_some()) => r.ok().and_then(|r| r.clone()),
            }
        })
    }

    /// A receiver that turns `Some(reason)` when a vital task failed.
    pub fn stop_requests(&self) -> watch::Receiver<Option<String>> {
        self.stop_request.clone()
    }

    /// Listens for SIGTERM; made before the ready line, so a stop right after it is not missed.
    pub fn sigterm(&self) -> Option<tokio::signal::unix::Signal> {
        let _guard = self.tokio.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
    }

    /// Stops everything in order, once; later calls return the first stop's report. Safe to call
    /// from any thread that is not one of the terminal's async tasks.
    pub fn stop(&self) -> StopReport {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = stopped.as_ref() {
            return r.clone();
        }
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let mut lost_events = 0;
        if let Some(Running {
            supervisor,
            recorder,
            embedded,
        }) = running
        {
            self.runtime.events.emit(Event::new(
                EventKind::TerminalStopping,
                self.runtime.events.now(),
            ));
            // Pages lose the devices first: the browser closes, the gateway stops taking calls.
            drop(
                self.browser
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take(),
            );
            let gateway = self
                .gateway
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(g) = gateway {
                self.tokio.block_on(g.stop());
            }
            // A citizen's session ends first: its devices are released, its data wiped.
            self.host.stop();
            if let Some(w) = &self.window_unit {
                w.stop();
            }
            self.tokio.block_on(supervisor.stop(Duration::from_secs(5)));
            // Everything emitted so far, the stop event included, goes into the outbox first.
            self.runtime.events.close_record_lane();
            lost_events = recorder.finish().lost;
            // One last upload while the centre is still up; what does not go now goes next start.
            let last = uploader(&self.centre, &self.config);
            let journal = self.journal.clone();
            let drained = self.tokio.block_on(async move {
                tokio::time::timeout(Duration::from_secs(3), last.drain(&journal)).await
            });
            match drained {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "final upload failed; the outbox keeps the events")
                }
                Err(_) => tracing::warn!("final upload timed out; the outbox keeps the events"),
            }
            if let Some(c) = embedded {
                if let Err(e) = self.tokio.block_on(c.stop()) {
                    tracing::warn!(error = %e, "stopping the embedded central service");
                }
            }
            self.runtime.shutdown();
        }
        let report = StopReport {
            outbox: self.journal.lock().counts().ok(),
            lost_events,
        };
        *stopped = Some(report.clone());
        report
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The attachment store in `config`'s data directory, sealing files with the configured
/// cipher under the terminal's at-rest key.
pub fn attachment_store(config: &Config) -> std::io::Result<AttachmentStore> {
    let sealer = crate::journal::sealed::Sealer::open(
        &crate::journal::sealed::keys_dir(&config.data_dir()),
        config.outbox.at_rest,
    )
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    AttachmentStore::open_sealed(&config.data_dir().join("attachments"), sealer)
}

/// A sync client that uploads the attachments in `config`'s data directory with the events.
fn uploader(centre: &CentreClient, config: &Config) -> SyncClient {
    let sync = SyncClient::new(centre.clone(), 200);
    match attachment_store(config) {
        Ok(store) => sync.with_attachments(store),
        Err(e) => {
            tracing::error!(error = %e, "attachment store unavailable; uploading events only");
            sync
        }
    }
}

/// What the background tasks work on.
struct Parts<'a> {
    config: &'a Config,
    runtime: &'a Arc<Runtime>,
    journal: &'a Journal,
    centre: &'a CentreClient,
    desk: &'a OutputDesk,
}

fn spawn_tasks(
    sup: &mut Supervisor,
    parts: Parts<'_>,
    link_tx: watch::Sender<CentreLink>,
    extra_keys: Vec<kiosk_protocol::signing::PublicKey>,
) -> anyhow::Result<()> {
    let Parts {
        config,
        runtime,
        journal,
        centre,
        desk,
    } = parts;
    {
        let (client, bus) = (centre.clone(), runtime.events.clone());
        let every = Duration::from_secs(config.centre.health_interval_s);
        let link_tx = Arc::new(link_tx);
        sup.spawn("centre-health", OnFailure::Restart, move |mut stop| {
            let (client, bus, tx) = (client.clone(), bus.clone(), link_tx.clone());
            task(async move {
                tokio::select! {
                    _ = crate::centre::health::watch_health(client, every, bus, (*tx).clone()) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
                Ok(())
            })
        });
    }
    {
        let sync = uploader(centre, config);
        let journal = journal.clone();
        sup.spawn("event-sync", OnFailure::Restart, move |stop| {
            let (sync, journal) = (sync.clone(), journal.clone());
            task(async move {
                sync.run(journal, Duration::from_secs(2), stop).await;
                Ok(())
            })
        });
    }
    {
        let commands = RemoteCommands::new(
            centre.clone(),
            runtime.clone(),
            journal.clone(),
            desk.clone(),
        )
        .with_attachments(attachment_store(config)?)
        .with_data_dir(config.data_dir())
        .with_restart(sup.stop_terminal());
        // Update bundles answer to the configured publisher keys only, as `kiosk update
        // install` does (not the embedded centre's own catalogue key).
        let commands = match &config.update {
            Some(u) => commands.with_updates(u.base.clone(), config.centre.trusted_keys()),
            None => commands,
        };
        let every = Duration::from_secs(config.centre.command_interval_s);
        sup.spawn("remote-commands", OnFailure::Restart, move |stop| {
            let commands = commands.clone();
            task(async move {
                commands.run(every, stop).await;
                Ok(())
            })
        });
    }
    let mut trusted: Vec<kiosk_protocol::signing::PublicKey> = config
        .centre
        .publisher_keys
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect();
    trusted.extend(extra_keys);
    if trusted.is_empty() {
        tracing::info!(
            "no publisher key pinned: signed configuration and catalogue are not fetched"
        );
    } else {
        let documents = DocumentSync::new(centre.clone(), trusted, journal.clone());
        let every = Duration::from_secs(config.centre.command_interval_s);
        sup.spawn("documents", OnFailure::Restart, move |stop| {
            let documents = documents.clone();
            task(async move {
                documents.run(every, stop).await;
                Ok(())
            })
        });
    }
    {
        let (runtime, journal, sync) = (
            runtime.clone(),
            journal.clone(),
            SyncClient::new(centre.clone(), 1),
        );
        let terminal = config.terminal.id.clone();
        let every = Duration::from_secs(config.centre.heartbeat_interval_s);
        sup.spawn("heartbeat", OnFailure::Restart, move |mut stop| {
            let (runtime, journal, sync, terminal) = (
                runtime.clone(),
                journal.clone(),
                sync.clone(),
                terminal.clone(),
            );
            task(async move {
                loop {
                    let (counts, head, docs) = journal
                        .with(|o| (o.counts(), o.audit_head(), o.document_versions()))
                        .await;
                    let counts = counts.unwrap_or_default();
                    let mut hb =
                        runtime.heartbeat(&terminal, counts.pending + counts.sent, counts.dead);
                    hb.audit_head = head.ok().flatten();
                    hb.documents = docs.unwrap_or_default();
                    if let Err(e) = sync.heartbeat(&hb).await {
                        tracing::debug!(error = %e, "heartbeat not delivered");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = stop.wait_for(|s| *s) => return Ok(()),
                    }
                }
            })
        });
    }
    {
        let journal = journal.clone();
        let files = attachment_store(config)?;
        let retention = chrono::Duration::days(i64::from(config.outbox.retention_days));
        let audit = chrono::Duration::days(i64::from(config.outbox.audit_days));
        sup.spawn(
            "journal-maintenance",
            OnFailure::Restart,
            move |mut stop| {
                let (journal, files) = (journal.clone(), files.clone());
                task(async move {
                    loop {
                        let files = files.clone();
                        journal
                            .with(move |ob| {
                                if let Err(e) = ob.purge_personal_data(retention, Some(&files)) {
                                    tracing::error!(error = %e, "personal-data purge failed");
                                }
                                if let Err(e) = ob.compact(audit) {
                                    tracing::error!(error = %e, "outbox compaction failed");
                                }
                            })
                            .await;
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                            _ = stop.wait_for(|s| *s) => return Ok(()),
                        }
                    }
                })
            },
        );
    }
    operations::spawn_usb_guard(sup, config, runtime);
    Ok(())
}

/// SIGTERM or Ctrl-C.
pub async fn wait_for_shutdown_signal(term: Option<tokio::signal::unix::Signal>) {
    match term {
        Some(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
            }
        }
        None => {
            tracing::error!("cannot listen for SIGTERM; Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
