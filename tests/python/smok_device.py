"""Runs the published Python client (PyPI `smok` 0.21.0, module `ngtt.uplink`) as a device
against a server of ours, unmodified except where it hard-codes production: the host name, the
port (2405) and the CA bundle it ships. Its keepalive interval is shortened so that a test sees
pings within seconds.

usage: smok_device.py PORT CA_PEM CERT_PEM KEY_PEM EXPECTED_ORDERS TIMEOUT_S [PING_S [MIN_PINGS [no-fetch]]]
Prints one JSON line per order received ({"tid": …, "order": […], "at": seconds since the
client was started}) and acknowledges each; then {"pings": N} and exits 0 once
EXPECTED_ORDERS orders arrived and at least MIN_PINGS (default 1) pings were answered, or
exits 1 at the timeout. PING_S is the keepalive interval (default 1 s; the client's own is 30 s,
which is what a stalled read waits for). With `no-fetch` the client never sends FETCH_ORDERS,
as the protocol's first revision did.
"""
import json
import ssl
import sys
import time

import smok.client  # noqa: F401  (imported first: ngtt.uplink has a circular import otherwise)
from ngtt.uplink import NGTTConnection
import ngtt.uplink.connection as connection

port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
expected, timeout = int(sys.argv[5]), float(sys.argv[6])
ping_interval = float(sys.argv[7]) if len(sys.argv) > 7 else 1
min_pings = int(sys.argv[8]) if len(sys.argv) > 8 else 1
no_fetch = len(sys.argv) > 9 and sys.argv[9] == "no-fetch"

with open(ca, "rb") as f:
    ca_pem = f.read()
connection.env_to_hostname = lambda environment: "localhost"
connection.get_dev_ca_cert = lambda: ca_pem
connection.get_root_cert = lambda: b""
connection.PING_INTERVAL_TIME = ping_interval

_connect = ssl.SSLSocket.connect


def connect_to_test_server(self, address):
    if address[1] == 2405:
        address = ("127.0.0.1", port)
    return _connect(self, address)


ssl.SSLSocket.connect = connect_to_test_server

pings = 0
_got_ping = connection.NGTTSocket.got_ping


def count_ping(self):
    global pings
    if self.ping_id is not None:
        pings += 1
    return _got_ping(self)


connection.NGTTSocket.got_ping = count_ping

if no_fetch:
    _send_frame = connection.NGTTSocket.send_frame

    def send_all_but_fetch_orders(self, tid, header, data=b""):
        if header.name == "FETCH_ORDERS":
            return None
        return _send_frame(self, tid, header, data)

    connection.NGTTSocket.send_frame = send_all_but_fetch_orders

received = []


def on_order(order):
    received.append(order.tid)
    at = time.monotonic() - started
    print(json.dumps({"tid": order.tid, "order": order.data, "at": at}), flush=True)
    order.acknowledge()


started = time.monotonic()
link = NGTTConnection(cert, key, on_order)
deadline = time.monotonic() + timeout
while time.monotonic() < deadline and (len(received) < expected or pings < min_pings):
    time.sleep(0.1)
time.sleep(1.5)  # let the last acknowledgement leave (the client writes from its thread)
link.close()
print(json.dumps({"pings": pings}), flush=True)
sys.exit(0 if len(received) >= expected and pings >= min_pings else 1)
