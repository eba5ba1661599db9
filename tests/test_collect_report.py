"""report.html, the characterisation files (facts, bandwidth, warm-up, profiles) and the
summary's new sections, on a hand-made results directory in the contract's format
(docs/results-layout.md, "Characterisation files").

Figures of the characterised sweep (partition `local`, 2 cores, 3 repetitions):

| model | flag set | t | tok/s | median | bandwidth (GB/s) | bound tok/s | of bound |
|---|---|---|---|---|---|---|---|
| stories15M | O3-openmp | 1 | 200 210 230 | 210 | 40 (own size) | 657.72 | 31.9 % |
| stories15M | O3-openmp | 2 | 300 310 320 | 310 | 48 (own size) | 789.26 | 39.3 % |
| stories110M | O3 | 1 | 20 21 22 | 21 | 31 (large) | 70.71 | 29.7 % |
| stories110M | O3 | 2 | 20.5 21 21.5 | 21 | 31 (large, 1 thread: no OpenMP) | 70.71 | 29.7 % |
| stories110M | O3-openmp | 1 | 40 42 44 | 42 | 31 (large) | 70.71 | 59.4 % |
| stories110M | O3-openmp | 2 | 58 59 60 | 59 | 37 (large) | 84.40 | 69.9 % |

stories15M's run records carry checkpoint_bytes in plan.json (60,816,028); stories110M's do
not (the published size, 438,381,596, is used). 200/210/230: mean 213.33, sample
standard deviation 15.275, CV 7.16 % (noisy).
"""

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from builders import CFLAGS, SweepWriter

from collect.analysis import analyse
from collect.document import Code, Facts, Section, Table
from collect.pipeline import summarize
from collect.plots import PLOTS
from collect.report import (
    CONTENT_SECURITY_POLICY,
    REPORT_FILE,
    html_blocks,
    render_report,
    script_hash,
)
from collect.runs import collect_runs
from collect.seed import seed_runs
from collect.stats import add_derived_metrics
from collect.summary import markdown_section
from collect.sweepfiles import read_sweep_files

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"
PERF_SCRIPT = DATA / "perf-script"
SEED_PERF = DATA / "perf-stat" / "seed-stories15M.txt"

TOK_S = {
    ("stories15M", "O3-openmp", 1): (200.0, 210.0, 230.0),
    ("stories15M", "O3-openmp", 2): (300.0, 310.0, 320.0),
    ("stories110M", "O3", 1): (20.0, 21.0, 22.0),
    ("stories110M", "O3", 2): (20.5, 21.0, 21.5),
    ("stories110M", "O3-openmp", 1): (40.0, 42.0, 44.0),
    ("stories110M", "O3-openmp", 2): (58.0, 59.0, 60.0),
}
BANDWIDTH = {
    (1, "large"): 31.0,
    (2, "large"): 37.0,
    (1, "stories15M"): 40.0,
    (2, "stories15M"): 48.0,
}


