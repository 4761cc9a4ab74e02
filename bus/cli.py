"""The ``zwbus`` command root.

The root sets the screen language before any command module is imported,
so help text and messages come out translated, then adds the command groups
that other packages register under the ``zwbus.commands`` entry-point group.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import click
import structlog

from bus.errors import BusError
from bus.i18n import _, set_language
from bus.log import configure_logging
from bus.runner import Interrupted
from bus.settings import detect_language, load_settings


def _split_language(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--lang X`` from anywhere on the command line, so ``zwbus demo --lang en`` works."""
    language = None
    remaining: list[str] = []
    index = 0
    while index < len(argv):
        argument = argv[index]
        if argument == "--":
            remaining.extend(argv[index:])
            break
        if argument == "--lang" and index + 1 < len(argv):
            language = argv[index + 1]
            index += 2
            continue
        if argument.startswith("--lang="):
            language = argument.split("=", 1)[1]
        else:
            remaining.append(argument)
        index += 1
    return language, remaining


def build_root() -> click.Group:
    """Build the root group with every registered command group attached."""

    @click.group(
        help=_("zwbus: the event bus of an integrated government service platform."),
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.option(
        "--lang",
        type=click.Choice(["zh_CN", "zh", "en"]),
        default=None,
        help=_("Screen language: zh_CN (default) or en."),
    )
    @click.option(
        "--nats-url",
        envvar="ZWBUS_NATS_URL",
        default=None,
        help=_("NATS server URL; without it the embedded server is used."),
    )
    @click.option(
        "--data-dir",
        envvar="ZWBUS_DATA_DIR",
        type=click.Path(path_type=Path),
        default=None,
        help=_("Data folder of the embedded server and local stores (default ./.zwbus)."),
    )
    @click.option(
        "--config",
        "config_file",
        envvar="ZWBUS_CONFIG",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help=_("Configuration file (TOML); default ./zwbus.toml when it exists."),
    )
    @click.option(
        "-v",
        "--verbose",
        count=True,
        help=_("Show progress logs (-v) or debug logs (-vv) on standard error."),
    )
    @click.option("--log-json", is_flag=True, default=False, help=_("Write logs as JSON lines."))
    @click.version_option(package_name="zwbus")
    @click.pass_context
    def root(
        ctx: click.Context,
        lang: str | None,
        nats_url: str | None,
        data_dir: Path | None,
        config_file: Path | None,
        verbose: int,
        log_json: bool,
    ) -> None:
        level = {0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG")
        configure_logging(level=level, json=True if log_json else None)
        ctx.obj = load_settings(
            nats_url=nats_url, data_dir=data_dir, lang=lang, config_file=config_file
        )

    from bus.cli_commands import rules, server, streams
    from bus.run_cli import run_all

    root.add_command(run_all)
    root.add_command(server)
    root.add_command(streams)
    root.add_command(rules)
    for entry in sorted(entry_points(group="zwbus.commands"), key=lambda item: item.name):
        try:
            command = entry.load()
        except (ImportError, AttributeError) as exc:
            structlog.get_logger(__name__).error(
                "command_group_unavailable", group=entry.name, target=entry.value, error=str(exc)
            )
            continue
        root.add_command(command, entry.name)
    return root


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``zwbus`` command."""
    language, arguments = _split_language(list(sys.argv[1:] if argv is None else argv))
    try:
        chosen = detect_language(language)
    except ValueError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(2)
    set_language(chosen)
    if language is not None:
        arguments = ["--lang", chosen, *arguments]
    configure_logging()
    try:
        root = build_root()
    except KeyboardInterrupt:
        click.echo(_("Aborted."), err=True)
        sys.exit(130)
    try:
        result = root.main(args=arguments, prog_name="zwbus", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("Aborted."), err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Interrupted:
        click.echo(_("Interrupted; work acknowledged so far is kept."), err=True)
        sys.exit(130)
    except BusError as exc:
        click.secho(_("Error: {message}").format(message=exc), fg="red", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    if isinstance(result, int):
        sys.exit(result)
