"""sweep.json's record (module_utils/sweep_record.py): the keys and kinds the sweep writes,
and what the collector and the progress report read of them."""

import re

import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_record import (
    FIELDS,
    sweep_json,
)
from conftest import MODULE_UTILS, PROJECT

pytestmark = pytest.mark.unit

# What each kind looks like as Ansible gives it (a -e value arrives as a string).
AS_GIVEN = {"string": "x", "integer": "3", "number": "0.9", "boolean": "false",
            "list": ["a"], "mapping": {"a": 1}}  # fmt: skip


def given():
    return {field.key: AS_GIVEN[field.kind] for field in FIELDS}


def test_every_key_in_order_each_of_its_kind():
    record = sweep_json(given())
    assert list(record) == [field.key for field in FIELDS]
    kinds = {"string": str, "integer": int, "number": float, "boolean": bool, "list": list,
             "mapping": dict}  # fmt: skip
    for field in FIELDS:
        assert type(record[field.key]) is kinds[field.kind], field
    assert record["repetitions"] == 3 and record["debug_info"] is False


def test_a_missing_or_unknown_key_is_named():
    values = given()
    del values["steps"]
    values["stepz"] = 8
    with pytest.raises(ValueError, match=r"missing \['steps'\], unknown \['stepz'\]"):
        sweep_json(values)


@pytest.mark.parametrize(
    ("key", "value"),
    [("repetitions", "three"), ("models", "stories15M"), ("bandwidth", "perhaps"),
     ("flag_sets", ["O3"])],
)  # fmt: skip
def test_a_value_not_of_its_kind_is_named(key, value):
    with pytest.raises(ValueError, match=rf"sweep.json's {key} .* is no "):
        sweep_json({**given(), key: value})


def test_a_boolean_is_read_as_ansible_reads_one():
    """Any spelling Ansible takes for a boolean (a -e value is a string); another is refused,
    named with its key."""
    assert sweep_json({**given(), "bandwidth": "y"})["bandwidth"] is True
    with pytest.raises(ValueError, match=r"sweep.json's bandwidth 'perhaps' is no boolean: "):
        sweep_json({**given(), "bandwidth": "perhaps"})


def test_what_the_readers_read_is_declared():
    """Every key of sweep.json the collector and the progress report read is a field."""
    readers = [*sorted((PROJECT / "collect").glob("*.py")),
               MODULE_UTILS / "backend_slurm.py"]  # fmt: skip
    read = set()
    for path in readers:
        text = path.read_text()
        read |= set(re.findall(r"sweep_json\.get\(\"(\w+)\"", text))
        read |= set(re.findall(r"jmespath\.search\(\"(\w+)\", json\.load\(sweep\)", text))
    assert read and read <= {field.key for field in FIELDS}, read
