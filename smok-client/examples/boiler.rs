//! A complete device program on `smok-client`'s framework: a boiler.
//!
//! * Native pathpoints: `W1` water temperature (tenths of °C, read-only), `W2` setpoint (tenths
//!   of °C, writable), `B3` burner (0/1, writable), `d4` pressure (bar).
//! * A reparse pathpoint, `rB{W1}<{W2}-20` ("needs heat"), computed on the device.
//! * Sensors as the server defines them, e.g. `boiler temperature` over `W1` (`std.Number10`);
//!   the example reads every sensor it has and writes the setpoint sensor when asked.
//! * A BAOB, `firmware-settings` (JSON `{"max_setpoint": °C, "hysteresis": °C}`), shared with
//!   the server: created with defaults on first start, applied whenever the server changes it
//!   (`ngtt baob put --device 1 --key firmware-settings --file settings.json`, then an order
//!   `[{"orders":[{"type":"sysctl","op_type":"baob-updated","op_args":""}]}]` to apply it at
//!   once; otherwise within the hour).
//! * Every read value is uploaded by the framework; unsent data survives restarts in an SQLite
//!   store; orders (reads, writes, `sysctl reboot`) are executed against the pathpoints.
//! * A statistic, `boiler.overheat`: a predicate of that statistic opens an event while the
//!   water is hotter than its configured `max` (°C), closes it when it cools down, and raises a
//!   point event when the pressure passes 1.5 bar. Silencing periods are honoured in the
//!   device's time zone; open events survive a restart.
//! * Macros: the server schedules writes (e.g. a night setback of `W2`); the framework runs
//!   them at their time through the pathpoints and reports them, once.
//!
//! Run it against `ngtt serve` (README, "Run a server and a device"), in one terminal each:
//!
//! ```sh
//! ngtt pki init --dir pki && ngtt pki device --dir pki --id 1
//! ngtt serve --pki pki --listen 127.0.0.1:2405 --http-listen 127.0.0.1:8443
//! # a sensor for the device (admin API):
//! ngtt sensor set --admin http://127.0.0.1:2406 --device 1 --fqts 'boiler temperature' \
//!      --path W1 --type std.Number10
//! cargo run -p smok-client --example boiler -- --pki pki --id 1 \
//!      --http https://127.0.0.1:8443 --ngtt 127.0.0.1:2405 --store boiler.db
//! # an order: set 55.0 °C and read it back
//! ngtt order send --admin http://127.0.0.1:2406 --device 1 \
//!      --json '[{"orders":[{"type":"write","path":"W2","value":550},{"type":"read","path":"rB{W1}<{W2}-20"}]}]'
//! ```
//!
//! A predicate and a macro for it (the admin API through `ngtt`):
//!
//! ```sh
//! ngtt predicate set --device 1 --id overheat --statistic boiler.overheat \
//!      --configuration '{"max": 60}' --verbose-name 'Boiler' --group A
//! ngtt order send --admin http://127.0.0.1:2406 --device 1 \
//!      --json '[{"orders":[{"type":"write","path":"W2","value":700}]}]'   # heats up: an event
//! ngtt event list --device 1
//! ngtt macro put --device 1 --id setback --commands '[{"path": "W2", "value": 450}]' \
//!      --at $(( $(date +%s) + 120 ))
//! ```
//!
//! Without `--ngtt` the device polls the HTTP API for orders. Ctrl-C stops it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use smok_client::alarm::{Color, EventId, PredicateInfo, Statistic, StatisticContext};
use smok_client::baob::BaobChange;
use smok_client::executor::HandlerError;
use smok_client::orders::{Advise, PathpointValue};
use smok_client::pathpoint::{Pathpoint, PathpointIo};
use smok_client::{ReadError, Sample, SmokDevice, StorageLevel};
use tracing_subscriber::prelude::*;

/// The simulated hardware.
#[derive(Debug)]
struct Hardware {
    temperature: f64, // °C
    setpoint: f64,    // °C
    burner: bool,
    pressure: f64, // bar
    settings: FirmwareSettings,
}

/// The BAOB with the boiler's firmware settings.
const SETTINGS_BAOB: &str = "firmware-settings";

/// What the `firmware-settings` BAOB holds.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct FirmwareSettings {
    /// Highest setpoint a write may ask for, °C.
    max_setpoint: f64,
    /// How far below the setpoint the burner starts, °C.
    hysteresis: f64,
}

