"""One run of the job: generate + check a slice, stage it, and publish the day.

The pipeline drives: it pulls blocks from the simulator, checks each one
(`validation.SliceStats.add`) and hands it to the Parquet writer, which only encodes.
The file is uploaded to the day's staging area; a whole-day run (or `--finalize`
after K slice runs) then publishes the day from there under the day's lease, as one
commit of the dataset's Delta table (`sinks.publish`). Every failure is reported
with the state it left the day in.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fraud_detection import GENERATOR_VERSION
from fraud_detection.deadline import Deadline
from fraud_detection.errors import (
    DeadlineExceeded,
    Interrupted,
    JobError,
    OutOfMemory,
    UsageError,
    ValidationFailed,
)
from fraud_detection.manifest import (
    DATASET,
    REPORTS_DATASET,
    TIMESTAMP_FIELD,
    Manifest,
    PartInfo,
    ReportsBody,
    table_fields,
    with_core,
)
from fraud_detection.memory import check_memory, is_out_of_memory
from fraud_detection.schema import REPORT_SCHEMA, SCHEMA
from fraud_detection.settings import (
    DEFAULT_LEASE_TTL_SECONDS,
    DEFAULT_ROW_GROUP_ROWS,
    Compression,
    JobSettings,
    default_deadline,
    settings_digest,
)
from fraud_detection.simulator import DaySpec, PopulationSizes, Shard, iter_blocks
from fraud_detection.simulator.dataset import reports_frame
from fraud_detection.simulator.profiles import PROFILES
from fraud_detection.sinks.destination import (
    Destination,
    StoredObject,
    parse_destination,
    roots_overlap,
)
from fraud_detection.sinks.layout import DayLayout
from fraud_detection.sinks.lease import Lease, held_lease
from fraud_detection.sinks.parquet import WrittenFile, arrow_schema, arrow_type_names, write_parquet
from fraud_detection.sinks.publish import DayPublication, DayState, StagedPart, publish_file
from fraud_detection.sinks.staged import slice_metadata, staged_slices
from fraud_detection.tempfiles import check_scratch_space, work_dir
from fraud_detection.validation import SliceStats, Totals, check_totals, validate_reports

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    spec: DaySpec
    shard: Shard = field(default_factory=Shard)
    compression: Compression = "zstd"
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS
    deadline_seconds: float | None = None  # None: default_deadline(spec.rows)
    lease_ttl_seconds: float = DEFAULT_LEASE_TTL_SECONDS

    def row_settings(self) -> dict[str, str]:
        """Everything that shapes a slice's bytes; slices agree on all of it or never mix."""
        spec = self.spec
        return {
            "date": spec.day.isoformat(),
            "rows": str(spec.rows),
            "seed": str(spec.seed),
            "fraud_rate": repr(spec.fraud_rate),
            "profile": spec.profile,
            "customers": str(spec.population.customers),
            "merchants": str(spec.population.merchants),
            "shards": str(self.shard.count),
            "compression": self.compression,
            "row_group_rows": str(self.row_group_rows),
            "generator_version": GENERATOR_VERSION,
        }


def run_job(job: JobSettings) -> Manifest:
    """The command line's one entry: a slice (or whole day), or --finalize."""
    dest = parse_destination(job.dest)
    labels = _labels_destination(job.labels_dest, dest)
    spec = DaySpec(
        day=job.day,
        rows=job.rows,
        seed=job.seed,
        fraud_rate=PROFILES[job.profile].fraud_rate if job.fraud_rate is None else job.fraud_rate,
        population=PopulationSizes(customers=job.customers, merchants=job.merchants),
        profile=job.profile,
    )
    try:
        shard = Shard(job.shard_index, job.shard_count)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    opts = RunOptions(
        spec, shard, job.compression, job.row_group_rows, job.deadline_seconds,
        job.lease_ttl_seconds,
    )  # fmt: skip
    return finalize(opts, dest, labels) if job.finalize else run(opts, dest, labels)


