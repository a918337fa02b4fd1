//! Pipelining inside a group commit: consecutive operations that are one statement each, whose
//! parameters need no earlier answer, are sent to the server together instead of one after the
//! other's answer. The server executes a connection's statements in the order it receives
//! them, so the outcome is that of the operations one after the other; only the waiting for
//! each round trip goes.
//!
//! The order is kept by construction: a statement is prepared (cached on the connection)
//! before its run, so each operation's future sends its statement the first time it is polled
//! (`tokio-postgres` queues the request on that poll), and [`in_order`] polls them first in
//! list order.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use super::{hot_writes, Tx};
use crate::storage::{StorageError, WriteOp};

/// The one statement `op` runs, when it is one of the kinds that can be pipelined.
pub(super) fn one_statement(op: &WriteOp) -> Option<&'static str> {
    match op {
        WriteOp::DeviceConnected(_) => Some(hot_writes::DEVICE_CONNECTED),
        // With a reservation it is two statements, the second only after the first's answer.
        WriteOp::ClaimOrders {
            reserve_tids: None, ..
        } => Some(hot_writes::TAKE_PENDING),
        WriteOp::AnswerOrder { .. } => Some(hot_writes::ANSWER_ORDER),
        WriteOp::StoreSeries { .. } => Some(hot_writes::STORE_SERIES),
        _ => None,
    }
}

/// How many operations at the start of `ops` form one run: the pipelined ones that follow each
/// other, or else the first operation alone.
pub(super) fn run_len(ops: &[WriteOp]) -> usize {
    ops.iter()
        .take_while(|op| one_statement(op).is_some())
        .count()
        .max(1)
        .min(ops.len())
}

/// Prepares (once per connection: cached) the statements of `run`, so that none of its
/// operations waits for a `Parse` before sending its statement.
pub(super) async fn prepare(tx: &Tx<'_>, run: &[WriteOp]) -> Result<(), StorageError> {
    let mut done: Vec<&'static str> = Vec::new();
    for sql in run.iter().filter_map(one_statement) {
        if !done.contains(&sql) {
            tx.prepare_cached(sql).await?;
            done.push(sql);
        }
    }
    Ok(())
}

/// Runs `futures` together and returns their outputs in list order; each is first polled in
/// list order, so what each sends on its first poll leaves in that order.
pub(super) async fn in_order<F: Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut early: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (future, out) in futures.iter_mut().zip(early.iter_mut()) {
            if let Poll::Ready(v) = Pin::new(future).poll(cx) {
                *out = Some(v);
            }
        }
        Poll::Ready(())
    })
    .await;
    futures::future::join_all(futures.into_iter().zip(early).map(|(future, out)| async move {
        match out {
            Some(v) => v,
            None => future.await,
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn runs_gather_the_single_statement_operations_that_follow_each_other() {
        let upload = || WriteOp::StoreSeries {
            device_id: "d".into(),
            series: Vec::new(),
        };
        let tids = || WriteOp::ReserveOrderTids {
            device_id: "d".into(),
            count: 1,
        };
        assert_eq!(run_len(&[upload(), upload(), tids(), upload()]), 2);
        assert_eq!(run_len(&[tids(), upload()]), 1);
        assert_eq!(run_len(&[upload()]), 1);
        assert_eq!(run_len(&[]), 0);
    }

    #[test]
    fn futures_are_first_polled_in_list_order_and_answered_in_it() {
        let polled = Arc::new(Mutex::new(Vec::new()));
        let futures: Vec<_> = (0..40)
            .map(|i| {
                let polled = Arc::clone(&polled);
                Box::pin(async move {
                    polled.lock().unwrap().push(i);
                    // Later ones finish first.
                    for _ in 0..(40 - i) {
                        tokio::task::yield_now().await;
                    }
                    i * 10
                })
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let out = rt.block_on(in_order(futures));
        assert_eq!(out, (0..40).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(*polled.lock().unwrap(), (0..40).collect::<Vec<_>>());
    }
}
