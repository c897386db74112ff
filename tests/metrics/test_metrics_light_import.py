import subprocess
import sys


def test_import_vdm_metrics_stays_light():
    code = (
        "import sys, vdm.metrics; heavy = [m for m in ('diffusers', 'transformers', 'scipy', 'safetensors', 'dysen',"
        " 'torch_fidelity', 'torchmetrics', 'open_clip') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