def _labels_destination(labels_dest: str | None, dest: Destination) -> Destination | None:
    """The labels feed's own root: never inside the payments' root, nor around it.

    Readers glob the payments' root (`**/*.parquet` included); another dataset's Parquet
    there would be read as payments.
    """
    if not labels_dest:
        return None
    labels = parse_destination(labels_dest)
    if roots_overlap(dest, labels):
        root = dest.uri(dest.prefix).rstrip("/")
        raise UsageError(
            f"--labels-dest {labels_dest!r} overlaps the payments' destination {root}: give "
            "the labels feed a root of its own (e.g. a sibling folder or another prefix)"
        )
    return labels


def run(opts: RunOptions, dest: Destination, labels: Destination | None = None) -> Manifest:
    """Generate and stage one slice; with a single slice, also publish the day."""
    spec, shard = opts.spec, opts.shard
    log.info(
        "daily-synthetic %s: date=%s rows=%s seed=%s fraud-rate=%s shard=%s dest=%s",
        GENERATOR_VERSION, spec.day, f"{spec.rows:,}", spec.seed, spec.fraud_rate, shard, dest.describe(),
    )  # fmt: skip
    day_run = DayRun(opts, dest, labels)
    return day_run.reporting_state(day_run.run)


def finalize(opts: RunOptions, dest: Destination, labels: Destination | None = None) -> Manifest:
    """After K slices were staged: check them all, then publish the day."""
    log.info("finalising %s from %d staged slices", opts.spec.day, opts.shard.count)
    day_run = DayRun(opts, dest, labels)
    return day_run.reporting_state(day_run.finalize)


class _Progress:
    """A progress line at every 10 % of the slice (operators and tests key on them)."""

    def __init__(self, expected_rows: int, n_blocks: int) -> None:
        self.expected, self.n_blocks = expected_rows, n_blocks
        self.started = time.monotonic()
        self.next_share = 0.0

    def report(self, stats: SliceStats) -> None:
        rows = stats.totals.rows
        share = rows / self.expected if self.expected else 1.0
        if share < self.next_share and rows != self.expected:
            return
        elapsed = time.monotonic() - self.started
        log.info(
            "generated %s/%s rows (%.0f%%), block %d/%d validated, %s fraud, %.0f rows/s",
            f"{rows:,}", f"{self.expected:,}", 100 * share, stats.blocks, self.n_blocks,
            f"{stats.totals.fraud_rows:,}", rows / elapsed if elapsed > 0 else 0.0,
        )  # fmt: skip
        self.next_share = share + 0.1


def generate_slice(
    opts: RunOptions, path: Path, deadline: Deadline | None = None
) -> tuple[WrittenFile, SliceStats]:
    """Generate the slice block by block, check each block, and encode it into `path`."""
    spec, shard = opts.spec, opts.shard
    stats = SliceStats(spec.day)
    progress = _Progress(spec.shard_rows(shard), len(spec.blocks(shard)))
    started = time.monotonic()

    def checked_blocks() -> Iterator[pl.DataFrame]:
        # iter_blocks makes the next blocks on worker threads while the writer's thread
        # checks this one here and polars encodes the last (without the GIL); the main
        # thread waits in write_parquet, where signals are handled.
        for frame in iter_blocks(spec, shard):
            if deadline is not None:
                deadline.check("generating rows")
            stats.add(frame)
            progress.report(stats)
            yield frame

    written = write_parquet(
        checked_blocks(), SCHEMA, path, compression=opts.compression,
        row_group_rows=opts.row_group_rows,
    )  # fmt: skip
    log.info(
        "wrote %s (%s rows, %.1f MB, %s) in %.1f s",
        path.name, f"{stats.totals.rows:,}", written.bytes / 1e6, opts.compression,
        time.monotonic() - started,
    )  # fmt: skip
    return written, stats


