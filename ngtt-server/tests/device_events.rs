//! The device HTTP API's alarms (HTTP-API.md route 10, §7.9) over real HTTPS with client
//! certificates: uuids by position, the published client's encoding tolerated, malformed
//! bodies refused with nothing stored, and isolation between devices.

use ngtt_testkit::{http_device as device, http_server as start, status_of, TestPki, MINIJSON};
use reqwest::Method;
use serde::Serialize;
use serde_json::json;

/// An event as the published client encodes it: keys in its order, `ended_on` a float in
/// single precision (MiniJSON tag 9).
#[derive(Serialize, Clone)]
struct ClientEvent {
    started_on: i64,
    color: u8,
    alarm_type: u8,
    token: &'static str,
    group: &'static str,
    message: &'static str,
    metadata: std::collections::BTreeMap<&'static str, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_on: Option<f32>,
}

fn client_event(message: &'static str) -> ClientEvent {
    ClientEvent {
        started_on: 1_796_062_739,
        color: 2,
        alarm_type: 0,
        token: "temp.high",
        group: "B",
        message,
        metadata: [("predicate_id", "p1")].into_iter().collect(),
        uuid: None,
        ended_on: None,
    }
}

#[tokio::test]
async fn alarms_get_uuids_by_position_and_tolerate_the_client() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");

    // An event opened and closed before its first sync comes twice, identical, without uuid;
    // its float ended_on is in single precision and earlier than started_on.
    let mut closed = client_event("Boiler too hot: 91");
    closed.ended_on = Some(1_796_062_739.87);
    let open = client_event("Boiler too hot: 85");
    let answer = dev
        .minijson(
            Method::POST,
            "/v1/device/alarms",
            &vec![closed.clone(), closed.clone(), open.clone()],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let uuids: Vec<String> = answer
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["uuid"].as_str().expect("uuid").to_owned())
        .collect();
    assert_eq!(uuids.len(), 3);
    assert_eq!(uuids[0], uuids[1]);
    assert_ne!(uuids[0], uuids[2]);

    // The open event is re-sent with its uuid, then closed: the batch holds it twice.
    let mut open_again = open.clone();
    open_again.uuid = Some(uuids[2].clone());
    let mut now_closed = open_again.clone();
    now_closed.ended_on = Some(1_796_063_000.0);
    let answer = dev
        .minijson(
            Method::POST,
            "/v1/device/alarms",
            &vec![open_again, now_closed.clone(), now_closed],
        )
        .await;
    assert_eq!(
        answer.body,
        json!([{"uuid": uuids[2]}, {"uuid": uuids[2]}, {"uuid": uuids[2]}])
    );

    let (_, events) = server.admin(Method::GET, "/v1/devices/dev1/events", None).await;
    assert_eq!(events.as_array().map(Vec::len), Some(2), "{events}");
    let (_, first) = server
        .admin(
            Method::GET,
            &format!("/v1/devices/dev1/events/{}", uuids[0]),
            None,
        )
        .await;
    assert_eq!(
        (first["open"].as_bool(), first["ended_on"].as_i64()),
        (Some(false), Some(1_796_062_739))
    );
    assert_eq!(
        (
            first["color"].as_i64(),
            first["metadata"]["predicate_id"].as_str()
        ),
        (Some(2), Some("p1"))
    );
    assert_eq!(first["closed_by"], "device");
    let (_, still_open) = server
        .admin(Method::GET, "/v1/devices/dev1/events?state=open", None)
        .await;
    assert_eq!(still_open, json!([]));

    // Malformed elements refuse the whole batch; nothing is stored.
    let fresh = client_event("new one");
    let good = serde_json::to_value(&fresh).unwrap();
    for bad in [
        json!([good, {"started_on": 1, "color": 9, "alarm_type": 0, "token": "t", "group": "B", "message": "m",
                      "metadata": {}}]),
        json!([good, {"started_on": 1, "color": 0, "alarm_type": 0, "token": "t", "group": "B", "metadata": {}}]),
        json!([good, {"started_on": 1, "color": 0, "alarm_type": 0, "token": "t", "group": "B", "message": "m",
                      "metadata": {"n": 1}}]),
        json!({"not": "a list"}),
    ] {
        let answer = dev.json(Method::POST, "/v1/device/alarms", &bad).await;
        assert_eq!(answer.status, 400, "{bad}: {:?}", answer.body);
        assert!(!status_of(&answer.body).is_empty());
    }
    let garbage = dev
        .call(
            Method::POST,
            "/v1/device/alarms",
            Some((MINIJSON, vec![0xff, 0x00])),
            &[],
        )
        .await;
    assert_eq!(garbage.status, 400);
    let big = vec![b' '; (4 << 20) + 1];
    let oversized = dev
        .call(
            Method::POST,
            "/v1/device/alarms",
            Some(("application/json", big)),
            &[],
        )
        .await;
    assert_eq!(oversized.status, 413, "{:?}", oversized.body);
    let (_, events) = server.admin(Method::GET, "/v1/devices/dev1/events", None).await;
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(2),
        "nothing stored: {events}"
    );

    // The operator closes an event another device cannot reach.
    let answer = dev
        .minijson(Method::POST, "/v1/device/alarms", &vec![fresh.clone()])
        .await;
    let uuid = answer.body[0]["uuid"].as_str().expect("uuid").to_owned();
    let (status, _) = server
        .admin(
            Method::POST,
            &format!("/v1/devices/dev2/events/{uuid}/close"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, closed) = server
        .admin(
            Method::POST,
            &format!("/v1/devices/dev1/events/{uuid}/close"),
            Some(json!({"handled_by": "operator"})),
        )
        .await;
    assert_eq!(
        (status, closed["closed_by"].as_str(), closed["open"].as_bool()),
        (200, Some("admin"), Some(false))
    );
    // dev2 reporting dev1's uuid creates its own event, never touching dev1's.
    let mut spoof = fresh;
    spoof.uuid = Some(uuid.clone());
    spoof.ended_on = Some(1_796_070_000.0);
    device(&server, &pki, "dev2")
        .minijson(Method::POST, "/v1/device/alarms", &vec![spoof])
        .await;
    let (_, mine) = server
        .admin(Method::GET, &format!("/v1/devices/dev1/events/{uuid}"), None)
        .await;
    assert_eq!(mine["handled_by"], "operator");
    assert_ne!(mine["ended_on"], json!(1_796_070_000));
    server.stop().await;
}
