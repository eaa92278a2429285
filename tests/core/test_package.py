"""Package surface: exported names, error hierarchy, logging, CLI help."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import pytest
from click.testing import CliRunner

import qos_ml
from qos_ml import (
    ConfigError,
    QosMlError,
    SchemaMismatchError,
    SparkSetupError,
    TableNotFoundError,
)
from qos_ml.cli import main


def _public_packages() -> list[str]:
    names = ["qos_ml"]
    for info in pkgutil.walk_packages(qos_ml.__path__, "qos_ml."):
        leaf = info.name.rsplit(".", 1)[-1]
        if info.ispkg and not leaf.startswith("_") and leaf != "cli":
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _public_packages())
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__  # its order is ruff's (RUF022), checked by ruff
    assert len(set(exported)) == len(exported)
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names {missing} which it does not define"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not isinstance(v, type(qos_ml))
        and getattr(v, "__module__", name).startswith("qos_ml")
    }
    assert public <= set(exported), f"{name} exports {public - set(exported)} silently"


def test_errors_inherit_their_builtin() -> None:
    assert issubclass(ConfigError, ValueError)
    assert issubclass(SparkSetupError, RuntimeError)
    assert issubclass(TableNotFoundError, KeyError)
    assert issubclass(SchemaMismatchError, ValueError)
    for error in (ConfigError, SparkSetupError, TableNotFoundError):
        assert issubclass(error, QosMlError)


def test_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("qos_ml").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_every_command_has_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for name, command in main.commands.items():
        sub = runner.invoke(main, [name, "--help"])
        assert sub.exit_code == 0, sub.output
        assert command.help, f"qos-ml {name} has no help text"


def test_cli_reports_configuration_errors(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qos_ml.toml").write_text("shuffle_partitions = 0\n")
    result = CliRunner().invoke(main, ["doctor", "--no-spark"])
    assert result.exit_code == 2
    assert "shuffle_partitions" in result.output
    assert "at least 1" in result.output


def test_doctor_without_spark_passes(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QOS_ML_SECRET", "x" * 20)
    result = CliRunner().invoke(
        main, ["--lakehouse", str(tmp_path), "doctor", "--no-spark"]
    )
    assert result.exit_code == 0, result.output
    assert "Everything qos_ml needs is in place" in result.output