@dataclass
class DayRun:
    opts: RunOptions
    dest: Destination
    labels: Destination | None = None  # the fraud_reports feed's root; None: not published
    deadline: Deadline = field(init=False)
    layout: DayLayout = field(init=False)
    publication: DayPublication | None = None
    reports: DayPublication | None = None  # the labels feed's day, after the payments'
    # In the names of the files this run publishes: a re-run never overwrites a file.
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self.deadline = Deadline(
            self.opts.deadline_seconds or default_deadline(self.opts.spec.rows)
        )
        self.layout = DayLayout(self.dest.prefix, self.opts.spec.day)

    @property
    def state(self) -> DayState:
        return self.publication.state if self.publication else DayState.UNTOUCHED

    def explain_state(self) -> str:
        day = self.opts.spec.day.isoformat()
        said = self.state.explain(day)
        if self.reports is not None and self.reports.state != DayState.PUBLISHED:
            said += f"; its {REPORTS_DATASET}: {self.reports.state.explain(day)}"
        return said

    def reporting_state(self, step: Callable[[], Manifest]) -> Manifest:
        """Run `step`; a failure says what it left of the day."""
        try:
            return step()
        except (JobError, Interrupted) as exc:
            exc.day_state = self.explain_state()
            raise
        except BaseException as exc:
            if (stopped := Interrupted.raised) is not None:  # a signal, as native code saw it
                stopped.day_state = self.explain_state()
                raise stopped from None
            if not is_out_of_memory(exc):
                raise
            error = OutOfMemory(
                f"out of memory at {self.opts.spec.rows:,} rows; give the job more memory "
                "(see docs/operations.md) or split the day with --shard"
            )
            error.day_state = self.explain_state()
            raise error from None

    # --- the three kinds of run --------------------------------------------------------

    def run(self) -> Manifest:
        check_memory(self.opts.spec.rows)
        self._call("checking the destination", self.dest.preflight)
        if self.opts.shard.count > 1:
            staged, part = self._generate_and_stage()
            log.info(
                "staged slice %s; the day is published by --finalize --shards %d",
                self.opts.shard, self.opts.shard.count,
            )  # fmt: skip
            return self._manifest([part], complete=False)
        with self._lease():
            self._clear_staging()
            staged, part = self._generate_and_stage()
            manifest = self._publish([StagedPart(staged, part.key, part.rows)], [part])
            self._publish_reports()
            return manifest

    def finalize(self) -> Manifest:
        self._call("checking the destination", self.dest.preflight)
        with self._lease():
            self._call(
                "aborting unfinished uploads",
                lambda: self.dest.abort_uploads(self.layout.staging),
            )
            staged, parts = staged_slices(
                self.dest, self.layout, self.opts.shard.count, self.opts.row_settings(),
                lambda i: self.opts.spec.shard_rows(Shard(i, self.opts.shard.count)),
                self.run_id, self.deadline,
            )  # fmt: skip
            totals = Totals(sum(p.rows for p in parts), sum(p.fraud_rows for p in parts))
            check_totals(totals, self.opts.spec.rows, self.opts.spec.fraud_rate)
            manifest = self._publish(staged, parts)
            self._clear_staging()
            self._publish_reports()
            return manifest

    # --- steps -------------------------------------------------------------------------

    def _call(self, doing: str, fn: Callable[[], object]) -> None:
        self.deadline.call(doing, fn)

    @contextmanager
    def _lease(self) -> Iterator[Lease]:
        dest, layout = self.dest, self.layout
        ttl = self.opts.lease_ttl_seconds
        what = f"day {layout.day} at {dest.uri(layout.partition)}"
        with held_lease(dest, layout.lease_key, what, ttl, self.deadline) as lease:
            # The tables as this run finds them: the base its commits are checked against,
            # so a run that another one overtook can never publish over it.
            self.publication = DayPublication.under(
                lease, dest, layout, self.deadline, arrow_schema(SCHEMA), f"run {self.run_id}"
            )
            if self.labels is not None:
                self._call("checking the labels destination", self.labels.preflight)
                self.reports = DayPublication.under(
                    lease, self.labels, DayLayout(self.labels.prefix, layout.day), self.deadline,
                    arrow_schema(REPORT_SCHEMA), f"run {self.run_id}",
                )  # fmt: skip
            yield lease

    def _clear_staging(self) -> None:
        """Leftovers of earlier runs of the day: unfinished uploads, staged objects."""
        dest, staging = self.dest, self.layout.staging
        aborted = self.deadline.call(
            "aborting unfinished uploads", lambda: dest.abort_uploads(staging)
        )
        leftovers = self.deadline.call("listing the staging area", lambda: dest.list_keys(staging))
        if aborted or leftovers:
            log.info(
                "removing %d unfinished upload(s) and %d staged object(s) of earlier runs",
                aborted,
                len(leftovers),
            )
        if leftovers:
            self._call("removing staged objects", lambda: dest.delete(leftovers))

    def _generate_and_stage(self) -> tuple[StoredObject, PartInfo]:
        opts, dest, layout = self.opts, self.dest, self.layout
        spec, shard = opts.spec, opts.shard
        key = layout.staged_key(shard.index, shard.count)
        with work_dir() as tmp:
            check_scratch_space(tmp, spec.shard_rows(shard))
            written, stats = generate_slice(opts, tmp / "slice.parquet", self.deadline)
            totals = stats.totals
            if shard.count == 1:
                check_totals(totals, spec.rows, spec.fraud_rate)
            elif totals.rows != spec.shard_rows(shard):
                # Fraud is not spread evenly over slices (night-time takeovers), so the
                # fraud-rate band is checked for the whole day, at --finalize.
                raise ValidationFailed(
                    f"row count check failed: slice {shard} has {totals.rows} rows, "
                    f"expected {spec.shard_rows(shard)}"
                )
            # A slice's part gets its key in the day folder when --finalize publishes it.
            part_key = layout.part_key(0, 1, self.run_id) if shard.count == 1 else key
            part = PartInfo(
                key=part_key, rows=totals.rows,
                fraud_rows=totals.fraud_rows, bytes=written.bytes, sha256=written.sha256,
                fingerprint=stats.fingerprint, shard=str(shard),
            )  # fmt: skip
            if shard.count > 1:  # a whole-day run cleared the staging area already
                self._call("aborting unfinished uploads", lambda: dest.abort_uploads(key))
            log.info(
                "stage: uploading %s (%.1f MB) to %s",
                written.path.name,
                written.bytes / 1e6,
                dest.uri(key),
            )
            metadata = slice_metadata(opts.row_settings(), part)
            try:
                self._call(f"uploading {key}", lambda: dest.upload(written.path, key, metadata))
            except (Interrupted, DeadlineExceeded):
                self._abort_quietly(key)
                raise
            log.info("stage: uploaded %s", key)
        staged = self.deadline.call("checking the staged slice", lambda: dest.head(key))
        if staged is None:
            raise JobError(f"the staged slice {dest.uri(key)} vanished right after its upload")
        return staged, part

    def _abort_quietly(self, key: str) -> None:
        """Best effort within 0.8 s (with the lease's release, a signal ends the run in 2 s)."""
        with suppress(Exception):  # else the next run of the day aborts it
            Deadline(0.8).call("aborting the upload", lambda: self.dest.abort_uploads(key))

    def _publish(self, staged: list[StagedPart], parts: list[PartInfo]) -> Manifest:
        assert self.publication is not None  # made when the lease was taken
        version = self.publication.publish(
            staged, lambda v: self._manifest(parts, complete=True, version=v).to_json() + "\n"
        )
        manifest = self._manifest(parts, complete=True, version=version)
        log.info(
            "published %s: %s rows (%.3f%% fraud), %.1f MB in %d object(s)",
            manifest.uri, f"{manifest.rows:,}", 100 * manifest.fraud_rate, manifest.bytes / 1e6, len(parts),
        )  # fmt: skip
        return manifest

    def _publish_reports(self) -> None:
        if self.labels is None or self.reports is None:
            log.info(
                "the labels feed (%s) is not published: pass --labels-dest or set "
                "DAILY_SYNTHETIC_LABELS_DEST", REPORTS_DATASET,
            )  # fmt: skip
            return
        publish_reports(self.opts, self.labels, self.reports, self.run_id)

    def _manifest(
        self, parts: list[PartInfo], *, complete: bool, version: int | None = None
    ) -> Manifest:
        return payments_manifest(
            self.opts, self.dest, self.layout, parts, complete=complete, version=version,
            labels=self.labels,
        )  # fmt: skip


