"""The check runs: a build's greedy text against the reference build's (collect/checks.py)."""

import json
import re
from pathlib import Path

import pytest

from collect.checks import (
    CHECKS_METHOD,
    DIVERGES,
    IDENTICAL,
    NOT_CHECKED,
    REFERENCE,
    SUSPECT,
    compare_texts,
    likely_cause,
    read_checks,
    suspects,
)
from collect.plan import read_plan
from collect.report import html_blocks
from collect.sections import checks_section
from collect.summary import markdown_section

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"
# Greedy (-t 0 -n 32) on the synthetic stories15M: gcc -O3, gcc -Ofast -fopenmp, and
# riscv64-linux-gnu-gcc -O3 -march=rv64gcv under qemu-riscv64 (-n 16); see data/README.md.
O3 = (DATA / "checks" / "synthetic15M-O3.txt").read_text()
OFAST = (DATA / "checks" / "synthetic15M-Ofast-openmp.txt").read_text()
RISCV = (DATA / "checks" / "synthetic15M-rv64gcv-qemu.txt").read_text()
# A real run's text of many different words (a tiny random checkpoint at temperature 1).
STORY = (DATA / "runs" / "human" / "stdout.txt").read_text()


def test_real_builds_that_compute_the_same_text_are_identical():
    assert compare_texts(OFAST, O3).verdict == IDENTICAL
    assert compare_texts(OFAST, O3).text == "identical (32 words)"
    assert compare_texts(STORY, STORY).verdict == IDENTICAL


