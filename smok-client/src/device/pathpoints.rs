//! The device's pathpoint operations: reads and writes through the registry (with the attempts
//! of their advise level), values set by the program, reparse values computed on demand.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use ngtt_proto::payload::{Advise, PathpointValue, ReadError, Sample};

use super::SmokDevice;
use crate::error::{ClientError, Result};
use crate::pathpoint::{normalize_read, Pathpoint, PathpointInfo, Resolved};
use crate::reparse::ReparsePath;

/// How deep reparse pathpoints may refer to other reparse pathpoints.
const MAX_REPARSE_NESTING: usize = 8;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SmokDevice {
    /// Registers a pathpoint (or replaces the I/O and level of one of that name). The server
    /// learns the new list with the next registration (`PUT /v1/device/pathpoints`).
    pub fn register_pathpoint(&self, pathpoint: Pathpoint) -> Result<()> {
        self.fw().registry.register(pathpoint)?;
        self.fw().registry_changed.notify_one();
        Ok(())
    }

    /// What the device knows about native pathpoint `path` (level, last value...).
    pub fn pathpoint(&self, path: &str) -> Option<PathpointInfo> {
        self.fw().registry.info(path)
    }

    /// Every native pathpoint, in registration order.
    pub fn pathpoints(&self) -> Vec<PathpointInfo> {
        self.fw().registry.list()
    }

    /// Reads `path` now, as a read order would: through its [`PathpointIo`](crate::pathpoint::PathpointIo)
    /// (attempted as often as `advise` allows), the value checked against the path's type, then
    /// stored as its last value and queued for upload — a failed read too, as an error sample.
    /// A reparse pathpoint reads its constituents and returns its computed value (never
    /// uploaded). Fails only when the path cannot be read at all (bad name, no I/O).
    pub async fn read(&self, path: &str, advise: Advise) -> Result<Sample> {
        self.read_nested(path, advise, 0).await
    }

    fn read_nested<'a>(
        &'a self,
        path: &'a str,
        advise: Advise,
        depth: usize,
    ) -> BoxFuture<'a, Result<Sample>> {
        Box::pin(async move {
            let resolved = self.resolve(path)?;
            match resolved {
                Resolved::Native { io: None, .. } => Err(ClientError::NoSuchPathpoint(path.to_owned())),
                Resolved::Native {
                    value_type,
                    io: Some(io),
                } => {
                    if !self.fw().registry.may_read(path, std::time::Instant::now()) {
                        if let Some(last) = self.fw().registry.last(path) {
                            return Ok(last);
                        }
                    }
                    let attempts = self.fw().attempts;
                    let mut failed = 0;
                    let outcome = loop {
                        match io.read(path, advise).await {
                            Ok(value) => break normalize_read(value_type, value),
                            Err(e) => {
                                failed += 1;
                                if failed >= attempts.reads(advise) {
                                    break Err(e);
                                }
                                tokio::time::sleep(attempts.pause_after(failed)).await;
                            }
                        }
                    };
                    let ts = self.fw().registry.next_ts(path, now_ms());
                    let sample = match outcome {
                        Ok(value) => Sample::value(ts, value),
                        Err(error) => {
                            tracing::warn!(target: "smok::pathpoints", path, error = error.as_str(), "read failed");
                            Sample::error(ts, error)
                        }
                    };
                    self.fw().record(path, sample.clone())?;
                    Ok(sample)
                }
                Resolved::Reparse(reparse) => {
                    if depth >= MAX_REPARSE_NESTING {
                        return Err(ClientError::NoValue(format!(
                            "{path:?}: reparse pathpoints nested deeper than {MAX_REPARSE_NESTING}"
                        )));
                    }
                    let mut seen = HashSet::new();
                    for constituent in reparse.constituents() {
                        if seen.insert(constituent.as_str()) {
                            self.read_nested(constituent, advise, depth + 1).await?;
                        }
                    }
                    self.reparse_value(&reparse, 0)?
                        .ok_or_else(|| ClientError::NoValue(format!("{path:?}: a constituent has no value")))
                }
            }
        })
    }

    /// Writes `value` to `path` now, as a write order would: coerced to the path's type, through
    /// its I/O, attempted as often as `advise` allows. Writing a reparse pathpoint does nothing
    /// (as in the published client, but without ending anything).
    pub async fn write(&self, path: &str, value: impl Into<PathpointValue>, advise: Advise) -> Result<()> {
        let value = value.into();
        let resolved = self.resolve(path)?;
        match resolved {
            Resolved::Reparse(_) => {
                tracing::debug!(path, "a write to a reparse pathpoint does nothing");
                Ok(())
            }
            Resolved::Native { io: None, .. } => Err(ClientError::NoSuchPathpoint(path.to_owned())),
            Resolved::Native {
                value_type,
                io: Some(io),
            } => {
                let value = value_type.coerce(&value)?;
                let attempts = self.fw().attempts;
                let mut failed = 0;
                loop {
                    match io.write(path, value.clone(), advise).await {
                        Ok(()) => return Ok(()),
                        Err(error) => {
                            failed += 1;
                            if failed >= attempts.writes(advise) {
                                return Err(ClientError::Operation {
                                    operation: "write",
                                    path: path.to_owned(),
                                    error,
                                });
                            }
                            tokio::time::sleep(attempts.pause_after(failed)).await;
                        }
                    }
                }
            }
        }
    }

    /// Records a value of `path` obtained by the program itself (the Python client's
    /// `set_new_value`), at `ts_ms`: checked against the path's type, stored, uploaded. A
    /// timestamp not later than the path's last one is refused: the server keeps one sample per
    /// path and timestamp.
    pub fn set_value(&self, path: &str, ts_ms: u64, value: impl Into<PathpointValue>) -> Result<()> {
        let value_type = self.native_type(path)?;
        let sample = match normalize_read(value_type, value.into()) {
            Ok(v) => Sample::value(ts_ms, v),
            Err(e) => Sample::error(ts_ms, e),
        };
        self.set_sample(path, sample)
    }

    /// Records a failed read of `path` at `ts_ms` (uploaded as `[false, ts, code]`).
    pub fn set_failed(&self, path: &str, ts_ms: u64, error: ReadError) -> Result<()> {
        self.native_type(path)?;
        self.set_sample(path, Sample::error(ts_ms, error))
    }

    /// Resolves `path` in the registry, waking the registration only when that added a
    /// pathpoint: reads and writes of known pathpoints (an order a second) do not wake it.
    fn resolve(&self, path: &str) -> Result<Resolved> {
        let registry = &self.fw().registry;
        let before = registry.generation();
        let resolved = registry.resolve(path)?;
        if registry.generation() != before {
            self.fw().registry_changed.notify_one();
        }
        Ok(resolved)
    }

    fn native_type(&self, path: &str) -> Result<ngtt_proto::payload::PathpointType> {
        match self.resolve(path)? {
            Resolved::Native { value_type, .. } => Ok(value_type),
            Resolved::Reparse(_) => Err(ClientError::Config(format!(
                "{path:?} is a reparse pathpoint: its value is computed"
            ))),
        }
    }

    fn set_sample(&self, path: &str, sample: Sample) -> Result<()> {
        if let Some(last) = self.fw().registry.last(path) {
            if sample.ts() <= last.ts() {
                return Err(ClientError::Config(format!(
                    "{path:?} already has a value at {} ms, not before {} ms",
                    last.ts(),
                    sample.ts()
                )));
            }
        }
        self.fw().record(path, sample)
    }

    /// The current value of `path`: a native pathpoint's last value or failed read; a reparse
    /// pathpoint's value computed from its constituents' (timestamp: the newest of theirs; a
    /// failed constituent makes it a failed read). `None` when something has no value yet.
    pub fn value(&self, path: &str) -> Result<Option<Sample>> {
        match self.fw().registry.resolve(path)? {
            Resolved::Native { .. } => Ok(self.fw().registry.last(path)),
            Resolved::Reparse(r) => self.reparse_value(&r, 0),
        }
    }

    fn reparse_value(&self, reparse: &ReparsePath, depth: usize) -> Result<Option<Sample>> {
        let mut values = Vec::with_capacity(reparse.constituents().len());
        let mut newest = 0;
        for constituent in reparse.constituents() {
            let sample = if constituent.starts_with('r') {
                if depth >= MAX_REPARSE_NESTING {
                    return Err(ClientError::NoValue(format!("{} nests too deep", reparse.name())));
                }
                let nested = self.fw().registry.reparse(constituent)?;
                self.reparse_value(&nested, depth + 1)?
            } else {
                self.fw().registry.resolve(constituent)?;
                self.fw().registry.last(constituent)
            };
            let Some(sample) = sample else { return Ok(None) };
            newest = newest.max(sample.ts());
            match sample {
                Sample::Value { value, .. } => values.push(value),
                Sample::Error { error, .. } => return Ok(Some(Sample::error(newest, error))),
            }
        }
        let value = reparse
            .compute(&values)
            .map_err(|e| ClientError::NoValue(format!("{}: {e}", reparse.name())))?;
        Ok(Some(Sample::value(newest, value)))
    }
}
