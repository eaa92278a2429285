"""The ``qos-ml`` command line.

Each layer contributes its commands from a module of this package; the list of
command modules is explicit (:data:`COMMAND_MODULES`) so that ``qos-ml --help``
shows exactly what is installed. Commands are thin: they call the same library
functions a notebook or a Databricks job calls.
"""

from __future__ import annotations

import importlib
import logging

import click

from qos_ml._config import QosConfig

__all__ = ["COMMAND_MODULES", "main"]

#: Modules that each define a click command or group named ``command``.
COMMAND_MODULES = (
    "qos_ml.cli._doctor",
    "qos_ml.cli._tables",
    "qos_ml.cli._demo",
    "qos_ml.cli._ingest",
    "qos_ml.cli._gold",
    "qos_ml.cli._simulate",
    "qos_ml.cli._replay",
    "qos_ml.cli._train",
    "qos_ml.cli._features",
    "qos_ml.cli._serve",
    "qos_ml.cli._dashboard",
    "qos_ml.cli._privacy",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML configuration file (default: $QOS_ML_CONFIG or ./qos_ml.toml).",
)
@click.option(
    "--lakehouse",
    type=click.Path(file_okay=False),
    default=None,
    help="Lakehouse root folder (overrides the configuration).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug).")
@click.version_option(package_name="qos-ml")
@click.pass_context
def main(
    ctx: click.Context, config_path: str | None, lakehouse: str | None, verbose: int
) -> None:
    """Find and predict video streaming problems (qos_ml)."""
    level = logging.WARNING if verbose == 0 else logging.INFO
    if verbose > 1:
        level = logging.DEBUG
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("qos_ml").setLevel(min(level, logging.INFO))
    ctx.ensure_object(dict)
    ctx.obj["config_loader"] = lambda **kw: QosConfig.load(
        config_path, lakehouse_root=lakehouse, **kw
    )


def load_config(ctx: click.Context, **overrides: object) -> QosConfig:
    """Return the configuration selected by the global options of ``qos-ml``."""
    from qos_ml._errors import ConfigError

    try:
        return ctx.obj["config_loader"](**overrides)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


for _name in COMMAND_MODULES:
    main.add_command(importlib.import_module(_name).command)
