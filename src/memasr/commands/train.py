"""``memasr train``: train an RNN-T from a manifest or from on-the-fly synthetic speech.

    memasr train --preset small-optimized --train train.jsonl --dev dev.jsonl --out runs/a --epochs 3
    memasr train --preset small-optimized --train synth: --dev dev.jsonl --out runs/b --max-hours 10
    memasr train ... --out runs/a --resume          (continue from the latest checkpoint)
    memasr train ... --rnnt-weight 0 --out runs/ctc  (phase 1: the encoder with CTC alone)
    memasr train ... --init-from runs/ctc --out runs/b  (phase 2: warm start, weights only)
    torchrun --nproc_per_node 4 -m memasr.cli train ...   (DDP: nccl on GPUs, gloo on CPUs)

OUT gets tokenizer.model, checkpoints/ (last N full trainer states), best/ and
final/ (model directories for load_pretrained), train.csv and dev.csv.
Bad examples (missing or unreadable audio, empty or unencodable text, clips
too short for their labels) are skipped with a warning and counted.
"""
from __future__ import annotations

import argparse
import json

from memasr.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train an RNN-T model (manifest or on-the-fly synthesis; CPU, GPU, torchrun DDP)",
        description="Train an RNN-T model with RNN-T + auxiliary CTC loss, SpecAugment, AdamW.",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--preset", help="model preset name (e.g. small-optimized)")
    model.add_argument("--config", help="model config TOML file")
    p.add_argument("--train", required=True, metavar="M.jsonl|synth:",
                   help="training manifest, or 'synth:' to synthesize speech on the fly")
    p.add_argument("--dev", metavar="M.jsonl", help="dev manifest for periodic dev loss and greedy WER")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")

    stop = p.add_argument_group("length (the first limit reached stops training)")
    stop.add_argument("--steps", type=int, help="optimizer steps")
    stop.add_argument("--epochs", type=float, help="passes over the manifest (default 1)")
    stop.add_argument("--max-hours", type=float, help="hours of training audio (all processes together)")
    stop.add_argument("--max-wall-minutes", type=float, help="wall-clock minutes")

    opt = p.add_argument_group("optimization")
    opt.add_argument("--batch-frames", type=int, default=10000,
                     help="padded 10 ms frames per batch and process (default 10000 = 100 s)")
    opt.add_argument("--batch-tokens", type=int,
                     help="padded tokens per batch and process too (default: bucket by frames alone)")
    opt.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    opt.add_argument("--warmup", type=int, default=500, help="linear warmup steps (default 500)")
    opt.add_argument("--lr-schedule", choices=("eden", "cosine"), default="eden",
                     help="eden (default): after warmup ((s^2+S^2)/S^2)^-0.25, a function of the step only, so "
                          "extending or resuming a run never restarts it; cosine: decays to --min-lr-ratio at "
                          "the planned last step")
    opt.add_argument("--lr-decay-steps", type=int, default=3000, help="S of the eden schedule (default 3000)")
    opt.add_argument("--min-lr-ratio", type=float, default=0.05, help="final LR / peak LR (cosine decay)")
    opt.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW weight decay (default 0.01)")
    opt.add_argument("--clip", type=float, default=5.0, help="gradient-norm clipping (default 5)")
    opt.add_argument("--ctc-weight", type=float, default=0.3,
                     help="auxiliary CTC loss weight on the encoder output; 0 disables (default 0.3)")
    opt.add_argument("--rnnt-weight", type=float, default=1.0,
                     help="transducer loss weight; 0 trains the encoder with CTC alone (default 1)")
    opt.add_argument("--loss", choices=("pruned", "full"), default="pruned",
                     help="transducer loss: pruned (simple + pruned, default) or the full lattice")
    opt.add_argument("--prune-range", type=int, default=5, help="label positions per frame of the pruned loss")
    opt.add_argument("--prune-warmup", type=int, metavar="STEPS",
                     help="steps over which the pruned loss ramps in after the simple loss (default 2000 for "
                          "a fresh head, 0 when --init-from brings a trained one; a resumed run keeps its own)")
    opt.add_argument("--reg-start", type=int, default=1500,
                     help="step where SpecAugment, dropout and augmentation start (default 1500)")
    opt.add_argument("--reg-ramp", type=int, default=1500, help="steps to reach their full strength (default 1500)")
    opt.add_argument("--init-from", metavar="DIR|CKPT",
                     help="warm start from a model directory, run directory or checkpoint (weights only)")
    opt.add_argument("--init-scope", choices=("model", "encoder", "widen"), default="model",
                     help="what --init-from brings: model (every weight, the training heads and the tokenizer; "
                          "default), encoder (CMVN and encoder only; predictor, joiner and heads start fresh "
                          "and a tokenizer of the config's vocab_size is trained: another vocabulary or "
                          "predictor on a trained encoder) or widen (like model, into a config whose encoder "
                          "has a larger hidden_size: new units are copies of old ones (Net2WiderNet), so "
                          "training resumes from the same outputs and loss)")
    opt.add_argument("--augment", action="store_true",
                     help="channel augmentation of training clips: rooms, noise, music, telephone band, codecs "
                          "(memasr.data.augment), ramped in with --reg-start/--reg-ramp")
    opt.add_argument("--augment-scale", type=float, default=1.0, help="multiplies every augmentation probability")
    opt.add_argument("--speed-perturb", nargs="?", const="0.9,1.1", metavar="LOW,HIGH",
                     help="speed perturbation of training clips (resampling: tempo and pitch together), factor "
                          "drawn uniformly from LOW..HIGH for 2 in 3 clips (default 0.9,1.1), from step 0")
    opt.add_argument("--dropout", type=float,
                     help="dropout of the encoder and predictor, replacing the preset's or config's (also "
                          "with --resume: the weights do not change); ramped in with --reg-start/--reg-ramp")
    opt.add_argument("--no-spec-augment", action="store_true", help="disable SpecAugment")
    opt.add_argument("--freq-masks", type=int, default=2)
    opt.add_argument("--freq-width", type=int, default=27)
    opt.add_argument("--time-masks", type=int, default=5)
    opt.add_argument("--time-width", type=int, default=40)
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--no-amp", action="store_true", help="no mixed precision on GPU")
    opt.add_argument("--cpu-bf16", action="store_true",
                     help="bfloat16 autocast on CPU: matrix products in bf16, weights, recurrences and losses "
                          "in fp32; faster on CPUs with AVX512-BF16 or AMX, slower elsewhere")

    data = p.add_argument_group("data")
    data.add_argument("--synth-seed", type=int, help="seed of the synthetic stream (default --seed)")
    data.add_argument("--synth-engines", help="comma-separated TTS engines for synth: (default all installed)")
    data.add_argument("--synth-batch", type=int, help="utterances per batch for synth: (default from --batch-frames)")
    data.add_argument("--num-workers", type=int, help="data-loader worker processes (default 1 on CPU, 4 on GPU)")
    data.add_argument("--cmvn-utts", type=int, default=200, help="training clips to fit CMVN on (default 200)")
    data.add_argument("--dev-max-utts", type=int, default=0, help="use only the first N dev utterances")

    ck = p.add_argument_group("checkpoints and logs")
    ck.add_argument("--resume", nargs="?", const="auto", metavar="CKPT",
                    help="continue from CKPT, or from the latest checkpoint in --out when no file is given")
    ck.add_argument("--eval-every", type=int, default=500, help="steps between dev evaluations (default 500)")
    ck.add_argument("--save-every", type=int, default=500, help="steps between checkpoints (default 500)")
    ck.add_argument("--keep", type=int, default=3, help="checkpoints kept (default 3)")
    ck.add_argument("--best-metric", choices=("loss", "wer"), default="loss", help="what 'best' means (default loss)")
    ck.add_argument("--log-every", type=int, default=10, help="steps per CSV log row (default 10)")
    ck.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    ck.add_argument("--threads", type=int, help="CPU threads per process (default: cores / processes)")
    ck.add_argument("--quiet", action="store_true", help="no progress bar")
    ck.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)
    return p


