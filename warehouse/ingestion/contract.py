"""The raw-file contract: the 122 columns of Home Credit's `application_train.csv`.

Column order and types are those of the real file (41 integer, 65 float, 16 text
columns). The loader, the generator and the splitter all read them from here, so
there is one definition of what a delivery looks like.
"""

from __future__ import annotations

INTEGER = "BIGINT"
FLOAT = "DOUBLE"
TEXT = "VARCHAR"

KEY = "SK_ID_CURR"
LABEL = "TARGET"

BUILDING_MEASURES = (
    "APARTMENTS",
    "BASEMENTAREA",
    "YEARS_BEGINEXPLUATATION",
    "YEARS_BUILD",
    "COMMONAREA",
    "ELEVATORS",
    "ENTRANCES",
    "FLOORSMAX",
    "FLOORSMIN",
    "LANDAREA",
    "LIVINGAPARTMENTS",
    "LIVINGAREA",
    "NONLIVINGAPARTMENTS",
    "NONLIVINGAREA",
)
BUILDING_STATISTICS = ("AVG", "MODE", "MEDI")
SOCIAL_CIRCLE = (
    "OBS_30_CNT_SOCIAL_CIRCLE",
    "DEF_30_CNT_SOCIAL_CIRCLE",
    "OBS_60_CNT_SOCIAL_CIRCLE",
    "DEF_60_CNT_SOCIAL_CIRCLE",
)
BUREAU_ENQUIRIES = tuple(f"AMT_REQ_CREDIT_BUREAU_{period}" for period in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR"))
DOCUMENT_FLAGS = tuple(f"FLAG_DOCUMENT_{n}" for n in range(2, 22))
CONTACT_FLAGS = (
    "FLAG_MOBIL",
    "FLAG_EMP_PHONE",
    "FLAG_WORK_PHONE",
    "FLAG_CONT_MOBILE",
    "FLAG_PHONE",
    "FLAG_EMAIL",
)
REGION_MISMATCH_FLAGS = (
    "REG_REGION_NOT_LIVE_REGION",
    "REG_REGION_NOT_WORK_REGION",
    "LIVE_REGION_NOT_WORK_REGION",
    "REG_CITY_NOT_LIVE_CITY",
    "REG_CITY_NOT_WORK_CITY",
    "LIVE_CITY_NOT_WORK_CITY",
)


def _building_columns(statistic: str) -> list[tuple[str, str]]:
    return [(f"{measure}_{statistic}", FLOAT) for measure in BUILDING_MEASURES]


COLUMNS: tuple[tuple[str, str], ...] = tuple(
    [
        (KEY, INTEGER),
        (LABEL, INTEGER),
        ("NAME_CONTRACT_TYPE", TEXT),
        ("CODE_GENDER", TEXT),
        ("FLAG_OWN_CAR", TEXT),
        ("FLAG_OWN_REALTY", TEXT),
        ("CNT_CHILDREN", INTEGER),
        ("AMT_INCOME_TOTAL", FLOAT),
        ("AMT_CREDIT", FLOAT),
        ("AMT_ANNUITY", FLOAT),
        ("AMT_GOODS_PRICE", FLOAT),
        ("NAME_TYPE_SUITE", TEXT),
        ("NAME_INCOME_TYPE", TEXT),
        ("NAME_EDUCATION_TYPE", TEXT),
        ("NAME_FAMILY_STATUS", TEXT),
        ("NAME_HOUSING_TYPE", TEXT),
        ("REGION_POPULATION_RELATIVE", FLOAT),
        ("DAYS_BIRTH", INTEGER),
        ("DAYS_EMPLOYED", INTEGER),
        ("DAYS_REGISTRATION", FLOAT),
        ("DAYS_ID_PUBLISH", INTEGER),
        ("OWN_CAR_AGE", FLOAT),
    ]
    + [(flag, INTEGER) for flag in CONTACT_FLAGS]
    + [
        ("OCCUPATION_TYPE", TEXT),
        ("CNT_FAM_MEMBERS", FLOAT),
        ("REGION_RATING_CLIENT", INTEGER),
        ("REGION_RATING_CLIENT_W_CITY", INTEGER),
        ("WEEKDAY_APPR_PROCESS_START", TEXT),
        ("HOUR_APPR_PROCESS_START", INTEGER),
    ]
    + [(flag, INTEGER) for flag in REGION_MISMATCH_FLAGS]
    + [
        ("ORGANIZATION_TYPE", TEXT),
        ("EXT_SOURCE_1", FLOAT),
        ("EXT_SOURCE_2", FLOAT),
        ("EXT_SOURCE_3", FLOAT),
    ]
    + _building_columns("AVG")
    + _building_columns("MODE")
    + _building_columns("MEDI")
    + [
        ("FONDKAPREMONT_MODE", TEXT),
        ("HOUSETYPE_MODE", TEXT),
        ("TOTALAREA_MODE", FLOAT),
        ("WALLSMATERIAL_MODE", TEXT),
        ("EMERGENCYSTATE_MODE", TEXT),
    ]
    + [(column, FLOAT) for column in SOCIAL_CIRCLE]
    + [("DAYS_LAST_PHONE_CHANGE", FLOAT)]
    + [(flag, INTEGER) for flag in DOCUMENT_FLAGS]
    + [(column, FLOAT) for column in BUREAU_ENQUIRIES]
)

COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)
COLUMN_TYPES: dict[str, str] = dict(COLUMNS)

# TARGET may be absent (a month whose outcomes are not known yet); every other column must be there.
REQUIRED_COLUMNS: tuple[str, ...] = tuple(name for name in COLUMN_NAMES if name != LABEL)

assert len(COLUMNS) == 122, len(COLUMNS)

# An outcome delivery: the outcome of applications delivered earlier.
OUTCOME_COLUMNS: tuple[tuple[str, str], ...] = ((KEY, INTEGER), (LABEL, INTEGER))
