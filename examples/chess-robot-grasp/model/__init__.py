"""The grasp-safety classifier [V] of the chess-robot-grasp example (see net.py)."""
