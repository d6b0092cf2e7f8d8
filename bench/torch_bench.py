#!/usr/bin/env python3
"""PyTorch side of `npm run bench -- --vs-torch` (src/bench/vs_torch.ts drives it).

A long-lived child that reads one JSON command per line on stdin and answers one JSON line on
stdout, so the Node side can interleave apc and PyTorch repetitions on the same CPU:

  {"op": "init", "teacher": <VggConfig>, "student": <VggConfig>, "batch": 16, "threads": 2, "seed": 0}
  {"op": "run", "what": <row>, "iters": n}      -> {"ok": true, "ms": [n wall times]}
  {"op": "quit"}

Rows (what): teacher_step, kd_step, kdwcam_ref_step, kdwcam_lean_step, gradcam, forward, and
graph_step:<name> / graph_forward:<name> for every apc graph sent with
  {"op": "init_graphs", "graphs": {"<name>": {"spec": <GraphSpec>, "shapes": {node: shape}}}, "batch": 16}
(ResNet-18, MobileNetV2 …): GraphModule below builds the same network from apc's graph JSON.
The networks are built from apc's VggConfig (src/models/vgg_config.ts): every conv 3x3/1 'same' +
bias -> BatchNorm (eps, momentum from the config) -> ReLU, a 2x2/2 max-pool after each block,
flatten -> Dropout -> Linear. Layout is PyTorch's NCHW (what the reference implementation runs).
Every timed call ends with a host read (.item() / .numpy()), as apc's side does.
"""
import json
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")  # create_graph=True backward warns about a reference cycle


class Vgg(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, w = cfg["inputSize"]
        layers, cin = [], 3
        for block in cfg["blocks"]:
            for cout in block:
                layers += [nn.Conv2d(cin, cout, 3, padding=1),
                           nn.BatchNorm2d(cout, eps=cfg.get("bnEpsilon", 1e-5), momentum=cfg.get("bnMomentum", 0.1)),
                           nn.ReLU(inplace=True)]
                cin = cout
            layers.append(nn.MaxPool2d(2, 2))
            h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers[:-1])  # up to the last ReLU (the Grad-CAM layer)
        self.pool = layers[-1]                       # the last pool (the matched layer)
        self.dropout = nn.Dropout(cfg.get("dropout", 0.5))
        self.fc = nn.Linear(cin * h * w, cfg["numClasses"])

    def forward(self, x):
        a = self.features(x)
        f = self.pool(a)
        z = self.fc(self.dropout(torch.flatten(f, 1)))
        return a, f, z


class GraphModule(nn.Module):
    """apc's graph (src/models/graph/graph_spec.ts) as a PyTorch module, NCHW: the same ops,
    shapes and parameter counts, so a train step times the same network on both sides. `shapes`
    holds apc's per-node output shapes ([H, W, C] or [F]), which size the dense layers."""

    def __init__(self, spec, shapes):
        super().__init__()
        self.spec = spec
        self.mods = nn.ModuleDict()
        cin = lambda n: shapes[n["inputs"][0]][-1]
        for n in spec["nodes"]:
            op, key = n["op"], n["name"].replace(".", "_")
            if op == "conv2d":
                t, b, l, r = n.get("pads", [0, 0, 0, 0])
                if t != b or l != r:
                    raise ValueError(f"node {n['name']}: asymmetric pads")
                self.mods[key] = nn.Conv2d(cin(n), n["filters"], n["kernelSize"], n.get("strides", [1, 1]), (t, l),
                                           n.get("dilations", [1, 1]), n.get("groups", 1), n.get("useBias", True))
            elif op == "batchNorm":
                self.mods[key] = nn.BatchNorm2d(cin(n), eps=n.get("epsilon", 1e-5), momentum=n.get("momentum", 0.1))
            elif op == "dense":
                features = 1
                for d in shapes[n["inputs"][0]]:
                    features *= d
                self.mods[key] = nn.Linear(features, n["units"], bias=n.get("useBias", True))
            elif op == "dropout":
                self.mods[key] = nn.Dropout(n["rate"])

    def forward(self, x):
        v = {"input": x}
        for n in self.spec["nodes"]:
            op, key = n["op"], n["name"].replace(".", "_")
            a = v[n["inputs"][0]]
            if op in ("conv2d", "batchNorm", "dense", "dropout"):
                y = self.mods[key](a)
            elif op == "relu":
                y = F.relu(a)
            elif op == "clip":
                y = F.relu6(a) if (n["min"], n["max"]) == (0, 6) else torch.clamp(a, n["min"], n["max"])
            elif op == "maxPool":
                t, b, l, r = n.get("pads", [0, 0, 0, 0])
                y = F.max_pool2d(a, n["poolSize"], n["strides"], (t, l))
            elif op == "avgPool":
                t, b, l, r = n.get("pads", [0, 0, 0, 0])
                y = F.avg_pool2d(a, n["poolSize"], n["strides"], (t, l), count_include_pad=n.get("countIncludePad", True))
            elif op == "globalAvgPool":
                y = a.mean((2, 3))
            elif op == "pad":
                t, b, l, r = n["pads"]
                y = F.pad(a, (l, r, t, b), value=n.get("value", 0))
            elif op == "add":
                y = v[n["inputs"][0]]
                for i in n["inputs"][1:]:
                    y = y + v[i]
            elif op == "concat":
                y = torch.cat([v[i] for i in n["inputs"]], 1)
            elif op == "flatten":
                y = a.permute(0, 2, 3, 1).flatten(1) if a.dim() == 4 else a  # apc's NHWC order
            elif op == "identity":
                y = a
            else:
                raise ValueError(f"node {n['name']}: op {op}")
            v[n["name"]] = y
        return v[self.spec["output"]]


