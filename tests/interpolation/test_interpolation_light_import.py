import subprocess
import sys


def test_import_vdm_interpolation_stays_light() -> None:
    code = (
        "import sys, vdm.interpolation; heavy = [m for m in ('diffusers', 'transformers', 'accelerate', 'matplotlib',"
        " 'spacy', 'dysen', 'torch_geometric') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
