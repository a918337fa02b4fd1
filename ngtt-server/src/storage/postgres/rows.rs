//! Rows to records for the orders and samples of [`PostgresStorage`](super::PostgresStorage),
//! and (in tests) what the conformance suite needs to look inside the database.

use bytes::Bytes;
use ngtt_proto::payload::{PathpointValue, ReadError, Sample};
use tokio_postgres::Row;

use super::to_i64;
use crate::storage::types::{AnsweredVia, OrderRecord, OrderState};
use crate::storage::StorageError;

pub(super) const ORDER_COLUMNS: &str =
    "id, device_id, state, deliveries, queued_at, sent_at, answered_at, answered_via, sections";

pub(super) fn order_from_row(row: &Row) -> Result<OrderRecord, StorageError> {
    let state: i64 = row.try_get(2)?;
    let via: Option<String> = row.try_get(7)?;
    let deliveries: i64 = row.try_get(3)?;
    let sections: Vec<u8> = row.try_get(8)?;
    Ok(OrderRecord {
        id: row.try_get(0)?,
        device_id: row.try_get(1)?,
        state: OrderState::from_code(state).unwrap_or(OrderState::Queued),
        deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
        queued_at_ms: row.try_get(4)?,
        sent_at_ms: row.try_get(5)?,
        answered_at_ms: row.try_get(6)?,
        answered_via: via.as_deref().map(AnsweredVia::parse),
        sections: Bytes::from(sections),
    })
}

/// The columns a sample is stored in: integer, float, text, error code.
pub(super) type SampleColumns = (i64, Option<i64>, Option<f64>, Option<String>, Option<String>);

pub(super) fn sample_columns(sample: &Sample) -> SampleColumns {
    match sample {
        Sample::Value { ts, value } => match value {
            PathpointValue::Int(i) => (to_i64(*ts), Some(*i), None, None, None),
            PathpointValue::Float(f) => (to_i64(*ts), None, Some(*f), None, None),
            PathpointValue::Text(t) => (to_i64(*ts), None, None, Some(t.clone()), None),
        },
        Sample::Error { ts, error } => (to_i64(*ts), None, None, None, Some(error.as_str().to_owned())),
    }
}

pub(super) fn sample_from_row(row: &Row) -> Result<Sample, StorageError> {
    let ts = u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0);
    if let Some(code) = row.try_get::<_, Option<String>>(5)? {
        return Ok(Sample::error(ts, ReadError::from(code.as_str())));
    }
    let value = if let Some(i) = row.try_get::<_, Option<i64>>(2)? {
        PathpointValue::Int(i)
    } else if let Some(f) = row.try_get::<_, Option<f64>>(3)? {
        PathpointValue::Float(f)
    } else if let Some(t) = row.try_get::<_, Option<String>>(4)? {
        PathpointValue::Text(t)
    } else {
        PathpointValue::Float(f64::NAN)
    };
    Ok(Sample::Value { ts, value })
}

#[cfg(test)]
impl crate::storage::conformance::Inspect for super::PostgresStorage {
    fn count_rows(&self, table: &str) -> i64 {
        self.block(async {
            let client = self.client().await?;
            let row = client
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .await?;
            Ok::<i64, StorageError>(row.try_get(0)?)
        })
        .expect("count")
    }

    fn refuse_bad_rows(&self) {
        self.block(async {
            let client = self.client().await?;
            client
                .batch_execute(
                    "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS
                         $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
                     CREATE TRIGGER refuse BEFORE INSERT ON logs FOR EACH ROW
                         WHEN (NEW.service = 'bad') EXECUTE FUNCTION refuse_bad();
                     CREATE TRIGGER refuse BEFORE INSERT ON samples FOR EACH ROW
                         WHEN (NEW.path = 'bad') EXECUTE FUNCTION refuse_bad();",
                )
                .await?;
            Ok::<(), StorageError>(())
        })
        .expect("trigger");
    }
}
