"""The Python side of the footprint benchmark (tests/benches/footprint.rs): the published
client's SMOKDevice with PATHPOINTS registered pathpoints, each reading 1, booted through
device_harness.py against one of our servers (plain HTTP, local development). Its communicator
cycle (60 s, a module constant) is set to POLL_SECS, as the Rust device's poll interval is.

usage: footprint_device.py BASE_URL CERT KEY POLL_SECS PATHPOINTS
Prints {"event": "ready", ...} once the client is synced, then runs until killed.
"""
import sys
import time

import device_harness
from smok.pathpoint import Pathpoint
import smok.threads.communicator as communicator

base_url, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
poll, count = float(sys.argv[4]), int(sys.argv[5])
communicator.COMMUNICATOR_INTERVAL = poll


class Constant(Pathpoint):
    def on_read(self, advise):
        return 1

    def on_write(self, value, advise):
        return None


class Device(device_harness.SMOKDevice):
    def provide_unknown_pathpoint(self, name, storage_level=1):
        return Constant(self, name, storage_level)


device, info = device_harness.boot(base_url, cert, key, cls=Device)
for k in range(count):
    Constant(device, "W%d" % k)
device_harness.emit(info)
while True:
    time.sleep(3600)
