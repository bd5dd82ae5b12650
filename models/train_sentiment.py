"""Train the shipped sentiment artifact from the XLM-T multilingual train split.

    python -m models.train_sentiment --data ../shared/data/xlmt_sentiment_multilingual

C is chosen by 5-fold cross-validation on the train split only (macro-recall); the validation
splits are reported, never tuned on. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from models.embedder import DEFAULT_MODEL, Embedder
from models.sentiment import ARTIFACT, LABELS, SentimentModel

LANGUAGES = ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def read_split(root: Path, language: str, split: str) -> tuple[list[str], np.ndarray]:
    """Texts (with the data set's literal \\uXXXX escapes decoded) and integer labels."""
    texts = (root / language / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (root / language / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    texts = [_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), t).strip() for t in texts]
    return texts, np.asarray([int(x) for x in labels])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/xlmt_sentiment_multilingual"))
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    embedder = Embedder(DEFAULT_MODEL)
    X_parts, y_parts = [], []
    for lang in LANGUAGES:
        texts, y = read_split(args.data, lang, "train")
        X_parts.append(embedder.transform(texts))
        y_parts.append(y)
        print(f"embedded {lang}: {len(texts)}")
    X, y = np.vstack(X_parts), np.concatenate(y_parts)

    search = GridSearchCV(
        LogisticRegression(max_iter=2000, class_weight="balanced", random_state=args.seed),
        {"C": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]},
        scoring="recall_macro",
        cv=StratifiedKFold(5, shuffle=True, random_state=args.seed),
    )
    search.fit(X, y)
    best_c = float(search.best_params_["C"])
    model = SentimentModel(C=best_c, embedding_model=DEFAULT_MODEL, seed=args.seed).fit(X, y)

    validation = {}
    for lang in ("english", "french"):
        texts, y_val = read_split(args.data, lang, "val")
        pred = model.predict_proba(embedder.transform(texts)).argmax(axis=1)
        validation[lang] = round(float(recall_score(y_val, pred, average="macro")), 4)
    print(f"C={best_c} cv macro-recall={search.best_score_:.4f} validation macro-recall={validation}")
    model.save(
        args.out,
        trained_on="XLM-T sentiment train split, 8 languages x 1,839 tweets",
        labels=list(LABELS),
        cv_macro_recall=round(float(search.best_score_), 4),
        validation_macro_recall=validation,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
