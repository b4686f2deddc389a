"""The load and fault drills of bench/drills.py, one module each; `kit` has what they share."""