impl Default for FirmwareSettings {
    fn default() -> Self {
        FirmwareSettings {
            max_setpoint: 85.0,
            hysteresis: 2.0,
        }
    }
}

/// Applies the `firmware-settings` BAOB the device holds, creating it with the defaults on the
/// first start (the framework uploads it).
fn apply_settings(device: &SmokDevice, hardware: &Mutex<Hardware>) -> Result<(), Box<dyn std::error::Error>> {
    let settings = match device.baob(SETTINGS_BAOB)? {
        Some(baob) => match serde_json::from_slice::<FirmwareSettings>(&baob.data) {
            Ok(settings) => settings,
            Err(e) => {
                tracing::warn!(target: "boiler", version = baob.version, "firmware settings ignored: {e}");
                return Ok(());
            }
        },
        None => {
            let defaults = FirmwareSettings::default();
            device.set_baob(SETTINGS_BAOB, &serde_json::to_vec(&defaults)?)?;
            defaults
        }
    };
    tracing::info!(target: "boiler", ?settings, "firmware settings applied");
    if let Ok(mut hw) = hardware.lock() {
        hw.settings = settings;
        hw.setpoint = hw.setpoint.min(settings.max_setpoint);
    }
    Ok(())
}

impl Hardware {
    /// One second of physics: the burner heats, the house cools.
    fn step(&mut self) {
        self.burner = self.temperature < self.setpoint - self.settings.hysteresis
            || (self.burner && self.temperature < self.setpoint);
        self.temperature += if self.burner { 0.8 } else { -0.3 };
        self.pressure = 1.2 + (self.temperature - 20.0) * 0.005;
    }
}

/// The boiler's bus: every pathpoint goes through here.
#[derive(Clone)]
struct Bus(Arc<Mutex<Hardware>>);

impl PathpointIo for Bus {
    async fn read(&self, path: &str, _advise: Advise) -> Result<PathpointValue, ReadError> {
        let hw = self.0.lock().map_err(|_| ReadError::Malformed)?;
        Ok(match path {
            "W1" => PathpointValue::Int((hw.temperature * 10.0).round().max(0.0) as i64),
            "W2" => PathpointValue::Int((hw.setpoint * 10.0).round() as i64),
            "B3" => PathpointValue::Int(i64::from(hw.burner)),
            "d4" => PathpointValue::Float(hw.pressure),
            _ => return Err(ReadError::Invalid),
        })
    }

    async fn write(&self, path: &str, value: PathpointValue, _advise: Advise) -> Result<(), ReadError> {
        let mut hw = self.0.lock().map_err(|_| ReadError::Malformed)?;
        match (path, value) {
            ("W2", PathpointValue::Int(tenths))
                if tenths >= 50 && tenths as f64 / 10.0 <= hw.settings.max_setpoint =>
            {
                hw.setpoint = tenths as f64 / 10.0
            }
            ("B3", PathpointValue::Int(on)) => hw.burner = on == 1,
            _ => return Err(ReadError::Invalid), // read-only, or out of the boiler's range
        }
        Ok(())
    }
}

/// `boiler.overheat`: an event while `W1` is above `max` °C (from the predicate's
/// configuration), a point event each time the pressure `d4` rises past 1.5 bar.
struct Overheat {
    max_tenths: i64,
}

impl Overheat {
    fn new(predicate: &PredicateInfo) -> Result<Overheat, String> {
        let max = predicate.configuration["max"]
            .as_f64()
            .ok_or("the configuration needs a number \"max\" (°C)")?;
        Ok(Overheat {
            max_tenths: (max * 10.0).round() as i64,
        })
    }
}

impl Statistic for Overheat {
    fn tick(&mut self, ctx: &mut StatisticContext<'_>) {
        if let Some(Sample::Value {
            value: PathpointValue::Int(t),
            ..
        }) = ctx.value("W1")
        {
            let open: Vec<EventId> = ctx.open_events().iter().map(|e| e.id).collect();
            if t > self.max_tenths && open.is_empty() {
                ctx.open_event(&format!("water at {:.1} °C", t as f64 / 10.0), Color::Red);
            } else if t <= self.max_tenths {
                open.into_iter().for_each(|id| {
                    ctx.close_event(id);
                });
            }
        }
        // The state remembers whether the pressure was high, so that one rise is one event.
        if let Some(Sample::Value {
            value: PathpointValue::Float(bar),
            ..
        }) = ctx.value("d4")
        {
            let was_high = ctx.state()["pressure_high"].as_bool().unwrap_or(false);
            if bar > 1.5 && !was_high {
                ctx.point_event(&format!("pressure {bar:.2} bar"), Color::Yellow);
            }
            ctx.state()["pressure_high"] = serde_json::Value::Bool(bar > 1.5);
        }
    }

