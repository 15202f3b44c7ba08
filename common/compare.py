"""Comparison of measured numbers with a published table, in percent."""

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence

from absl import logging


@dataclasses.dataclass(frozen=True)
class Reference:
  """One published result row.

  Attributes:
    source: who published it, e.g. ``"TF tutorial (small)"``.
    values: metric name -> published value, e.g. ``{"test": 115.91}``.
  """
  source: str
  values: Mapping[str, float]


def compare(measured: Mapping[str, Optional[float]],
            references: Sequence[Reference]) -> List[Dict[str, object]]:
  """Rows of (source, metric, published, measured, delta %).

  ``delta_pct = 100 * (measured - published) / published``; a metric that was
  not measured gets ``measured=None`` and ``delta_pct=None``.
  """
  rows = []
  for ref in references:
    for metric, published in ref.values.items():
      value = measured.get(metric)
      delta = None if value is None else 100.0 * (value - published) / published
      rows.append(dict(source=ref.source, metric=metric, published=published,
                       measured=value, delta_pct=delta))
  return rows


def format_comparison(rows: Sequence[Mapping[str, object]]) -> str:
  """Renders :func:`compare` rows as an aligned text table."""
  lines = ["%-32s %-10s %10s %10s %9s" %
           ("published by", "metric", "published", "measured", "delta")]
  for r in rows:
    measured = "-" if r["measured"] is None else "%.3f" % r["measured"]
    delta = "-" if r["delta_pct"] is None else "%+.2f%%" % r["delta_pct"]
    lines.append("%-32s %-10s %10.3f %10s %9s" %
                 (r["source"], r["metric"], r["published"], measured, delta))
  return "\n".join(lines)


def log_comparison(rows: Sequence[Mapping[str, object]], title: str,
                   if_empty: str) -> None:
  """Logs :func:`compare` rows under ``title``, or ``if_empty`` if none."""
  if rows:
    logging.info("%s:\n%s", title, format_comparison(rows))
  else:
    logging.info("%s", if_empty)
