//! `kiosk`: the HallKit terminal runtime and its bench tools.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kiosk_app::centre_link::{self, CentreLink};
use kiosk_app::config::{Config, Profile};
use kiosk_app::outbox::Outbox;
use kiosk_app::sync::SyncClient;
use kiosk_app::{devctl, logging, screen, simulate, Runtime};
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::{Event, EventKind};

#[derive(Parser)]
#[command(
    name = "kiosk",
    version,
    about = "HallKit government service hall terminal runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// The terminal's configuration file.
    #[arg(
        long,
        env = "HALLKIT_CONFIG",
        default_value = "/etc/hallkit/kiosk.toml"
    )]
    config: PathBuf,
    /// Override the config's profile (sim: every device simulated in-process).
    #[arg(long)]
    profile: Option<Profile>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the terminal: devices, the central service link and the screen.
    Run {
        #[command(flatten)]
        common: Common,
        /// Do not open a window even when a display exists.
        #[arg(long)]
        headless: bool,
    },
    /// Exercise configured devices from the command line (prints JSON).
    Devctl {
        #[command(flatten)]
        common: Common,
        /// Use another serial port for a device: ID=PATH (repeatable).
        #[arg(long = "port", value_name = "ID=PATH")]
        ports: Vec<String>,
        /// How long a device action may take.
        #[arg(long, default_value_t = 15_000)]
        timeout_ms: u64,
        /// list | status [ID] | self-test ID | actions ID | sim ID WHAT [K=V…] | ID ACTION [K=V…]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Render a screen to PNG with the software renderer.
    Screenshot {
        /// home | device-status | help
        screen: String,
        out: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Portrait 1080×1920 instead of the configured orientation.
        #[arg(long)]
        portrait: bool,
        /// zh-CN or en (default: the configured language).
        #[arg(long)]
        lang: Option<String>,
    },
    /// Run one device's simulator on a pseudo-terminal; stimulus lines come on stdin.
    Simulate {
        id: String,
        #[command(flatten)]
        common: Common,
        /// Directory for the simulator's port link.
        #[arg(long, default_value = "/tmp/hallkit-sim")]
        dir: PathBuf,
    },
    /// Crash-test the outbox: queue synthetic events one transaction at a time, printing each
    /// committed sequence number, and upload them to a centre every few events. Meant to be
    /// killed at random points (tests/crash.rs does, hundreds of times).
    OutboxStress {
        /// The outbox database.
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value = "KSK-STRESS")]
        device: String,
        /// The centre to upload to.
        #[arg(long)]
        centre: String,
        /// How many events to queue before draining and exiting.
        #[arg(long, default_value_t = 100)]
        events: u64,
    },
    /// Enrol this terminal with the centre of its configuration: make its key pair (kept in
    /// the data directory) and register the public key against a one-time code.
    Enrol {
        #[command(flatten)]
        common: Common,
        /// The one-time code from `kiosk-central enrol-code`.
        #[arg(long)]
        code: String,
        #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "sm2"])]
        algorithm: String,
    },
    /// The document pipeline on photo files.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// The face check on pictures or a configured face camera (prints JSON).
    Face {
        #[command(subcommand)]
        command: FaceCommand,
    },
    /// Cameras on this machine.
    Camera {
        #[command(subcommand)]
        command: CameraCommand,
    },
    /// Validate a configuration file and exit.
    CheckConfig {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Find the page, correct perspective and skew, turn it upright, enhance. Several inputs
    /// make one PDF.
    Scan {
        /// Photo(s), then the output (.jpg, .png or .pdf).
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        /// colour | grey | bw | none
        #[arg(long, default_value = "colour")]
        mode: kiosk_image::Enhancement,
        /// Largest JPEG per page, in KB (the highest quality that fits is chosen).
        #[arg(long)]
        max_kb: Option<usize>,
        /// Keep the page as it lies instead of turning it upright.
        #[arg(long)]
        no_orient: bool,
    },
    /// Front and back of an ID card on one A4 page at true size, with a watermark.
    Idcopy {
        front: PathBuf,
        back: PathBuf,
        /// .jpg, .png or .pdf
        out: PathBuf,
        #[arg(long)]
        watermark: String,
        #[arg(long, default_value_t = 300.0)]
        dpi: f32,
    },
}

