import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from registry.directory_loader import (
    DirectoryLoadError,
    LoadResult,
    RowError,
    load_directory,
    read_directory_file,
)
from registry.management.commands.load_directories import SHIPPED_DIR
from registry.models import DIRECTORY_MODELS, Position, PostType, QualificationCategory, Region, Specialty


def run(*args, **options) -> str:
    out = StringIO()
    call_command("load_directories", *args, stdout=out, **options)
    return out.getvalue()


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def snapshot(model) -> list[tuple]:
    return list(model.objects.order_by("code").values_list("code", "name", "is_active", "sort_order"))


# --- Shipped files -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", DIRECTORY_MODELS, ids=lambda m: m._meta.model_name)
def test_every_directory_ships_a_file_with_its_own_oid(model):
    entries, meta = read_directory_file(SHIPPED_DIR / f"{model._meta.model_name}.json")
    assert meta["oid"] == model.OID
    assert meta["name"] and meta["version"]
    codes = [entry.code for entry in entries]
    assert codes and len(codes) == len(set(codes))


@pytest.mark.django_db
def test_shipped_files_load_every_directory():
    output = run()

    for model in DIRECTORY_MODELS:
        entries, _ = read_directory_file(SHIPPED_DIR / f"{model._meta.model_name}.json")
        assert model.objects.filter(is_active=True).count() == len(entries)
        assert f"{model._meta.model_name} ({model.OID}): создано {len(entries)}, обновлено 0" in output
    assert Specialty.objects.count() >= 50
    assert Position.objects.count() >= 40
    assert Specialty.objects.filter(name="Стоматология общей практики", code="171").exists()
    assert Position.objects.filter(name="врач-терапевт участковый").exists()
    categories = list(QualificationCategory.objects.order_by("sort_order").values_list("name", flat=True))
    assert categories == [
        "Вторая квалификационная категория",
        "Первая квалификационная категория",
        "Высшая квалификационная категория",
    ]


