"""The library on CUDA, checked against the CPU (``make gpu-check`` runs this where a GPU is present; skipped
elsewhere). Every result computed on the GPU is compared with the same computation on the CPU in float64."""
import pytest
import torch

import wnlib

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
CUDA = torch.device("cuda")


def _pair(**kw):
    cpu = wnlib.WeightNormMLP(10, 32, 3, 2, seed=0, dtype=torch.float64, **kw)
    return cpu, wnlib.WeightNormMLP(10, 32, 3, 2, seed=0, dtype=torch.float64, device=CUDA, **kw)


def test_the_best_device_is_cuda_and_data_goes_there():
    assert wnlib.device().type == "cuda"
    data = wnlib.load_dataset("teacher", n_train=64, n_test=16)
    assert data.device.type == "cuda"


@pytest.mark.parametrize("gains", ["fixed", "pytorch"])
def test_forward_gradients_and_hessians_match_the_cpu(gains):
    cpu, gpu = _pair(gains=gains)
    x = torch.randn(5, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(gpu(x.to(CUDA)).cpu(), cpu(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(wnlib.gbar(gpu, x.to(CUDA)).cpu(), wnlib.gbar(cpu, x), rtol=1e-9, atol=1e-11)
    h_gpu = wnlib.predictor_hessian_norm(gpu, x[:2].to(CUDA))
    h_dense = wnlib.predictor_hessian_norm(cpu, x[:2], method="dense")
    torch.testing.assert_close(h_gpu, h_dense, rtol=1e-6, atol=0)
    bound = wnlib.bounds.hessian_bound(gpu, x[:2].to(CUDA))
    assert (bound >= h_dense * (1 - 1e-9)).all()
    floor = wnlib.bounds.hessian_floor(gpu, x[:2].to(CUDA))
    assert (floor <= h_dense * (1 + 1e-9)).all()


def test_training_on_cuda_follows_the_cpu_trajectory():
    data = wnlib.load_dataset("teacher", n_train=128, n_test=32, device="cpu", dtype=torch.float64)
    cpu, gpu = (wnlib.WeightNormMLP(16, 32, 2, 1, seed=0, dtype=torch.float64, device=d) for d in ("cpu", CUDA))
    h_cpu = wnlib.train(cpu, data, epochs=3, lr=0.1, batch_size=32, progress=False)
    h_gpu = wnlib.train(gpu, data.to(CUDA), epochs=3, lr=0.1, batch_size=32, progress=False)
    torch.testing.assert_close(torch.tensor(h_gpu["train_loss"]), torch.tensor(h_cpu["train_loss"]), rtol=1e-8,
                               atol=1e-10)
    assert (h_gpu["rho_min"][1:] >= h_gpu["rho_min"][:-1]).all()


def test_a_run_on_cuda_is_stored_with_its_device(tmp_path):
    from wnlib.experiments import RunConfig, run

    config = RunConfig(dataset="teacher", width=16, depth=1, epochs=2, device="cuda", track=("loss", "rho_min"))
    frame, meta = run(config, tmp_path)
    assert meta["device"].startswith("cuda") and len(frame) == 3
