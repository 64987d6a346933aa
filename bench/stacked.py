"""Many small runs at once with ``torch.func``: the stacked-training measurement of the benchmarks.

Not part of wnlib: :func:`wnlib.train` is the one training loop. Kept here because its measurement (several
small runs vmapped together against one after the other) stays useful.
"""
from __future__ import annotations

import pandas as pd
import torch

from wnlib.experiments import RunConfig
from wnlib.quantities import square_loss
from wnlib.tracking import measure
from wnlib.training import steps_per_epoch


def train_stacked(configs: list[RunConfig], *, progress: bool = False) -> list[pd.DataFrame]:
    """Train several runs that share an architecture at once: stacked parameters, ``vmap`` over the models.

    The runs may differ in ``seed`` (init and batch order), ``init_scale`` and ``lr``; everything else must be
    equal, with plain SGD (``momentum = weight_decay = 0``). Each model takes the same steps
    ``theta <- theta - lr * grad L_B(theta)`` on the same batches as :func:`run` would, so the histories
    agree with sequential :func:`wnlib.experiments.run` up to float rounding. Nothing is stored; returns one history per
    config.

    Measured on this project's 2-core CPU (one thread, 8 models, digits, 10 epochs of 23 steps, against
    sequential ``train``): 2.8x faster at width 16, 2.3x at width 64, no gain at width 256 (0.93x), where
    each model's matrix products already fill the core.
    """
    configs = list(configs)
    if not configs:
        raise ValueError("configs must contain at least one RunConfig")
    may_differ = {"seed", "init_scale", "lr"}
    first = configs[0].to_dict()
    for c in configs[1:]:
        for name, value in c.to_dict().items():
            if name not in may_differ and value != first[name]:
                raise ValueError(f"train_stacked: every config must share {name!r} (only {sorted(may_differ)} "
                                 f"may differ); got {first[name]!r} and {value!r}")
    cfg = configs[0]
    if cfg.momentum or cfg.weight_decay:
        raise ValueError("train_stacked supports plain SGD only: momentum and weight_decay must be 0")
    from torch.func import functional_call, grad, stack_module_state, vmap

    device = cfg.torch_device()
    data = cfg.load_data(device)
    models = [c.build_model(data.d_in, data.d_out).to(device) for c in configs]
    params, buffers = stack_module_state(models)
    base = models[0]
    lrs = torch.tensor([c.lr for c in configs], device=device)
    gens = [torch.Generator().manual_seed(c.seed) for c in configs]

    def loss(p, b, x, y):
        return square_loss(lambda inp: functional_call(base, (p, b), (inp,)), x, y)

    step_grads = vmap(grad(loss))
    n, bs = data.n_train, cfg.batch_size
    per_epoch = steps_per_epoch(n, bs)
    every, total = cfg.tracking.steps_between(per_epoch), cfg.epochs * per_epoch
    histories = [[] for _ in configs]

    def record(step):
        with torch.no_grad():
            for i, model in enumerate(models):
                model.load_state_dict({**{k: v[i] for k, v in params.items()}, **{k: v[i] for k, v in buffers.items()}})
                row = {"step": step, "epoch": step / per_epoch}
                row.update(measure(model, data, cfg.tracking))
                histories[i].append(row)

    record(0)
    step = 0
    from tqdm.auto import tqdm

    for _ in tqdm(range(cfg.epochs), desc="stacked SGD", disable=not progress, leave=False):
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
        for start in range(0, n, bs):
            idx = perms[:, start:start + bs]
            grads = step_grads(params, buffers, data.x_train[idx], data.y_train[idx])
            with torch.no_grad():
                for k, g in grads.items():
                    params[k] = params[k] - lrs.view(-1, *[1] * (g.dim() - 1)) * g
            step += 1
            if step % every == 0 or step == total:
                record(step)
    return [pd.DataFrame(rows) for rows in histories]
