"""Forms of the register's own pages and admin."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from core import validators

from . import models
from .quality import matching


class WorkerAddForm(forms.ModelForm):
    # Typed as people write them (112-233-445 95); stored as digits after clean_*.
    snils = forms.CharField(label="СНИЛС", max_length=32)
    inn = forms.CharField(label="ИНН", max_length=32, required=False)
    confirm_not_duplicate = forms.BooleanField(
        label="Это другой человек — всё равно добавить",
        required=False,
        help_text="Отметьте, если система предупредила о возможном дубликате и вы проверили записи.",
    )

    class Meta:
        model = models.MedicalWorker
        fields = (
            "snils",
            "inn",
            "last_name",
            "first_name",
            "middle_name",
            "sex",
            "birth_date",
            "citizenship",
            "phone",
            "email",
        )

    def clean_snils(self):
        try:
            snils = validators.normalize_snils(self.cleaned_data.get("snils"))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        existing = models.MedicalWorker.objects.filter(snils=snils).first()
        if existing is not None:
            raise ValidationError(f"Работник с таким СНИЛС уже есть в регистре: {existing.registry_number_display}.")
        return snils

    def clean_inn(self):
        value = self.cleaned_data.get("inn")
        if not value:
            return None
        try:
            inn = validators.normalize_inn_person(value)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        if models.MedicalWorker.objects.filter(inn=inn).exists():
            raise ValidationError("Работник с таким ИНН уже есть в регистре.")
        return inn

    def clean(self):
        data = super().clean()
        if self.errors or data.get("confirm_not_duplicate"):
            return data
        self.probable_duplicates = matching.probable_duplicates(fields=data)
        if self.probable_duplicates:
            workers = models.MedicalWorker.objects.in_bulk([d.worker_id for d in self.probable_duplicates])
            found = "; ".join(
                f"{workers[d.worker_id].registry_number_display} {workers[d.worker_id].full_name} "
                f"(вероятность {d.probability:.0%}: {', '.join(_agreeing(d))})"
                for d in self.probable_duplicates
                if d.worker_id in workers
            )
            raise ValidationError(
                f"Возможный дубликат: в регистре уже есть, вероятно, этот же человек — {found}. "
                "Проверьте записи; если это другой человек, отметьте «Это другой человек — всё равно добавить».",
                code="probable_duplicate",
            )
        return data


def _agreeing(duplicate) -> list[str]:
    """What agrees, in a few words (the full comparison is on the duplicate review screen)."""
    return [f.text for f in duplicate.explanation.fields if f.agrees][:4]
