"""Ceilometer's compute agent for the testbed's Nova server: a long-running feeder of Gnocchi.

Arguments: Nova's testbed record as JSON (server_id, server_name, flavor_id, compute_host,
port_id), the path of the readiness file, the path of the state file. Environment: the
``OS_*`` admin credentials and ``TESTBED_MEASURES_INTERVAL`` (seconds between samples,
default 60, Ceilometer's usual polling interval for alarming).

At start it creates or updates the server's ``instance``, ``instance_disk`` and
``instance_network_interface`` resources (see measures_gnocchi.py) and backfills ten
minutes of one-minute samples ending now: five idle (about 15 % CPU), then five busy (about
90 % of the vCPUs, heavy disk and network traffic). A re-run on the same data continues from
Gnocchi's newest point on its grid, counters carrying on, and adds only what is missing (at
most the last ten grid points). Once gnocchi-metricd has aggregated them it writes the
readiness file (resource ids, metric names, vCPUs) and from then on pushes one busy sample
per metric at every interval on the grid, all in one batch request.

The load story, for Aodh: a ``cpu`` rate:mean alarm at 60 s granularity over 80 % of the
vCPUs fires on the busy minutes and keeps firing, since the live samples stay busy. Gnocchi's
rate:mean is the mean of the differences between successive samples, so the threshold is
``0.8 * vcpus * interval * 1e9`` ns (per minute, ``0.8 * vcpus * 60e9``, by default).

A failed push (Gnocchi frozen or down, a token Keystone no longer accepts) is logged and its
samples are kept: the next tick sends them again with the new ones, so no grid point is
skipped and a counter never goes back, even when a timed-out request was applied after all.
The state file holds the interval and the last pushes (``sample`` timestamp, wall-clock
``at``), for tests.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from gnocchiclient import client  # type: ignore[import-untyped,import-not-found,unused-ignore]
from keystoneauth1 import exceptions as ks_exceptions  # type: ignore[import-untyped,import-not-found,unused-ignore]
from measures_gnocchi import (  # type: ignore[import-not-found,unused-ignore]
    Point,
    ensure_resource,
    last_points,
    plan,
    wait_aggregated,
)
from measures_series import Series  # type: ignore[import-not-found,unused-ignore]
from os_session import adapter_options, session  # type: ignore[import-not-found,unused-ignore]

STEP = 60  # the backfill's grid, in seconds
SAMPLES = 11  # ten intervals: five idle, then five busy
BUSY = 5
KEPT_PUSHES = 30
INTERVAL_VARIABLE = "TESTBED_MEASURES_INTERVAL"

log = logging.getLogger("measures-feed")
Samples = list[dict[str, Any]]
Batch = dict[str, dict[str, Samples]]


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def backfill_stamps(
    now: datetime.datetime, cursor: datetime.datetime | None
) -> list[datetime.datetime]:
    """Ten minutes on the one-minute grid ending ``now``, or after ``cursor`` (Gnocchi's newest
    point) the grid points up to ``now``, at most the last ten: Gnocchi merges every sample of
    the current hour into the aggregates, and rate:mean over uneven spacing would misstate the
    load."""
    step = datetime.timedelta(seconds=STEP)
    if cursor is None:
        return [now - step * (SAMPLES - 1 - i) for i in range(SAMPLES)]
    count = int((now - cursor) // step)
    return [cursor + step * k for k in range(max(1, count - SAMPLES + 2), count + 1)]


class Feed:
    """Every metric of the server's resources with its newest sample, to carry counters on."""

    def __init__(
        self,
        rng: random.Random,
        series: dict[str, dict[str, Series]],
        last: dict[str, dict[str, Point]],
    ) -> None:
        self.rng, self.series = rng, series
        self.last: dict[tuple[str, str], tuple[datetime.datetime | None, float]] = {}
        for resource, metrics in series.items():
            for name, serie in metrics.items():
                found = last.get(resource, {}).get(name)
                self.last[resource, name] = found if found is not None else (None, serie.start)

    @property
    def cursor(self) -> datetime.datetime | None:
        """The newest sample of any metric: the grid goes on from there."""
        stamps = [stamp for stamp, _ in self.last.values() if stamp is not None]
        return max(stamps, default=None)

    def sample(self, stamps: list[datetime.datetime], busy_from: int) -> Batch:
        """A sample per metric and stamp (after that metric's own newest); the stamps from
        index ``busy_from`` on are busy."""
        batch: Batch = {}
        for resource, metrics in self.series.items():
            for name, serie in metrics.items():
                previous, level = self.last[resource, name]
                samples = []
                for i, stamp in enumerate(stamps):
                    if previous is not None and stamp <= previous:
                        continue
                    elapsed = (stamp - previous).total_seconds() if previous else 0.0
                    level = serie.value(self.rng, i >= busy_from, level, elapsed)
                    previous = stamp
                    samples.append({"timestamp": stamp.isoformat(), "value": level})
                self.last[resource, name] = previous, level
                batch.setdefault(resource, {})[name] = samples
        return batch


