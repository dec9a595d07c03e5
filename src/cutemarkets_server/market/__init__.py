"""Pure market domain: numbers and dates in, numbers and dates out. No I/O, no clock reads."""