def options_from_args(args: argparse.Namespace):
    from memasr.train.trainer import TrainOptions

    engines = None
    if args.synth_engines:
        engines = [e.strip() for e in args.synth_engines.split(",") if e.strip()]
        if not engines:
            raise InputError("--synth-engines is empty")
    return TrainOptions(
        out=args.out, train=args.train, preset=args.preset, config=args.config, dev=args.dev,
        steps=args.steps, epochs=args.epochs, max_hours=args.max_hours, max_wall_minutes=args.max_wall_minutes,
        batch_frames=args.batch_frames, batch_tokens=args.batch_tokens, lr=args.lr, min_lr_ratio=args.min_lr_ratio, warmup=args.warmup,
        lr_schedule=args.lr_schedule, lr_decay_steps=args.lr_decay_steps, rnnt_weight=args.rnnt_weight,
        loss=args.loss, prune_range=args.prune_range, prune_warmup=args.prune_warmup, reg_start=args.reg_start, reg_ramp=args.reg_ramp,
        init_from=args.init_from, init_scope=args.init_scope, augment=args.augment, augment_scale=args.augment_scale,
        speed_perturb=_factor_range(args.speed_perturb),
        weight_decay=args.weight_decay, clip=args.clip, ctc_weight=args.ctc_weight,
        dropout=args.dropout, spec_augment=not args.no_spec_augment, freq_masks=args.freq_masks,
        freq_width=args.freq_width,
        time_masks=args.time_masks, time_width=args.time_width, seed=args.seed, synth_seed=args.synth_seed,
        synth_engines=engines, synth_batch=args.synth_batch, cmvn_utts=args.cmvn_utts,
        num_workers=args.num_workers, eval_every=args.eval_every, save_every=args.save_every, keep=args.keep,
        best_metric=args.best_metric, dev_max_utts=args.dev_max_utts, log_every=args.log_every,
        resume=args.resume, device=args.device, threads=args.threads, amp=not args.no_amp,
        cpu_bf16=args.cpu_bf16, progress=not args.quiet,
    )