#[derive(Subcommand)]
enum FaceCommand {
    /// Compare the person in probe picture(s), or in front of a configured camera, with an ID
    /// card photo.
    Verify {
        /// The card photo (the decoded 102×126 portrait, or any portrait).
        #[arg(long)]
        card: PathBuf,
        /// Picture(s) of the person; without it, the configured face camera is used.
        #[arg(long)]
        probe: Vec<PathBuf>,
        /// An IR picture to pair with every probe (binocular cameras).
        #[arg(long)]
        ir: Option<PathBuf>,
        /// The face camera's device id (with --config), when no probe is given.
        #[arg(long)]
        camera: Option<String>,
        /// The model directory (default: the config's `[face] models`).
        #[arg(long)]
        models: Option<PathBuf>,
        #[arg(long, value_parser = ["tract", "opencv-dnn"])]
        backend: Option<String>,
        /// Cosine threshold (default: the manifest's).
        #[arg(long)]
        threshold: Option<f32>,
        #[command(flatten)]
        common: Common,
    },
    /// Check the model directory against the manifest and load every model.
    CheckModels {
        #[arg(long)]
        models: PathBuf,
        #[arg(long, default_value = "tract", value_parser = ["tract", "opencv-dnn"])]
        backend: String,
    },
}

#[derive(Subcommand)]
enum CameraCommand {
    /// V4L2 capture nodes with their names and USB ids.
    List,
}

fn backend(name: &str) -> kiosk_models::BackendKind {
    if name == "opencv-dnn" {
        kiosk_models::BackendKind::OpencvDnn
    } else {
        kiosk_models::BackendKind::Tract
    }
}

