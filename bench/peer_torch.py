#!/usr/bin/env python3
"""Peer benchmark: the same DRL workloads in PyTorch (fp32, eager) on this machine's CPU, or with
--device cuda on its GPU, for side-by-side ratios.

Network: the official DRL energy net (net_res_temb2) without attention or normalization, as SPEC.md
defines it; for --preset toy2d the project's 2D MLP (lib/nets/mlp.ts) in the default 2D preset's
training step (8 Gaussians, batch 256, K=10, T=6). Prints one JSON line per workload. Needs
Debian's python3-torch:
    apt-get install -y python3-torch && /usr/bin/python3 bench/peer_torch.py --preset cifar10-bench
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # name: (image size, channels, ch, ch_mult, num_res_blocks, batch)
    "cifar10-bench": (32, 3, 32, (1, 2, 2, 2), 1, 16),
    "fmnist-bench": (28, 1, 32, (1, 2, 2), 1, 32),
    "cifar10-official": (32, 3, 128, (1, 2, 2, 2), 2, 64),
    "toy2d": None,  # the 2D MLP: see toy2d()
}

def lrelu(x):
    return F.leaky_relu(x, 0.2)

def timestep_embedding(t, dim):
    half = dim // 2
    freq = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - 1))
    arg = t.float()[:, None] * freq[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)

class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.g = nn.Parameter(torch.ones(cout))  # official res_use_scale: learned per-channel scale
        self.skip = nn.Conv2d(cin, cout, 3, padding=1) if cin != cout else None  # official 3x3 shortcut

    def forward(self, x, temb):
        h = self.conv1(lrelu(x)) + self.temb(lrelu(temb))[:, :, None, None]
        h = self.conv2(lrelu(h)) * self.g[None, :, None, None]
        return (self.skip(x) if self.skip is not None else x) + h

class EnergyNet(nn.Module):
    def __init__(self, channels, ch, ch_mult, num_res_blocks):
        super().__init__()
        self.ch = ch
        tdim = ch * 4
        self.t0, self.t1 = nn.Linear(ch, tdim), nn.Linear(tdim, tdim)
        self.t2 = nn.Linear(tdim, ch * ch_mult[-1])
        self.conv_in = nn.Conv2d(channels, ch, 3, padding=1)
        blocks, cin = [], ch
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                blocks.append(ResBlock(cin, ch * mult, tdim)); cin = ch * mult
            blocks.append("down" if level != len(ch_mult) - 1 else None)
        self.blocks = nn.ModuleList([b for b in blocks if isinstance(b, nn.Module)])
        self.plan = blocks

    def forward(self, x, t):
        temb = self.t1(lrelu(self.t0(timestep_embedding(t, self.ch))))
        h, i = self.conv_in(x), 0
        for step in self.plan:
            if step == "down":
                h = F.avg_pool2d(h, 2, 2, ceil_mode=True)
            elif step is not None:
                h = self.blocks[i](h, temb); i += 1
        h = F.relu(h).sum((2, 3))
        return (h * self.t2(lrelu(temb))).sum(1)

class Mlp(nn.Module):
    """lib/nets/mlp.ts: h_l = lrelu(h_{l-1} W_l + proj_l(temb)), f = <h_depth, head(temb)>."""
    def __init__(self, width=128, depth=3, temb_dim=32):
        super().__init__()
        self.temb_dim, self.depth = temb_dim, depth
        self.temb0 = nn.Linear(temb_dim, temb_dim)
        self.proj = nn.Linear(temb_dim, depth * width)
        self.hidden = nn.ModuleList([nn.Linear(2 if l == 0 else width, width, bias=False) for l in range(depth)])
        self.head = nn.Linear(temb_dim, width)

    def forward(self, y, t):
        temb = lrelu(self.temb0(timestep_embedding(t, self.temb_dim)))
        proj = self.proj(temb).chunk(self.depth, dim=1)
        h = y
        for layer, p in zip(self.hidden, proj):
            h = lrelu(layer(h) + p)
        return (h * self.head(temb)).sum(1)

def drl_schedule(T, b2=2e-4):
    """lib/schedule.ts's drl schedule: (a_t, sigma_t, step size s_t^2, aPrev) as tensors."""
    betas = [1e-4 + (0.02 - 1e-4) * i / 999 for i in range(1000)] + [1.0]
    sq = [math.sqrt(1 - b) for b in betas]
    spacing = 1000 // ((T - 1) * 2)
    idx = [i * spacing for i in range(T)] + [999]
    alphas = [math.prod(sq[(0 if i == 0 else idx[i - 1] + 1):end + 1]) for i, end in enumerate(idx)]
    sigmas = [math.sqrt(1 - a * a) for a in alphas]
    cum = [math.prod(alphas[:t + 1]) for t in range(T + 1)]
    scum = [math.sqrt(1 - c * c) for c in cum]
    steps = [b2 * scum[t] / scum[0] * sigmas[t + 1] ** 2 for t in range(T)]
    a_prev = alphas[:T] + [1.0]
    f = lambda xs: torch.tensor(xs, dtype=torch.float32)
    return f(alphas), f(sigmas), f(steps), f(cum), f(scum), f(a_prev)

