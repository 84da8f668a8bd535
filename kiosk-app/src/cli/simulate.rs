//! `kiosk simulate ID`: runs one device's simulator on its own pseudo-terminal, for bench tests
//! of the real driver (`kiosk devctl --profile hardware --port ID=PATH …`) or of other software.
//! Stimulus comes as lines on standard input: `scan {"text":"…"}`, `unplug`, `replug`,
//! `faults {"fragment":3}`; each answer is one JSON line on standard output.

use std::io::{BufRead, Write};
use std::sync::Arc;

use kiosk_drivers::registry::find_driver;
use kiosk_drivers::{DeviceSpec, SimControl, SimEnv, TransportKind};
use kiosk_hal::clock::SharedClock;
use serde_json::{json, Value};

pub fn start(
    spec: &DeviceSpec,
    env: &SimEnv,
    clock: SharedClock,
) -> anyhow::Result<Arc<dyn SimControl>> {
    if spec.transport == TransportKind::Gpio {
        anyhow::bail!("device {} is on board pins, which are simulated inside the runtime only (use --profile sim)", spec.id);
    }
    let entry = find_driver(&spec.driver)
        .ok_or_else(|| anyhow::anyhow!("unknown driver {}", spec.driver))?;
    // The registry pairs the simulator with a driver for in-process use; here only the device
    // side is wanted, so the driver half is dropped before it ever opens the port.
    let sim = (entry.simulate)(spec, env, clock)?;
    drop(sim.device);
    Ok(sim.control)
}

/// Handles one stimulus line.
pub fn handle_line(sim: &dyn SimControl, line: &str) -> Value {
    let line = line.trim();
    let (what, rest) = line.split_once(' ').unwrap_or((line, ""));
    let args: Value = if rest.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(rest) {
            Ok(v) => v,
            Err(e) => {
                return json!({ "ok": false, "error": format!("arguments must be JSON: {e}") })
            }
        }
    };
    let r = match what {
        "unplug" => sim.unplug().map(|_| Value::Null),
        "replug" => sim.replug().map(|_| Value::Null),
        "faults" => serde_json::from_value(args)
            .map_err(|e| e.to_string())
            .and_then(|f| sim.set_faults(f))
            .map(|_| Value::Null),
        _ => sim.inject(what, &args),
    };
    match r {
        Ok(v) => json!({ "ok": true, "result": v }),
        Err(e) => json!({ "ok": false, "error": e }),
    }
}

/// Serves stimulus from `input` until it ends.
pub fn serve(
    sim: &dyn SimControl,
    input: impl BufRead,
    mut out: impl Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        json!({ "device": sim.device_id(), "endpoint": sim.endpoint() })
    )?;
    out.flush()?;
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        writeln!(out, "{}", handle_line(sim, &line))?;
        out.flush()?;
    }
    Ok(())
}

/// `kiosk simulate ID`: the device's simulator on a pseudo-terminal until stdin ends.
pub fn run(
    config: crate::config::Config,
    id: &str,
    dir: &std::path::Path,
) -> anyhow::Result<std::process::ExitCode> {
    let Some(spec) = config.devices.iter().find(|d| d.id == id) else {
        eprintln!(
            "kiosk simulate: no device {id:?} in {}",
            config.source.display()
        );
        return Ok(std::process::ExitCode::from(2));
    };
    let env = SimEnv::new(dir)?;
    let sim = start(spec, &env, kiosk_hal::clock::SystemClock::shared())?;
    let stdin = std::io::stdin();
    serve(sim.as_ref(), stdin.lock(), std::io::stdout())?;
    Ok(std::process::ExitCode::SUCCESS)
}