def test_a_late_divergence_is_rounding_an_early_one_or_a_repeated_word_suspect():
    words = STORY.split()
    late = " ".join([*words[:20], "other", *words[21:]])
    comparison = compare_texts(late, STORY)
    assert (comparison.verdict, comparison.diverged_at) == (DIVERGES, 21)
    assert comparison.text == f"diverges at word 21 of {len(words)}"
    early = " ".join([words[0], "garbage", *words[2:]])
    assert compare_texts(early, STORY).text == f"suspect: diverges at word 2 of {len(words)}"
    # A broken build printing one token again and again, however late it leaves the text.
    repeated = " ".join([*words[:10], *["the"] * 30])
    assert compare_texts(repeated, STORY).verdict == SUSPECT
    # ... unless the reference repeats it too (the synthetic checkpoints' greedy text).
    assert compare_texts(O3[: len(O3) // 2], O3).verdict == DIVERGES  # stopped early
    assert compare_texts("", STORY).verdict == SUSPECT


def test_the_likely_cause_is_named_from_the_flags():
    assert "fast math" in likely_cause("-Ofast -fopenmp", "-O3", emulated=False)
    assert likely_cause("-O3 -fopenmp", "-O3", emulated=False) == ""
    assert "-march" in likely_cause("-O3 -march=native", "-O3", emulated=False)
    assert "RISC-V" in likely_cause("-O3 -march=rv64gcv", "-O3", emulated=True)


def write_sweep(results_dir: Path, checks: list[tuple[str, str, str, bool, str | None]]) -> None:
    """plan.json with one check task per (partition, flag_set, cflags, emulated, text); a text
    of None: the check run failed."""
    tasks = []
    for index, (partition, flag_set, cflags, emulated, text) in enumerate(checks):
        directory = f"checks/{partition}-stories15M-{flag_set}"
        tasks.append(
            {
                "index": index, "kind": "check", "dir": directory, "partition": partition,
                "threads": 1, "model": "stories15M", "flag_set": flag_set, "cflags": cflags,
                "openmp": False, "binary": f"/s/bin/{partition}/{flag_set}/run",
                "checkpoint": "/c.bin", "checkpoint_sha256": None, "checkpoint_bytes": None,
                "steps": 32, "llama2c_commit": None, "temperature": 0, "emulated": emulated,
            }
        )  # fmt: skip
        task_dir = results_dir / directory
        task_dir.mkdir(parents=True)
        (task_dir / "stdout.txt").write_text(text or "")
        (task_dir / "status").write_text("1\n" if text is None else "0\n")
    partitions = [{"name": name, "single_thread_flag_sets": []} for name in dict.fromkeys(
        partition for partition, *_ in checks
    )]  # fmt: skip
    plan = {"sweep_id": "s", "partitions": partitions, "tasks": tasks}
    (results_dir / "plan.json").write_text(json.dumps(plan))


def test_each_build_is_compared_with_its_partitions_baseline_and_riscv_with_x86s(tmp_path):
    words = STORY.split()
    write_sweep(
        tmp_path,
        [
            ("local", "O3", "-O3", False, O3),
            ("local", "Ofast", "-Ofast", False, OFAST),
            ("local", "broken", "-O3 -fbroken", False, " ".join(["the"] * 32)),
            ("local", "failed", "-O3", False, None),
            ("qemu", "rv64gc", "-O3 -march=rv64gc", True, STORY),
            ("qemu", "rv64gcv", "-O3 -march=rv64gcv", True, RISCV),
        ],
    )
    checks = read_checks(tmp_path, read_plan(tmp_path))
    verdicts = {check.flag_set: (check.verdict, check.reference) for check in checks}
    assert verdicts == {
        "O3": (REFERENCE, None),
        "Ofast": (IDENTICAL, "local/O3"),
        "broken": (SUSPECT, "local/O3"),
        "failed": (NOT_CHECKED, None),
        "rv64gc": (SUSPECT, "local/O3"),  # the x86 reference, not its own partition's
        "rv64gcv": (DIVERGES, "local/O3"),  # qemu's check ran 16 steps of the 32
    }
    (rv64gc,) = [check for check in checks if check.flag_set == "rv64gc"]
    assert rv64gc.text.startswith(f"suspect: diverges at word 1 of {len(O3.split())}")
    assert "likely cause: another target" in rv64gc.text
    assert suspects(checks) == {
        ("local", "stories15M", "broken"): checks[2].text,
        ("qemu", "stories15M", "rv64gc"): checks[4].text,
    }
    assert len(words) > 4


def test_the_output_checks_read_the_same_in_summary_and_report(tmp_path):
    write_sweep(
        tmp_path,
        [
            ("local", "O3", "-O3", False, O3),
            ("local", "broken", "-O3 -fbroken", False, " ".join(["the"] * 32)),
            ("local", "failed", "-O3", False, None),
        ],
    )
    section = checks_section(read_checks(tmp_path, read_plan(tmp_path)))
    markdown = "\n".join(markdown_section(section))
    assert markdown.startswith(f"## Output checks\n\n{CHECKS_METHOD}\n\n")
    assert "| `local` | stories15M | `O3` | the reference (" in markdown
    # a suspect build stands out in both documents
    assert "| `local` | stories15M | `broken` | **suspect: diverges at word 1 of 32 " in markdown
    assert "| `local` | stories15M | `failed` | no check: its check run failed " in markdown
    html = html_blocks(section)
    assert re.findall(r'<td class="failed">([^<]*)</td>', html) == [
        "suspect: diverges at word 1 of 32 against local/O3"
    ]


def test_a_plan_without_check_runs_has_no_checks(tmp_path):
    (tmp_path / "plan.json").write_text(
        json.dumps({"sweep_id": "s", "partitions": [], "tasks": []})
    )
    assert read_checks(tmp_path, read_plan(tmp_path)) is None


def test_a_partition_whose_first_build_died_takes_the_next_as_reference(tmp_path):
    """An RVV binary dies of SIGILL on a core without vectors: the partition's other builds
    are compared with its first build whose check run finished, not left unchecked."""
    write_sweep(
        tmp_path,
        [
            ("mcimone-nodes", "rvv", "-O3 -march=rv64gcv", False, None),
            ("mcimone-nodes", "rv64gc", "-O3 -march=rv64gc", False, O3),
            ("mcimone-nodes", "Ofast", "-Ofast -march=rv64gc", False, OFAST),
        ],
    )
    checks = read_checks(tmp_path, read_plan(tmp_path))
    verdicts = {check.flag_set: (check.verdict, check.reference) for check in checks}
    assert verdicts == {
        "rvv": (NOT_CHECKED, None),  # its own check run died
        "rv64gc": (REFERENCE, None),
        "Ofast": (IDENTICAL, "mcimone-nodes/rv64gc"),
    }
