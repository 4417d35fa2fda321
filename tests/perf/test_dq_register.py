"""The duplicate benchmark's register: loaded with every kind of duplicate and hard negatives, scanned,
and measured against what was injected (what `make bench-dq` prints, on a small register)."""

import pytest

from perf import dq_register
from perf import synthetic_duplicates as gen
from registry.models import MedicalWorker
from registry.quality import scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def directories():
    from django.core.management import call_command

    call_command("load_directories", verbosity=0)


def test_a_generated_register_is_scanned_with_every_kind_found_and_no_namesake_or_twin_flagged(directories):
    generator = gen.Generator(3000, seed=11, dup_rate=0.1, share_scale=1.0, surnames="tail",
                              namesake_rate=0.03, twin_rate=0.03)  # fmt: skip
    records = dq_register.rows_of(generator)
    counts = dq_register.load_register(records)
    assert counts["workers"] == MedicalWorker.objects.count() == len(records)

    result = scan.duplicates_detect()
    quality = dq_register.measure(records)

    assert result.keys_refreshed == len(records)  # loaded around the services: the scan computed the keys
    assert quality.recall >= 0.95 and quality.precision >= 0.95
    for kind, injected, _found, recall in dq_register.by_kind_table(quality):
        assert injected and recall >= 0.9, kind
    assert sum(quality.negatives_flagged.values()) == 0


def test_weights_are_trained_on_the_register_with_splink(directories, tmp_path):
    from django.core.management import call_command

    from registry.quality.linkage import Model

    generator = gen.Generator(4000, seed=12, dup_rate=0.05, share_scale=1.0, surnames="tail",
                              namesake_rate=0.01, twin_rate=0.005)  # fmt: skip
    dq_register.load_register(dq_register.rows_of(generator))
    output = tmp_path / "weights.json"
    call_command("dq_train_weights", "--sample", "4000", "--output", str(output), "--u-pairs", "200000")
    model = Model.load(output)
    assert model.meta["records"] == MedicalWorker.objects.count() and model.meta["splink"]
    # What the data says, not what anyone wrote: agreement on the birth date is strong evidence.
    assert model.weights["dob"]["exact"].bayes_factor > 100
    assert model.weights["dob"]["else"].bayes_factor < 0.1
