"""Categorical levels of the real file with their counts (from the data profile).

The generator draws from these counts; the dbt one-hot macro keeps its own fixed level
lists, and a test checks that every level listed here has a one-hot column or is a
documented null marker (`XNA`, `Unknown`).
"""

from __future__ import annotations

NULL_MARKERS = ("XNA", "Unknown")

NAME_CONTRACT_TYPE = {"Cash loans": 278_232, "Revolving loans": 29_279}
CODE_GENDER = {"F": 202_448, "M": 105_059, "XNA": 4}
NAME_TYPE_SUITE = {
    "Unaccompanied": 248_526,
    "Family": 40_149,
    "Spouse, partner": 11_370,
    "Children": 3_267,
    "Other_B": 1_770,
    "Other_A": 866,
    "Group of people": 271,
}
NAME_TYPE_SUITE_MISSING = 1_292

# Pensioners and the unemployed carry DAYS_EMPLOYED = 365243 and ORGANIZATION_TYPE = XNA.
NAME_INCOME_TYPE = {
    "Working": 158_774,
    "Commercial associate": 71_617,
    "Pensioner": 55_362,
    "State servant": 21_703,
    "Unemployed": 22,
    "Student": 18,
    "Businessman": 10,
    "Maternity leave": 5,
}
NOT_EMPLOYED_INCOME_TYPES = ("Pensioner", "Unemployed")

NAME_EDUCATION_TYPE = {
    "Secondary / secondary special": 218_391,
    "Higher education": 74_863,
    "Incomplete higher": 10_277,
    "Lower secondary": 3_816,
    "Academic degree": 164,
}
NAME_FAMILY_STATUS = {
    "Married": 196_432,
    "Single / not married": 45_444,
    "Civil marriage": 29_775,
    "Separated": 19_770,
    "Widow": 16_088,
    "Unknown": 2,
}
NAME_HOUSING_TYPE = {
    "House / apartment": 272_868,
    "With parents": 14_840,
    "Municipal apartment": 11_183,
    "Rented apartment": 4_881,
    "Office apartment": 2_617,
    "Co-op apartment": 1_122,
}
OCCUPATION_TYPE = {
    "Laborers": 55_186,
    "Sales staff": 32_102,
    "Core staff": 27_570,
    "Managers": 21_371,
    "Drivers": 18_603,
    "High skill tech staff": 11_380,
    "Accountants": 9_813,
    "Medicine staff": 8_537,
    "Security staff": 6_721,
    "Cooking staff": 5_946,
    "Cleaning staff": 4_653,
    "Private service staff": 2_652,
    "Low-skill Laborers": 2_093,
    "Waiters/barmen staff": 1_348,
    "Secretaries": 1_305,
    "Realty agents": 751,
    "HR staff": 563,
    "IT staff": 526,
}
OCCUPATION_TYPE_MISSING = 96_391

WEEKDAY_APPR_PROCESS_START = {
    "TUESDAY": 53_901,
    "WEDNESDAY": 51_934,
    "MONDAY": 50_714,
    "THURSDAY": 50_591,
    "FRIDAY": 50_338,
    "SATURDAY": 33_852,
    "SUNDAY": 16_181,
}

# XNA (55,374 rows) is exactly the rows with the DAYS_EMPLOYED anomaly; these are the others.
ORGANIZATION_TYPE = {
    "Business Entity Type 3": 67_992,
    "Self-employed": 38_412,
    "Other": 16_683,
    "Medicine": 11_193,
    "Business Entity Type 2": 10_553,
    "Government": 10_404,
    "School": 8_893,
    "Trade: type 7": 7_831,
    "Kindergarten": 6_880,
    "Construction": 6_721,
    "Business Entity Type 1": 5_984,
    "Transport: type 4": 5_398,
    "Trade: type 3": 3_492,
    "Industry: type 9": 3_368,
    "Industry: type 3": 3_278,
    "Security": 3_247,
    "Housing": 2_958,
    "Industry: type 11": 2_704,
    "Military": 2_634,
    "Bank": 2_507,
    "Agriculture": 2_454,
    "Police": 2_341,
    "Transport: type 2": 2_204,
    "Postal": 2_157,
    "Security Ministries": 1_974,
    "Trade: type 2": 1_900,
    "Restaurant": 1_811,
    "Services": 1_575,
    "University": 1_327,
    "Industry: type 7": 1_307,
    "Transport: type 3": 1_187,
    "Industry: type 1": 1_039,
    "Hotel": 966,
    "Electricity": 950,
    "Industry: type 4": 877,
    "Trade: type 6": 631,
    "Industry: type 5": 599,
    "Insurance": 597,
    "Telecom": 577,
    "Emergency": 560,
    "Industry: type 2": 458,
    "Advertising": 429,
    "Realtor": 396,
    "Culture": 379,
    "Industry: type 12": 369,
    "Trade: type 1": 348,
    "Mobile": 317,
    "Legal Services": 305,
    "Cleaning": 260,
    "Transport: type 1": 201,
    "Industry: type 6": 112,
    "Industry: type 10": 109,
    "Religion": 85,
    "Industry: type 13": 67,
    "Trade: type 4": 64,
    "Trade: type 5": 49,
    "Industry: type 8": 24,
}

FONDKAPREMONT_MODE = {
    "reg oper account": 73_830,
    "reg oper spec account": 12_080,
    "not specified": 5_687,
    "org spec account": 5_619,
}
HOUSETYPE_MODE = {"block of flats": 150_503, "specific housing": 1_499, "terraced house": 1_212}
WALLSMATERIAL_MODE = {
    "Panel": 66_040,
    "Stone, brick": 64_815,
    "Block": 9_253,
    "Wooden": 5_362,
    "Mixed": 2_296,
    "Monolithic": 1_779,
    "Others": 1_625,
}
EMERGENCYSTATE_MODE = {"No": 159_428, "Yes": 2_328}

REAL_ROW_COUNT = 307_511

CATEGORICAL_LEVELS: dict[str, dict[str, int]] = {
    "NAME_CONTRACT_TYPE": NAME_CONTRACT_TYPE,
    "CODE_GENDER": CODE_GENDER,
    "FLAG_OWN_CAR": {"N": 202_924, "Y": 104_587},
    "FLAG_OWN_REALTY": {"Y": 213_312, "N": 94_199},
    "NAME_TYPE_SUITE": NAME_TYPE_SUITE,
    "NAME_INCOME_TYPE": NAME_INCOME_TYPE,
    "NAME_EDUCATION_TYPE": NAME_EDUCATION_TYPE,
    "NAME_FAMILY_STATUS": NAME_FAMILY_STATUS,
    "NAME_HOUSING_TYPE": NAME_HOUSING_TYPE,
    "OCCUPATION_TYPE": OCCUPATION_TYPE,
    "WEEKDAY_APPR_PROCESS_START": WEEKDAY_APPR_PROCESS_START,
    "ORGANIZATION_TYPE": {**ORGANIZATION_TYPE, "XNA": 55_374},
    "FONDKAPREMONT_MODE": FONDKAPREMONT_MODE,
    "HOUSETYPE_MODE": HOUSETYPE_MODE,
    "WALLSMATERIAL_MODE": WALLSMATERIAL_MODE,
    "EMERGENCYSTATE_MODE": EMERGENCYSTATE_MODE,
}
