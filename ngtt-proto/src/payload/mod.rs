//! Typed payloads of the frames that carry one (NGTT.md §5–7), with serde over MiniJSON, and
//! constructors for the frames that carry them.

mod baob;
mod base64;
mod log;
mod order;
mod pathpoint;

pub use baob::{SyncBaobRequest, SyncBaobResponse};
pub use log::{decode_traceback, Level, LogMessage, LogRecord, COMPRESS_THRESHOLD, MAX_INFLATED};
pub use order::{
    Advise, Disposition, MessageOrder, Order, ReadOrder, Section, SysctlOrder, WaitOrder, WriteOrder,
    WriteValue,
};
pub use pathpoint::{PathpointSeries, PathpointType, PathpointValue, ReadError, Sample};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{ProtoError, Result};
use crate::frame::Frame;
use crate::frame_type::FrameType;

fn payload<T: ?Sized + Serialize>(value: &T) -> Result<Bytes> {
    Ok(minijson::to_vec(value)?.into())
}

impl Frame {
    /// ORDER `tid` carrying `sections`.
    pub fn order(tid: u16, sections: &[Section]) -> Result<Frame> {
        Ok(Frame::new(FrameType::Order, tid, payload(sections)?))
    }

    /// LOGS (tid 0) carrying `records`.
    pub fn logs(records: &[LogRecord]) -> Result<Frame> {
        Ok(Frame::new(FrameType::Logs, 0, payload(records)?))
    }

    /// DATA_STREAM `tid` carrying `series`.
    pub fn data_stream(tid: u16, series: &[PathpointSeries]) -> Result<Frame> {
        Ok(Frame::new(FrameType::DataStream, tid, payload(series)?))
    }

    /// DATA_STREAM_REJECT `tid` with a reason the device can log.
    pub fn data_stream_reject_because(tid: u16, reason: &str) -> Result<Frame> {
        Ok(Frame::new(FrameType::DataStreamReject, tid, payload(reason)?))
    }

    /// ORDER_REJECT `tid` with `reason` as its MiniJSON payload (an extension of this
    /// implementation: the published clients send ORDER_REJECT empty, and a server ignores what
    /// it does not read).
    pub fn order_reject_because(tid: u16, reason: &str) -> Result<Frame> {
        Ok(Frame::new(FrameType::OrderReject, tid, payload(reason)?))
    }

    /// SYNC_BAOB_REQUEST `tid`.
    pub fn sync_baob_request(tid: u16, request: &SyncBaobRequest) -> Result<Frame> {
        Ok(Frame::new(FrameType::SyncBaobRequest, tid, payload(request)?))
    }

    /// SYNC_BAOB_RESPONSE `tid`.
    pub fn sync_baob_response(tid: u16, response: &SyncBaobResponse) -> Result<Frame> {
        Ok(Frame::new(FrameType::SyncBaobResponse, tid, payload(response)?))
    }

    /// Decodes the payload as one whole MiniJSON document of type `T`, borrowing from the frame.
    ///
    /// An empty payload is an error: use [`Frame::payload_opt`] where a payload is optional.
    pub fn payload_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        if self.payload.is_empty() {
            return Err(ProtoError::InvalidPayload(format!(
                "{} frame has no payload",
                self.kind
            )));
        }
        Ok(minijson::from_slice(&self.payload)?)
    }

    /// Like [`Frame::payload_as`], but an empty payload is `None`.
    pub fn payload_opt<'a, T: Deserialize<'a>>(&'a self) -> Result<Option<T>> {
        if self.payload.is_empty() {
            Ok(None)
        } else {
            self.payload_as().map(Some)
        }
    }
}