def publish_reports(
    opts: RunOptions, dest: Destination, publication: DayPublication, run_id: str
) -> None:
    """The labels feed: the fraud reports made on the day, published like the payments.

    Once per day (by a whole-day run or by --finalize), under the day's lease: reports
    made on day D are a function of (seed, D, rows, rate, profile), like its payments.
    """
    spec, layout = opts.spec, publication.layout
    frame = validate_reports(reports_frame(spec), spec.day)
    settings = opts.row_settings()
    with work_dir() as tmp:
        written = write_parquet(
            [frame], REPORT_SCHEMA, tmp / "reports.parquet", compression=opts.compression
        )
        body = ReportsBody(
            rows=frame.height, bytes=written.bytes, sha256=written.sha256,
            generator_version=GENERATOR_VERSION, settings=settings,
            settings_digest=settings_digest(settings),
        )  # fmt: skip

        def manifest_for(version: int) -> str:
            core = table_fields(
                dataset=REPORTS_DATASET, date=spec.day.isoformat(),
                root=dest.uri(layout.prefix).rstrip("/"), uri=dest.uri(layout.partition),
                keys=[layout.part_key(0, 1, run_id)], manifest_key=layout.manifest_key,
                table_version=version, timestamp_field="reported_on",
                schema=arrow_type_names(REPORT_SCHEMA),
            )  # fmt: skip
            return json.dumps(with_core(core, body)) + "\n"

        metadata = {"rows": str(frame.height), "sha256": written.sha256}
        publish_file(publication, written.path, frame.height, metadata, run_id, manifest_for)
    log.info(
        "published %s: %s fraud reports made on %s",
        dest.uri(layout.partition), f"{frame.height:,}", spec.day,
    )  # fmt: skip


