"""An independent forward reference for cellc's NASNet-A: the CIFAR network of
TF-slim's nets/nasnet/nasnet.py and nasnet_utils.py, written from those files'
structure (not from cellc's compiler or plan), evaluated in inference mode
(batch norm with moving statistics, no drop path, no dropout) on PyTorch.

It reads a cellc checkpoint (safetensors, parsed here: 8-byte little-endian
header length, JSON header, raw little-endian float32 data), builds the
network from the config recorded in the checkpoint, takes every parameter by
an explicit TF-slim-name -> cellc-name map and fails on any checkpoint
tensor it does not consume (optimizer slots "<param>/<slot>" aside) and on
any parameter it needs that the checkpoint lacks or has with another shape.

Usage: /usr/bin/python3 tfslim_nasnet.py JOBS.json
JOBS.json is a list of {"checkpoint", "input", "dims": [N, C, H, W],
"output", "mutate"}: input is raw float32 NCHW images; the logits [N,
classes] are written to output as raw float32, or {"error": ...} as JSON to
output + ".err" when the job fails. "mutate" (normally "") names a deliberate
wiring mistake (see MUTATIONS) that the caller's test expects to be caught.

TF-slim's structure, as followed here (NASNet-A, CIFAR stem, the
non-bounded activation):
  stem: conv 3x3 SAME (num_conv_filters * stem_multiplier) -> bn (no relu)
  cells: num_cells = 3N; reduction cells before cell numbers
    calc_reduction_layers(num_cells, 2) = [N, 2N]; filter_scaling doubles
    at each; a reduction cell takes prev_layer = cell_outputs[-2]; a normal
    cell takes cell_outputs[-2] after the reduction cell's output was
    appended (skip_reduction_layer_input = 0) or before (= 1).
  _cell_base: prev = _reduce_prev_layer(prev, net); net = bn(1x1(relu(net)))
    (scopes 1x1, beginning_bn); hidden states [net, prev].
  _reduce_prev_layer: prev None -> net; other spatial size -> relu then
    factorized_reduction(stride 2); other channel count -> relu, prev_1x1,
    prev_bn; else unchanged.
  factorized_reduction(stride 2): path1 = conv1x1(x[::2, ::2]) (out/2);
    path2 = conv1x1(pad(x, bottom 1, right 1)[1:, 1:][::2, ::2]) (out/2 +
    out%2); bn(concat). stride 1: path_conv 1x1 then path_bn. No relu.
  comb_iter_i: left op on state idx[2i], right op on idx[2i+1], added; an
    op strides only in a reduction cell and only on states 0 and 1.
    separable_KxK_2: (relu, depthwise KxK (stride on the first), pointwise
      1x1, bn) twice.
    avg/max_pool_3x3: TF SAME pool (average excludes padding); then 1x1
      conv and bn if the channel count differs (no relu).
    none: identity, or relu-1x1(stride)-bn when strided or channels differ.
  cell_output: unused states concatenated; any of them whose height or
    channel count differs from the last state's goes through
    factorized_reduction first.
  final_layer: relu, global average pool, FC (weights, biases).
Convolutions and pools use TF's SAME padding: total max((ceil(in/s)-1)*s +
k - in, 0), the smaller half before.

Names: the network asks for TF-slim's variable names (scope/weights,
scope/gamma, ...), which cellc_name() maps to cellc's. Two scopes carry a
little more than TF-slim's so the map stays a pure function of the name: the
1x1/bn_1 of a 'none' or pool op sit under left|right/none/ or
left|right/<op>/ (TF-slim: left|right/1x1), and cell_output/reduction_<state>
carries @<position among the concatenated states>, by which cellc numbers
them.
"""
import json, math, re, struct, sys

import torch
import torch.nn.functional as F

# nasnet.py: NasNetANormalCell and NasNetAReductionCell.
NORMAL_OPS = ['separable_5x5_2', 'separable_3x3_2', 'separable_5x5_2', 'separable_3x3_2',
              'avg_pool_3x3', 'none', 'avg_pool_3x3', 'avg_pool_3x3', 'separable_3x3_2', 'none']
