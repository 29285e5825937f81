"""Benchmark the samplers: accuracy against the number of denoiser calls (NFE), and the loop's own overhead.

    .venv/bin/python bench/samplers.py

(1) Error vs NFE on an analytic Gaussian mixture (the 8-mode 2-D ring, ``dl.GaussianMixture.ring()``) with its
exact denoiser, VPLinear schedule, float64, from exact samples of p_1 down to t_min = 1e-3 (sigma ~ 0.01),
on grids uniform in logsnr and EDM's (karras, rho = 7), with as many steps as the NFE budget allows
(``dl.sample``):
  - ODE samplers: RMS distance to the exact probability-flow ODE solution from the same x_T
    (``dl.sde.solve_pf_ode``: scipy DOP853, rtol = atol = 1e-11);
  - every sampler: sliced Wasserstein distance to exact samples of p_{t_min}, next to the exact-vs-exact floor.
(2) Overhead: wall time per step of each sampler's loop with a trivial denoiser ``D = lambda x, t: 0 * x``
(float32 batches 1024 x 2 and 1024 x 64, 50 steps, median and minimum of 15 repeats, 1 torch thread).

Writes bench/results/samplers.md (tables) and bench/results/samplers.json. Measurements, never assertions.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "lib"))
import diffusionlab as dl

F64 = torch.float64
NFES = (5, 10, 20, 50)
T_MIN, SPACINGS = 1e-3, ("logsnr", "karras")
# (label, registry name, kwargs, deterministic?)
CONFIGS = [
    ("euler", "euler", {}, True),
    ("ddim (eta=0)", "ddim", {}, True),
    ("heun", "heun", {}, True),
    ("dpmpp_2m", "dpmpp_2m", {}, True),
    ("dpmpp_3m", "dpmpp_3m", {}, True),
    ("ddpm", "ddpm", {}, False),
    ("ddim (eta=0.5)", "ddim", {"eta": 0.5}, False),
    ("euler_maruyama", "euler_maruyama", {}, False),
    ("pc (ancestral + 1 Langevin)", "pc", {}, False),
    ("heun (churn=10)", "heun", {"churn": 10.0}, False),
]


def machine_info() -> dict:
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def pf_ode_reference(D, schedule, x, t0, t1):
    """The exact probability-flow ODE solution: ``dl.sde.solve_pf_ode`` (scipy DOP853) at rtol = atol = 1e-11."""
    return dl.sde.solve_pf_ode(D, schedule, x, t0, t1, rtol=1e-11, atol=1e-11)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def sliced(x, y):
    return dl.sliced_wasserstein(x, y, n_projections=256, generator=gen(99)).item()


def accuracy(n_ode=512, n_dist=4000):
    gm, schedule = dl.GaussianMixture.ring(), dl.VPLinear()
    D = gm.as_denoiser(schedule)
    x_ode = gm.at(schedule, 1.0).sample(n_ode, gen(0))
    t0 = time.perf_counter()
    ref = pf_ode_reference(D, schedule, x_ode, 1.0, T_MIN)
    ref_seconds = time.perf_counter() - t0
    target = gm.at(schedule, T_MIN)
    exact = target.sample(n_dist, gen(1))
    floors = [sliced(target.sample(n_dist, gen(10 + k)), exact) for k in range(3)]
    x_dist = gm.at(schedule, 1.0).sample(n_dist, gen(2))
    # where every ODE sampler converges: the exact flow of these x_T (itself a sample of p_t_min)
    flow_sw = sliced(pf_ode_reference(D, schedule, x_dist, 1.0, T_MIN), exact)
    zero = float(schedule.sigma(T_MIN)) == 0.0
    tables = {}
    for spacing in SPACINGS:
        rows = []
        for label, name, kw, ode in CONFIGS:
            row = {"sampler": label, "name": name, "kwargs": kw, "deterministic": ode, "nfe": {}}
            for budget in NFES:
                steps = max(s for s in range(1, budget + 1) if dl.nfe(name, s, final_sigma_zero=zero, **kw) <= budget)
                cell = {"steps": steps, "nfe_used": dl.nfe(name, steps, final_sigma_zero=zero, **kw)}
                run = {"spacing": spacing, "t_min": T_MIN, **kw}
                if ode:
                    out = dl.sample(name, D, schedule, x_ode, nfe=budget, generator=gen(3), **run)
                    cell["rms_to_pf_ode"] = ((out - ref) ** 2).sum(1).mean().sqrt().item()
                out = dl.sample(name, D, schedule, x_dist, nfe=budget, generator=gen(3), **run)
                cell["sliced_w2"] = sliced(out, exact)
                row["nfe"][str(budget)] = cell
            rows.append(row)
        tables[spacing] = rows
    return {"data": "GaussianMixture.ring() (8 modes, radius 2, std 0.2), exact denoiser, float64",
            "schedule": "VPLinear(beta_min=0.1, beta_max=20)", "t_max": 1.0, "t_min": T_MIN,
            "n_ode": n_ode, "n_dist": n_dist, "sw_floor": statistics.mean(floors), "sw_floor_draws": floors,
            "sw_exact_flow": flow_sw, "reference_seconds": ref_seconds, "tables": tables}


def overhead(steps=50, repeats=15, batches=((1024, 2), (1024, 64))):
    schedule = dl.VPLinear()
    ts = dl.timesteps(schedule, steps, spacing="logsnr", t_min=T_MIN)

    def D(x, t):
        return 0 * x

    rows = []
    for label, name, kw, _ in CONFIGS:
        row = {"sampler": label, "name": name, "kwargs": kw,
               "nfe_per_step": dl.nfe(name, steps, final_sigma_zero=False, **kw) / steps, "us_per_step": {}}
        for b in batches:
            x = torch.randn(*b, generator=gen(0))
            f = dl.get_sampler(name)
            f(D, schedule, x, ts, generator=gen(1), **kw)  # warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                f(D, schedule, x, ts, generator=gen(1), **kw)
                times.append((time.perf_counter() - t0) / steps * 1e6)
            row["us_per_step"][f"{b[0]}x{b[1]}"] = statistics.median(times)
            row.setdefault("us_per_step_min", {})[f"{b[0]}x{b[1]}"] = min(times)
        rows.append(row)
    return {"steps": steps, "repeats": repeats, "dtype": "float32", "denoiser": "lambda x, t: 0 * x", "rows": rows}


def _table(rows, key, fmt):
    out = ["| sampler | " + " | ".join(f"NFE {n}" for n in NFES) + " |", "|---|" + "---:|" * len(NFES)]
    for row in rows:
        if key in next(iter(row["nfe"].values())):
            cells = [fmt(c) for c in row["nfe"].values()]
            out.append(f"| {row['sampler']} | " + " | ".join(cells) + " |")
    return out


def markdown(info, acc, ovh) -> str:
    floors = ", ".join(f"{v:.3f}" for v in acc["sw_floor_draws"])
    out = ["# Sampler benchmark", "",
           "Accuracy against the number of denoiser calls (NFE) and the cost of each sampler's own loop, measured by",
           "`bench/samplers.py`. A measurement, not a test.", "",
           f"- date: {info['date']}",
           f"- machine: {info['cpu_count']} CPUs, {info['platform']} ({info['processor']})",
           f"- python {info['python']}, torch {info['torch']}, {info['torch_threads']} torch thread(s)", "",
           "## 1. Error vs NFE on an analytic mixture", "",
           (f"Data: {acc['data']}; schedule {acc['schedule']}; from exact samples of p_1 (t = 1) to "
            f"t_min = {acc['t_min']} (sigma ~ 0.01 > 0, so no final denoising step), with the largest number of "
            "steps whose NFE fits the budget (`dl.sample(name, ..., nfe=N, spacing=...)`; heun and pc make 2 "
            "calls per step, so they take half as many steps; `(k st.)` = k steps). Two grids: **uniform in "
            "logsnr** (`spacing=\"logsnr\"`) and **EDM's** (`spacing=\"karras\"`, rho = 7)."), "",
           (f"RMS distance to the exact PF-ODE solution from the same x_T ({acc['n_ode']} points; reference: scipy "
            f"DOP853 at rtol = atol = 1e-11 via `dl.sde.solve_pf_ode`, {acc['reference_seconds']:.1f} s). "
            f"Sliced Wasserstein-2 to {acc['n_dist']} exact samples of p_t_min (256 projections): the floor of "
            f"exact vs exact samples is **{acc['sw_floor']:.3f}** (draws: {floors}); the exact PF-ODE image of "
            f"the same x_T scores **{acc['sw_exact_flow']:.3f}**, which is where every ODE sampler converges.")]
    for spacing, rows in acc["tables"].items():
        out += ["", f"### Grid `spacing=\"{spacing}\"`: RMS distance to the exact PF-ODE solution (ODE samplers)",
                ""]
        out += _table(rows, "rms_to_pf_ode", lambda c: f"{c['rms_to_pf_ode']:.2e} ({c['steps']} st.)")
        out += ["", f"### Grid `spacing=\"{spacing}\"`: sliced Wasserstein-2 to exact samples (all samplers)", ""]
        out += _table(rows, "sliced_w2", lambda c: f"{c['sliced_w2']:.3f}")
    out += ["", "Reading the tables (this data, this setup):", "",
            "- euler and ddim(eta=0) agree to all printed digits (the same update, see `dl.euler`).",
            ("- heun is poor below ~10 steps here: its trapezoidal correction averages slopes at the two ends of "
             "steps that span orders of magnitude in sigma (and its last step, to sigma = 0.01 > 0, is corrected "
             "too; on EDM's grids ending at sigma = 0 that step is Euler). Per NFE it beats euler only at NFE 50."),
            ("- dpmpp_3m is the most accurate at NFE 50, but on the karras grid it is erratic at NFE 5-20 on this sharp "
             "mixture (std 0.2): extrapolating a parabola over large lambda steps overshoots; dpmpp_2m is the "
             "safer few-step choice."),
            ("- the ODE samplers' Wasserstein distance stops at the exact flow's value, not at the floor: the PF-ODE "
             "maps these particular x_T to one sample of p_t_min, whose distance to the reference sample is a "
             "random number near the floor. The stochastic samplers draw fresh noise and reach the floor by NFE 50.")]
    keys = list(ovh["rows"][0]["us_per_step"])
    out += ["", "## 2. Overhead of the sampler loop", "",
            (f"Wall time per step with the trivial denoiser `{ovh['denoiser']}` ({ovh['dtype']}, {ovh['steps']} "
             f"steps; median (minimum) of {ovh['repeats']} runs): the sampler's own arithmetic, schedule evaluations and "
             "noise draws, not the network. On a shared CPU the medians are noisy; the minima are the steadier figure. ddpm and pc (its "
             "predictor is ddpm's step), ddim with eta > 0 (the posterior variance), euler_maruyama (f and g^2) "
             "and heun with churn (the time of the raised noise level) evaluate the schedule in every step; "
             "euler, ddim(eta=0), heun and dpmpp evaluate it once for the whole grid."), "",
            "| sampler | denoiser calls / step | " + " | ".join(f"us/step, batch {k}" for k in keys) + " |",
            "|---|---:|" + "---:|" * len(keys)]
    for row in ovh["rows"]:
        cells = [f"{row['us_per_step'][k]:.0f} ({row['us_per_step_min'][k]:.0f})" for k in keys]
        out.append(f"| {row['sampler']} | {row['nfe_per_step']:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main():
    torch.set_num_threads(1)
    info = machine_info()
    acc = accuracy()
    ovh = overhead()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "samplers.json").write_text(json.dumps({"machine": info, "accuracy": acc, "overhead": ovh}, indent=1))
    text = markdown(info, acc, ovh)
    (RESULTS / "samplers.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
