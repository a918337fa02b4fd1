//! Our MiniJSON against the Python reference implementation itself (PyPI `minijson` 3.1.1,
//! installed by `.ci/run` for the Python client): random documents written by us are read by
//! the reference as the same data, and what the reference writes back is read by us as the same
//! data. The reference vectors cover fixed cases; this covers whatever a seed produces.
//!
//! Without `python3` and `minijson` the test says so and passes, unless
//! `NGTT_REQUIRE_PYTHON_CLIENT=1` (set by CI) makes it fail.

use std::io::Write;
use std::process::{Command, Stdio};

use minijson::hex::{from_hex, to_hex};
use minijson::Value;
use ngtt_transport::SplitMix64;

const DOCUMENTS: usize = 300;

fn reference_available() -> bool {
    ngtt_testkit::python_can(
        "import minijson; minijson.MiniJSONEncoder(use_double=True)",
        "minijson==3.1.1",
    )
}

/// A random document: no NaN (not equal to itself), no duplicate or boolean map keys (a
/// Python dict cannot keep them apart).
fn document(rng: &mut SplitMix64, depth: u32) -> Value {
    let pick = rng.next_u64() % if depth == 0 { 8 } else { 11 };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.next_u64() % 2 == 0),
        2 => Value::from((rng.next_u64() as i64) >> (rng.next_u64() % 64)),
        3 => Value::from(rng.next_u64() >> (rng.next_u64() % 64)),
        4 => Value::F32((rng.next_f64() * 2e6 - 1e6) as f32),
        5 => Value::from(rng.next_f64() * 10f64.powi((rng.next_u64() % 40) as i32 - 20)),
        6 => {
            let len = (rng.next_u64() % 300) as usize;
            Value::String(text(rng, len))
        }
        7 => Value::Bytes((0..rng.next_u64() % 300).map(|_| rng.next_u64() as u8).collect()),
        8 => Value::List(
            (0..rng.next_u64() % 20)
                .map(|_| document(rng, depth - 1))
                .collect(),
        ),
        9 => {
            let n = rng.next_u64() % 20;
            let mut entries = Vec::new();
            for i in 0..n {
                // The index keeps keys distinct; the prefix makes some of them long or odd.
                let len = (rng.next_u64() % 12) as usize;
                let key = format!("{}{i}", text(rng, len));
                entries.push((key, document(rng, depth - 1)));
            }
            Value::Map(entries)
        }
        _ => {
            let n = 1 + rng.next_u64() % 10;
            let entries = (0..n).map(|i| (Value::from(i as i64 * 1000 - 3000), document(rng, depth - 1)));
            Value::AnyMap(entries.collect())
        }
    }
}

fn text(rng: &mut SplitMix64, len: usize) -> String {
    const ALPHABET: [char; 12] = ['a', 'Z', '0', ' ', '"', '\\', '\n', 'ż', 'ł', '€', '😀', '/'];
    (0..len)
        .map(|_| ALPHABET[(rng.next_u64() % 12) as usize])
        .collect()
}

/// Equal as MiniJSON: the same canonical encoding.
fn same(a: &Value, b: &Value) -> bool {
    minijson::to_vec(a).unwrap() == minijson::to_vec(b).unwrap()
}

#[test]
fn the_python_reference_reads_what_we_write_and_we_read_what_it_writes() {
    if !reference_available() {
        return;
    }
    let seed = std::env::var("NGTT_MINIJSON_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    eprintln!("seed {seed} (NGTT_MINIJSON_SEED replays it)");
    let mut rng = SplitMix64::new(seed);
    let documents: Vec<Value> = (0..DOCUMENTS).map(|_| document(&mut rng, 4)).collect();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/minijson_roundtrip.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut input = String::new();
    for d in &documents {
        input.push_str(&to_hex(&minijson::to_vec(d).unwrap()));
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("the reference finishes");
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "the reference failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), DOCUMENTS);
    for (i, (ours, line)) in documents.iter().zip(&lines).enumerate() {
        let read_by_reference = Value::from_tagged_json(line["value"].clone()).unwrap();
        assert!(
            same(ours, &read_by_reference),
            "document {i}: the reference read {read_by_reference:?}, we wrote {ours:?}"
        );
        let written_by_reference = from_hex(line["reencoded"].as_str().unwrap()).unwrap();
        let read_by_us: Value = minijson::from_slice(&written_by_reference)
            .unwrap_or_else(|e| panic!("document {i}: we cannot read the reference's encoding: {e}"));
        assert!(
            same(ours, &read_by_us),
            "document {i}: we read {read_by_us:?} from the reference, wrote {ours:?}"
        );
    }
}
