"""python manage.py dq_train_weights [--sample N] [--output PATH]: train the duplicate model's weights.

Splink (a development dependency: requirements-dev.txt) estimates, on a random sample of the register,
the u of every comparison level from random pairs and m by expectation maximisation, with the prior
from deterministic rules (registry/quality/linkage/train.py). The result replaces weights.json (or
goes to --output): commit it, and the review of its diff is the review of the model. The register's
growth alone needs no retraining (the prior is scaled to the register's size when scoring).
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry.models import MedicalWorker
from registry.quality import matching


class Command(BaseCommand):
    help = "Train the duplicate model's weights with Splink on a sample of the register."

    def add_arguments(self, parser):
        parser.add_argument("--sample", type=int, default=300_000, help="workers to train on (random sample)")
        parser.add_argument("--output", type=Path, default=matching.WEIGHTS)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--u-pairs", type=float, default=5e6, help="random pairs for u (Splink's max_pairs)")

    def handle(self, *args, sample: int, output: Path, seed: int, u_pairs: float, **options):
        try:
            from registry.quality.linkage.train import train_weights
        except ImportError as exc:  # splink is not installed in production images
            raise CommandError(f"Нужен Splink (pip install -r requirements-dev.txt): {exc}") from None
        ids = list(MedicalWorker.objects.order_by("?").values_list("id", flat=True)[:sample])
        if len(ids) < 1000:
            raise CommandError(f"В регистре {len(ids)} работников: для обучения нужна выборка от 1000.")
        started = time.perf_counter()
        records = []
        for start in range(0, len(ids), 20_000):
            records += matching.worker_records(ids[start : start + 20_000]).values()
        model = train_weights(records, seed=seed, u_pairs=u_pairs, note=f"manage.py dq_train_weights --sample {sample}")
        model.save(output)
        self.stdout.write(
            f"Веса обучены на {len(records):,} работниках за {time.perf_counter() - started:.0f} с: {output}"
        )
