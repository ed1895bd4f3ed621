"""The champion in `scoring.model_registry`: the statuses a registered model can have, and which model scores a month.

Apart from `ml.registry`, which decides promotions, so that `credit status` can ask without
importing the model libraries.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import duckdb

CHAMPION = "champion"  # scores its month and later ones until a better model is promoted
RETIRED = "retired"  # was champion; a later model replaced it
REJECTED = "rejected"  # lost to the champion on rows neither had seen
PENDING = "pending"  # no rows the two could be compared on: the champion keeps scoring
SUPERSEDED = "superseded"  # its month was trained again (new training rows or config)


class Champion(NamedTuple):
    version: str
    training_month: date
    validation_auc: float


def champion_as_of(connection: duckdb.DuckDBPyConnection, month: date | None = None) -> Champion | None:
    """The model that scores `month`: the latest promoted one trained for it or an earlier month.

    A retired model counts, so re-running an old month scores with the model it had then.
    No month means today: the current champion.
    """
    # fetchall, not fetchone: an unfinished result would block the next query on this connection.
    rows = connection.execute(
        """
        select version, training_month, validation_auc from scoring.model_registry
        where status in ($champion, $retired) and ($month is null or training_month <= $month)
        order by training_month desc, registered_at desc limit 1
        """,
        {"champion": CHAMPION, "retired": RETIRED, "month": month},
    ).fetchall()
    return Champion(*rows[0]) if rows else None
