#!/usr/bin/env python3
"""The float32 baseline: a float local-error-signal training step of an MLP preset's layers,
timed with numpy on an optimised BLAS at 1 and 2 threads, next to `nitro-d bench --backend cpu`
of the same preset and batch, interleaved in one run, printed as a markdown table.

  python3 scripts/float-baseline.py [--preset mlp2] [--batch 64] [--rounds 3] [--seconds 2]
                                    [--threads 1,2] [--min-gflops 20] [--weights CKPT]
                                    [--out FILE]

The float step has the integer step's GEMMs (docs/algorithm.md §4): per block the linear
forward, its head's forward, the head's input gradient and weight gradient, and the block's
weight gradient; the output layer's forward and weight gradient. Scaling is a multiply by a
constant (1 / sqrt(fan-in), where the integer network divides by 256 · fan-in), NITRO-ReLU a
leaky ReLU of slope 1/s, the loss gradient ŷ − y against a one-hot target, the update plain
SGD. The step's multiply-adds are checked against the `opsPerStep` nitro-d reports for the
same preset and batch.

numpy must use an optimised BLAS: the script prints which one it loaded and refuses a reference
BLAS (Debian's python3-numpy with libblas3), by library name and by a GEMM GFLOP/s check.
Thread counts are set with OPENBLAS_NUM_THREADS (and OMP_NUM_THREADS) in a fresh process per
measurement. With --weights, nitro-d benches from that checkpoint (trained weights) instead of
seeded ones (the float step's speed does not depend on its weights' values). Needs dist/ built
(`npm run build`); scripts/float-baseline.sh builds it first.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "bin", "nitro-d.js")
PROG = "float-baseline"


def fail(message, code=2):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(code)


def import_numpy():
    try:
        import numpy  # imported late: a missing numpy gets its own message
    except ImportError:
        fail(
            f"numpy is missing for {sys.executable} (pip install numpy: its wheels bring OpenBLAS)"
        )
    return numpy


# --- which BLAS numpy loaded ------------------------------------------------------------------


def mapped_blas_libraries():
    """Real paths of the BLAS-like shared libraries mapped into this process (Linux)."""
    found = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) < 6 or not parts[5].startswith("/"):
                    continue
                path = parts[5]
                low = os.path.basename(path).lower()
                if any(k in low for k in ("blas", "mkl", "blis", "lapack", "accelerate")):
                    real = os.path.realpath(path)
                    if real not in found:
                        found.append(real)
    except OSError:
        pass
    return found


def build_blas(numpy):
    """numpy's build-time BLAS: (name, version or configuration string)."""
    try:
        deps = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return deps.get("name", "?"), deps.get("openblas configuration") or deps.get("version", "")
    except Exception:  # numpy < 1.26 has no mode="dicts"
        pass
    config = getattr(numpy, "__config__", None)
    for key in ("blas_opt_info", "blas_ilp64_opt_info", "openblas_info", "blas_info"):
        info = getattr(config, key, None)
        if isinstance(info, dict) and info.get("libraries"):
            return ",".join(info["libraries"]), key
    return "?", ""


def classify(libraries, build_name):
    """'openblas' | 'mkl' | 'blis' | 'accelerate' | 'reference' | 'unknown'."""
    text = " ".join(libraries).lower() + " " + build_name.lower()
    for kind in ("openblas", "mkl", "blis", "accelerate"):
        if kind in text:
            return kind
    # Debian's netlib libblas3 lives in .../blas/libblas.so.3 (the alternatives' reference entry).
    if any(os.path.basename(os.path.dirname(p)) == "blas" for p in libraries):
        return "reference"
    if any(os.path.basename(p).startswith("libblas.so") for p in libraries):
        return "reference"
    return "unknown"


def openblas_threads(libraries):
    """The thread count OpenBLAS itself reports (None when it cannot be asked)."""
    import ctypes

    for path in libraries:
        if "openblas" not in path.lower():
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
        ):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                return int(fn())
    return None


