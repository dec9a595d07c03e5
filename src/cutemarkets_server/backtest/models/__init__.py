"""Small pluggable models the engine consults: fills, fees, expiration."""
