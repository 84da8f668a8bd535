//! `kiosk devctl`: the technician's bench tool. Exercises any configured device from the command
//! line — list, status, self-test, and each driver's own actions — and prints JSON.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::runtime::{CallError, Owner, Runtime};

/// What the words after `devctl` ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum DevctlCommand {
    List,
    Status(Option<String>),
    SelfTest(String),
    Actions(String),
    /// Stimulus to a simulated device (sim profile only): `sim scanner scan text=…`.
    Sim {
        id: String,
        what: String,
        args: Value,
    },
    Action {
        id: String,
        action: String,
        args: Value,
    },
    /// Offline rendering of an ESC/POS byte file: `escpos render IN.bin OUT.png`.
    Render {
        file: String,
        out: String,
        args: Value,
    },
    /// Offline decoding of a captured device reply: `idcard decode FILE`.
    Decode {
        family: String,
        file: String,
        args: Value,
    },
}

/// Device families whose captured replies `devctl FAMILY decode FILE` understands.
pub const DECODERS: &[&str] = &["idcard"];

pub const USAGE: &str = "usage: kiosk devctl [OPTIONS] list | status [ID] | self-test ID | actions ID | sim ID WHAT [KEY=VALUE…] | ID ACTION [KEY=VALUE…] | idcard decode FILE [reveal=true] | escpos render IN.bin OUT.png [paper=58mm|80mm]";

/// `key=value` words to a JSON object; values that parse as JSON (numbers, booleans) keep
/// their type, everything else is a string.
pub fn parse_args(words: &[String]) -> Result<Value, String> {
    let mut m = Map::new();
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("argument {w:?} is not KEY=VALUE"))?;
        if k.is_empty() {
            return Err(format!("argument {w:?} has an empty key"));
        }
        let v = serde_json::from_str::<Value>(v)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array())
            .unwrap_or_else(|| Value::String(v.to_string()));
        m.insert(k.to_string(), v);
    }
    Ok(Value::Object(m))
}

/// Splits `A … then B …` into several commands, run in order on one runtime (so a simulator
/// stimulus and the command that reacts to it can share a simulated device).
pub fn parse_sequence(words: &[String]) -> Result<Vec<DevctlCommand>, String> {
    words.split(|w| w == "then").map(parse).collect()
}

pub fn parse(words: &[String]) -> Result<DevctlCommand, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        [] => Err(USAGE.into()),
        ["list"] => Ok(DevctlCommand::List),
        ["status"] => Ok(DevctlCommand::Status(None)),
        ["status", id] => Ok(DevctlCommand::Status(Some(id.to_string()))),
        ["self-test", id] => Ok(DevctlCommand::SelfTest(id.to_string())),
        ["actions", id] => Ok(DevctlCommand::Actions(id.to_string())),
        ["sim", id, what, rest @ ..] => Ok(DevctlCommand::Sim {
            id: id.to_string(),
            what: what.to_string(),
            args: parse_args(&words[3..3 + rest.len()])?,
        }),
        ["escpos", "render", file, out, rest @ ..] => Ok(DevctlCommand::Render {
            file: file.to_string(),
            out: out.to_string(),
            args: parse_args(&words[4..4 + rest.len()])?,
        }),
        [family, "decode", file, rest @ ..] if DECODERS.contains(family) => {
            Ok(DevctlCommand::Decode {
                family: family.to_string(),
                file: file.to_string(),
                args: parse_args(&words[3..3 + rest.len()])?,
            })
        }
        [id, action, rest @ ..] => Ok(DevctlCommand::Action {
            id: id.to_string(),
            action: action.to_string(),
            args: parse_args(&words[2..2 + rest.len()])?,
        }),
        _ => Err(USAGE.into()),
    }
}

/// Decodes a captured reply without any device. `Err` carries the JSON of the typed error.
pub fn decode(family: &str, file: &str, args: &Value) -> Result<Value, Value> {
    let reveal = args.get("reveal").and_then(Value::as_bool).unwrap_or(false);
    let bytes = std::fs::read(file)
        .map_err(|e| json!({ "error": "io", "detail": format!("{file}: {e}") }))?;
    match family {
        "idcard" => kiosk_drivers::idcard::decode_capture(&bytes, reveal).map_err(
            |e| json!({ "error": kiosk_drivers::idcard::error_kind(&e), "detail": e.to_string() }),
        ),
        other => {
            Err(json!({ "error": "unsupported", "detail": format!("no decoder for {other}") }))
        }
    }
}

