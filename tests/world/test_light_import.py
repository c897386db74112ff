import subprocess
import sys


def test_world_data_and_video_io_import_no_heavy_library():
    code = (
        "import sys, vdm.world, vdm.data, vdm.video_io; heavy = [m for m in ('diffusers', 'transformers', 'matplotlib',"
        " 'av', 'imageio', 'spacy', 'dysen') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
