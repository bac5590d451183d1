"""One configuration mechanism: every variable goes through ``ocx.core.config.env``, is in the
README's tables (and only those are), honours its aliases and refuses malformed values."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ocx.core import config
from ocx.core.config import as_bool, as_list, env

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ocx", "registry", "workflow", "activity_feed", "runs")
NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def readme_variables() -> dict[str, dict[str, str | list[str]]]:
    """Rows of every README table whose first column is ``variable``: name -> default cell, aliases."""
    rows: dict[str, dict] = {}
    lines = (ROOT / "README.md").read_text().splitlines()
    for i, line in enumerate(lines):
        header = [c.strip().lower() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or header[0] != "variable":
            continue
        columns = {name: index for index, name in enumerate(header)}
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            for name in NAME.findall(cells[columns["variable"]]):
                assert name not in rows, f"{name} is listed twice in the README's tables"
                rows[name] = {
                    "default": cells[columns["default"]],
                    "aliases": NAME.findall(cells[columns["aliases"]]) if "aliases" in columns else [],
                }
    return rows


@pytest.fixture
def declared():
    """What ocx/settings.py declared (it ran when pytest-django configured the settings)."""
    assert settings.INSTALLED_APPS  # settings are loaded
    return dict(config.DECLARED)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Declarations made by a test go to a throw-away registry, not the settings' one."""
    monkeypatch.setattr(config, "DECLARED", {})


def clean_env(**overrides) -> dict[str, str]:
    """This environment without any OCX variable or alias, plus ``overrides``."""
    names = {n for v in config.DECLARED.values() for n in (v.name, *v.aliases)}
    base = {k: v for k, v in os.environ.items() if k not in names and k != "DJANGO_SETTINGS_MODULE"}
    return base | {"DJANGO_SETTINGS_MODULE": "ocx.settings"} | overrides


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


# --- (a) code and README agree -----------------------------------------------------------------
def test_every_declared_variable_is_in_a_readme_table_and_every_table_variable_is_declared(declared):
    documented = readme_variables()
    assert sorted(set(declared) - set(documented)) == [], "declared in ocx/settings.py, missing in README"
    assert sorted(set(documented) - set(declared)) == [], "in the README's tables, not declared in the code"


def test_readme_lists_exactly_the_aliases_the_code_accepts(declared):
    documented = readme_variables()
    for name, variable in declared.items():
        assert documented[name]["aliases"] == list(variable.aliases), name


def test_readme_defaults_match_the_defaults_written_in_settings(declared):
    for name, row in readme_variables().items():
        variable = declared[name]
        literal = re.fullmatch(r"`([^`]*)`", row["default"])
        if literal:
            assert variable.cast(literal.group(1)) == variable.default, name
        elif row["default"].startswith("—"):
            assert not variable.default, f"{name}: README says no default, settings has {variable.default!r}"


def test_seed_003_names_are_accepted_as_aliases(declared):
    aliases = {alias: v.name for v in declared.values() for alias in v.aliases}
    assert aliases["WORKFLOW_ENABLED"] == "OCX_WORKFLOW_ENABLED"
    assert aliases["WORKFLOW_WORKER_INTERVAL"] == "OCX_OUTBOX_SWEEP_INTERVAL"
    assert aliases["SLA_MONITOR_INTERVAL"] == "OCX_SLA_MONITOR_INTERVAL"
    assert aliases["METRICS_ENABLED"] == "OCX_METRICS_ENABLED"


