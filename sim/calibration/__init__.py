"""Calibration: fit the simulator's lifecycle model to a company's own event log.

Typical use::

    from sim.calibration import calibrate, read_event_log
    log = read_event_log("events.csv")            # validated: bad rows named by line
    result = calibrate(log, holdout_from="2024-07-01", base="retail")
    result.scenario                                # a sim.Scenario, ready to simulate
    result.errors                                  # holdout fit vs BG/NBD
    result.lifecycle.table()                       # parameters with 95% intervals

``winback calibrate LOG`` does the same from the command line and writes the scenario YAML,
tables, plots and an HTML report.
"""

from sim.calibration.api import Calibration, calibrate
from sim.calibration.bgnbd import BGNBD, fit_bgnbd
from sim.calibration.customers import Customers, customers_at
from sim.calibration.eventlog import (
    EventLog,
    EventLogError,
    Limits,
    read_cdnow,
    read_event_log,
    validate_events,
)
from sim.calibration.fit import fit_lifecycle
from sim.calibration.lifecycle import Lifecycle
from sim.calibration.spells import subscription_spells

__all__ = [
    "BGNBD",
    "Calibration",
    "Customers",
    "EventLog",
    "EventLogError",
    "Lifecycle",
    "Limits",
    "calibrate",
    "customers_at",
    "fit_bgnbd",
    "fit_lifecycle",
    "read_cdnow",
    "read_event_log",
    "subscription_spells",
    "validate_events",
]
