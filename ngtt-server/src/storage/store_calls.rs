//! The typed async face of every [`Storage`](super::Storage) read and device-resource call:
//! `store.list_sensors(&device).await` instead of `store.call(move |s| s.list_sensors(&dev))`.
//!
//! Each method copies its arguments (device ids, small records) into a call that runs as one
//! transaction on a bounded storage worker ([`Store::call`]), exactly like the closure form;
//! the closure form stays for the few multi-step calls (a metadata write with its stamp rule,
//! a macro write with its limit, BAOB streaming).

use super::archives::ArchiveEntry;
use super::baob::{BaobRecord, Writer};
use super::device_info::{DeviceInfo, Instrumentation, InstrumentationPatch};
use super::events::{EventQuery, EventRecord, EventReport};
use super::macros::MacroRecord;
use super::metadata::MetadataEntry;
use super::predicates::Predicate;
use super::sensors::{Sensor, SensorWrite};
use super::types::{
    DeviceRecord, LogEntry, MessageReport, OrderId, OrderRecord, OrderState, PendingOrder,
    RegisteredPathpoint, SeriesQuery,
};
use super::{StorageError, Store};
use ngtt_proto::payload::PathpointSeries;

type Answer<T> = Result<T, StorageError>;

impl Store {
    /// Every known device ([`Storage::list_devices`](super::Storage::list_devices)).
    pub async fn list_devices(&self) -> Answer<Vec<DeviceRecord>> {
        self.call(|s| s.list_devices()).await
    }

    /// One order.
    pub async fn order(&self, id: OrderId) -> Answer<Option<OrderRecord>> {
        self.call(move |s| s.order(id)).await
    }

    /// A device's orders, oldest first.
    pub async fn list_orders(
        &self,
        device_id: &str,
        state: Option<OrderState>,
        limit: usize,
    ) -> Answer<Vec<OrderRecord>> {
        let device = device_id.to_owned();
        self.call(move |s| s.list_orders(&device, state, limit)).await
    }

    /// The device HTTP API's hand-out: every pending order, marked confirmed.
    pub async fn hand_out_orders(&self, device_id: &str) -> Answer<Vec<PendingOrder>> {
        let device = device_id.to_owned();
        self.call(move |s| s.hand_out_orders(&device)).await
    }

    /// Stored samples of a device.
    pub async fn read_series(&self, device_id: &str, query: &SeriesQuery) -> Answer<Vec<PathpointSeries>> {
        let (device, query) = (device_id.to_owned(), query.clone());
        self.call(move |s| s.read_series(&device, &query)).await
    }

    /// The most recent log records of a device, oldest first.
    pub async fn read_logs(&self, device_id: &str, limit: usize) -> Answer<Vec<LogEntry>> {
        let device = device_id.to_owned();
        self.call(move |s| s.read_logs(&device, limit)).await
    }

    /// Records a `message` order report; `false` when reported before.
    pub async fn record_message(&self, device_id: &str, uuid: &str) -> Answer<bool> {
        let (device, uuid) = (device_id.to_owned(), uuid.to_owned());
        self.call(move |s| s.record_message(&device, &uuid)).await
    }

    /// The most recent message reports of a device, oldest first.
    pub async fn list_messages(&self, device_id: &str, limit: usize) -> Answer<Vec<MessageReport>> {
        let device = device_id.to_owned();
        self.call(move |s| s.list_messages(&device, limit)).await
    }

    /// Registers pathpoints and returns all of the device's.
    pub async fn register_pathpoints(
        &self,
        device_id: &str,
        pathpoints: &[RegisteredPathpoint],
    ) -> Answer<Vec<RegisteredPathpoint>> {
        let (device, pathpoints) = (device_id.to_owned(), pathpoints.to_vec());
        self.call(move |s| s.register_pathpoints(&device, &pathpoints))
            .await
    }

    /// A device's information (the defaults when never set).
    pub async fn device_info(&self, device_id: &str) -> Answer<DeviceInfo> {
        let device = device_id.to_owned();
        self.call(move |s| s.device_info(&device)).await
    }

    /// Replaces a device's information.
    pub async fn set_device_info(&self, device_id: &str, info: &DeviceInfo) -> Answer<()> {
        let (device, info) = (device_id.to_owned(), info.clone());
        self.call(move |s| s.set_device_info(&device, &info)).await
    }

