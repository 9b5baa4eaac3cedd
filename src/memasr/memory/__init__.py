"""Off-chip traffic and energy analyzer (DESIGN.md section 3).

Layers, kept apart as in Timeloop/Accelergy: hardware profiles (``hardware``),
workload extraction (``workload``), schedules (``schedule``), the analytic
traffic counter with residency (``traffic``), energy tables (``energy``),
trace recording and buffer simulation (``trace``, ``tracerun``), reports.
"""
from memasr.memory.analysis import Analysis, analyze
from memasr.memory.hardware import HardwareProfile, load_profile, parse_size
from memasr.memory.schedule import Schedule, parse_schedule
from memasr.memory.workload import OperatingPoint, Workload, extract_workload

__all__ = ["Analysis", "analyze", "HardwareProfile", "load_profile", "parse_size", "Schedule",
           "parse_schedule", "OperatingPoint", "Workload", "extract_workload"]