def gemm_gflops(numpy, n=384, seconds=0.3):
    """float32 GEMM rate at n×n×n, best of repeats for about `seconds`."""
    rng = numpy.random.default_rng(7)
    a = rng.standard_normal((n, n), dtype=numpy.float32)
    b = rng.standard_normal((n, n), dtype=numpy.float32)
    c = numpy.empty((n, n), dtype=numpy.float32)
    numpy.matmul(a, b, out=c)
    best = float("inf")
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        numpy.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def blas_report(numpy):
    libraries = mapped_blas_libraries()
    name, config = build_blas(numpy)
    kind = classify(libraries, name)
    return {
        "kind": kind,
        "build": name,
        "config": " ".join(str(config).split()),
        "libraries": libraries,
        "threads": openblas_threads(libraries),
        "numpy": numpy.__version__,
    }


# --- the float step ---------------------------------------------------------------------------


class FloatStep:
    """Preallocated float32 buffers and weights of an MLP with a learning head per block."""

    def __init__(self, numpy, sizes, classes, batch, slope_inv, seed=1):
        np = numpy
        self.np = np
        self.sizes = sizes
        self.batch = batch
        self.slope = np.float32(1.0 / slope_inv)
        rng = np.random.default_rng(seed)

        def kaiming(out_dim, in_dim):
            bound = np.sqrt(6.0 / in_dim)
            return rng.uniform(-bound, bound, (out_dim, in_dim)).astype(np.float32)

        n = len(sizes) - 1
        f32 = np.float32
        self.w = [kaiming(sizes[i + 1], sizes[i]) for i in range(n)]
        self.p = [kaiming(classes, sizes[i + 1]) for i in range(n)]
        self.w_out = kaiming(classes, sizes[-1])
        # Scaling: 1 / (256 · fan-in) in the integer network; here 1 / fan-in keeps the float
        # activations near unit size.
        self.scale = [f32(1.0 / np.sqrt(sizes[i])) for i in range(n)]
        self.head_scale = [f32(1.0 / np.sqrt(sizes[i + 1])) for i in range(n)]
        self.out_scale = f32(1.0 / np.sqrt(sizes[-1]))
        self.lr = f32(0.01 / batch)
        # Two batches of inputs and one-hot targets, used alternately.
        self.x = [rng.standard_normal((batch, sizes[0]), dtype=f32) for _ in range(2)]
        self.y = []
        for _ in range(2):
            y = np.zeros((batch, classes), dtype=f32)
            y[np.arange(batch), rng.integers(0, classes, batch)] = 1.0
            self.y.append(y)
        self.s = [np.empty((batch, sizes[i + 1]), f32) for i in range(n)]
        self.a = [np.empty((batch, sizes[i + 1]), f32) for i in range(n)]
        self.tmp = [np.empty((batch, sizes[i + 1]), f32) for i in range(n)]
        self.delta = [np.empty((batch, sizes[i + 1]), f32) for i in range(n)]
        self.dw = [np.empty_like(w) for w in self.w]
        self.dp = [np.empty_like(p) for p in self.p]
        self.dw_out = np.empty_like(self.w_out)
        self.g = np.empty((batch, classes), f32)
        self.step_count = 0

    def macs_per_step(self):
        """Multiply-adds of one step: the same GEMMs as the integer step."""
        b, sizes = self.batch, self.sizes
        classes = self.w_out.shape[0]
        n = len(sizes) - 1
        blocks = sum(2 * sizes[i] * sizes[i + 1] for i in range(n))  # forward + weight gradient
        heads = sum(3 * sizes[i + 1] * classes for i in range(n))  # forward, δ, head gradient
        return b * (blocks + heads + 2 * sizes[-1] * classes)

    def step(self):
        np = self.np
        k = self.step_count & 1
        self.step_count += 1
        x, y, g = self.x[k], self.y[k], self.g
        n = len(self.w)
        # Forward of every block: linear, scaling, leaky ReLU (s saved for the backward).
        inp = x
        for i in range(n):
            s, a, t = self.s[i], self.a[i], self.tmp[i]
            np.matmul(inp, self.w[i].T, out=s)
            np.multiply(s, self.scale[i], out=s)
            np.multiply(s, self.slope, out=t)
            np.maximum(s, t, out=a)
            inp = a
        # Output layer: forward, loss gradient, weight gradient, SGD.
        np.matmul(inp, self.w_out.T, out=g)
        np.multiply(g, self.out_scale, out=g)
        np.subtract(g, y, out=g)
        np.matmul(g.T, inp, out=self.dw_out)
        self.dw_out *= self.lr
        self.w_out -= self.dw_out
        # Every block from its own head, nothing across blocks.
        inp = x
        for i in range(n):
            s, a, t, d = self.s[i], self.a[i], self.tmp[i], self.delta[i]
            p = self.p[i]
            np.matmul(a, p.T, out=g)
            np.multiply(g, self.head_scale[i], out=g)
            np.subtract(g, y, out=g)
            np.matmul(g, p, out=d)  # δ with the head's weights before their update
            np.matmul(g.T, a, out=self.dp[i])
            self.dp[i] *= self.lr
            p -= self.dp[i]
            # Leaky ReLU backward on s, then scaling's backward.
            np.greater(s, 0, out=t)
            t *= 1 - self.slope
            t += self.slope
            np.multiply(d, t, out=d)
            d *= self.scale[i]
            np.matmul(d.T, inp, out=self.dw[i])
            self.dw[i] *= self.lr
            self.w[i] -= self.dw[i]
            inp = a

    def finite(self):
        np = self.np
        return all(bool(np.isfinite(w).all()) for w in [*self.w, *self.p, self.w_out])


