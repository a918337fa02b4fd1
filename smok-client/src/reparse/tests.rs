//! The expression language against Python's results, and proptests of the parser.

use proptest::prelude::*;

use super::*;

fn run(text: &str, vars: &[Value]) -> Result<Value, ExprError> {
    Expression::parse(text)?.eval(vars)
}

#[test]
fn python_semantics() {
    let cases: [(&str, Value); 22] = [
        ("1 + 2 * 3", Value::Int(7)),
        ("(1 + 2) * 3", Value::Int(9)),
        ("7 / 2", Value::Float(3.5)),
        ("7 // 2", Value::Int(3)),
        ("-7 // 2", Value::Int(-4)),
        ("-7 % 3", Value::Int(2)),
        ("7 % -3", Value::Int(-2)),
        ("2 ** 10", Value::Int(1024)),
        ("2 ** -1", Value::Float(0.5)),
        ("-2 ** 2", Value::Int(-4)),
        ("2 ** 3 ** 2", Value::Int(512)),
        ("1 < 2 < 3", Value::Bool(true)),
        ("1 < 3 < 2", Value::Bool(false)),
        ("0 or 5", Value::Int(5)),
        ("0 and 5", Value::Int(0)),
        ("not 0", Value::Bool(true)),
        ("1 if 0 else 2", Value::Int(2)),
        ("'a' + 'b'", Value::Str("ab".into())),
        ("'a' == 1", Value::Bool(false)),
        ("True + 1", Value::Int(2)),
        ("7.5 // 2", Value::Float(3.0)),
        ("min(3, 1, 2) + max(1.5, 1)", Value::Float(2.5)),
    ];
    for (text, want) in cases {
        assert_eq!(run(text, &[]).unwrap(), want, "{text}");
    }
}

#[test]
fn placeholders_take_values() {
    let e = Expression::parse("{W1}*0.1+{w2}-{W1}").unwrap();
    assert_eq!(e.constituents(), ["W1", "w2"]);
    assert_eq!(
        e.eval(&[Value::Int(10), Value::Int(3)]).unwrap(),
        Value::Float(-6.0)
    );
    assert!(e.eval(&[Value::Int(1)]).is_err());
}

#[test]
fn reparse_paths_are_typed_by_their_second_letter() {
    let r = ReparsePath::parse("rW{W1}*2").unwrap();
    assert_eq!(r.value_type(), PathpointType::U16);
    assert_eq!(
        r.compute(&[PathpointValue::Int(40_000)]).unwrap(),
        PathpointValue::Int(65_535)
    );
    let r = ReparsePath::parse("ru{W1}").unwrap();
    assert_eq!(
        r.compute(&[PathpointValue::Int(4)]).unwrap(),
        PathpointValue::Text("4".into())
    );
    let r = ReparsePath::parse("rB{W1} > 3").unwrap();
    assert_eq!(
        r.compute(&[PathpointValue::Int(4)]).unwrap(),
        PathpointValue::Int(1)
    );
    for bad in [
        "W1",
        "rx{W1}",
        "r",
        "rf",
        "rf{W1",
        "rf{W1}+",
        "rfimport os",
        "rf__import__('os').system('x')",
    ] {
        assert!(ReparsePath::parse(bad).is_err(), "{bad}");
    }
    let e = ReparsePath::parse("rf{W1} $").unwrap_err();
    assert_eq!(e.position, Some(7), "positions count from the start of the name");
}

#[test]
fn errors_are_errors_not_panics() {
    for text in [
        "1/0",
        "1//0",
        "1%0",
        "0 ** -1",
        "9223372036854775807 + 1",
        "-(-9223372036854775807 - 1)",
        "2 ** 64",
        "'a' * 2",
        "'a' < 1",
        "(-8) ** 0.5",
        "int('x')",
    ] {
        assert!(run(text, &[]).is_err(), "{text}");
    }
    assert!(
        Expression::parse("nosuch(1)").is_err(),
        "unknown functions fail to parse"
    );
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert!(Expression::parse(&deep).is_err());
    let minus = format!("{}1", "-".repeat(500));
    assert!(Expression::parse(&minus).is_err());
}

/// Expressions made of the grammar's pieces, printed fully parenthesised.
fn arb_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (-1000i64..1000).prop_map(|v| format!("({v})")),
        (-1e6f64..1e6).prop_map(|v| format!("({v:?})")),
        (0usize..3).prop_map(|k| format!("{{W{k}}}")),
        Just("True".to_owned()),
        Just("'s'".to_owned()),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        let op = prop::sample::select(vec![
            "+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=", "and", "or",
        ]);
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(-{a})")),
            inner.clone().prop_map(|a| format!("(not {a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} if {b} else {c})")),
            (
                prop::sample::select(FUNCTIONS.to_vec()),
                prop::collection::vec(inner, 0..3)
            )
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text: parsing never panics, and what parses evaluates without panicking.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}", a in any::<i64>(), b in any::<f64>()) {
        if let Ok(e) = Expression::parse(&text) {
            let values: Vec<Value> = (0..e.constituents().len())
                .map(|k| if k % 2 == 0 { Value::Int(a) } else { Value::Float(b) })
                .collect();
            let _ = e.eval(&values);
        }
    }

    /// Text built from the grammar always parses, and evaluates (or fails) without panicking;
    /// parsing is deterministic.
    #[test]
    fn grammar_expressions_parse(text in arb_expr(), w in prop::array::uniform3(-100i64..100)) {
        let e = Expression::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&Expression::parse(&text).unwrap(), &e);
        let values: Vec<Value> = e.constituents().iter().map(|name| {
            let k: usize = name[1..].parse().unwrap();
            Value::Int(w[k])
        }).collect();
        let _ = e.eval(&values);
    }

    /// Integer arithmetic agrees with i128 arithmetic wherever it does not overflow.
    #[test]
    fn integer_arithmetic_is_exact(a in -1_000_000i64..1_000_000, b in -1000i64..1000) {
        let vars = [Value::Int(a), Value::Int(b)];
        let (a2, b2) = (i128::from(a), i128::from(b));
        prop_assert_eq!(run("{a}+{b}", &vars).unwrap(), Value::Int((a2 + b2) as i64));
        prop_assert_eq!(run("{a}*{b}", &vars).unwrap(), Value::Int((a2 * b2) as i64));
        if b != 0 {
            let floor = (a as f64 / b as f64).floor() as i128;
            let q = run("{a}//{b}", &vars).unwrap();
            let m = run("{a}%{b}", &vars).unwrap();
            // Python: a == (a // b) * b + a % b, and a % b has the sign of b.
            if let (Value::Int(q), Value::Int(m)) = (q, m) {
                prop_assert_eq!(i128::from(q) * b2 + i128::from(m), a2);
                prop_assert!(m == 0 || (m < 0) == (b < 0));
                prop_assert_eq!(i128::from(q), floor);
            } else {
                prop_assert!(false, "integer division gives integers");
            }
        }
    }
}
