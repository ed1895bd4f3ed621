"""Synthetic applications with the schema and the distributions of Home Credit's application_train.

Every figure used here comes from `shared/data/home_credit_profile.md`: level counts,
quantiles, missing rates, the blocks of columns that go missing together, the
DAYS_EMPLOYED = 365243 anomaly (exactly the pensioners and unemployed, exactly
ORGANIZATION_TYPE = XNA), and TARGET drawn from a risk model in which EXT_SOURCE_1..3 are
the strongest signals, then age, gender, education, income type, contract type and the
region rating. The overall default rate is calibrated to 8.07 %.

TARGET depends on the published columns only, plus one independent uniform draw per row,
so the probability it was drawn with is the best score any model could give: `generate`
returns it, and its AUC on a month's rows is the ceiling a trained model is measured against.

Rare levels are allocated by exact counts scaled to the row count, so a full-size file
holds the 4 `XNA` genders, 2 `Unknown` family statuses and 5 `Maternity leave` rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr, ndtri

from warehouse.ingestion.contract import (
    BUREAU_ENQUIRIES,
    COLUMN_NAMES,
    DOCUMENT_FLAGS,
    SOCIAL_CIRCLE,
)
from warehouse.sample_data import levels

TARGET_RATE = 0.0807288
ANOMALY_DAYS = 365_243

# Quantile tables (probability → value) read off the profile; values between the points
# are interpolated, so each column's quartiles and range match the real file.
AGE_DAYS_QUANTILES = (
    (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0),
    (7489, 10284, 11694, 13140, 14416, 15750, 17220, 18885, 20474, 22181, 24419, 25229),
)
INCOME_QUANTILES = (
    (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 0.9999, 1.0),
    (25650, 81000, 99000, 112500, 135000, 147150, 162000, 180000, 225000, 270000, 472500, 1.5e6, 4.5e6),
)
GOODS_PRICE_QUANTILES = (
    (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 0.9995, 1.0),
    (40500, 180000, 225000, 270000, 378000, 450000, 522000, 675000, 814500, 1093500, 1800000, 2250000, 4050000),
)
EMPLOYED_DAYS_QUANTILES = (
    (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0),
    (0, 767, 1648, 3175, 5300, 10500, 17912),
)
REGISTRATION_DAYS_QUANTILES = ((0.0, 0.25, 0.5, 0.75, 0.99, 1.0), (0, 2010, 4504, 7479.5, 14500, 24672))
ID_PUBLISH_DAYS_QUANTILES = ((0.0, 0.25, 0.5, 0.75, 1.0), (0, 1720, 3254, 4299, 7197))
PHONE_CHANGE_DAYS_QUANTILES = ((0.0, 0.12, 0.25, 0.5, 0.75, 0.99, 1.0), (0, 0, 274, 757, 1570, 3200, 4292))
CAR_AGE_QUANTILES = ((0.0, 0.25, 0.5, 0.75, 0.96, 0.975, 0.995, 1.0), (0, 5, 9, 15, 28, 64, 65, 91))
POPULATION_QUANTILES = ((0.0, 0.25, 0.5, 0.75, 0.95, 1.0), (0.00029, 0.010006, 0.01885, 0.028663, 0.04622, 0.072508))
EXT_SOURCE_QUANTILES = {
    "EXT_SOURCE_1": ((0.0, 0.25, 0.5, 0.75, 1.0), (0.01456813, 0.334007, 0.505998, 0.675053, 0.9626928)),
    "EXT_SOURCE_2": ((0.0, 0.01, 0.25, 0.5, 0.75, 1.0), (8.173617e-08, 0.05, 0.392457, 0.565961, 0.663617, 0.8549997)),
    "EXT_SOURCE_3": ((0.0, 0.01, 0.25, 0.5, 0.75, 1.0), (0.0005272652, 0.06, 0.37065, 0.535276, 0.669057, 0.8960095)),
}
EXT_SOURCE_MISSING = {"EXT_SOURCE_1": 0.5638, "EXT_SOURCE_2": 0.0021, "EXT_SOURCE_3": 0.1983}

# Per building measure: missing rate and AVG quartiles (min 0, max 1 for all).
BUILDING_PROFILE = {
    "APARTMENTS": (0.5075, (0.0577, 0.0876, 0.1485)),
    "BASEMENTAREA": (0.5852, (0.0442, 0.0763, 0.1122)),
    "YEARS_BEGINEXPLUATATION": (0.4878, (0.9767, 0.9816, 0.9866)),
    "YEARS_BUILD": (0.6650, (0.6872, 0.7552, 0.8232)),
    "COMMONAREA": (0.6987, (0.0078, 0.0211, 0.0515)),
    "ELEVATORS": (0.5330, (0.0, 0.0, 0.12)),
    "ENTRANCES": (0.5035, (0.069, 0.1379, 0.2069)),
    "FLOORSMAX": (0.4976, (0.1667, 0.1667, 0.3333)),
    "FLOORSMIN": (0.6785, (0.0833, 0.2083, 0.375)),
    "LANDAREA": (0.5938, (0.0187, 0.0481, 0.0856)),
    "LIVINGAPARTMENTS": (0.6836, (0.0504, 0.0756, 0.121)),
    "LIVINGAREA": (0.5019, (0.0453, 0.0745, 0.1299)),
    "NONLIVINGAPARTMENTS": (0.6943, (0.0, 0.0, 0.0039)),
    "NONLIVINGAREA": (0.5518, (0.0, 0.0036, 0.0277)),
}
TOTALAREA_PROFILE = (0.4827, (0.0412, 0.0688, 0.1276))
BUILDING_CATEGORICAL_MISSING = {
    "EMERGENCYSTATE_MODE": 0.4740,
    "HOUSETYPE_MODE": 0.5018,
    "WALLSMATERIAL_MODE": 0.5084,
    "FONDKAPREMONT_MODE": 0.6839,
}

CHILDREN_COUNTS = {
    0: 215_371,
    1: 61_119,
    2: 26_749,
    3: 3_717,
    4: 429,
    5: 84,
    6: 21,
    7: 7,
    8: 2,
    9: 2,
    10: 2,
    11: 1,
    12: 2,
    14: 3,
    19: 2,
}
DOCUMENT_RATES = {
    2: 0.000042,
    4: 0.000081,
    5: 0.015115,
    7: 0.000192,
    9: 0.003896,
    10: 0.000023,
    11: 0.003912,
    12: 0.000007,
    13: 0.003525,
    14: 0.002936,
    15: 0.00121,
    16: 0.009928,
    17: 0.000267,
    18: 0.00813,
    19: 0.000595,
    20: 0.000507,
    21: 0.000335,
}
CONTACT_RATES = {
    "FLAG_WORK_PHONE": 0.199368,
    "FLAG_CONT_MOBILE": 0.998133,
    "FLAG_PHONE": 0.281066,
    "FLAG_EMAIL": 0.05672,
}
REGION_MISMATCH_RATES = {
    "REG_REGION_NOT_LIVE_REGION": 0.015144,
    "REG_REGION_NOT_WORK_REGION": 0.050769,
    "REG_CITY_NOT_LIVE_CITY": 0.078173,
    "REG_CITY_NOT_WORK_CITY": 0.230454,
}
BUREAU_MEANS = {"HOUR": 0.0064, "DAY": 0.007, "WEEK": 0.0344, "MON": 0.2674, "QRT": 0.2655, "YEAR": 1.90}

# Log-odds weight of each external score's normal score (missing scores add nothing here and
# have an effect of their own below). The three see one creditworthiness through their own
# noise, so together they carry more than any one of them.
EXT_SOURCE_WEIGHTS = {"EXT_SOURCE_1": 0.33, "EXT_SOURCE_2": 0.45, "EXT_SOURCE_3": 0.48}

# Log-odds effects on default, on top of the external scores.
# Sizes are the real segment log-odds ratios, shrunk where the segments overlap (age, pensioners).
EDUCATION_EFFECT = {
    "Secondary / secondary special": 0.0,
    "Higher education": -0.5,
    "Incomplete higher": -0.05,
    "Lower secondary": 0.22,
    "Academic degree": -1.3,
}
INCOME_TYPE_EFFECT = {
    "Working": 0.12,
    "Commercial associate": -0.05,
    "Pensioner": -0.05,
    "State servant": -0.28,
    "Unemployed": 1.7,
    "Student": -2.0,
    "Businessman": -2.0,
    "Maternity leave": 1.9,
}
FAMILY_EFFECT = {
    "Married": -0.05,
    "Single / not married": 0.08,
    "Civil marriage": 0.12,
    "Separated": 0.02,
    "Widow": -0.05,
    "Unknown": -2.0,
}
HOUSING_EFFECT = {
    "House / apartment": 0.0,
    "With parents": 0.2,
    "Municipal apartment": 0.12,
    "Rented apartment": 0.35,
    "Office apartment": -0.2,
    "Co-op apartment": 0.05,
}
OCCUPATION_EFFECT = {
    "Laborers": 0.15,
    "Low-skill Laborers": 0.65,
    "Drivers": 0.22,
    "Waiters/barmen staff": 0.2,
    "Security staff": 0.2,
    "Cooking staff": 0.12,
    "Cleaning staff": 0.05,
    "Sales staff": 0.08,
    "Accountants": -0.35,
    "IT staff": -0.3,
    "Managers": -0.2,
    "Core staff": -0.2,
    "HR staff": -0.2,
    "High skill tech staff": -0.2,
    "Medicine staff": -0.1,
}
ORGANIZATION_EFFECT = {
    "Construction": 0.25,
    "Trade: type 3": 0.2,
    "Self-employed": 0.15,
    "Transport: type 3": 0.25,
    "Restaurant": 0.2,
    "Industry: type 1": 0.15,
    "Realtor": 0.2,
    "Agriculture": 0.1,
    "Government": -0.08,
    "School": -0.2,
    "Bank": -0.3,
    "Military": -0.3,
    "Police": -0.3,
    "University": -0.3,
    "Security Ministries": -0.3,
    "Trade: type 4": -0.4,
}
WALLS_EFFECT = {"Panel": -0.15, "Stone, brick": 0.0, "Block": -0.05, "Wooden": 0.2, "Monolithic": -0.3}


def _exact_counts(counts: dict, n: int) -> np.ndarray:
    """Scale real counts to n rows by largest remainder, so rare levels keep their exact share."""
    values = np.array(list(counts.values()), dtype=float)
    share = values / values.sum() * n
    whole = np.floor(share).astype(int)
    remainder = n - whole.sum()
    whole[np.argsort(-(share - whole), kind="stable")[:remainder]] += 1
    return whole


def _allocate(rng: np.random.Generator, counts: dict, n: int) -> np.ndarray:
    labels = np.array(list(counts.keys()), dtype=object)
    return rng.permutation(np.repeat(labels, _exact_counts(counts, n)))


def _exact_mask(rng: np.random.Generator, n: int, rate: float, among: np.ndarray | None = None) -> np.ndarray:
    """A boolean mask with round(rate * n) True values, placed at random (optionally only among `among`)."""
    candidates = np.flatnonzero(among) if among is not None else np.arange(n)
    chosen = rng.choice(candidates, size=min(len(candidates), int(round(rate * n))), replace=False)
    mask = np.zeros(n, dtype=bool)
    mask[chosen] = True
    return mask


def _from_quantiles(u: np.ndarray, table: tuple) -> np.ndarray:
    probabilities, values = table
    return np.interp(u, probabilities, values)


def _correlated_uniform(rng: np.random.Generator, driver: np.ndarray, weight: float) -> np.ndarray:
    """A uniform variable whose normal score has correlation `weight` with the standard normal `driver`."""
    return ndtr(weight * driver + np.sqrt(1.0 - weight**2) * rng.standard_normal(len(driver)))


def _effect(values: np.ndarray, effects: dict) -> np.ndarray:
    return np.array([effects.get(value, 0.0) for value in values], dtype=float)


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(values / step) * step


@dataclass(frozen=True)
class GeneratedApplications:
    """The applications and, per row, the default probability TARGET was drawn with."""

    frame: pd.DataFrame
    true_probability: np.ndarray
    # The same score without its sex term, recentred on the same default rate: the ceiling for a
    # model that may not use sex (a protected attribute), which `make bench` measures against.
    true_probability_without_sex: np.ndarray | None = None


_REAL_ID_SPAN = 456_256 - 100_002


def id_span(rows: int) -> int:
    """The real file's ids, 100002 to 456255; a larger lender's spread as thinly over a longer range."""
    if rows <= levels.REAL_ROW_COUNT:
        return _REAL_ID_SPAN
    return -(-rows * _REAL_ID_SPAN // levels.REAL_ROW_COUNT)


def generate(rows: int = levels.REAL_ROW_COUNT, seed: int = 42) -> GeneratedApplications:
    """Applications with the 122 columns of application_train.csv, plus their true default probability."""
    if rows < 100:
        raise ValueError(f"rows must be at least 100, got {rows}")
    rng = np.random.default_rng(seed)
    n = rows
    full_size = n >= levels.REAL_ROW_COUNT
    data: dict[str, np.ndarray] = {}

    data["SK_ID_CURR"] = np.sort(rng.choice(np.arange(100_002, 100_002 + id_span(n)), size=n, replace=False))

    # Age first: income type, employment, children and the first external score depend on it.
    age_days = np.round(_from_quantiles(rng.random(n), AGE_DAYS_QUANTILES))
    age_z = (age_days - 16037.0) / 4364.0
    data["DAYS_BIRTH"] = -age_days.astype(np.int64)

    # The oldest applicants (with some noise) are the pensioners: 18 % of rows.
    not_employed_share = (
        levels.NAME_INCOME_TYPE["Pensioner"] + levels.NAME_INCOME_TYPE["Unemployed"]
    ) / levels.REAL_ROW_COUNT
    pension_score = age_z + rng.normal(0, 0.35, n)
    pensioner = np.zeros(n, dtype=bool)
    pensioner[np.argsort(-pension_score)[: int(round(not_employed_share * n))]] = True
    income_type = np.empty(n, dtype=object)
    not_working = {k: v for k, v in levels.NAME_INCOME_TYPE.items() if k in levels.NOT_EMPLOYED_INCOME_TYPES}
    working = {k: v for k, v in levels.NAME_INCOME_TYPE.items() if k not in levels.NOT_EMPLOYED_INCOME_TYPES}
    income_type[pensioner] = _allocate(rng, not_working, int(pensioner.sum()))
    income_type[~pensioner] = _allocate(rng, working, int((~pensioner).sum()))
    data["NAME_INCOME_TYPE"] = income_type
    anomaly = pensioner

    gender = _allocate(rng, levels.CODE_GENDER, n)
    data["CODE_GENDER"] = gender
    male = gender == "M"

    # Socio-economic status drives education, income and the size of the loan.
    status = rng.standard_normal(n)
    # Education by status rank: the highest status rows get the highest degrees, with noise.
    education_by_rank = (
        "Academic degree",
        "Higher education",
        "Incomplete higher",
        "Secondary / secondary special",
        "Lower secondary",
    )
    education_counts = {level: levels.NAME_EDUCATION_TYPE[level] for level in education_by_rank}
    education = np.empty(n, dtype=object)
    education[np.argsort(-(status + rng.normal(0, 0.9, n)))] = np.repeat(
        np.array(education_by_rank, dtype=object), _exact_counts(education_counts, n)
    )
    data["NAME_EDUCATION_TYPE"] = education

    data["NAME_CONTRACT_TYPE"] = _allocate(rng, levels.NAME_CONTRACT_TYPE, n)
    revolving = data["NAME_CONTRACT_TYPE"] == "Revolving loans"

    car_weight = np.where(male, 0.55, 0.24)
    own_car = rng.random(n) < car_weight * (104_587 / 307_511) / np.mean(car_weight)
    data["FLAG_OWN_CAR"] = np.where(own_car, "Y", "N").astype(object)
    data["FLAG_OWN_REALTY"] = np.where(rng.random(n) < 213_312 / 307_511, "Y", "N").astype(object)

    family = _allocate(rng, levels.NAME_FAMILY_STATUS, n)
    data["NAME_FAMILY_STATUS"] = family
    partnered = np.isin(family, ["Married", "Civil marriage"])
    # Children live with the younger applicants: the most children go to the youngest (with noise).
    youngest_first = np.argsort(age_z + rng.normal(0, 1.2, n))
    children = np.empty(n, dtype=np.int64)
    children[youngest_first] = np.sort(_allocate(rng, CHILDREN_COUNTS, n).astype(np.int64))[::-1]
    data["CNT_CHILDREN"] = children
    family_members = (children + np.where(partnered, 2, 1)).astype(float)
    family_members[_exact_mask(rng, n, 2 / 307_511)] = np.nan
    data["CNT_FAM_MEMBERS"] = family_members

    data["NAME_TYPE_SUITE"] = _allocate(rng, {**levels.NAME_TYPE_SUITE, None: levels.NAME_TYPE_SUITE_MISSING}, n)
    data["NAME_HOUSING_TYPE"] = _allocate(rng, levels.NAME_HOUSING_TYPE, n)

    # Amounts: income from status and gender; goods price from income; credit from goods price.
    income_u = _correlated_uniform(rng, 0.45 * status + 0.25 * np.where(male, 1, -0.5), 0.55)
    income = _from_quantiles(income_u, INCOME_QUANTILES)
    round_income = rng.random(n) < 0.75
    income = np.where(round_income, _round_to(income, 22_500), _round_to(income, 450))
    income = np.clip(income, 25_650, None)
    if full_size:
        income[rng.integers(n)] = 117_000_000.0
    data["AMT_INCOME_TOTAL"] = income

    goods_u = _correlated_uniform(rng, ndtri(np.clip(income_u, 1e-9, 1 - 1e-9)), 0.4)
    goods = _from_quantiles(goods_u, GOODS_PRICE_QUANTILES)
    goods = np.where(rng.random(n) < 0.8, _round_to(goods, 4_500), _round_to(goods, 500))
    goods = np.where(revolving, _round_to(np.clip(goods * 0.35, 45_000, 1_350_000), 22_500), goods)
    goods = np.clip(goods, 40_500, 4_050_000)
    markup = np.where(revolving, 1.0, 1.0 + np.abs(rng.normal(0.08, 0.12, n)))
    credit = _round_to(np.clip(goods * markup, 45_000, 4_050_000), 0.5)
    data["AMT_CREDIT"] = credit

    # Bigger loans run over longer terms, so the annuity grows slower than the credit;
    # revolving loans pay 5 % of the limit a month.
    annuity = 24_903 * (credit / 513_531) ** 0.55 * rng.lognormal(0.0, 0.25, n)
    payment_rate = np.where(revolving, 0.05, np.clip(annuity / credit, 0.022, 0.124))
    annuity = _round_to(credit * payment_rate, 4.5)
    annuity[_exact_mask(rng, n, 12 / 307_511, among=~revolving)] = np.nan
    data["AMT_ANNUITY"] = np.clip(annuity, 1_615.5, 258_025.5)
    goods_price = goods.astype(float)
    goods_price[_exact_mask(rng, n, 278 / 307_511, among=revolving)] = np.nan
    data["AMT_GOODS_PRICE"] = goods_price

    # Region: population and rating move together (big cities have rating 1).
    region_u = rng.random(n)
    data["REGION_POPULATION_RELATIVE"] = np.round(
        _from_quantiles(np.floor(region_u * 81) / 80, POPULATION_QUANTILES), 6
    )
    region_score = region_u + rng.normal(0, 0.12, n)
    rating_w_city = np.where(region_score > np.quantile(region_score, 1 - 34_167 / 307_511), 1, 2)
    rating_w_city = np.where(region_score < np.quantile(region_score, 43_860 / 307_511), 3, rating_w_city)
    rating = rating_w_city.copy()
    moved = rng.random(n) < 0.06
    rating[moved] = np.clip(rating_w_city[moved] + rng.choice([-1, 1], size=int(moved.sum())), 1, 3)
    data["REGION_RATING_CLIENT"] = rating.astype(np.int64)
    data["REGION_RATING_CLIENT_W_CITY"] = rating_w_city.astype(np.int64)

    # Days: employment is bounded by working age; the anomaly marks the not employed.
    employed_days = np.round(_from_quantiles(rng.random(n), EMPLOYED_DAYS_QUANTILES))
    employed_days = np.minimum(employed_days, np.maximum(age_days - 18 * 365, 0))
    data["DAYS_EMPLOYED"] = np.where(anomaly, ANOMALY_DAYS, -employed_days).astype(np.int64)
    registration = _from_quantiles(rng.random(n), REGISTRATION_DAYS_QUANTILES)
    data["DAYS_REGISTRATION"] = 0.0 - np.round(np.minimum(registration, age_days - 3650))
    id_publish = np.round(_from_quantiles(_correlated_uniform(rng, -age_z, -0.3), ID_PUBLISH_DAYS_QUANTILES))
    data["DAYS_ID_PUBLISH"] = -np.minimum(id_publish, age_days - 5000).astype(np.int64)
    car_age = np.round(_from_quantiles(rng.random(n), CAR_AGE_QUANTILES))
    car_age_known = own_car & ~_exact_mask(rng, n, 5 / 307_511, among=own_car)
    data["OWN_CAR_AGE"] = np.where(car_age_known, car_age, np.nan)

    data["FLAG_MOBIL"] = np.ones(n, dtype=np.int64)
    if full_size:
        data["FLAG_MOBIL"][rng.integers(n)] = 0
    emp_phone = ~anomaly
    emp_phone[_exact_mask(rng, n, 12 / 307_511, among=~anomaly)] = False
    data["FLAG_EMP_PHONE"] = emp_phone.astype(np.int64)
    for flag, rate in CONTACT_RATES.items():
        data[flag] = (rng.random(n) < rate).astype(np.int64)

    occupation_share = sum(levels.OCCUPATION_TYPE.values()) / ((~anomaly).mean() * levels.REAL_ROW_COUNT)
    occupation = np.full(n, None, dtype=object)
    has_occupation = ~anomaly & (rng.random(n) < occupation_share)
    occupation[has_occupation] = _allocate(rng, levels.OCCUPATION_TYPE, int(has_occupation.sum()))
    data["OCCUPATION_TYPE"] = occupation

    data["WEEKDAY_APPR_PROCESS_START"] = _allocate(rng, levels.WEEKDAY_APPR_PROCESS_START, n)
    data["HOUR_APPR_PROCESS_START"] = np.clip(np.round(rng.normal(12.06, 3.27, n)), 0, 23).astype(np.int64)

    mismatch = {flag: rng.random(n) < rate for flag, rate in REGION_MISMATCH_RATES.items()}
    mismatch["LIVE_REGION_NOT_WORK_REGION"] = np.where(
        mismatch["REG_REGION_NOT_WORK_REGION"], rng.random(n) < 0.75, rng.random(n) < 0.0027
    )
    mismatch["LIVE_CITY_NOT_WORK_CITY"] = np.where(
        mismatch["REG_CITY_NOT_WORK_CITY"], rng.random(n) < 0.70, rng.random(n) < 0.0236
    )
    for flag in (
        "REG_REGION_NOT_LIVE_REGION",
        "REG_REGION_NOT_WORK_REGION",
        "LIVE_REGION_NOT_WORK_REGION",
        "REG_CITY_NOT_LIVE_CITY",
        "REG_CITY_NOT_WORK_CITY",
        "LIVE_CITY_NOT_WORK_CITY",
    ):
        data[flag] = mismatch[flag].astype(np.int64)

    organization = np.full(n, "XNA", dtype=object)
    organization[~anomaly] = _allocate(rng, levels.ORGANIZATION_TYPE, int((~anomaly).sum()))
    data["ORGANIZATION_TYPE"] = organization

    # Creditworthiness: what the external bureaus see. Each score sees it through its own noise.
    creditworthiness = rng.standard_normal(n)
    ext_latent = {
        "EXT_SOURCE_1": 0.55 * creditworthiness + 0.55 * age_z + 0.63 * rng.standard_normal(n),
        "EXT_SOURCE_2": 0.72 * creditworthiness + 0.69 * rng.standard_normal(n),
        "EXT_SOURCE_3": 0.74 * creditworthiness + 0.18 * age_z + 0.65 * rng.standard_normal(n),
    }
    ext_missing, ext_risk = {}, np.zeros(n)
    for column, latent in ext_latent.items():
        z = (latent - latent.mean()) / latent.std()
        values = _from_quantiles(ndtr(z), EXT_SOURCE_QUANTILES[column])
        ext_missing[column] = _exact_mask(rng, n, EXT_SOURCE_MISSING[column])
        data[column] = np.where(ext_missing[column], np.nan, values)
        # The published value determines z (the quantile map is strictly increasing), so this
        # term is a function of the observed column: the label never sees creditworthiness itself.
        ext_risk -= EXT_SOURCE_WEIGHTS[column] * np.where(ext_missing[column], 0.0, z)

    # Building block: one draw per row decides which fields are missing, so they go missing together.
    building_u = rng.random(n)
    building_size = rng.standard_normal(n)
    building_values = {}
    for measure, (missing_rate, (q1, q2, q3)) in BUILDING_PROFILE.items():
        # A few rows break the pattern, as in the real file, where the measures' missing counts differ.
        field_u = np.where(rng.random(n) < 0.005, rng.random(n), building_u)
        present = field_u > missing_rate
        size_u = _correlated_uniform(rng, building_size, 0.8)
        table = ((0.0, 0.25, 0.5, 0.75, 0.99, 1.0), (0.0, q1, q2, q3, min(1.0, q3 + 2.5 * (q3 - q1) + 0.02), 1.0))
        if measure == "YEARS_BEGINEXPLUATATION":
            table = ((0.0, 0.005, 0.25, 0.5, 0.75, 0.999, 1.0), (0.0, 0.8, q1, q2, q3, 0.9995, 1.0))
        base = _from_quantiles(size_u, table)
        for statistic, spread in (("AVG", 0.0), ("MODE", 0.03), ("MEDI", 0.015)):
            jitter = np.clip(size_u + rng.normal(0, spread, n), 0, 1) if spread else size_u
            values = np.round(_from_quantiles(jitter, table) if spread else base, 4)
            building_values[f"{measure}_{statistic}"] = np.where(present, values, np.nan)
    data.update(building_values)
    totalarea_missing, (t1, t2, t3) = TOTALAREA_PROFILE
    totalarea_table = ((0.0, 0.25, 0.5, 0.75, 0.99, 1.0), (0.0, t1, t2, t3, 0.6, 1.0))
    totalarea = np.round(_from_quantiles(_correlated_uniform(rng, building_size, 0.9), totalarea_table), 4)
    data["TOTALAREA_MODE"] = np.where(building_u > totalarea_missing, totalarea, np.nan)
    for column, missing_rate in BUILDING_CATEGORICAL_MISSING.items():
        present = building_u > missing_rate
        column_values = np.full(n, None, dtype=object)
        column_values[present] = _allocate(rng, levels.CATEGORICAL_LEVELS[column], int(present.sum()))
        data[column] = column_values

    # Social circle and bureau enquiries: counts with long tails, each block missing together.
    social_missing = _exact_mask(rng, n, 1_021 / 307_511)
    observed_30 = rng.negative_binomial(0.5, 0.5 / (0.5 + 1.42), n).astype(float)
    if full_size:
        observed_30[rng.integers(n)] = 348
    observed_60 = np.maximum(observed_30 - rng.binomial(1, 0.02, n), 0)
    defaulted_30 = rng.binomial(observed_30.astype(np.int64), 0.1).astype(float)
    defaulted_60 = rng.binomial(defaulted_30.astype(np.int64), 0.7).astype(float)
    for column, values in zip(SOCIAL_CIRCLE, (observed_30, defaulted_30, observed_60, defaulted_60), strict=True):
        data[column] = np.where(social_missing, np.nan, values)

    phone_change = _from_quantiles(rng.random(n), PHONE_CHANGE_DAYS_QUANTILES)
    phone_change = 0.0 - np.round(phone_change)
    phone_change[_exact_mask(rng, n, 1 / 307_511)] = np.nan
    data["DAYS_LAST_PHONE_CHANGE"] = phone_change

    # Document 3 is the usual one; 6 and 8 stand in for it on other products.
    main_document = rng.choice(
        np.array([3, 6, 8, 0]), size=n, p=[0.710023, 0.088055, 0.081376, 1 - 0.710023 - 0.088055 - 0.081376]
    )
    for flag in DOCUMENT_FLAGS:
        number = int(flag.rsplit("_", 1)[1])
        if number in (3, 6, 8):
            data[flag] = (main_document == number).astype(np.int64)
        else:
            data[flag] = _exact_mask(rng, n, DOCUMENT_RATES[number]).astype(np.int64)

    bureau_missing = _exact_mask(rng, n, 41_519 / 307_511)
    for column in BUREAU_ENQUIRIES:
        mean = BUREAU_MEANS[column.rsplit("_", 1)[1]]
        dispersion = 2.3 if mean > 1 else 0.3
        values = rng.negative_binomial(dispersion, dispersion / (dispersion + mean), n).astype(float)
        data[column] = np.where(bureau_missing, np.nan, values)

    # Default: the external scores first, then the demographic and loan effects of the profile.
    # Every term is a function of published columns, so `probability` is the Bayes-optimal
    # score: no model can beat it on average, and its AUC is the ceiling for these rows.
    years_employed = np.where(anomaly, 0.0, employed_days / 365.0)
    credit_to_goods = credit / np.where(np.isnan(goods_price), credit, goods_price)
    sex_term = 0.45 * male
    logit = (
        ext_risk
        - 0.012 * (age_days / 365.0 - 44.0)
        + sex_term
        - 0.35 * revolving
        + 0.45 * (rating_w_city - 2)
        - 0.06 * np.minimum(years_employed, 15)
        + _effect(data["NAME_EDUCATION_TYPE"], EDUCATION_EFFECT)
        + _effect(income_type, INCOME_TYPE_EFFECT)
        + _effect(family, FAMILY_EFFECT)
        + _effect(data["NAME_HOUSING_TYPE"], HOUSING_EFFECT)
        + _effect(occupation, OCCUPATION_EFFECT)
        + _effect(organization, ORGANIZATION_EFFECT)
        + _effect(data["WALLSMATERIAL_MODE"], WALLS_EFFECT)
        - 0.6 * np.nan_to_num(data["FLOORSMAX_AVG"], nan=0.2)
        + 1.1 * np.clip(credit_to_goods - 1.08, -0.1, 0.4)
        - 0.12 * np.log(income / 150_000)
        - 0.12 * np.log(credit / 500_000)
        + 0.3 * data["REG_CITY_NOT_LIVE_CITY"]
        + 0.4 * data["REG_CITY_NOT_WORK_CITY"]
        + 0.38 * data["FLAG_DOCUMENT_3"]
        - 0.12 * own_car
        + 0.12 * np.nan_to_num(defaulted_30, nan=0.0)
        + 0.00025 * (np.nan_to_num(phone_change, nan=-960.0) + 960.0)
        + 0.00006 * (data["DAYS_ID_PUBLISH"] + 3000)
        + 0.12 * ext_missing["EXT_SOURCE_1"]
        + 0.22 * ext_missing["EXT_SOURCE_3"]
    )
    probability = _probability_at_rate(logit)
    without_sex = _probability_at_rate(logit - sex_term)
    # The four XNA genders in the real file never defaulted.
    probability[gender == "XNA"] = without_sex[gender == "XNA"] = 0.0
    # The only randomness after the observed columns: an independent uniform per row.
    data["TARGET"] = (rng.random(n) < probability).astype(np.int64)

    frame = pd.DataFrame({column: data[column] for column in COLUMN_NAMES})
    return GeneratedApplications(frame=frame, true_probability=probability, true_probability_without_sex=without_sex)


def _probability_at_rate(logit: np.ndarray) -> np.ndarray:
    centred = logit - logit.mean()
    return expit(centred + _intercept_for_rate(centred, TARGET_RATE))


def generate_applications(rows: int = levels.REAL_ROW_COUNT, seed: int = 42) -> pd.DataFrame:
    """A frame with the 122 columns of application_train.csv in the real order."""
    return generate(rows, seed).frame


def _intercept_for_rate(logit: np.ndarray, rate: float) -> float:
    """The intercept at which the mean default probability equals `rate` (bisection)."""
    low, high = -10.0, 5.0
    for _ in range(60):
        middle = (low + high) / 2
        if expit(logit + middle).mean() < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2
