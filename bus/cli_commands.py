"""Commands of the bus itself: the embedded server, stream provisioning, the rule table."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from bus import server as embedded
from bus.connect import open_bus
from bus.i18n import N_, _, current_language
from bus.runner import run
from bus.settings import Settings
from bus.streams import Change, apply, plan
from contracts.rules import Family, Layer, Rule

console = Console()

FAMILY_LABELS: dict[Family, str] = {
    "case": N_("cases"),
    "item": N_("item catalogue"),
    "review": N_("reviews"),
    "hall": N_("hall bookings and tickets"),
    "share": N_("data sharing"),
    "any": N_("every family"),
}
"""Screen names of the record families a rule applies to."""

LAYER_LABELS: dict[Layer, str] = {
    "decode": N_("decoding"),
    "structural": N_("structure"),
    "reference": N_("reference data"),
    "sequence": N_("event order"),
}
"""Screen names of the stages that apply a rule."""


def rule_kind(rule: Rule) -> str:
    """Return the family and stage of a rule, such as ``cases · reference data``."""
    return f"{_(FAMILY_LABELS[rule.family])} · {_(LAYER_LABELS[rule.layer])}"


@click.group(help=_("Run the embedded NATS server (loopback only, data in the data folder)."))
def server() -> None:
    pass


@server.command("start", help=_("Start the embedded server unless it is already running."))
@click.option(
    "--port",
    type=int,
    default=None,
    help=_("TCP port on 127.0.0.1 (default 4322, or a free one when taken)."),
)
@click.pass_obj
def server_start(settings: Settings, port: int | None) -> None:
    was_running = embedded.read_info(settings.data_dir)
    info = embedded.start(settings.data_dir, port=port)
    if was_running is not None:
        console.print(
            _("Embedded server already running: {url} (pid {pid}).").format(
                url=info.url, pid=info.pid
            )
        )
    else:
        console.print(
            _("Embedded server started: {url} (pid {pid}), store {store}.").format(
                url=info.url, pid=info.pid, store=info.store_dir
            )
        )


@server.command("stop", help=_("Stop the embedded server of the data folder."))
@click.pass_obj
def server_stop(settings: Settings) -> None:
    info = embedded.stop(settings.data_dir)
    if info is None:
        console.print(
            _("No embedded server is running in {folder}.").format(folder=settings.data_dir)
        )
    else:
        console.print(_("Embedded server stopped (pid {pid}).").format(pid=info.pid))


@server.command("status", help=_("Show whether the embedded server runs, and where."))
@click.pass_obj
def server_status(settings: Settings) -> int:
    info = embedded.read_info(settings.data_dir)
    if info is None:
        console.print(_("Not running (data folder {folder}).").format(folder=settings.data_dir))
        return 3
    console.print(
        _("Running: {url} (pid {pid}), store {store}.").format(
            url=info.url, pid=info.pid, store=info.store_dir
        )
    )
    return 0


@click.group(help=_("Declare and apply the streams and key-value buckets."))
def streams() -> None:
    pass


def _describe(change: Change) -> str:
    labels = {
        "create": _("create"),
        "update": _("update"),
        "unchanged": _("unchanged"),
        "conflict": _("conflict"),
    }
    details = "; ".join(
        f"{item.field}: {item.current!r} → {item.declared!r}" for item in change.differences
    )
    return f"{labels[change.action]}" + (f" ({details})" if details else "")


@streams.command("apply", help=_("Show the difference to the declaration, then apply it."))
@click.option("--dry-run", is_flag=True, help=_("Only show the difference."))
@click.option(
    "--replicas",
    type=int,
    default=1,
    show_default=True,
    help=_("Replicas per stream: 1 on one server, 3 on a cluster."),
)
@click.pass_obj
def streams_apply(settings: Settings, dry_run: bool, replicas: int) -> None:
    async def main() -> list[Change]:
        async with open_bus(settings) as (_client, js):
            changes = await plan(js, replicas=replicas)
            if not dry_run:
                await apply(js, changes, replicas=replicas)
            return changes

    changes = run(main())
    table = Table(_("Stream"), _("Change"))
    for change in changes:
        table.add_row(change.stream, _describe(change))
    console.print(table)
    pending = [change for change in changes if change.action != "unchanged"]
    if dry_run:
        console.print(_("Dry run: {count} change(s) not applied.").format(count=len(pending)))
    else:
        console.print(_("Applied {count} change(s).").format(count=len(pending)))


@click.command(help=_("List every validation rule with its reason code and source."))
@click.option(
    "--family",
    type=click.Choice(list(FAMILY_LABELS)),
    default=None,
    help=_("Only rules of this family; any: the rules every family shares."),
)
@click.option("--markdown", is_flag=True, help=_("Print the Markdown page kept in docs/rules.md."))
def rules(family: str | None, markdown: bool) -> None:
    from bus.rules_doc import rules_markdown
    from contracts.rules import RULES

    if markdown:
        click.echo(rules_markdown(), nl=False)
        return

    english = current_language() == "en"
    shown = 0
    for rule in RULES.values():
        if family and rule.family != family:
            continue
        shown += 1
        console.print(f"[bold]{rule.code}[/bold]  [dim]{rule_kind(rule)}[/dim]")
        message = rule.message_en if english else rule.message_zh
        fix = rule.fix_en if english else rule.fix_zh
        source = rule.source if english else rule.source_zh
        console.print("  " + _("Message: {text}").format(text=message), markup=False)
        console.print("  " + _("Fix: {text}").format(text=fix), markup=False)
        console.print("  " + _("Source: {text}").format(text=source), markup=False)
    console.print(_("{count} rules.").format(count=shown))
