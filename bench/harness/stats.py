"""Small statistics shared by the suites."""

import statistics


def median(values):
    return statistics.median(values) if values else float("nan")


def overhead_ratio(t_plugin, t_floor, t_pgoutput, resolution=0.0):
    """(t_plugin - t_floor) / (t_pgoutput - t_floor): 1.0 means the same work over the floor
    as pgoutput, below 1.0 less. None when pgoutput is not above the floor by more than the
    measurement's resolution."""
    denominator = t_pgoutput - t_floor
    if denominator <= resolution:
        return None
    return (t_plugin - t_floor) / denominator