@pytest.mark.django_db
def test_all_89_regions_load_with_unique_two_digit_codes():
    run("--directory", "region")

    codes = list(Region.objects.values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 89
    assert all(re.fullmatch(r"[0-9]{2}", code) for code in codes)
    names = dict(Region.objects.values_list("code", "name"))
    assert names["01"] == "Республика Адыгея (Адыгея)"
    assert names["77"] == "Москва"
    assert names["78"] == "Санкт-Петербург"
    assert names["79"] == "Еврейская автономная область"
    assert names["86"] == "Ханты-Мансийский автономный округ — Югра"
    assert names["91"] == "Республика Крым"
    assert names["92"] == "Севастополь"
    assert names["93"] == "Донецкая Народная Республика"
    assert names["94"] == "Луганская Народная Республика"
    assert names["90"] == "Запорожская область"
    assert names["95"] == "Херсонская область"
    # Codes freed by merged subjects (Пермский, Камчатский, Забайкальский...) are not reused.
    assert not {"80", "81", "82", "84", "85", "88"} & set(codes)


@pytest.mark.django_db
def test_second_run_changes_nothing():
    run()
    before = {model: snapshot(model) for model in DIRECTORY_MODELS}

    output = run()

    assert {model: snapshot(model) for model in DIRECTORY_MODELS} == before
    for model in DIRECTORY_MODELS:
        count = len(before[model])
        assert f"{model._meta.model_name} ({model.OID}): создано 0, обновлено 0, без изменений {count}" in output


@pytest.mark.django_db
def test_second_load_of_same_rows_reports_all_unchanged():
    rows = [{"code": "1", "name": "Терапия"}, {"code": "2", "name": "Педиатрия"}]
    assert load_directory(Specialty, rows, deactivate_missing=False) == LoadResult(2, 0, 0, 0)
    assert load_directory(Specialty, rows, deactivate_missing=True) == LoadResult(0, 0, 2, 0)


# --- Loading an export -------------------------------------------------------------------------


@pytest.mark.django_db
def test_csv_with_bom_and_semicolons_loads(tmp_path):
    path = write(
        tmp_path,
        "export.csv",
        "ID;NAME;PARENT\r\n1;Терапия;\r\n2;Педиатрия;\r\n\r\n3;Стоматология общей практики, детская;\r\n",
        bom=True,
    )

    output = run("--directory", "specialty", "--file", str(path))

    assert snapshot(Specialty) == [
        ("1", "Терапия", True, 0),
        ("2", "Педиатрия", True, 0),
        ("3", "Стоматология общей практики, детская", True, 0),
    ]
    assert "specialty (1.2.643.5.1.13.13.11.1066): создано 3, обновлено 0, без изменений 0" in output


@pytest.mark.django_db
def test_csv_with_commas_quotes_and_russian_headers_loads(tmp_path):
    path = write(
        tmp_path,
        "export.csv",
        'Код,Наименование\n109,врач-терапевт\n5,"заведующий отделением, врач-хирург"\n',
    )

    run("--directory", "position", "--file", str(path))

    assert dict(Position.objects.values_list("code", "name")) == {
        "109": "врач-терапевт",
        "5": "заведующий отделением, врач-хирург",
    }


@pytest.mark.django_db
def test_directory_is_found_by_oid(tmp_path):
    path = write(tmp_path, "positions.csv", "RECID;S_NAME\n110;врач-терапевт участковый\n")

    run("--directory", "1.2.643.5.1.13.13.11.1002", "--file", str(path))

    assert Position.objects.get(code="110").name == "врач-терапевт участковый"
    assert not Specialty.objects.exists()


@pytest.mark.django_db
def test_json_file_names_its_directory_by_oid(tmp_path):
    document = {"oid": "1.2.643.5.1.13.2.1.1.209", "entries": [{"code": "1", "name": "Основное место работы"}]}
    path = write(tmp_path, "posttype.json", json.dumps(document, ensure_ascii=False))

    run("--file", str(path))

    assert PostType.objects.get(code="1").name == "Основное место работы"


@pytest.mark.django_db
def test_plain_json_list_with_nsi_field_names_loads(tmp_path):
    path = write(tmp_path, "export.json", json.dumps([{"ID": 171, "NAME": "Стоматология общей практики"}]))

    run("--directory", "specialty", "--file", str(path))

    assert Specialty.objects.get(code="171").name == "Стоматология общей практики"


@pytest.mark.django_db
def test_code_and_name_columns_can_be_named(tmp_path):
    path = write(tmp_path, "export.csv", "ID;FRMR_CODE;TITLE\n9001;44;Кардиология\n")

    run("--directory", "specialty", "--file", str(path), "--code-column", "frmr_code", "--name-column", "TITLE")

    assert snapshot(Specialty) == [("44", "Кардиология", True, 0)]


@pytest.mark.django_db
def test_changed_name_is_updated_and_deactivated_entry_comes_back(tmp_path):
    Specialty.objects.create(code="1", name="Терапия (старое)")
    Specialty.objects.create(code="2", name="Педиатрия", is_active=False)
    path = write(tmp_path, "export.csv", "code;name\n1;Терапия\n2;Педиатрия\n")

    output = run("--directory", "specialty", "--file", str(path))

    assert snapshot(Specialty) == [("1", "Терапия", True, 0), ("2", "Педиатрия", True, 0)]
    assert "создано 0, обновлено 2, без изменений 0" in output


@pytest.mark.django_db
def test_deactivate_missing_deactivates_only_entries_absent_from_the_file(tmp_path):
    for code, name in [("1", "Терапия"), ("2", "Педиатрия"), ("3", "Хирургия")]:
        Specialty.objects.create(code=code, name=name)
    path = write(tmp_path, "export.csv", "ID;NAME\n1;Терапия\n2;Педиатрия детская\n4;Кардиология\n")

    output = run("--directory", "specialty", "--file", str(path), "--deactivate-missing")

    assert snapshot(Specialty) == [
        ("1", "Терапия", True, 0),
        ("2", "Педиатрия детская", True, 0),
        ("3", "Хирургия", False, 0),
        ("4", "Кардиология", True, 0),
    ]
    assert "создано 1, обновлено 1, без изменений 1, деактивировано 1" in output


@pytest.mark.django_db
def test_without_deactivate_missing_absent_entries_stay_active(tmp_path):
    Specialty.objects.create(code="3", name="Хирургия")
    path = write(tmp_path, "export.csv", "ID;NAME\n1;Терапия\n")

    run("--directory", "specialty", "--file", str(path))

    assert Specialty.objects.get(code="3").is_active


@pytest.mark.django_db
def test_dry_run_writes_nothing(tmp_path):
    path = write(tmp_path, "export.csv", "ID;NAME\n1;Терапия\n")

    output = run("--directory", "specialty", "--file", str(path), "--dry-run")

    assert not Specialty.objects.exists()
    assert "создано 1" in output and "ничего не записано" in output


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bad_row_writes_nothing_and_names_the_row_and_field(tmp_path):
    Specialty.objects.create(code="1", name="Терапия (старое)")
    path = write(tmp_path, "export.csv", "ID;NAME\n1;Терапия\n2;Педиатрия\n3;   \n4;Хирургия\n")

    with pytest.raises(CommandError) as excinfo:
        run("--directory", "specialty", "--file", str(path))

    message = str(excinfo.value)
    assert "строка 4, поле «name»: наименование не заполнено" in message
    assert "ничего не записано" in message
    assert snapshot(Specialty) == [("1", "Терапия (старое)", True, 0)]


@pytest.mark.django_db
def test_every_bad_row_is_listed_with_its_reason():
    rows = [
        {"code": "1", "name": "Терапия"},
        {"code": "", "name": "Без кода"},
        {"code": "x" * 33, "name": "Длинный код"},
        {"code": "4", "name": "я" * 501},
        {"code": "1", "name": "Повтор"},
        {"code": "6", "name": "С нулевым\x00байтом"},
        {"code": 7.0, "name": "Дробный код"},
        "не объект",
        {"code": 10**40, "name": "Огромный код"},
        {"code": "10", "name": "Перевод\nстроки"},
        {"code": "11", "name": "Терапия", "sort_order": -1},
    ]

    with pytest.raises(DirectoryLoadError) as excinfo:
        load_directory(Specialty, rows, deactivate_missing=True)

    assert excinfo.value.errors == [
        RowError(2, "code", "код не заполнен"),
        RowError(3, "code", "код длиннее 32 символов (33)"),
        RowError(4, "name", "наименование длиннее 500 символов (501)"),
        RowError(5, "code", "код «1» повторяется (уже был в строке 1)"),
        RowError(6, "name", "наименование содержит управляющие символы"),
        RowError(7, "code", "код: ожидается строка, получено float"),
        RowError(8, "code", "запись не является объектом с полями code и name"),
        RowError(9, "code", "код длиннее 32 символов"),
        RowError(10, "name", "наименование содержит управляющие символы"),
        RowError(11, "sort_order", "порядок — целое неотрицательное число"),
    ]
    assert not Specialty.objects.exists()


@pytest.mark.django_db
def test_code_of_exactly_32_and_name_of_500_characters_load():
    result = load_directory(Specialty, [{"code": "1" * 32, "name": "я" * 500}], deactivate_missing=False)

    assert result.created == 1


@pytest.mark.django_db
def test_region_code_must_be_two_digits(tmp_path):
    path = write(tmp_path, "regions.csv", "code;name\n7;Кабардино-Балкарская Республика\n")

    with pytest.raises(CommandError, match=r"строка 2, поле «code»: код региона — две цифры"):
        run("--directory", "region", "--file", str(path))
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_injection_strings_are_stored_as_plain_text():
    name = "'); DROP TABLE registry_specialty; -- <script>alert(1)</script>"

    load_directory(Specialty, [{"code": "1' OR '1'='1", "name": name}], deactivate_missing=False)

    assert Specialty.objects.get(code="1' OR '1'='1").name == name


def test_unknown_directory_is_a_command_error():
    with pytest.raises(CommandError, match="Неизвестный справочник «doctors»"):
        run("--directory", "doctors")


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Файл не найден"):
        run("--directory", "specialty", "--file", str(tmp_path / "nope.csv"))


def test_file_without_code_column_names_the_columns_it_has(tmp_path):
    path = write(tmp_path, "export.csv", "Номер;Название\n1;Терапия\n")

    with pytest.raises(CommandError, match=r"не найден столбец с кодом .* в файле есть: Номер, Название"):
        run("--directory", "specialty", "--file", str(path))


def test_named_column_that_is_absent_is_a_command_error(tmp_path):
    path = write(tmp_path, "export.csv", "ID;NAME\n1;Терапия\n")

    with pytest.raises(CommandError, match=r"нет столбца «CODE_FRMR» \(--code-column\)"):
        run("--directory", "specialty", "--file", str(path), "--code-column", "CODE_FRMR")


def test_file_in_windows_1251_is_refused_with_advice(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("ID;NAME\n1;Терапия\n".encode("cp1251"))

    with pytest.raises(CommandError, match="не в кодировке UTF-8"):
        run("--directory", "specialty", "--file", str(path))


def test_excel_workbook_is_refused(tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)

    with pytest.raises(CommandError, match="это не CSV и не JSON"):
        run("--directory", "specialty", "--file", str(path))


def test_broken_json_is_a_command_error(tmp_path):
    path = write(tmp_path, "export.json", '{"entries": [')

    with pytest.raises(CommandError, match="неверный JSON"):
        run("--directory", "specialty", "--file", str(path))


@pytest.mark.parametrize("text", ['{"entries": [{"code": ' + "9" * 5000 + ', "name": "x"}]}', "[" * 100_000])
def test_hostile_json_is_a_command_error(tmp_path, text):
    path = write(tmp_path, "export.json", text)

    with pytest.raises(CommandError, match="неверный JSON"):
        run("--directory", "specialty", "--file", str(path))


def test_json_of_another_directory_is_refused(tmp_path):
    document = {"oid": "1.2.643.5.1.13.13.11.1002", "entries": [{"code": "109", "name": "врач-терапевт"}]}
    path = write(tmp_path, "positions.json", json.dumps(document, ensure_ascii=False))

    with pytest.raises(CommandError, match="OID mismatch"):
        run("--directory", "specialty", "--file", str(path))


def test_deactivate_missing_needs_a_file():
    with pytest.raises(CommandError, match="--deactivate-missing"):
        run("--deactivate-missing")


# --- Scale -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_loading_2000_rows_takes_a_bounded_number_of_queries(tmp_path, django_assert_max_num_queries):
    lines = ["ID;NAME"] + [f"{n};Специальность № {n}" for n in range(1, 2001)]
    entries, _ = read_directory_file(write(tmp_path, "export.csv", "\n".join(lines)))

    with django_assert_max_num_queries(20):
        result = load_directory(Specialty, entries, deactivate_missing=True)
    assert result == LoadResult(created=2000, updated=0, unchanged=0, deactivated=0)

    renamed = ["ID;NAME"] + [f"{n};Специальность № {n} (ред.)" for n in range(1, 1501)]
    entries, _ = read_directory_file(write(tmp_path, "renamed.csv", "\n".join(renamed)))

    with django_assert_max_num_queries(20):
        result = load_directory(Specialty, entries, deactivate_missing=True)
    assert result == LoadResult(created=0, updated=1500, unchanged=0, deactivated=500)
    assert Specialty.objects.filter(is_active=True).count() == 1500
    assert Specialty.objects.get(code="1500").name == "Специальность № 1500 (ред.)"
