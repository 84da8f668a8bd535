//! `kiosk`: the HallKit terminal runtime and its bench tools. This file only parses the
//! command line and dispatches; each subcommand lives in `kiosk_app::cli`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kiosk_app::cli;
use kiosk_app::config::Profile;

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
        /// A screen by name: attract, home, help, ticket-groups, ticket-identify, ticket-taken,
        /// ticket-problem, staff-pin, device-status … (an unknown name lists them all). Journey
        /// screens in a real state come from `kiosk tour`.
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
        /// Keep the key here instead of the configuration's data directory (flash.sh, writing
        /// an image root).
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
    /// Play a journey headless on the sim profile and write a PNG per step and steps.json.
    Tour {
        /// ticket | ticket-paper-out | ticket-by-appointment | idle-timeout | staff
        journey: String,
        #[command(flatten)]
        common: Common,
        /// Where the pictures and steps.json go.
        #[arg(long)]
        out: PathBuf,
        /// zh-CN or en (default: the configured language).
        #[arg(long)]
        lang: Option<String>,
        /// Portrait 1080×1920 instead of the configured orientation.
        #[arg(long)]
        portrait: bool,
        /// A tour script of your own instead of the built-in one.
        #[arg(long)]
        script: Option<PathBuf>,
    },
    /// Signed A/B updates: install a bundle, the start check systemd runs, the slots' state.
    Update {
        #[command(subcommand)]
        command: UpdateCommand,
    },
    /// The power schedule the centre set: what it says now, or carry it out (root, from
    /// hallkit-power.timer: rtcwake powers the terminal off until its next switch-on).
    Power {
        #[command(subcommand)]
        command: PowerCommand,
    },
    /// What `flash.sh` installs, made from the configuration.
    Provision {
        #[command(subcommand)]
        command: ProvisionCommand,
    },
    /// The audit log of sensitive operations (an SM3 hash chain in the journal).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Technicians' credentials for the admin mode.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Validate a configuration file and exit.
    CheckConfig {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum UpdateCommand {
    /// Check a signed bundle and install it into the slot that is not running; the next start
    /// runs it and commits it once healthy.
    Install {
        bundle: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Install even inside the configured business hours.
        #[arg(long)]
        now: bool,
    },
    /// Before each start (systemd's ExecStartPre): count a new version's start, or roll back
    /// one that did not commit.
    BootCheck {
        #[command(flatten)]
        common: Common,
    },
    /// The slots, what is pending, and how the last update ended (JSON).
    Status {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum PowerCommand {
    /// What the schedule says at this moment (JSON).
    Status {
        #[command(flatten)]
        common: Common,
        /// Decide for this local time instead of now: "YYYY-MM-DD HH:MM".
        #[arg(long)]
        at: Option<String>,
    },
    /// Power off until the next switch-on when the schedule says off.
    Apply {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        at: Option<String>,
        /// Print the rtcwake command instead of running it.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ProvisionCommand {
    /// Print the udev rules: stable /dev/hallkit/<id> names for the configured USB devices and
    /// the [usb] allow-list at plug time.
    UdevRules {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Read a PIN from standard input and print the `[[admin.technicians]]` entry with its
    /// Argon2id hash (the configuration never holds the PIN itself).
    HashPin {
        /// The technician's staff number (digits, as typed on the staff pad).
        #[arg(long)]
        staff_no: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every record's hash and link; exit 1 and name what was changed, removed or
    /// moved.
    Verify {
        #[command(flatten)]
        common: Common,
        /// The journal database (default: outbox.db in the configuration's data directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// A head known from elsewhere (the centre's last heartbeat), SEQ:HASH: finds records
        /// cut from the end.
        #[arg(long)]
        expect: Option<kiosk_app::journal::audit::AuditHead>,
    },
    /// Print the newest records, newest first, one JSON object per line.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { common, headless } => {
            cli::with_config(&common.config, common.profile, |c, p| {
                cli::run::run(c, p, headless)
            })
        }
        Command::Devctl {
            common,
            ports,
            timeout_ms,
            words,
        } => cli::devctl::run(
            &common.config,
            common.profile,
            &ports,
            Duration::from_millis(timeout_ms),
            &words,
        ),
        Command::Screenshot {
            screen,
            out,
            common,
            portrait,
            lang,
        } => cli::with_config(&common.config, common.profile, |c, p| {
            cli::screenshot::run(c, p, &screen, &out, portrait, lang.as_deref())
        }),
        Command::Simulate { id, common, dir } => {
            cli::with_config(&common.config, common.profile, |c, _| {
                cli::simulate::run(c, &id, &dir)
            })
        }
        Command::OutboxStress {
            db,
            device,
            centre,
            events,
        } => cli::outbox_stress::run(&db, &device, &centre, events),
        Command::Enrol {
            common,
            code,
            algorithm,
            data_dir,
        } => cli::with_config(&common.config, common.profile, |mut c, _| {
            if let Some(d) = data_dir {
                c.terminal.data_dir = d;
            }
            cli::enrol::run(&c, &code, &algorithm)
        }),
        Command::Image { command } => match command {
            ImageCommand::Scan {
                files,
                mode,
                max_kb,
                no_orient,
            } => cli::image::scan(files, mode, max_kb, no_orient),
            ImageCommand::Idcopy {
                front,
                back,
                out,
                watermark,
                dpi,
            } => cli::image::idcopy(&front, &back, &out, &watermark, dpi),
        },
        Command::Face { command } => match command {
            FaceCommand::CheckModels { models, backend } => {
                cli::face::check_models(&models, &backend)
            }
            FaceCommand::Verify {
                card,
                probe,
                ir,
                camera,
                models,
                backend,
                threshold,
                common,
            } => cli::face::verify(
                cli::face::VerifyArgs {
                    card,
                    probe,
                    ir,
                    camera,
                    models,
                    backend,
                    threshold,
                },
                &common.config,
                common.profile,
            ),
        },
        Command::Camera {
            command: CameraCommand::List,
        } => cli::print_json(Ok(serde_json::json!(kiosk_drivers::camera::enumerate(
            std::path::Path::new("/sys/class/video4linux")
        )))),
        Command::Tour {
            journey,
            common,
            out,
            lang,
            portrait,
            script,
        } => cli::with_config(&common.config, common.profile, |c, _| {
            cli::tour::run(
                c,
                cli::tour::TourOptions {
                    journey,
                    script,
                    out,
                    lang,
                    portrait,
                },
            )
        }),
        Command::Update { command } => match command {
            UpdateCommand::Install {
                bundle,
                common,
                now,
            } => cli::with_config(&common.config, common.profile, |c, _| {
                cli::update::install(&c, &bundle, now)
            }),
            UpdateCommand::BootCheck { common } => {
                cli::with_config(&common.config, common.profile, |c, _| {
                    cli::update::boot_check(&c)
                })
            }
            UpdateCommand::Status { common } => {
                cli::with_config(&common.config, common.profile, |c, _| {
                    cli::update::status(&c)
                })
            }
        },
        Command::Power { command } => match command {
            PowerCommand::Status { common, at } => {
                match cli::load(&common.config, common.profile) {
                    Ok((c, _)) => cli::power::run(&c, false, at.as_deref(), true),
                    Err(code) => Ok(code),
                }
            }
            PowerCommand::Apply {
                common,
                at,
                dry_run,
            } => match cli::load(&common.config, common.profile) {
                Ok((c, _)) => cli::power::run(&c, true, at.as_deref(), dry_run),
                Err(code) => Ok(code),
            },
        },
        Command::Provision {
            command: ProvisionCommand::UdevRules { common },
        } => match cli::load(&common.config, common.profile) {
            Ok((c, _)) => cli::provision::print_udev_rules(&c),
            Err(code) => Ok(code),
        },
        Command::Audit { command } => match command {
            AuditCommand::Verify { common, db, expect } => {
                audit_db(&common, db).and_then(|db| cli::audit::verify(&db, expect.as_ref()))
            }
            AuditCommand::List { common, db, limit } => {
                audit_db(&common, db).and_then(|db| cli::audit::list(&db, limit))
            }
        },
        Command::Admin { command } => match command {
            AdminCommand::HashPin { staff_no } => cli::admin::hash_pin(&staff_no),
        },
        Command::CheckConfig { common } => {
            cli::with_config(&common.config, common.profile, |c, p| {
                println!(
                    "{}: valid ({} devices, profile {:?})",
                    c.source.display(),
                    c.devices.len(),
                    p
                );
                Ok(ExitCode::SUCCESS)
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The journal `kiosk audit` reads: `--db`, or the one in the configuration's data directory.
fn audit_db(common: &Common, db: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(db) = db {
        return Ok(db);
    }
    let config = kiosk_app::config::Config::load(&common.config)
        .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
    Ok(config.data_dir().join("outbox.db"))
}
