"""Runs the published Python client's SMOKDevice (PyPI `smok` 0.21.0) against our device HTTP API
for one resource of HTTP-API.md §7.10-7.13: BAOBs, metadata, macros or archives.

The device is booted with `delayed_boot=True` and never continued: its background threads
would only act when host uptime or wall-clock schedules allow (HTTP-API.md §4), so the test
drives the client's own sync methods (the ones those threads call) directly. Nothing of the
client is replaced except its base URL, which it copies at construction and offers no way to
set (§2.1). The certificate is an environment-2 (local development) one, so the client
identifies itself with `X-SSL-Client-Certificate` read from `tests/dev.testing.crt` under the
working directory (§2.1): the caller puts the device's certificate there.

usage: device_b.py BASE_URL WORKDIR CERT KEY SCENARIO
Prints one JSON object per line describing what the client saw; exits 0 when every check
passed, 1 (with the failed check on stderr) otherwise.
"""
import json
import os
import sys

base, workdir, cert, key, scenario = sys.argv[1:6]
os.chdir(workdir)

from smok.client import SMOKDevice  # noqa: E402
from smok.pathpoint import Pathpoint  # noqa: E402
from smok.sync_workers.http import HTTPSyncWorker  # noqa: E402

WRITES = []
READ_VALUES = {"W5": 42, "f6": 2.5}


class RecordingPathpoint(Pathpoint):
    """Writes are recorded; reads answer a fixed value per name."""

    def on_read(self, advise):
        return READ_VALUES.get(self.name, 0)

    def on_write(self, value, advise):
        WRITES.append([self.name, value])
        return None


class Device(SMOKDevice):
    def provide_unknown_pathpoint(self, name, storage_level=1):
        return RecordingPathpoint(self, name, storage_level)


def emit(**fields):
    print(json.dumps(fields), flush=True)


def check(condition, what):
    if not condition:
        print("CHECK FAILED: " + what, file=sys.stderr, flush=True)
        sys.exit(1)


def run_queued_sections(dev):
    """What the order executor thread does with queued sections, done here and now."""
    while dev._order_queue.qsize():
        dev.executor.execute_a_section(dev._order_queue.get())


dev = Device(cert, key, os.path.join(workdir, "events.pickle"), delayed_boot=True)
dev.url = dev.api.base_url = base

if scenario == "baobs":
    # The device holds an old copy of "srv", a copy of "gone" (deleted on the server) and
    # creates "mine" by assigning a value, as smok/baob.py documents.
    dev.baob_database.set_baob_value("srv", b"old", 3)
    dev.baob_database.set_baob_value("gone", b"doomed", 1)
    dev.get_baob("mine").value = b"from-device"
    dev.getter.sync_baob()
    srv = dev.get_baob("srv")
    emit(srv_version=srv.version, srv_value=srv.value.decode(), gone=dev.get_baob("gone").version,
         mine=dev.get_baob("mine").version, loaded=dev.baobs_loaded)
    check(srv.version == 5 and srv.value == b"from-server", "srv downloaded at version 5")
    check(dev.get_baob("gone").version == -1, "gone deleted locally")
    # A second write on the device: version 1, uploaded by the next round.
    dev.get_baob("mine").value = b"from-device, again"
    dev.getter.sync_baob()
    emit(mine=dev.get_baob("mine").version)
elif scenario == "metadata":
    value = dev.metadata["from server"]
    emit(read=value)
    check(value == "server value", "metadata set on the server is read on the device")
    try:
        dev.metadata["never set"]
        check(False, "a missing key raises KeyError")
    except KeyError:
        pass
    dev.metadata["from device/with slash"] = "device value"
    dev.metadata.try_update()  # what the archives-and-macros thread does once per wake-up
    emit(sent=True)
elif scenario == "macros":
    dev.arch_and_macros.do_macros()  # fetch the window, execute due occurrences, report them
    run_queued_sections(dev)
    emit(writes=WRITES, pending=[[m, ts] for m, ts in dev.macros_database.get_done_macros()])
    check(sorted(WRITES) == [["W1", 7], ["u2", "on"]], "the macro's writes were executed")
elif scenario == "archives":
    dev.arch_and_macros.do_archives()  # fetch the settings, queue the due reads
    run_queued_sections(dev)
    dev.sync_worker = HTTPSyncWorker(dev)
    dev.getter.sync_data()  # upload the values read, as the communicator thread does
    instructions = {str(k): v for k, v in dev.arch_database.get_archiving_instructions().items()}
    emit(instructions=instructions, values={n: dev.get_pathpoint(n).get()[1] for n in READ_VALUES})
    check(instructions == {"60": ["W5", "f6"]}, "archive settings read")
else:
    check(False, "unknown scenario " + scenario)

# close() joins threads a delayed boot never started (and raises), so leave without it.
sys.stdout.flush()
os._exit(0)
