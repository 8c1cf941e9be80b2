"""The results contract: what experiments write and the report reads.

Both ``experiments/`` and ``report/`` import this package, and it imports neither. It owns the
JSON schema and its version history, typed ``Case``/``ResultsFile`` objects with a validating
``load`` and an atomic ``dump``, the upgrade path for older files, the shared vocabulary
(frameworks, modes, statuses, units, metrics, the noise threshold) and how a case's identity
is written. See experiments/README.md for the file format.
"""

from results_contract.errors import ResultsError, UsageError, UserError
from results_contract.ids import case_id, format_params
from results_contract.model import Case, Folder, ResultsFile, dump, load, load_folder, parse
from results_contract.schema import RESULTS_SCHEMA, SCHEMA_VERSION

__all__ = ["Case", "Folder", "RESULTS_SCHEMA", "ResultsError", "ResultsFile", "SCHEMA_VERSION",
           "UsageError", "UserError", "case_id", "dump", "format_params", "load", "load_folder",
           "parse"]
