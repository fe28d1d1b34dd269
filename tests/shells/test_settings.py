"""Settings that cannot take a value refuse it at start-up (issue 16): through the real CLI, a
bad `ASSISTANT_*` variable exits 2 with one `error:` line naming the variable, what it accepts
and what it got; before, `ASSISTANT_VECTOR_BACKEND=annoy` was accepted and silently ran FAISS."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import get_args

import pytest

from assistant.config import Settings
from tests.conftest import ROOT

CASES = [
    ("ASSISTANT_VECTOR_BACKEND", "annoy", "must be one of faiss, milvus (got 'annoy')"),
    # the older name of ASSISTANT_VECTOR_FAMILY still works, and a bad value names it
    ("ASSISTANT_INDEX_KIND", "bogus", "(now ASSISTANT_VECTOR_FAMILY) must be one of auto, flat, hnsw, hnsw_fp16"),
    ("ASSISTANT_SPEECH_BACKEND", "nope", "must be one of faster-whisper, openai-whisper (got 'nope')"),
    ("ASSISTANT_SPEECH_TASK", "sing", "must be one of auto, transcribe, translate (got 'sing')"),
    ("ASSISTANT_SPEECH_PROMPT", "all", "must be one of catalog, catalog-list, catalog-everyday, none (got 'all')"),
    ("ASSISTANT_VECTOR_FAMILY", "lsh", "must be one of auto, flat, hnsw, hnsw_fp16, hnsw_sq8, ivf_sq8, ivf_pq"),
    ("ASSISTANT_VECTOR_LARGE_FAMILY", "auto", "must be one of flat, hnsw, hnsw_fp16, hnsw_sq8, ivf_sq8, ivf_pq"),
    ("ASSISTANT_PORT", "0", "must be between 1 and 65535 (got '0')"),
    ("ASSISTANT_PORT", "http", "must be a whole number (got 'http')"),
    ("ASSISTANT_SPEECH_NICE", "40", "must be between 0 and 19 (got '40')"),
    ("ASSISTANT_MAX_K", "-5", "must be at least 1 (got '-5')"),
    ("ASSISTANT_VECTOR_EXACT_BELOW", "1.5", "must be between 0 and 1 (got '1.5')"),
    ("ASSISTANT_SPEECH_MAX_SECONDS", "0", "must be more than 0 (got '0')"),
    ("ASSISTANT_DEBUG", "maybe", "must be true or false (got 'maybe')"),
]


def run_cli(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(env_extra, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("var, value, says", CASES, ids=[f"{v}={x}" for v, x, _ in CASES])
def test_a_bad_setting_stops_the_cli_with_one_line(var, value, says):
    proc = run_cli({var: value}, "catalogs")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith(f"error: {var} {says}"), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not proc.stdout


def test_serve_refuses_a_bad_setting_before_starting():
    proc = run_cli({"ASSISTANT_VECTOR_BACKEND": "annoy"}, "serve", "--port", "1")
    assert proc.returncode == 2 and "Shopping assistant: http" not in proc.stdout
    assert proc.stderr.strip() == "error: ASSISTANT_VECTOR_BACKEND must be one of faiss, milvus (got 'annoy')"


def test_good_values_are_accepted():
    proc = run_cli({"ASSISTANT_VECTOR_BACKEND": "milvus", "ASSISTANT_INDEX_KIND": "hnsw",
                    "ASSISTANT_SPEECH_NICE": "19", "ASSISTANT_DEBUG": "false"}, "catalogs")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_older_index_kind_variable_sets_the_vector_family():
    from assistant.config import settings_from_env

    assert settings_from_env({"ASSISTANT_INDEX_KIND": "ivf"}).vector_family == "ivf_sq8"
    assert settings_from_env({"ASSISTANT_INDEX_KIND": "hnsw"}).vector_family == "hnsw"
    assert settings_from_env({"ASSISTANT_INDEX_KIND": "hnsw", "ASSISTANT_VECTOR_FAMILY": "flat"}).vector_family == "flat"


def test_the_allowed_values_are_the_ones_the_code_handles():
    """The types list exactly what the backends accept, so the two cannot drift apart."""
    from assistant.retrieval.vectors.backends import FAMILIES
    from assistant.speech.transcribe import BACKENDS, PROMPT_MODES, TASKS

    fields = Settings.model_fields
    assert get_args(fields["vector_family"].annotation) == FAMILIES
    assert get_args(fields["vector_large_family"].annotation) == FAMILIES[1:]
    assert get_args(fields["speech_backend"].annotation) == BACKENDS
    assert get_args(fields["speech_task"].annotation) == TASKS
    assert set(get_args(fields["speech_prompt"].annotation)) == set(PROMPT_MODES)
