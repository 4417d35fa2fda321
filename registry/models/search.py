"""The search dictionary."""

from __future__ import annotations

from django.db import models


class SearchWord(models.Model):
    """A distinct word of the normalized full names at a position (1 surname, 2 name, 3 patronymic, 4 later).

    The search's dictionary (see registry.search): a typed prefix expands to the exact words it
    starts, each served in name order by an expression index on split_part(search_name, ' ', n);
    `workers` picks the most selective typed word; and the typo fallback corrects a word against it
    with pg_trgm (10^5 words instead of 3·10^6 names, the way the pg_trgm documentation pairs it with
    full-text search). Kept by worker_refresh_derived (new words) and rebuilt nightly (exact counts);
    a stale count only makes a plan a little worse, a stale word a correction that finds nobody.
    """

    word = models.CharField("слово", max_length=100)
    position = models.PositiveSmallIntegerField("позиция в ФИО")
    workers = models.PositiveIntegerField("работников", default=0)

    class Meta:
        verbose_name = "слово поискового словаря"
        verbose_name_plural = "поисковый словарь"
        constraints = [models.UniqueConstraint(fields=["word", "position"], name="search_word_unique")]

    def __str__(self) -> str:
        return f"{self.word} ({self.position})"