    /// A slave device's instrumentation.
    pub async fn instrumentation(&self, device_id: &str, slave_id: &str) -> Answer<Option<Instrumentation>> {
        let (device, slave) = (device_id.to_owned(), slave_id.to_owned());
        self.call(move |s| s.instrumentation(&device, &slave)).await
    }

    /// Changes a slave device's instrumentation.
    pub async fn patch_instrumentation(
        &self,
        device_id: &str,
        slave_id: &str,
        patch: &InstrumentationPatch,
    ) -> Answer<Option<Instrumentation>> {
        let (device, slave, patch) = (device_id.to_owned(), slave_id.to_owned(), patch.clone());
        self.call(move |s| s.patch_instrumentation(&device, &slave, &patch))
            .await
    }

    /// A device's sensors, by fqts.
    pub async fn list_sensors(&self, device_id: &str) -> Answer<Vec<Sensor>> {
        let device = device_id.to_owned();
        self.call(move |s| s.list_sensors(&device)).await
    }

    /// Creates or replaces sensors; how many were new.
    pub async fn put_sensors(&self, device_id: &str, sensors: &[Sensor], replace_all: bool) -> Answer<usize> {
        let (device, sensors) = (device_id.to_owned(), sensors.to_vec());
        self.call(move |s| s.put_sensors(&device, &sensors, replace_all))
            .await
    }

    /// Removes a sensor; `false` when there was none.
    pub async fn delete_sensor(&self, device_id: &str, fqts: &str) -> Answer<bool> {
        let (device, fqts) = (device_id.to_owned(), fqts.to_owned());
        self.call(move |s| s.delete_sensor(&device, &fqts)).await
    }

    /// Stores sensor write records; how many were new.
    pub async fn store_sensor_writes(&self, device_id: &str, writes: &[SensorWrite]) -> Answer<usize> {
        let (device, writes) = (device_id.to_owned(), writes.to_vec());
        self.call(move |s| s.store_sensor_writes(&device, &writes)).await
    }

    /// The most recent sensor write records, oldest first.
    pub async fn list_sensor_writes(
        &self,
        device_id: &str,
        fqts: Option<&str>,
        limit: usize,
    ) -> Answer<Vec<SensorWrite>> {
        let (device, fqts) = (device_id.to_owned(), fqts.map(str::to_owned));
        self.call(move |s| s.list_sensor_writes(&device, fqts.as_deref(), limit))
            .await
    }

    /// A device's predicates, by id.
    pub async fn list_predicates(&self, device_id: &str) -> Answer<Vec<Predicate>> {
        let device = device_id.to_owned();
        self.call(move |s| s.list_predicates(&device)).await
    }

    /// One predicate.
    pub async fn predicate(&self, device_id: &str, predicate_id: &str) -> Answer<Option<Predicate>> {
        let (device, id) = (device_id.to_owned(), predicate_id.to_owned());
        self.call(move |s| s.predicate(&device, &id)).await
    }

    /// Creates or replaces a predicate; `true` when new.
    pub async fn put_predicate(&self, device_id: &str, predicate: &Predicate) -> Answer<bool> {
        let (device, predicate) = (device_id.to_owned(), predicate.clone());
        self.call(move |s| s.put_predicate(&device, &predicate)).await
    }

    /// Removes a predicate; `false` when there was none.
    pub async fn delete_predicate(&self, device_id: &str, predicate_id: &str) -> Answer<bool> {
        let (device, id) = (device_id.to_owned(), predicate_id.to_owned());
        self.call(move |s| s.delete_predicate(&device, &id)).await
    }

    /// Applies an alarms batch; each element's uuid.
    pub async fn report_events(&self, device_id: &str, events: &[EventReport]) -> Answer<Vec<String>> {
        let (device, events) = (device_id.to_owned(), events.to_vec());
        self.call(move |s| s.report_events(&device, &events)).await
    }

    /// A device's events, newest first.
    pub async fn list_events(&self, device_id: &str, query: EventQuery) -> Answer<Vec<EventRecord>> {
        let device = device_id.to_owned();
        self.call(move |s| s.list_events(&device, query)).await
    }

