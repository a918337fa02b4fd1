"""A reusable harness that boots the published Python client's `SMOKDevice` (PyPI `smok` 0.21.0)
against one of our servers, unmodified except for what it hard-codes (HTTP-API.md §2.1):

* the base URL (`https://api.smok.co`, `http://http-api`, ...) is replaced by `base_url` before
  `continue_boot()`, as the spec says tests did;
* in local development (environment 2) the client sends the file `tests/dev.testing.crt`,
  read relative to the working directory, in `X-SSL-Client-Certificate`: the harness writes
  the device's own certificate there, in a scratch directory it works in while the client
  is constructed (the server must run plain HTTP with `--trust-proxy-header`);
* in production and staging (environments 0 and 1) requests checks the server against its CA
  bundle: pass `ca` (our CA's PEM file) and it is used through `REQUESTS_CA_BUNDLE`.

The client's schedules count from host boot (§4): its first sensor and predicate sync waits
until 300 s of uptime. On a younger host (or with DEVICE_HARNESS_DRIVE_FIRST_SYNC=1), `boot()`
calls the client's own `sync_sensors()` and `sync_predicates()` before its threads start,
instead of waiting. Readiness is always the
client's own: `wait_until_synced()` returning.

Usage from another script:

    from device_harness import boot, emit
    device, boot_info = boot("http://127.0.0.1:8080", "dev.pem", "dev.key")
    emit(boot_info)          # {"event": "ready", "seconds": ..., "driven": ...}
    ...
    device.close()
"""
import json
import os
import sys
import tempfile
import threading
import time

import smok.client  # noqa: F401  (first: the package has a circular import otherwise)
from smok.basics import Environment
from smok.client import SMOKDevice
from smok.client.certificate import get_device_info
import smok.threads.communicator as communicator

__all__ = ["boot", "emit", "wait_for", "fail"]


def emit(record):
    """Prints one JSON line (what the Rust side of a test reads)."""
    print(json.dumps(record, default=str), flush=True)


def fail(message):
    """Reports a failure as a JSON line and exits 1."""
    emit({"event": "failure", "message": message})
    sys.exit(1)


def wait_for(what, predicate, timeout=20.0, interval=0.05):
    """Polls `predicate` until it is truthy; fails the script after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    fail("timed out waiting for " + what)


def _wait_until_synced(device, timeout):
    done = threading.Event()

    def waiter():
        device.wait_until_synced()
        done.set()

    threading.Thread(target=waiter, daemon=True, name="harness readiness").start()
    return done.wait(timeout)


def boot(base_url, cert, key, ca=None, cls=SMOKDevice, statistics=(), ready_timeout=30.0, **kwargs):
    """Constructs `cls(cert, key, evt_database, delayed_boot=True, **kwargs)`, points it at
    `base_url`, registers `statistics` (pairs of a BaseStatistic subclass and its match function),
    continues the boot and waits until the client says it is synced.

    Returns (device, info): info is {"event": "ready", "seconds": boot time, "driven": whether
    the first sync had to be driven because the host is younger than the client's period}.
    Fails the script when readiness does not come within `ready_timeout` seconds.
    """
    cert, key = os.path.abspath(cert), os.path.abspath(key)
    with open(cert, "rb") as f:
        cert_data = f.read()
    _, environment = get_device_info(cert_data)
    if ca is not None:
        os.environ["REQUESTS_CA_BUNDLE"] = os.path.abspath(ca)
    scratch = tempfile.mkdtemp(prefix="smok-device-")
    kwargs.setdefault("evt_database", os.path.join(scratch, "events.pickle"))
    started = time.monotonic()
    cwd = os.getcwd()
    try:
        if environment == Environment.LOCAL_DEVELOPMENT:
            os.makedirs(os.path.join(scratch, "tests"), exist_ok=True)
            with open(os.path.join(scratch, "tests", "dev.testing.crt"), "wb") as f:
                f.write(cert_data)
            os.chdir(scratch)
        device = cls(cert, key, delayed_boot=True, **kwargs)
    finally:
        os.chdir(cwd)
    device.url = base_url
    device.api.base_url = base_url
    for statistic, match in statistics:
        device.register_statistic(statistic, match)

    driven = False
    getter = device.getter
    young_host = time.monotonic() <= communicator.PREDICATE_SYNC_INTERVAL + 5
    if getter is not None and (young_host or os.environ.get("DEVICE_HARNESS_DRIVE_FIRST_SYNC") == "1"):
        # The communicator would wait for 300 s of host uptime: run its own first syncs now,
        # before its thread starts, so nothing runs twice at once.
        driven = True
        if not getter.dont_do_pathpoints:
            getter.sync_sensors()
        if not getter.dont_do_predicates:
            getter.sync_predicates()
    device.continue_boot()
    if not _wait_until_synced(device, ready_timeout):
        fail("the client did not become ready within %.0f s" % ready_timeout)
    return device, {"event": "ready", "seconds": round(time.monotonic() - started, 3), "driven": driven,
                    "environment": int(environment)}
