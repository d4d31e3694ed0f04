"""PyTorch on the same GPU as the fused kernels: the published filters and PyTorch's best (torch.compile) on 16 M
float32 gradients, timed with CUDA events (median of 50 steps). Prints one line per version: ms and GB/s, the bytes
counted as for our kernels (EMA and Kalman 16 per element, the windowed mean 32, a copy 8). Then PyTorch's AdamW
(per-tensor loop, foreach and fused) on GPT-2 small's 124 M parameters, with and without the published EMA filter
before it: the figures gpu-optimizers' fused AdamW + filter are compared with."""
import statistics
import torch

N, TENSORS, REPEATS = 16_777_216, 20, 50
ALPHA, LAMB, WINDOW, GAIN = 0.98, 2.0, 100, 0.1


def timed(step):
    for _ in range(5):
        step()
    times = []
    for _ in range(REPEATS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def report(name, ms, bytes_per_element):
    print(f"{name:<44} {ms:8.4f} ms {N * bytes_per_element / (ms * 1e6):8.0f} GB/s")


def ema_reference(grads, emas):
    for i, g in enumerate(grads):
        emas[i] = emas[i] * ALPHA + g * (1 - ALPHA)
        grads[i] = g + emas[i] * LAMB


def ema_fused(g, ema):
    ema.mul_(ALPHA).add_(g, alpha=1 - ALPHA)
    g.add_(ema, alpha=LAMB)


def kalman_fused(g, x):
    x.add_((g - x) * GAIN)
    g.add_(x, alpha=LAMB)


def main():
    device = torch.device("cuda")
    print(torch.cuda.get_device_name(device), "torch", torch.__version__)
    flat = torch.randn(N, device=device)
    state = torch.randn(N, device=device)
    target = torch.empty_like(flat)
    report("copy (8 B/element)", timed(lambda: target.copy_(flat)), 8)

    grads = list(flat.chunk(TENSORS))
    emas = [t.clone() for t in grads]
    report(f"gradfilter_ema as published, {TENSORS} tensors", timed(lambda: ema_reference(grads, emas)), 16)
    one = [flat]
    one_ema = [state.clone()]
    report("gradfilter_ema as published, 1 tensor", timed(lambda: ema_reference(one, one_ema)), 16)
    report("EMA, in-place eager ops, 1 tensor", timed(lambda: ema_fused(flat, state)), 16)
    report("Kalman, in-place eager ops, 1 tensor", timed(lambda: kalman_fused(flat, state)), 16)

    ring = torch.zeros(WINDOW, N, device=device)
    sums = torch.zeros(N, device=device, dtype=torch.float64)
    slot = [0]

    def ma_ring():
        oldest = ring[slot[0]]
        sums.add_(flat).sub_(oldest)
        oldest.copy_(flat)
        flat.add_(sums.to(torch.float32), alpha=LAMB / WINDOW)
        slot[0] = (slot[0] + 1) % WINDOW

    report("windowed mean, O(1) ring, eager ops", timed(ma_ring), 32)
    try:
        compiled_ema = torch.compile(ema_fused)
        report("EMA, torch.compile, 1 tensor", timed(lambda: compiled_ema(flat, state)), 16)
        compiled_kalman = torch.compile(kalman_fused)
        report("Kalman, torch.compile, 1 tensor", timed(lambda: compiled_kalman(flat, state)), 16)
    except Exception as error:  # torch.compile needs a C compiler and Triton; report and go on
        print("torch.compile unavailable:", repr(error)[:300])


def gpt2_small_shapes():
    block = [(768,), (768,), (768, 2304), (2304,), (768, 768), (768,), (768,), (768,), (768, 3072), (3072,), (3072, 768), (768,)]
    return [(50257, 768), (1024, 768)] + block * 12 + [(768,), (768,)]


def adamw_on_gpt2_small():
    device = torch.device("cuda")
    params = [torch.nn.Parameter(torch.randn(shape, device=device) * 0.02) for shape in gpt2_small_shapes()]
    for p in params:
        p.grad = torch.randn_like(p)
    count = sum(p.numel() for p in params)
    print(f"AdamW on GPT-2 small: {len(params)} tensors, {count:,} parameters")
    for variant in ("foreach=False", "foreach=True", "fused=True"):
        optimizer = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.98), weight_decay=0.01, **{variant.split("=")[0]: True if variant.endswith("True") else False})
        print(f"  AdamW {variant:<14} {timed(optimizer.step):8.4f} ms")
        emas = [p.grad.clone() for p in params]
        grads = [p.grad for p in params]

        def ema_then_step():
            ema_reference(grads, emas)
            optimizer.step()

        print(f"  gradfilter_ema + AdamW {variant:<14} {timed(ema_then_step):8.4f} ms")
        del optimizer


if __name__ == "__main__":
    main()
    adamw_on_gpt2_small()