NORMAL_USED = [1, 0, 0, 0, 0, 0, 0]
NORMAL_IDX = [0, 1, 1, 1, 0, 1, 1, 1, 0, 0]
REDUCTION_OPS = ['separable_5x5_2', 'separable_7x7_2', 'max_pool_3x3', 'separable_7x7_2',
                 'avg_pool_3x3', 'separable_5x5_2', 'none', 'avg_pool_3x3', 'separable_3x3_2', 'max_pool_3x3']
REDUCTION_USED = [1, 1, 1, 0, 0, 0, 0]
REDUCTION_IDX = [0, 1, 0, 1, 0, 1, 3, 2, 2, 0]

# Deliberate wiring mistakes the caller's test injects to show the
# comparison catches them.
MUTATIONS = {
    '': 'none',
    'reduction-idx': 'reduction cell: comb_iter_3 reads states 2 and 3 swapped',
    'normal-idx': 'normal cell: comb_iter_1 reads states 1 and 0 (not 1 and 1)',
    'no-shift': "factorized reduction: the second path without its one-pixel shift",
    'symmetric-pad': 'strided convs and pools padded symmetrically (k//2) instead of TF SAME',
    'skip-reduction-input': 'skip_reduction_layer_input flipped',
    'no-prev-concat': 'normal cell output without the previous layer (used_hiddenstates[1] = 1)',
}

SLOTS = ('momentum', 'adam_m', 'adam_v')


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f'{path}: too short for a safetensors header')
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    data = raw[8 + n:]
    meta = header.pop('__metadata__', {})
    tensors = {}
    for name, info in header.items():
        if info['dtype'] != 'F32':
            raise ValueError(f'{path}: tensor {name} is {info["dtype"]}, want F32')
        b, e = info['data_offsets']
        shape = info['shape']
        count = math.prod(shape)
        if e - b != 4 * count:
            raise ValueError(f'{path}: tensor {name}: {e - b} bytes for shape {shape}')
        vals = struct.unpack(f'<{count}f', data[b:e])
        tensors[name] = torch.tensor(vals, dtype=torch.float32).reshape(shape)
    return tensors, meta


def parse_config(text):
    """The top-level 'key: value' lines of cellc's config YAML."""
    cfg = {}
    for line in text.splitlines():
        m = re.match(r'^"?([a-z_0-9]+)"?:\s*(.*?)\s*$', line)
        if m:
            cfg[m.group(1)] = m.group(2).strip('"')
    return cfg