def payments_manifest(
    opts: RunOptions,
    dest: Destination,
    layout: DayLayout,
    parts: list[PartInfo],
    *,
    complete: bool,
    version: int | None = None,
    labels: Destination | None = None,
) -> Manifest:
    """The payments' manifest of the day (or, not complete, of one staged slice)."""
    spec = opts.spec
    settings = opts.row_settings()
    core = table_fields(
        dataset=DATASET, date=spec.day.isoformat(), root=dest.uri(layout.prefix).rstrip("/"),
        uri=dest.uri(layout.partition), keys=[p.key for p in parts],
        manifest_key=layout.manifest_key if complete else None, table_version=version,
        timestamp_field=TIMESTAMP_FIELD, schema=arrow_type_names(SCHEMA),
    )  # fmt: skip
    return Manifest.from_parts(
        parts,
        core,
        seed=spec.seed,
        target_fraud_rate=spec.fraud_rate,
        generator_version=GENERATOR_VERSION,
        shards=opts.shard.count,
        complete=complete,
        shard=None if complete else str(opts.shard),
        customers=spec.population.customers,
        merchants=spec.population.merchants,
        compression=opts.compression,
        settings=settings,
        settings_digest=settings_digest(settings),
        labels_root=labels.uri(labels.prefix).rstrip("/") if labels else None,
    )
