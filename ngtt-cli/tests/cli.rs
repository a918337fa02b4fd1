//! End-to-end tests of the `ngtt` binary, run as a child process with stdin fed and stdout and
//! stderr captured.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use bytes::BytesMut;
use minijson::Value;
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::cli::{stderr, stdout};
use serde_json::json;

/// Runs `ngtt args...` with `stdin` as its input and waits for it.
fn ngtt(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ngtt");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let input = stdin.to_vec();
    // Write from a thread so that a large output cannot deadlock against a large input.
    let writer = std::thread::spawn(move || {
        // The child may stop reading early (e.g. after an error): a broken pipe is fine.
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for ngtt");
    writer.join().expect("stdin writer");
    output
}

/// Asserts a failure with exit status 1 and exactly one stderr line containing `needle`.
fn assert_fails_with(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("ngtt: "), "{err}");
    assert!(err.contains(needle), "{err:?} should contain {needle:?}");
}

/// The wire bytes of a frame.
fn frame_bytes(kind: FrameType, tid: u16, payload: Vec<u8>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    ngtt_proto::encode(&Frame::new(kind, tid, payload), &mut buf).expect("encode frame");
    buf.to_vec()
}

#[test]
fn encode_writes_exact_bytes() {
    let cases = [
        (r#"{"a":1}"#, "5101610301"),
        (r#"[1,"x",null,true]"#, "44030181780816"),
        ("18446744073709551615", "180900ffffffffffffffff"),
        ("-129", "02ff7f"),
        ("2.5", "0940200000"),
        ("0.1", "0a3fb999999999999a"),
        // Without --tagged, "$bytes" is an ordinary key.
        (r#"{"$bytes":"00ff"}"#, "51062462797465738430306666"),
    ];
    for (json, hex) in cases {
        let out = ngtt(&["minijson", "encode", "--hex"], json.as_bytes());
        assert!(out.status.success(), "{json}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{hex}\n"), "{json}");
        assert!(out.stderr.is_empty());
        let raw = ngtt(&["minijson", "encode"], json.as_bytes());
        assert_eq!(minijson::hex::to_hex(&raw.stdout), hex, "{json} raw");
    }
}

#[test]
fn tagged_encoding_reads_the_tags() {
    let cases = [
        (r#"{"$bytes":"00ff"}"#, "190200ff"),
        (r#"{"$map":[[1,"a"]]}"#, "6103018161"),
        (r#"{"$f32":0.1}"#, "093dcccccd"),
    ];
    for (json, hex) in cases {
        let out = ngtt(&["minijson", "encode", "--hex", "--tagged"], json.as_bytes());
        assert!(out.status.success(), "{json}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{hex}\n"), "{json}");
        let back = ngtt(&["minijson", "decode", "--hex"], hex.as_bytes());
        if !json.contains("$f32") {
            assert_eq!(stdout(&back), format!("{json}\n"));
        }
    }
    let bad = ngtt(&["minijson", "encode", "--tagged"], br#"{"$bytes":"0"}"#);
    assert_fails_with(&bad, "invalid tagged JSON");
}

#[test]
fn round_trips_raw_and_hex() {
    let doc = r#"{"path":"W1r4002","values":[[1700000000000,2.5],[false,1700000000001,"timeout"]],"nested":{"x":[],"y":{}},"big":18446744073709551615,"neg":-129,"pi":3.141592653589793,"s":"zażółć"}"#;
    let raw = ngtt(&["minijson", "encode"], doc.as_bytes());
    assert!(raw.status.success(), "{}", stderr(&raw));
    let back = ngtt(&["minijson", "decode"], &raw.stdout);
    assert!(back.status.success(), "{}", stderr(&back));
    assert_eq!(stdout(&back), format!("{doc}\n"));

    let hex = ngtt(&["minijson", "encode", "--hex"], doc.as_bytes());
    assert_eq!(stdout(&hex).trim_end(), minijson::hex::to_hex(&raw.stdout));
    let back = ngtt(&["minijson", "decode", "--hex"], &hex.stdout);
    assert_eq!(stdout(&back), format!("{doc}\n"));

    let pretty = ngtt(&["minijson", "decode", "--pretty"], &raw.stdout);
    let reparsed: serde_json::Value = serde_json::from_slice(&pretty.stdout).unwrap();
    assert_eq!(reparsed, serde_json::from_str::<serde_json::Value>(doc).unwrap());
    assert!(stdout(&pretty).lines().count() > 1);
}

#[test]
fn bad_json_is_reported_with_its_position() {
    let out = ngtt(&["minijson", "encode"], br#"{"a":"#);
    assert_fails_with(&out, "invalid JSON at line 1 column 5: EOF while parsing a value");
    assert!(out.stdout.is_empty());
    let out = ngtt(&["minijson", "encode", "--hex"], b"[1,\n2,]");
    assert_fails_with(&out, "invalid JSON at line 2 column 3");
}

#[test]
fn bad_minijson_is_reported_with_its_offset() {
    let out = ngtt(&["minijson", "decode", "--hex"], b"43 08 08 1c\n");
    assert_fails_with(&out, "invalid MiniJSON at byte 3: invalid tag 0x1c at byte 3");
    assert!(out.stdout.is_empty());

    let out = ngtt(&["minijson", "decode"], &[0x51, 0x01, 0x61]);
    assert_fails_with(&out, "invalid MiniJSON at byte 3: truncated input");

    let out = ngtt(&["minijson", "decode", "--hex"], b"0808");
    assert_fails_with(&out, "invalid MiniJSON at byte 1: 1 trailing byte(s)");

    let out = ngtt(&["minijson", "decode", "--hex"], b"5g");
    assert_fails_with(&out, "invalid hex input");
    let out = ngtt(&["minijson", "decode", "--hex"], b"515");
    assert_fails_with(&out, "invalid hex input");
}

#[test]
fn spec_example_ping_has_an_undecodable_payload() {
    for (args, input) in [
        (
            &["frame", "decode", "--hex"][..],
            &b"00 00 00 02 00 01 00 00 41 4C\n"[..],
        ),
        (
            &["frame", "decode"][..],
            &[0, 0, 0, 2, 0, 1, 0, 0, 0x41, 0x4c][..],
        ),
    ] {
        let out = ngtt(args, input);
        assert_eq!(out.status.code(), Some(1));
        let line = stdout(&out);
        assert!(
            line.starts_with(
                r#"{"tid":1,"type":"PING","length":2,"payload":null,"payload_hex":"414c","error":"payload is not valid MiniJSON at payload byte 1: "#
            ),
            "{line}"
        );
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert!(lines[0].starts_with("ngtt: frame at byte 0: payload is not valid MiniJSON"));
        assert_eq!(
            lines[1],
            "ngtt: 1 of 1 frame(s) had a payload that is not valid MiniJSON"
        );
    }
}

#[test]
fn stream_of_frames_prints_one_line_each() {
    let order = json!([{"orders": [{"type": "write", "path": "W1r4002", "value": 25, "advise": 1}], "disposition": 0}]);
    let order_payload = minijson::to_vec(&Value::from(order.clone())).unwrap();
    let logs = json!([{"service": "cli", "when": 1, "message": "hi", "level": 20}]);
    let logs_payload = minijson::to_vec(&Value::from(logs.clone())).unwrap();
    let bad_at = 8 + 8 + order_payload.len() + 8;
    let mut stream = Vec::new();
    stream.extend(frame_bytes(FrameType::FetchOrders, 0, vec![]));
    stream.extend(frame_bytes(FrameType::Order, 7, order_payload.clone()));
    stream.extend(frame_bytes(FrameType::OrderConfirm, 7, vec![]));
    stream.extend(frame_bytes(FrameType::Ping, 3, vec![0x1c])); // invalid payload
    stream.extend(frame_bytes(
        FrameType::Unknown(99),
        0,
        minijson::to_vec(&[1u8]).unwrap(),
    ));
    stream.extend(frame_bytes(FrameType::Logs, 0, logs_payload.clone()));

    let out = ngtt(&["frame", "decode"], &stream);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(
        lines[0],
        r#"{"tid":0,"type":"FETCH_ORDERS","length":0,"payload":null}"#
    );
    let order_line = format!(
        r#"{{"tid":7,"type":"ORDER","length":{},"payload":{}}}"#,
        order_payload.len(),
        serde_json::to_string(&order).unwrap()
    );
    assert_eq!(lines[1], order_line);
    assert_eq!(
        lines[2],
        r#"{"tid":7,"type":"ORDER_CONFIRM","length":0,"payload":null}"#
    );
    let bad: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(bad["type"], "PING");
    assert_eq!(bad["payload"], serde_json::Value::Null);
    assert_eq!(bad["payload_hex"], "1c");
    assert!(bad["error"].as_str().unwrap().contains("invalid tag 0x1c"));
    assert_eq!(lines[4], r#"{"tid":0,"type":99,"length":3,"payload":[1]}"#);
    let logs_line: serde_json::Value = serde_json::from_str(lines[5]).unwrap();
    assert_eq!(logs_line["type"], "LOGS");
    assert_eq!(logs_line["payload"], logs);

    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "ngtt: frame at byte {bad_at}: payload is not valid MiniJSON at payload byte 0: invalid tag 0x1c"
        )),
        "{err}"
    );
    assert!(
        err.ends_with("ngtt: 1 of 6 frame(s) had a payload that is not valid MiniJSON\n"),
        "{err}"
    );

    // The same stream as hex gives the same output.
    let hex = ngtt(
        &["frame", "decode", "--hex"],
        minijson::hex::to_hex(&stream).as_bytes(),
    );
    assert_eq!(hex.stdout, out.stdout);
    assert_eq!(hex.stderr, out.stderr);
}

#[test]
fn valid_stream_exits_zero() {
    let mut stream = frame_bytes(FrameType::Ping, 1, vec![]);
    stream.extend(frame_bytes(
        FrameType::DataStreamReject,
        4,
        minijson::to_vec("invalid").unwrap(),
    ));
    let out = ngtt(&["frame", "decode"], &stream);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty());
    assert_eq!(
        stdout(&out),
        "{\"tid\":1,\"type\":\"PING\",\"length\":0,\"payload\":null}\n\
         {\"tid\":4,\"type\":\"DATA_STREAM_REJECT\",\"length\":8,\"payload\":\"invalid\"}\n"
    );
    let empty = ngtt(&["frame", "decode"], b"");
    assert!(empty.status.success());
    assert!(empty.stdout.is_empty() && empty.stderr.is_empty());
}

#[test]
fn long_stream_is_read_in_chunks() {
    let payload = minijson::to_vec(&json!({"path": "fr2", "values": [[1700000000000u64, 2.5]]})).unwrap();
    let one = frame_bytes(FrameType::DataStream, 5, payload);
    let count = 20_000; // well over one 64 KiB read, with frames split across reads
    let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * count).collect();
    let out = ngtt(&["frame", "decode"], &stream);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), count);
    let first = text.lines().next().unwrap();
    assert!(text.lines().all(|l| l == first));
}

#[test]
fn truncated_stream_names_the_frame_offset() {
    let mut stream = frame_bytes(FrameType::Ping, 1, vec![]);
    let order = frame_bytes(FrameType::Order, 2, vec![0x08; 10]);
    stream.extend(&order[..12]);
    let out = ngtt(&["frame", "decode"], &stream);
    assert_eq!(
        stdout(&out),
        "{\"tid\":1,\"type\":\"PING\",\"length\":0,\"payload\":null}\n"
    );
    assert_fails_with(
        &out,
        "truncated frame at byte 8: header says 18 bytes, only 12 present",
    );

    let out = ngtt(&["frame", "decode", "--hex"], b"0000000000010000 000000");
    assert_fails_with(
        &out,
        "truncated frame at byte 8: only 3 of the 8 header bytes present",
    );
}

#[test]
fn oversized_length_stops_at_once() {
    let mut stream = frame_bytes(FrameType::Ping, 1, vec![]);
    stream.extend(frame_bytes(FrameType::Ping, 2, vec![]));
    stream.extend([0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0]);
    stream.extend(frame_bytes(FrameType::Ping, 4, vec![]));
    let out = ngtt(&["frame", "decode"], &stream);
    assert_eq!(stdout(&out).lines().count(), 2);
    assert_fails_with(
        &out,
        "frame at byte 16: length 4294967295 exceeds the maximum 16777216",
    );

    let small = frame_bytes(FrameType::Order, 1, minijson::to_vec("abcd").unwrap());
    let out = ngtt(&["frame", "decode", "--max-frame-len", "4"], &small);
    assert_fails_with(&out, "frame at byte 0: length 5 exceeds the maximum 4");
    let out = ngtt(&["frame", "decode", "--max-frame-len", "5"], &small);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn help_everywhere_has_examples() {
    let commands: [&[&str]; 6] = [
        &[],
        &["minijson"],
        &["minijson", "encode"],
        &["minijson", "decode"],
        &["frame"],
        &["frame", "decode"],
    ];
    for cmd in commands {
        for flag in ["--help", "-h"] {
            let args: Vec<&str> = cmd.iter().copied().chain([flag]).collect();
            let out = ngtt(&args, b"");
            assert!(out.status.success(), "{args:?}");
            assert!(stdout(&out).contains("Example"), "{args:?}: {}", stdout(&out));
        }
    }
}

#[test]
fn version_and_usage_errors() {
    let out = ngtt(&["--version"], b"");
    assert!(out.status.success());
    assert_eq!(stdout(&out), format!("ngtt {}\n", env!("CARGO_PKG_VERSION")));

    for args in [
        &[][..],
        &["bogus"],
        &["minijson", "encode", "--nope"],
        &["frame", "decode", "--max-frame-len", "x"],
    ] {
        let out = ngtt(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn frames_are_printed_before_stdin_ends() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::Duration;

    let mut child = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["frame", "decode"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ngtt");
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let stdout = child.stdout.take().expect("stdout pipe");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            tx.send(line.expect("read stdout")).expect("send line");
        }
    });
    let ping = frame_bytes(FrameType::Ping, 9, vec![]);
    // The first frame, split over two writes, is printed while stdin is still open.
    stdin.write_all(&ping[..5]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stdin.write_all(&ping[5..]).unwrap();
    stdin.flush().unwrap();
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("line before end of input");
    assert_eq!(first, r#"{"tid":9,"type":"PING","length":0,"payload":null}"#);
    stdin
        .write_all(&frame_bytes(FrameType::FetchOrders, 0, vec![]))
        .unwrap();
    drop(stdin);
    let second = rx.recv_timeout(Duration::from_secs(20)).expect("second line");
    assert!(second.contains("FETCH_ORDERS"));
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
}
