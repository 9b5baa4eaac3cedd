"""memasr: memory-efficient streaming speech recognition for smart devices."""
__version__ = "0.1.0"
