//! [`Message`]: what the nodes tell each other on the notification channel. Payloads are text,
//! tab-separated, the device id last (it may contain anything but is never split).

use super::book::Epoch;

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// An order was queued for the device: its connection, wherever it is, looks for it.
    Order {
        /// The device.
        device: String,
    },
    /// `node` took the device's lease at `epoch`: connections under older epochs close, and
    /// the `draining` nodes release the device.
    Taken {
        /// The new epoch.
        epoch: Epoch,
        /// The node that took it.
        node: String,
        /// The live nodes it waits for (node ids have no tab nor comma).
        draining: Vec<String>,
        /// The device.
        device: String,
    },
    /// `node` stopped delivering to the device: nodes waiting for it look again.
    Released {
        /// The node.
        node: String,
        /// The device.
        device: String,
    },
}

impl Message {
    /// The payload.
    pub(crate) fn encode(&self) -> String {
        match self {
            Message::Order { device } => format!("o\t{device}"),
            Message::Taken {
                epoch,
                node,
                draining,
                device,
            } => format!("t\t{epoch}\t{node}\t{}\t{device}", draining.join(",")),
            Message::Released { node, device } => format!("r\t{node}\t{device}"),
        }
    }

    /// The message of `payload`; `None` when it is not one (another program on the channel).
    pub(crate) fn decode(payload: &str) -> Option<Message> {
        let (kind, rest) = payload.split_once('\t')?;
        match kind {
            "o" => Some(Message::Order {
                device: rest.to_owned(),
            }),
            "t" => {
                let mut parts = rest.splitn(4, '\t');
                let epoch = parts.next()?.parse().ok()?;
                let node = parts.next()?.to_owned();
                let draining = parts
                    .next()?
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
                let device = parts.next()?.to_owned();
                Some(Message::Taken {
                    epoch,
                    node,
                    draining,
                    device,
                })
            }
            "r" => {
                let (node, device) = rest.split_once('\t')?;
                Some(Message::Released {
                    node: node.to_owned(),
                    device: device.to_owned(),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_any_device_id() {
        let device = "dev\twith tabs and ünïcode".to_owned();
        for m in [
            Message::Order {
                device: device.clone(),
            },
            Message::Taken {
                epoch: 42,
                node: "n1".into(),
                draining: vec!["n2".into(), "n3".into()],
                device: device.clone(),
            },
            Message::Taken {
                epoch: 1,
                node: "n1".into(),
                draining: Vec::new(),
                device: device.clone(),
            },
            Message::Released {
                node: "n2".into(),
                device: device.clone(),
            },
        ] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
    }

    #[test]
    fn foreign_payloads_are_ignored() {
        for bad in ["", "o", "x\tdev", "t\tnot-a-number\tn\t\td", "t\t1\tn\t", "r\tn"] {
            assert_eq!(Message::decode(bad), None, "{bad:?}");
        }
    }
}
