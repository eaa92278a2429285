"""QosConfig: precedence, validation messages, derived locations, the secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qos_ml import ConfigError, QosConfig


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("QOS_ML_") or key == "DATABRICKS_RUNTIME_VERSION":
            monkeypatch.delenv(key)
    return monkeypatch


def test_defaults_are_the_embedded_lakehouse(clean_env, tmp_path: Path) -> None:
    clean_env.chdir(tmp_path)
    config = QosConfig.load()
    assert config.lakehouse_root == tmp_path / "lakehouse"
    assert config.storage_mode == "path"
    assert config.tracking_uri == f"sqlite:///{tmp_path / 'lakehouse' / 'mlflow.db'}"
    assert config.registry_uri == config.tracking_uri
    assert config.checkpoints == tmp_path / "lakehouse" / "_checkpoints"
    assert config.artifact_root == tmp_path / "lakehouse" / "mlartifacts"


def test_precedence_keyword_over_env_over_file(clean_env, tmp_path: Path) -> None:
    toml = tmp_path / "qos_ml.toml"
    toml.write_text(
        'lakehouse_root = "/from/file"\nexperiment_name = "file"\n'
        'shuffle_partitions = 3\n[spark_conf]\n"spark.x" = "1"\n'
    )
    clean_env.setenv("QOS_ML_EXPERIMENT_NAME", "env")
    clean_env.setenv("QOS_ML_LAKEHOUSE_ROOT", "/from/env")
    config = QosConfig.load(toml, lakehouse_root="/from/kw")
    assert config.lakehouse_root == Path("/from/kw")
    assert config.experiment_name == "env"
    assert config.shuffle_partitions == 3
    assert config.spark_conf == {"spark.x": "1"}


def test_file_may_hold_a_qos_ml_table(clean_env, tmp_path: Path) -> None:
    toml = tmp_path / "project.toml"
    toml.write_text('[qos_ml]\ncatalog = "main"\ndatabase = "qos"\n')
    config = QosConfig.load(toml)
    assert config.storage_mode == "metastore"


def test_env_pairs_are_parsed(clean_env) -> None:
    clean_env.setenv("QOS_ML_SPARK_CONF", "spark.a=1, spark.b = two")
    clean_env.setenv("QOS_ML_TABLE_NAMES", "silver.cdn_requests=cdn")
    config = QosConfig.load(use_file=False)
    assert config.spark_conf == {"spark.a": "1", "spark.b": "two"}
    assert config.table_names == {"silver.cdn_requests": "cdn"}


def test_bad_env_pairs_name_the_variable(clean_env) -> None:
    clean_env.setenv("QOS_ML_SPARK_CONF", "spark.a")
    with pytest.raises(
        ConfigError, match=r"'spark_conf'.*QOS_ML_SPARK_CONF.*'spark.a'"
    ):
        QosConfig.load(use_file=False)


def test_error_names_key_value_allowed_and_source(clean_env, tmp_path: Path) -> None:
    toml = tmp_path / "qos_ml.toml"
    toml.write_text("shuffle_partitions = 0\n")
    with pytest.raises(
        ConfigError, match=r"'shuffle_partitions'.*qos_ml.toml.*0.*at least 1"
    ):
        QosConfig.load(toml)
    with pytest.raises(ConfigError, match=r"'spark_master'.*keyword argument.*'mars'"):
        QosConfig.load(use_file=False, spark_master="mars")
    clean_env.setenv("QOS_ML_MODE", "staging")
    with pytest.raises(ConfigError, match=r"'mode'.*QOS_ML_MODE.*'staging'"):
        QosConfig.load(use_file=False)


def test_unknown_key_lists_the_known_ones(clean_env) -> None:
    with pytest.raises(ConfigError, match=r"'lakehouse'.*one of .*lakehouse_root"):
        QosConfig.load(use_file=False, lakehouse="/x")


def test_config_error_is_also_a_value_error(clean_env) -> None:
    with pytest.raises(ValueError, match="catalog"):
        QosConfig.load(use_file=False, catalog="main")


def test_missing_explicit_file_and_bad_toml(clean_env, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="existing TOML file"):
        QosConfig.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("lakehouse_root = \n")
    with pytest.raises(ConfigError, match="valid TOML"):
        QosConfig.load(bad)


def test_production_needs_a_secret(clean_env) -> None:
    with pytest.raises(ConfigError, match=r"'secret'.*production mode"):
        QosConfig.load(use_file=False, mode="production")
    config = QosConfig.load(use_file=False, mode="production", secret="s" * 32)
    assert config.pseudonymisation_key() == b"s" * 32


def test_secret_is_never_shown(clean_env) -> None:
    secret = "super-secret-value-123456"
    config = QosConfig.load(use_file=False, secret=secret)
    assert secret not in repr(config)
    assert secret not in str(config.describe())
    with pytest.raises(ConfigError, match=r"\*\*\*") as info:
        QosConfig.load(use_file=False, secret="short")
    assert "short" not in str(info.value)


def test_development_key_is_generated_once(clean_env, tmp_path: Path) -> None:
    config = QosConfig.load(use_file=False, lakehouse_root=tmp_path)
    key = config.pseudonymisation_key()
    assert len(key) == 64
    assert config.pseudonymisation_key() == key
    assert (tmp_path / ".pseudonymisation_key").stat().st_mode & 0o077 == 0


def test_databricks_defaults(clean_env) -> None:
    clean_env.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    config = QosConfig.load(use_file=False, catalog="main", database="qos")
    assert config.tracking_uri == "databricks"
    assert config.registry_uri == "databricks-uc"
    assert config.model_name("buffering") == "main.qos.qos_ml_buffering"


def test_secret_scope_outside_databricks_is_a_clear_error(clean_env) -> None:
    config = QosConfig.load(use_file=False, secret_scope="qos", secret_key="hmac")
    with pytest.raises(ConfigError, match=r"'secret_scope'.*'qos'.*QOS_ML_SECRET"):
        config.pseudonymisation_key()


def test_replace_validates(clean_env) -> None:
    config = QosConfig.load(use_file=False, secret="x" * 20)
    assert config.replace(shuffle_partitions=8).shuffle_partitions == 8
    assert config.replace(shuffle_partitions=8).secret is not None
    with pytest.raises(ConfigError, match="shuffle_partitions"):
        config.replace(shuffle_partitions=-1)
