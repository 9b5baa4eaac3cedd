"""Transducer model: configs and presets, encoder, predictor, joiner, checkpoints."""
from memasr.model.config import (EncoderConfig, JoinerConfig, ModelConfig, PredictorConfig, dump_config,
                                 list_presets, load_config, load_preset)
from memasr.model.state import stack_states, unstack_states

__all__ = ["EncoderConfig", "JoinerConfig", "ModelConfig", "PredictorConfig", "dump_config",
           "list_presets", "load_config", "load_preset", "stack_states", "unstack_states"]
