"""The peer of `automl serve` in bench/serve.sh: how Python users serve a tabular model.

FastAPI + uvicorn + scikit-learn HistGradientBoosting, trained at start on the CSV named by
PEER_DATA (target PEER_TARGET, default the last column); categorical columns are pandas
categories (native categorical support). `POST /predict` takes a JSON array of records and
answers {"predictions": [...], "probabilities": [{class: p, ...}, ...]} like `automl serve`.

    PEER_DATA=examples/data/churn.csv uvicorn serve_peer:app --workers 2 --port 8001
"""

import os

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from sklearn.ensemble import HistGradientBoostingClassifier

DATA = os.environ["PEER_DATA"]
train = pd.read_csv(DATA)
TARGET = os.environ.get("PEER_TARGET", train.columns[-1])
y = train[TARGET].astype(str)
X = train.drop(columns=[TARGET])
CATS = {
    c: sorted(X[c].dropna().unique()) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])
}
COLUMNS = list(X.columns)


def frame(records):
    df = pd.DataFrame.from_records(records)
    df = df.reindex(columns=COLUMNS)
    for c, levels in CATS.items():
        df[c] = pd.Categorical(df[c], categories=levels)
    for c in COLUMNS:
        if c not in CATS:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
model.fit(frame(X.to_dict(orient="records")), y)
CLASSES = [str(c) for c in model.classes_]

app = FastAPI()


@app.post("/predict")
async def predict(request: Request):
    records = await request.json()
    proba = model.predict_proba(frame(records))
    labels = np.asarray(CLASSES)[proba.argmax(axis=1)]
    return {
        "predictions": labels.tolist(),
        "probabilities": [dict(zip(CLASSES, row)) for row in proba.tolist()],
    }