class GraphBench:
    """Train step and forward of one apc graph, as the teacher step does for the VGG."""

    def __init__(self, spec, shapes, batch, seed=0):
        torch.manual_seed(seed)
        self.net = GraphModule(spec, shapes)
        h, w, c = spec["input"]["shape"]
        self.x = torch.randn(batch, c, h, w)
        k = next(n for n in spec["nodes"] if n["name"] == spec["output"])["units"]
        self.y = (torch.rand(batch, k) < 0.15).float()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step(self):
        self.net.train()
        self.opt.zero_grad(set_to_none=True)
        loss = F.multilabel_soft_margin_loss(self.net(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def forward(self):
        self.net.eval()
        with torch.no_grad():
            return float(self.net(self.x).numpy().sum())


def kd_loss(s, t, temperature):
    """Multi-label KD (compression.md 1.1): Bernoulli KL per class, mean over B*K, times T^2."""
    s, t = s / temperature, t / temperature
    q = torch.sigmoid(t)
    kl = q * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - q) * (F.logsigmoid(-t) - F.logsigmoid(-s))
    return kl.mean() * temperature * temperature


def cam(features, grads):
    """SWA / Grad-CAM collapse: ReLU(sum_k alpha_k F_k), alpha = spatial sum of the gradient."""
    alpha = grads.sum((2, 3), keepdim=True)
    return F.relu((alpha * features).sum(1))


def normalize(maps):
    flat = maps.flatten(1)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)


