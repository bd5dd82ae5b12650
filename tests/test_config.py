"""Settings travel to flow runs as parameters without their secrets, and get them back where the run
executes: the identifier key must never land in Prefect's database, nor fall back to a known value."""

import json

from voc.config import Settings, run_parameters, settings_from_parameters


def test_the_identifier_key_never_travels_as_a_parameter(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no voc.toml here
    monkeypatch.setenv("VOC_IDENTIFIER_SALT", "s3cret-key")
    monkeypatch.setenv("VOC_BUSINESS_TIMEZONE", "Europe/Paris")
    params = run_parameters(Settings(sources=[{"path": "exports/*.jsonl"}]))
    assert "identifier_salt" not in params and "s3cret-key" not in json.dumps(params)
    monkeypatch.setenv("VOC_BUSINESS_TIMEZONE", "UTC")  # the parameters win over the environment...
    inside = settings_from_parameters(params)
    assert inside.business_timezone == "Europe/Paris" and inside.sources[0].path == "exports/*.jsonl"
    assert inside.identifier_salt.get_secret_value() == "s3cret-key"  # ...and the secret comes back from it