def worker(args):
    """One measurement in this process (its BLAS thread count is fixed by the environment)."""
    numpy = import_numpy()
    info = blas_report(numpy)
    spec = json.loads(args.spec)
    sizes = [spec["in"], *spec["hidden"]]
    net = FloatStep(numpy, sizes, spec["classes"], args.batch, spec["slopeInv"])
    warm_end = time.perf_counter() + min(0.5, args.seconds / 4)
    while time.perf_counter() < warm_end:
        net.step()
    # Steps for about `seconds`, from the warm-up rate.
    t = time.perf_counter()
    for _ in range(20):
        net.step()
    per_step = (time.perf_counter() - t) / 20
    steps = max(20, int(args.seconds / per_step))
    t = time.perf_counter()
    for _ in range(steps):
        net.step()
    elapsed = time.perf_counter() - t
    out = {
        "imagesPerSecond": steps * args.batch / elapsed,
        "msPerStep": 1000 * elapsed / steps,
        "steps": steps,
        "macsPerStep": net.macs_per_step(),
        "finite": net.finite(),
        "blasThreads": info["threads"],
        "gemmGflops": gemm_gflops(numpy, seconds=0.2),
    }
    print(json.dumps(out))


# --- the orchestration ------------------------------------------------------------------------


def run(cmd, env=None):
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        fail(f"{' '.join(cmd[:3])} ... exited {r.returncode}: {tail}")
    return r.stdout


def preset_spec(preset):
    code = (
        "import('./dist/index.js').then((m) => { const p = m.getPreset(process.argv[1]);"
        " console.log(JSON.stringify(p.spec)); })"
    )
    spec = json.loads(run(["node", "-e", code, preset]))
    if spec.get("features"):
        fail(f"--preset {preset} has conv blocks; the float baseline covers MLP presets only")
    n_in = 1
    for d in spec["input"]:
        n_in *= d
    return {
        "in": n_in,
        "hidden": spec["hidden"],
        "classes": spec["classes"],
        "slopeInv": spec["negativeSlopeInv"],
    }


