"""The setup's stamp (roles/setup_stamp): a repeat setup with the same inputs and nothing
modified provisions nothing; a modified checkpoint or source, or changed inputs, provision
again and restore what the stamp recorded."""

import json

import pytest
from conftest import llama2c_source, run_playbook

pytestmark = pytest.mark.e2e


@pytest.fixture
def setup(tmp_path):
    """Run setup.yml on a fresh workspace (pinned llama2.c, synthetic checkpoint, no
    FlameGraph: every input reusable), with extra -e settings; returns the output."""
    workspace = tmp_path / "workspace"

    def run(**settings) -> str:
        values = {
            "llamasweep_workspace": str(workspace),
            "llama2c_repo": llama2c_source(),
            "checkpoint_source": "synthetic",
            "flamegraph_repo": "",
            "sweep_models": ["stories15M"],
            **settings,
        }
        return " ".join(run_playbook("setup.yml", "-e", json.dumps(values)).stdout.split())

    run.workspace = workspace
    return run


def test_a_repeat_setup_provisions_nothing(setup):
    first = setup()
    assert "Provisioning: no stamp of an earlier setup" in first
    assert "Probe the nodes" in first

    second = setup()
    assert "Provisioned already, nothing changed" in second
    assert "changed=0" in second
    assert "Probe the nodes" not in second and "Check the tokenizer" not in second


def test_a_modified_checkpoint_or_source_is_provisioned_again(setup):
    setup()
    checkpoint = setup.workspace / "checkpoints" / "stories15M.synthetic.bin"
    original = checkpoint.read_bytes()
    checkpoint.write_bytes(original[:-4] + b"\0\0\0\1")  # same size, new content

    again = setup()
    assert f"Provisioning: {checkpoint} is missing or was modified" in again
    assert checkpoint.read_bytes() == original

    source = setup.workspace / "llama2.c" / "run.c"
    source.write_text(source.read_text() + "\n// edited\n")
    again = setup()
    assert "llama2.c is not at" in again and "or was modified" in again
    assert "// edited" not in source.read_text()
    assert "Provisioned already" in setup()


def test_changed_inputs_are_provisioned_again(setup):
    setup()
    again = setup(probe_march_candidates=["native"])
    assert "Provisioning: the inputs changed since the last setup" in again
    facts = json.loads((setup.workspace / "facts" / "local.json").read_text())
    assert facts["march"] in ([], ["native"])


def test_a_version_to_follow_is_provisioned_every_time(setup):
    setup()
    again = setup(llama2c_version="master")
    assert "Provisioning: setup_stamp_reusable is false" in again
    assert "Provisioning: setup_stamp_reusable is false" in setup(llama2c_version="master")
