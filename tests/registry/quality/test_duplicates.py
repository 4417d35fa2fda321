"""Duplicates of issue 15 in the database: every kind of duplicate found by the scan and by the check of
one record, namesakes and twins left alone, the guarded merge and its approval, the unmerge, aliases,
nothing skipped silently, and the admin screens."""

import datetime as dt

import pytest
from django.urls import reverse

from core.models import AuditEntry
from registry.models import (
    DuplicateCandidate,
    DuplicateScanRun,
    Education,
    EducationLevel,
    Employment,
    MedicalWorker,
    MergeRequest,
    Region,
    Specialty,
    WatchedWorker,
    WorkerAlias,
    WorkerBlockKey,
    WorkerKeyState,
    WorkerMerge,
)
from registry.quality import duplicates, matching, scan
from tests.factories import (
    EmploymentFactory,
    OrganizationFactory,
    StaffFactory,
    UserFactory,
    WorkerFactory,
)
from tests.registry.quality.linkage.kinds import KINDS, NEGATIVES, pair

pytestmark = pytest.mark.django_db


def _worker(fields: dict, region: Region, specialty: Specialty) -> MedicalWorker:
    return WorkerFactory(
        last_name=fields["last_name"].strip(),
        first_name=fields["first_name"].strip(),
        middle_name=fields["middle_name"].strip(),
        sex=fields["sex"],
        birth_date=fields["birth_date"],
        phone=fields["phone"],
        email=fields["email"],
        region=region,
        primary_specialty=specialty,
    )


@pytest.fixture
def directories():
    region = Region.objects.get_or_create(code="50", defaults={"name": "Московская область"})[0]
    specialty = Specialty.objects.get_or_create(code="27", defaults={"name": "Терапия"})[0]
    return region, specialty


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_of_duplicate_is_found_by_the_scan_and_by_the_check_of_one_record(kind, directories):
    original, duplicate = pair(kind)
    a, b = _worker(original, *directories), _worker(duplicate, *directories)

    result = scan.duplicates_detect()

    candidate = DuplicateCandidate.objects.get()
    assert {candidate.worker_a_id, candidate.worker_b_id} == {a.id, b.id}
    assert result.new == 1 and candidate.probability >= matching.THRESHOLD
    assert any(row["agrees"] is True for row in candidate.explanation)
    found = matching.probable_duplicates(fields={**duplicate, "region": directories[0].id}, exclude=[b.id])
    assert [d.worker_id for d in found] == [a.id]


@pytest.mark.parametrize("kind", sorted(NEGATIVES))
def test_namesakes_and_twins_are_never_candidates(kind, directories):
    original, other = pair(kind)
    a, b = _worker(original, *directories), _worker(other, *directories)
    if "employers" in other:  # twins at the same hospital
        organization = OrganizationFactory()
        EmploymentFactory(worker=a, organization=organization)
        EmploymentFactory(worker=b, organization=organization)

    assert scan.duplicates_detect().new == 0
    assert not DuplicateCandidate.objects.exists()
    assert matching.probable_duplicates(fields={**other, "region": directories[0].id}, exclude=[b.id]) == []


def test_a_worker_loaded_around_the_services_gets_keys_from_the_scan(directories):
    original, duplicate = pair("surname_typo")
    a = _worker(original, *directories)
    b = _worker(duplicate, *directories)
    # As after a COPY of millions of rows: no keys, and no record of having computed them.
    WorkerBlockKey.objects.filter(worker=b).delete()
    WorkerKeyState.objects.filter(worker=b).delete()

    result = scan.duplicates_detect()

    assert result.keys_refreshed >= 1 and result.new == 1
    assert WorkerBlockKey.objects.filter(worker=b).exists()
    assert DuplicateCandidate.objects.get().worker_a_id == min(a.id, b.id)


def test_a_block_over_the_cap_is_reported_not_paired_and_never_silently(monkeypatch):
    monkeypatch.setattr(scan, "BLOCK_CAP", 3)
    for _ in range(5):  # a placeholder phone typed for five different people
        WorkerFactory(phone="+70000000000")

    result = scan.duplicates_detect()

    assert result.skipped["phone"] == {"blocks": 1, "pairs": 10}
    assert result.stats["phone"] == {"pairs": 0}


def test_a_dismissed_pair_is_never_offered_again(directories):
    _a, _b = (_worker(fields, *directories) for fields in pair("exact"))
    scan.duplicates_detect()
    candidate = DuplicateCandidate.objects.get()
    duplicates.duplicate_dismiss(candidate_id=candidate.pk, actor=StaffFactory())

    assert scan.duplicates_detect().new == 0
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.DISMISSED


