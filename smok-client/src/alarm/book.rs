//! [`EventBook`]: the device's events, kept in the store, and their sync with the server
//! exactly as HTTP-API.md §7.9 says — without the published client's uuid mix-ups.
//!
//! * Every event has a device id (never sent) and a version bumped by each change.
//! * A batch holds each unsynced event **once** (its latest version); the answer's uuids are
//!   matched to the batch by position, against the ids the batch was built from — never by
//!   walking a list that changes meanwhile.
//! * An event changed while its batch was on the way stays unsynced and goes again, with the
//!   uuid the answer gave it.
//! * A closed event leaves the store once the server has its last version; open events stay,
//!   so that a restarted device closes the same event.
//! * A lost answer makes the device send its events again without uuid: the server recognises
//!   them by their identity (`started_on`, `alarm_type`, `token`, `message`, `metadata`).

use std::collections::BTreeMap;
use std::sync::Arc;

use smok_http::{EventReport, EventUuid, Lenient};

use super::event::{Event, EventId, NewEvent};
use crate::store::{Store, StoreResult};

/// Most events kept; a new event beyond that is refused (and logged).
pub const MAX_EVENTS: usize = 10_000;

/// Most events in one `POST /v1/device/alarms`.
pub const EVENT_BATCH: usize = 500;

/// One event of a batch on its way: its id and the version sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The event.
    pub id: EventId,
    /// The version sent.
    pub version: u64,
}

/// The device's events.
#[derive(Debug)]
pub struct EventBook {
    store: Arc<dyn Store>,
    events: BTreeMap<EventId, Event>,
}

impl EventBook {
    /// The events the store kept.
    pub fn load(store: Arc<dyn Store>) -> EventBook {
        let events = match store.events() {
            Ok(list) => list.into_iter().map(|e| (e.id, e)).collect(),
            Err(e) => {
                tracing::error!(error = %e, "the stored events cannot be read: starting without them");
                BTreeMap::new()
            }
        };
        EventBook { store, events }
    }

    /// Opens an event at `now` (epoch seconds), stored before it is returned. `Ok(None)` when
    /// [`MAX_EVENTS`] are kept already.
    pub fn open(&mut self, now: u64, new: NewEvent) -> StoreResult<Option<Event>> {
        if self.events.len() >= MAX_EVENTS {
            tracing::warn!(
                message = %new.message,
                "{MAX_EVENTS} events are waiting for the server: a new one is dropped"
            );
            return Ok(None);
        }
        let event = Event::new(self.store.next_event_id()?, now, new);
        self.store.put_event(&event)?;
        self.events.insert(event.id, event.clone());
        Ok(Some(event))
    }

    /// Closes event `id` at `now`; false when there is no such open event.
    pub fn close(&mut self, id: EventId, now: u64) -> StoreResult<bool> {
        let Some(event) = self.events.get(&id) else {
            return Ok(false);
        };
        let mut closed = event.clone();
        if !closed.close(now) {
            return Ok(false);
        }
        self.store.put_event(&closed)?;
        self.events.insert(id, closed);
        Ok(true)
    }

    /// The event with this id.
    pub fn get(&self, id: EventId) -> Option<&Event> {
        self.events.get(&id)
    }

    /// Every kept event, by id.
    pub fn all(&self) -> impl Iterator<Item = &Event> {
        self.events.values()
    }

    /// Whether some event is waiting for the server.
    pub fn has_unsynced(&self) -> bool {
        self.events.values().any(|e| !e.is_synced())
    }

    /// The next batch: unsynced events, oldest first, each once.
    pub fn batch(&self) -> (Vec<Sent>, Vec<EventReport>) {
        self.events
            .values()
            .filter(|e| !e.is_synced())
            .take(EVENT_BATCH)
            .map(|e| {
                (
                    Sent {
                        id: e.id,
                        version: e.version,
                    },
                    e.report.clone(),
                )
            })
            .unzip()
    }

    /// Applies the server's answer to the batch `sent`: the k-th uuid belongs to the k-th event
    /// sent. A malformed or missing element leaves its event unsynced. Returns how many events
    /// the server confirmed.
    pub fn answered(&mut self, sent: &[Sent], answer: Vec<Lenient<EventUuid>>) -> usize {
        if answer.len() > sent.len() {
            tracing::warn!(
                sent = sent.len(),
                answered = answer.len(),
                "the alarms answer is longer than the batch: the extra uuids are ignored"
            );
        }
        let mut confirmed = 0;
        for (s, element) in sent.iter().zip(answer) {
            let uuid = match element {
                Lenient::Valid(EventUuid { uuid }) => uuid,
                Lenient::Invalid { raw, reason } => {
                    tracing::warn!(answer = %raw, "a malformed alarms answer element: its event is sent again ({reason})");
                    continue;
                }
            };
            if self.confirm(*s, uuid) {
                confirmed += 1;
            }
        }
        confirmed
    }

