"""The ``zwbus demo`` command: the whole pipeline on generated department exports."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.summary import print_reasons, reconciliation_line
from bench.demo.family_summary import print_family_summary
from bench.demo.run import SOURCES, DemoResult, run_demo
from bus.i18n import N_, _, current_language
from bus.runner import run
from bus.screen import StackedWhenNarrow
from bus.server import read_info
from bus.settings import Settings

console = Console()
err_console = Console(stderr=True)

STEP_TITLES = {
    "streams": N_("Starting the embedded server and applying streams"),
    "catalogue": N_("Importing the item catalogue of 广安区 (511602)"),
    "generate": N_("Generating the departments' exports"),
    "project": N_("Building the case, review, hall and sharing read models"),
    "report": N_("Gathering the summary"),
}
STATUS_NAMES = {
    "submitted": N_("submitted"),
    "accepted": N_("accepted"),
    "not_accepted": N_("not accepted"),
    "supplement_requested": N_("supplement requested"),
    "supplemented": N_("supplemented"),
    "step_completed": N_("in progress"),
    "suspended": N_("suspended"),
    "resumed": N_("resumed"),
    "concluded": N_("concluded"),
    "result_delivered": N_("result delivered"),
    "withdrawn": N_("withdrawn"),
}


STEP_COUNT = len(SOURCES) + 5
"""Streams, catalogue, generation, one ingest per source, projections, report."""


def _step_title(name: str) -> str:
    if name.startswith("ingest:"):
        return _("Ingesting source {source}").format(source=name.split(":", 1)[1])
    return _(STEP_TITLES[name])


def _print_summary(result: DemoResult, settings: Settings) -> None:
    english = current_language() == "en"
    console.rule(_("zwbus demo summary"))

    sources = Table(
        _("Source"),
        _("Read"),
        _("Published"),
        _("Duplicates"),
        _("Quarantined"),
        _("Parked"),
        _("Adds up"),
        title=_("Ingest by source"),
    )
    for name in SOURCES:
        tally = result.per_source[name]
        sources.add_row(
            name,
            str(tally.read),
            str(tally.published),
            str(tally.duplicates),
            str(tally.quarantined),
            str(tally.parked),
            "✓" if tally.reconciles else "✗",
        )
    totals = result.totals
    sources.add_row(
        _("Total"),
        str(totals.read),
        str(totals.published),
        str(totals.duplicates),
        str(totals.quarantined),
        str(totals.parked),
        "✓" if totals.reconciles else "✗",
        style="bold",
    )
    console.print(sources)

    print_reasons(console, totals, english=english)
    if totals.resolved:
        console.print(
            _("Quarantine entries resolved by corrected re-sends: {count}").format(
                count=totals.resolved
            )
        )
    console.print(
        reconciliation_line(totals), style="bold green" if totals.reconciles else "bold red"
    )
    if totals.read:
        console.print(
            _("Ingest rate: {rate:,.0f} records/s ({records} records in {seconds:.1f} s)").format(
                rate=result.ingest_rate, records=totals.read, seconds=result.ingest_seconds
            )
        )
    if totals.skipped_files:
        console.print(
            _(
                "{count} export files were ingested completely before and were skipped, so "
                "nothing new was published. To start afresh, stop the server and remove the "
                "data folder {folder}:"
            ).format(count=len(totals.skipped_files), folder=settings.data_dir),
            soft_wrap=True,
        )
        console.print(
            f"  zwbus server stop && rm -r {settings.data_dir}",
            style="bold cyan",
            markup=False,
            soft_wrap=True,
        )

    statuses = Table(_("Status"), _("Cases"), title=_("Case database (办件库) by status"))
    for status, count in sorted(result.cases_by_status.items(), key=lambda item: -item[1]):
        statuses.add_row(_(STATUS_NAMES.get(status, status)), str(count))
    statuses.add_row(_("Total"), str(result.cases_total), style="bold")
    console.print(statuses)
    console.print(
        _("Overdue cases (past their promised working days) as of {day}: {count}").format(
            day=result.today.isoformat(), count=result.overdue
        )
    )

    print_family_summary(console, result)

    catalogue = result.catalogue
    console.print(
        _(
            "Item catalogue: read {read}, published {published}, duplicates {duplicates}, "
            "quarantined {quarantined}."
        ).format(
            read=catalogue.read,
            published=catalogue.published,
            duplicates=catalogue.duplicates,
            quarantined=catalogue.quarantined,
        )
    )
    if totals.parked:
        console.print(
            _(
                "{count} records are parked: valid, but waiting for an earlier event of their "
                "case (most often a submission that was quarantined). They are published when "
                "it arrives, or quarantined as missing_predecessor after the wait."
            ).format(count=totals.parked),
            soft_wrap=True,
        )

    console.print(_("Try next:"))
    suggestions = [
        f"zwbus cases show {result.sample_code}" if result.sample_code else None,
        "zwbus cases list --overdue",
        "zwbus reviews totals --by channel",
        (
            f"zwbus hall day {result.hall.hall} {result.hall.day.isoformat()}"
            if result.hall is not None
            else None
        ),
        "zwbus sharing backlog",
        "zwbus quarantine list",
        "zwbus parked list",
        "zwbus projections status",
        "zwbus server stop",
    ]
    for command in suggestions:
        if command:
            console.print(f"  {command}", style="bold cyan", markup=False, soft_wrap=True)
    info = read_info(settings.data_dir)
    if info is not None:
        console.print(
            _("The embedded server keeps running at {url} until `zwbus server stop`.").format(
                url=info.url
            ),
            soft_wrap=True,
        )


@click.command(
    help=_(
        "Run the demo: generated department exports of cases, reviews, hall traffic and data "
        "sharing, through the bus to the read models, with a summary."
    )
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=_("Print the summary as one JSON document (totals, reasons, cases)."),
)
@click.option(
    "--seed",
    type=int,
    default=2026,
    show_default=True,
    help=_("Seed of the data generator; the same seed gives the same files."),
)
@click.option(
    "--cases", type=int, default=8000, show_default=True, help=_("Number of cases to generate.")
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help=_(
        "Date overdue cases and bad reviews are counted at, YYYY-MM-DD (default: today in "
        "China, the day zwbus cases list --overdue and zwbus reviews overdue count at)."
    ),
)
@click.pass_obj
def demo(
    settings: Settings, as_json: bool, seed: int, cases: int, today: datetime | None
) -> int:
    show_progress = not as_json and sys.stderr.isatty()
    reference_day = None if today is None else today.date()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show_progress,
    ) as progress:
        tasks: dict[str, TaskID] = {}
        current = {"step": 0}

        def on_step(name: str) -> None:
            current["step"] += 1
            if not as_json:
                err_console.print(f"[{current['step']}/{STEP_COUNT}] {_step_title(name)}")
            if name.startswith("ingest:"):
                source = name.split(":", 1)[1]
                tasks[source] = progress.add_task(source, total=None)
            elif tasks:
                for task in tasks.values():
                    progress.stop_task(task)

        def on_records(source: str, done: int, total: int) -> None:
            if source in tasks:
                progress.update(tasks[source], completed=done, total=total or None)

        result = run(
            run_demo(
                settings,
                seed=seed,
                cases=cases,
                today=reference_day,
                on_step=on_step,
                on_records=on_records,
            )
        )

    if as_json:
        click.echo(json.dumps(result.document(), ensure_ascii=False, indent=2))
    else:
        _print_summary(result, settings)
    return 0 if result.totals.reconciles else 2


@click.group(help=_("Benchmarks run against servers they start themselves."))
def bench() -> None:
    pass


@bench.command(
    "ingest",
    help=_(
        "Time the demo ingest against publishing the same events through our "
        "publisher and through nats-py, several runs, medians."
    ),
)
@click.option("--runs", type=int, default=3, show_default=True, help=_("Number of runs."))
@click.option(
    "--cases", type=int, default=8000, show_default=True, help=_("Number of cases to generate.")
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=_("Also write the results to this JSON file."),
)
def bench_ingest(runs: int, cases: int, out: Path | None) -> None:
    from bench.ingest_bench import run_ingest_benchmark

    results = run(run_ingest_benchmark(runs=runs, cases=cases))
    table = Table(
        _("Run"),
        _("Ingest\nrecords/s"),
        _("Publisher\nevents/s"),
        _("publish_async\nevents/s"),
        _("Ratio"),
        _("Ratio to\npublish_async"),
    )
    rows = [(str(index), item) for index, item in enumerate(results["runs"], start=1)]
    for label, item in [*rows, (_("Median"), results["median"])]:
        table.add_row(
            label,
            f"{item['ingest_records_per_s']:,}",
            f"{item['publisher_events_per_s']:,}",
            f"{item['publish_async_events_per_s']:,}",
            f"{item['ratio']:.2f}",
            f"{item['publish_async_ratio']:.2f}",
            style="bold" if item is results["median"] else None,
        )
    console.print(table)
    first = results["runs"][0]
    console.print(
        _("Each run reads {records:,} records and stores {events:,} events.").format(
            records=first["records"], events=first["events"]
        )
    )
    console.print(
        _("Both baselines publish those events: our publisher and nats-py's publish_async.")
    )
    console.print(
        _("Ratio: ingest records/s over our publisher's events/s; the target is {target}.").format(
            target=results["target"]
        )
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        console.print(_("Results written to {path}.").format(path=out))


@bench.command("index", help=_("Measure what the event-id index costs the windowed publisher."))
@click.option("--runs", type=int, default=3, show_default=True, help=_("Number of runs."))
@click.option(
    "--events", type=int, default=50_000, show_default=True, help=_("Events per run and side.")
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=_("Also write the results to this JSON file."),
)
def bench_index(runs: int, events: int, out: Path | None) -> None:
    from bench.index_bench import run_index_benchmark

    results = run(run_index_benchmark(runs=runs, events=events))
    table = Table(_("Run"), _("Without index, events/s"), _("With index, events/s"))
    for index, (plain, indexed) in enumerate(
        zip(results["plain_events_per_s"], results["indexed_events_per_s"], strict=True),
        start=1,
    ):
        table.add_row(str(index), str(plain), str(indexed))
    median = results["median"]
    table.add_row(
        _("Median"),
        str(median["plain_events_per_s"]),
        str(median["indexed_events_per_s"]),
        style="bold",
    )
    console.print(table)
    console.print(
        _("With the index, publishing runs at {ratio:.2f} of the rate without it.").format(
            ratio=median["ratio"]
        )
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _ratio_cell(item: dict[str, Any]) -> str:
    ratio = item["ratio"]
    return f"{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f})"


def _target_cells(item: dict[str, Any]) -> tuple[str, str]:
    if item["target"] is None:
        return _("none"), _("reported only")
    target = f"≥ {item['target']:.2f}"
    return target, _("met") if item["met"] else _("not met")


def _memory_cell(item: dict[str, Any]) -> str:
    memory = item["memory"]
    flat = _("flat") if memory["flat"] else _("growing")
    return _("{peak:.0f} MiB (+{growth:.0f}, {flat})").format(
        peak=memory["peak_rss_mib"], growth=memory["rss_growth_mib"], flat=flat
    )


def _print_run_table(document: dict[str, Any]) -> None:
    table = Table(
        _("Scenario"),
        _("Ours, events/s"),
        _("Baseline, events/s"),
        _("Ratio, median (min–max)"),
        _("Target"),
        _("Met"),
        _("Peak memory"),
        title=_("Runs: {runs}, {mode} mode").format(
            runs=document["runs"], mode=_("quick") if document["mode"] == "quick" else _("full")
        ),
    )
    for item in document["scenarios"]:
        target, met = _target_cells(item)
        table.add_row(
            item["name"],
            f"{item['ours_events_per_s']['median']:,.0f}",
            f"{item['baseline_events_per_s']['median']:,.0f}",
            _ratio_cell(item),
            target,
            met,
            _memory_cell(item),
            style=None if item["met"] is not False else "red",
        )
    console.print(StackedWhenNarrow(table))


@bench.command(
    "run",
    help=_(
        "Run the named benchmark scenarios (default: all), each several times "
        "against fresh servers, and report the ratio of ours to its baseline."
    ),
)
@click.argument("scenario_names", metavar="[SCENARIO]...", nargs=-1)
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help=_("Number of runs."))
@click.option(
    "--quick",
    is_flag=True,
    help=_("Use each scenario's smaller event count, for a shorter run."),
)
@click.option(
    "--events",
    type=click.IntRange(min=1),
    default=None,
    help=_("Events per run for every chosen scenario, in place of its full or quick size."),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=_(
        "JSON file to write the results to; the chart goes beside it as .png. "
        "Default: bench/latest.json in the data folder."
    ),
)
@click.pass_obj
def bench_run(
    settings: Settings,
    scenario_names: tuple[str, ...],
    runs: int,
    quick: bool,
    events: int | None,
    out: Path | None,
) -> None:
    from bench.chart import write_chart
    from bench.harness import Scenario, run_benchmark, write_results
    from bench.scenarios import SCENARIOS

    unknown = [name for name in scenario_names if name not in SCENARIOS]
    if unknown:
        raise click.BadParameter(
            _("unknown scenario {names}; known scenarios: {known}.").format(
                names=", ".join(unknown), known=", ".join(SCENARIOS)
            ),
            param_hint="SCENARIO",
        )
    chosen = [SCENARIOS[name] for name in scenario_names or SCENARIOS]

    def on_scenario(scenario: Scenario, events: int) -> None:
        err_console.print(
            _("Running {name}: {events:,} events, runs: {runs}").format(
                name=scenario.name, events=events, runs=runs
            )
        )

    sizes = None if events is None else {scenario.name: events for scenario in chosen}
    document = run(
        run_benchmark(chosen, runs=runs, quick=quick, events=sizes, on_scenario=on_scenario)
    )
    _print_run_table(document)

    # The recorded figures under bench/results are written only when named,
    # so a trial run leaves the checkout as it was.
    if out is None:
        out = settings.data_dir / "bench" / "latest.json"
    write_results(document, out)
    chart = out.with_suffix(".png")
    write_chart(document, chart)
    console.print(_("Results written to {path}.").format(path=out))
    console.print(_("Chart written to {path}.").format(path=chart))