    /// One event of a device.
    pub async fn event(&self, device_id: &str, uuid: &str) -> Answer<Option<EventRecord>> {
        let (device, uuid) = (device_id.to_owned(), uuid.to_owned());
        self.call(move |s| s.event(&device, &uuid)).await
    }

    /// Closes an event from the server side.
    pub async fn close_event(
        &self,
        device_id: &str,
        uuid: &str,
        ended_on: f64,
        handled_by: Option<&str>,
    ) -> Answer<Option<EventRecord>> {
        let (device, uuid, by) = (
            device_id.to_owned(),
            uuid.to_owned(),
            handled_by.map(str::to_owned),
        );
        self.call(move |s| s.close_event(&device, &uuid, ended_on, by.as_deref()))
            .await
    }

    /// Every BAOB record of a device (tombstones included).
    pub async fn list_baobs(&self, device_id: &str) -> Answer<Vec<BaobRecord>> {
        let device = device_id.to_owned();
        self.call(move |s| s.list_baobs(&device)).await
    }

    /// One BAOB record.
    pub async fn baob(&self, device_id: &str, key: &str) -> Answer<Option<BaobRecord>> {
        let (device, key) = (device_id.to_owned(), key.to_owned());
        self.call(move |s| s.baob(&device, &key)).await
    }

    /// Deletes a BAOB, keeping a tombstone; `None` when there is no such live BAOB.
    pub async fn delete_baob(&self, device_id: &str, key: &str, by: Writer) -> Answer<Option<i64>> {
        let (device, key) = (device_id.to_owned(), key.to_owned());
        self.call(move |s| s.delete_baob(&device, &key, by)).await
    }

    /// A device's macros (only those with occurrences in `window`, when given).
    pub async fn macros(&self, device_id: &str, window: Option<(f64, f64)>) -> Answer<Vec<MacroRecord>> {
        let device = device_id.to_owned();
        self.call(move |s| s.macros(&device, window)).await
    }

    /// One macro with all its occurrences.
    pub async fn macro_record(&self, device_id: &str, macro_id: &str) -> Answer<Option<MacroRecord>> {
        let (device, id) = (device_id.to_owned(), macro_id.to_owned());
        self.call(move |s| s.macro_record(&device, &id)).await
    }

    /// Deletes a macro; `false` when there was none.
    pub async fn delete_macro(&self, device_id: &str, macro_id: &str) -> Answer<bool> {
        let (device, id) = (device_id.to_owned(), macro_id.to_owned());
        self.call(move |s| s.delete_macro(&device, &id)).await
    }

    /// Marks a macro occurrence completed.
    pub async fn complete_occurrence(
        &self,
        device_id: &str,
        macro_id: &str,
        timestamp: f64,
    ) -> Answer<Option<bool>> {
        let (device, id) = (device_id.to_owned(), macro_id.to_owned());
        self.call(move |s| s.complete_occurrence(&device, &id, timestamp))
            .await
    }

    /// A device's archive settings.
    pub async fn archives(&self, device_id: &str) -> Answer<Vec<ArchiveEntry>> {
        let device = device_id.to_owned();
        self.call(move |s| s.archives(&device)).await
    }

    /// Replaces a device's archive settings.
    pub async fn set_archives(&self, device_id: &str, entries: &[ArchiveEntry]) -> Answer<()> {
        let (device, entries) = (device_id.to_owned(), entries.to_vec());
        self.call(move |s| s.set_archives(&device, &entries)).await
    }

    /// One metadata entry.
    pub async fn metadata(&self, device_id: &str, key: &str) -> Answer<Option<MetadataEntry>> {
        let (device, key) = (device_id.to_owned(), key.to_owned());
        self.call(move |s| s.metadata(&device, &key)).await
    }

    /// Every metadata entry of a device, by key.
    pub async fn list_metadata(&self, device_id: &str) -> Answer<Vec<MetadataEntry>> {
        let device = device_id.to_owned();
        self.call(move |s| s.list_metadata(&device)).await
    }

    /// Deletes a metadata entry; `false` when there was none.
    pub async fn delete_metadata(&self, device_id: &str, key: &str) -> Answer<bool> {
        let (device, key) = (device_id.to_owned(), key.to_owned());
        self.call(move |s| s.delete_metadata(&device, &key)).await
    }
}