def test_the_check_of_one_record_reads_a_fixed_number_of_rows(directories, django_assert_max_num_queries):
    a, again = (_worker(fields, *directories) for fields in pair("exact"))
    for _ in range(20):
        WorkerFactory()
    fields = {**pair("swap")[1], "region": directories[0].id, "diploma_numbers": ["0099999"]}
    matching.register_size(), matching.term_frequencies()  # cached for minutes in every process
    # Keys, phone, e-mail, document, diploma; then the candidates with their documents, diplomas, employers.
    with django_assert_max_num_queries(9):
        found = matching.probable_duplicates(fields=fields)
    assert {d.worker_id for d in found} == {a.id, again.id}


# --- The guarded merge -------------------------------------------------------------------------------------


def _twins(**second):
    base = {"last_name": "Орлова", "first_name": "Мария", "middle_name": "Ивановна", "birth_date": dt.date(1980, 3, 1)}
    return WorkerFactory(**base), WorkerFactory(**{**base, "inn": None, **second})


@pytest.mark.parametrize(
    ("second", "field"),
    [
        ({"sex": MedicalWorker.Sex.MALE}, "sex"),
        ({"birth_date": dt.date(1981, 3, 1)}, "birth_date"),
        ({"inn": "500100732259"}, "inn"),
    ],
)
def test_a_merge_of_other_sex_birth_date_or_inn_is_refused_without_approval(second, field):
    survivor, merged = _twins(**second)
    with pytest.raises(duplicates.MergeNeedsApproval) as refused:
        duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id, actor=StaffFactory())
    assert [f["field"] for f in refused.value.findings if f["blocking"]] == [field]
    assert MedicalWorker.objects.count() == 2 and not WorkerMerge.objects.exists()


def test_two_confirmed_snils_refuse_a_merge_without_approval():
    confirmed = MedicalWorker.IdentityStatus.CONFIRMED
    survivor, merged = _twins(identity_status=confirmed)
    MedicalWorker.objects.filter(id=survivor.id).update(identity_status=confirmed)
    with pytest.raises(duplicates.MergeNeedsApproval, match="СНИЛС обеих записей подтверждены"):
        duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id)


def test_a_shared_diploma_lets_another_birth_date_merge_without_approval():
    survivor, merged = _twins(birth_date=dt.date(1980, 1, 3))
    level = EducationLevel.objects.create(code="1", name="Высшее")
    for worker in (survivor, merged):
        Education.objects.create(
            worker=worker, level=level, institution="МГМУ", diploma_series="1077", diploma_number="0012345",
            issued_on=dt.date(2003, 6, 30),
        )  # fmt: skip
    findings = duplicates.merge_findings(survivor, merged)
    assert findings[0]["field"] == "birth_date" and not findings[0]["blocking"]
    assert "общий документ: 1077 0012345" in findings[0]["text"]
    duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id)
    assert MedicalWorker.objects.count() == 1


def test_a_second_staff_member_approves_a_refused_merge_and_both_are_in_the_trail():
    survivor, merged = _twins(sex=MedicalWorker.Sex.MALE)
    asker, approver = StaffFactory(), StaffFactory()
    with pytest.raises(duplicates.MergeError, match="Обоснование"):
        duplicates.merge_request_create(survivor_id=survivor.id, merged_id=merged.id, reason=" ", requested_by=asker)
    merge_request = duplicates.merge_request_create(
        survivor_id=survivor.id, merged_id=merged.id, reason="Пол указан ошибочно: паспорт в деле", requested_by=asker
    )
    with pytest.raises(duplicates.MergeError, match="другой сотрудник"):
        duplicates.merge_request_approve(merge_request_id=merge_request.pk, approver=asker)

    record = duplicates.merge_request_approve(merge_request_id=merge_request.pk, approver=approver, note="Проверено")

    assert list(MedicalWorker.objects.values_list("id", flat=True)) == [survivor.id]
    assert record.approved_by == approver and record.merged_by == approver
    assert record.approval_reason == "Пол указан ошибочно: паспорт в деле"
    merge_request.refresh_from_db()
    assert merge_request.status == MergeRequest.Status.APPROVED and merge_request.merge == record
    entry = AuditEntry.objects.get(object_type="worker_merge")
    assert entry.details["approved_by"] == approver.pk and entry.details["requested_by"] == asker.pk
    assert AuditEntry.objects.filter(object_type="merge_request", actor=asker).exists()


