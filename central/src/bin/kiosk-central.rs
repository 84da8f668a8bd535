//! `kiosk-central serve`: the central service on its own.

use anyhow::Context;
use clap::{Parser, Subcommand};
use kiosk_central::{CentreHandle, Store};

#[derive(Parser)]
#[command(name = "kiosk-central", version, about = "HallKit central service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate terminals against a running centre and print throughput and errors.
    Loadgen {
        /// The centre's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8640")]
        url: String,
        #[arg(long, default_value_t = 20)]
        devices: u32,
        /// Events per device.
        #[arg(long, default_value_t = 1000)]
        events: u64,
        #[arg(long, default_value_t = 100)]
        batch: u64,
        /// Heartbeats per device.
        #[arg(long, default_value_t = 50)]
        heartbeats: u64,
    },
    /// Make a publisher key pair: the secret goes to OUT (mode 0600), the public key (to pin
    /// in terminals' `[centre] publisher_keys`) is printed.
    Keygen {
        #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "sm2"])]
        algorithm: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Sign a JSON document with a publisher key and hand it to a centre for distribution.
    Publish {
        #[arg(long, default_value = "http://127.0.0.1:8640")]
        url: String,
        /// The secret key file made by `keygen`.
        #[arg(long)]
        key: std::path::PathBuf,
        /// config, catalogue or eid-keys.
        #[arg(long)]
        kind: String,
        /// `all`, or one terminal's id.
        #[arg(long, default_value = "all")]
        scope: String,
        #[arg(long)]
        version: u64,
        /// The hall's CA (PEM): an https centre is trusted through it only.
        #[arg(long)]
        ca: Option<std::path::PathBuf>,
        /// How long the centre may take to answer, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// The JSON body.
        file: std::path::PathBuf,
    },
    /// Make a signed update bundle for terminals' A/B slots from release files (`kiosk`,
    /// `kiosk-central` …), signed with a publisher key: `kiosk update install BUNDLE` checks it
    /// against the terminal's pinned `publisher_keys`.
    UpdateBundle {
        /// The secret key file made by `keygen`.
        #[arg(long)]
        key: std::path::PathBuf,
        /// The version the bundle carries (shown in the outcome the terminal reports).
        #[arg(long)]
        version: String,
        #[arg(long)]
        out: std::path::PathBuf,
        /// The files, each installed under its own name in the slot.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Make a one-time enrolment code for a terminal (only its hash is stored); the code is
    /// printed for the technician who sets the terminal up.
    EnrolCode {
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        #[arg(long)]
        device: String,
        #[arg(long, default_value_t = 24)]
        valid_hours: i64,
    },
    /// Pair a hall business system with the terminals' local device API: prints its token (for
    /// the business system; the centre does not keep it) and the entry to add to the signed
    /// configuration document's `gateway_systems` list, published with `publish --kind config`.
    GatewayToken {
        /// How audits name it (`ywxt`).
        #[arg(long)]
        system: String,
        /// An origin its pages come from (`https://yw.example.gov.cn`), or `native`; repeat.
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        /// A scope (`idcard.read`, `printer.print` …); repeat.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// The last day the token is good for (`2027-06-30`).
        #[arg(long)]
        expires: Option<chrono::NaiveDate>,
    },
    /// A department's view of the cases terminals filed: list them, or move one on (accept,
    /// process, ask for more, complete, reject) with a comment the citizen reads at a terminal.
    Case {
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        #[command(subcommand)]
        action: CaseAction,
    },
    /// Staged rollout of a signed document to chosen terminals: 5 %, 20 %, then all of them,
    /// each group judged from its heartbeats; a group over the error threshold halts the
    /// rollout and gets the previous version back. The plan is a JSON file you keep.
    Rollout {
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        /// The plan file (written by `start`, read and updated by the others).
        #[arg(long)]
        plan: std::path::PathBuf,
        #[command(subcommand)]
        action: RolloutAction,
    },
    /// Software update bundles for terminals: add one, then order terminals to install it
    /// (an `install-update` command, or `rollout start-update` in stages).
    Update {
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        #[command(subcommand)]
        action: UpdateAction,
    },
    /// The licence library and proof data the centre serves to terminals (in a hall: fed from
    /// the province's licence library and the departments): import a file of citizens by ID
    /// number (hashed on import, never stored) with their licences and proof data.
    Documents {
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        /// The JSON file (see config/sample-documents.json).
        #[arg(long)]
        import: std::path::PathBuf,
    },
    /// The hall queue: set up a window and the services it calls from, or make a display
    /// token for the hall's TV page.
    Queue {
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        #[command(subcommand)]
        action: QueueAction,
    },
    /// Queue statistics of a hall from the tickets' timelines (JSON): calls, served, average
    /// wait and handling, no-shows, satisfaction, in total and per window, service, hour and day.
    Stats {
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        #[arg(long)]
        hall: String,
        /// First day (YYYY-MM-DD, CST); today when left out.
        #[arg(long)]
        from: Option<String>,
        /// Last day; today when left out.
        #[arg(long)]
        to: Option<String>,
    },
    /// Voice announcements for the hall: follows the queue and, for each call and recall,
    /// plays a chime and 「请 A 零 二 三 号，到 三 号窗口办理」 (espeak-ng, Mandarin), one after
    /// another, until SIGTERM or Ctrl-C.
    Announce {
        #[arg(long, default_value = "http://127.0.0.1:8640")]
        url: String,
        #[arg(long)]
        hall: String,
        /// The hall's display token (`queue display-token`).
        #[arg(long, env = "HALLKIT_DISPLAY_TOKEN", hide_env_values = true)]
        token: String,
        /// The command that plays a WAV file.
        #[arg(long, default_value = "aplay -q")]
        player: String,
        /// Write the announcements as numbered WAV files here instead of playing them.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Make the hall's CA and a server certificate for the centre: `ca.pem` is what terminals
    /// pin (`[centre] ca_cert`), `server.pem`/`server.key` what `serve --tls-…` uses.
    TlsInit {
        #[arg(long)]
        dir: std::path::PathBuf,
        #[arg(long, default_value = "hall")]
        hall: String,
        /// Names and addresses the centre is reached by.
        #[arg(long = "host", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        hosts: Vec<String>,
    },
    /// Serve the device API until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8640")]
        listen: String,
        /// A SQLite database file, or a `postgres://user:pass@host:port/db` URL.
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
        /// Serve only enrolled terminals, every device request signed by its enrolled key.
        #[arg(long)]
        require_enrolment: bool,
        /// Serve HTTPS with this certificate chain (PEM) …
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// … and this key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// Calls before a ticket becomes a no-show (the first call and its recalls).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=9))]
        queue_max_calls: u32,
        /// Call citizens this old or older first (from the ID card); off when left out.
        #[arg(long, value_parser = clap::value_parser!(u32).range(50..=100))]
        queue_elderly_age: Option<u32>,
    },
}

#[derive(Subcommand)]
enum QueueAction {
    /// Sets up a window (or changes its services).
    Window {
        #[arg(long)]
        hall: String,
        /// As said aloud: `3` for 「3 号窗口」.
        #[arg(long)]
        window: String,
        /// The services it calls from, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        services: Vec<String>,
    },
    /// Makes a display token for the hall's TV page (printed once; only its hash is kept).
    DisplayToken {
        #[arg(long)]
        hall: String,
    },
    /// Adds a clerk to the hall's staff directory (or changes them): the PIN (4 to 12 digits)
    /// comes from HALLKIT_STAFF_PIN, never the command line, and is kept as an Argon2 hash.
    Staff {
        #[arg(long)]
        hall: String,
        #[arg(long)]
        staff: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        title: String,
        /// A JPEG portrait for the name plate.
        #[arg(long)]
        photo: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum RolloutAction {
    /// Make the plan and send the first group (5 %) the new body.
    Start {
        /// The publisher's secret key file (from `keygen`).
        #[arg(long)]
        key: std::path::PathBuf,
        /// config or catalogue.
        #[arg(long)]
        kind: String,
        /// The terminals, comma-separated, in the order they get it.
        #[arg(long, value_delimiter = ',')]
        terminals: Vec<String>,
        /// The largest share of a group that may fail (0–1).
        #[arg(long, default_value_t = 0.0)]
        threshold: f64,
        /// The JSON body.
        file: std::path::PathBuf,
    },
    /// Make the plan for a software update and order the first group (5 %) to install it.
    StartUpdate {
        /// The bundle's SHA-256 (from `kiosk-central update add`).
        #[arg(long)]
        bundle: String,
        /// The bundle the terminals run now: a failed group is ordered back to it.
        #[arg(long)]
        previous: String,
        /// The terminals, comma-separated, in the order they get it.
        #[arg(long, value_delimiter = ',')]
        terminals: Vec<String>,
        /// The largest share of a group that may fail (0–1).
        #[arg(long, default_value_t = 0.0)]
        threshold: f64,
    },
    /// The plan's state and each terminal's judgement so far (JSON).
    Status,
    /// Judge the group out: pass → the next group gets it; fail → halt and roll it back.
    Advance {
        /// The publisher's secret key file; a document rollout signs with it (an update's
        /// needs none).
        #[arg(long)]
        key: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum UpdateAction {
    /// Hold a signed update bundle for terminals (checked whole; its signature is checked by
    /// each terminal). Prints its SHA-256, version and size.
    Add { file: std::path::PathBuf },
    /// The bundles held, oldest first, one JSON object per line.
    List,
}

#[derive(Subcommand)]
enum CaseAction {
    /// The newest cases, one JSON object per line.
    List {
        /// Only cases in this status (submitted, accepted, processing, needs-more, completed,
        /// rejected).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Move a case to STATUS, with a comment for the citizen.
    Move {
        number: String,
        status: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
}

fn case_status(s: &str) -> anyhow::Result<kiosk_protocol::cases::CaseStatus> {
    kiosk_protocol::cases::CaseStatus::parse(s).with_context(|| {
        format!("{s} is not a case status (submitted, accepted, processing, needs-more, completed, rejected)")
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Loadgen {
            url,
            devices,
            events,
            batch,
            heartbeats,
        } => {
            let plan = kiosk_central::loadgen::LoadPlan {
                devices,
                events,
                batch: batch.clamp(1, kiosk_central::server::MAX_BATCH as u64),
                heartbeats,
            };
            let r = kiosk_central::loadgen::run(&url, plan).await?;
            println!(
                "ingest: {} events from {devices} devices in {:.2} s = {:.0} events/s, {} requests, {} errors",
                r.ingest.items, r.ingest.seconds, r.ingest.per_second, r.ingest.requests, r.ingest.errors
            );
            println!(
                "heartbeats: {} in {:.2} s = {:.0} heartbeats/s, {} errors",
                r.heartbeats.items,
                r.heartbeats.seconds,
                r.heartbeats.per_second,
                r.heartbeats.errors
            );
            println!("{}", serde_json::to_string(&r)?);
            // A load test whose requests failed measured nothing: say so in the exit status.
            let errors = r.ingest.errors + r.heartbeats.errors;
            if errors > 0 {
                anyhow::bail!(
                    "{errors} of {} requests failed; is a centre serving {url}?",
                    r.ingest.requests + r.heartbeats.items.max(r.heartbeats.errors)
                );
            }
            Ok(())
        }
        Command::Keygen { algorithm, out } => {
            use kiosk_protocol::signing::{Algorithm, SigningKey};
            let alg = if algorithm == "sm2" {
                Algorithm::Sm2
            } else {
                Algorithm::Ed25519
            };
            let key = SigningKey::generate(alg);
            {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&out)
                    .with_context(|| format!("creating {} (it must not exist)", out.display()))?;
                writeln!(f, "{}", key.to_secret_string())?;
            }
            let public = key.public_key();
            println!(
                "{}",
                serde_json::json!({ "public_key": public.to_string(), "key_id": public.key_id() })
            );
            Ok(())
        }
        Command::UpdateBundle {
            key,
            version,
            out,
            files,
        } => {
            use std::os::unix::fs::PermissionsExt;
            let secret = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let key = kiosk_protocol::signing::SigningKey::from_secret_string(secret.trim())?;
            let mut loaded = Vec::new();
            for f in &files {
                let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                let mode = std::fs::metadata(f)?.permissions().mode() & 0o755;
                let name = f
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| anyhow::anyhow!("{} has no file name", f.display()))?
                    .to_string();
                loaded.push((name, bytes, mode));
            }
            let parts: Vec<(&str, &[u8], u32)> = loaded
                .iter()
                .map(|(n, b, m)| (n.as_str(), b.as_slice(), *m))
                .collect();
            let bundle = kiosk_protocol::update_bundle::make(&version, &parts, &key);
            std::fs::write(&out, &bundle).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{}",
                serde_json::json!({
                    "bundle": out,
                    "version": version,
                    "files": loaded.iter().map(|(n, b, _)| serde_json::json!({"name": n, "size": b.len()})).collect::<Vec<_>>(),
                    "key_id": key.public_key().key_id(),
                    "size": bundle.len(),
                })
            );
            Ok(())
        }
        Command::Publish {
            url,
            key,
            kind,
            scope,
            version,
            ca,
            timeout,
            file,
        } => {
            use kiosk_protocol::signing::{SignedDocument, SigningKey};
            let secret = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let key = SigningKey::from_secret_string(secret.trim())?;
            let kind = kind.parse().map_err(anyhow::Error::msg)?;
            let body: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
            )
            .with_context(|| format!("{} is not JSON", file.display()))?;
            let doc = SignedDocument::sign(kind, &scope, version, body, &key);
            let mut client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(timeout.max(1)))
                .connect_timeout(std::time::Duration::from_secs(timeout.clamp(1, 10)));
            if let Some(ca) = &ca {
                let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
                let cert = reqwest::Certificate::from_pem(&pem)
                    .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
                client = client
                    .tls_built_in_root_certs(false)
                    .add_root_certificate(cert);
            }
            let resp = client
                .build()?
                .put(format!("{}/api/v1/documents", url.trim_end_matches('/')))
                .json(&doc)
                .send()
                .await
                .with_context(|| format!("publishing to {url}"))?;
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            if !status.is_success() {
                anyhow::bail!("the centre answered {status}: {text}");
            }
            println!(
                "{}",
                serde_json::json!({ "published": doc.kind, "version": doc.version, "scope": doc.scope, "key_id": doc.key_id })
            );
            Ok(())
        }
        Command::GatewayToken {
            system,
            origins,
            scopes,
            expires,
        } => {
            let mut random = [0u8; 32];
            getrandom(&mut random)?;
            let (token, entry) =
                kiosk_central::pairing::issue(&system, &origins, &scopes, expires, random)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "token": token,
                    "gateway_system": entry,
                    "next": "give the token to the business system; add gateway_system to the config document's gateway_systems and publish it (kiosk-central publish --kind config)",
                }))?
            );
            Ok(())
        }
        Command::EnrolCode {
            db,
            device,
            valid_hours,
        } => {
            // 16 characters from an alphabet without look-alikes (no 0/O, 1/I/L).
            const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
            let mut raw = [0u8; 16];
            getrandom(&mut raw)?;
            let code: String = raw
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            let shown = kiosk_central::pg::redact(&db);
            let expires = chrono::Utc::now() + chrono::Duration::hours(valid_hours.max(1));
            let sha = kiosk_central::store::code_sha256(&code);
            tokio::task::spawn_blocking(move || {
                Store::open(&db)?.create_enrolment_code(&device, &sha, expires)
            })
            .await?
            .with_context(|| format!("storing the code in {shown}"))?;
            println!(
                "{}",
                serde_json::json!({ "code": code, "expires_at": expires })
            );
            Ok(())
        }
        Command::Rollout { db, plan, action } => {
            use kiosk_central::rollout;
            let out = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
                let store = Store::open(&db)?;
                let read_key = |key: &std::path::Path| -> anyhow::Result<_> {
                    let secret = std::fs::read_to_string(key)
                        .with_context(|| format!("reading {}", key.display()))?;
                    Ok(kiosk_protocol::signing::SigningKey::from_secret_string(
                        secret.trim(),
                    )?)
                };
                match action {
                    RolloutAction::Start {
                        key,
                        kind,
                        terminals,
                        threshold,
                        file,
                    } => {
                        if plan.exists() {
                            anyhow::bail!(
                                "{} exists: a rollout is under way (status, advance) or finished; \
                                 name a new plan file",
                                plan.display()
                            );
                        }
                        let key = read_key(&key)?;
                        let kind = kind.parse().map_err(anyhow::Error::msg)?;
                        let body: serde_json::Value = serde_json::from_slice(
                            &std::fs::read(&file)
                                .with_context(|| format!("reading {}", file.display()))?,
                        )
                        .with_context(|| format!("{} is not JSON", file.display()))?;
                        let mut p = rollout::Plan::new(&store, kind, body, &terminals, threshold)?;
                        p.release(&store, Some(&key), chrono::Utc::now())?;
                        rollout::save(&plan, &p)?;
                        Ok(serde_json::to_string_pretty(&rollout::status(&store, &p)?)?)
                    }
                    RolloutAction::StartUpdate {
                        bundle,
                        previous,
                        terminals,
                        threshold,
                    } => {
                        if plan.exists() {
                            anyhow::bail!(
                                "{} exists: a rollout is under way (status, advance) or finished; \
                                 name a new plan file",
                                plan.display()
                            );
                        }
                        let mut p = rollout::Plan::update(
                            &store, &bundle, &previous, &terminals, threshold,
                        )?;
                        p.release(&store, None, chrono::Utc::now())?;
                        rollout::save(&plan, &p)?;
                        Ok(serde_json::to_string_pretty(&rollout::status(&store, &p)?)?)
                    }
                    RolloutAction::Status => {
                        let p = rollout::load(&plan)?;
                        Ok(serde_json::to_string_pretty(&rollout::status(&store, &p)?)?)
                    }
                    RolloutAction::Advance { key } => {
                        let key = key.as_deref().map(read_key).transpose()?;
                        let mut p = rollout::load(&plan)?;
                        let r = p.advance(&store, key.as_ref(), chrono::Utc::now());
                        // What was published is in the plan even when a later step failed.
                        rollout::save(&plan, &p)?;
                        r?;
                        Ok(serde_json::to_string_pretty(&rollout::status(&store, &p)?)?)
                    }
                }
            })
            .await??;
            println!("{out}");
            Ok(())
        }
        Command::Update { db, action } => {
            let shown = kiosk_central::pg::redact(&db);
            let lines = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
                let store = Store::open(&db)?;
                Ok(match action {
                    UpdateAction::Add { file } => {
                        vec![serde_json::to_string(&kiosk_central::updates::add(
                            &store, &file,
                        )?)?]
                    }
                    UpdateAction::List => store
                        .update_bundles()?
                        .iter()
                        .map(serde_json::to_string)
                        .collect::<Result<_, _>>()?,
                })
            })
            .await?
            .with_context(|| format!("update bundles in {shown}"))?;
            for l in lines {
                println!("{l}");
            }
            Ok(())
        }
        Command::Case { db, action } => {
            let shown = kiosk_central::pg::redact(&db);
            let lines = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
                let store = Store::open(&db)?;
                match action {
                    CaseAction::List { status, limit } => {
                        let status = status.as_deref().map(case_status).transpose()?;
                        Ok(store
                            .list_cases(status, limit)?
                            .iter()
                            .map(|c| serde_json::json!(c).to_string())
                            .collect())
                    }
                    CaseAction::Move {
                        number,
                        status,
                        comment,
                    } => {
                        let progress = kiosk_protocol::cases::CaseProgress {
                            status: case_status(&status)?,
                            comment,
                        };
                        let now = chrono::Utc::now().to_rfc3339();
                        let case = store.progress_case(&number, &progress, &now)??;
                        Ok(vec![serde_json::json!(case).to_string()])
                    }
                }
            })
            .await?
            .with_context(|| format!("cases in {shown}"))?;
            for l in lines {
                println!("{l}");
            }
            Ok(())
        }
        Command::Documents { db, import } => {
            let shown = kiosk_central::pg::redact(&db);
            let json =
                std::fs::read(&import).with_context(|| format!("reading {}", import.display()))?;
            let docs = kiosk_central::documents::Import::parse(&json)
                .with_context(|| format!("{}", import.display()))?;
            let (licences, proofs) =
                tokio::task::spawn_blocking(move || Store::open(&db)?.import_documents(&docs))
                    .await?
                    .with_context(|| format!("documents in {shown}"))?;
            println!("{licences} licences and {proofs} proofs' data imported into {shown}");
            Ok(())
        }
        Command::Queue { db, action } => {
            let shown = kiosk_central::pg::redact(&db);
            let out = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
                let store = Store::open(&db)?;
                match action {
                    QueueAction::Window {
                        hall,
                        window,
                        services,
                    } => {
                        use kiosk_central::queue::QueueEngine;
                        let q = kiosk_central::queue::BuiltinQueue::new(store, Default::default());
                        Ok(serde_json::to_string(
                            &q.set_window(&hall, &window, &services)?,
                        )?)
                    }
                    QueueAction::DisplayToken { hall } => {
                        let token = store.create_display_token(&hall)?;
                        Ok(serde_json::json!({ "hall": hall, "token": token }).to_string())
                    }
                    QueueAction::Staff {
                        hall,
                        staff,
                        name,
                        title,
                        photo,
                    } => {
                        use base64::Engine;
                        let pin = zeroize::Zeroizing::new(
                            std::env::var("HALLKIT_STAFF_PIN")
                                .context("set HALLKIT_STAFF_PIN to the clerk's PIN")?,
                        );
                        anyhow::ensure!(
                            kiosk_central::staff::is_pin(&pin),
                            "HALLKIT_STAFF_PIN must be 4 to 12 digits"
                        );
                        anyhow::ensure!(
                            kiosk_protocol::queue::is_name(&staff, 32),
                            "the staff number is 1 to 32 characters"
                        );
                        let photo_jpeg_base64 = match photo {
                            Some(p) => {
                                let bytes = std::fs::read(&p)
                                    .with_context(|| format!("reading {}", p.display()))?;
                                anyhow::ensure!(
                                    bytes.starts_with(&[0xFF, 0xD8]),
                                    "{} is not a JPEG",
                                    p.display()
                                );
                                Some(base64::engine::general_purpose::STANDARD.encode(bytes))
                            }
                            None => None,
                        };
                        let entry = kiosk_central::staff::StaffEntry {
                            staff: staff.clone(),
                            name,
                            title,
                            photo_jpeg_base64,
                            pin_hash: kiosk_central::staff::hash_pin(&pin)
                                .map_err(anyhow::Error::msg)?,
                        };
                        store.put_staff(&hall, &entry)?;
                        Ok(serde_json::json!({ "hall": hall, "staff": staff }).to_string())
                    }
                }
            })
            .await?
            .with_context(|| format!("the queue in {shown}"))?;
            println!("{out}");
            Ok(())
        }
        Command::Stats { db, hall, from, to } => {
            let shown = kiosk_central::pg::redact(&db);
            let today = kiosk_central::queue::today();
            let (from, to) = (from.unwrap_or_else(|| today.clone()), to.unwrap_or(today));
            for d in [&from, &to] {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .with_context(|| format!("{d} is not a day (YYYY-MM-DD)"))?;
            }
            let stats = tokio::task::spawn_blocking(move || {
                use kiosk_central::queue::QueueEngine;
                kiosk_central::queue::BuiltinQueue::new(Store::open(&db)?, Default::default())
                    .stats(&hall, &from, &to)
            })
            .await?
            .with_context(|| format!("statistics from {shown}"))?;
            println!("{}", serde_json::to_string_pretty(&stats)?);
            Ok(())
        }
        Command::Announce {
            url,
            hall,
            token,
            player,
            out,
        } => {
            use kiosk_central::announce::{follow, Announcer, Follow, Sink};
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            tokio::spawn(async move {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok::<_, std::io::Error>(())
            });
            let said = tokio::task::spawn_blocking(move || {
                let work =
                    std::env::temp_dir().join(format!("hallkit-announce-{}", std::process::id()));
                let sink = match out {
                    Some(dir) => Sink::Files(dir),
                    None => Sink::Play { player },
                };
                let mut announcer = Announcer::new(sink, &work)?;
                let said = follow(
                    url.trim_end_matches('/'),
                    &hall,
                    &token,
                    &mut announcer,
                    Follow {
                        after: None,
                        limit: None,
                        stop: &|| stop.load(std::sync::atomic::Ordering::Relaxed),
                    },
                );
                let _ = std::fs::remove_dir_all(&work);
                said
            })
            .await??;
            println!("{said} calls announced");
            Ok(())
        }
        Command::TlsInit { dir, hall, hosts } => {
            kiosk_central::tls::make_bundle(&hall, &hosts)?
                .write(&dir)
                .with_context(|| {
                    format!("writing into {} (files must not exist)", dir.display())
                })?;
            println!(
                "{}",
                serde_json::json!({ "ca_cert": dir.join("ca.pem"), "server_cert": dir.join("server.pem"), "server_key": dir.join("server.key"), "hosts": hosts })
            );
            Ok(())
        }
        Command::Serve {
            listen,
            db,
            require_enrolment,
            tls_cert,
            tls_key,
            queue_max_calls,
            queue_elderly_age,
        } => {
            // The PostgreSQL client blocks on a runtime of its own: open off the executor.
            let shown = kiosk_central::pg::redact(&db);
            let store = tokio::task::spawn_blocking(move || Store::open(&db))
                .await?
                .with_context(|| format!("opening {shown}"))?;
            let location = store.location();
            // Listen for SIGTERM before announcing readiness, so a stop sent right after the
            // announcement is never missed.
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let options = kiosk_central::CentreOptions {
                require_enrolment,
                queue: kiosk_central::queue::QueueRules {
                    max_calls: queue_max_calls,
                    elderly_age: queue_elderly_age,
                    ..Default::default()
                },
            };
            let centre = match (tls_cert, tls_key) {
                (Some(c), Some(k)) => {
                    let config =
                        kiosk_central::tls::server_config(&std::fs::read(&c)?, &std::fs::read(&k)?)
                            .with_context(|| {
                                format!("TLS from {} and {}", c.display(), k.display())
                            })?;
                    CentreHandle::start_tls(&listen, store, options, config).await
                }
                _ => CentreHandle::start_with(&listen, store, options).await,
            };
            let centre = centre.with_context(|| format!("listening on {listen}"))?;
            println!(
                "kiosk-central: serving {} (database {location})",
                centre.base_url()
            );
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("shutting down");
            centre.stop().await?;
            Ok(())
        }
    }
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}
