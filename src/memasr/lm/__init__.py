"""External language models for shallow fusion in the transducer beam searches."""
from memasr.lm.ngram import NgramLM, read_sentences

__all__ = ["NgramLM", "read_sentences"]
