"""Whether each build computes what the reference build computes.

At temperature 1.0 (the sweep's) any change in floating-point order (-Ofast, fused
multiply-add, another vector width) flips one sampled token and every token after it
differs, so the measured runs' texts say nothing about a build. Each build therefore makes
one short check run at temperature 0 (plan kind check): greedy, its text depends on the
build alone. It is compared with the reference build's: the partition's first flag set (the
baseline; the first whose check run finished, when that one died) on the same model, or for
an emulated partition the first real partition's (its x86 reference), whose check also ran
at 1 thread.

run.c prints each token's text without a separator, so token boundaries are not in
stdout.txt: the texts are compared word by word (split on whitespace). Verdicts:
identical; diverges at word k of n (rounding: the two builds' logits differ by a little, and
one near-tie went the other way); suspect: diverges within the first SUSPECT_WORDS words, or
from where it diverges repeats one word where the reference's goes on (a broken build, not
rounding). A text without whitespace is one word: it can only be identical or suspect.
"""

from dataclasses import dataclass
from pathlib import Path

from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_plan import CHECK_STEPS

from collect.datafiles import NotRead
from collect.plan import KIND_CHECK, read_task_files

IDENTICAL = "identical"
DIVERGES = "diverges"
SUSPECT = "suspect"
REFERENCE = "reference"
NOT_CHECKED = "not checked"

# A build whose greedy text leaves the reference's this early computes something else.
SUSPECT_WORDS = 3
# This many words or more after the divergence, all one word: the build repeats one token.
REPEATED_WORDS = 4


# What the reports say of the method, once.
CHECKS_METHOD = (
    "Each build made one check run at temperature 0 (greedy, at 1 thread, at most "
    f"{CHECK_STEPS} steps), "
    "whose text depends on the build alone; it is compared word by word with the reference "
    "build's (the partition's first flag set whose check run finished; for an emulated "
    "partition the first real partition's): identical; diverges at word k of n (rounding: "
    "one near-tie went the other way); suspect (diverges within the first "
    f"{SUSPECT_WORDS} words, or repeats one word: a broken build, not rounding). A suspect "
    "flag set is measured but never ranked fastest."
)


def suspects(checks: list["Check"] | None) -> dict[tuple[str, str, str], str]:
    """(partition, model, flag_set) -> its check's sentence, for each suspect build."""
    return {
        (check.partition, check.model, check.flag_set): check.text
        for check in checks or []
        if check.verdict == SUSPECT
    }


def flag_set_label(flag_set: str, partition: str, model: str, suspect: dict) -> str:
    """A flag set's name where configurations are ranked: marked when its build is suspect."""
    return f"{flag_set} (suspect output)" if (partition, model, flag_set) in suspect else flag_set


@dataclass(frozen=True)
class Comparison:
    """A text against the reference text: verdict, the 1-based word where they first differ
    (None when identical) and the reference's word count."""

    verdict: str
    diverged_at: int | None
    words: int

    @property
    def text(self) -> str:
        if self.verdict == IDENTICAL:
            return f"identical ({self.words} words)"
        where = f"diverges at word {self.diverged_at} of {self.words}"
        return f"suspect: {where}" if self.verdict == SUSPECT else where


@dataclass(frozen=True)
class Check:
    """One build's check: its partition, model and flag set, the reference build it was
    compared with ("partition/flag_set", None for the reference itself or without one),
    verdict (IDENTICAL, DIVERGES, SUSPECT, REFERENCE or NOT_CHECKED), the sentence the
    reports print and the check run's directory."""

    partition: str
    model: str
    flag_set: str
    reference: str | None
    verdict: str
    text: str
    dir: str


def compare_texts(text: str, reference: str) -> Comparison:
    """The verdict of a check run's text against the reference build's."""
    words, expected = text.split(), reference.split()
    if words == expected:
        return Comparison(IDENTICAL, None, len(expected))
    diverged_at = next(
        (
            position
            for position, (a, b) in enumerate(zip(words, expected, strict=False), 1)
            if a != b
        ),
        min(len(words), len(expected)) + 1,
    )
    # From where they part: one word again and again, where the reference goes on.
    after, expected_after = words[diverged_at - 1 :], expected[diverged_at - 1 :]
    repeats = len(after) >= REPEATED_WORDS and len(set(after)) == 1 < len(set(expected_after))
    suspect = diverged_at <= SUSPECT_WORDS or repeats
    return Comparison(SUSPECT if suspect else DIVERGES, diverged_at, len(expected))


def likely_cause(cflags: str, reference_cflags: str, emulated: bool) -> str:
    """Why a build's greedy text may differ from the reference's, when the flags say."""
    causes = []
    words, reference = set(cflags.split()), set(reference_cflags.split())
    fast_math = {"-Ofast", "-ffast-math", "-fassociative-math"}
    if words & fast_math and not reference & fast_math:
        causes.append("fast math (-Ofast or -ffast-math) reorders floating-point sums")
    if emulated:
        causes.append(
            "another target: GCC fuses multiply-adds (-ffp-contract=fast, its default) on "
            "RISC-V, which always has FMA, and its libm's expf differs"
        )
    elif any(word.startswith("-march=") for word in words - reference):
        causes.append("another -march: fused multiply-adds, another vector width")
    return "; ".join(causes)


def read_checks(results_dir: Path, plan, not_read: NotRead | None = None) -> list[Check] | None:
    """The check of every check task of the plan, in plan order; None when the plan holds
    none (a sweep from before check runs). The files not read are noted in not_read."""
    tasks = plan.of_kind(KIND_CHECK)
    if not tasks:
        return None
    texts, real, own = {}, {}, {}
    for task in tasks:
        files = read_task_files(results_dir, task, not_read=not_read)
        ok = files.exit_status == 0 and files.stdout_text is not None
        texts[task["index"]] = files.stdout_text if ok else None
    # The first build whose check run finished (else the first): one that dies (an RVV
    # binary on a core without vectors) leaves the others a reference.
    for task in tasks:
        for table, key in ((own, (task["partition"], task["model"])), (real, task["model"])):
            if table is real and task.get("emulated"):
                continue  # the first real partition's baseline
            if key not in table or (texts[table[key]["index"]] is None and texts[task["index"]]):
                table[key] = task
    checks = []
    for task in tasks:
        reference = own[(task["partition"], task["model"])]
        if task.get("emulated"):
            reference = real.get(task["model"], reference)
        checks.append(_check(task, reference, texts))
    return checks


def _check(task: dict, reference: dict, texts: dict) -> Check:
    def make(reference_name: str | None, verdict: str, text: str) -> Check:
        return Check(
            task["partition"], task["model"], task["flag_set"], reference_name, verdict, text,
            task["dir"],
        )  # fmt: skip

    text = texts[task["index"]]
    if text is None:
        return make(None, NOT_CHECKED, "no check: its check run failed or did not finish")
    if reference is task:
        return make(None, REFERENCE, f"the reference ({len(text.split())} words)")
    name = f"{reference['partition']}/{reference['flag_set']}"
    if texts[reference["index"]] is None:
        return make(name, NOT_CHECKED, f"no check: the reference {name}'s check run failed")
    comparison = compare_texts(text, texts[reference["index"]])
    sentence = f"{comparison.text} against {name}"
    if comparison.verdict != IDENTICAL:
        cause = likely_cause(task["cflags"], reference["cflags"], bool(task.get("emulated")))
        if cause:
            sentence += f" (likely cause: {cause})"
    return make(name, comparison.verdict, sentence)