def test_only_the_helper_reads_the_environment_and_no_setting_default_is_repeated():
    reads = re.compile(r"os\.environ\.get|os\.environ\[|os\.getenv|environ\.get\(")
    repeated_default = re.compile(r"getattr\(\s*settings\s*,\s*['\"][A-Z0-9_]+['\"]\s*,")
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path == ROOT / "ocx/core/config.py":
                continue
            text = path.read_text()
            if reads.search(text) or repeated_default.search(text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- (b) aliases ---------------------------------------------------------------------------------
def test_alias_is_honoured_when_the_ocx_name_is_unset(monkeypatch, scratch_registry):
    monkeypatch.delenv("OCX_TEST_INTERVAL", raising=False)
    monkeypatch.setenv("TEST_INTERVAL", "7")
    assert env("OCX_TEST_INTERVAL", 60, int, aliases=["TEST_INTERVAL"]) == 7


def test_ocx_name_wins_over_its_alias(monkeypatch, scratch_registry):
    monkeypatch.setenv("OCX_TEST_INTERVAL", "3")
    monkeypatch.setenv("TEST_INTERVAL", "7")
    assert env("OCX_TEST_INTERVAL", 60, int, aliases=["TEST_INTERVAL"]) == 3


def test_unset_or_blank_variable_gives_the_default(monkeypatch, scratch_registry):
    monkeypatch.delenv("OCX_TEST_INTERVAL", raising=False)
    monkeypatch.setenv("TEST_INTERVAL", "  ")
    assert env("OCX_TEST_INTERVAL", 60, int, aliases=["TEST_INTERVAL"]) == 60


def test_helper_records_each_declaration_with_default_and_aliases(scratch_registry):
    env("OCX_TEST_FLAG", True, as_bool, aliases=["TEST_FLAG"])
    variable = config.DECLARED["OCX_TEST_FLAG"]
    assert (variable.default, variable.aliases, variable.cast) == (True, ("TEST_FLAG",), as_bool)


def test_declaring_a_variable_again_with_another_default_is_refused(scratch_registry):
    env("OCX_TEST_FLAG", True, as_bool)
    assert env("OCX_TEST_FLAG", True, as_bool) is True
    with pytest.raises(ImproperlyConfigured, match="OCX_TEST_FLAG"):
        env("OCX_TEST_FLAG", False, as_bool)


def test_lists_are_comma_separated_and_booleans_take_the_usual_words(monkeypatch, scratch_registry):
    monkeypatch.setenv("OCX_TEST_HOSTS", " a.example , b.example,, ")
    monkeypatch.setenv("OCX_TEST_FLAG", "Off")
    assert env("OCX_TEST_HOSTS", [], as_list) == ["a.example", "b.example"]
    assert env("OCX_TEST_FLAG", True, as_bool) is False


def test_seed_names_configure_a_real_process_and_ocx_names_win(tmp_path):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "from django.test import Client;"
        "print(json.dumps({'enabled': s.WORKFLOW_ENABLED, 'sla': s.SLA_MONITOR_INTERVAL,"
        " 'sweep': s.OUTBOX_SWEEP_INTERVAL, 'metrics': s.METRICS_ENABLED,"
        " 'metrics_status': Client().get('/metrics').status_code}))"
    )
    result = run_python(
        code,
        clean_env(
            WORKFLOW_ENABLED="true",
            OCX_WORKFLOW_ENABLED="false",
            SLA_MONITOR_INTERVAL="7",
            WORKFLOW_WORKER_INTERVAL="3",
            METRICS_ENABLED="false",
            OCX_VAR_DIR=str(tmp_path),
        ),
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"enabled": False, "sla": 7, "sweep": 3, "metrics": False, "metrics_status": 404}


# --- (c) malformed values ----------------------------------------------------------------------
def test_malformed_integer_raises_improperly_configured_naming_the_variable(monkeypatch, scratch_registry):
    monkeypatch.setenv("OCX_OUTBOX_BATCH_SIZE", "abc")
    with pytest.raises(ImproperlyConfigured, match=r"OCX_OUTBOX_BATCH_SIZE='abc' is not a valid integer"):
        env("OCX_OUTBOX_BATCH_SIZE", 100, int)


def test_malformed_alias_value_names_the_alias_and_its_ocx_name(monkeypatch, scratch_registry):
    monkeypatch.delenv("OCX_SLA_MONITOR_INTERVAL", raising=False)
    monkeypatch.setenv("SLA_MONITOR_INTERVAL", "1m")
    with pytest.raises(ImproperlyConfigured, match=r"SLA_MONITOR_INTERVAL \(alias of OCX_SLA_MONITOR_INTERVAL\)"):
        env("OCX_SLA_MONITOR_INTERVAL", 60, int, aliases=["SLA_MONITOR_INTERVAL"])


def test_unknown_boolean_word_is_refused_rather_than_read_as_false(monkeypatch, scratch_registry):
    monkeypatch.setenv("OCX_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="OCX_DEBUG='maybe' is not a valid boolean"):
        env("OCX_DEBUG", False, as_bool)


def test_malformed_setting_stops_django_start_up_naming_the_variable(tmp_path):
    result = run_python(
        "import django; django.setup()", clean_env(OCX_OUTBOX_BATCH_SIZE="abc", OCX_VAR_DIR=str(tmp_path))
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: OCX_OUTBOX_BATCH_SIZE='abc' is not a valid integer" in result.stderr
