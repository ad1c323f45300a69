"""One epoch of the milestone MLP three ways on the CPU: NumPy, JAX, PyTorch.

The same network (784-256-128-64-10, ReLU), loss (mean softmax
cross-entropy), optimizer (Adam, lr 1e-3), batch (128), data (60,000 28x28
images, Fashion-MNIST when Debian's package is installed, random pixels
otherwise: speed does not depend on the pixels) and dtype (float32):

- NumPy: the reference track itself: topic 10's ``iterate_minibatches`` and
  ``train_step`` driving topic 06's MLP, topic 08's cross-entropy and topic
  03's Adam;
- JAX: topic 10's ``jax_version`` network, one ``jax.jit`` step per batch
  (and, as a second line, the whole epoch as one ``lax.scan``);
- PyTorch: ``nn.Sequential`` + ``CrossEntropyLoss`` + ``torch.optim.Adam``,
  the loop a PyTorch user writes.

Each is warmed up, then timed over ``--repeats`` epochs; the median is
reported with the ratio to PyTorch's. All use the same number of threads.

    python experiments/bench_mlp_cpu.py                 # needs: pip install -e ".[bench]"
    python experiments/bench_mlp_cpu.py --profile       # where NumPy's time goes
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = (784, 256, 128, 64, 10)


def load_data(n: int):
    try:
        from fdl.data import load_fashion_mnist

        images, labels = load_fashion_mnist("train", offline=True)
        source = "Fashion-MNIST"
    except Exception:  # speed does not depend on the pixels
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, 60_000).astype(np.uint8)
        source = "random pixels"
    from tracks.t10_mnist.reference import preprocess

    return preprocess(images[:n]), labels[:n].astype(np.int64), source


# --------------------------------------------------------------------------- NumPy: the reference track
def numpy_epoch_runner(x, y, batch_size, seed):
    from types import SimpleNamespace

    from tracks.t03_optimizers.reference import adam
    from tracks.t05_mlp_forward.reference import init_mlp
    from tracks.t06_backprop import reference as layers
    from tracks.t08_losses import reference as losses
    from tracks.t10_mnist import reference as t10

    rng = np.random.default_rng(seed)
    params = init_mlp(list(SIZES), rng, dtype=np.float32)
    model = SimpleNamespace(forward=layers.mlp_forward, backward=layers.mlp_backward,
                            loss_forward=losses.softmax_cross_entropy_forward,
                            loss_backward=losses.softmax_cross_entropy_backward)
    optimizer = adam(1e-3)
    state = {"params": params, "opt": optimizer.init(params)}

    def epoch(max_steps=None):
        loss = 0.0
        for i, (xb, yb) in enumerate(t10.iterate_minibatches(x, y, batch_size, rng)):
            if max_steps is not None and i >= max_steps:
                break
            state["params"], state["opt"], loss = t10.train_step(state["params"], state["opt"], xb, yb, model,
                                                                 optimizer)
        return loss

    return epoch


# --------------------------------------------------------------------------- JAX
def jax_epoch_runners(x, y, batch_size, seed):
    import jax
    import jax.numpy as jnp
    import optax

    from tracks.t10_mnist import jax_version as J

    params = J.init_mlp(jax.random.PRNGKey(seed), SIZES)
    optimizer = optax.adam(1e-3)
    rng = np.random.default_rng(seed)
    xd, yd = jnp.asarray(x), jnp.asarray(y.astype(np.int32))

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(J.loss_fn)(params, xb, yb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    state = {"params": params, "opt": optimizer.init(params)}

    def epoch(max_steps=None):
        order = rng.permutation(len(x))
        loss = None
        for i, start in enumerate(range(0, len(x), batch_size)):
            if max_steps is not None and i >= max_steps:
                break
            index = order[start:start + batch_size]
            state["params"], state["opt"], loss = step(state["params"], state["opt"], xd[index], yd[index])
        return float(loss)

    full = len(x) // batch_size * batch_size  # scan needs equal batches: the last partial one is left out

    @jax.jit
    def scanned(params, opt_state, order):
        xb = xd[order[:full]].reshape(-1, batch_size, x.shape[1])
        yb = yd[order[:full]].reshape(-1, batch_size)

        def body(carry, batch):
            params, opt_state = carry
            params, opt_state, loss = step(params, opt_state, *batch)
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), (xb, yb))
        return params, opt_state, losses[-1]

    scan_state = {"params": params, "opt": optimizer.init(params)}

    def scan_epoch(max_steps=None):
        order = jnp.asarray(rng.permutation(len(x)))
        scan_state["params"], scan_state["opt"], loss = scanned(scan_state["params"], scan_state["opt"], order)
        return float(loss)

    return epoch, scan_epoch


# --------------------------------------------------------------------------- PyTorch
def torch_epoch_runner(x, y, batch_size, seed, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rng = np.random.default_rng(seed)

    def epoch(max_steps=None):
        order = torch.from_numpy(rng.permutation(len(x)))
        loss = None
        for i, start in enumerate(range(0, len(x), batch_size)):
            if max_steps is not None and i >= max_steps:
                break
            index = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[index]), yt[index])
            loss.backward()
            optimizer.step()
        return loss.item()

    return epoch


# --------------------------------------------------------------------------- timing
def time_epochs(epoch, repeats: int) -> tuple[float, list[float], float]:
    epoch(max_steps=20)  # warm-up: JAX compiles, caches and allocators settle
    times, loss = [], float("nan")
    for _ in range(repeats):
        start = time.perf_counter()
        loss = epoch()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, float(loss)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per framework (median reported)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--examples", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for BLAS and PyTorch")
    parser.add_argument("--profile", action="store_true", help="profile one NumPy epoch and print the top 15")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args(argv)

    x, y, source = load_data(args.examples)
    print(f"data: {len(x):,} examples ({source}); MLP {'-'.join(map(str, SIZES))}, batch {args.batch_size}, "
          f"Adam 1e-3, float32, {args.threads} threads, {args.repeats} timed epochs each (median)")

    if args.profile:
        import cProfile
        import pstats

        epoch = numpy_epoch_runner(x, y, args.batch_size, 0)
        epoch(max_steps=20)
        profiler = cProfile.Profile()
        profiler.runcall(epoch)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return 0

    results = {}
    if not args.skip_torch:
        try:
            results["PyTorch (eager)"] = time_epochs(torch_epoch_runner(x, y, args.batch_size, 0, args.threads),
                                                     args.repeats)
        except ImportError:
            print("PyTorch is not installed (pip install -e '.[bench]'); no peer to compare with")
    results["NumPy (reference track)"] = time_epochs(numpy_epoch_runner(x, y, args.batch_size, 0), args.repeats)
    jax_step, jax_scan = jax_epoch_runners(x, y, args.batch_size, 0)
    results["JAX (jit per step)"] = time_epochs(jax_step, args.repeats)
    results["JAX (lax.scan epoch)"] = time_epochs(jax_scan, args.repeats)

    peer = results.get("PyTorch (eager)", (None,))[0]
    print(f"\n{'':26s}{'s/epoch':>10s}{'vs PyTorch':>12s}{'final loss':>12s}   all epochs (s)")
    for name, (median, times, loss) in results.items():
        ratio = f"{median / peer:.2f}x" if peer else "-"
        print(f"{name:26s}{median:10.3f}{ratio:>12s}{loss:12.4f}   {', '.join(f'{t:.3f}' for t in times)}")
    if peer:
        goals = {"NumPy (reference track)": 1.5, "JAX (jit per step)": 1.0}
        print("\ngoals: NumPy <= 1.5x PyTorch, JAX <= 1.0x PyTorch")
        for name, goal in goals.items():
            ratio = results[name][0] / peer
            print(f"  {name}: {ratio:.2f}x -> {'met' if ratio <= goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
