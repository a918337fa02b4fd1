//! BAOB contents streamed to and from storage, for the device HTTP API and the admin API alike:
//! an upload is staged in chunks of [`BAOB_CHUNK`] bytes as it arrives ([`Stager`]), a download
//! is read chunk by chunk as it is sent ([`download_body`]). Neither holds more than about one
//! chunk in memory.

use axum::body::{Body, Bytes};
use axum::http::StatusCode;

use super::baob::{BaobCommit, BaobWrite, ContentId, VersionRule, Writer, BAOB_CHUNK};
use super::{Db, StorageError};

/// Why an upload could not be staged.
#[derive(Debug)]
pub(crate) enum StageError {
    /// The contents exceed the limit (bytes).
    TooLarge(u64),
    /// Storage failed.
    Storage(StorageError),
}

impl StageError {
    /// The status and reason to answer with.
    pub(crate) fn answer(&self) -> (StatusCode, String) {
        match self {
            StageError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the BAOB is larger than the limit of {limit} bytes"),
            ),
            StageError::Storage(e) => {
                tracing::error!("storing a BAOB failed: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, format!("storage failed: {e}"))
            }
        }
    }
}

/// An upload in progress: bytes are pushed as they arrive, full chunks staged at once, and the
/// whole swapped in by [`Stager::commit`]. Dropped without a commit (refused, or the client went
/// away), its staged chunks are removed.
pub(crate) struct Stager {
    db: Db,
    device: String,
    content: Option<ContentId>,
    buf: Vec<u8>,
    size: u64,
    limit: u64,
}

impl Stager {
    /// A new upload of at most `limit` bytes for `device`.
    pub(crate) fn new(db: Db, device: &str, limit: u64) -> Stager {
        Stager {
            db,
            device: device.to_owned(),
            content: None,
            buf: Vec::new(),
            size: 0,
            limit,
        }
    }

    /// Bytes received so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Takes the next bytes of the contents.
    pub(crate) async fn push(&mut self, mut bytes: &[u8]) -> Result<(), StageError> {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size > self.limit {
            return Err(StageError::TooLarge(self.limit));
        }
        while !bytes.is_empty() {
            let room = BAOB_CHUNK - self.buf.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.buf.extend_from_slice(now);
            bytes = rest;
            if self.buf.len() == BAOB_CHUNK {
                let chunk = std::mem::take(&mut self.buf);
                let (device, content) = (self.device.clone(), self.content);
                let id = self
                    .db
                    .call(move |s| s.stage_baob_chunk(&device, content, &chunk))
                    .await
                    .map_err(StageError::Storage)?;
                self.content = Some(id);
            }
        }
        Ok(())
    }

    /// Stores the upload as `key` if `rule` allows (see [`super::Storage::commit_baob`]).
    pub(crate) async fn commit(
        mut self,
        key: &str,
        rule: VersionRule,
        by: Writer,
        max_keys: usize,
    ) -> Result<BaobWrite, StorageError> {
        let (device, key, staged) = (self.device.clone(), key.to_owned(), self.content.take());
        let tail = std::mem::take(&mut self.buf);
        self.db
            .call(move |s| {
                let commit = BaobCommit {
                    key: &key,
                    rule,
                    by,
                    staged,
                    tail: &tail,
                    max_keys,
                };
                s.commit_baob(&device, &commit)
            })
            .await
    }
}

impl Drop for Stager {
    fn drop(&mut self) {
        let Some(content) = self.content.take() else {
            return;
        };
        let (db, device) = (self.db.clone(), std::mem::take(&mut self.device));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = db.call(move |s| s.discard_baob_upload(&device, content)).await {
                    tracing::warn!(
                        "removing an abandoned BAOB upload failed (removed at the next start): {e}"
                    );
                }
            });
        }
    }
}

/// The contents `content` of `device` (`size` bytes) as a streamed body, read one chunk at a
/// time. If the contents are replaced while they are sent, the body ends with an error: the
/// connection is cut short of its `Content-Length`, and the client retries.
pub(crate) fn download_body(db: Db, device: String, content: ContentId, size: u64) -> Body {
    let chunks = futures::stream::unfold((0u64, 0u64), move |(seq, sent)| {
        let (db, device) = (db.clone(), device.clone());
        async move {
            if sent >= size && !(size == 0 && seq == 0) {
                return None;
            }
            let read = db.call(move |s| s.read_baob_chunk(&device, content, seq)).await;
            match read {
                Ok(Some(chunk)) => {
                    let sent = sent + chunk.len() as u64;
                    Some((Ok(Bytes::from(chunk)), (seq + 1, sent)))
                }
                Ok(None) if size == 0 => None,
                Ok(None) => Some((
                    Err(std::io::Error::other(
                        "the BAOB was replaced while it was being sent",
                    )),
                    (seq + 1, u64::MAX),
                )),
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), (seq + 1, u64::MAX))),
            }
        }
    });
    Body::from_stream(chunks)
}