def eight_gaussians(n):
    centers = torch.tensor([[math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)] for k in range(8)])
    return 2 * centers[torch.randint(0, 8, (n,))] + 0.1 * torch.randn(n, 2)

def toy2d(a, batch):
    """The default `deno task train` step: levels per example, noisy pairs, K ULA steps, the
    recovery loss, its gradient, clipping at 10, Adam and an EMA of the weights."""
    T = 6
    net = Mlp()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    ema = [p.detach().clone() for p in net.parameters()]
    alphas, sigmas, steps, cum, scum, a_prev = drl_schedule(T)
    x0 = eight_gaussians(batch)

    def logp_grad(y, t, x_next):
        y = y.detach().requires_grad_(True)
        tn = t + 1
        gauss = ((y - x_next) ** 2).sum(1) * (tn < T).float() / (2 * sigmas[tn] ** 2)
        logp = net(y, t) / steps[t] - gauss
        g, = torch.autograd.grad(logp.sum(), y)
        return g

    def langevin_step(y, t, x_next):
        s2 = steps[t][:, None]
        return (y + 0.5 * s2 * logp_grad(y, t, x_next) + s2.sqrt() * torch.randn_like(y)).detach()

    def train_iter():
        t = torch.randint(0, T, (batch,))
        xt = cum[t][:, None] * x0 + scum[t][:, None] * torch.randn_like(x0)
        x_next = alphas[t + 1][:, None] * xt + sigmas[t + 1][:, None] * torch.randn_like(x0)
        y = x_next.clone()
        for _ in range(a.mcmc_steps):
            y = langevin_step(y, t, x_next)
        scale = a_prev[t + 1][:, None]
        opt.zero_grad()
        loss = (-(net(scale * xt, t) - net(y, t)) * sigmas[1] / sigmas[t + 1]).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, net.parameters()):
                e.mul_(0.99).add_(p, alpha=0.01)

    t2 = torch.full((batch,), 2, dtype=torch.long)
    params = sum(p.numel() for p in net.parameters())
    return params, (lambda: langevin_step(x0, t2, x0)), train_iter

SYNC = lambda: None  # torch.cuda.synchronize on a GPU: a time covers the work, not its launch

def seconds(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    SYNC()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    SYNC()
    return (time.perf_counter() - t0) / reps

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="cifar10-bench", choices=PRESETS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mcmc-steps", type=int, default=30)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=None, help="overrides the preset's batch")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = ap.parse_args()
    global SYNC
    torch.manual_seed(0); torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if a.device == "cuda":
        # fp32 eager, as the project computes: no TF32 in matmuls or convolutions.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        SYNC = torch.cuda.synchronize
    if a.preset == "toy2d":
        if a.device != "cpu":
            raise SystemExit("toy2d runs on the CPU only")
        batch = a.batch or 256
        params, one_step, train = toy2d(a, batch)
        report(a, batch, params, one_step, train)
        return
    size, channels, ch, mult, nrb, batch = PRESETS[a.preset]
    batch = a.batch or batch
    net = EnergyNet(channels, ch, mult, nrb).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.randn(batch, channels, size, size, device=dev)
    t = torch.full((batch,), 2, dtype=torch.long, device=dev)
    sigma, step2 = 0.5165, 4.7e-3  # level 2 of the official T=6 schedule

    def langevin_step(y, x_tilde):
        y = y.detach().requires_grad_(True)
        logp = net(y, t).sum() / step2 - ((y - x_tilde) ** 2).sum() / (2 * sigma ** 2)
        g, = torch.autograd.grad(logp, y)
        return (y + 0.5 * step2 * g + math.sqrt(step2) * torch.randn_like(y)).detach()

    def train_iter():
        y = x.clone()
        for _ in range(a.mcmc_steps):
            y = langevin_step(y, x)
        opt.zero_grad()
        loss = -(net(x, t) - net(y, t)).mean()
        loss.backward(); opt.step()

    params = sum(p.numel() for p in net.parameters())
    report(a, batch, params, lambda: langevin_step(x, x), train_iter)

def report(a, batch, params, one_step, train_iter):
    s = seconds(one_step, a.reps)
    where = torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu"
    common = dict(peer=f"pytorch-{torch.__version__}-{a.device}", device=where, threads=a.threads, preset=a.preset, batch=batch, params=params)
    print(json.dumps(dict(common, workload="langevin_step", seconds=s, image_steps_per_s=batch / s)))
    s = seconds(train_iter, max(1, a.reps // 2), warmup=1)
    print(json.dumps(dict(common, workload="train_iter", mcmc_steps=a.mcmc_steps, seconds=s, iters_per_s=1 / s)))

if __name__ == "__main__":
    main()
