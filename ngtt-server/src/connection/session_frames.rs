//! The frames of a [`Session`]: what each kind of frame from the device starts (NGTT.md §4).

use ngtt_proto::payload::SyncBaobRequest;
use ngtt_proto::{Frame, FrameType};
use tracing::{info, warn};

use super::{Session, Waiting, MAX_REJECT_REASON_CHARS};
use crate::budgets::{Encoding, Shape};
use crate::connection::ops::{End, Op};
use crate::storage::OrderAnswer;

impl Session {
    /// Acts on one frame from the device.
    pub(super) fn dispatch(&mut self, frame: Frame) {
        match frame.kind {
            // Held from when it was read (a PING read behind uploads too).
            FrameType::Ping => self.echo(&frame, self.last_rx),
            FrameType::FetchOrders => self.want_orders("device asked for orders"),
            FrameType::OrderConfirm => self.on_answer(frame.tid, OrderAnswer::Confirmed),
            FrameType::OrderReject => {
                // Our devices may say why (docs/protocol.md); the rejection counts either way.
                if let Ok(Some(reason)) = frame.payload_opt::<&str>() {
                    let reason: String = reason.chars().take(MAX_REJECT_REASON_CHARS).collect();
                    info!(tid = frame.tid, reason = %ngtt_proto::Escaped(&reason), "the device gave a reason for ORDER_REJECT");
                }
                self.on_answer(frame.tid, OrderAnswer::Rejected)
            }
            FrameType::DataStream => self.on_data_stream(&frame),
            FrameType::Logs => {
                let factor = self.config.decode_factor;
                let check =
                    crate::Budgets::check_decoded(factor, Encoding::MiniJson, Shape::Values, &frame.payload);
                if let Err(reason) = check {
                    // LOGS has no answer: a batch over the decode budget is dropped, the
                    // connection kept (invalid MiniJSON still closes it, below).
                    if self.warnings.first("LOGS over the decode budget") {
                        warn!(
                            tid = frame.tid,
                            "LOGS frame dropped: {reason} (repeats are counted)"
                        );
                    }
                } else {
                    match frame.payload_as::<Vec<minijson::Value>>() {
                        Ok(items) if items.is_empty() => {}
                        Ok(items) => self.start(Waiting::Logs, Op::StoreLogs { items }),
                        Err(e) => self.finish(End::from(e)),
                    }
                }
            }
            FrameType::SyncBaobRequest => match frame.payload_as::<SyncBaobRequest>() {
                Ok(request) => self.start(Waiting::Baob { tid: frame.tid }, Op::BaobSync { request }),
                Err(e) => self.finish(End::from(e)),
            },
            FrameType::Order
            | FrameType::DataStreamConfirm
            | FrameType::DataStreamReject
            | FrameType::SyncBaobResponse => {
                if self.warnings.first("unexpected frame") {
                    warn!(
                        tid = frame.tid,
                        "unexpected {} frame from a device; ignored (repeats are counted)", frame.kind
                    );
                }
            }
            FrameType::Unknown(n) => {
                if self.unknown_seen.insert(n) {
                    warn!("ignoring frames of unknown type {n} (logged once per connection)");
                }
            }
        }
    }
}
