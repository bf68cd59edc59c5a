"""Running debates: the Debate API, the round loop, agent turns, each phase kind, mediation, checkpoints and
resume, early stopping, seeds."""
