"""The Python side of the footprint benchmark (tests/benches/footprint.rs): the published
client's SMOKDevice with PATHPOINTS registered pathpoints, each reading 1, booted through
device_harness.py against one of our servers (plain HTTP, local development). Its communicator
cycle (60 s, a module constant) is set to POLL_SECS, as the Rust device's poll interval is.
It registers the statistic footprint.threshold (reads the pathpoint `path` of its
configuration, opens an event while it is above `limit`), as the Rust device does; predicate,
macro and BAOB sync are on, as they are by default.

usage: footprint_device.py BASE_URL CERT KEY POLL_SECS PATHPOINTS [PREDICATES MACROS BAOBS]
Prints {"event": "ready", ...} once the client is synced and, when the counts are given,
holds that many predicates, macros and BAOBs; then runs until killed.
"""
import sys
import time

import device_harness
from smok.pathpoint import Pathpoint
from smok.predicate import BaseStatistic, Color
import smok.threads.communicator as communicator

base_url, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
poll, count = float(sys.argv[4]), int(sys.argv[5])
predicates, macros, baobs = (int(a) for a in (sys.argv[6:9] or (0, 0, 0)))
communicator.COMMUNICATOR_INTERVAL = poll


class Constant(Pathpoint):
    def on_read(self, advise):
        return 1

    def on_write(self, value, advise):
        return None


class Device(device_harness.SMOKDevice):
    def provide_unknown_pathpoint(self, name, storage_level=1):
        return Constant(self, name, storage_level)


class Threshold(BaseStatistic):
    """An event is open while the value of the pathpoint `path` is above `limit`."""
    statistic_name = "footprint.threshold"
    event = None

    def on_tick(self):
        value = self.device.get_pathpoint(self.configuration["path"]).current_value
        above = isinstance(value, int) and value > self.configuration["limit"]
        if above and self.event is None:
            self.event = self.open_event("above the limit", Color.RED)
        elif not above and self.event is not None:
            self.close_event(self.event)
            self.event = None


device, info = device_harness.boot(base_url, cert, key, cls=Device, ready_timeout=150.0,
                                   statistics=[(Threshold, lambda name, cfg: name == Threshold.statistic_name)])
for k in range(count):
    Constant(device, "W%d" % k)
device_harness.wait_for("the predicates, macros and BAOBs",
                        lambda: len(device.predicates) >= predicates
                        and len(device.macros_database.get_macros()) >= macros
                        and len(list(device.baob_database.get_all_keys())) >= baobs,
                        timeout=150.0, interval=0.2)
device_harness.emit(info)
while True:
    time.sleep(3600)