/// Renders an ESC/POS byte file as the virtual printer would print it: one PNG a cut
/// (`OUT.png`, or `OUT-1.png`, `OUT-2.png` … when the stream holds several receipts).
pub fn render(file: &str, out: &str, args: &Value) -> Result<Value, Value> {
    use kiosk_drivers::escpos::{render, Paper};
    let paper = match args.get("paper") {
        None => Paper::Mm80,
        Some(p) => Paper::parse(&p.to_string().replace('"', ""))
            .map_err(|e| json!({ "error": "invalid-data", "detail": e }))?,
    };
    let bytes = std::fs::read(file)
        .map_err(|e| json!({ "error": "io", "detail": format!("{file}: {e}") }))?;
    let err = |e: render::RenderError| {
        let kind = match e {
            render::RenderError::Truncated { .. } => "truncated",
            render::RenderError::NoFont(_) => "no-font",
            render::RenderError::Write { .. } => "io",
        };
        json!({ "error": kind, "detail": e.to_string() })
    };
    let pages = render::render_stream(&bytes, paper.dots()).map_err(err)?;
    if pages.is_empty() {
        return Err(json!({ "error": "empty", "detail": format!("{file} prints nothing") }));
    }
    let out_path = std::path::Path::new(out);
    let mut listed = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let path = if pages.len() == 1 {
            out_path.to_path_buf()
        } else {
            let stem = out_path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("receipt");
            out_path.with_file_name(format!("{stem}-{}.png", i + 1))
        };
        page.save_png(&path).map_err(err)?;
        listed.push(json!({
            "png": path.display().to_string(),
            "cut": page.cut,
            "width": page.image.width(),
            "height": page.image.height(),
            "text": page.text,
            "qr": page.qr_codes,
            "barcodes": page.barcodes,
            "unknown_commands": page.unknown,
        }));
    }
    Ok(json!({ "paper": paper, "bytes": bytes.len(), "pages": listed }))
}

/// Runs one command. `Ok` carries the JSON to print; `Err` carries the JSON of a failed
/// completion (exit status 1).
pub fn execute(rt: &Runtime, cmd: &DevctlCommand, timeout: Duration) -> Result<Value, Value> {
    let fail = |e: CallError| json!({ "completion": e.code(), "detail": e.detail() });
    // Every device call is made under the bench tool's claim, held for that one call.
    let call = |id: &str, action: &str, args: Value| -> Result<Value, CallError> {
        let claim = rt.claim(id, Owner::Bench, timeout * 2, Duration::from_secs(5))?;
        rt.call(&claim, action, args, timeout)
    };
    match cmd {
        DevctlCommand::List => Ok(Value::Array(
            rt.devices
                .iter()
                .map(|d| {
                    let info = d.info();
                    json!({
                        "id": d.spec.id,
                        "name": d.spec.display_name(),
                        "kind": d.spec.kind,
                        "driver": d.spec.driver,
                        "transport": info.transport,
                        "simulated": d.sim.is_some(),
                    })
                })
                .collect(),
        )),
        DevctlCommand::Status(id) => {
            rt.poll_all();
            let snap: Vec<_> = rt
                .snapshot()
                .into_iter()
                .filter(|s| id.as_ref().is_none_or(|i| &s.id == i))
                .collect();
            if let (Some(id), true) = (id, snap.is_empty()) {
                return Err(
                    json!({ "completion": "invalid-data", "detail": format!("no device {id:?}") }),
                );
            }
            Ok(serde_json::to_value(snap).unwrap_or(Value::Null))
        }
        DevctlCommand::SelfTest(id) => call(id, "self-test", Value::Null)
            .map(|v| json!({ "completion": "success", "result": v }))
            .map_err(fail),
        DevctlCommand::Actions(id) => {
            let d = rt
                .device(id)
                .map_err(|e| json!({ "completion": "invalid-data", "detail": e.to_string() }))?;
            let mut list = vec![
                json!({ "name": "self-test", "summary": "exercise the device", "args": [] }),
                json!({ "name": "poll", "summary": "check health now", "args": [] }),
            ];
            list.extend(d.actions().iter().map(|a| json!(a)));
            Ok(Value::Array(list))
        }
        DevctlCommand::Sim { id, what, args } => {
            let d = rt
                .device(id)
                .map_err(|e| json!({ "completion": "invalid-data", "detail": e.to_string() }))?;
            let sim = d.sim.as_ref().ok_or_else(|| {
                json!({ "completion": "unsupported", "detail": format!("{id} is not simulated; use --profile sim") })
            })?;
            let r = match what.as_str() {
                "unplug" => sim.unplug().map(|_| Value::Null),
                "replug" => sim.replug().map(|_| Value::Null),
                "faults" => serde_json::from_value(args.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|f| sim.set_faults(f))
                    .map(|_| Value::Null),
                _ => sim.inject(what, args),
            };
            r.map(|v| json!({ "completion": "success", "result": v }))
                .map_err(|e| json!({ "completion": "invalid-data", "detail": e }))
        }
        DevctlCommand::Decode { family, file, args } => decode(family, file, args),
        DevctlCommand::Render { file, out, args } => render(file, out, args),
        DevctlCommand::Action { id, action, args } => call(id, action, args.clone())
            .map(|v| json!({ "completion": "success", "result": v }))
            .map_err(fail),
    }
}

