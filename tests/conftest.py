import pytest
import torch


@pytest.fixture
def float64():
    """Build models and tensors in float64 inside the test (ground-truth comparisons)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
