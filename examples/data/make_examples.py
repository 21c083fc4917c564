"""Generate the small example CSV files shipped in examples/data (deterministic, stdlib only).

    python3 examples/data/make_examples.py

churn.csv   binary      600 rows: numeric, string categoricals, missing values (empty cells)
flowers.csv multiclass  300 rows: 4 numeric measurements, 3 species
houses.csv  regression  400 rows: numeric + categorical, a few missing values
"""
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def churn(rng):
    rows = [["tenure_months", "monthly_charges", "contract", "internet", "support_calls", "paperless", "churned"]]
    for _ in range(600):
        tenure = rng.randint(1, 72)
        contract = rng.choices(["month-to-month", "one year", "two year"], [0.55, 0.25, 0.2])[0]
        internet = rng.choices(["fiber", "dsl", "none"], [0.45, 0.35, 0.2])[0]
        charges = round(20 + (50 if internet == "fiber" else 25 if internet == "dsl" else 0) + rng.gauss(0, 10), 2)
        calls = rng.randint(0, 6)
        paperless = rng.choice(["yes", "no"])
        z = (-1.0 + (1.2 if contract == "month-to-month" else -0.8) - 0.04 * tenure
             + 0.02 * (charges - 60) + 0.35 * calls + (0.3 if paperless == "yes" else 0.0))
        p = 1 / (1 + math.exp(-z))
        label = "yes" if rng.random() < p else "no"
        cells = [str(tenure), str(charges), contract, internet, str(calls), paperless, label]
        if rng.random() < 0.06:
            cells[1] = ""
        if rng.random() < 0.04:
            cells[3] = ""
        rows.append(cells)
    return rows


def flowers(rng):
    rows = [["petal_length", "petal_width", "sepal_length", "sepal_width", "species"]]
    centers = {"setosa": (1.5, 0.3, 5.0, 3.4), "versicolor": (4.3, 1.3, 5.9, 2.8), "virginica": (5.5, 2.0, 6.6, 3.0)}
    for _ in range(100):
        for name, c in centers.items():
            vals = [round(max(0.1, rng.gauss(m, 0.35 if i < 2 else 0.4)), 2) for i, m in enumerate(c)]
            rows.append([str(v) for v in vals] + [name])
    body = rows[1:]
    rng.shuffle(body)
    return [rows[0]] + body


def houses(rng):
    rows = [["area_m2", "rooms", "age_years", "district", "garage", "price"]]
    base = {"center": 4200, "north": 2900, "south": 2500, "harbor": 3600}
    for _ in range(400):
        area = round(rng.uniform(35, 220), 1)
        rooms = max(1, int(area / 30 + rng.gauss(0, 0.8)))
        age = rng.randint(0, 90)
        district = rng.choice(list(base))
        garage = rng.choice(["true", "false"])
        price = area * base[district] * (1 - age / 300) + (15000 if garage == "true" else 0) + rng.gauss(0, 20000)
        cells = [str(area), str(rooms), str(age), district, garage, str(round(price, -2))]
        if rng.random() < 0.05:
            cells[2] = ""
        rows.append(cells)
    return rows


def write(name, rows):
    with open(os.path.join(HERE, name), "w", newline="") as f:
        for r in rows:
            f.write(",".join(r) + "\n")


if __name__ == "__main__":
    write("churn.csv", churn(random.Random(1)))
    write("flowers.csv", flowers(random.Random(2)))
    write("houses.csv", houses(random.Random(3)))