    fn changed(&mut self, predicate: &PredicateInfo) {
        if let Ok(new) = Overheat::new(predicate) {
            *self = new;
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let pki = arg(&args, "--pki").unwrap_or_else(|| "pki".into());
    let id = arg(&args, "--id").unwrap_or_else(|| "1".into());
    let http = arg(&args, "--http").unwrap_or_else(|| "https://127.0.0.1:8443".into());
    let store = arg(&args, "--store").unwrap_or_else(|| "boiler.db".into());
    let read = |p: String| std::fs::read_to_string(&p).map_err(|e| format!("{p}: {e}"));
    // BAOB changes by the server arrive on the sync task: handed to the main loop.
    let (baob_tx, mut baob_changes) = tokio::sync::mpsc::unbounded_channel();

    let mut builder = SmokDevice::builder(
        read(format!("{pki}/devices/{id}.pem"))?,
        read(format!("{pki}/devices/{id}.key"))?,
    )
    .ca_pem(read(format!("{pki}/ca.pem"))?)
    .http_base_url(http)
    .poll_interval(Duration::from_secs(5))
    .store_path(store)
    .on_baob_changed(move |change| {
        let _ = baob_tx.send(change);
    })
    .on_sysctl(|order| async move {
        match order.op_type.as_str() {
            "reboot" => {
                tracing::warn!(target: "boiler", "reboot requested (a real boiler would restart now)");
                Ok(())
            }
            other => Err(HandlerError::unsupported(format!("sysctl {other:?}"))),
        }
    });
    if let Some(ngtt) = arg(&args, "--ngtt") {
        builder = builder
            .use_ngtt(true)
            .ngtt_server(ngtt)
            .ngtt_server_name("localhost");
    }
    let (device, orders) = builder.build()?;
    // The terminal shows INFO and above (RUST_LOG to change); the server gets what the log
    // layer uploads.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(filter))
        .with(device.log_layer())
        .init();

    let hardware = Arc::new(Mutex::new(Hardware {
        temperature: 35.0,
        setpoint: 50.0,
        burner: false,
        pressure: 1.3,
        settings: FirmwareSettings::default(),
    }));
    apply_settings(&device, &hardware)?;
    let bus = Bus(hardware.clone());
    device.register_pathpoint(Pathpoint::new("W1", bus.clone()).storage_level(StorageLevel::Permanent))?;
    device.register_pathpoint(Pathpoint::new("W2", bus.clone()).storage_level(StorageLevel::Permanent))?;
    device.register_pathpoint(Pathpoint::new("B3", bus.clone()))?;
    device.register_pathpoint(Pathpoint::new("d4", bus))?;
    device.register_statistic("boiler.overheat", Overheat::new);
    let executor = device.spawn_order_executor(orders);

    let ready = device.ready().await;
    tracing::info!(target: "boiler", sensors = ready.sensor_count, from = ?ready.sensors, "boiler started");

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut seconds = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(change) = baob_changes.recv() => {
                if matches!(&change, BaobChange::Updated { key, .. } if key == SETTINGS_BAOB) {
                    apply_settings(&device, &hardware)?;
                }
                continue;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
        if let Ok(mut hw) = hardware.lock() {
            hw.step();
        }
        seconds += 1;
        if seconds % 10 != 0 {
            continue;
        }
        // Every 10 s: read everything (the framework uploads the values) and report.
        for path in ["W1", "W2", "B3", "d4"] {
            if let Err(e) = device.read(path, Advise::Advise).await {
                tracing::warn!(target: "boiler", path, "read failed: {e}");
            }
        }
        let needs_heat = device.value("rB{W1}<{W2}-20")?;
        let sensors: Vec<String> = device
            .sensors()
            .iter()
            .filter_map(|s| match device.sensor_value(s.fqts()) {
                Ok(Some((_, v))) => Some(format!("{} = {v}", s.fqts())),
                _ => None,
            })
            .collect();
        let stats = device.store_stats()?;
        tracing::info!(
            target: "boiler",
            ?needs_heat,
            sensors = %sensors.join(", "),
            unsent = stats.samples_pending,
            open_events = device.open_events().len(),
            link = ?device.link_state(),
            "status"
        );
    }
    device.close(Duration::from_secs(5)).await;
    executor.abort();
    Ok(())
}