class Params:
    """Hands out checkpoint tensors by TF-slim-style name through the
    explicit map to cellc's names, and records what was consumed."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.used = set()
        self.problems = []

    def get(self, cellc_name, shape):
        t = self.tensors.get(cellc_name)
        if t is None:
            self.problems.append(f'missing {cellc_name} {list(shape)}')
            return torch.zeros(shape)
        if list(t.shape) != list(shape):
            self.problems.append(f'{cellc_name} has shape {list(t.shape)}, the reference wants {list(shape)}')
            return torch.zeros(shape)
        if cellc_name in self.used:
            self.problems.append(f'{cellc_name} consumed twice')
        self.used.add(cellc_name)
        return t

    def check(self):
        extra = []
        for name in sorted(self.tensors):
            if name in self.used:
                continue
            head, _, slot = name.rpartition('/')
            if slot in SLOTS and head in self.used:
                continue
            extra.append(name)
        probs = self.problems + [f'not consumed by the reference: {n}' for n in extra]
        if probs:
            raise ValueError('checkpoint and reference disagree:\n  ' + '\n  '.join(probs))


# The explicit map from TF-slim's variable scopes (as nasnet.py and
# nasnet_utils.py name them) to cellc's parameter names.
def cellc_name(tfslim):
    rules = [
        (r'^l1_stem_3x3/weights$', 'conv0/weights'),
        (r'^l1_stem_bn/(.*)$', r'conv0_bn/\1'),
        (r'^final_layer/FC/(weights|biases)$', r'final_layer/FC/\1'),
        (r'^(\w+)/1x1/weights$', r'\1/1x1/weights'),
        (r'^(\w+)/beginning_bn/(.*)$', r'\1/beginning_bn/\2'),
        (r'^(\w+)/prev_1x1/weights$', r'\1/prev_1/1x1/weights'),
        (r'^(\w+)/prev_bn/(.*)$', r'\1/prev_1/bn/\2'),
        # factorized_reduction called by _reduce_prev_layer in the cell's scope
        (r'^(\w+)/(path1_conv|path2_conv)/weights$', r'\1/prev_1/factorized_0/\2/weights'),
        (r'^(\w+)/final_path_bn/(.*)$', r'\1/prev_1/factorized_0/final_path_bn/\2'),
        # separable_KxK_n: slim.separable_conv2d's depthwise and pointwise weights, bn_sep_KxK_n
        (r'^(\w+)/(comb_iter_\d)/(left|right)/separable_(\d)x\d_(\d)/depthwise_weights$', r'\1/\2/\3/sep\4x\4/dw_\5/weights'),
        (r'^(\w+)/(comb_iter_\d)/(left|right)/separable_(\d)x\d_(\d)/pointwise_weights$', r'\1/\2/\3/sep\4x\4/pw_\5/weights'),
        (r'^(\w+)/(comb_iter_\d)/(left|right)/bn_sep_(\d)x\d_(\d)/(.*)$', r'\1/\2/\3/sep\4x\4/bn_\5/\6'),
        # the 1x1 + bn_1 of 'none' (cellc: identity) and of pools (cellc: avg3x3, max3x3)
        (r'^(\w+)/(comb_iter_\d)/(left|right)/none/1x1/weights$', r'\1/\2/\3/identity/1x1_1/weights'),
        (r'^(\w+)/(comb_iter_\d)/(left|right)/none/bn_1/(.*)$', r'\1/\2/\3/identity/bn_1/\4'),
        (r'^(\w+)/(comb_iter_\d)/(left|right)/(avg|max)_pool_3x3/1x1/weights$', r'\1/\2/\3/\g<4>3x3/1x1_1/weights'),
        (r'^(\w+)/(comb_iter_\d)/(left|right)/(avg|max)_pool_3x3/bn_1/(.*)$', r'\1/\2/\3/\g<4>3x3/bn_1/\5'),
        # cell_output/reduction_<state>: cellc numbers them by position among the concatenated states
        (r'^(\w+)/cell_output/reduction_(\d+)@(\d+)/path_conv/weights$', r'\1/reduction_\3/path_conv/weights'),
        (r'^(\w+)/cell_output/reduction_(\d+)@(\d+)/path_bn/(.*)$', r'\1/reduction_\3/path_bn/\4'),
        (r'^(\w+)/cell_output/reduction_(\d+)@(\d+)/(path1_conv|path2_conv)/weights$', r'\1/reduction_\3/factorized_0/\4/weights'),
        (r'^(\w+)/cell_output/reduction_(\d+)@(\d+)/final_path_bn/(.*)$', r'\1/reduction_\3/factorized_0/final_path_bn/\4'),
    ]
    for pat, rep in rules:
        if re.match(pat, tfslim):
            return re.sub(pat, rep, tfslim)
    raise KeyError(f'no cellc name for TF-slim variable {tfslim}')


class Net:
    def __init__(self, params, cfg, mutate=''):
        self.p, self.mutate = params, mutate
        self.eps = float(cfg['batch_norm_epsilon'])
        # decay only matters in training; recorded to show the config was read
        self.decay = float(cfg['batch_norm_decay'])
        self.cfg = cfg

    # --- slim layers -----------------------------------------------------
    def w(self, scope, shape):
        return self.p.get(cellc_name(scope), shape)

    def same_pads(self, size, k, s):
        if self.mutate == 'symmetric-pad' and s > 1:
            return k // 2, k // 2
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2

    def pad_same(self, x, k, s, value=0.0):
        t, b = self.same_pads(x.shape[2], k, s)
        l, r = self.same_pads(x.shape[3], k, s)
        return F.pad(x, (l, r, t, b), value=value)

    def conv2d(self, x, cout, k, scope, stride=1):
        wt = self.w(scope + '/weights', (cout, x.shape[1], k, k))
        return F.conv2d(self.pad_same(x, k, stride), wt, stride=stride)

    def separable_conv2d(self, x, cout, k, scope, stride):
        cin = x.shape[1]
        dw = self.w(scope + '/depthwise_weights', (cin, 1, k, k))
        pw = self.w(scope + '/pointwise_weights', (cout, cin, 1, 1))
        x = F.conv2d(self.pad_same(x, k, stride), dw, stride=stride, groups=cin)
        return F.conv2d(x, pw)

    def batch_norm(self, x, scope):
        c = x.shape[1]
        g, b = self.w(scope + '/gamma', (c,)), self.w(scope + '/beta', (c,))
        m, v = self.w(scope + '/moving_mean', (c,)), self.w(scope + '/moving_variance', (c,))
        return F.batch_norm(x, m, v, g, b, training=False, momentum=1 - self.decay, eps=self.eps)

    def avg_pool(self, x, k, s):
        # TF SAME average pooling divides by the number of in-image taps.
        xp = self.pad_same(x, k, s)
        ones = self.pad_same(torch.ones_like(x[:, :1]), k, s)
        return F.avg_pool2d(xp, k, s) / F.avg_pool2d(ones, k, s)

    def max_pool(self, x, k, s):
        return F.max_pool2d(self.pad_same(x, k, s, value=-math.inf), k, s)

    # --- nasnet_utils ----------------------------------------------------
    def factorized_reduction(self, x, out, stride, scope):
        if stride == 1:
            x = self.conv2d(x, out, 1, scope + '/path_conv')
            return self.batch_norm(x, scope + '/path_bn')
        path1 = x[:, :, ::2, ::2]  # avg_pool 1x1 stride 2 VALID
        path1 = self.conv2d(path1, out // 2, 1, scope + '/path1_conv')
        if self.mutate == 'no-shift':
            path2 = x
        else:
            path2 = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        path2 = path2[:, :, ::2, ::2]
        path2 = self.conv2d(path2, out // 2 + out % 2, 1, scope + '/path2_conv')
        return self.batch_norm(torch.cat([path1, path2], 1), scope + '/final_path_bn')

    def stacked_separable_conv(self, x, stride, operation, filters, scope):
        k = int(operation.split('_')[1][0])
        layers = int(operation.split('_')[-1])
        for n in range(1, layers + 1):
            x = F.relu(x)
            x = self.separable_conv2d(x, filters, k, f'{scope}/separable_{k}x{k}_{n}', stride)
            x = self.batch_norm(x, f'{scope}/bn_sep_{k}x{k}_{n}')
            stride = 1
        return x

    def apply_conv_operation(self, x, operation, stride, from_original_input, filters, scope):
        if stride > 1 and not from_original_input:
            stride = 1
        cin = x.shape[1]
        if 'separable' in operation:
            return self.stacked_separable_conv(x, stride, operation, filters, scope)
        if operation == 'none':
            if stride > 1 or cin != filters:
                x = F.relu(x)
                x = self.conv2d(x, filters, 1, scope + '/none/1x1', stride)
                x = self.batch_norm(x, scope + '/none/bn_1')
            return x
        if 'pool' in operation:
            k = int(operation.split('_')[-1][0])
            x = self.avg_pool(x, k, stride) if operation.startswith('avg') else self.max_pool(x, k, stride)
            if cin != filters:
                x = self.conv2d(x, filters, 1, f'{scope}/{operation}/1x1')
                x = self.batch_norm(x, f'{scope}/{operation}/bn_1')
            return x
        raise ValueError(f'unimplemented operation {operation}')

    def reduce_prev_layer(self, prev, cur, filters, scope):
        if prev is None:
            return cur
        if cur.shape[2] != prev.shape[2]:
            return self.factorized_reduction(F.relu(prev), filters, 2, scope)
        if prev.shape[1] != filters:
            prev = self.conv2d(F.relu(prev), filters, 1, scope + '/prev_1x1')
            return self.batch_norm(prev, scope + '/prev_bn')
        return prev

    def cell(self, net, prev, filters, stride, scope, reduction):
        ops = REDUCTION_OPS if reduction else NORMAL_OPS
        idx = list(REDUCTION_IDX if reduction else NORMAL_IDX)
        used = list(REDUCTION_USED if reduction else NORMAL_USED)
        if reduction and self.mutate == 'reduction-idx':
            idx[6], idx[7] = idx[7], idx[6]
        if not reduction and self.mutate == 'normal-idx':
            idx[3] = 0
        if not reduction and self.mutate == 'no-prev-concat':
            used[1] = 1
        # _cell_base
        prev = self.reduce_prev_layer(prev, net, filters, scope)
        net = self.conv2d(F.relu(net), filters, 1, scope + '/1x1')
        net = self.batch_norm(net, scope + '/beginning_bn')
        states = [net, prev]
        for it in range(5):
            li, ri = idx[2 * it], idx[2 * it + 1]
            h1 = self.apply_conv_operation(states[li], ops[2 * it], stride, li < 2, filters, f'{scope}/comb_iter_{it}/left')
            h2 = self.apply_conv_operation(states[ri], ops[2 * it + 1], stride, ri < 2, filters, f'{scope}/comb_iter_{it}/right')
            states.append(h1 + h2)
        # _combine_unused_states
        final_h, final_c = states[-1].shape[2], states[-1].shape[1]
        out, pos = [], 0
        for i, u in enumerate(used):
            if u:
                continue
            h = states[i]
            if h.shape[2] != final_h or h.shape[1] != final_c:
                s = 2 if h.shape[2] != final_h else 1
                h = self.factorized_reduction(h, final_c, s, f'{scope}/cell_output/reduction_{i}@{pos}')
            out.append(h)
            pos += 1
        return torch.cat(out, 1)

    # --- nasnet.py -------------------------------------------------------
    def forward(self, images):
        cfg = self.cfg
        n, base = int(cfg['n']), int(cfg['base_filters'])
        stem_mult, rate = float(cfg['stem_multiplier']), float(cfg['filter_scaling_rate'])
        num_red = int(cfg['num_reduction_layers'])
        skip = cfg['skip_reduction_layer_input'] == 'true'
        if self.mutate == 'skip-reduction-input':
            skip = not skip
        num_cells = 3 * n
        reduction_indices = [int(float(k) / (num_red + 1) * num_cells) for k in range(1, num_red + 1)]
        # _cifar_stem
        net = self.conv2d(images, int(base * stem_mult), 3, 'l1_stem_3x3')
        net = self.batch_norm(net, 'l1_stem_bn')
        cell_outputs = [None, net]
        filter_scaling = 1.0
        prev = None
        for cell_num in range(num_cells):
            if skip:
                prev = cell_outputs[-2]
            if cell_num in reduction_indices:
                filter_scaling *= rate
                r = reduction_indices.index(cell_num)
                net = self.cell(net, cell_outputs[-2], int(base * filter_scaling), 2, f'reduction_cell_{r}', True)
                cell_outputs.append(net)
            if not skip:
                prev = cell_outputs[-2]
            net = self.cell(net, prev, int(base * filter_scaling), 1, f'cell_{cell_num}', False)
            cell_outputs.append(net)
        net = F.relu(net).mean(dim=(2, 3))
        classes = int(cfg['classes'])
        wt = self.w('final_layer/FC/weights', (classes, net.shape[1]))
        b = self.w('final_layer/FC/biases', (classes,))
        return net @ wt.t() + b


def run_job(job):
    if job.get('mutate', '') not in MUTATIONS:
        raise ValueError(f'unknown mutation {job["mutate"]!r}')
    tensors, meta = read_safetensors(job['checkpoint'])
    cfg = parse_config(meta['cellc.config'])
    if meta.get('cellc.network') != 'nasnet_a':
        raise ValueError(f'the checkpoint is {meta.get("cellc.network")!r}; this reference is NASNet-A only')
    if cfg.get('dataset') != 'cifar10':
        raise ValueError('this reference builds the CIFAR skeleton only')
    if cfg.get('use_bounded_activation') == 'true':
        raise ValueError('bounded activation is not implemented here')
    if int(cfg.get('base_filters', '0')) <= 0:
        raise ValueError('the config records no base_filters')
    n, c, h, w = job['dims']
    with open(job['input'], 'rb') as f:
        raw = f.read()
    x = torch.tensor(struct.unpack(f'<{n * c * h * w}f', raw), dtype=torch.float32).reshape(n, c, h, w)
    params = Params(tensors)
    net = Net(params, cfg, job.get('mutate', ''))
    with torch.no_grad():
        logits = net.forward(x)
    params.check()
    return logits


def main():
    torch.set_num_threads(1)
    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        try:
            logits = run_job(job)
        except Exception as e:  # reported per job: the caller decides
            with open(job['output'] + '.err', 'w') as f:
                json.dump({'error': f'{type(e).__name__}: {e}'}, f)
            continue
        with open(job['output'], 'wb') as f:
            f.write(struct.pack(f'<{logits.numel()}f', *logits.flatten().tolist()))


if __name__ == '__main__':
    main()