def write_characterised_sweep(results_dir: Path, profiles: bool = True) -> Path:
    """A local sweep with every kind of task of the contract, in its order: bandwidth,
    warm-ups, runs, profiles."""
    sweep = SweepWriter(results_dir)
    for (threads, label), gb_s in BANDWIDTH.items():
        working_set = 3 * 64 * 2**20 if label == "large" else 60_816_028
        sweep.bandwidth("local", threads, label, working_set, gb_s)
    sweep.bandwidth("local", 2, "stories110M", 438_381_596, None)  # triad failed
    for flag_set in CFLAGS:
        sweep.run("local", flag_set, 1, 1, tok_s=12.5, model="stories110M", kind="warmup")
    for repetition in (1, 2, 3):
        for (model, flag_set, threads), values in TOK_S.items():
            record = {"checkpoint_bytes": 60_816_028} if model == "stories15M" else {}
            sweep.run(
                "local",
                flag_set,
                threads,
                repetition,
                tok_s=values[repetition - 1],
                model=model,
                perf=SEED_PERF,
                record=record,
                execution={"nproc": 2},
            )
    write_json(
        results_dir / "facts" / "local.json",
        {
            "hostname": "local-01",
            "cpu_model": "Test CPU <x86> & co",
            "nproc": 2,
            "mem_total_kb": 8_000_000,
            "gcc_version": "gcc (Debian 12.2.0-14) 12.2.0",
            "perf": True,
            "perf_event_paranoid": 2,
            "march": ["native", "x86-64-v3"],
            "perf_unsupported": ["cycles", "instructions"],
        },
    )
    builds = results_dir / "builds" / "local"
    builds.mkdir(parents=True)
    (builds / "O3-openmp.txt").write_text(
        "key=0123abcd\ncache_path=/ws/bin/cache/0123abcd/run\nsha256=" + "cd" * 32 + "\n"
        "outcome=built\ncommand=gcc -O3 -fopenmp -o /ws/bin/cache/0123abcd.tmp/run "
        "/ws/llama2.c/run.c -lm\ncompiler_version=gcc (Debian 12.2.0-14) 12.2.0\n"
        "llama2c_commit=350e04f\n"
    )
    (builds / "triad").write_bytes(b"\x7fELF\x02\x01\x01\x00")  # the bandwidth benchmark
    (results_dir / "run-task.sh").write_text("#!/bin/bash\necho '<run & measure>'\n")
    if profiles:
        write_profile(
            sweep,
            "stories15M",
            "fastest",
            {"flag_set": "O3-openmp", "threads": 2},
            {"event": "cpu-clock", "call_graph": "dwarf", "samples": 300},
            PERF_SCRIPT / "llama2c-omp-t2-dwarf",
            svg=True,
        )
        write_profile(
            sweep,
            "stories110M",
            "O3-openmp",
            {"flag_set": "O3-openmp", "threads": 1},
            {"event": "cpu-clock", "call_graph": "fp", "samples": 242},
            PERF_SCRIPT / "llama2c-t1-fp",
            svg=False,
        )
        write_profile(
            sweep,
            "stories110M",
            "slowest",
            {"flag_set": "O3", "threads": 1},
            {"event": "", "samples": 0, "failure": "perf record failed: Permission denied"},
            None,
            svg=False,
        )
    return results_dir


def write_profile(
    sweep: SweepWriter, model: str, selector: str, chosen: dict, execution: dict, capture, svg: bool
) -> Path:
    """A profile task of partition local: selection.json (chosen: flag_set, threads),
    profile.sh's execution.txt facts (failure: exit status 1), the captured folded stacks."""
    selection = {
        **chosen,
        "binary": f"/sweep/bin/local/{chosen['flag_set']}/run",
        "median": 310.0,
        "runs": 3,
        "selector": selector,
        "runs_considered": 18,
    }
    defaults = {"frequency": 499, "command": "perf record -F 499 -- run", "svg_off_reason": ""}
    execution = {**defaults, "failure": "", **execution}
    directory = sweep.profile(
        "local", model, selector, selection, execution, exit_status=1 if execution["failure"] else 0
    )
    if capture is not None:
        shutil.copy(capture.with_suffix(".folded"), directory / "profile.folded")
        if svg:
            shutil.copy(capture.with_suffix(".svg"), directory / "flamegraph.svg")
    return directory


def write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


@pytest.fixture
def characterised(tmp_path) -> Path:
    return write_characterised_sweep(tmp_path / "results" / "20261125-131500")


@pytest.fixture
def analysis(characterised):
    runs = add_derived_metrics(collect_runs(characterised))
    return analyse(runs, read_sweep_files(characterised))