def float_run(args, spec, threads):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    env["MKL_NUM_THREADS"] = str(threads)
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--spec",
        json.dumps(spec),
        "--batch",
        str(args.batch),
        "--seconds",
        str(args.seconds),
    ]
    r = json.loads(run(cmd, env).strip().splitlines()[-1])
    if not r["finite"]:
        fail(f"the float step at {threads} threads diverged (non-finite weights)")
    if r["blasThreads"] is not None and r["blasThreads"] != threads:
        fail(f"OPENBLAS_NUM_THREADS={threads} but OpenBLAS runs {r['blasThreads']} threads")
    return r


def nitro_run(args, steps, threads=None):
    cmd = ["node", CLI, "bench", "--preset", args.preset, "--batch", str(args.batch)]
    cmd += ["--backend", "cpu", "--kernel-timing", "none", "--json", "--no-tuned"]
    cmd += ["--steps", str(steps), "--warmup", str(max(2, steps // 10))]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    if args.weights:
        cmd += ["--weights", args.weights]
    return json.loads(run(cmd).strip().splitlines()[-1])


def uptime():
    try:
        r = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
        return r.stdout.strip()
    except OSError:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return "load average " + " ".join(f.read().split()[:3])


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit():
    r = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        return "?"
    return r.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def fmt(v):
    return f"{round(v):,}"


def span(values):
    lo, hi = min(values), max(values)
    return fmt(lo) if round(lo) == round(hi) else f"{fmt(lo)}-{fmt(hi)}"


def orchestrate(args):
    numpy = import_numpy()
    threads = [int(t) for t in args.threads.split(",") if t]
    if not threads or min(threads) < 1:
        fail(f"--threads must list positive thread counts, got '{args.threads}'")
    info = blas_report(numpy)
    print(f"{PROG}: numpy {info['numpy']} on {sys.executable}", file=sys.stderr)
    print(f"{PROG}: BLAS {info['kind']} (build: {info['build']} {info['config']})", file=sys.stderr)
    for lib in info["libraries"]:
        print(f"{PROG}: loaded {lib}", file=sys.stderr)
    if info["kind"] == "reference":
        blas_libs = [p for p in info["libraries"] if "blas" in os.path.basename(p).lower()]
        fail(
            f"numpy uses the reference BLAS ({(blas_libs or [info['build']])[0]}); the float"
            " baseline needs an optimised one: pip install numpy (its wheels bring OpenBLAS)"
        )
    # The sanity check in a 1-thread process: a reference BLAS reaches a few GFLOP/s.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = (
        "import importlib.util, sys; sys.path.insert(0, sys.argv[1]);"
        "spec = importlib.util.spec_from_file_location('fb', sys.argv[2]);"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
        "import numpy; print(m.gemm_gflops(numpy))"
    )
    gflops = float(run([sys.executable, "-c", code, ROOT, os.path.abspath(__file__)], env))
    print(f"{PROG}: float32 GEMM 384^3, 1 thread: {gflops:.1f} GFLOP/s", file=sys.stderr)
    if gflops < args.min_gflops:
        fail(
            f"float32 GEMM reaches {gflops:.1f} GFLOP/s on 1 thread, under --min-gflops "
            f"{args.min_gflops}: a reference BLAS (or a saturated machine); pip install numpy"
        )

    if not os.path.exists(os.path.join(ROOT, "dist", "index.js")):
        fail("dist/ is not built (npm run build, or run scripts/float-baseline.sh)")
    spec = preset_spec(args.preset)
    help_text = run(["node", CLI, "bench", "--help"])
    nitro_threads = threads if "--threads" in help_text else [None]
    load_before = uptime()
    # Calibration: nitro-d's rate sets its step count, and its ops per step check the float step.
    probe = nitro_run(args, 20, nitro_threads[0])
    nitro_steps = max(20, int(args.seconds * probe["imagesPerSecond"] / args.batch))
    columns = [f"float {t}" for t in threads] + [
        "nitro-d cpu" if t is None else f"nitro-d cpu {t}" for t in nitro_threads
    ]
    rows = []
    macs = None
    for r in range(args.rounds):
        row = {}
        for t in threads:
            res = float_run(args, spec, t)
            macs = res["macsPerStep"]
            row[f"float {t}"] = res["imagesPerSecond"]
        for t in nitro_threads:
            res = nitro_run(args, nitro_steps, t)
            row["nitro-d cpu" if t is None else f"nitro-d cpu {t}"] = res["imagesPerSecond"]
        rows.append(row)
        print(
            f"{PROG}: round {r + 1}: " + ", ".join(f"{k} {fmt(v)}" for k, v in row.items()),
            file=sys.stderr,
        )
    load_after = uptime()
    if 2 * macs != probe["opsPerStep"]:
        fail(
            f"the float step does {2 * macs} operations per step, nitro-d bench "
            f"{probe['opsPerStep']}: the GEMM shapes differ"
        )

    hidden = "-".join(str(d) for d in [spec["in"], *spec["hidden"], spec["classes"]])
    blas = f"{info['kind']} ({info['build']} {info['config']})".strip()
    lines = [
        f"{args.preset} ({hidden}), batch {args.batch}, images/s, {args.rounds} rounds interleaved"
        f" (each measurement about {args.seconds:g} s)",
        "",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; commit {commit()}",
        f"- numpy {info['numpy']}, BLAS {blas};"
        f" float32 GEMM 384^3 on 1 thread {gflops:.1f} GFLOP/s",
        f"- nitro-d: `node bin/nitro-d.js bench --preset {args.preset} --batch {args.batch}"
        f" --backend cpu --kernel-timing none --no-tuned --steps {nitro_steps}"
        + (f" --weights {args.weights}" if args.weights else "")
        + "`"
        f" ({probe['adapter']}, Node {run(['node', '--version']).strip()})",
        f"- {2 * macs:,} operations per step in both ({2 * macs // args.batch:,} per image)",
        f"- before: `{load_before}`",
        f"- after: `{load_after}`",
        "",
        "| round | " + " | ".join(columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for i, row in enumerate(rows):
        lines.append(f"| {i + 1} | " + " | ".join(fmt(row[c]) for c in columns) + " |")
    medians = {c: statistics.median(r[c] for r in rows) for c in columns}
    lines.append("| median | " + " | ".join(fmt(medians[c]) for c in columns) + " |")
    lines.append("| range | " + " | ".join(span([r[c] for r in rows]) for c in columns) + " |")
    best_float = max(v for c, v in medians.items() if c.startswith("float"))
    best_nitro = max(v for c, v in medians.items() if c.startswith("nitro"))
    lines += ["", f"nitro-d / best float median: {best_nitro / best_float:.2f}"]
    table = "\n".join(lines)
    print(table)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(table + "\n")
        os.replace(tmp, args.out)
        print(f"{PROG}: wrote {args.out}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(
        prog=PROG, description="float32 numpy baseline next to nitro-d bench --backend cpu"
    )
    parser.add_argument("--preset", default="mlp2", help="an MLP preset (default mlp2)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="seconds per measurement (default 2)"
    )
    parser.add_argument("--threads", default="1,2", help="BLAS thread counts (default 1,2)")
    parser.add_argument(
        "--min-gflops",
        type=float,
        default=20.0,
        help="refuse a BLAS below this 1-thread float32 GEMM rate (default 20)",
    )
    parser.add_argument(
        "--weights", help="nitro-d benches from this checkpoint instead of seeded weights"
    )
    parser.add_argument("--out", help="also write the table to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch < 1 or args.rounds < 1 or args.seconds <= 0:
        fail("--batch and --rounds must be >= 1 and --seconds > 0")
    if args.worker:
        worker(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