def merge(pending: Batch, batch: Batch) -> int:
    """Add ``batch`` to the samples not pushed yet; returns how many are pending."""
    for resource, metrics in batch.items():
        for name, samples in metrics.items():
            pending.setdefault(resource, {}).setdefault(name, []).extend(samples)
    return sum(len(s) for metrics in pending.values() for s in metrics.values())


class State:
    """The feeder's JSON state file: the interval, the last pushes and the last failure."""

    def __init__(self, path: Path, interval: int) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "interval": interval,
            "pid": os.getpid(),
            "pushes": [],
            "failures": 0,
            "last_error": None,
        }

    def pushed(self, sample: datetime.datetime, points: int) -> None:
        pushes = self.data["pushes"]
        pushes.append({"sample": sample.isoformat(), "at": utcnow().isoformat(), "points": points})
        del pushes[:-KEPT_PUSHES]
        self.data["last_sample"] = sample.isoformat()
        self.write()

    def failed(self, error: str) -> None:
        self.data["failures"] += 1
        self.data["last_error"] = {"at": utcnow().isoformat(), "error": error}
        self.write()

    def write(self) -> None:
        write_json(self.path, self.data)


def write_json(path: Path, data: Any) -> None:
    """Replaced whole, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def run(gnocchi: Any, sess: Any, feed: Feed, interval: int, state: State) -> NoReturn:
    """Push a busy sample per metric at each grid point, catching up on missed ones."""
    step = datetime.timedelta(seconds=interval)
    pending: Batch = {}
    while True:
        cursor = feed.cursor
        assert cursor is not None  # noqa: S101 - the backfill stamped every metric
        delay = (cursor + step - datetime.datetime.now(datetime.UTC)).total_seconds()
        if delay > 0:
            time.sleep(delay)
        count = int((utcnow() - cursor) // step)
        stamps = [cursor + step * k for k in range(1, count + 1)]
        total = merge(pending, feed.sample(stamps, busy_from=0))
        try:
            gnocchi.metric.batch_resources_metrics_measures(pending)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the next tick retries
            error = f"{type(exc).__name__}: {exc}"
            log.warning("push of %d samples failed, retried next tick: %s", total, error)
            if isinstance(exc, ks_exceptions.Unauthorized):
                sess.invalidate()
            state.failed(error)
            continue
        newest = feed.cursor or cursor
        log.info("pushed %d samples up to %s", total, newest.isoformat())
        state.pushed(newest, total)
        pending = {}


def interval_from_env() -> int:
    value = int(os.environ.get(INTERVAL_VARIABLE) or STEP)
    if value < 1:
        raise SystemExit(f"{INTERVAL_VARIABLE} must be a whole number of seconds >= 1")
    return value


def main() -> None:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    nova: dict[str, Any] = json.loads(sys.argv[1])
    ready, state_path = Path(sys.argv[2]), Path(sys.argv[3])
    interval = interval_from_env()
    sess = session()
    gnocchi: Any = client.Client("1", session=sess, adapter_options=adapter_options())
    resources, flavor = plan(sess, nova)
    ids: dict[str, dict[str, str]] = {}
    series: dict[str, dict[str, Series]] = {}
    last: dict[str, dict[str, Point]] = {}
    for kind, body, metrics in resources:
        found, existed = ensure_resource(gnocchi, kind, body, metrics)
        ids[kind] = {k: str(found[k]) for k in ("id", "original_resource_id")}
        series[body["id"]] = metrics
        last[body["id"]] = last_points(gnocchi, found["metrics"]) if existed else {}
    feed = Feed(random.Random(nova["server_id"]), series, last)  # noqa: S311 - jitter only
    stamps = backfill_stamps(utcnow(), feed.cursor)
    batch = feed.sample(stamps, busy_from=len(stamps) - BUSY)
    gnocchi.metric.batch_resources_metrics_measures(batch)
    newest = {
        resource: {
            name: datetime.datetime.fromisoformat(samples[-1]["timestamp"])
            for name, samples in metrics.items()
            if samples
        }
        for resource, metrics in batch.items()
    }
    waited = wait_aggregated(gnocchi, newest)
    count = sum(len(s) for metrics in batch.values() for s in metrics.values())
    state = State(state_path, interval)
    cursor = feed.cursor
    if cursor is not None:
        state.pushed(cursor, count)
    log.info("backfilled %d samples up to %s in %.1fs", count, cursor, waited)
    report = {
        "resources": ids,
        "metrics": {kind: sorted(metrics) for kind, _, metrics in resources},
        "vcpus": int(flavor["vcpus"]),
        "samples_pushed": count,
        "last_sample": cursor.isoformat() if cursor else None,
        "aggregated_after_s": round(waited, 1),
        "interval": interval,
    }
    write_json(ready, report)
    run(gnocchi, sess, feed, interval, state)


if __name__ == "__main__":
    main()