def test_warmup_runs_are_read_apart_and_not_rows_of_runs(characterised, analysis):
    assert len(analysis.runs) == 18  # 6 configurations x 3 repetitions
    assert not analysis.runs["run_dir"].str.startswith("warmup/").any()
    warmups = analysis.files.warmups
    assert list(warmups["run_dir"]) == [
        "warmup/local-stories110M-O3-w1",
        "warmup/local-stories110M-O3-openmp-w1",
    ]
    assert list(warmups["status"]) == ["ok", "ok"]
    assert list(warmups["tok_s"]) == [12.5, 12.5]
    assert list(warmups["warmup"]) == [1, 1]
    assert list(warmups["binary_sha256"]) == ["cd" * 32] * 2


def test_bandwidth_rows_join_the_record_with_triads_json(analysis):
    bandwidth = analysis.files.bandwidth
    assert list(
        zip(bandwidth["threads"], bandwidth["label"], bandwidth["best_gb_s"], strict=True)
    ) == [
        (threads, label, gb_s) for (threads, label), gb_s in BANDWIDTH.items()
    ]  # the failed measurement (exit 1, no JSON) is no row
    assert set(bandwidth["host"]) == {"local-01"}  # execution.txt's
    assert bandwidth["file"].iloc[0] == "bandwidth/local-t1-large/stdout.txt"


def test_roofline_figures_by_hand(analysis):
    roofline = analysis.roofline.set_index(["model", "flag_set", "threads"])
    own = roofline.loc[("stories15M", "O3-openmp", 2)]
    assert own["working_set"] == "stories15M"
    assert own["bound_tok_s"] == pytest.approx(48e9 / 60_816_028)  # 789.26
    assert own["fraction"] == pytest.approx(310 / 789.2655, rel=1e-5)
    assert own["large_bound_tok_s"] == pytest.approx(37e9 / 60_816_028)
    assert own["note"] == ""
    fallback = roofline.loc[("stories110M", "O3-openmp", 2)]
    assert fallback["working_set"] == "large"
    assert fallback["checkpoint_bytes"] == 438_381_596
    assert fallback["bound_tok_s"] == pytest.approx(84.4013, rel=1e-5)
    assert fallback["fraction"] == pytest.approx(0.69904, rel=1e-4)
    assert "large working set" in fallback["note"]
    # A binary built without OpenMP runs on one thread: one thread's bandwidth.
    serial = roofline.loc[("stories110M", "O3", 2)]
    assert serial["bandwidth_threads"] == 1
    assert serial["gb_s"] == 31.0
    assert "not an OpenMP build" in serial["note"]
    assert analysis.checkpoint_bytes == {
        "stories15M": (60_816_028, "plan.json"),
        "stories110M": (438_381_596, "published size"),
    }


def test_perf_metrics_from_the_seed_block(analysis):
    metrics = analysis.perf_metrics.set_index(["model", "flag_set", "threads"])
    row = metrics.loc[("stories15M", "O3-openmp", 1)]
    assert row["perf_runs"] == 3
    assert row["ghz"] == pytest.approx(144465901074 / 72184.53e6)  # perf printed 2.001 GHz
    assert row["branch_miss_rate"] == pytest.approx(29783265 / 63810539123)  # 0.05 %
    assert row["instructions_per_token"] == pytest.approx(145608923919 / 256)
    assert row["page_faults_per_token"] == pytest.approx(24465 / 256)
    assert row["ipc"] == 1.01
    assert row["cpus_utilized"] == 43.524
    support = analysis.perf_support.set_index("partition").loc["local"]
    assert support["not_supported"] == []
    assert support["never_measured"] == []
    assert support["facts_unsupported"] == ["cycles", "instructions"]


def test_flame_graph_status_and_top_functions(analysis):
    assert analysis.flame_graph_status() == (
        "2 of 3 profiling runs ok, 1 with a flame graph (perf record -e cpu-clock, dwarf "
        "call graphs; cpu-clock, frame-pointer call graphs (-fno-omit-frame-pointer)). "
        "Failed: perf record failed: Permission denied. Without an SVG (no flamegraph.svg): "
        "their top functions are still listed."
    )
    dwarf = next(item for item in analysis.profiles if item.profile.info["selector"] == "fastest")
    assert dwarf.label == "local / stories15M / O3-openmp / 2 threads"  # from selection.json
    assert dwarf.period == 2004008
    assert dwarf.samples == 300 * 2004008
    assert dwarf.top.iloc[0]["function"] == "matmul._omp_fn.0"


