"""The Faust app and its wiring: the batch consumer, delivery of effects, heap trimming, logs."""
