"""One contract every architecture passes: head, layer groups, freezing, per-group rates."""
import pytest
import torch
import torchvision

from fastlearn.vision.models import create_classifier
from fastlearn.vision.models.classifier import NORM_LAYERS

ARCHS = ["tf_efficientnet_lite0", "resnet18", "convnext_atto", "mobilenetv3_small_050", "regnetx_002",
         torchvision.models.resnet18, torchvision.models.mobilenet_v3_small]


def _name(arch):
    return arch if isinstance(arch, str) else f"torchvision.{arch.__name__}"


@pytest.mark.parametrize("arch", ARCHS, ids=_name)
def test_architecture_contract(arch):
    torch.manual_seed(0)
    model = create_classifier(arch, 5, pretrained=False)
    assert model.train_bn  # a random body trains its BatchNorm layers even when frozen (as fastai)
    model.train_bn = False
    groups = model.layer_groups
    # 3 groups that partition every parameter, the head last and the body split early/late.
    assert len(groups) == 3 and all(groups)
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert {id(p) for p in groups[2]} == {id(p) for p in model.head.parameters()}
    assert sum(p.numel() for p in groups[0]) < sum(p.numel() for p in groups[1])  # late body is the bigger
    # Starts frozen: only the head trains.
    assert [all(p.requires_grad for p in g) for g in groups] == [False, False, True]

    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
    assert model(x).shape == (4, 5)
    model.freeze_to(1)
    group0 = {n for n, p in model.named_parameters() if any(p is q for q in groups[0])}
    group0_modules = {n.rsplit(".", 1)[0] for n in group0}
    for adapt in (False, True):
        model.bn_adapt = adapt
        before = {k: v.clone() for k, v in model.state_dict().items()}
        opt = torch.optim.SGD(model.param_groups([0.0, 0.1, 0.1]), lr=0.1)
        model.train()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        after = model.state_dict()
        for k, v in after.items():
            if k.rsplit(".", 1)[0] not in group0_modules:
                continue
            if k in group0 or not adapt:  # weights always; BatchNorm statistics unless they adapt
                assert torch.equal(v, before[k]), f"{k} changed though group 0 is frozen (bn_adapt={adapt})"
        stats = [k for k in after if k.rsplit(".", 1)[0] in group0_modules and k.endswith("running_mean")]
        if stats:  # with bn_adapt, frozen BatchNorm layers follow the new data's statistics
            assert any(not torch.equal(after[k], before[k]) for k in stats) == adapt
    changed = [k for k in after if not torch.equal(after[k], before[k])]
    assert any(k.startswith("head.") for k in changed) and any(k.startswith("body.") for k in changed)

    # train_bn: the frozen group's normalisation layers train too, nothing else of it does.
    norms = {f"{m_name}.{n}" for m_name, m in model.named_modules() if isinstance(m, NORM_LAYERS)
             for n, _ in m.named_parameters()}
    model.train_bn = True
    assert not model.body_frozen()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.param_groups([0.1, 0.1, 0.1]), lr=0.1)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    after = model.state_dict()
    moved = {k for k in group0 if not torch.equal(after[k], before[k])}
    assert moved and moved <= norms, f"frozen non-BatchNorm weights trained: {sorted(moved - norms)[:3]}"