def test_report_is_self_contained_and_escaped(characterised, analysis):
    summarize(characterised)
    html = (characterised / REPORT_FILE).read_text()
    assert html.startswith("<!DOCTYPE html>")
    # Nothing is fetched: no external URL in src/href attributes, images are data URIs.
    assert not re.search(r'(?:src|href|data)="(?:https?:)?//', html)
    assert html.count('<img class="plot"') == len(PLOTS)  # each applies here
    assert html.count('src="data:image/png;base64,') == len(PLOTS)
    # One flame graph, in a sandboxed frame of its own (tests/test_report_browser.py opens it).
    assert html.count('<iframe sandbox="allow-scripts allow-modals" width="1200" height="534"') == 1
    assert "<object" not in html
    assert "default-src 'none'" in html  # connect-src among all the rest
    # Escaped text from the sweep.
    assert "Test CPU &lt;x86&gt; &amp; co" in html
    assert "echo &#x27;&lt;run &amp; measure&gt;&#x27;" in html
    assert "<x86>" not in html
    # Tables: noisy configuration, roofline, scaling, perf metrics, top functions.
    assert '<td class="num noisy">7.2 % noisy</td>' in html
    assert '<td class="num">789.27</td>' in html
    assert '<td class="num">39.3 %</td>' in html
    assert '<td class="num">2.001</td>' in html  # GHz of the seed's block
    assert '<td class="num">568.8 M</td>' in html  # instructions per token
    assert '<td>matmul._omp_fn.0</td><td class="num">248</td><td class="num">82.7</td>' in html
    assert "Profile failed: perf record failed: Permission denied" in html
    assert "selected as fastest; its runs&#x27; median 310.0 tok/s; event cpu-clock" in html
    assert "No flamegraph.svg (no FlameGraph renderer)" in html
    assert "2 warm-up runs (2 ok) discarded" in html
    assert "gcc -O3 -fopenmp -o /ws/bin/cache/0123abcd.tmp/run" in html
    assert "perf_event_paranoid" in html
    # the triad binary build.sh leaves in builds/ is no record to read
    assert "Files not read" not in html and "builds/local/triad" not in html


def test_flame_graph_document_gets_the_replace_state_shim_and_its_script_is_allowed(analysis):
    html = render_report(analysis)
    document = unescape(re.search(r'srcdoc="([^"]+)"', html).group(1))
    assert document.index("history.replaceState = function") < document.index("<svg")
    assert "matmul._omp_fn.0" in document
    # FlameGraph's script, as its text content (the CDATA markers are no text), by its hash.
    script = re.search(r'<script type="text/ecmascript">(.*?)</script>', document, re.S).group(1)
    text = script.replace("<![CDATA[", "").replace("]]>", "")
    assert script_hash(text) in CONTENT_SECURITY_POLICY


def test_an_svg_with_elements_flamegraph_does_not_write_is_not_shown(analysis):
    profile = next(item.profile for item in analysis.profiles if item.profile.svg_text)
    profile.svg_text = profile.svg_text.replace("<g >", '<a href="http://example.org/"><g >', 1)
    html = render_report(analysis)
    assert "flamegraph.svg not shown: it holds &lt;a&gt;, which FlameGraph does not write" in html
    assert "<iframe" not in html


