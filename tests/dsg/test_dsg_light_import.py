import subprocess
import sys


def test_import_dsg_stays_light():
    code = (
        "import sys, dsg; heavy = [m for m in ('diffusers', 'transformers', 'matplotlib', 'spacy', 'hypothesis',"
        " 'openai', 'vdm', 'dysen', 'rgtrm', 'torch_geometric', 'networkx') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