def run(args: argparse.Namespace) -> int:
    from memasr.train.trainer import train

    opts = options_from_args(args)
    result = train(opts)
    import os

    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    last_dev = result.dev[-1] if result.dev else {}
    summary = {
        "out": str(result.out), "steps": result.steps, "epochs": round(result.epochs, 4),
        "audio_hours": round(result.audio_hours, 4), "seconds": round(result.seconds, 2),
        "steps_per_s": round(result.steps_per_s, 4), "audio_s_per_s": round(result.audio_s_per_s, 3),
        "final_loss": round(result.losses[-1][1], 4) if result.losses else None,
        "dev_loss": round(last_dev["dev_loss"], 4) if last_dev else None,
        "dev_wer": round(last_dev["dev_wer"], 4) if last_dev else None,
        "skipped": result.skips, "best": result.best, "params": result.params, "world_size": result.world_size,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"trained {result.steps} steps ({summary['audio_hours']} h of audio) in {summary['seconds']} s: "
              f"{summary['steps_per_s']} steps/s, {summary['audio_s_per_s']} audio-s/s; "
              f"final loss {summary['final_loss']}"
              + (f", dev loss {summary['dev_loss']}, dev WER {100 * summary['dev_wer']:.2f}%" if last_dev else ""))
        print(f"models in {result.out / 'final'} and {result.out / 'best'}")
    return 0


def _factor_range(text: str | None) -> tuple[float, float] | None:
    """``--speed-perturb LOW,HIGH`` as two floats (checked further by the trainer)."""
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--speed-perturb must be LOW,HIGH (two numbers), got {text!r}") from None
    return low, high