def test_summary_essentials_and_pointer_to_the_report(characterised):
    summary = summarize(characterised)
    assert (
        "- runs: 18 (18 ok)\n- llama2.c: 350e04f\n- models: stories15M, stories110M\n- steps: 256\n"
    ) in summary
    assert "- warm-up: 2 warm-up runs (2 ok) discarded" in summary
    assert "[report.html](report.html)" in summary
    assert (
        "| O3-openmp | `-O3 -fopenmp` | 1 | 3/3 | 210.00 | 200.00 | 230.00 | 7.2 % noisy "
        "| 1.00× | — | baseline | 31.9 % |"
    ) in summary
    # 3 runs a side: Welch's 99 % interval on log tok/s.
    assert (
        "| O3-openmp | `-O3 -fopenmp` | 2 | 3/3 | 59.00 | 58.00 | 60.00 | 1.7 % | 2.81× "
        "| 2.58–3.06 | faster | 69.9 %† |"
    ) in summary
    assert "† bound from the large working set" in summary
    assert (
        "Best thread count: stories15M O3-openmp: 2 threads, 1.48× over 1 (1.10–1.93, faster), "
        "efficiency 73.8 %; stories110M O3: 1 thread, 1.00× over 1 (—, baseline), efficiency "
        "100.0 %; stories110M O3-openmp: 2 threads, 1.40× over 1 (1.14–1.73, faster), efficiency "
        "70.2 %."
    ) in summary
    assert "perf stat counters: every counter of the event list was counted." in summary
    assert "2 of 3 profiling runs ok, 1 with a flame graph" in summary


def test_without_profiles_the_summary_says_why(tmp_path):
    results_dir = write_characterised_sweep(tmp_path / "sweep", profiles=False)
    summary = summarize(results_dir)
    assert "Flame graphs were not recorded (the plan holds no profile task)." in summary
    sweep_json = json.loads((results_dir / "sweep.json").read_text())
    sweep_json["profiles_off_reason"] = "perf record does not work (perf_event_paranoid 3)"
    (results_dir / "sweep.json").write_text(json.dumps(sweep_json))
    summary = summarize(results_dir)
    assert (
        "Flame graphs were not recorded: perf record does not work (perf_event_paranoid 3)."
        in summary
    )
    html = (results_dir / REPORT_FILE).read_text()
    assert "perf record does not work (perf_event_paranoid 3)" in html