class Bench:
    def __init__(self, msg):
        torch.manual_seed(msg.get("seed", 0))
        torch.set_num_threads(int(msg.get("threads", 2)))
        b = int(msg["batch"])
        tc, sc = msg["teacher"], msg["student"]
        self.teacher = Vgg(tc)
        self.student = Vgg(sc)
        self.net = Vgg(tc)  # trained in teacher_step; explained in gradcam / forward
        h, w = tc["inputSize"]
        self.size = (h, w)
        self.n_cls = tc["numClasses"]
        self.x = torch.randn(b, 3, h, w)
        self.y = (torch.rand(b, self.n_cls) < 0.15).float()
        self.cls = torch.randint(0, self.n_cls, (b,))
        sgd = dict(lr=0.01, momentum=0.9, weight_decay=1e-4)
        self.opt_net = torch.optim.SGD(self.net.parameters(), **sgd)
        self.opt_student = torch.optim.SGD(self.student.parameters(), **sgd)
        self.teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.alpha, self.temperature, self.beta = 0.9, 4.0, 1.0
        self.graphs = {}

    # (a) plain training step: BN in training mode, dropout, SGD momentum + weight decay
    def teacher_step(self):
        self.net.train()
        self.opt_net.zero_grad(set_to_none=True)
        _, _, z = self.net(self.x)
        loss = F.multilabel_soft_margin_loss(z, self.y)
        loss.backward()
        self.opt_net.step()
        return loss.item()

    def _teacher_side(self, wcam, reference):
        """Teacher in inference mode; for WCAM its top-1 class and normalised map (a constant)."""
        if not wcam:
            with torch.no_grad():
                return self.teacher(self.x)[2], None, None
        if reference:
            # Reference style: grad-enabled teacher forward and a full backward of the selected
            # logits, the pool gradient taken with a hook (the parameter gradients are waste).
            for p in self.teacher.parameters():
                p.requires_grad_(True)
            _, ft, zt = self.teacher(self.x)
            grads = []
            ft.register_hook(grads.append)
            cls = zt.argmax(1)
            zt.backward(F.one_hot(cls, self.n_cls).float())
            self.teacher.zero_grad(set_to_none=True)
            for p in self.teacher.parameters():
                p.requires_grad_(False)
            target = normalize(cam(ft.detach(), grads[0])).detach()
            return zt.detach(), cls, target
        with torch.no_grad():
            a = self.teacher.features(self.x)
        ft = self.teacher.pool(a).requires_grad_(True)
        zt = self.teacher.fc(torch.flatten(ft, 1))  # dropout is the identity in eval mode
        cls = zt.argmax(1)
        g = torch.autograd.grad(zt.gather(1, cls[:, None]).sum(), ft)[0]
        return zt.detach(), cls, normalize(cam(ft.detach(), g)).detach()

    # (b) distillation step, plain KD or KD + WCAM (reference style or lean)
    def kd_step(self, wcam=False, reference=True):
        zt, cls, target = self._teacher_side(wcam, reference)
        self.student.train()
        self.opt_student.zero_grad(set_to_none=True)
        _, fs, zs = self.student(self.x)
        loss = (1 - self.alpha) * F.multilabel_soft_margin_loss(zs, self.y) + self.alpha * kd_loss(zs, zt, self.temperature)
        if wcam:
            seed = F.one_hot(cls, self.n_cls).float()
            if reference:
                # The reference: a full student backward with create_graph=True gives dz_c/dF
                # (hook at the matched layer); the parameter gradients it leaves are cleared.
                grads = []
                fs.register_hook(grads.append)
                zs.backward(seed, create_graph=True, retain_graph=True)
                self.opt_student.zero_grad(set_to_none=True)
                gs = grads[0]
            else:
                gs = torch.autograd.grad((zs * seed).sum(), fs, create_graph=True)[0]
            loss = loss + self.beta * F.mse_loss(normalize(cam(fs, gs)), target)
        loss.backward()
        self.opt_student.step()
        return loss.item()

    # (c) Grad-CAM at the last ReLU, eval mode, upsampled to the input size
    def gradcam(self):
        self.net.eval()
        a, _, z = self.net(self.x)
        g = torch.autograd.grad(z.gather(1, self.cls[:, None]).sum(), a)[0]
        maps = F.interpolate(cam(a, g).unsqueeze(1), size=self.size, mode="bilinear", align_corners=False)
        return float(maps.detach().numpy().sum())

    # (d) inference forward
    def forward(self):
        self.net.eval()
        with torch.no_grad():
            return float(self.net(self.x)[2].numpy().sum())

    def run(self, what):
        if what.startswith("graph_step:"):
            return self.graphs[what.split(":", 1)[1]].step()
        if what.startswith("graph_forward:"):
            return self.graphs[what.split(":", 1)[1]].forward()
        if what == "teacher_step":
            return self.teacher_step()
        if what == "kd_step":
            return self.kd_step(wcam=False)
        if what == "kdwcam_ref_step":
            return self.kd_step(wcam=True, reference=True)
        if what == "kdwcam_lean_step":
            return self.kd_step(wcam=True, reference=False)
        if what == "gradcam":
            return self.gradcam()
        if what == "forward":
            return self.forward()
        raise ValueError(f"unknown row '{what}'")


def main():
    bench = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
            op = msg.get("op")
            if op == "init":
                bench = Bench(msg)
                out = {"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                       "mkldnn": bool(torch.backends.mkldnn.is_available())}
            elif op == "init_graphs":
                bench.graphs = {k: GraphBench(g["spec"], g["shapes"], int(msg["batch"])) for k, g in msg["graphs"].items()}
                out = {"ok": True, "params": {k: sum(p.numel() for p in g.net.parameters()) for k, g in bench.graphs.items()}}
            elif op == "run":
                ms = []
                for _ in range(int(msg.get("iters", 1))):
                    t0 = time.perf_counter()
                    bench.run(msg["what"])
                    ms.append((time.perf_counter() - t0) * 1000)
                out = {"ok": True, "ms": ms}
            elif op == "quit":
                print(json.dumps({"ok": True}), flush=True)
                return
            else:
                out = {"ok": False, "error": f"unknown op '{op}'"}
        except Exception as e:  # reported to the Node side, which names the row
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
