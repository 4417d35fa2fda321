import pytest

from registry.quality.linkage import names


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("  Ёлкина ", "елкина"),
        ("ИВАНОВА  -  петрова", "иванова-петрова"),
        ("Иванова\u2011Петрова", "иванова-петрова"),
        ("Сале\u0308хова", "салехова"),  # е + combining diaeresis
        ("Де  ла  Круз", "де ла круз"),
        (None, ""),
    ],
)
def test_fold_unifies_case_yo_spaces_and_dashes(raw, folded):
    assert names.fold(raw) == folded


@pytest.mark.parametrize(
    ("male", "female"),
    [
        ("иванов", "иванова"),
        ("сергеев", "сергеева"),
        ("пушкин", "пушкина"),
        ("птицын", "птицына"),
        ("чайковский", "чайковская"),
        ("вяземский", "вяземская"),
        ("трубецкой", "трубецкая"),
        ("толстой", "толстая"),
        ("белый", "белая"),
        ("зарецкий", "зарецкая"),
    ],
)
def test_gendered_surname_forms_share_a_stem(male, female):
    assert names.surname_stem(male) == names.surname_stem(female)


@pytest.mark.parametrize("surname", ["шевченко", "черных", "цой", "ким", "бондарук"])
def test_surnames_without_gender_keep_their_form(surname):
    assert names.surname_stem(surname) == surname


def test_different_surnames_keep_different_stems():
    assert names.surname_stem("иванова") != names.surname_stem("иванина")
    assert names.surname_stem("петровская") != names.surname_stem("петрова")


def test_double_surname_gives_each_part():
    assert names.surname_parts("иванова-петрова") == ("иванов", "петров")
    assert names.surname_parts("римский-корсаков") == ("римск", "корсаков")
    assert names.surname_key("иванова-петрова") == names.surname_key("иванов-петров")


@pytest.mark.parametrize(
    ("male", "female", "stem"),
    [
        ("сергеевич", "сергеевна", "серге"),
        ("александрович", "александровна", "александр"),
        ("ильич", "ильинична", "иль"),
        ("кузьмич", "кузьминична", "кузьм"),
        ("никитич", "никитична", "никит"),
        ("юрьевич", "юрьевна", "юрь"),
    ],
)
def test_patronymic_forms_of_both_sexes_share_the_fathers_name(male, female, stem):
    assert names.patronymic_stem(male) == names.patronymic_stem(female) == stem


def test_given_names_put_a_swapped_patronymic_back():
    assert names.given_names("сергеевна", "анна") == ("анна", "сергеевна")
    assert names.given_names("анна", "сергеевна") == ("анна", "сергеевна")
    assert names.given_names("анна", "") == ("анна", "")
    # a foreign name with no patronymic is left as it is
    assert names.given_names("джон", "ли") == ("джон", "ли")
