# throwaway: the shipped default's encoder, joiner and training heads with a fresh GRC predictor
import sys

import torch
from pathlib import Path
from memasr.model.checkpoint import load_pretrained, save_pretrained
from memasr.model.config import load_config
from memasr.model.transducer import build_model, count_parameters
src = Path('src/memasr/pretrained/default'); out = Path(sys.argv[2])
old, _ = load_pretrained(src)
cfg = load_config(sys.argv[1])
torch.manual_seed(7)
new = build_model(cfg)
keep = {k: v for k, v in old.state_dict().items() if not k.startswith('predictor.')}
missing, unexpected = new.load_state_dict(keep, strict=False)
print('new params', count_parameters(new), 'missing', missing, 'unexpected', unexpected)
heads = torch.load(src / 'training_heads.pt', map_location='cpu')
meta = {'init_from': f'{src} encoder, joiner and training heads; predictor fresh (seed 7)', 'params': count_parameters(new)}
save_pretrained(new, out, tokenizer_file=src / 'tokenizer.model', meta=meta, training_heads=heads)
print('saved', out)
