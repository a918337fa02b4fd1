use proptest::prelude::*;
use serde_json::json;

use super::*;

fn defs(v: Value) -> Vec<Lenient<MacroDefinition>> {
    serde_json::from_value(v).unwrap()
}

#[test]
fn server_lists_are_checked() {
    let (plan, kept) = MacroPlan::from_server(defs(json!([
        {"macro_id": "m1", "commands": [{"path": "W1", "value": 5}, {"path": "u2", "value": "x"}, {"path": "W1", "value": 7}],
         "occurrences": [{"timestamp": 300, "completed": false}, {"timestamp": 100.0, "completed": false},
                         {"timestamp": 200, "completed": true}]},
        {"macro_id": "m2", "commands": [{"path": "W1", "value": null}], "occurrences": []},
        {"macro_id": "m3"},
        {"macro_id": "m1", "commands": [], "occurrences": []},
        "nonsense"
    ])));
    assert_eq!(kept.len(), 1);
    let mut plan = plan;
    let m = &plan.macros()[0];
    assert_eq!(
        m.writes,
        vec![
            ("W1".into(), PathpointValue::Int(7)),
            ("u2".into(), PathpointValue::Text("x".into()))
        ]
    );
    assert_eq!(m.pending, vec![100.0, 300.0]);
    assert!(plan.due(99.0).is_empty());
    assert_eq!(plan.due(150.0).len(), 1);
    assert_eq!(plan.next(), Some(100.0));
    plan.ran("m1", 100.0);
    plan.ran("m1", 250.0); // not an occurrence: nothing changes
    plan.ran("m9", 300.0); // not a macro: nothing changes
    assert!(plan.due(150.0).is_empty());
    assert_eq!(plan.next(), Some(300.0));
    assert_eq!(plan.due(1000.0)[0].timestamp, 300.0);
}

proptest! {
    /// Every occurrence is due exactly once over any sequence of times: due when its time has
    /// come, never again once it ran, oldest first.
    #[test]
    fn each_occurrence_runs_once(
        times in proptest::collection::vec(0u32..1000, 0..20),
        steps in proptest::collection::vec(0u32..200, 1..30),
    ) {
        let occurrences: Vec<Value> = times.iter().map(|t| json!({"timestamp": t, "completed": false})).collect();
        let (mut plan, _) = MacroPlan::from_server(defs(json!([
            {"macro_id": "m", "commands": [{"path": "W1", "value": 1}], "occurrences": occurrences}
        ])));
        let mut ran = std::collections::HashSet::new();
        let mut runs = Vec::new();
        let mut now = 0.0;
        for step in steps {
            now += f64::from(step);
            let due = plan.due(now);
            prop_assert!(due.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
            for d in due {
                prop_assert!(d.timestamp <= now);
                prop_assert!(ran.insert(d.timestamp.to_bits()), "ran twice");
                plan.ran(&d.macro_id, d.timestamp);
                runs.push(d.timestamp);
            }
            if let Some(next) = plan.next() {
                prop_assert!(next > now, "the next one is in the future");
            }
        }
        let mut expected: Vec<f64> = times.iter().map(|&t| f64::from(t)).filter(|&t| t <= now).collect();
        expected.sort_by(f64::total_cmp);
        expected.dedup();
        prop_assert_eq!(runs, expected);
    }
}
