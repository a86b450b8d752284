#!/usr/bin/env python3
"""Independent PyTorch reconstructions of AmoebaNet-A and ENAS, to count
their parameters and mult-adds outside cellc.

Written from reading the sources, not from cellc's skeletons:
  - AmoebaNet: tensorflow/tpu models/official/amoeba_net (model_builder.py
    build_network, network_utils.py BaseCell, model_specs.py amoeba_net_a).
  - ENAS: melodyguan/enas src/cifar10/micro_child.py (_model, _fixed_layer,
    _fixed_combine, _maybe_calibrate_size) with
    scripts/cifar10_micro_final.sh's fixed_arc and flags.

Counts are of trainable tensors: conv weights (no biases in either source),
BN scale and offset (moving statistics are not trainable), FC weights and
(AmoebaNet only) biases. Mult-adds: convolutions (depthwise and pointwise)
and FC layers, per image. The aux head is counted apart.

Usage: python3 scripts/reconstruct-counts.py  (CPU, about a minute)
"""
import torch
import torch.nn as nn
import torch.nn.functional as Fn


def same_pad(x, kh, kw, sh, sw, dh=1, dw=1):
    """TF SAME padding: the extra pixel goes after (bottom/right)."""
    h, w = x.shape[2], x.shape[3]
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    ph = max((-(-h // sh) - 1) * sh + eh - h, 0)
    pw = max((-(-w // sw) - 1) * sw + ew - w, 0)
    return Fn.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class Net(nn.Module):
    """A lazily built network: modules are created on first use, keyed by
    scope, so the builder can follow the sources' imperative style."""

    def __init__(self):
        super().__init__()
        self.mods = nn.ModuleDict()
        self.aux_scopes = set()

    def mod(self, scope, make):
        key = scope.replace("/", ".").replace(".", "__")
        if key not in self.mods:
            self.mods[key] = make().eval()  # running statistics: one image is enough
        return self.mods[key]

    def conv(self, scope, x, cout, kh, kw=None, stride=(1, 1), pad="same", groups=1):
        kw = kh if kw is None else kw
        if isinstance(stride, int):
            stride = (stride, stride)
        m = self.mod(scope, lambda: nn.Conv2d(x.shape[1], cout, (kh, kw), stride, bias=False, groups=groups))
        if pad == "same":
            x = same_pad(x, kh, kw, stride[0], stride[1])
        return m(x)

    def bn(self, scope, x):
        return self.mod(scope, lambda: nn.BatchNorm2d(x.shape[1]))(x)

    def fc(self, scope, x, n, bias):
        return self.mod(scope, lambda: nn.Linear(x.shape[1], n, bias=bias))(x)


def pool(x, kind, k, stride):
    x = same_pad(x, k, k, stride, stride)
    if kind == "avg":
        # TF SAME average pooling excludes the padding; the count does
        # not matter for shapes or parameters, so a plain pool is enough.
        return Fn.avg_pool2d(x, k, stride)
    return Fn.max_pool2d(x, k, stride)


def factorized_reduction(net, scope, x, out, stride, halves):
    """halves(out) gives the two paths' widths."""
    if stride == 1:
        return net.bn(scope + "/path_bn", net.conv(scope + "/path_conv", x, out, 1))
    a, b = halves(out)
    p1 = net.conv(scope + "/path1_conv", x[:, :, ::stride, ::stride], a, 1, pad="valid")
    shifted = Fn.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
    p2 = net.conv(scope + "/path2_conv", shifted[:, :, ::stride, ::stride], b, 1, pad="valid")
    return net.bn(scope + "/final_path_bn", torch.cat([p1, p2], 1))


# --- AmoebaNet (tensorflow/tpu) ---------------------------------------------

AMOEBA_A = {
    "normal": (["avg_pool_3x3", "max_pool_3x3", "separable_3x3_2", "none", "none", "avg_pool_3x3",
                "separable_3x3_2", "separable_5x5_2", "avg_pool_3x3", "separable_3x3_2"],
               [0, 0, 1, 1, 0, 1, 0, 2, 5, 0], [1, 0, 1, 0, 0, 1, 0]),
    "reduction": (["separable_3x3_2", "avg_pool_3x3", "max_pool_3x3", "separable_7x7_2", "max_pool_3x3",
                   "max_pool_3x3", "separable_3x3_2", "1x7_7x1", "avg_pool_3x3", "separable_7x7_2"],
                  [1, 0, 0, 2, 1, 0, 4, 0, 1, 0], [1, 1, 0, 0, 0, 0, 0]),
}


def slim_halves(out):
    # The tpu's factorized_reduction asserts an even width and gives both
    # paths int(out / 2); an odd width (95 in F=190's cell_stem_1) fails
    # there. TF-slim's current nasnet_utils gives path2 the extra filter,
    # which is what this (and cellc) builds.
    return out // 2, out - out // 2


def amoeba_op(net, scope, x, op, stride, f):
    cin = x.shape[1]
    if op.startswith("separable"):
        k = int(op.split("_")[1][0])
        for i in (1, 2):
            x = torch.relu(x)
            x = net.conv(f"{scope}/separable_{k}x{k}_{i}/dw", x, cin if i == 1 else f, k, stride=stride, groups=cin if i == 1 else f)
            x = net.conv(f"{scope}/separable_{k}x{k}_{i}/pw", x, f, 1)
            x = net.bn(f"{scope}/bn_sep_{k}x{k}_{i}", x)
            stride, cin = 1, f
        return x
    if op == "1x7_7x1":
        r = int(f / 4)
        x = torch.relu(x)
        if r < 1:
            r = f
        else:
            x = net.bn(scope + "/pre_bn", net.conv(scope + "/pre_1x1", x, r, 1))
            x = torch.relu(x)
        x = net.conv(scope + "/1x7", x, r, 1, 7, stride=(1, stride))
        x = net.bn(scope + "/bn_1x7_7x1", x)
        x = torch.relu(x)
        x = net.conv(scope + "/7x1", x, r, 7, 1, stride=(stride, 1))
        x = net.bn(scope + "/bn", x)
        if r != f:
            x = torch.relu(x)
            x = net.bn(scope + "/post_bn", net.conv(scope + "/post_1x1", x, f, 1))
        return x
    if op == "none":
        if stride > 1 or cin != f:
            x = net.bn(scope + "/bn_1", net.conv(scope + "/1x1", torch.relu(x), f, 1, stride=stride))
        return x
    kind, k = op.split("_")[0], int(op.split("_")[-1][0])
    x = pool(x, kind, k, stride)
    if cin != f:
        x = net.bn(scope + "/bn_1", net.conv(scope + "/1x1", x, f, 1))
    return x


def amoeba_cell(net, spec, scope, x, prev, f, stride):
    ops, idx, used = spec
    if prev is None:
        prev = x
    elif prev.shape[2] != x.shape[2]:
        prev = factorized_reduction(net, scope + "/prev_fr", torch.relu(prev), f, 2, slim_halves)
    elif prev.shape[1] != f:
        prev = net.bn(scope + "/prev_bn", net.conv(scope + "/prev_1x1", torch.relu(prev), f, 1))
    h = net.bn(scope + "/beginning_bn", net.conv(scope + "/1x1", torch.relu(x), f, 1))
    states = [h, prev]
    for i in range(5):
        outs = []
        for side in (0, 1):
            j = idx[2 * i + side]
            s = stride if j < 2 else 1
            outs.append(amoeba_op(net, f"{scope}/comb_iter_{i}/{side}", states[j], ops[2 * i + side], s, f))
        states.append(outs[0] + outs[1])
    last = states[-1]
    parts = []
    for i, (st, u) in enumerate(zip(states, used)):
        if u:
            continue
        if st.shape[2] != last.shape[2] or st.shape[1] != last.shape[1]:
            st = factorized_reduction(net, f"{scope}/reduction_{i}", st, last.shape[1], 2 if st.shape[2] != last.shape[2] else 1, slim_halves)
        parts.append(st)
    return torch.cat(parts, 1)


def amoebanet(net, images, n, base, classes, aux_scaling=0.4):
    num_cells = 3 * n
    x = net.bn("conv0_bn", net.conv("conv0", images, 32, 3, stride=2, pad="valid"))
    outs = [None, x]
    scaling = 1 / 4
    for i in range(2):
        x = amoeba_cell(net, AMOEBA_A["reduction"], f"cell_stem_{i}", x, outs[-2], int(base * scaling), 2)
        outs.append(x)
        scaling *= 2
    red = [int(k / 3 * num_cells) for k in (1, 2)]
    scaling = 1.0
    aux = None
    for c in range(num_cells):
        if c in red:
            scaling *= 2
            x = amoeba_cell(net, AMOEBA_A["reduction"], f"reduction_cell_{red.index(c)}", x, outs[-2], int(base * scaling), 2)
            outs.append(x)
        x = amoeba_cell(net, AMOEBA_A["normal"], f"cell_{c}", x, outs[-2], int(base * scaling), 1)
        if c == red[1] - 1:
            a = Fn.avg_pool2d(torch.relu(x), 5, 3)
            a = torch.relu(net.bn("aux/aux_bn0", net.conv("aux/proj", a, int(128 * aux_scaling), 1)))
            a = net.conv("aux/conv", a, int(768 * aux_scaling), a.shape[2], a.shape[3], pad="valid")
            a = torch.relu(net.bn("aux/aux_bn1", a))
            aux = net.fc("aux/FC", a.flatten(1), classes, True)
        outs.append(x)
    x = torch.relu(x).mean((2, 3))
    return net.fc("final_layer/FC", x, classes, True), aux


# --- ENAS (melodyguan/enas micro_child.py) -----------------------------------

ENAS_NORMAL = [0, 2, 0, 0, 0, 4, 0, 1, 0, 4, 1, 1, 1, 0, 0, 1, 0, 2, 1, 1]
ENAS_REDUCE = [1, 0, 1, 0, 0, 3, 0, 2, 1, 1, 3, 1, 1, 0, 0, 4, 0, 3, 1, 1]


def enas_halves(out):
    assert out % 2 == 0
    return out // 2, out // 2


def enas_branch(net, scope, x, op, stride, f):
    cin = x.shape[1]
    if op in (0, 1):
        k = (3, 5)[op]
        for i in range(2):
            c = x.shape[1]
            x = torch.relu(x)
            x = net.conv(f"{scope}/sep_conv_{i}/dw", x, c, k, stride=stride if i == 0 else 1, groups=c)
            x = net.conv(f"{scope}/sep_conv_{i}/pw", x, f, 1)
            x = net.bn(f"{scope}/sep_conv_{i}/bn", x)
        return x
    if op in (2, 3):
        x = pool(x, "avg" if op == 2 else "max", 3, stride)
    elif stride > 1:
        x = factorized_reduction(net, scope + "/fr", x, f, 2, enas_halves)
    if cin != f:
        x = net.bn(scope + "/bn", net.conv(scope + "/w", torch.relu(x), f, 1))
    return x


def enas_layer(net, scope, prev, arc, f, stride):
    x, y = prev
    if x.shape[2] != y.shape[2]:
        x = factorized_reduction(net, scope + "/pool_x", torch.relu(x), f, 2, enas_halves)
    elif x.shape[1] != f:
        x = net.bn(scope + "/pool_x/bn", net.conv(scope + "/pool_x/w", torch.relu(x), f, 1))
    if y.shape[1] != f:
        y = net.bn(scope + "/pool_y/bn", net.conv(scope + "/pool_y/w", torch.relu(y), f, 1))
    y = net.bn(scope + "/layer_base/bn", net.conv(scope + "/layer_base/w", torch.relu(y), f, 1))
    layers = [x, y]
    used = [0] * 7
    for c in range(5):
        xi, xo, yi, yo = arc[4 * c:4 * c + 4]
        used[xi] += 1
        used[yi] += 1
        a = enas_branch(net, f"{scope}/cell_{c}/x", layers[xi], xo, stride if xi < 2 else 1, f)
        b = enas_branch(net, f"{scope}/cell_{c}/y", layers[yi], yo, stride if yi < 2 else 1, f)
        layers.append(a + b)
    hw = min(l.shape[2] for i, l in enumerate(layers) if used[i] == 0)
    parts = []
    for i, l in enumerate(layers):
        if used[i] == 0:
            if l.shape[2] > hw:
                l = factorized_reduction(net, f"{scope}/calibrate_{i}", l, f, 2, enas_halves)
            parts.append(l)
    return torch.cat(parts, 1)


def enas(net, images, num_layers=15, out_filters=36, classes=10):
    x = net.bn("stem_conv/bn", net.conv("stem_conv/w", images, out_filters * 3, 3))
    layers = [x, x]
    pd = num_layers // 3
    pool_layers = [pd, 2 * pd + 1]
    f = out_filters
    aux = None
    for i in range(num_layers + 2):
        if i in pool_layers:
            f *= 2
            x = enas_layer(net, f"layer_{i}", layers, ENAS_REDUCE, f, 2)
        else:
            x = enas_layer(net, f"layer_{i}", layers, ENAS_NORMAL, f, 1)
        layers = [layers[-1], x]
        if i == pool_layers[-1] + 1:
            a = Fn.avg_pool2d(torch.relu(x), 5, 3)
            a = torch.relu(net.bn("aux_head/proj/bn", net.conv("aux_head/proj/w", a, 128, 1)))
            a = net.conv("aux_head/avg_pool/w", a, 768, a.shape[2], a.shape[3])
            a = torch.relu(net.bn("aux_head/avg_pool/bn", a))
            aux = net.fc("aux_head/fc", a.mean((2, 3)), classes, False)
    x = torch.relu(x).mean((2, 3))
    return net.fc("fc", x, classes, False), aux


# --- counting ----------------------------------------------------------------

def count(build, size):
    net = Net()
    macs = {"main": 0, "aux": 0}

    def hook(name):
        def f(m, inp, out):
            part = "aux" if name.startswith("aux") else "main"
            if isinstance(m, nn.Conv2d):
                macs[part] += m.weight.numel() * out.shape[2] * out.shape[3]
            elif isinstance(m, nn.Linear):
                macs[part] += m.weight.numel()
        return f

    images = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        build(net, images)  # creates the modules
        for name, m in net.mods.items():
            m.register_forward_hook(hook(name))
        build(net, images)
    params = {"main": 0, "aux": 0}
    for name, m in net.mods.items():
        part = "aux" if name.startswith("aux") else "main"
        params[part] += sum(p.numel() for p in m.parameters())
    return params, macs


def main():
    torch.set_num_threads(2)
    cases = [
        ("AmoebaNet-A N=6 F=190 @331, 1001 classes", lambda n, x: amoebanet(n, x, 6, 190, 1001), 331),
        ("AmoebaNet-A N=6 F=190 @331, 1000 classes", lambda n, x: amoebanet(n, x, 6, 190, 1000), 331),
        ("AmoebaNet-A N=4 F=50 @224, 1001 classes", lambda n, x: amoebanet(n, x, 4, 50, 1001), 224),
        ("AmoebaNet-A N=4 F=50 @224, 1000 classes", lambda n, x: amoebanet(n, x, 4, 50, 1000), 224),
        ("ENAS final, 15 layers, 36 filters @32", lambda n, x: enas(n, x), 32),
        ("ENAS final, 18 layers, 36 filters @32", lambda n, x: enas(n, x, num_layers=18), 32),
    ]
    for name, build, size in cases:
        p, m = count(build, size)
        print(f"{name}: params {p['main']:,} (aux head {p['aux']:,}), mult-adds {m['main']:,} (aux head {m['aux']:,})")


if __name__ == "__main__":
    main()