def test_a_merge_makes_the_merged_identifiers_aliases_of_the_survivor():
    survivor, merged = _twins(inn="500100732259")
    MedicalWorker.objects.filter(id=survivor.id).update(inn=None)
    record = duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id)
    aliases = {(a.kind, a.value) for a in WorkerAlias.objects.filter(worker=survivor)}
    assert aliases == {("snils", merged.snils), ("registry_number", merged.registry_number)}
    survivor.refresh_from_db()
    assert survivor.inn == "500100732259"  # filled from the merged record, so no INN alias is needed
    assert record.moved["filled"] == {"inn": "500100732259"}


# --- The unmerge -----------------------------------------------------------------------------------------


def test_unmerge_restores_the_record_what_moved_and_what_was_filled():
    survivor, merged = _twins(phone="+79161112233", email="orlova@example.org")
    MedicalWorker.objects.filter(id=survivor.id).update(phone="", email="")
    account = UserFactory()
    MedicalWorker.objects.filter(id=merged.id).update(user=account)
    employment = EmploymentFactory(worker=merged)
    level = EducationLevel.objects.create(code="1", name="Высшее")
    for worker in (survivor, merged):  # the same diploma on both: stays behind, kept in the trail
        Education.objects.create(
            worker=worker, level=level, institution="МГМУ", diploma_number="1", issued_on=dt.date(2000, 6, 30)
        )
    WatchedWorker.objects.create(user=UserFactory(), worker=merged, last_status="none")
    before = MedicalWorker.objects.values().get(id=merged.id)
    scan.duplicates_detect()
    record = duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id)
    assert not MedicalWorker.objects.filter(id=merged.id).exists()

    with pytest.raises(duplicates.MergeError, match="Причина"):
        duplicates.worker_unmerge(merge_id=record.pk, actor=StaffFactory(), reason="")
    restored = duplicates.worker_unmerge(merge_id=record.pk, actor=StaffFactory(), reason="Разные люди: проверено")

    assert restored.id == merged.id
    after = MedicalWorker.objects.values().get(id=merged.id)
    for name in ("registry_number", "snils", "inn", "last_name", "first_name", "birth_date", "phone", "email"):
        assert after[name] == before[name], name
    assert after["user_id"] == account.id
    assert Employment.objects.get(id=employment.id).worker_id == merged.id
    assert WatchedWorker.objects.get().worker_id == merged.id
    assert Education.objects.filter(worker_id=merged.id).count() == 1  # recreated from the trail
    survivor.refresh_from_db()
    assert (survivor.phone, survivor.email, survivor.user_id) == ("", "", None)
    assert not WorkerAlias.objects.exists()
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.DISMISSED
    record.refresh_from_db()
    assert record.unmerged_at is not None and record.unmerge_reason == "Разные люди: проверено"
    assert AuditEntry.objects.filter(object_type="worker_unmerge", object_id=restored.registry_number).exists()
    with pytest.raises(duplicates.MergeError, match="уже отменено"):
        duplicates.worker_unmerge(merge_id=record.pk, actor=StaffFactory(), reason="ещё раз")


def test_unmerge_of_a_chain_gives_back_the_earlier_merge_too():
    a, b = _twins()
    c = WorkerFactory(
        last_name="Орлова", first_name="Мария", middle_name="Ивановна", birth_date=dt.date(1980, 3, 1), inn=None
    )
    duplicates.worker_merge(survivor_id=b.id, merged_id=a.id)
    second = duplicates.worker_merge(survivor_id=c.id, merged_id=b.id)
    assert WorkerAlias.objects.filter(worker=c).count() == 4  # a's and b's SNILS and numbers

    duplicates.worker_unmerge(merge_id=second.pk, actor=StaffFactory(), reason="b и c — разные люди")

    assert set(MedicalWorker.objects.values_list("id", flat=True)) == {b.id, c.id}
    assert WorkerAlias.objects.filter(worker=b).count() == 2 and not WorkerAlias.objects.filter(worker=c).exists()
    assert WorkerMerge.objects.get(merged_worker_id=a.id).survivor_id == b.id


# --- The scan as a job, and the admin screens ---------------------------------------------------------------


def test_the_scan_job_runs_once_with_progress(directories, on_commit_immediate):
    for fields in pair("swap"):
        _worker(fields, *directories)
    run = scan.duplicate_scan_start(requested_by=StaffFactory())  # inline: runs at once
    run.refresh_from_db()
    assert run.status == DuplicateScanRun.Status.DONE and run.progress == 100
    assert run.candidates_new == 1 and run.pairs >= 1 and run.skipped == {}
    assert scan.duplicate_scan_run(run_id=run.pk) == "skipped"


