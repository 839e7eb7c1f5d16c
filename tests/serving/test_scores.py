"""Class probabilities beside the answers: one predict_proba call for classifiers whose answer
is the class of highest probability, a sampled second call for others, none for regressors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.serving.inputs import Schema
from modelyard.serving.predictor import SCORE_EVERY, Predictor
from modelyard.serving.requests import Decoded

COLUMNS = ["a", "b", "c"]


def _predictor(model: object, frame: pd.DataFrame) -> Predictor:
    schema = Schema.from_signature({"inputs": [{"name": c, "type": "float64"} for c in COLUMNS]})
    found = Predictor(model, schema, "digest", 1, Decoded(COLUMNS, frame[:5].values.tolist()))
    found.warm_up()
    return found


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=COLUMNS)
    labels = np.where(frame["a"] + 0.5 * frame["b"] > 0.2, "yes", "no").astype(object)
    labels[frame["c"] > 1.2] = "maybe"
    return frame, pd.Series(labels)


def _parts(p: Predictor, frame: pd.DataFrame) -> list:  # type: ignore[type-arg]
    return [p.schema.check(Decoded(COLUMNS, [row])) for row in frame.values.tolist()]


@pytest.mark.parametrize("kind", ["logistic", "forest", "pipeline"])
def test_one_predict_proba_call_gives_the_model_s_own_answers(
    kind: str, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, labels = data
    model = {
        "logistic": LogisticRegression(),
        "forest": RandomForestClassifier(n_estimators=10, random_state=0),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()),
    }[kind].fit(frame, labels)
    p = _predictor(model, frame)
    assert p.classes == ["maybe", "no", "yes"]
    assert p.derives
    calls: list[str] = []
    original = model.predict_proba

    def predict(x: object) -> None:
        calls.append("predict")

    def predict_proba(x: object) -> object:
        calls.append("proba")
        return original(x)

    model.predict = predict
    model.predict_proba = predict_proba
    out, proba = p.predict_scored(_parts(p, frame))
    assert calls == ["proba"]
    assert out == model.__class__.predict(model, frame).tolist()
    np.testing.assert_allclose(proba, original(frame))


def test_other_classifiers_keep_their_answers_and_score_a_share_of_calls(
    data: tuple[pd.DataFrame, pd.Series],
) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    frame, labels = data
    model = KNeighborsClassifier().fit(frame, labels)  # not in the list: predict is its own
    p = _predictor(model, frame)
    assert p.classes == ["maybe", "no", "yes"]
    assert not p.derives
    parts = _parts(p, frame[:20])
    got = [p.predict_scored(parts) for _ in range(2 * SCORE_EVERY)]
    assert all(out == model.predict(frame[:20]).tolist() for out, _ in got)
    assert sum(proba is not None for _, proba in got) == 2
    assert p.predict(parts) == got[0][0]


def test_a_regressor_has_no_probabilities(data: tuple[pd.DataFrame, pd.Series]) -> None:
    from sklearn.linear_model import LinearRegression

    frame, _ = data
    p = _predictor(LinearRegression().fit(frame, frame["a"]), frame)
    assert p.classes is None
    out, proba = p.predict_scored(_parts(p, frame[:3]))
    assert proba is None
    assert len(out) == 3
