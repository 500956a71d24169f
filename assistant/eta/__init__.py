"""The ETA model ("parcel predictor"): when will a parcel arrive, from its scans so far.

`load_or_train(path)` gives the model (trained on synthetic histories on first use and cached);
`EtaModel.predict(shipment, now)` an `EtaPrediction`; `train_from_history` retrains it on a
carrier's own `shipments.jsonl`. See README.md in this folder.
"""

from assistant.eta.model import (
    EtaModel,
    EtaPrediction,
    evaluate,
    load_or_train,
    train_from_history,
)
from assistant.eta.synthetic import generate_shipments

__all__ = [
    "EtaModel",
    "EtaPrediction",
    "evaluate",
    "generate_shipments",
    "load_or_train",
    "train_from_history",
]
