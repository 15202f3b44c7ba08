"""Preset registries of frozen dataclasses, overrides and validation.

Every workload keeps its presets in a :class:`Registry` of frozen dataclasses
(``small``, ``medium``, ``large``, ``test``, ...). Entry scripts pass the flag
values the user set explicitly to :func:`apply_overrides`; eval variants are
derived with ``dataclasses.replace``. Validation lives in each config's
``__post_init__`` (so ``replace`` re-validates) using the checks below, which
raise :class:`~common.errors.UserError`.
"""

import dataclasses
from typing import Any, Dict, Generic, Mapping, Optional, Tuple, TypeVar

from common.errors import UserError

C = TypeVar("C")


class Registry(Generic[C]):
  """Named presets: ``REGISTRY.get("small")`` or a clear error listing names."""

  def __init__(self, kind: str, presets: Mapping[str, C]):
    self._kind = kind
    self._presets = dict(presets)

  @property
  def names(self):
    return list(self._presets)

  def get(self, name: str) -> C:
    if name not in self._presets:
      raise UserError("unknown %s %r; valid: %s" %
                      (self._kind, name, ", ".join(self._presets)))
    return self._presets[name]


def apply_overrides(config: C, overrides: Mapping[str, Optional[Any]]) -> C:
  """Returns ``config`` with every non-None override applied (re-validated).

  Args:
    config: a frozen dataclass instance.
    overrides: field name -> value; None means "keep the preset's value".

  Raises:
    UserError: an unknown field name or an invalid value.
  """
  fields = {f.name for f in dataclasses.fields(config)}
  changes = {k: v for k, v in overrides.items() if v is not None}
  unknown = sorted(set(changes) - fields)
  if unknown:
    raise UserError("unknown config field(s): %s" % ", ".join(unknown))
  try:
    return dataclasses.replace(config, **changes)
  except (TypeError, ValueError) as e:
    raise UserError(str(e)) from e


# What JSON may hold for a field of each annotated type (a bool is neither).
_JSON_KINDS = {int: int, float: (int, float), str: str}


def from_dict(cls, fields: Mapping[str, Any]):
  """Rebuilds a config dataclass from :func:`to_dict` output.

  Raises:
    UserError: missing, unknown or invalid fields.
  """
  kinds = {f.name: _JSON_KINDS.get(f.type) for f in dataclasses.fields(cls)}
  unknown = sorted(set(fields) - set(kinds))
  missing = [f.name for f in dataclasses.fields(cls) if f.name not in fields
             and f.default is dataclasses.MISSING
             and f.default_factory is dataclasses.MISSING]
  if unknown or missing:
    raise UserError(
        "invalid saved config: not a %s (%s); another workload's run?"
        % (cls.__name__, "; ".join(
            "%s: %s" % (what, ", ".join(names[:5]) + (
                ", ..." if len(names) > 5 else ""))
            for what, names in (("unknown fields", unknown),
                                ("missing fields", missing)) if names)))
  wrong = sorted(k for k, v in fields.items() if kinds.get(k) and (
      isinstance(v, bool) or not isinstance(v, kinds[k])))
  if wrong:
    raise UserError("invalid saved config: wrong type for %s" %
                    ", ".join("%s (%r)" % (k, fields[k]) for k in wrong))
  try:
    return cls(**fields)
  except TypeError as e:
    raise UserError("invalid saved config: %s" % e) from e


def to_dict(config) -> Dict[str, Any]:
  """JSON-friendly dict of a config dataclass."""
  return dataclasses.asdict(config)


# The models compute in float32: a larger value becomes inf inside them.
FLOAT32_MAX = 3.4028234663852886e38


INT64_MAX = 2**63 - 1
MAX_SEED = 2**32 - 1  # The largest seed np.random.seed accepts.


def _largest(value) -> Tuple[float, str]:
  """The largest value a field like ``value`` may hold once it is a
  tensor: an int64 for an int, a float32 for a float."""
  if isinstance(value, int):
    return INT64_MAX, "int64"
  return FLOAT32_MAX, "float32"


def check_positive(config, *names: str) -> None:
  """Raises UserError unless each named field is > 0 and fits its tensor
  type (an int an int64, a float a float32)."""
  for name in names:
    value = getattr(config, name)
    largest, kind = _largest(value)
    if not 0 < value <= largest:
      raise UserError("%s must be positive and at most %.4g (%s), got %r"
                      % (name, largest, kind, value))


def check_non_negative(config, *names: str) -> None:
  """Raises UserError unless each named field is >= 0 and fits its tensor
  type (an int an int64, a float a float32)."""
  for name in names:
    value = getattr(config, name)
    largest, kind = _largest(value)
    if not 0 <= value <= largest:
      raise UserError("%s must be >= 0 and at most %.4g (%s), got %r"
                      % (name, largest, kind, value))


def check_seed(value, where: str = "seed") -> None:
  """Raises UserError unless ``value`` is an int in [0, MAX_SEED]."""
  if (isinstance(value, bool) or not isinstance(value, int)
      or not 0 <= value <= MAX_SEED):
    raise UserError("%s must be an integer in [0, %d], got %r"
                    % (where, MAX_SEED, value))


def check_keep_prob(config, *names: str) -> None:
  """Raises UserError unless each named field is in (0, 1]."""
  for name in names:
    value = getattr(config, name)
    if not 0.0 < value <= 1.0:
      raise UserError("%s must be in (0, 1], got %r" % (name, value))


def check_choice(config, name: str, choices) -> None:
  """Raises UserError unless the named field is one of ``choices``."""
  value = getattr(config, name)
  if value not in choices:
    raise UserError("%s must be one of %s, got %r" %
                    (name, ", ".join(map(str, choices)), value))
