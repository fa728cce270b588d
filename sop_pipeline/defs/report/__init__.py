"""The executive report of each published plan cycle."""
