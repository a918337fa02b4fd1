//! The one owner of the device's time zone: a [`KnownZone`] loaded from the store at start,
//! told every `GET /v1/device` answer (the refresh task's and the program's own calls), its
//! name stored whenever it changes. Silencing periods and the local time read it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use jiff::Zoned;
use smok_http::DeviceInfo;

use super::settings::ScheduleSettings;
use super::SmokDevice;
use crate::alarm::DeviceZone;
use crate::error::{ClientError, Result};
use crate::local_time::{KnownZone, ZoneUpdate};
use crate::store::Store;

/// The state key of the zone's name (the key earlier versions kept it under, too).
pub(crate) const ZONE_KEY: &str = "timezone";

/// The device's time zone, shared by its handles and tasks.
#[derive(Debug)]
pub(crate) struct ZoneOwner {
    known: Mutex<KnownZone>,
    store: Arc<dyn Store>,
}

impl ZoneOwner {
    /// What the last run stored; nothing (UTC) when it stored nothing usable.
    pub(crate) fn load(store: Arc<dyn Store>) -> ZoneOwner {
        let known = match store.get_state(ZONE_KEY) {
            Ok(Some(name)) => KnownZone::from_stored(&name).unwrap_or_else(|e| {
                tracing::warn!("the stored time zone cannot be used: {e}");
                KnownZone::unknown()
            }),
            Ok(None) => KnownZone::unknown(),
            Err(e) => {
                tracing::warn!(error = %e, "the stored time zone cannot be read");
                KnownZone::unknown()
            }
        };
        ZoneOwner {
            known: Mutex::new(known),
            store,
        }
    }

    fn lock(&self) -> MutexGuard<'_, KnownZone> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A `GET /v1/device` answer: its zone taken (and stored) when it is new and usable.
    pub(crate) fn learn(&self, info: &DeviceInfo) {
        let mut known = self.lock();
        match known.learn(&info.culture_context.timezone) {
            ZoneUpdate::Unchanged => {}
            ZoneUpdate::Changed { from, to } => {
                tracing::info!(?from, to = ?to, "the device's time zone");
                if let Some(name) = known.stored() {
                    if let Err(e) = self.store.put_state(ZONE_KEY, name) {
                        tracing::warn!(error = %e, "the time zone cannot be stored");
                    }
                }
            }
            ZoneUpdate::Unusable { error, repeated } => {
                let kept = known.zone();
                if !repeated {
                    tracing::warn!(
                        kept = kept.name(),
                        "the server's time zone cannot be used: {error}"
                    );
                }
            }
        }
    }

    /// The zone in use (UTC until one is known).
    pub(crate) fn zone(&self) -> DeviceZone {
        self.lock().zone()
    }

    /// The known zone, if any.
    fn known(&self) -> Option<DeviceZone> {
        self.lock().known().cloned()
    }
}

impl SmokDevice {
    fn zone_owner(&self) -> &ZoneOwner {
        &self.inner.zone
    }

    /// The device's time zone (its `culture_context.timezone`): the one the server answered
    /// last, kept in the store, so a device restarted without network has it at once; UTC
    /// while none is known (or when the server names one the tz database does not have and
    /// none was known before). Silencing periods are evaluated in it.
    pub fn time_zone(&self) -> DeviceZone {
        self.zone_owner().zone()
    }

    /// The device's time zone's IANA name (the Python client's `timezone`): the known one;
    /// when none is known yet, the server is asked now. Fails when it cannot be asked, or
    /// names a zone the tz database does not have.
    pub async fn timezone(&self) -> Result<String> {
        Ok(self.known_zone().await?.name().to_owned())
    }

    /// The wall-clock time now in the device's time zone (the Python client's
    /// `get_local_time()`); fails as [`SmokDevice::timezone`] does.
    pub async fn local_time(&self) -> Result<Zoned> {
        let zone = self.known_zone().await?;
        zone.local_time(SystemTime::now())
            .ok_or_else(|| ClientError::Config("the clock is outside the calendar".into()))
    }

    async fn known_zone(&self) -> Result<DeviceZone> {
        if let Some(zone) = self.zone_owner().known() {
            return Ok(zone);
        }
        let info = self.device_info().await?; // told to the owner
        self.zone_owner().known().ok_or_else(|| {
            ClientError::Config(format!(
                "unusable time zone {:?}",
                info.culture_context.timezone.chars().take(80).collect::<String>()
            ))
        })
    }

    /// Asks the server for the zone at the client's start and every
    /// `time_zone_refresh_interval`, so that a change made there reaches the device.
    pub(super) fn spawn_zone_task(&self, settings: &ScheduleSettings) {
        use tracing::Instrument;
        let span = tracing::info_span!("smok", device = %self.inner.identity.device_id);
        let task = refresh_zone(self.clone(), settings.clone()).instrument(span);
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tokio::spawn(task));
    }
}

/// `GET /v1/device` every `zone_refresh`: a refusal (4xx) waits for the next period, no link,
/// a 5xx or a malformed answer is retried with backoff.
async fn refresh_zone(device: SmokDevice, settings: ScheduleSettings) {
    let ctx = &device.inner.sync;
    let refresh = || async {
        let result = ctx.http.device_info().await;
        ctx.health.record(&result);
        match result {
            Ok(info) => {
                device.zone_owner().learn(&info);
                Ok(())
            }
            Err(e) if e.is_clients_fault() => {
                tracing::warn!(error = %e, "the server refused GET /v1/device");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    };
    super::scheduled::every(
        ctx,
        "time zone refresh",
        settings.zone_refresh,
        settings.call_timeout,
        refresh,
    )
    .await;
}
