"""The published client (`smok` 0.21.0) against our server, resource by resource, through
its own public methods: device information, sensors, a predicate raising and closing an
event, slave instrumentation, the sensor write log, the pathpoint registry.

usage: device_resources.py BASE_URL CERT_PEM KEY_PEM SLAVE_ID
Prints one JSON line per step (see device_harness.emit); exits 0 when every step ran.
"""
import time

SCRIPT_STARTED = time.monotonic()  # before the client is imported: the boot as a user sees it

import sys  # noqa: E402

from device_harness import boot, emit, fail, wait_for

from smok.predicate import BaseStatistic, Color
from smok.sensor import SensorWriteEvent

base_url, cert, key, slave_id = sys.argv[1:5]


class RaiseThenClose(BaseStatistic):
    """Opens an event on its first tick and closes it on its second."""
    statistic_name = "test.raise_then_close"
    opened = None
    ticks = 0

    def on_tick(self):
        RaiseThenClose.ticks += 1
        if RaiseThenClose.opened is None:
            RaiseThenClose.opened = self.open_event("limit %s exceeded" % self.configuration["limit"], Color.RED)
        elif not RaiseThenClose.opened.is_closed():
            self.close_event(RaiseThenClose.opened)


device, ready = boot(base_url, cert, key,
                     statistics=[(RaiseThenClose, lambda name, cfg: name == RaiseThenClose.statistic_name)],
                     dont_do_baobs=True, dont_do_macros=True, dont_do_archives=True)
ready["since_start"] = round(time.monotonic() - SCRIPT_STARTED, 3)
emit(ready)
getter = device.getter

# Device information (GET /v1/device).
info = device.get_device_info()
emit({"event": "info", "device_id": info.device_id, "verbose_name": info.verbose_name,
      "facets": sorted(info.facets), "language": info.language, "timezone": info.timezone, "units": info.units,
      "slaves": [s.to_json() for s in info.slaves]})

# Sensors (GET /v1/device/sensors): ready means synced.
emit({"event": "sensors", "sensors": sorted(({"fqts": s.fqts, "path": s.path, "type": s.type_name}
                                             for s in device.get_all_sensors()), key=lambda s: s["fqts"])})

# The pathpoints those sensors created go up with PUT /v1/device/pathpoints.
getter.sync_pathpoints()
emit({"event": "pathpoints", "paths": sorted(device.pathpoints.keys())})

# Predicates as the client holds them: offline ones are not instantiated; silencing arrives.
emit({"event": "predicates", "ids": sorted(device.predicates),
      "silencing": {pid: [[list(p.start.to_tuple()), list(p.stop.to_tuple())] for p in pred.silencing]
                    for pid, pred in device.predicates.items()}})

# The predicate: the communicator ticks it after its first sync and sends the event it opens.
wait_for("the predicate's statistic", lambda: isinstance(device.predicates.get("p1"), RaiseThenClose))
if RaiseThenClose.ticks == 0:
    getter.tick_predicates()
wait_for("an opened event", lambda: RaiseThenClose.opened is not None)
if RaiseThenClose.opened.uuid is None:
    getter.sync_events()
event = wait_for("the event's uuid from the server", lambda: RaiseThenClose.opened.uuid and RaiseThenClose.opened)
emit({"event": "opened", "uuid": event.uuid, "message": event.message})
time.sleep(0.5)  # let the communicator's cycle that sent it finish (its checkpoint, §10)
getter.tick_predicates()
if not event.is_closed():
    fail("the statistic did not close its event")
getter.sync_events()
emit({"event": "closed", "uuid": event.uuid, "ended_on": event.ended_on})

# Slave instrumentation (GET, PATCH /v1/device/instrumentation/{id}).
slaves = {s.device_id: s for s in device.get_slaves()}
if slave_id not in slaves:
    fail("no slave %r in %r" % (slave_id, sorted(slaves)))
emit({"event": "linkstate_before", "linkstate": slaves[slave_id].linkstate})
slaves[slave_id].linkstate = {"status": False, "failed_devices": [3]}
slaves[slave_id].instrumentation = "CRC errors: 4"
fresh = {s.device_id: s for s in device.get_slaves()}[slave_id]
emit({"event": "instrumentation", "linkstate": fresh.linkstate, "instrumentation": fresh.instrumentation})

# The sensor write log (PUT /v1/device/sensor/write_log).
sensor = device.get_sensor("boiler temp")
write = SensorWriteEvent(int(time.time() * 1000), "harness", "Boiler temperature", "21.5 C", sensor.fqts, "215",
                         "set by the test")
device.log_sensor_write(write)
getter.sync_sensor_writes()
emit({"event": "sensor_write", "timestamp": write.timestamp, "fqts": write.fqts})

emit({"event": "done"})
sys.stdout.flush()
# SMOKDevice.close() joins threads that sleep in 5 s slices; nothing is left to send.
import os  # noqa: E402
os._exit(0)
