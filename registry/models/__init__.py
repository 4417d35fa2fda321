"""The register's rows, one module per topic; Django finds every model through this package."""

from .directories import (
    DIRECTORY_MODELS,
    AccreditationKind,
    DirectoryEntry,
    EducationLevel,
    OrganizationType,
    Position,
    PostType,
    QualificationCategory,
    Region,
    Specialty,
)
from .exports import ExportJob
from .imports import ImportJob, ImportKind
from .organizations import MedicalOrganization, OrganizationLicense
from .quality import (
    DiscrepancyAlert,
    DQAuditRun,
    DuplicateCandidate,
    DuplicateScanRun,
    MergeRequest,
    NameFrequency,
    WorkerAlias,
    WorkerBlockKey,
    WorkerKeyState,
    WorkerMerge,
    WorkforceSnapshot,
)
from .saved import SavedSearch, WatchedWorker
from .search import SearchWord
from .workers import (
    ADMISSION_STATUS_RANK,
    SEARCH_FILTER_COLUMNS,
    AdmissionDocument,
    AdmissionStatus,
    CategoryAssignment,
    ContinuingEducation,
    Education,
    Employment,
    MedicalWorker,
)

__all__ = [
    "ADMISSION_STATUS_RANK",
    "DIRECTORY_MODELS",
    "SEARCH_FILTER_COLUMNS",
    "AccreditationKind",
    "AdmissionDocument",
    "AdmissionStatus",
    "CategoryAssignment",
    "ContinuingEducation",
    "DQAuditRun",
    "DirectoryEntry",
    "DiscrepancyAlert",
    "DuplicateCandidate",
    "DuplicateScanRun",
    "Education",
    "EducationLevel",
    "Employment",
    "ExportJob",
    "ImportJob",
    "ImportKind",
    "MedicalOrganization",
    "MedicalWorker",
    "MergeRequest",
    "NameFrequency",
    "OrganizationLicense",
    "OrganizationType",
    "Position",
    "PostType",
    "QualificationCategory",
    "Region",
    "SavedSearch",
    "SearchWord",
    "Specialty",
    "WatchedWorker",
    "WorkerAlias",
    "WorkerBlockKey",
    "WorkerKeyState",
    "WorkerMerge",
    "WorkforceSnapshot",
]
