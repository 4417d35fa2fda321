"""Record linkage of medical workers: find records that are one person (issue 15).

A standalone package (no Django): Russian name normalisation (`names`), the prepared form of a
worker (`record`), blocking keys (`blocking`), the comparison vector of a pair (`compare`),
Fellegi–Sunter scoring with stored weights and a field-by-field explanation (`model`), and the
training of those weights with Splink (`train`, imports splink lazily).

The comparison levels are written once (`compare.COMPARISONS`) as Python functions and as the
DuckDB SQL Splink runs, so the weights Splink trains score pairs in Python the same way.
"""

from .blocking import blocking_keys
from .compare import compare
from .model import Explanation, Model
from .record import Record, prepare

__all__ = ["Explanation", "Model", "Record", "blocking_keys", "compare", "prepare"]
