//! Conformance of an engine shared by several nodes (PostgreSQL): two storages on one schema,
//! used from several threads at once, keep every guarantee a single node gives — tid blocks
//! never overlap, order ids are unique, a sample is stored once, an order is answered once,
//! BAOB versions of one key are never given twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Barrier};

use ngtt_proto::payload::{PathpointSeries, Sample};

use crate::storage::baob::{BaobCommit, BaobWrite, VersionRule, Writer};
use crate::storage::{OrderAnswer, SeriesQuery, Storage};

const THREADS: usize = 4;
const ROUNDS: usize = 15;

/// Runs `f(node, thread)` on `THREADS` threads per node, all started together, and returns
/// every result.
fn on_all<R: Send + 'static>(
    nodes: &[Arc<dyn Storage>],
    f: impl Fn(&dyn Storage, usize) -> R + Send + Sync + 'static,
) -> Vec<R> {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(nodes.len() * THREADS));
    let mut threads = Vec::new();
    for node in nodes {
        for t in 0..THREADS {
            let (node, f, start) = (Arc::clone(node), Arc::clone(&f), Arc::clone(&start));
            threads.push(std::thread::spawn(move || {
                start.wait();
                f(&*node, t)
            }));
        }
    }
    threads
        .into_iter()
        .map(|t| t.join().expect("worker thread"))
        .collect()
}

/// Every check, on two (or more) storages of one database.
pub(super) fn nodes_share_one_database(nodes: &[Arc<dyn Storage>]) {
    // The tid sequence: every block starts where another ends, none overlaps.
    let firsts: Vec<u16> = on_all(nodes, |s, _| {
        (0..ROUNDS)
            .map(|_| s.reserve_order_tids("shared", 100).unwrap())
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let mut sorted = firsts.clone();
    sorted.sort_unstable();
    let expected: Vec<u16> = (0..sorted.len()).map(|i| 1 + 100 * i as u16).collect();
    assert_eq!(sorted, expected, "tid blocks overlap or leave holes");

    // Order ids are unique; every node sees every order; each is answered exactly once.
    let ids: Vec<i64> = on_all(nodes, |s, t| {
        (0..ROUNDS)
            .map(|i| s.queue_order("shared", format!("[{t},{i}]").as_bytes()).unwrap())
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "an order id given twice"
    );
    for node in nodes {
        assert_eq!(
            node.claim_orders("shared", 0, usize::MAX).unwrap().len(),
            ids.len()
        );
    }
    let ids = Arc::new(ids);
    let answered = {
        let ids = Arc::clone(&ids);
        on_all(nodes, move |s, _| {
            ids.iter()
                .filter(|&&id| s.answer_order(id, OrderAnswer::Confirmed).unwrap())
                .count()
        })
    };
    assert_eq!(
        answered.iter().sum::<usize>(),
        ids.len(),
        "an order answered twice or never"
    );

    // The same upload from everywhere is stored once.
    let stored: usize = on_all(nodes, |s, _| {
        let upload = vec![PathpointSeries::new(
            "W1",
            (0..50u64).map(|ts| Sample::value(ts, 1)),
        )];
        s.store_series("shared", &upload).unwrap()
    })
    .into_iter()
    .sum();
    assert_eq!(stored, 50);
    let all = SeriesQuery {
        limit: usize::MAX,
        ..SeriesQuery::default()
    };
    assert_eq!(nodes[0].read_series("shared", &all).unwrap()[0].values.len(), 50);

    // BAOB versions of one key: each write gets a version of its own.
    let versions: Vec<i64> = on_all(nodes, |s, t| {
        (0..ROUNDS / 3)
            .map(|i| {
                let staged = s
                    .stage_baob_chunk("shared", None, format!("{t}-{i}").as_bytes())
                    .unwrap();
                let commit = BaobCommit {
                    key: "k",
                    rule: VersionRule::Next,
                    by: Writer::Admin,
                    staged: Some(staged),
                    tail: b"",
                    max_keys: 10,
                };
                match s.commit_baob("shared", &commit).unwrap() {
                    BaobWrite::Stored(v) => v,
                    other => panic!("refused: {other:?}"),
                }
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let distinct: BTreeMap<i64, ()> = versions.iter().map(|&v| (v, ())).collect();
    assert_eq!(distinct.len(), versions.len(), "a BAOB version given twice");
    let record = nodes[1].baob("shared", "k").unwrap().unwrap();
    assert_eq!(record.version, *distinct.keys().last().unwrap());
}
