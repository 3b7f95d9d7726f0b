"""The code in the docs guides runs as written (every ```python block, in order, one namespace)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _code(name):
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as f:
        return "\n".join(_BLOCK.findall(f.read()))


def test_write_an_adapter_guide_runs(tmp_path):
    code = _code("write_an_adapter.md")
    assert "register_adapter" in code and "targets.register" in code
    namespace = {"export_dir": str(tmp_path / "export"), "__name__": "guide"}
    exec(compile(code, "docs/write_an_adapter.md", "exec"), namespace)  # noqa: S102
    result = namespace["result"]
    assert result.ok and result.parity.agreement >= 0.97
    assert "runtime ai_edge_litert" in result.summary()
    # the public extension API, as a user reaches it
    assert "mot.register_adapter" in code and "mot.Target(" in code
    assert namespace["report"].target == "my_npu_int8"
    assert "my_npu_sparse" in namespace["mot"].targets.names()


def test_serialization_guide_runs_and_lists_every_registered_type():
    from keras_mot import codec

    code = _code("serialization.md")
    assert "codec.register" in code and "from_yaml" in code and "get_config()" in code
    exec(compile(code, "docs/serialization.md", "exec"), {"__name__": "guide"})  # noqa: S102
    with open(os.path.join(ROOT, "docs", "serialization.md"), encoding="utf-8") as f:
        text = f.read()
    own = [n for n, cls in codec.registered().items() if cls.__module__.startswith("keras_mot")]
    missing = [n for n in own if f"`{n}`" not in text]
    assert not missing, f"docs/serialization.md does not list {missing}"