/// `kiosk devctl WORDS…`: offline tools (`idcard decode`, `escpos render`) need no
/// configuration at all; everything else runs on a runtime of the configured devices.
pub fn run(
    config_path: &std::path::Path,
    profile: Option<crate::config::Profile>,
    ports: &[String],
    timeout: Duration,
    words: &[String],
) -> anyhow::Result<std::process::ExitCode> {
    use std::process::ExitCode;
    let cmds = match parse_sequence(words) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiosk devctl: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    // Offline decoding needs no device, no runtime and no configuration.
    let offline = match cmds.as_slice() {
        [DevctlCommand::Decode { family, file, args }] => Some(decode(family, file, args)),
        [DevctlCommand::Render { file, out, args }] => Some(render(file, out, args)),
        _ => None,
    };
    if let Some(result) = offline {
        crate::logging::init("warn");
        let (code, v) = match result {
            Ok(v) => (ExitCode::SUCCESS, v),
            Err(v) => (ExitCode::from(1), v),
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(code);
    }
    super::with_config(config_path, profile, |config, profile| {
        on_devices(config, profile, ports, timeout, &cmds)
    })
}

fn on_devices(
    mut config: crate::config::Config,
    profile: crate::config::Profile,
    ports: &[String],
    timeout: Duration,
    cmds: &[DevctlCommand],
) -> anyhow::Result<std::process::ExitCode> {
    use std::process::ExitCode;
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
    let mut wanted: Vec<String> = Vec::new();
    let mut all = false;
    for cmd in cmds {
        match cmd {
            DevctlCommand::List | DevctlCommand::Status(None) => all = true,
            DevctlCommand::Decode { .. } | DevctlCommand::Render { .. } => {
                eprintln!("kiosk devctl: decode and render cannot be combined with other commands");
                return Ok(ExitCode::from(2));
            }
            DevctlCommand::SelfTest(id)
            | DevctlCommand::Actions(id)
            | DevctlCommand::Sim { id, .. }
            | DevctlCommand::Action { id, .. }
            | DevctlCommand::Status(Some(id)) => {
                if !config.devices.iter().any(|d| &d.id == id) {
                    eprintln!(
                        "kiosk devctl: no device {id:?} in {}",
                        config.source.display()
                    );
                    return Ok(ExitCode::from(2));
                }
                wanted.push(id.clone());
            }
        }
    }
    if !all {
        config.devices.retain(|d| wanted.contains(&d.id));
    }
    let rt = Runtime::start(&config, profile, kiosk_hal::clock::SystemClock::shared())?;
    rt.poll_all();
    let mut failed = false;
    let mut outputs = Vec::new();
    for cmd in cmds {
        match execute(&rt, cmd, timeout) {
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
        Value::Array(outputs)
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_commands_and_typed_arguments() {
        assert_eq!(parse(&words("list")).unwrap(), DevctlCommand::List);
        assert_eq!(
            parse(&words("status")).unwrap(),
            DevctlCommand::Status(None)
        );
        assert_eq!(
            parse(&words("board light module=idcard mode=blink period_ms=400")).unwrap(),
            DevctlCommand::Action {
                id: "board".into(),
                action: "light".into(),
                args: json!({"module": "idcard", "mode": "blink", "period_ms": 400}),
            }
        );
        assert_eq!(
            parse(&words("sim board door open=true")).unwrap(),
            DevctlCommand::Sim {
                id: "board".into(),
                what: "door".into(),
                args: json!({"open": true})
            }
        );
        assert!(parse(&words("scanner scan oops"))
            .unwrap_err()
            .contains("KEY=VALUE"));
        assert!(parse(&[]).is_err());
        assert!(parse(&words("self-test")).is_err());
    }
}