fn print_json(result: Result<serde_json::Value, String>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kiosk: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn run_image(command: ImageCommand) -> anyhow::Result<ExitCode> {
    use kiosk_app::imaging;
    print_json(
        match command {
            ImageCommand::Scan {
                mut files,
                mode,
                max_kb,
                no_orient,
            } => {
                let out = files.pop().unwrap_or_default();
                imaging::scan_files(&files, &out, mode, max_kb.map(|k| k * 1024), !no_orient)
            }
            ImageCommand::Idcopy {
                front,
                back,
                out,
                watermark,
                dpi,
            } => imaging::id_copy(&front, &back, &out, &watermark, dpi),
        }
        .map_err(|e| e.to_string()),
    )
}

fn run_face(command: FaceCommand) -> anyhow::Result<ExitCode> {
    use kiosk_app::imaging;
    match command {
        FaceCommand::CheckModels { models, backend: b } => {
            print_json(imaging::check_models(&models, backend(&b)))
        }
        FaceCommand::Verify {
            card,
            probe,
            ir,
            camera,
            models,
            backend: b,
            threshold,
            common,
        } => {
            if !probe.is_empty() {
                let models =
                    models.unwrap_or_else(|| kiosk_app::face::FaceConfig::default().models);
                let b = backend(b.as_deref().unwrap_or("tract"));
                return print_json(
                    imaging::verify_files(&card, &probe, ir.as_deref(), &models, b, threshold)
                        .map_err(|e| e.to_string()),
                );
            }
            with_config(&common, |mut config, profile| {
                if let Some(m) = &models {
                    config.face.models = m.clone();
                }
                if let Some(b) = &b {
                    config.face.backend = backend(b);
                }
                let camera = match camera.clone().or_else(|| {
                    config
                        .devices
                        .iter()
                        .find(|d| d.kind == kiosk_hal::DeviceKind::FaceCamera)
                        .map(|d| d.id.clone())
                }) {
                    Some(c) => c,
                    None => {
                        eprintln!(
                            "kiosk face verify: no --probe and no face camera in {}",
                            config.source.display()
                        );
                        return Ok(ExitCode::from(2));
                    }
                };
                config.devices.retain(|d| d.id == camera);
                let card_photo = kiosk_image::scan::read_image(&card)?;
                let rt = Runtime::start(&config, profile, SystemClock::shared())?;
                rt.poll_all();
                let mut service = kiosk_app::face::FaceService::load(&config.face);
                let mut prompts = Vec::new();
                let v = service.verify(
                    &rt,
                    &camera,
                    &card_photo,
                    &mut |p| {
                        eprintln!("{} / {}", p.zh(), p.en());
                        prompts.push(p);
                    },
                    &std::sync::atomic::AtomicBool::new(false),
                );
                rt.shutdown();
                let mut out = kiosk_app::imaging::verification_json(&v, &prompts);
                out["camera"] = serde_json::json!(camera);
                print_json(Ok(out))
            })
        }
    }
}

fn load(common: &Common) -> Result<(Config, Profile), ExitCode> {
    match Config::load(&common.config) {
        Ok(c) => {
            let p = common.profile.unwrap_or(c.terminal.profile);
            Ok((c, p))
        }
        Err(e) => {
            eprintln!("kiosk: configuration error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { common, headless } => with_config(&common, |c, p| run(c, p, headless)),
        Command::Devctl {
            common,
            ports,
            timeout_ms,
            words,
        } => with_config(&common, |c, p| {
            run_devctl(c, p, &ports, Duration::from_millis(timeout_ms), &words)
        }),
        Command::Screenshot {
            screen,
            out,
            common,
            portrait,
            lang,
        } => with_config(&common, |c, p| {
            run_screenshot(c, p, &screen, &out, portrait, lang.as_deref())
        }),
        Command::Simulate { id, common, dir } => {
            with_config(&common, |c, _| run_simulate(c, &id, &dir))
        }
        Command::OutboxStress {
            db,
            device,
            centre,
            events,
        } => outbox_stress(&db, &device, &centre, events),
        Command::Enrol {
            common,
            code,
            algorithm,
        } => with_config(&common, |c, _| enrol(&c, &code, &algorithm)),
        Command::Image { command } => run_image(command),
        Command::Face { command } => run_face(command),
        Command::Camera {
            command: CameraCommand::List,
        } => print_json(Ok(serde_json::json!(kiosk_drivers::camera::enumerate(
            std::path::Path::new("/sys/class/video4linux")
        )))),
        Command::CheckConfig { common } => with_config(&common, |c, p| {
            println!(
                "{}: valid ({} devices, profile {:?})",
                c.source.display(),
                c.devices.len(),
                p
            );
            Ok(ExitCode::SUCCESS)
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Pins the centre's CA, when the configuration names one, before any client is made.
fn pin_centre_ca(config: &Config) -> anyhow::Result<()> {
    if let Some(ca) = config.centre_ca() {
        kiosk_app::tls::pin_ca_file(&ca)?;
    }
    Ok(())
}

fn enrol(config: &Config, code: &str, algorithm: &str) -> anyhow::Result<ExitCode> {
    pin_centre_ca(config)?;
    use kiosk_app::identity::DeviceIdentity;
    let Some(url) = config.centre.url.as_deref() else {
        eprintln!("kiosk enrol: [centre] url is not set; an embedded centre needs no enrolment");
        return Ok(ExitCode::from(2));
    };
    let path = config.data_dir().join("device.key");
    let id = match DeviceIdentity::load(&path, &config.terminal.id)? {
        Some(id) => id,
        None => {
            let alg = if algorithm == "sm2" {
                kiosk_protocol::signing::Algorithm::Sm2
            } else {
                kiosk_protocol::signing::Algorithm::Ed25519
            };
            DeviceIdentity::create(&path, &config.terminal.id, alg)?
        }
    };
    let e = tokio_runtime()?.block_on(id.enrol(url, code))?;
    println!(
        "{}",
        serde_json::json!({ "enrolled": e.device_id, "key_id": e.key_id, "key_file": path })
    );
    Ok(ExitCode::SUCCESS)
}

fn with_config(
    common: &Common,
    f: impl FnOnce(Config, Profile) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    match load(common) {
        Ok((c, p)) => {
            logging::init(&c.log.level);
            f(c, p)
        }
        Err(code) => Ok(code),
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kiosk-rt")
        .build()
        .context("starting the async runtime")
}

/// SIGTERM or Ctrl-C. The SIGTERM stream is made before the terminal says it is ready, so a
/// stop sent right after that is never missed.
async fn wait_for_shutdown_signal(term: Option<tokio::signal::unix::Signal>) {
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

fn run(config: Config, profile: Profile, headless: bool) -> anyhow::Result<ExitCode> {
    pin_centre_ca(&config)?;
    let tokio = tokio_runtime()?;
    let term = {
        let _guard = tokio.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
    };
    let clock = SystemClock::shared();
    let runtime = Arc::new(Runtime::start(&config, profile, clock.clone())?);
    let outbox = Arc::new(std::sync::Mutex::new(
        Outbox::open(
            &config.data_dir().join("outbox.db"),
            &config.terminal.id,
            clock,
        )
        .context("opening the outbox")?,
    ));
    // Outputs the last run sent but never saw confirmed are closed as interrupted first.
    let interrupted = outbox
        .lock()
        .map_err(|_| anyhow::anyhow!("outbox lock poisoned"))?
        .reconcile_interrupted()
        .context("reconciling unconfirmed device actions")?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "device actions from the last run were never confirmed"
        );
    }
    let (stop_recorder, stop_recorder_rx) = tokio::sync::watch::channel(false);
    let recorder = tokio.spawn(kiosk_app::outbox::record_events(
        &runtime.events,
        outbox.clone(),
        stop_recorder_rx,
    ));
    runtime.events.emit(
        Event::new(EventKind::TerminalStarted, runtime.events.now())
            .field("terminal", config.terminal.id.clone())
            .field("profile", format!("{profile:?}").to_lowercase()),
    );
    let centre = tokio.block_on(centre_link::start_embedded(&config))?;
    let url = match (&centre, &config.centre.url) {
        (Some(c), _) => c.base_url(),
        (None, Some(u)) => u.trim_end_matches('/').to_string(),
        (None, None) => unreachable!("start_embedded starts a centre when no url is configured"),
    };
    let (link, link_task) = {
        let _guard = tokio.enter();
        centre_link::spawn_health_watch(
            url.clone(),
            Duration::from_secs(config.centre.health_interval_s),
            runtime.events.clone(),
        )
    };
    let identity = kiosk_app::identity::DeviceIdentity::load(
        &config.data_dir().join("device.key"),
        &config.terminal.id,
    )?
    .map(Arc::new);
    if identity.is_none() && config.centre.url.is_some() {
        tracing::warn!(
            "this terminal is not enrolled (kiosk enrol --code …): its requests go unsigned"
        );
    }
    let (stop_sync, stop_sync_rx) = tokio::sync::watch::channel(false);
    let attachments_dir = config.data_dir().join("attachments");
    let signed = |c: SyncClient| match &identity {
        Some(id) => c.with_identity(id.clone()),
        None => c,
    };
    let uploader = |batch| -> anyhow::Result<SyncClient> {
        Ok(signed(
            SyncClient::new(&url, &config.terminal.id, batch)?.with_attachments(
                kiosk_app::attachments::AttachmentStore::open(&attachments_dir)?,
            ),
        ))
    };
    let commands_task = tokio.spawn(
        {
            let r = kiosk_app::remote::RemoteCommands::new(
                &url,
                &config.terminal.id,
                runtime.clone(),
                outbox.clone(),
            )?;
            match &identity {
                Some(id) => r.with_identity(id.clone()),
                None => r,
            }
        }
        .run(
            Duration::from_secs(config.centre.command_interval_s),
            stop_sync_rx.clone(),
        ),
    );
    let trusted: Vec<kiosk_protocol::signing::PublicKey> = config
        .centre
        .publisher_keys
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect();
    let documents_task = if trusted.is_empty() {
        tracing::info!(
            "no publisher key pinned: signed configuration and catalogue are not fetched"
        );
        None
    } else {
        Some(
            tokio.spawn(
                {
                    let d = kiosk_app::documents::DocumentSync::new(
                        &url,
                        &config.terminal.id,
                        trusted,
                        outbox.clone(),
                    )?;
                    match &identity {
                        Some(id) => d.with_identity(id.clone()),
                        None => d,
                    }
                }
                .run(
                    Duration::from_secs(config.centre.command_interval_s),
                    stop_sync_rx.clone(),
                ),
            ),
        )
    };
    let sync_task =
        tokio.spawn(uploader(200)?.run(outbox.clone(), Duration::from_secs(2), stop_sync_rx));
    runtime.poll_all();
    let heartbeat_task = {
        let (runtime, outbox) = (runtime.clone(), outbox.clone());
        let client = signed(SyncClient::new(&url, &config.terminal.id, 1)?);
        let terminal = config.terminal.id.clone();
        let every = Duration::from_secs(config.centre.heartbeat_interval_s);
        tokio.spawn(async move {
            loop {
                let counts = outbox
                    .lock()
                    .ok()
                    .and_then(|o| o.counts().ok())
                    .unwrap_or_default();
                let hb = runtime.heartbeat(&terminal, counts.pending + counts.sent, counts.dead);
                if let Err(e) = client.heartbeat(&hb).await {
                    tracing::debug!(error = %e, "heartbeat not delivered");
                }
                tokio::time::sleep(every).await;
            }
        })
    };
    let maintenance_task = {
        let outbox = outbox.clone();
        let files = kiosk_app::attachments::AttachmentStore::open(&attachments_dir)?;
        let retention = chrono::Duration::days(i64::from(config.outbox.retention_days));
        let audit = chrono::Duration::days(i64::from(config.outbox.audit_days));
        tokio.spawn(async move {
            loop {
                if let Ok(mut ob) = outbox.lock() {
                    if let Err(e) = ob.purge_personal_data(retention, Some(&files)) {
                        tracing::error!(error = %e, "personal-data purge failed");
                    }
                    if let Err(e) = ob.compact(audit) {
                        tracing::error!(error = %e, "outbox compaction failed");
                    }
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        })
    };
    let ready = serde_json::json!({
        "ready": true,
        "terminal": config.terminal.id,
        "profile": format!("{profile:?}").to_lowercase(),
        "centre": url,
        "devices": runtime.snapshot().iter().map(|d| serde_json::json!({"id": d.id, "health": d.health})).collect::<Vec<_>>(),
    });
    println!("{ready}");

    // A window that fails still lets the terminal stop in order; the error is the exit status.
    let mut window = Ok(());
    if !headless && screen::display_available() {
        // The window owns the main thread; a signal quits its event loop.
        tokio.spawn(async move {
            wait_for_shutdown_signal(term).await;
            let _ = slint::invoke_from_event_loop(|| {
                let _ = slint::quit_event_loop();
            });
        });
        window = screen::run_window(&config, runtime.clone(), link.clone());
        if let Err(e) = &window {
            tracing::error!(error = %format!("{e:#}"), "the screen failed; stopping the terminal");
        }
    } else {
        if !headless {
            eprintln!(
                "kiosk: no display (neither DISPLAY nor WAYLAND_DISPLAY is set): running headless. \
                 Devices and the central service run; the screen is not shown. \
                 Render it with: kiosk screenshot device-status status.png --config {}",
                config.source.display()
            );
        }
        tokio.block_on(wait_for_shutdown_signal(term));
    }

    runtime.events.emit(Event::new(
        EventKind::TerminalStopping,
        runtime.events.now(),
    ));
    link_task.abort();
    heartbeat_task.abort();
    maintenance_task.abort();
    commands_task.abort();
    if let Some(t) = documents_task {
        t.abort();
    }
    // Everything emitted so far, the stop event included, goes into the outbox first.
    let _ = stop_recorder.send(true);
    let _ = tokio.block_on(recorder);
    // One last upload while the centre is still up; what does not go now goes next start.
    let _ = stop_sync.send(true);
    let _ = tokio.block_on(sync_task);
    let final_upload = uploader(200)?;
    // The timer must be made inside the runtime, hence the async block.
    let drained = tokio.block_on(async {
        tokio::time::timeout(Duration::from_secs(3), final_upload.drain(&outbox)).await
    });
    match drained {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "final upload failed; the outbox keeps the events")
        }
        Err(_) => tracing::warn!("final upload timed out; the outbox keeps the events"),
    }
    if let Some(c) = centre {
        tokio
            .block_on(c.stop())
            .context("stopping the embedded central service")?;
    }
    match Arc::try_unwrap(runtime) {
        Ok(rt) => rt.shutdown(),
        Err(_) => {
            tracing::warn!("runtime still referenced at shutdown; devices stop with the process")
        }
    }
    let counts = outbox.lock().map(|o| o.counts().ok()).ok().flatten();
    println!(
        "{}",
        serde_json::json!({ "stopped": true, "outbox": counts })
    );
    window?;
    Ok(ExitCode::SUCCESS)
}

fn run_devctl(
    mut config: Config,
    profile: Profile,
    ports: &[String],
    timeout: Duration,
    words: &[String],
) -> anyhow::Result<ExitCode> {
    let cmds = match devctl::parse_sequence(words) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiosk devctl: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    // Offline decoding needs no device and no runtime.
    let offline = match cmds.as_slice() {
        [devctl::DevctlCommand::Decode { family, file, args }] => {
            Some(devctl::decode(family, file, args))
        }
        [devctl::DevctlCommand::Render { file, out, args }] => {
            Some(devctl::render(file, out, args))
        }
        _ => None,
    };
    if let Some(result) = offline {
        let (code, v) = match result {
            Ok(v) => (ExitCode::SUCCESS, v),
            Err(v) => (ExitCode::from(1), v),
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(code);
    }
    for p in ports {
        let Some((id, path)) = p.split_once('=') else {
            eprintln!("kiosk devctl: --port {p:?} must be ID=PATH");
            return Ok(ExitCode::from(2));
        };
        match config.devices.iter_mut().find(|d| d.id == id) {
            Some(d) => d.path = Some(path.to_string()),
            None => {
                eprintln!("kiosk devctl: --port names no device {id:?}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    // devctl opens only the devices it is asked about, so unrelated hardware stays untouched.
    let mut wanted: Vec<&str> = Vec::new();
    for cmd in &cmds {
        match cmd {
            devctl::DevctlCommand::List | devctl::DevctlCommand::Status(None) => {
                wanted.clear();
                break;
            }
            devctl::DevctlCommand::Decode { .. } | devctl::DevctlCommand::Render { .. } => {
                eprintln!("kiosk devctl: decode and render cannot be combined with other commands");
                return Ok(ExitCode::from(2));
            }
            devctl::DevctlCommand::SelfTest(id)
            | devctl::DevctlCommand::Actions(id)
            | devctl::DevctlCommand::Sim { id, .. }
            | devctl::DevctlCommand::Action { id, .. }
            | devctl::DevctlCommand::Status(Some(id)) => {
                if !config.devices.iter().any(|d| &d.id == id) {
                    eprintln!(
                        "kiosk devctl: no device {id:?} in {}",
                        config.source.display()
                    );
                    return Ok(ExitCode::from(2));
                }
                wanted.push(id);
            }
        }
    }
    let all = cmds.iter().any(|c| {
        matches!(
            c,
            devctl::DevctlCommand::List | devctl::DevctlCommand::Status(None)
        )
    });
    if !all {
        let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
        config.devices.retain(|d| wanted.contains(&d.id));
    }
    let rt = Runtime::start(&config, profile, SystemClock::shared())?;
    rt.poll_all();
    let mut failed = false;
    let mut outputs = Vec::new();
    for cmd in &cmds {
        match devctl::execute(&rt, cmd, timeout) {
            Ok(v) => outputs.push(v),
            Err(v) => {
                failed = true;
                outputs.push(v);
                break;
            }
        }
    }
    rt.shutdown();
    let out = if outputs.len() == 1 {
        outputs.remove(0)
    } else {
        serde_json::Value::Array(outputs)
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_screenshot(
    config: Config,
    profile: Profile,
    which: &str,
    out: &std::path::Path,
    portrait: bool,
    lang: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let Some(screen_name) = kiosk_ui::ScreenName::parse(which) else {
        eprintln!(
            "kiosk screenshot: unknown screen {which:?}; screens: {}",
            kiosk_ui::ScreenName::NAMES.join(", ")
        );
        return Ok(ExitCode::from(2));
    };
    let lang = match lang {
        Some(l) => kiosk_ui::Language::parse(l)?,
        None => config.language(),
    };
    let portrait = portrait || config.ui.orientation == kiosk_app::config::Orientation::Portrait;
    let tokio = tokio_runtime()?;
    let runtime = Runtime::start(&config, profile, SystemClock::shared())?;
    let centre = tokio.block_on(centre_link::start_embedded(&config))?;
    let url = centre
        .as_ref()
        .map(|c| c.base_url())
        .or_else(|| config.centre.url.clone())
        .unwrap_or_default();
    let (mut link, task) = {
        let _guard = tokio.enter();
        centre_link::spawn_health_watch(url, Duration::from_secs(3600), runtime.events.clone())
    };
    // Wait for the first centre check so the screen shows its real state.
    let first: CentreLink = tokio.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(6), link.changed()).await;
        link.borrow().clone()
    });
    runtime.poll_all();
    screen::screenshot(&config, &runtime, &first, screen_name, portrait, lang, out)?;
    task.abort();
    if let Some(c) = centre {
        tokio.block_on(c.stop())?;
    }
    runtime.shutdown();
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn outbox_stress(
    db: &std::path::Path,
    device: &str,
    centre: &str,
    events: u64,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let tokio = tokio_runtime()?;
    let outbox = std::sync::Mutex::new(Outbox::open(db, device, SystemClock::shared())?);
    let client = SyncClient::new(centre, device, 50)?;
    let mut out = std::io::stdout().lock();
    for i in 0..events {
        let env = outbox
            .lock()
            .map_err(|_| anyhow::anyhow!("outbox lock poisoned"))?
            .enqueue(
                "stress.event",
                serde_json::json!({ "i": i, "text": "办件 application" }),
            )?;
        // Printed only after the commit: whatever the parent saw here must reach the centre.
        writeln!(out, "{}", env.seq)?;
        out.flush()?;
        if i % 7 == 6 {
            tokio.block_on(client.drain(&outbox))?;
        }
    }
    let report = tokio.block_on(client.drain(&outbox))?;
    writeln!(out, "{}", serde_json::json!({ "drained": report }))?;
    Ok(ExitCode::SUCCESS)
}

fn run_simulate(config: Config, id: &str, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let Some(spec) = config.devices.iter().find(|d| d.id == id) else {
        eprintln!(
            "kiosk simulate: no device {id:?} in {}",
            config.source.display()
        );
        return Ok(ExitCode::from(2));
    };
    let env = kiosk_drivers::SimEnv::new(dir)?;
    let sim = simulate::start(spec, &env, SystemClock::shared())?;
    let stdin = std::io::stdin();
    simulate::serve(sim.as_ref(), stdin.lock(), std::io::stdout())?;
    Ok(ExitCode::SUCCESS)
}