    /// Marks the events of `sent` as given up (the server refused the batch for good).
    pub fn refused(&mut self, sent: &[Sent]) {
        for s in sent {
            if let Some(e) = self.events.get(&s.id) {
                let uuid = e.report.uuid.clone().unwrap_or_default();
                self.confirm(*s, uuid);
            }
        }
    }

    fn confirm(&mut self, s: Sent, uuid: String) -> bool {
        let Some(event) = self.events.get(&s.id) else {
            return false;
        };
        let mut next = event.clone();
        match &next.report.uuid {
            None if !uuid.is_empty() => next.report.uuid = Some(uuid),
            Some(known) if *known != uuid && !uuid.is_empty() => {
                tracing::warn!(event = s.id, known = %known, answered = %uuid, "the server answered another uuid for an event: taking the server's");
                next.report.uuid = Some(uuid);
            }
            _ => {}
        }
        if next.version == s.version {
            next.synced = s.version;
        }
        let result = if next.is_closed() && next.is_synced() {
            self.store.remove_event(s.id).map(|()| None)
        } else {
            self.store.put_event(&next).map(|()| Some(next))
        };
        match result {
            Ok(Some(kept)) => {
                self.events.insert(s.id, kept);
            }
            Ok(None) => {
                self.events.remove(&s.id);
            }
            Err(e) => {
                tracing::error!(error = %e, "an event's sync cannot be stored: it is sent again");
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::Color;
    use crate::store::MemoryStore;

    fn new(message: &str, point: bool) -> NewEvent {
        NewEvent {
            color: Color::Red,
            point,
            token: "t".into(),
            group: "B".into(),
            message: message.into(),
            metadata: Default::default(),
        }
    }

    fn uuid(u: &str) -> Lenient<EventUuid> {
        Lenient::Valid(EventUuid { uuid: u.into() })
    }

    #[test]
    fn uuids_go_to_the_events_they_belong_to() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut book = EventBook::load(store.clone());
        let a = book.open(10, new("a", false)).unwrap().unwrap();
        let p = book.open(11, new("p", true)).unwrap().unwrap();
        let b = book.open(12, new("b", false)).unwrap().unwrap();
        book.close(a.id, 13).unwrap();
        // One batch, each event once, oldest first: the closed event precedes the others
        // (where the published client mis-assigned uuids).
        let (sent, reports) = book.batch();
        assert_eq!(sent.iter().map(|s| s.id).collect::<Vec<_>>(), [a.id, p.id, b.id]);
        assert_eq!(reports[0].ended_on, Some(13));
        assert!(reports.iter().all(|r| r.uuid.is_none()));
        // b is closed while the batch is on the way.
        book.close(b.id, 14).unwrap();
        assert_eq!(book.answered(&sent, vec![uuid("ua"), uuid("up"), uuid("ub")]), 3);
        assert!(
            book.get(a.id).is_none() && book.get(p.id).is_none(),
            "closed and synced: gone"
        );
        let b_now = book.get(b.id).unwrap();
        assert_eq!(b_now.uuid(), Some("ub"));
        assert!(!b_now.is_synced(), "closed after it was sent: goes again");
        let (sent, reports) = book.batch();
        assert_eq!(
            (sent.len(), reports[0].uuid.as_deref(), reports[0].ended_on),
            (1, Some("ub"), Some(14))
        );
        // A short answer leaves the event unsynced; a malformed element too.
        assert_eq!(book.answered(&sent, vec![]), 0);
        let bad = Lenient::Invalid {
            raw: serde_json::json!({}),
            reason: "no uuid".into(),
        };
        assert_eq!(book.answered(&sent, vec![bad]), 0);
        assert_eq!(book.answered(&sent, vec![uuid("ub")]), 1);
        assert_eq!(book.all().count(), 0);
        assert!(store.events().unwrap().is_empty());
    }

    #[test]
    fn open_events_survive_a_reload() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut book = EventBook::load(store.clone());
        let a = book.open(10, new("a", false)).unwrap().unwrap();
        let (sent, _) = book.batch();
        book.answered(&sent, vec![uuid("ua")]);
        let mut again = EventBook::load(store.clone());
        assert_eq!(again.get(a.id).unwrap().uuid(), Some("ua"));
        assert!(!again.has_unsynced());
        assert!(again.close(a.id, 20).unwrap());
        assert!(!again.close(a.id, 21).unwrap(), "closed once");
        let next = again.open(30, new("c", false)).unwrap().unwrap();
        assert!(next.id > a.id, "ids are never reused");
    }
}