def test_the_admin_compares_explains_and_merges(admin_client, directories):
    a, b = (_worker(fields, *directories) for fields in pair("female_male"))
    MedicalWorker.objects.filter(id=b.id).update(inn=None)
    scan.duplicates_detect()
    candidate = DuplicateCandidate.objects.get()

    page = admin_client.get(reverse("admin:registry_duplicatecandidate_changelist")).content.decode()
    assert f"{candidate.probability:.0%}" in page and "Сравнить и решить" in page
    page = admin_client.get(reverse("admin:registry_duplicatecandidate_compare", args=[candidate.pk])).content.decode()
    assert "Фамилия: совпадает с точностью до окончания рода" in page and a.snils_display in page
    assert AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, object_type="duplicate_candidate").exists()

    response = admin_client.post(
        reverse("admin:registry_duplicatecandidate_decide", args=[candidate.pk]), {"decision": "keep_first"}
    )
    assert response.status_code == 302
    assert list(MedicalWorker.objects.values_list("id", flat=True)) == [candidate.worker_a_id]


def test_the_admin_asks_for_approval_and_another_staff_member_gives_it(client, admin_client, directories):
    _a, _b = _twins(sex=MedicalWorker.Sex.MALE)
    scan.duplicates_detect()  # vetoed? no: the same name and birth date; the sex alone differs
    candidate = DuplicateCandidate.objects.get()
    url = reverse("admin:registry_duplicatecandidate_decide", args=[candidate.pk])
    admin_client.post(url, {"decision": "keep_first"})
    assert MedicalWorker.objects.count() == 2  # refused: needs approval
    admin_client.post(url, {"decision": "keep_first", "request_approval": "1", "reason": "Пол введён ошибочно"})
    merge_request = MergeRequest.objects.get()

    second = StaffFactory(is_superuser=True)
    client.force_login(second)
    page = client.get(reverse("admin:registry_mergerequest_change", args=[merge_request.pk])).content.decode()
    assert "Подтвердить и объединить" in page and "Пол введён ошибочно" in page
    client.post(reverse("admin:registry_mergerequest_decide", args=[merge_request.pk]), {"decision": "approve"})
    assert MedicalWorker.objects.count() == 1
    assert WorkerMerge.objects.get().approved_by == second


def test_the_admin_unmerges_from_the_trail(admin_client):
    a, b = _twins()
    record = duplicates.worker_merge(survivor_id=a.id, merged_id=b.id)
    page = admin_client.get(reverse("admin:registry_workermerge_change", args=[record.pk])).content.decode()
    assert "Разъединить" in page
    admin_client.post(reverse("admin:registry_workermerge_unmerge", args=[record.pk]), {"reason": "Разные люди"})
    assert MedicalWorker.objects.filter(id=b.id).exists()


def test_staff_without_the_permission_cannot_decide(client):
    _a, _b = _twins()
    scan.duplicates_detect()
    candidate = DuplicateCandidate.objects.get()
    client.force_login(StaffFactory())
    response = client.post(
        reverse("admin:registry_duplicatecandidate_decide", args=[candidate.pk]), {"decision": "keep_first"}
    )
    assert response.status_code == 403
    assert MedicalWorker.objects.count() == 2


def test_the_merged_number_leads_to_the_survivor_publicly_and_in_the_admin(client, admin_client):
    survivor, merged = _twins()
    duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id)

    response = client.get(reverse("registry:profile", args=[merged.registry_number]))
    assert response.status_code == 301
    assert response["Location"] == reverse("registry:profile", args=[survivor.registry_number])
    assert client.get(reverse("registry:profile", args=["0000000000"])).status_code == 404
    for term in (merged.snils_display, merged.registry_number_display):
        page = admin_client.get(reverse("admin:registry_medicalworker_changelist"), {"q": term}).content.decode()
        assert f">{survivor.registry_number}<" in page, term


def test_the_api_and_fhir_answer_a_merged_number_with_the_survivor(client):
    survivor, merged = _twins()
    duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id)
    body = client.get(f"/api/v1/workers/{merged.registry_number}/").json()
    assert body["registry_number"] == survivor.registry_number
    response = client.get(f"/fhir/Practitioner/{merged.registry_number_display}")
    assert response.status_code == 200 and survivor.registry_number in response.content.decode()