def test_profile_without_folded_stacks_is_folded_from_perf_script(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep2")
    profile_dir = write_profile(
        sweep,
        "stories15M",
        "fastest",
        {"flag_set": "O3-openmp", "threads": 2},
        {"event": "cpu-clock", "call_graph": "dwarf", "samples": 300},
        None,
        svg=False,
    )
    results_dir = sweep.results_dir
    shutil.copy(PERF_SCRIPT / "llama2c-omp-t2-dwarf.txt", profile_dir / "perf.script")
    files = read_sweep_files(results_dir)
    assert (
        files.profiles[0].folded_text == (PERF_SCRIPT / "llama2c-omp-t2-dwarf.folded").read_text()
    )
    summarize(results_dir)
    html = (results_dir / REPORT_FILE).read_text()
    assert '<td>matmul._omp_fn.0</td><td class="num">248</td>' in html


RISCV_FLAG_SETS = {
    "rv64gc": "-O3 -march=rv64gc -fopenmp",
    "bogus": "-O3 -march=rv64gcq_bogus",
    "rv64gcv": "-O3 -march=rv64gcv",
}


def test_the_report_counts_runs_by_status_as_the_summary_does(tmp_path):
    results_dir = tmp_path / "sweep"
    sweep = SweepWriter(results_dir)
    sweep.run("local", "O3", 1, 1, tok_s=50.0)
    for repetition in (2, 3):
        sweep.run("local", "O3", 1, repetition, exit_status=1)
    summary = summarize(results_dir, record_history=False)
    html = (results_dir / REPORT_FILE).read_text()
    assert "- runs: 3 (1 ok, 2 failed)\n" in summary  # ok first, though fewer
    assert "<tr><th>runs</th><td>3 (1 ok, 2 failed)</td></tr>" in html


def test_an_unknown_thread_count_reads_as_in_the_other_documents():
    """A runs table that did not record threads (the seed's, a history's): `?` in the
    report's tables as in summary.md's, compare's and class.md's."""
    # on a partition of its own: the findings would compare the seed with itself
    runs = seed_runs().assign(partition="elsewhere", sweep_id="seed-as-a-sweep")
    html = render_report(analyse(add_derived_metrics(runs)))
    throughput = re.search(r"<h3>Throughput \(tok/s\)</h3>(.*?)</table>", html).group(1)
    assert {cells[3] for cells in table_cells(throughput)} == {"?"}


def test_a_section_of_the_document_model_reads_the_same_in_markdown_and_html():
    section = Section(
        "sizes",
        "Sizes",
        1,
        (
            "Quoted <b>as written</b>.",
            Table(("flag set", "MB"), ((Code("O3 `x`"), "1.5"),), 1),
            Facts(((Code("runs/a"), "a <link>"),)),
        ),
    )
    assert markdown_section(section) == [
        "## Sizes (1)",
        "",
        "Quoted \\<b\\>as written\\</b\\>.",
        "",
        "| flag set | MB |",
        "| --- | ---: |",
        "| `` O3 `x` `` | 1.5 |",
        "",
        "- `runs/a`: a \\<link\\>",
        "",
    ]
    assert html_blocks(section) == (
        "<p>Quoted &lt;b&gt;as written&lt;/b&gt;.</p><table><thead><tr><th>flag set</th>"
        "<th>MB</th></tr></thead><tbody><tr><td><code>O3 `x`</code></td>"
        '<td class="num">1.5</td></tr></tbody></table>'
        "<table><tr><th><code>runs/a</code></th><td>a &lt;link&gt;</td></tr></table>"
    )


def write_emulated_sweep(results_dir: Path) -> Path:
    """A local partition's runs beside an emulated one's: rv64gc runs (3.1 tok/s under
    qemu), bogus is rejected by the compiler, rv64gcv runs but holds no vector instruction."""
    # validation before queueing left one flag set of the local partition out
    dropped = {"local": {"xtheadvector": "failed validation: unsupported ISA"}}
    sweep = SweepWriter(results_dir, dropped_flag_sets=dropped)
    sweep.run("local", "O3", 1, 1, tok_s=50.0)
    sweep.run("local", "O3-openmp", 2, 1, tok_s=80.0)
    for flag_set, cflags in RISCV_FLAG_SETS.items():
        tok_s = None if flag_set == "bogus" else 3.1
        exit_status = 1 if flag_set == "bogus" else 0
        record = {"cflags": cflags, "emulated": True}
        sweep.run("riscv64-qemu", flag_set, 1, 1, tok_s=tok_s, exit_status=exit_status,
                  record=record)  # fmt: skip
    write_json(
        results_dir / "facts" / "riscv64-qemu.json",
        {"compiler_version": "riscv64-linux-gnu-gcc (Debian 12.2.0-13) 12.2.0", "nproc": 2},
    )
    builds = results_dir / "builds" / "riscv64-qemu"
    builds.mkdir(parents=True)
    built = "outcome=built\ntarget=riscv64-linux-gnu\n"
    (builds / "rv64gc.txt").write_text(
        f"{built}command='riscv64-linux-gnu-gcc' '-O3' '-march=rv64gc' '-fopenmp'\n"
        "vector_instructions=0\n"
    )
    (builds / "rv64gc.vec.txt").write_text("")
    (builds / "rv64gcv.txt").write_text(
        f"{built}command='riscv64-linux-gnu-gcc' '-O3' '-march=rv64gcv'\nvector_instructions=0\n"
    )
    (builds / "rv64gcv.vec.txt").write_text(
        "run.c:231:5: optimized: loop vectorized using 16 byte vectors\n"
        "run.c:260:9: optimized: loop vectorized using 16 byte vectors\n"
    )
    (builds / "bogus.txt").write_text(
        "outcome=rejected\ntarget=riscv64-linux-gnu\n"
        "error=riscv64-linux-gnu-gcc: error: '-march=rv64gcq_bogus': unsupported ISA\n"
    )
    return results_dir


def test_report_shows_the_emulated_partition_and_the_riscv_builds_as_the_summary_does(tmp_path):
    results_dir = write_emulated_sweep(tmp_path / "sweep")
    summary = summarize(results_dir)
    html = (results_dir / REPORT_FILE).read_text()
    sections = dict(re.findall(r'<section id="([^"]+)"><h2>[^<]*</h2>(.*?)</section>', html))
    # the emulated partition has no performance section (though it has facts), and is in
    # no plot or table of one; the overview counts its runs apart
    assert "Partition riscv64-qemu" not in html and "Partition local" in html
    assert "riscv64-qemu" not in sections["plots"] + sections["partition-0"]
    overview = dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]*)</td></tr>", sections["overview"]))
    assert (overview["partitions"], overview["runs"]) == ("local", "2 (2 ok)")
    assert overview["emulated (qemu) partitions"] == "riscv64-qemu"
    assert overview["emulated runs"] == "3 (2 ok, 1 failed)"
    assert "riscv64-qemu compiler</th><td>riscv64-linux-gnu-gcc (Debian 12.2.0-13)" in html
    # Failures lists every failed run, the emulated ones with their partition
    assert "1 failed run (1 of emulated partitions)." in sections["failures"]
    assert [cells[:3] for cells in table_cells(sections["failures"])] == [
        ["runs/0003-stories15M-bogus-t1-r1", "riscv64-qemu", "failed"]
    ]
    emulated = table_cells(sections["emulated"])
    assert [cells[:5] for cells in emulated] == [
        ["riscv64-qemu", "rv64gc", "yes", "1/1", "yes"],
        ["riscv64-qemu", "bogus", "no", "0/1", "no"],
        ["riscv64-qemu", "rv64gcv", "yes", "1/1", "yes"],
    ]
    assert [cells[5] for cells in emulated] == [
        "ok",
        "build failed: the compiler rejected flag set bogus: riscv64-linux-gnu-gcc: error: "
        "&#x27;-march=rv64gcq_bogus&#x27;: unsupported ISA",
        "ok",
    ]
    assert "| `riscv64-qemu` | `bogus` | no | 0/1 | no |" in summary  # the same rows
    # summary.md's Failures has the emulated failure too; the flag set never submitted
    failures = summary.split("## Failures (1)\n")[1]
    assert "1 failed run (1 of emulated partitions)." in failures
    assert (
        "\n| `runs/0003-stories15M-bogus-t1-r1` | `riscv64-qemu` | failed | build failed: "
        in failures
    )
    assert (
        "| `local` | `xtheadvector` | failed validation: unsupported ISA |"
        in summary.split("## Flag sets not submitted (1)\n")[1]
    )
    assert table_cells(sections["dropped"]) == [
        ["local", "xtheadvector", "failed validation: unsupported ISA"]
    ]
    # RISC-V builds: the rejected flag set built nothing; rv64gcv asked for vectors, got none
    builds = sections["riscv-builds"]
    assert table_cells(builds) == [
        ["riscv64-qemu", "rv64gc", "rv64gc", "0", "0", ""],
        ["riscv64-qemu", "rv64gcv", "rv64gcv", "0", "2", "asked for, none in the binary"],
    ]
    assert '<td class="failed">asked for, none in the binary</td>' in builds
    assert "rv64gcv: the -march asks for a vector extension but the binary holds no" in builds
    # the loop count links to the compiler's report, shown under Commands and versions
    link = re.search(r'<a href="#([^"]+)">2</a>', builds).group(1)
    assert f'<details id="{link}" open><summary><code>builds/riscv64-qemu/rv64gcv.vec.txt' in html
    assert "(-march=rv64gcv): 0 vector instructions, 2 loops vectorised — **asks for" in summary


def table_cells(html: str) -> list[list[str]]:
    """The text of each body row's cells of the tables in html."""
    rows = re.findall(r"<tr>(<td.*?)</tr>", html)
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in rows
    ]
